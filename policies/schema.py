"""The policy pack schema: every field a pack may hold, validated into frozen models.

Unknown keys are refused (a typo must not silently fall back to a default), thresholds live in
[0, 1], ids are unique. The loader in `policies/__init__.py` turns a validation error into a
message that names the YAML line.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class Category(_Frozen):
    """One harm category of the taxonomy."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    definition: str
    severity: Literal["low", "medium", "high", "critical"]
    thresholds: Thresholds
    examples: tuple[str, ...] = ()


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
    categories: tuple[Category, ...] = ()
    output_checks: OutputChecks = OutputChecks()
    disclosure: Disclosure = Disclosure()
    verification: VerificationRules = VerificationRules()

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyPack:
        seen: set[str] = set()
        for i, cat in enumerate(self.categories):
            if cat.id in seen:
                raise ValueError(f"categories[{i}]: duplicate category id {cat.id!r}")
            seen.add(cat.id)
        return self

    def category(self, category_id: str) -> Category:
        for cat in self.categories:
            if cat.id == category_id:
                return cat
        raise KeyError(category_id)
