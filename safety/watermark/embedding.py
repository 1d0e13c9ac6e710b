"""The embedder: grid and mode choice (codec trial), masking, rate control, informed embedding,
streaming passes and the fail-closed read-back."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

import cv2
import numpy as np

from safety.errors import WatermarkError
from safety.media import Video
from safety.watermark import codec, scene
from safety.watermark.accumulation import (
    ACCUMULATE_SIDE,
    MOTION_SIDE,
    MeanLuma,
    global_motion,
    read_means,
    translate,
)
from safety.watermark.config import DEFAULT_CONFIG, WatermarkConfig
from safety.watermark.keys import check_key
from safety.watermark.layout import INACTIVE, Layout, grid_candidates, grid_pattern, layout, sent_signs, soft_bits
from safety.watermark.reader import read
from safety.watermark.residuals import LEVEL_FLOOR, LEVEL_SIGMA, downsample, highpass, normalise
from safety.watermark.transcode import h264_round_trip, rescale_round_trip


class TooFlatError(WatermarkError):
    """The clip is too flat, dark or saturated for the mark at this mask floor."""


MASK_SIDE = 128
"""The perceptual mask is computed on luma resampled to this square (normalised to the frame)."""
HEADROOM_LEVELS = 24.0
"""Within this many luma levels of black or white the mask fades (down to `headroom_floor`)."""


def _mask(gray: np.ndarray, config: WatermarkConfig) -> np.ndarray:
    """Texture × luminance masking at MASK_SIDE², in units of `strength`."""
    small = cv2.resize(gray, (MASK_SIDE, MASK_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    mean = cv2.blur(small, (3, 3))
    var = np.maximum(cv2.blur(small * small, (3, 3)) - mean * mean, 0.0)
    texture = np.sqrt(var) / config.texture_ref
    mask = np.clip(config.mask_floor + texture, config.mask_floor, config.mask_ceil)
    # Near black and white the mark would clip (and show as noise): fade it out there.
    headroom = np.clip(np.minimum(mean, 255.0 - mean) / HEADROOM_LEVELS, config.headroom_floor, 1.0)
    return np.asarray(mask * headroom, np.float32)


def embed(video: Video, payload: bytes, key: bytes, config: WatermarkConfig = DEFAULT_CONFIG) -> Video:
    """Return a copy of `video` carrying `payload` (8 bytes) under `key` (32 bytes).

    Raises `WatermarkError` when the clip cannot carry the mark (too small, flat or saturated).
    """
    check_key(key)
    if len(payload) != codec.PAYLOAD_BYTES:
        raise WatermarkError(f"watermark payload must be {codec.PAYLOAD_BYTES} bytes (64 bits), got {len(payload)}")
    if min(video.width, video.height) < config.min_side:
        raise WatermarkError(
            f"{video.width}×{video.height} is too small to carry the watermark (needs ≥ {config.min_side} px per side)"
        )
    # Which grid survives the codec depends on the content: finer cells average a busy host away
    # better, coarser ones outlast H.264's quantiser on smooth content. Where the frame admits both,
    # each is embedded and passed through a real H.264 round trip, and the one that reads back best
    # is kept. Every grid is searched by the reader, so the choice costs nothing at extraction.
    positions = global_motion(video.frames) if _may_follow(video, config) else None
    modes = [False, True] if positions is not None and _moving(positions, config) else [False]
    marked: list[tuple[Layout, bool, Video]] = []
    refusal: WatermarkError | None = None
    for grid in grid_candidates(video.width, video.height, config):
        lay = layout(key, grid, config.data_fraction)
        for follow in modes:
            try:
                if follow:
                    assert positions is not None
                    v = _embed_following(video, payload, lay, config, positions)
                else:
                    v = _embed_with_flat_retry(video, payload, lay, config)
                marked.append((lay, follow, v))
            except WatermarkError as exc:
                refusal = refusal or exc
    if not marked:
        assert refusal is not None
        raise refusal
    if len(marked) == 1:
        return marked[0][2]
    scores = [_trial_score(v, payload, key, replace(config, grids=(lay.grid,))) for lay, _, v in marked]
    return marked[min(range(len(marked)), key=scores.__getitem__)][2]  # ties keep the first (static, preferred grid)


TRIAL_X264 = "threads=1"
"""The trial encodes as libx264's defaults do (mb-tree on, like a platform's encoder) but on one thread,
so that the same clip is always marked the same way."""


def _trial_score(marked: Video, payload: bytes, key: bytes, config: WatermarkConfig) -> tuple[float, int]:
    """How well the reader finds `payload` in `marked` after the trial transforms (lower is better).

    The reader itself scores (stage 1 with every weighting and residual it has; the transforms keep
    the geometry, so no search), after H.264 at `trial_crf` and after that plus a downscale by
    `trial_scale`: the margin is the smaller of the two −log10 p (0 where it is not found, at most
    `trial_cap`), and the wrong code bits of both break ties. `config` names the candidate's grid
    only, so every candidate is read with the same number of hypotheses."""
    encoded = h264_round_trip(marked, config.trial_crf, x264_params=TRIAL_X264)
    margins, errors = [], 0
    for attacked in (encoded, rescale_round_trip(encoded, config.trial_scale)):
        result = read(attacked.frames, key, config, attacked.picture_types, search=False).result
        if result.found and result.payload == payload and result.bit_errors is not None:
            margins.append(min(-math.log10(max(result.p_value, 1e-300)), config.trial_cap))
            errors += result.bit_errors
        else:
            margins.append(0.0)
            errors += codec.code_bits()
    return -min(margins), errors


def _may_follow(video: Video, config: WatermarkConfig) -> bool:
    return config.follow_motion and min(video.width, video.height) < config.follow_max_side and video.num_frames > 1


def _moving(positions: np.ndarray, config: WatermarkConfig) -> bool:
    return bool(np.abs(positions).max(initial=0.0) >= config.min_motion)


def _embed_following(video: Video, payload: bytes, lay: Layout, config: WatermarkConfig,
                     positions: np.ndarray) -> Video:
    """Embed in scene coordinates: register the frames on the first (undo the global translation),
    mark the registered clip as usual, and move each frame's mark back with the scene."""
    scale = np.array([video.width, video.height], np.float64) / MOTION_SIDE
    shifts = positions * scale  # where the scene has moved to, in pixels, per frame
    registered = Video(np.stack([translate(f, -dx, -dy) for f, (dx, dy) in zip(video.frames, shifts, strict=True)]),
                       video.fps)
    marked = _embed_with_flat_retry(registered, payload, lay, config)
    out = np.empty_like(video.frames)
    for i, (frame, (dx, dy)) in enumerate(zip(video.frames, shifts, strict=True)):
        delta = marked.frames[i].astype(np.float32) - registered.frames[i]
        out[i] = np.clip(frame + translate(delta, dx, dy) + 0.5, 0, 255).astype(np.uint8)
    result = Video(out, video.fps)
    reg_mean = read_means(result.frames, lay.fine, True, config.min_motion).registered
    if reg_mean is None or _code_bit_errors(reg_mean, payload, lay) > config.max_clean_errors:
        raise WatermarkError("the camera-following mark does not read back cleanly from this clip")
    return result


