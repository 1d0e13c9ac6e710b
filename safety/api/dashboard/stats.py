"""Moderation statistics over a window of days: decisions per action and category, rates, overturns."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from safety.store import Decision, ReviewItem, Store

ACTIONS = ("allow", "review", "block")


def top_category(categories: dict[str, float]) -> str:
    if not categories:
        return "(none)"
    return max(categories, key=lambda k: float(categories[k]))


def _day(ts: dt.datetime) -> str:
    if ts.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).date().isoformat()


@dataclass
class Stats:
    days: list[str]
    per_action: dict[str, list[int]]
    per_category: dict[str, list[int]]
    """Flagged decisions (review or block) per day, by their highest-scoring category."""
    categories: list[str]
    block_rate: list[float | None]
    review_rate: list[float | None]
    overturn_rate: list[float | None]
    decided_per_day: list[int] = field(default_factory=list)
    totals: Counter[str] = field(default_factory=Counter)
    decided: int = 0
    overturned: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def rate(self, action: str) -> float | None:
        return 100.0 * self.totals[action] / self.total if self.total else None

    def rows(self) -> list[dict[str, object]]:
        """One row per day with any decision or review, newest first (the table under the charts)."""
        out: list[dict[str, object]] = []
        for i, day in enumerate(self.days):
            counts = {a: self.per_action.get(a, [0] * len(self.days))[i] for a in ACTIONS}
            if sum(counts.values()) or self.decided_per_day[i]:
                out.append({"day": day, **counts, "total": sum(counts.values()), "block_rate": self.block_rate[i],
                            "review_rate": self.review_rate[i], "decided": self.decided_per_day[i],
                            "overturn_rate": self.overturn_rate[i]})
        return out[::-1]

    @property
    def overall_overturn(self) -> float | None:
        return 100.0 * self.overturned / self.decided if self.decided else None


def compute(store: Store, days: int = 14, today: dt.date | None = None) -> Stats:
    """Statistics for the `days` UTC days ending today (overturned = a held item a reviewer approved)."""
    end = today or dt.datetime.now(dt.UTC).date()
    labels = [(end - dt.timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    index = {d: i for i, d in enumerate(labels)}
    since = dt.datetime.combine(end - dt.timedelta(days=days - 1), dt.time(), tzinfo=dt.UTC)
    per_action = {a: [0] * days for a in ACTIONS}
    flagged: dict[str, list[int]] = {}
    decided, approved = [0] * days, [0] * days
    stats_totals: Counter[str] = Counter()
    with store.session() as s:
        rows = s.execute(select(Decision.created_at, Decision.action, Decision.categories)
                         .where(Decision.created_at >= since)).all()
        reviews = s.execute(select(ReviewItem.status, ReviewItem.decided_at)
                            .where(ReviewItem.decided_at.is_not(None), ReviewItem.decided_at >= since)).all()
        pending = len(s.execute(select(ReviewItem.id).where(ReviewItem.status == "pending")).all())
    for created_at, action, categories in rows:
        i = index.get(_day(created_at))
        if i is None:
            continue
        stats_totals[action] += 1
        per_action.setdefault(action, [0] * days)[i] += 1
        if action in ("review", "block"):
            flagged.setdefault(top_category(categories or {}), [0] * days)[i] += 1
    for status, decided_at in reviews:
        i = index.get(_day(decided_at)) if decided_at is not None else None
        if i is None:
            continue
        decided[i] += 1
        approved[i] += status == "approved"

    def pct(num: list[int], den: list[int]) -> list[float | None]:
        return [100.0 * n / d if d else None for n, d in zip(num, den, strict=True)]

    per_day = [sum(per_action[a][i] for a in per_action) for i in range(days)]
    categories = sorted(flagged, key=lambda c: -sum(flagged[c]))
    return Stats(days=labels, per_action=per_action, per_category=flagged, categories=categories,
                 block_rate=pct(per_action["block"], per_day), review_rate=pct(per_action["review"], per_day),
                 overturn_rate=pct(approved, decided), decided_per_day=decided, totals=stats_totals,
                 decided=sum(decided), overturned=sum(approved), pending=pending)
