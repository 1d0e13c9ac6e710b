"""Prompt moderation: normalize → rules → semantic classifier → decide.

The first gate of the layer: every prompt is screened before anything is generated. Categories,
lexicons, thresholds and actions come from the policy pack (`policies/default.yaml`); the
classifier is all-MiniLM-L6-v2 (+ multilingual USE, see `weights/card.yaml`) with a multi-label
head, served by onnxruntime. `Moderator(policy).moderate(text)` returns a `ModerationDecision`.
"""

from __future__ import annotations

from .decide import ModerationDecision
from .moderator import Moderator
from .normalize import Normalized, normalize

__all__ = ["ModerationDecision", "Moderator", "Normalized", "normalize"]