class Frames(Protocol):
    """A clip that can be read more than once, one RGB frame at a time (a `Video` in memory, or a
    file decoded anew on every pass): the embedder's passes never hold the whole clip."""

    def __iter__(self) -> Iterator[np.ndarray]: ...


class FrameWriter(Protocol):
    """Where one embedding pass puts its frames; `abort` discards them (the pass is redone)."""

    def write(self, frame: np.ndarray) -> None: ...

    def abort(self) -> None: ...


class _ArrayWriter:
    """Collects a pass's frames in memory (the `Video` API)."""

    def __init__(self, like: Video) -> None:
        self.out = np.empty_like(like.frames)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        self.out[self.count] = frame
        self.count += 1

    def abort(self) -> None:
        self.count = 0


def _embed_with_flat_retry(video: Video, payload: bytes, lay: Layout, config: WatermarkConfig) -> Video:
    """`embed_frames` on a clip in memory."""
    writer = embed_frames(video.frames, payload, lay, config, lambda: _ArrayWriter(video))
    assert isinstance(writer, _ArrayWriter)
    return Video(writer.out, video.fps)


def embed_frames(frames: Frames, payload: bytes, lay: Layout, config: WatermarkConfig,
                 new_writer: Callable[[], FrameWriter]) -> FrameWriter:
    """Embed on one grid, streaming: one pass of statistics, one pass that writes the marked frames
    to a fresh `new_writer()` (again when the delivered strength needs its one correction). Returns
    the writer of the pass that was kept.

    A clip too flat for the mask floor is tried once more at `flat_floor` (flat areas then carry the
    nominal amplitude; same layout, same reader), and a saturated one (mostly pure black or white)
    once more without the fade near black and white (`saturated_retry`).
    """
    try:
        return _embed_on(frames, payload, lay, config, new_writer)
    except TooFlatError:
        if config.flat_floor <= config.mask_floor:
            raise
    flat = replace(config, mask_floor=config.flat_floor)
    try:
        return _embed_on(frames, payload, lay, flat, new_writer)
    except TooFlatError:
        if not config.saturated_retry or config.headroom_floor >= 1.0 or not _has_content(frames, config):
            raise
    # Mostly pure black or white: mark the saturated areas too; only the in-range half survives there.
    return _embed_on(frames, payload, lay, replace(flat, headroom_floor=1.0, min_amplitude=config.min_amplitude / 2),
                     new_writer)


