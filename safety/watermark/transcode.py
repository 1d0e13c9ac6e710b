"""The two transforms the embedder's codec trial applies to a candidate (engine-internal).

The trial asks "does the reader still find this candidate after a platform-like re-encode, and
after that re-encode at half resolution?". These are the transforms; the benchmark's attack suite
(`attacks.py`) wraps them as named attacks but the engine never imports that suite.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from policies import MediaLimits
from safety.media import Video, read_video, resize_video, write_video

OWN_FILE_LIMITS = MediaLimits(max_bytes=1 << 34, max_width=8192, max_height=8192, max_pixels=8192 * 8192,
                              max_frames=1_000_000, max_seconds=1e6, containers=("mp4", "mov", "matroska", "webm"))
"""A transform reads back only the file it has just written: the policy pack's limits (meant for
untrusted uploads, and loaded from a file that may be mid-edit) have no say there."""


def even(n: float) -> int:
    """`n` rounded to the nearest even integer ≥ 2 (yuv420p needs even sides)."""
    return max(2, round(n / 2) * 2)


def h264_round_trip(video: Video, crf: int, preset: str = "medium", x264_params: str | None = None) -> Video:
    """`video` encoded with libx264 at `crf` and decoded again (odd sides are resized to even first)."""
    if video.width % 2 or video.height % 2:
        video = resize_video(video, even(video.width), even(video.height))
    with tempfile.TemporaryDirectory(prefix="sealframe-transcode-") as tmp:
        path = write_video(video, Path(tmp) / "a.mp4", crf=crf, preset=preset, x264_params=x264_params)
        return read_video(path, OWN_FILE_LIMITS)


def rescale_round_trip(video: Video, factor: float) -> Video:
    """`video` downscaled by `factor` and back to its own size (detail the smaller copy loses is lost)."""
    small = resize_video(video, max(2, round(video.width * factor)), max(2, round(video.height * factor)))
    return resize_video(small, video.width, video.height)
