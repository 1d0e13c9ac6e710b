"""Stage 4, decide: allow / review / block from rule and classifier scores under the pack.

Per category the score is the larger of the rule score and the classifier score (when the
category lets the classifier count and none of its `classifier_unless` signals matched); it is
compared with the category's thresholds, capped by the category's `max_action`, and raised to
`block` for zero-tolerance categories. The overall action is the strongest one (block > review >
allow). Every action other than allow has a human-readable reason naming the category, the score,
the threshold and what fired.
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policies import LoadedPolicy

from .normalize import Normalized
from .rules import RuleHit, RuleResult

Action = Literal["allow", "review", "block"]
_RANK: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


class MatchedRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: str
    rule: str
    score: float
    evidence: tuple[str, ...]


class ModerationDecision(BaseModel):
    """The outcome of moderating one prompt. `status` is separate from `action`: a scan that
    failed has status "error" and the pack's fail-closed action, never "allow"."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    action: Action
    categories: dict[str, float]
    reasons: tuple[str, ...]
    policy: str
    normalized: str
    status: Literal["ok", "error"] = "ok"
    rules: tuple[MatchedRule, ...] = ()
    classifier: dict[str, float] = {}
    transforms: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.action == "allow"


def strongest(actions: list[str]) -> Action:
    best: Action = "allow"
    for a in actions:
        if _RANK[a] > _RANK[best]:
            best = a  # type: ignore[assignment]
    return best


def decide(policy: LoadedPolicy, norm: Normalized, rules: RuleResult, clf: dict[str, float]) -> ModerationDecision:
    pack = policy.pack
    scores: dict[str, float] = {}
    actions: list[str] = []
    reasons: list[str] = []
    hits_by_cat: dict[str, list[str]] = {}
    def clf_counts(cat_id: str) -> bool:
        cat = pack.category(cat_id)
        return cat.classifier and not any(s in rules.signals for s in cat.classifier_unless)

    base = {c.id: max(rules.scores.get(c.id, 0.0), clf.get(c.id, 0.0) if clf_counts(c.id) else 0.0)
            for c in pack.categories}
    hits = list(rules.hits)
    rule_scores = dict(rules.scores)
    # Rules that combine a signal with another category's verdict ("a minor" + sexual by any stage).
    for cat in pack.categories:
        for rule in cat.rules:
            if not rule.with_categories:
                continue
            if (all(s in rules.signals for s in rule.all_of) and not any(s in rules.signals for s in rule.none_of)
                    and all(base[c] >= pack.category(c).thresholds.review for c in rule.with_categories)):
                evidence = (*(f"{s}: {', '.join(rules.signals[s][:3])}" for s in rule.all_of),
                            *(f"{c} {base[c]:.2f}" for c in rule.with_categories))
                hits.append(RuleHit(cat.id, rule.name, rule.score, evidence))
                rule_scores[cat.id] = max(rule_scores.get(cat.id, 0.0), rule.score)
    for hit in hits:
        hits_by_cat.setdefault(hit.category, []).append(f"rule '{hit.rule}' ({'; '.join(hit.evidence)})")
    for cat in pack.categories:
        rule_s = rule_scores.get(cat.id, 0.0)
        clf_s = clf.get(cat.id, 0.0) if clf_counts(cat.id) else 0.0
        s = max(rule_s, clf_s)
        scores[cat.id] = round(s, 4)
        th = cat.thresholds
        act: Action = "block" if s >= th.block else "review" if s >= th.review else "allow"
        if act == "review" and cat.id in pack.moderation.zero_tolerance:
            act = "block"
        if _RANK[act] > _RANK[cat.max_action]:
            act = cat.max_action
        if act == "allow":
            continue
        actions.append(act)
        why = []
        if rule_s >= th.review:
            why.extend(hits_by_cat.get(cat.id, []))
        if clf_s >= th.review:
            why.append(f"classifier {clf_s:.2f}")
        limit = th.block if s >= th.block else th.review
        reasons.append(f"{cat.id}: {act} — score {s:.2f} ≥ {'block' if s >= th.block else 'review'} {limit:.2f}"
                       f" ({', '.join(why) or 'combined'})")
    action = strongest(actions)
    if action == "allow":
        reasons.append("no category reached its review threshold")
    if norm.changed:
        reasons.append(f"prompt normalized: {', '.join(norm.changed)}")
    return ModerationDecision(
        action=action,
        categories=scores,
        reasons=tuple(reasons),
        policy=policy.fingerprint,
        normalized=norm.text,
        rules=tuple(MatchedRule(category=h.category, rule=h.rule, score=h.score, evidence=h.evidence)
                    for h in hits),
        classifier={k: round(v, 4) for k, v in clf.items()},
        transforms=norm.changed,
    )


def error_decision(policy: LoadedPolicy, normalized: str, message: str) -> ModerationDecision:
    """Fail closed: the pack's `on_error` action, status "error", the reason stated."""
    act: Action = policy.pack.moderation.on_error
    return ModerationDecision(action=act, categories={c.id: 0.0 for c in policy.pack.categories},
                              reasons=(f"scan failed, {act} by policy: {message}",), policy=policy.fingerprint,
                              normalized=normalized, status="error")
