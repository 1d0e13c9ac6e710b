"""The detector's typed result, importable without torch or onnxruntime."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectorScore(BaseModel):
    """Calibrated P(synthetic) of one video, the operating threshold, and which weights said so."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0)
    model: str  # "name@sha256-prefix"
    windows: int = Field(default=1, ge=1)  # frame windows averaged into `score`

    @property
    def flagged(self) -> bool:
        """True when the score reaches the operating threshold (likely synthetic)."""
        return self.score >= self.threshold
