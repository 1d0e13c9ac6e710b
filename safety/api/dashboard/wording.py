"""Plain wording for the dashboard: moderation reasons and audit events as a person reads them."""

from __future__ import annotations

import json
import re
from typing import Any

# decide.py's reason: "<category>: <action> — score S ≥ <block|review> T (<why>)"
_REASON = re.compile(r"^(?P<cat>[\w.-]+): (?P<act>allow|review|block) — score (?P<s>[\d.]+) ≥ "
                     r"(?P<which>block|review) (?P<t>[\d.]+)(?P<rest>.*)$")
_ACT = {"review": "held for review", "block": "blocked", "allow": "allowed"}

# Sign-ins are frequent and say little: the audit page hides them unless asked.
HIDDEN_BY_DEFAULT = ("dashboard.signin",)


def explain_reason(reason: str, info: dict[str, tuple[Any, ...]]) -> str:
    """'intellectual_property: review — score 0.99 ≥ block 0.80' → 'Intellectual property: held for review.
    Score 0.99 reaches the block threshold 0.80, but this category is never blocked, only reviewed.'"""
    m = _REASON.match(reason)
    if not m:
        return reason
    cat, act, which = m["cat"], m["act"], m["which"]
    title = info[cat][0] if cat in info else cat
    text = f"{title}: {_ACT[act]}. Score {m['s']} reaches the {which} threshold {m['t']}"
    if which == "block" and act == "review":
        text += ", but this category is never blocked, only sent to review"
    rest = m["rest"].strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    return f"{text}. Why: {rest}." if rest else f"{text}."


def top_of(categories: Any) -> tuple[str, float] | None:
    """The highest-scoring category of a decision, if any scored above zero."""
    if not isinstance(categories, dict) or not categories:
        return None
    cat, score = max(((str(k), float(v)) for k, v in categories.items()), key=lambda kv: kv[1])
    return (cat, score) if score >= 0.005 else None


def event_summary(kind: str, payload: Any, info: dict[str, tuple[Any, ...]]) -> str:
    """One line for an audit event: a decision's action and top category, a review's reason, …
    (`payload`: the stored canonical JSON, or its dict)."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            payload = None
    p = payload if isinstance(payload, dict) else {}
    if kind == "moderation.decision":
        top = top_of(p.get("categories"))
        cat = (f"{info[top[0]][0] if top[0] in info else top[0]} {top[1]:.2f}") if top else "no category"
        return f"{p.get('action', '?')} · top category: {cat}"
    if kind.startswith("review."):
        return f"{kind.split('.', 1)[1]} {p.get('kind', '')} item: “{p.get('reason', '')}”"
    if kind == "asset.sealed":
        return f"asset {p.get('asset', '?')} sealed ({p.get('model', '?')})"
    if kind == "verification":
        return f"verdict {p.get('verdict', '?')} (C2PA {p.get('provenance', '?')}, watermark {p.get('watermark')})"
    if kind.startswith("job."):
        return f"job {str(p.get('job', '?'))[:8]} {kind.split('.', 1)[1]}" + (
            f": {p['error']}" if p.get("error") else "")
    if kind == "dashboard.signin":
        return f"{p.get('role', '?')} key {str(p.get('key', '?'))[:8]} signed in"
    return ""