HAS_CONTENT_FRAMES = 8
"""`_has_content` looks at about this many frames, evenly spaced."""


def _has_content(frames: Frames, config: WatermarkConfig) -> bool:
    """Whether at least `saturated_min_content` of the pixels are away from pure black and white."""
    total = sum(1 for _ in frames) if not isinstance(frames, np.ndarray) else len(frames)
    step = max(1, total // HAS_CONTENT_FRAMES)  # converts only the frames `in_range_fraction` looks at
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for i, f in enumerate(frames) if i % step == 0]
    return scene.in_range_fraction(gray) >= config.saturated_min_content


def _code_bit_errors(mean: np.ndarray, payload: bytes, lay: Layout) -> int:
    """Code bits read wrong from a mean frame at the unattacked geometry of `lay` (no search, no decoding)."""
    mean = downsample(mean, lay.fine)
    sent = sent_signs(lay, payload)
    return int(np.count_nonzero(np.sign(soft_bits(normalise(highpass(mean)), lay)) != sent))


@dataclass
class _ClipStats:
    """What the embedder's first pass learns about a clip."""

    mask_power: Any  # mean over frames of the mean squared mask (numpy float32)
    mean_mask: np.ndarray  # the masks' mean (128×128)
    host: np.ndarray  # mean luma at ACCUMULATE_SIDE²
    count: int
    height: int
    width: int


def _clip_stats(frames: Frames, config: WatermarkConfig) -> _ClipStats:
    powers: list[Any] = []
    mask_sum: np.ndarray | None = None
    host = MeanLuma(ACCUMULATE_SIDE)
    for frame in frames:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        m = _mask(gray, config)
        powers.append(np.mean(m * m))
        mask_sum = m.copy() if mask_sum is None else np.add(mask_sum, m, out=mask_sum)
        host.add(gray)
    if mask_sum is None:
        raise WatermarkError("no frames to embed the watermark in")
    return _ClipStats(np.mean(powers), mask_sum / np.float32(len(powers)), host.mean(), len(powers), *gray.shape)


MAX_DELIVERY_ERROR = 0.02
"""The delivered RMS may differ from `target_rms` by this fraction before the gain is corrected (once)."""


