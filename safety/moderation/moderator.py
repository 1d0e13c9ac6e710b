"""`Moderator`: normalize → rules → semantic classifier → decide, under one policy pack.

Input errors (empty prompt, longer than the pack's `limits.request.max_prompt_chars`, mostly
control or unassigned characters) raise `BadInputError` before anything is scored. An error
while *scanning* never becomes "allow": the decision carries status "error" and the pack's
`moderation.on_error` action (block by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from policies import LoadedPolicy, PolicyLoadError, load_policy
from safety.errors import BadInputError, ModelError, PolicyError
from safety.settings import Settings, get_settings

from .decide import ModerationDecision, decide, error_decision
from .normalize import Normalized, normalize
from .rules import RuleEngine


class Scorer(Protocol):
    """What the decide stage needs from a classifier (the ONNX one, or a stand-in in tests)."""

    def scores(self, texts: list[str]) -> list[dict[str, float]]: ...


def load_pack(path: str | Path | None) -> LoadedPolicy:
    try:
        return load_policy(path)
    except PolicyLoadError as exc:
        raise PolicyError(str(exc)) from None


class Moderator:
    def __init__(self, policy: LoadedPolicy, classifier: Scorer | None = None, *, use_classifier: bool = True) -> None:
        self.policy = policy
        self.rules = RuleEngine(policy.pack)
        if classifier is None and use_classifier:
            from .classifier import default_classifier

            classifier = default_classifier()
        self.classifier = classifier

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Moderator:
        s = settings or get_settings()
        return cls(load_pack(s.policy))

    @classmethod
    def from_policy_file(cls, path: str | Path | None = None) -> Moderator:
        return cls(load_pack(path))

    def check_input(self, text: object) -> Normalized:
        """Raise `BadInputError` for prompts that cannot be moderated; else the normalized prompt."""
        if not isinstance(text, str):
            raise BadInputError(f"prompt must be a string, got {type(text).__name__}")
        limit = self.policy.pack.limits.request.max_prompt_chars
        if len(text) > limit:
            raise BadInputError(f"prompt is {len(text)} characters, the policy allows at most {limit}")
        norm = normalize(text)
        if norm.garbage_ratio > self.policy.pack.moderation.max_garbage_ratio:
            raise BadInputError(f"prompt is not text ({norm.garbage_ratio:.0%} control or unassigned characters)")
        if not norm.text:
            raise BadInputError("prompt is empty")
        return norm

    def moderate(self, text: str) -> ModerationDecision:
        """Moderate one prompt (raises `BadInputError` for unusable input)."""
        return self._decide([self.check_input(text)])[0]

    def moderate_batch(self, texts: Sequence[str]) -> list[ModerationDecision | BadInputError]:
        """Moderate many prompts in one classifier call; bad inputs come back as their error, in place."""
        checked: list[Normalized | BadInputError] = []
        for t in texts:
            try:
                checked.append(self.check_input(t))
            except BadInputError as exc:
                checked.append(exc)
        good = [c for c in checked if isinstance(c, Normalized)]
        decisions = iter(self._decide(good)) if good else iter(())
        return [c if isinstance(c, BadInputError) else next(decisions) for c in checked]

    def _decide(self, norms: list[Normalized]) -> list[ModerationDecision]:
        try:
            clf: list[dict[str, float]] = [{} for _ in norms]
            if self.classifier is not None:
                clf = self.classifier.scores([n.text for n in norms])
                if len(clf) != len(norms):
                    raise ModelError(f"classifier returned {len(clf)} results for {len(norms)} prompts")
        except Exception as exc:  # fail closed: a broken classifier blocks, it does not allow
            msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            return [error_decision(self.policy, n.text, msg) for n in norms]
        out = []
        for n, scores in zip(norms, clf, strict=True):
            try:
                out.append(decide(self.policy, n, self.rules.scan(n.key), scores))
            except Exception as exc:
                msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
                out.append(error_decision(self.policy, n.text, msg))
        return out
