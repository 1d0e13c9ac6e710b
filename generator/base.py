"""The one protocol every text-to-video backend implements, the request it takes and the card it shows.

`GenerationRequest.validate(limits)` checks a request against the policy pack's request limits
before any model runs; a bad request raises `BadInputError` (CLI exit 4, HTTP 422) with one line
that says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from policies import PolicyLoadError, RequestLimits, load_policy
from safety.errors import BadInputError, PolicyError
from safety.media import Video


@dataclass(frozen=True)
class GenerationRequest:
    """What to generate. `negative_prompt` steers away from its content (it replaces the empty prompt
    as the unconditional side of classifier-free guidance)."""

    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    frames: int = 16
    height: int = 64
    width: int = 64
    steps: int = 20
    guidance: float = 4.0

    def validate(self, limits: RequestLimits | None = None) -> GenerationRequest:
        """Return self if it is within `limits` (the default policy pack's when None), else raise."""
        if limits is None:
            try:
                limits = load_policy().pack.limits.request
            except PolicyLoadError as exc:  # no limits we can trust: refuse rather than guess
                raise PolicyError(f"cannot check the request: {exc}") from None
        lim = limits
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise BadInputError("the prompt is empty")
        if len(self.prompt) > lim.max_prompt_chars:
            raise BadInputError(f"the prompt has {len(self.prompt)} characters; the limit is {lim.max_prompt_chars}")
        if len(self.negative_prompt) > lim.max_prompt_chars:
            raise BadInputError(f"the negative prompt is longer than {lim.max_prompt_chars} characters")
        checks = (("frames", self.frames, lim.max_frames), ("height", self.height, lim.max_height),
                  ("width", self.width, lim.max_width), ("steps", self.steps, lim.max_steps))
        for name, value, most in checks:
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInputError(f"{name} must be a whole number, got {value!r}")
            if not 1 <= value <= most:
                raise BadInputError(f"{name} must be between 1 and {most}, got {value}")
        if not (0.0 <= float(self.guidance) <= 50.0):
            raise BadInputError(f"guidance must be between 0 and 50, got {self.guidance}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise BadInputError(f"seed must be a non-negative integer below 2^63, got {self.seed!r}")
        return self


@dataclass(frozen=True)
class ModelCard:
    """What a generator is, for manifests and audits: id, version, weights hash, training data."""

    id: str
    version: str
    weights_sha256: str
    training_data: str
    license: str = "Apache-2.0"
    intended_use: str = ""
    metrics: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class VideoGenerator(Protocol):
    """A text-to-video backend."""

    @property
    def card(self) -> ModelCard: ...

    def generate(self, request: GenerationRequest) -> Video: ...
