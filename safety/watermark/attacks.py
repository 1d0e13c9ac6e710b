"""Small composable transforms that platforms (or adversaries) apply to uploads.

Each attack is a named `Video → Video` callable; `compose` chains them. Photometric attacks follow
torchvision's definitions (brightness multiplies, contrast blends with the mean grey, gamma maps
x ↦ 255·(x/255)^γ). Codec attacks really encode and decode H.264 (libx264 through PyAV).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policies import MediaLimits
from safety.media import REPRODUCIBLE_X264, Video, read_video, resize_video, write_video

# An attack reads back only the file it has just written: the policy pack's limits (meant for
# untrusted uploads, and loaded from a file that may be mid-edit) have no say there.
_OWN_FILE_LIMITS = MediaLimits(max_bytes=1 << 34, max_width=8192, max_height=8192, max_pixels=8192 * 8192,
                               max_frames=1_000_000, max_seconds=1e6, containers=("mp4", "mov"))


@dataclass(frozen=True)
class Attack:
    name: str
    fn: Callable[[Video], Video]

    def __call__(self, video: Video) -> Video:
        return self.fn(video)


def _even(n: float) -> int:
    return max(2, round(n / 2) * 2)


def identity() -> Attack:
    return Attack("none", lambda v: v)


def h264(crf: int, preset: str = "medium", reproducible: bool = False, x264_params: str | None = None) -> Attack:
    """Encode and decode with libx264. `reproducible`: one thread and no mb-tree, so the same input
    always gives the same pixels (with mb-tree on, this libx264 differs by ~1 level from run to run).
    `x264_params` passes other libx264 options instead."""

    def run(v: Video) -> Video:
        if v.width % 2 or v.height % 2:
            v = resize_video(v, _even(v.width), _even(v.height))
        with tempfile.TemporaryDirectory(prefix="sealframe-attack-") as tmp:
            path = write_video(v, Path(tmp) / "a.mp4", crf=crf, preset=preset,
                               x264_params=REPRODUCIBLE_X264 if reproducible else x264_params)
            return read_video(path, _OWN_FILE_LIMITS)

    return Attack(f"h264 crf{crf}", run)


def rescale(factor: float) -> Attack:
    """Downscale by `factor` and back to the original size (what a re-upload at lower quality does)."""

    def run(v: Video) -> Video:
        small = resize_video(v, max(2, round(v.width * factor)), max(2, round(v.height * factor)))
        return resize_video(small, v.width, v.height)

    return Attack(f"scale {factor:g}x", run)


def crop(fraction: float, where: str = "centre") -> Attack:
    """Cut `fraction` of the width and of the height away (centre or top-left corner), resize back."""

    def run(v: Video) -> Video:
        cw, ch = round(v.width * (1 - fraction)), round(v.height * (1 - fraction))
        x0, y0 = ((v.width - cw) // 2, (v.height - ch) // 2) if where == "centre" else (0, 0)
        cut = Video(np.ascontiguousarray(v.frames[:, y0 : y0 + ch, x0 : x0 + cw]), v.fps)
        return resize_video(cut, v.width, v.height)

    return Attack(f"crop {fraction:.0%} {where}", run)


def _pointwise(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Attack:
    def run(v: Video) -> Video:
        out = fn(v.frames.astype(np.float32))
        return Video(np.clip(np.rint(out), 0, 255).astype(np.uint8), v.fps)

    return Attack(name, run)


def brightness(factor: float) -> Attack:
    return _pointwise(f"brightness {factor - 1:+.0%}", lambda x: x * factor)


def contrast(factor: float) -> Attack:
    def fn(x: np.ndarray) -> np.ndarray:
        grey = (x @ np.array([0.299, 0.587, 0.114], np.float32)).mean(axis=(1, 2), keepdims=True)[..., None]
        return np.asarray((x - grey) * factor + grey, np.float32)

    return _pointwise(f"contrast {factor - 1:+.0%}", fn)


def gamma(g: float) -> Attack:
    return _pointwise(f"gamma {g:g}", lambda x: 255.0 * (x / 255.0) ** g)


def noise(sigma: float, seed: int = 0) -> Attack:
    def fn(x: np.ndarray) -> np.ndarray:
        return x + np.random.default_rng(seed).normal(0.0, sigma, x.shape).astype(np.float32)

    return _pointwise(f"noise σ={sigma:g}", fn)


def drop_frames(keep_every: int = 2) -> Attack:
    def run(v: Video) -> Video:
        return Video(np.ascontiguousarray(v.frames[::keep_every]), v.fps / keep_every)

    return Attack(f"fps /{keep_every}", run)


def trim(seconds: float = 1.0) -> Attack:
    """Keep only the middle `seconds`."""

    def run(v: Video) -> Video:
        n = max(1, min(v.num_frames, round(seconds * v.fps)))
        start = (v.num_frames - n) // 2
        return Video(np.ascontiguousarray(v.frames[start : start + n]), v.fps)

    return Attack(f"trim middle {seconds:g}s", run)


def hflip() -> Attack:
    return Attack("hflip", lambda v: Video(np.ascontiguousarray(v.frames[:, :, ::-1]), v.fps))


def compose(*attacks: Attack, name: str | None = None) -> Attack:
    def run(v: Video) -> Video:
        for a in attacks:
            v = a(v)
        return v

    return Attack(name or " + ".join(a.name for a in attacks), run)


def standard_attacks() -> list[Attack]:
    """The attack list of issue 4, in table order."""
    return [
        identity(),
        h264(23),
        h264(28),
        h264(35),
        rescale(0.5),
        rescale(0.25),
        crop(0.10, "centre"),
        crop(0.10, "corner"),
        crop(0.25, "centre"),
        crop(0.25, "corner"),
        brightness(1.25),
        brightness(0.75),
        contrast(1.25),
        contrast(0.75),
        gamma(0.7),
        gamma(1.4),
        noise(5.0),
        drop_frames(2),
        trim(1.0),
        hflip(),
        compose(h264(28), rescale(0.5), brightness(1.15), name="h264 crf28 + scale 0.5x + brightness +15%"),
    ]
