"""Policy backtests: replay every stored prompt under another policy pack and report what changes.

The stored decision keeps the prompt and the pack fingerprint that decided it, so an auditor can
answer "what would the new pack have done to last month's traffic?" before switching. Changes are
reported per action transition and per category (the category that scored highest in the old or
the new decision), with example prompts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from safety.errors import BadInputError
from safety.store import Decision, Store

EXAMPLES_PER_CATEGORY = 5


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision_id: str
    prompt: str
    old_action: str
    new_action: str
    category: str | None
    old_score: float
    new_score: float


class CategoryDiff(BaseModel):
    category: str
    stricter: int = 0
    looser: int = 0
    examples: list[Change] = []


class BacktestReport(BaseModel):
    new_policy: str
    old_policies: dict[str, int]
    prompts: int
    changed: int
    transitions: dict[str, int]
    categories: list[CategoryDiff]

    def summary(self) -> str:
        lines = [f"{self.changed} of {self.prompts} stored decisions would change under {self.new_policy}"]
        lines += [f"  {t}: {n}" for t, n in sorted(self.transitions.items())]
        for c in self.categories:
            lines.append(f"  {c.category}: {c.stricter} stricter, {c.looser} looser")
            lines += [f"      e.g. {e.old_action} → {e.new_action}: {e.prompt[:90]!r}" for e in c.examples[:3]]
        return "\n".join(lines)


_RANK = {"allow": 0, "review": 1, "block": 2}


def _top(categories: dict[str, float]) -> tuple[str | None, float]:
    if not categories:
        return None, 0.0
    cat = max(categories, key=lambda k: categories[k])
    return cat, float(categories[cat])


def backtest(store: Store, moderate_batch: Callable[[list[str]], list[Any]], new_policy: str,
             batch_size: int = 64) -> BacktestReport:
    """Replay the stored prompts through `moderate_batch` (a Moderator's, on the new pack)."""
    old_policies: Counter[str] = Counter()
    transitions: Counter[str] = Counter()
    per_cat: dict[str, CategoryDiff] = defaultdict(lambda: CategoryDiff(category="?"))
    total = changed = 0
    with store.session() as s:
        rows = list(s.execute(select(Decision).order_by(Decision.created_at)).scalars())
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        results = moderate_batch([d.prompt for d in chunk])
        for old, new in zip(chunk, results, strict=True):
            total += 1
            old_policies[old.policy] += 1
            if isinstance(new, Exception):
                new_action, new_cats = "error", {}
            else:
                new_action, new_cats = str(new.action), {k: float(v) for k, v in dict(new.categories).items()}
            if new_action == old.action:
                continue
            changed += 1
            transitions[f"{old.action} → {new_action}"] += 1
            stricter = _RANK.get(new_action, 2) > _RANK.get(old.action, 0)
            cat, _ = _top(new_cats if stricter else old.categories)
            name = cat or "(none)"
            diff = per_cat[name]
            diff.category = name
            if stricter:
                diff.stricter += 1
            else:
                diff.looser += 1
            if len(diff.examples) < EXAMPLES_PER_CATEGORY:
                diff.examples.append(Change(decision_id=old.id, prompt=old.prompt[:300], old_action=old.action,
                                            new_action=new_action, category=cat,
                                            old_score=float(old.categories.get(cat, 0.0)) if cat else 0.0,
                                            new_score=new_cats.get(cat, 0.0) if cat else 0.0))
    cats = sorted(per_cat.values(), key=lambda c: -(c.stricter + c.looser))
    return BacktestReport(new_policy=new_policy, old_policies=dict(old_policies), prompts=total, changed=changed,
                          transitions=dict(transitions), categories=cats)


def backtest_file(store: Store, policy_path: str) -> BacktestReport:
    from pathlib import Path

    from safety.moderation import Moderator

    if not Path(policy_path).is_file():
        raise BadInputError(f"policy pack {policy_path} not found")
    moderator = Moderator.from_policy_file(policy_path)
    return backtest(store, moderator.moderate_batch, moderator.policy.fingerprint)
