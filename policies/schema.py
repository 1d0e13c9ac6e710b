"""The policy pack schema: every field a pack may hold, validated into frozen models.

Unknown keys are refused (a typo must not silently fall back to a default), thresholds live in
[0, 1], ids are unique. The loader in `policies/__init__.py` turns a validation error into a
message that names the YAML line.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def _invalid(loc: tuple[int | str, ...], message: str, value: Any) -> ValidationError:
    """A validation error at an exact location, so the loader can name the YAML line."""
    err = PydanticCustomError("policy_reference", message)
    return ValidationError.from_exception_data("PolicyPack", [InitErrorDetails(type=err, loc=loc, input=value)])


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MediaLimits(_Frozen):
    """Hard limits on any video we read, checked from container headers before decoding."""

    max_bytes: int = Field(gt=0, description="Largest file accepted, in bytes.")
    max_width: int = Field(gt=0)
    max_height: int = Field(gt=0)
    max_pixels: int = Field(gt=0, description="Largest width × height of one frame.")
    max_frames: int = Field(gt=0)
    max_seconds: float = Field(gt=0)
    containers: tuple[str, ...] = Field(
        min_length=1,
        description="FFmpeg demuxer names accepted (e.g. 'mp4', 'matroska'); images are not videos.",
    )


class RequestLimits(_Frozen):
    """Bounds on what one request may ask for (prompt moderation and generation)."""

    max_prompt_chars: int = Field(gt=0)
    max_frames: int = Field(gt=0)
    max_width: int = Field(gt=0)
    max_height: int = Field(gt=0)
    max_steps: int = Field(gt=0)


class Limits(_Frozen):
    media: MediaLimits
    request: RequestLimits


class Thresholds(_Frozen):
    review: float = Field(ge=0.0, le=1.0)
    block: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.block < self.review:
            raise ValueError("block threshold must not be below the review threshold")
        return self


Action = Literal["allow", "review", "block"]


class Signal(_Frozen):
    """A named cue the rules stage looks for in the normalized prompt.

    `terms` are words or phrases matched on word boundaries (a trailing `*` matches any word
    ending); `patterns` are regular expressions. Both are matched case-insensitively on the
    normalized text, so they are written in plain lowercase ASCII/Latin letters.
    """

    description: str = ""
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for pat in v:
            try:
                re.compile(pat)
            except re.error as exc:
                raise ValueError(f"pattern {pat!r} does not compile: {exc}") from None
        return v

    @field_validator("terms")
    @classmethod
    def _no_blank(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for term in v:
            if not term.strip() or term.strip("*").strip() == "":
                raise ValueError("a term must not be blank")
        return v


class Rule(_Frozen):
    """Fires when every signal in `all_of` matched, none in `none_of` did, and every category in
    `with_categories` reached its own review threshold (from its rules or the classifier)."""

    name: str
    all_of: tuple[str, ...] = Field(min_length=1)
    none_of: tuple[str, ...] = ()
    with_categories: tuple[str, ...] = ()
    score: float = Field(ge=0.0, le=1.0, description="Category score contributed when the rule fires.")


class Category(_Frozen):
    """One harm category of the taxonomy."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    definition: str
    severity: Literal["low", "medium", "high", "critical"]
    thresholds: Thresholds
    examples: tuple[str, ...] = ()
    max_action: Action = Field(
        default="block",
        description="The strongest action this category may cause (e.g. 'review' for IP by default).",
    )
    rules: tuple[Rule, ...] = ()
    classifier: bool = Field(default=True, description="Whether the semantic classifier's score counts.")
    classifier_unless: tuple[str, ...] = Field(
        default=(),
        description="Signals that, when matched, make the classifier's score not count for this category "
                    "(the rules still do): a precise context such as suicide-prevention framing.",
    )


class ModerationSettings(_Frozen):
    """Pack-wide moderation behaviour."""

    on_error: Literal["review", "block"] = Field(
        default="block", description="Action when scanning fails: never 'allow' (fail closed)."
    )
    zero_tolerance: tuple[str, ...] = Field(
        default=(), description="Categories where any score at or above `review` blocks."
    )
    max_garbage_ratio: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Share of control/unassigned characters above which a prompt is refused.",
    )


class OutputChecks(_Frozen):
    """Frame safety on generated video, decided per clip (not per frame) before anything is sealed."""

    sample_frames: int = Field(default=8, gt=0, le=64, description="Frames scored per clip, evenly spaced.")
    nsfw_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    min_flagged_frames: int = Field(
        default=2, gt=0, description="A clip is quarantined when this many sampled frames reach the threshold."
    )


class Disclosure(_Frozen):
    """The visible "AI-generated" label, drawn before the invisible watermark is embedded."""

    mode: Literal["off", "corner", "moving"] = "corner"
    text: str = Field(default="AI-generated", min_length=1, max_length=40)


class VerificationRules(_Frozen):
    """How verification turns signals into a verdict."""

    detector_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Overrides the detector card's calibrated threshold."
    )
    max_frames: int = Field(default=96, gt=0, description="Frames read from an upload for watermark and detector.")


class PolicyPack(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: str = Field(pattern=r"^[A-Za-z0-9_.+-]+$")
    description: str = ""
    limits: Limits
    moderation: ModerationSettings = ModerationSettings()
    signals: dict[str, Signal] = {}
    categories: tuple[Category, ...] = ()
    output_checks: OutputChecks = OutputChecks()
    disclosure: Disclosure = Disclosure()
    verification: VerificationRules = VerificationRules()

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyPack:
        seen: set[str] = set()
        for i, cat in enumerate(self.categories):
            if cat.id in seen:
                raise _invalid(("categories", i, "id"), f"duplicate category id {cat.id!r}", cat.id)
            seen.add(cat.id)
        return self

    @model_validator(mode="after")
    def _known_references(self) -> PolicyPack:
        ids = {c.id for c in self.categories}
        for k, cid in enumerate(self.moderation.zero_tolerance):
            if cid not in ids:
                raise _invalid(("moderation", "zero_tolerance", k), f"unknown category {cid!r}", cid)
        for i, cat in enumerate(self.categories):
            for k, sig in enumerate(cat.classifier_unless):
                if sig not in self.signals:
                    raise _invalid(("categories", i, "classifier_unless", k), f"unknown signal {sig!r}", sig)
            for j, rule in enumerate(cat.rules):
                for field in ("all_of", "none_of"):
                    for k, sig in enumerate(getattr(rule, field)):
                        if sig not in self.signals:
                            raise _invalid(("categories", i, "rules", j, field, k), f"unknown signal {sig!r}", sig)
                for k, cid in enumerate(rule.with_categories):
                    if cid not in ids or cid == cat.id:
                        what = "unknown category" if cid not in ids else "a rule cannot depend on its own category"
                        raise _invalid(("categories", i, "rules", j, "with_categories", k), f"{what} {cid!r}", cid)
        return self

    def category(self, category_id: str) -> Category:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise KeyError(category_id)
