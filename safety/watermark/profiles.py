"""Embedding profiles: one layout (so one extractor reads every mark), different strength policies.

`GENERATED` is for the pipeline's own output. Generated clips are flat graphics far more often than
camera footage: the default perceptual mask gives flat regions too little amplitude, and pure
white or black leave no room at all, so the default profile refuses 11 of 12 clips of the built-in
generator's world (fail closed). Raising the mask floor to 1.0 lets flat areas carry the nominal
amplitude while rate control still holds the mark's RMS, and 2.5 levels of luma headroom keep
saturated backgrounds writable.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from safety.media import Video
from safety.watermark.engine import DEFAULT_CONFIG, WatermarkConfig

GENERATED: WatermarkConfig = dataclasses.replace(DEFAULT_CONFIG, mask_floor=1.0)
HEADROOM_LEVELS = 2.5


def with_headroom(video: Video, levels: float = HEADROOM_LEVELS) -> Video:
    """Map [0, 255] to [levels, 255 − levels]: a contrast change of 2 %, invisible, and room for the mark."""
    scale = (255.0 - 2 * levels) / 255.0
    frames = np.clip(video.frames.astype(np.float32) * scale + levels, 0, 255).round().astype(np.uint8)
    return Video(frames, video.fps)
