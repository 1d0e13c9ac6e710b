"""The visible disclosure label ("AI-generated"), drawn before the invisible watermark is embedded.

`corner` puts the text in a fixed corner; `moving` lets it travel slowly around the frame, which is
harder to crop or blur out. The label's size follows the frame height, so it stays legible from
128 px to 1080p. Drawing happens before watermarking, so the watermark's read-back covers the
labelled frames that are actually delivered.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from policies.schema import Disclosure
from safety.media import Video


@lru_cache(maxsize=16)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _label_image(text: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB text on a dark box, and its alpha, sized for a frame `height` pixels tall."""
    from PIL import Image, ImageDraw

    size = max(8, round(height * 0.045))
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, size // 4)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    rgba = Image.new("RGBA", (w, h), (0, 0, 0, 150))
    ImageDraw.Draw(rgba).text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 235))
    arr = np.asarray(rgba, dtype=np.float32)
    return arr[..., :3], arr[..., 3:] / 255.0


def apply_label(video: Video, rules: Disclosure) -> Video:
    if rules.mode == "off":
        return video
    rgb, alpha = _label_image(rules.text, video.height)
    lh, lw = rgb.shape[:2]
    if lh >= video.height or lw >= video.width:
        lw, lh = min(lw, video.width - 2), min(lh, video.height - 2)
        rgb, alpha = rgb[:lh, :lw], alpha[:lh, :lw]
    margin = max(2, video.height // 40)
    out = video.frames.copy()
    span_x, span_y = video.width - lw - 2 * margin, video.height - lh - 2 * margin
    for t in range(video.num_frames):
        if rules.mode == "corner":
            x, y = video.width - lw - margin, video.height - lh - margin
        else:  # moving: a slow bounce, one corner-to-corner pass every ~4 s
            phase = t / max(1.0, video.fps * 4)
            x = margin + round(span_x * (1 - abs(1 - 2 * (phase % 1.0))))
            y = margin + round(span_y * (1 - abs(1 - 2 * ((phase * 0.61) % 1.0))))
        region = out[t, y : y + lh, x : x + lw].astype(np.float32)
        out[t, y : y + lh, x : x + lw] = np.clip(region * (1 - alpha) + rgb * alpha, 0, 255).astype(np.uint8)
    return Video(out, video.fps)
