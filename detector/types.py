"""The detector's typed result, importable without torch or onnxruntime."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DetectorScore(BaseModel):
    """Calibrated P(synthetic) of one video, the operating threshold, and which weights said so.

    `fpr` and `unseen_tpr` are the model card's measured operating point: the fraction of real
    camera clips that reach `threshold`, and the fraction of clips from generators the model never
    saw that do (leave-one-generator-out). `None` when the card does not state them.
    """

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(ge=0.0, le=1.0)
    model: str  # "name@sha256-prefix"
    windows: int = Field(default=1, ge=1)  # frame windows averaged into `score`
    fpr: float | None = Field(default=None, ge=0.0, le=1.0)
    unseen_tpr: float | None = Field(default=None, ge=0.0, le=1.0)

    @property
    def flagged(self) -> bool:
        """True when the score reaches the operating threshold (likely synthetic)."""
        return self.score >= self.threshold

    @property
    def meaning(self) -> str:
        """What the score says at the card's operating point, in words (never a reassurance)."""
        return describe(self.score, self.threshold, self.fpr, self.unseen_tpr)


def describe(score: float, threshold: float, fpr: float | None, unseen_tpr: float | None) -> str:
    """One line for people: a flag with its false-alarm rate, or 'no evidence either way' with the miss rate."""
    point = (f"the detector catches about {unseen_tpr:.0%} of unseen generators at {fpr:.0%} false alarms"
             if fpr is not None and unseen_tpr is not None else "the model card states no measured operating point")
    if score >= threshold:
        fa = f"about {fpr:.0%} of real camera clips score this high" if fpr is not None else point
        return f"score {score:.2f} ≥ threshold {threshold:.2f}: likely synthetic ({fa})"
    return f"score {score:.2f} < threshold {threshold:.2f}: no detector evidence either way ({point})"