def _embed_on(frames: Frames, payload: bytes, lay: Layout, config: WatermarkConfig,
              new_writer: Callable[[], FrameWriter]) -> FrameWriter:
    """Embed on one grid, then check the read-back (raises `WatermarkError` when it is too weak)."""
    stats = _clip_stats(frames, config)
    h, w = stats.height, stats.width
    unit = np.asarray(cv2.resize(grid_pattern(lay, payload), (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    # Rate control: every clip spends the same distortion budget. Smooth clips would otherwise leave
    # most of it unused and lose the mark to the codec; busy texture lifts the mask everywhere and
    # would exceed it (PSNR ≥ 42 dB).
    expected = config.strength * float(np.sqrt(stats.mask_power * np.mean(unit * unit)))
    gain = min(config.target_rms / max(expected, 1e-6), config.max_gain)
    bit_gain = _informed_gains(stats, payload, lay, config)
    cell_gain = np.where(lay.bit_of_cell >= 0, bit_gain[np.maximum(lay.bit_of_cell, 0)], 1.0)
    # Same distortion budget as without it: energy moves from bits the host helps to those it hurts.
    budget = float(np.sqrt(np.mean(cell_gain[lay.bit_of_cell != INACTIVE] ** 2)))
    grid = grid_pattern(lay, payload, bit_gain)
    pattern = np.asarray(cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    pattern = pattern * np.float32(config.strength / budget)
    writer = new_writer()
    delivered, marked_mean = _apply(frames, config, pattern * np.float32(gain), writer)
    # Clipping at black and white takes part of the mark away and rounding adds to it: measure what
    # was delivered and correct the gain once (still within `max_gain`).
    if abs(delivered / config.target_rms - 1.0) > MAX_DELIVERY_ERROR:
        corrected = min(gain * config.target_rms / max(delivered, 1e-6), config.max_gain)
        if corrected != gain:
            gain = corrected
            writer.abort()
            writer = new_writer()
            delivered, marked_mean = _apply(frames, config, pattern * np.float32(gain), writer)
    try:
        _check_embedded(marked_mean, payload, lay, config, gain)
    except WatermarkError:
        writer.abort()
        raise
    return writer


def _apply(frames: Frames, config: WatermarkConfig, pattern: np.ndarray,
           writer: FrameWriter) -> tuple[float, np.ndarray]:
    """Write each frame with `pattern` × its mask added to luma; return the RMS change actually
    delivered and the marked frames' mean luma (at ACCUMULATE_SIDE², for the read-back check)."""
    h, w = pattern.shape
    square, size = 0.0, 0
    marked = MeanLuma(ACCUMULATE_SIDE)
    for frame in frames:
        mask = cv2.resize(_mask(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), config), (w, h),
                          interpolation=cv2.INTER_LINEAR)
        delta = cv2.multiply(mask, pattern)
        # Equal change to R, G and B is a change of luma only (chroma untouched).
        out = cv2.add(frame, cv2.merge([delta, delta, delta]), dtype=cv2.CV_8U)
        square += float(cv2.norm(cv2.absdiff(out, frame), cv2.NORM_L2SQR))
        size += out.size
        marked.add(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY))
        writer.write(out)
    return float(np.sqrt(square / max(size, 1))), marked.mean()


def _informed_gains(stats: _ClipStats, payload: bytes, lay: Layout, config: WatermarkConfig) -> np.ndarray:
    """Per-code-bit gains ≥ 1 that lift the bits the host itself would read wrong (informed embedding).

    The reader sums the host with the mark. Where the scene is still, the host's contribution to a
    bit is the same in every frame and does not average out: the embedder knows it, and raises
    only those bits whose host term opposes them, by what they lack to reach a margin. Still one
    pattern for all frames (no flicker); moving scenes need little of it.
    """
    host = highpass(downsample(stats.host, lay.fine))
    level = cv2.GaussianBlur(np.abs(host), (0, 0), LEVEL_SIGMA) + LEVEL_FLOOR
    sent = sent_signs(lay, payload)
    mean_mask = cv2.resize(stats.mean_mask, (lay.fine, lay.fine), interpolation=cv2.INTER_LINEAR)
    pure = cv2.resize(grid_pattern(lay, payload), (lay.fine, lay.fine), interpolation=cv2.INTER_LINEAR)
    mark = highpass(pure * mean_mask) * config.strength
    h_b = soft_bits(host / level, lay) * sent  # > 0: the host helps this bit
    m_b = np.maximum(soft_bits(mark / level, lay) * sent, 1e-6)
    m_typ = float(np.median(m_b))
    # gain g such that g·m_b + h_b ≥ margin·m_typ
    need = (config.informed_margin * m_typ - h_b) / m_b
    return np.asarray(np.clip(need, 1.0, config.max_bit_gain), np.float32)


def _check_embedded(marked_mean: np.ndarray, payload: bytes, lay: Layout, config: WatermarkConfig,
                    gain: float) -> None:
    """Read the mark back from the mean of the frames just produced; raise when it is too weak to survive."""
    mean = downsample(marked_mean, lay.fine)
    sent = sent_signs(lay, payload)
    errors = _code_bit_errors(mean, payload, lay)
    # Amplitude through the linear part of the reader, relative to the unmasked mark that rate
    # control asked for: what is missing was taken by flatness (mask floor), clipping or rounding.
    pure = cv2.resize(grid_pattern(lay, payload), (lay.fine, lay.fine), interpolation=cv2.INTER_LINEAR)
    unit = float(np.mean(soft_bits(highpass(pure), lay) * sent)) * config.strength * gain
    ratio = float(np.mean(soft_bits(highpass(mean), lay) * sent)) / unit
    if ratio < config.min_amplitude:
        raise TooFlatError(
            f"clip is too flat, dark or saturated to carry the watermark (mark strength {ratio:.2f} of nominal, "
            f"needs ≥ {config.min_amplitude})"
        )
    if errors > config.max_clean_errors:
        raise WatermarkError(
            f"the watermark does not read back cleanly from this clip ({errors} of {sent.size} code bits wrong "
            f"before any attack, allowed {config.max_clean_errors}): too short or too busy"
        )
