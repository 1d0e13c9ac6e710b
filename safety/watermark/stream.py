"""Embed and extract from files, streaming: memory does not grow with the clip's length.

`embed_file` decodes the source twice (statistics, then marking into the encoder; a third time
in the rare case that the delivered strength needs its correction), one frame at a time, and
encodes the delivery copy with `DELIVERY_PRESET`. Limit: clips whose shorter side is below the
config's `follow_max_side` (480 px), where the embedder compares candidates (grids, the
camera-following mark) through trial encodes, are embedded in memory as `embed` does; their
memory grows with duration (a 479-line clip: about 1.2 MB a frame, twice).

`extract_file` decodes luma only (the Y plane, no colour conversion) and streams it into the
reader; `sampled_windows` picks bounded windows of consecutive frames across a long video.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from policies import MediaLimits
from safety.errors import WatermarkError
from safety.media import VideoWriter, default_limits, iter_frames, probe, read_video, write_video
from safety.watermark import codec
from safety.watermark.engine import (
    DEFAULT_CONFIG,
    WatermarkConfig,
    WatermarkResult,
    embed,
    embed_frames,
    grid_candidates,
    layout,
    read,
)
from safety.watermark.keys import check_key
from safety.watermark.residuals import downsample, highpass

DELIVERY_PRESET = "veryfast"
"""x264 preset of the delivered copy. Chosen by measurement on a 720p clip (60 frames, CRF 18):
medium 18, faster 35, veryfast 53, superfast 73 frames per CPU-second; the mark read back exactly
after a true 0.5× re-encode at CRF 28, a 360p one and 0.5× + brightness from every one of them,
and superfast's file was twice the size. libx264 picks its thread count from the machine."""


class _FileFrames:
    """A file as `Frames`: decoded anew, RGB, one frame at a time, on every pass."""

    def __init__(self, path: Path, limits: MediaLimits) -> None:
        self.path, self.limits = path, limits

    def __iter__(self) -> Iterator[np.ndarray]:
        for decoded in iter_frames(self.path, self.limits):
            yield decoded.image


@dataclass(frozen=True)
class Embedded:
    output: Path
    frames: int
    width: int
    height: int
    streamed: bool
    """False when the clip was small enough to be embedded in memory (trial or camera-following mark)."""


def streams(width: int, height: int, config: WatermarkConfig = DEFAULT_CONFIG) -> bool:
    """Whether `embed_file` streams a clip of this size: one grid candidate and no camera-following
    mark (those choices need the clip in memory, with trial encodes)."""
    following = config.follow_motion and min(width, height) < config.follow_max_side
    return len(grid_candidates(width, height, config)) == 1 and not following


def embed_file(src: str | Path, dst: str | Path, payload: bytes, key: bytes, *, crf: int = 18,
               preset: str = DELIVERY_PRESET, config: WatermarkConfig = DEFAULT_CONFIG,
               limits: MediaLimits | None = None) -> Embedded:
    """Embed `payload` into the video file `src` and write the H.264 MP4 `dst` (atomically).

    The same mark as `embed` (bit for bit before the delivery encode); raises `WatermarkError` when
    the clip cannot carry it, and `MediaError` for unreadable input.
    """
    check_key(key)
    if len(payload) != codec.PAYLOAD_BYTES:
        raise WatermarkError(f"watermark payload must be {codec.PAYLOAD_BYTES} bytes (64 bits), got {len(payload)}")
    lim = limits or default_limits()
    src, dst = Path(src), Path(dst)
    info = probe(src, lim)
    if not streams(info.width, info.height, config) or min(info.width, info.height) < config.min_side:
        video = read_video(src, lim)
        marked = embed(video, payload, key, config)
        out = write_video(marked, dst, crf=crf, preset=preset)
        return Embedded(out, marked.num_frames, marked.width, marked.height, streamed=False)
    lay = layout(key, grid_candidates(info.width, info.height, config)[0], config.data_fraction)
    writer = embed_frames(_FileFrames(src, lim), payload, lay, config,
                          lambda: VideoWriter(dst, info.width, info.height, info.fps, crf=crf, preset=preset))
    assert isinstance(writer, VideoWriter)
    frames = writer.frames
    return Embedded(writer.close(), frames, info.width, info.height, streamed=True)


def extract_file(path: str | Path, key: bytes, config: WatermarkConfig = DEFAULT_CONFIG,
                 limits: MediaLimits | None = None, max_frames: int | None = None) -> WatermarkResult:
    """Read the watermark of a video file: luma only, streamed (memory independent of duration)."""
    types: list[str] = []

    def luma() -> Iterator[np.ndarray]:
        for decoded in iter_frames(path, limits, luma=True, max_frames=max_frames):
            types.append(decoded.picture_type)
            yield decoded.image

    return read(luma(), key, config, types).result


