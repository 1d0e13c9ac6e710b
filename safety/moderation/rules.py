"""Stage 2, rules: the policy pack's signals and rules, matched on the normalized prompt.

Lexicons and patterns live in the pack, not here. A signal matches on word boundaries (no match
inside another word: "breasts" never fires on "breastfeeding"); a rule fires when all of its
`all_of` signals matched and none of its `none_of` did, so a real-person signal counts only
together with a category cue. The result is per-category scores plus what fired, for the reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policies import PolicyPack
from policies.schema import Signal

from .normalize import strip_accents

_EDGE_L = r"(?<![^\W_])"
_EDGE_R = r"(?![^\W_])"
# A cue right after a negation does not count: "a vampire film, no gore", "sin sangre", "ohne Blut".
_NEGATION = re.compile(
    r"(?:^|[\s,;(])(?:no|not|without|non|never|senza|sin|sans|pas de|ohne|kein|keine)\s+"
    r"(?:any\s+|real\s+|visible\s+|explicit\s+|actual\s+)?$"
)


def _term_regex(term: str) -> str:
    t = strip_accents(term.strip().casefold())
    wildcard = t.endswith("*")
    t = t.rstrip("*").strip()
    body = r"\s+".join(re.escape(part) for part in t.split())
    # A term may start or end with punctuation ("al-qaeda", "mcdonald's"); the boundary is on the letters.
    return body + (r"[^\W_]*" if wildcard else "")


def compile_signal(sig: Signal) -> re.Pattern[str] | None:
    parts = []
    if sig.terms:
        # One boundary check around one alternation: the engine tries the terms only at word starts.
        # Longest first, so "crystal meth" wins over "crystal".
        terms = sorted({_term_regex(t) for t in sig.terms}, key=len, reverse=True)
        parts.append(f"{_EDGE_L}(?:{'|'.join(terms)}){_EDGE_R}")
    parts += [f"(?:{p})" for p in sig.patterns]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@dataclass(frozen=True)
class RuleHit:
    category: str
    rule: str
    score: float
    evidence: tuple[str, ...]
    """The matched words, signal by signal, e.g. ("minor: child", "sexual: naked")."""


@dataclass(frozen=True)
class RuleResult:
    scores: dict[str, float]
    hits: tuple[RuleHit, ...]
    signals: dict[str, tuple[str, ...]]


class RuleEngine:
    """Signals compiled once per pack; `scan` is pure and cheap."""

    def __init__(self, pack: PolicyPack) -> None:
        self.pack = pack
        self._signals = {name: compile_signal(sig) for name, sig in pack.signals.items()}

    def match_signals(self, key: str) -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}
        for name, rx in self._signals.items():
            if rx is None:
                continue
            matches = [m for m in rx.finditer(key) if not _NEGATION.search(key[max(0, m.start() - 24) : m.start()])]
            words = tuple(dict.fromkeys(m.group(0).strip() for m in matches))
            if words:
                found[name] = words
        return found

    def scan(self, key: str) -> RuleResult:
        """`key` is `Normalized.key` (lowercase, accents dropped)."""
        signals = self.match_signals(key)
        scores: dict[str, float] = {}
        hits: list[RuleHit] = []
        for cat in self.pack.categories:
            best = 0.0
            for rule in cat.rules:
                if rule.with_categories:
                    continue  # needs other categories' final scores: applied by the decide stage
                if all(s in signals for s in rule.all_of) and not any(s in signals for s in rule.none_of):
                    evidence = tuple(f"{s}: {', '.join(signals[s][:3])}" for s in rule.all_of)
                    hits.append(RuleHit(cat.id, rule.name, rule.score, evidence))
                    best = max(best, rule.score)
            scores[cat.id] = best
        return RuleResult(scores=scores, hits=tuple(hits), signals=signals)