# ------------------------------------------------------------------------------------------------
# verification: bounded sampling across the whole video

HEAD_FRAMES = 96
"""The first frames, read as one clip with the full search (all of a short upload)."""
WINDOW_FRAMES = 24
"""A longer video is also cut into windows of this many consecutive frames …"""
SEGMENT_S = 3.0
"""… spaced so that a marked segment this long anywhere holds a whole window …"""
MAX_WINDOWS = 40
"""… but at most this many windows (a longer video gets sparser windows: the guarantee then holds
for segments of (stride + WINDOW_FRAMES) frames) …"""
TOP_WINDOWS = 2
"""… and the windows whose mean shows the keyed sync cells most are read (stage 1, plain means)."""


@dataclass(frozen=True)
class SampledResult:
    result: WatermarkResult
    reads: int
    """Reads whose p-values share the false-positive budget (each was multiplied by this)."""
    window: tuple[int, int] | None
    """First and last frame of the window that gave the result (None: the head)."""
    last_frame: int
    """Index of the last frame read (later frames were decoded, not read)."""


def window_starts(total: int, fps: float) -> list[int]:
    """Where the windows of a `total`-frame video start (none when the head covers it all)."""
    if total <= HEAD_FRAMES:
        return []
    stride = max(WINDOW_FRAMES, round(SEGMENT_S * fps) - WINDOW_FRAMES, -(-total // MAX_WINDOWS))
    return list(range(0, total - WINDOW_FRAMES + 1, stride))


def _sync_z(mean: np.ndarray, key: bytes, config: WatermarkConfig) -> float:
    """How strongly a mean frame shows the keyed sync cells at the unattacked geometry (max over grids)."""
    best = -np.inf
    for g in config.grids:
        lay = layout(key, g, config.data_fraction)
        r = highpass(downsample(mean, lay.fine))
        tpl = lay.sync_template
        z = float(np.sum(r * tpl)) / (float(np.sqrt(np.sum(tpl * tpl))) * (float(np.sqrt(np.mean(r * r))) + 1e-6))
        best = max(best, z)
    return best


def extract_sampled(path: str | Path, key: bytes, config: WatermarkConfig = DEFAULT_CONFIG,
                    limits: MediaLimits | None = None) -> SampledResult:
    """Read a video the way verification does, in one luma decode with bounded memory: the first
    `HEAD_FRAMES` frames with the full reader, and, for a longer video, the `TOP_WINDOWS` windows
    (of `window_starts`) whose means show the sync cells most, each at stage 1. The windows are
    chosen by the sync cells only (independent of the data cells' chips), and every p-value is
    multiplied by the number of reads, so the false-positive bound holds over all of them."""


    lim = limits or default_limits()
    info = probe(path, lim)
    # Windows wholly inside the head are read with it.
    starts = [s for s in window_starts(max(info.frames, 1), info.fps) if s + WINDOW_FRAMES > HEAD_FRAMES]
    window_of = {s + k: s for s in starts for k in range(WINDOW_FRAMES)}
    head: list[np.ndarray] = []
    head_types: list[str] = []
    kept: list[tuple[float, int, list[np.ndarray]]] = []  # the best windows so far: (z, start, frames)
    current: list[np.ndarray] = []
    last = 0
    side = max(config.grids) * 4
    for frame in iter_frames(path, lim, luma=True, keep=lambda i: i < HEAD_FRAMES or i in window_of):
        last = frame.index
        if frame.index < HEAD_FRAMES:
            head.append(frame.image)
            head_types.append(frame.picture_type)
        start = window_of.get(frame.index)
        if start is None:
            continue
        current.append(frame.image)
        if len(current) == WINDOW_FRAMES:
            mean = np.mean([cv2.resize(f.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
                            for f in current], axis=0)
            kept.append((_sync_z(mean, key, config), start, current))
            kept = sorted(kept, key=lambda k: -k[0])[:TOP_WINDOWS]
            current = []
    reads = 1 + len(kept)
    strict = replace(config, p_threshold=config.p_threshold / reads)
    best = read(head, key, strict, head_types).result
    where: tuple[int, int] | None = None
    if not best.found:
        window_config = replace(strict, weigh_frames=False, cancel_host=False, edge_residual=False, scene_model=False)
        for _, start, frames in kept:
            r = read(frames, key, window_config, search=False).result
            if r.found or r.p_value < best.p_value:
                best, where = r, (start, start + WINDOW_FRAMES - 1)
            if r.found:
                break
    adjusted = best.model_copy(update={"p_value": min(1.0, best.p_value * reads)})
    return SampledResult(adjusted, reads, where, last)
