"""Keyed, error-corrected invisible video watermark: `embed` and `extract`.

What it guarantees
- `embed` returns a clip whose every frame carries the same keyed ±1 cell pattern (a still scene
  does not flicker), added to luma only, shaped by texture and luminance masking, on a grid that
  is normalised to the frame, so rescaling does not move it. The grid has 128×128 cells when the
  frame gives each cell ≥ 3.5 px, else 64×64 (small frames: H.264 erases 2-px detail). On small
  frames whose camera moves, the pattern may instead be fixed to the scene (it moves with the
  global translation, which H.264's motion compensation then carries); a codec round trip decides.
  It then reads the mark back from the frames it produced and raises `WatermarkError` when the clip is too
  small, flat, dark or saturated to carry it: it never returns an unmarked clip.
- `extract` averages luma over all frames it is given (content moves, the mark does not) and, for
  a moving scene, also over the frames registered on the first (for a scene-fixed mark), removes
  the host's low frequencies, tries the unattacked geometry and then a crop/scale/flip search with
  a keyed sync pattern, decodes the BCH codeword (bchlib's algebraic decoder and a soft-decision
  one) and reports `found` only when the weighted false-positive bound of `codec`, times every
  hypothesis of its stage and times the two stages, is below 1e-6. Stage 1 also reads re-weighted
  and scene-cancelling means, an edge-preserving residual and, last, for a moving clip that is mostly
  pure black and white, the residual against a sub-pixel scene model (`scene.py`).

Layout of one grid (all keyed by HMAC of the secret): 85 % of the cells carry data, an equal number
for each of the 248 code bits (56 each on the 128 grid, 14 on the 64 grid); the rest are sync cells
that always carry +1. Every cell has a secret ±1 chip; the code bits are XOR-scrambled by a secret
mask before they modulate the chips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, field_serializer

from safety.errors import WatermarkError
from safety.media import Video
from safety.watermark import codec, scene
from safety.watermark.keys import check_key, keyed_rng
from safety.watermark.transcode import h264_round_trip, rescale_round_trip

ALGORITHM = "io.sealframe.video-watermark.1"
SAMPLES_PER_CELL = 4
SYNC, INACTIVE = -1, -2


@dataclass(frozen=True)
class WatermarkConfig:
    """The watermark's parameters. Changing a layout one makes old marks unreadable."""

    grids: tuple[int, ...] = (128, 64)
    """Cells per side of the normalised grids, finest first (layout)."""
    data_fraction: float = 0.85
    density: float = 1.0
    """Share of the cells that carry anything: fewer, stronger cells survive H.264's dead zone (layout)."""
    """Share of the cells that carry code bits; the rest are sync (layout)."""
    min_cell_px: float = 3.5
    """Embedding prefers the finest grid whose cells are at least this many pixels on each side."""
    trial_cell_px: float = 2.0
    """Finer grids whose cells are at least this big are tried too; `embed` keeps the candidate that
    the reader finds with the largest worst-case margin after the trial transforms (codec-aware choice)."""
    trial_crf: int = 28
    """The trial's H.264 round trip (libx264 defaults, one thread: the same pixels every time) …"""
    trial_scale: float = 0.5
    """… read as it is and once more after a downscale by this factor and back (a re-upload at lower
    resolution): a grid whose cells that downscale erases is not chosen over one it keeps."""
    trial_cap: float = 30.0
    """Margins (−log10 p) above this count as equal; fewer wrong code bits then decide."""
    strength: float = 1.9
    """Base amplitude in 8-bit luma levels before masking."""
    target_rms: float = 1.95
    """Luma RMS of the delivered mark that rate control gives every clip (≈ 42.3 dB PSNR): smooth clips
    are raised to it (at most `max_gain`), busy ones lowered to it."""
    max_gain: float = 3.0
    informed_margin: float = 0.6
    """Informed embedding lifts each bit until its read-back value (mark + host) reaches this × typical."""
    max_bit_gain: float = 2.5
    mask_floor: float = 0.55
    flat_floor: float = 1.0
    """When a clip is too flat for `mask_floor`, the embedder retries once with this floor: flat areas
    then carry the nominal amplitude, and rate control still holds the mark's RMS."""
    mask_ceil: float = 2.2
    headroom_floor: float = 0.25
    """Near black and white the mask fades to this fraction (the mark would clip there)."""
    weigh_frames: bool = True
    """Stage 1 also reads the frames weighted by their own sync correlation (`_sync_weight`)."""
    cancel_host: bool = True
    """Stage 1 also reads, for a moving scene, the registered means combined to cancel the scene
    (`_host_cancelling`)."""
    edge_residual: bool = True
    """Stage 1 also reads every source through the edge-preserving residual (`_edge_residual`)."""
    scene_model: bool = True
    """Stage 1 reads last, for a moving clip that is mostly pure black and white, the residual against
    a sub-pixel model of the scene (`scene.py`): after a contrast increase the mark is left only on
    the anti-aliased edges, where every other residual keeps the edge itself."""
    scene_max_in_range: float = 0.25
    """… a clip counts as mostly black and white when at most this share of its samples is in range …"""
    scene_max_samples: int = 8_000_000
    """… and the model reads at most this many luma samples, the first frames that fit (held as uint8
    while streaming: 8 MB; horse's 48 frames of 320×240 are 3.7 M and take about 2.5 s)."""
    saturated_retry: bool = True
    """A clip still too weak at `flat_floor` (mostly pure black or white) is tried once more without the
    fade: on a saturated pixel only the half of the mark that points into range survives the clip, so
    that retry asks for half of `min_amplitude`. Rate control holds the RMS (PSNR) as for any clip."""
    saturated_min_content: float = 0.01
    """… but only when at least this share of pixels is in range (a silhouette, text on white): on a
    uniformly black or white clip the mark would be the only structure in the picture, so it is refused."""
    texture_ref: float = 10.0
    """Local luma std (3×3 at 128×128) at which the texture mask adds 1.0 to the floor."""
    follow_motion: bool = True
    """Small moving clips also try a mark that follows the camera (global translation), so that H.264's
    motion compensation carries it instead of smearing it; the reader registers the frames."""
    follow_max_side: int = 480
    """… only frames whose short side is below this (larger ones keep the static mark: they survive
    the codec, and their embedding stays without trial encodes)."""
    min_motion: float = 2.0
    """Global displacement (in samples of the 256² motion image) above which a clip counts as moving."""
    max_crop: float = 0.30
    """Largest fraction of width and height the extractor assumes may have been cropped away."""
    scale_step: float = 0.005
    candidates: int = 6
    """How many of the best sync hypotheses per grid are decoded."""
    p_threshold: float = 1e-6
    min_side: int = 128
    min_amplitude: float = 0.7
    """Embedding fails closed when the mark read back is weaker than this fraction of nominal."""
    max_clean_errors: int = 14
    """… or when more code bits than this (half of BCH t) read wrong straight after embedding."""


DEFAULT_CONFIG = WatermarkConfig()


class TooFlatError(WatermarkError):
    """The clip is too flat, dark or saturated for the mark at this mask floor."""


class WatermarkResult(BaseModel):
    """What `extract` found. `payload` is set only when `found`."""

    model_config = ConfigDict(frozen=True)

    found: bool
    payload: bytes | None
    confidence: float
    """Normalised agreement of the soft bits with the decoded codeword, in [0, 1] (0 when none)."""
    p_value: float
    """Upper bound on the chance that an unmarked video yields this decode (1.0 when none)."""
    bit_errors: int | None = None
    """Code bits the BCH decoder corrected (of 248)."""
    frames: int = 0
    geometry: dict[str, Any] | None = None
    """The hypothesis read: grid, flip, and the window (scale, x, y) as fractions of the frame."""
    algorithm: str = ALGORITHM

    @field_serializer("payload")
    def _hex(self, payload: bytes | None) -> str | None:
        return payload.hex() if payload is not None else None


# ---------------------------------------------------------------------------------------------
# keyed layout


@dataclass(frozen=True, eq=False)  # hashed by identity (layouts are cached per key and grid)
class Layout:
    grid: int
    chips: np.ndarray  # (grid*grid,) float32 ±1, 0 for inactive cells
    bit_of_cell: np.ndarray  # (grid*grid,) int64 code bit, or SYNC / INACTIVE
    scramble: np.ndarray  # (n,) uint8
    sync_template: np.ndarray  # (fine, fine) float32: the sync cells' expected residual

    @property
    def fine(self) -> int:
        return self.grid * SAMPLES_PER_CELL

    @property
    def cells_per_bit(self) -> int:
        return int(np.count_nonzero(self.bit_of_cell == 0))


@lru_cache(maxsize=32)
def layout(key: bytes, grid: int, data_fraction: float = DEFAULT_CONFIG.data_fraction,
           density: float = DEFAULT_CONFIG.density) -> Layout:
    check_key(key)
    g2 = grid * grid
    n = codec.code_bits()
    active = round(density * g2)
    per_bit = int(data_fraction * active) // n
    if per_bit < 4:
        raise WatermarkError(f"a {grid}×{grid} grid is too small for {n} code bits")
    rng = keyed_rng(key, f"layout/{grid}")
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=g2)
    order = rng.permutation(g2)
    bit_of_cell = np.full(g2, INACTIVE, np.int64)
    bit_of_cell[order[:active]] = SYNC
    bit_of_cell[order[: n * per_bit]] = np.repeat(np.arange(n), per_bit)
    chips[bit_of_cell == INACTIVE] = 0.0
    scramble = keyed_rng(key, f"scramble/{grid}").integers(0, 2, n).astype(np.uint8)
    sync = np.where(bit_of_cell == SYNC, chips, 0.0).astype(np.float32).reshape(grid, grid)
    fine = grid * SAMPLES_PER_CELL
    template = _highpass(cv2.resize(sync, (fine, fine), interpolation=cv2.INTER_LINEAR))
    return Layout(grid=grid, chips=chips, bit_of_cell=bit_of_cell, scramble=scramble, sync_template=template)


def _sent_signs(lay: Layout, payload: bytes) -> np.ndarray:
    """±1 per code bit as it is written into the cells (after scrambling)."""
    return np.asarray(2.0 * (codec.encode(payload) ^ lay.scramble).astype(np.float32) - 1.0, np.float32)


def _grid_pattern(lay: Layout, payload: bytes, bit_gain: np.ndarray | None = None) -> np.ndarray:
    sent = _sent_signs(lay, payload) * (1.0 if bit_gain is None else bit_gain)
    signs = np.where(lay.bit_of_cell < 0, 1.0, sent[np.maximum(lay.bit_of_cell, 0)])
    return (lay.chips * signs).astype(np.float32).reshape(lay.grid, lay.grid)


def grid_for(width: int, height: int, config: WatermarkConfig = DEFAULT_CONFIG) -> int:
    """The grid `embed` prefers for a frame of this size."""
    for g in config.grids:
        if min(width, height) / g >= config.min_cell_px:
            return g
    return config.grids[-1]


def grid_candidates(width: int, height: int, config: WatermarkConfig = DEFAULT_CONFIG) -> list[int]:
    """The grids `embed` tries for a frame of this size, the preferred one first."""
    preferred = grid_for(width, height, config)
    finer = [g for g in config.grids if g > preferred and min(width, height) / g >= config.trial_cell_px]
    return [preferred, *finer]


# ---------------------------------------------------------------------------------------------
# embedding


def _mask(gray: np.ndarray, config: WatermarkConfig) -> np.ndarray:
    """Texture × luminance masking at 128×128, in units of `strength`."""
    small = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    mean = cv2.blur(small, (3, 3))
    var = np.maximum(cv2.blur(small * small, (3, 3)) - mean * mean, 0.0)
    texture = np.sqrt(var) / config.texture_ref
    mask = np.clip(config.mask_floor + texture, config.mask_floor, config.mask_ceil)
    # Near black and white the mark would clip (and show as noise): fade it out there.
    headroom = np.clip(np.minimum(mean, 255.0 - mean) / 24.0, config.headroom_floor, 1.0)
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
        lay = layout(key, grid, config.data_fraction, config.density)
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
so that the same clip is always marked the same way. Without mb-tree (`REPRODUCIBLE_X264`) the
trial ranked astronaut's candidates differently from the default encoder."""


def _trial_score(marked: Video, payload: bytes, key: bytes, config: WatermarkConfig) -> tuple[float, int]:
    """How well the reader finds `payload` in `marked` after the trial transforms (lower is better).

    The reader itself scores (stage 1 with every weighting and residual it has; the transforms keep
    the geometry, so no search), after H.264 at `trial_crf` and after that plus a downscale by
    `trial_scale`: the margin is the smaller of the two −log10 p (0 where it is not found, at most
    `trial_cap`), and the wrong code bits of both break ties. `config` names the candidate's grid
    only, so every candidate is read with the same number of hypotheses. The previous proxy (the
    plain mean's code bits at the unattacked geometry after CRF 23 and 28) chose differently on 3 of
    the benchmark's 11 clips with several candidates; on astronaut 256² it kept the 128 grid, whose
    2-px cells a 0.5× downscale erases, over the 64 grid that the reader finds after both."""
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
    registered = Video(np.stack([_translate(f, -dx, -dy) for f, (dx, dy) in zip(video.frames, shifts, strict=True)]),
                       video.fps)
    marked = _embed_with_flat_retry(registered, payload, lay, config)
    out = np.empty_like(video.frames)
    for i, (frame, (dx, dy)) in enumerate(zip(video.frames, shifts, strict=True)):
        delta = marked.frames[i].astype(np.float32) - registered.frames[i]
        out[i] = np.clip(frame + _translate(delta, dx, dy) + 0.5, 0, 255).astype(np.uint8)
    result = Video(out, video.fps)
    reg_mean = _read_means(result.frames, lay.fine, True, config.min_motion).registered
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
    mean = _downsample(mean, lay.fine)
    sent = _sent_signs(lay, payload)
    return int(np.count_nonzero(np.sign(_soft_bits(_normalise(_highpass(mean)), lay)) != sent))


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
    host = _MeanLuma(ACCUMULATE_SIDE)
    for frame in frames:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        m = _mask(gray, config)
        powers.append(np.mean(m * m))
        mask_sum = m.copy() if mask_sum is None else np.add(mask_sum, m, out=mask_sum)
        host.add(gray)
    if mask_sum is None:
        raise WatermarkError("no frames to embed the watermark in")
    return _ClipStats(np.mean(powers), mask_sum / np.float32(len(powers)), host.mean(), len(powers), *gray.shape)


class _MeanLuma:
    """The running mean of luma resampled to side×side (as `accumulate`: float64 sums)."""

    def __init__(self, side: int) -> None:
        self.side = side
        self.total = np.zeros((side, side), np.float64)
        self.count = 0

    def add(self, gray8: np.ndarray) -> None:
        self.total += cv2.resize(gray8.astype(np.float32), (self.side, self.side), interpolation=cv2.INTER_AREA)
        self.count += 1

    def mean(self) -> np.ndarray:
        return np.asarray((self.total / max(self.count, 1)).astype(np.float32))


MAX_DELIVERY_ERROR = 0.02
"""The delivered RMS may differ from `target_rms` by this fraction before the gain is corrected (once)."""


def _embed_on(frames: Frames, payload: bytes, lay: Layout, config: WatermarkConfig,
              new_writer: Callable[[], FrameWriter]) -> FrameWriter:
    """Embed on one grid, then check the read-back (raises `WatermarkError` when it is too weak)."""
    stats = _clip_stats(frames, config)
    h, w = stats.height, stats.width
    unit = np.asarray(cv2.resize(_grid_pattern(lay, payload), (w, h), interpolation=cv2.INTER_LINEAR), np.float32)
    # Rate control: every clip spends the same distortion budget. Smooth clips would otherwise leave
    # most of it unused and lose the mark to the codec; busy texture lifts the mask everywhere and
    # would exceed it (PSNR ≥ 42 dB).
    expected = config.strength * float(np.sqrt(stats.mask_power * np.mean(unit * unit)))
    gain = min(config.target_rms / max(expected, 1e-6), config.max_gain)
    bit_gain = _informed_gains(stats, payload, lay, config)
    cell_gain = np.where(lay.bit_of_cell >= 0, bit_gain[np.maximum(lay.bit_of_cell, 0)], 1.0)
    # Same distortion budget as without it: energy moves from bits the host helps to those it hurts.
    budget = float(np.sqrt(np.mean(cell_gain[lay.bit_of_cell != INACTIVE] ** 2)))
    grid = _grid_pattern(lay, payload, bit_gain)
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
    marked = _MeanLuma(ACCUMULATE_SIDE)
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
    host = _highpass(_downsample(stats.host, lay.fine))
    level = cv2.GaussianBlur(np.abs(host), (0, 0), 6.0) + 0.5
    sent = _sent_signs(lay, payload)
    mean_mask = cv2.resize(stats.mean_mask, (lay.fine, lay.fine), interpolation=cv2.INTER_LINEAR)
    pure = cv2.resize(_grid_pattern(lay, payload), (lay.fine, lay.fine), interpolation=cv2.INTER_LINEAR)
    mark = _highpass(pure * mean_mask) * config.strength
    h_b = _soft_bits(host / level, lay) * sent  # > 0: the host helps this bit
    m_b = np.maximum(_soft_bits(mark / level, lay) * sent, 1e-6)
    m_typ = float(np.median(m_b))
    # gain g such that g·m_b + h_b ≥ margin·m_typ
    need = (config.informed_margin * m_typ - h_b) / m_b
    return np.asarray(np.clip(need, 1.0, config.max_bit_gain), np.float32)


def _check_embedded(marked_mean: np.ndarray, payload: bytes, lay: Layout, config: WatermarkConfig,
                    gain: float) -> None:
    """Read the mark back from the mean of the frames just produced; raise when it is too weak to survive."""
    mean = _downsample(marked_mean, lay.fine)
    sent = _sent_signs(lay, payload)
    errors = _code_bit_errors(mean, payload, lay)
    # Amplitude through the linear part of the reader, relative to the unmasked mark that rate
    # control asked for: what is missing was taken by flatness (mask floor), clipping or rounding.
    pure = cv2.resize(_grid_pattern(lay, payload), (lay.fine, lay.fine), interpolation=cv2.INTER_LINEAR)
    unit = float(np.mean(_soft_bits(_highpass(pure), lay) * sent)) * config.strength * gain
    ratio = float(np.mean(_soft_bits(_highpass(mean), lay) * sent)) / unit
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


# ---------------------------------------------------------------------------------------------
# extraction

# Weights of one cell's four samples per axis after the 4× bilinear upsampling of the cell grid.
_K1 = np.array([0.625, 0.875, 0.875, 0.625], np.float32)
_CELL_KERNEL = np.outer(_K1, _K1)
ACCUMULATE_SIDE = max(DEFAULT_CONFIG.grids) * SAMPLES_PER_CELL


MOTION_SIDE = 256
"""Global motion is estimated on luma resampled to this square (normalised to the frame, like the grid)."""


class MotionTracker:
    """Where the scene of each frame has moved since the first frame (global translation, in samples
    of the MOTION_SIDE² image), by phase correlation against a key frame that is renewed when the
    scene has moved an eighth of the frame away from it (few links, so little drift). Weak matches
    (a cut, noise) keep the last position."""

    def __init__(self) -> None:
        self._key: np.ndarray | None = None
        self._key_pos = np.zeros(2, np.float64)
        self._pos = np.zeros(2, np.float64)
        self._window = cv2.createHanningWindow((MOTION_SIDE, MOTION_SIDE), cv2.CV_32F)

    def __call__(self, gray: np.ndarray) -> np.ndarray:
        small = cv2.resize(gray, (MOTION_SIDE, MOTION_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._key is None:
            self._key = small
            return self._pos.copy()
        (dx, dy), response = cv2.phaseCorrelate(self._key, small, self._window)
        if response > 0.1 and max(abs(dx), abs(dy)) < MOTION_SIDE / 4:
            self._pos = self._key_pos + np.array([dx, dy])
        if np.abs(self._pos - self._key_pos).max() > MOTION_SIDE / 8:
            self._key, self._key_pos = small, self._pos.copy()
        return self._pos.copy()


def global_motion(frames: Iterable[np.ndarray]) -> np.ndarray:
    """(T, 2) scene positions of each frame relative to the first, in MOTION_SIDE samples."""
    track = MotionTracker()
    return np.array([track(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)) for f in frames])


def _translate(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`img` moved by (dx, dy) pixels (bilinear, reflected borders)."""
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    return np.asarray(cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))


@dataclass
class Means:
    """What one streaming pass over the frames gives the reader."""

    static: np.ndarray  # mean luma at side×side
    registered: np.ndarray | None  # mean of the frames registered on the first (None: the scene is still)
    count: int
    by_type: dict[str, tuple[np.ndarray, np.ndarray | None, int]]  # picture type → (static, registered, count)
    by_sync: dict[tuple[int, bool], np.ndarray]  # (grid, registered) → frames weighted by their own sync cells
    first: np.ndarray | None = None  # the first frame at side×side (registered on itself)
    first_type: str | None = None  # its picture type, when known
    luma: list[np.ndarray] | None = None  # full-resolution luma (uint8), when asked for and small enough
    positions: np.ndarray | None = None  # (T, 2) scene positions (MOTION_SIDE samples), with `luma`


def _read_means(frames: Iterable[np.ndarray], side: int, register: bool = True,
                min_motion: float = DEFAULT_CONFIG.min_motion, picture_types: Sequence[str] | None = None,
                layouts: Sequence[Layout] = (), keep_samples: int = 0) -> Means:
    """Mean luma at side×side, the mean of the frames registered on the first (None when the scene
    does not move), the frame count, the same means per picture type when the types are known, and,
    for each of `layouts`, the means with each frame weighted by its own sync correlation.
    One pass: uploads are streamed, never held whole; only a clip of at most `keep_samples` luma
    samples in all is also kept at full resolution (for the scene model, `scene.py`)."""
    sums: dict[str, list[np.ndarray]] = {}
    counts: dict[str, int] = {}
    synced: dict[tuple[int, bool], list[Any]] = {}  # (grid, registered) → [weighted sum, total weight]
    track = MotionTracker()
    farthest = 0.0
    count = 0
    first: np.ndarray | None = None
    kept: list[np.ndarray] | None = [] if keep_samples > 0 and register else None
    positions: list[np.ndarray] = []
    for frame in frames:
        gray8 = frame if frame.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        gray = gray8.astype(np.float32)
        if kept is not None and (len(kept) + 1) * gray8.size <= keep_samples:
            kept.append(gray8)  # the first frames that fit: a longer clip is modelled on its beginning
        small = cv2.resize(gray, (side, side), interpolation=cv2.INTER_AREA)
        if first is None:
            first = small
        kinds = ["all"] + ([picture_types[count]] if picture_types and count < len(picture_types) else [])
        reg = None
        if register:
            pos = track(gray)
            positions.append(pos)
            farthest = max(farthest, float(np.abs(pos).max()))
            reg = _translate(small, *(-pos * side / MOTION_SIDE))
        for kind in kinds:
            acc = sums.setdefault(kind, [np.zeros((side, side), np.float64), np.zeros((side, side), np.float64)])
            acc[0] += small
            if reg is not None:
                acc[1] += reg
            counts[kind] = counts.get(kind, 0) + 1
        for lay in layouts:
            for is_reg, img in ((False, small), (True, reg)):
                if img is None:
                    continue
                w = _sync_weight(img, _sync_kernel(lay, side))
                # float32 and in place: ~0.15 ms a frame at 512² (a float64 `+= w * img` cost 1 ms, x4)
                slot = synced.setdefault((lay.grid, is_reg), [np.zeros((side, side), np.float32), 0.0])
                if w > 0:
                    cv2.scaleAdd(img, w, slot[0], dst=slot[0])
                    slot[1] += w
        count += 1
    if count == 0:
        raise WatermarkError("no frames to read the watermark from")
    moving = register and farthest >= min_motion
    means = {k: ((a / counts[k]).astype(np.float32), (r / counts[k]).astype(np.float32) if moving else None, counts[k])
             for k, (a, r) in sums.items()}
    static, registered, _ = means.pop("all")
    by_sync = {key: (acc / total).astype(np.float32) for key, (acc, total) in synced.items()
               if total > 0 and (moving or not key[1])}
    first_type = picture_types[0] if picture_types else None
    kept = kept if moving and kept and len(kept) >= 3 else None
    return Means(static, registered, count, means, by_sync, first, first_type, kept,
                 np.array(positions[: len(kept)]) if kept is not None else None)


def _sync_weight(img: np.ndarray, kernel: np.ndarray) -> float:
    """A frame's weight in the sync-weighted mean: its residual's correlation with the keyed sync
    cells (in luma units; 0 when negative), as one dot product with `_sync_kernel`.

    H.264 keeps the mark unevenly over frames (the I-frame, and frames after a scene change, get the
    bits); this is maximum-ratio combining with each frame's mark amplitude estimated from its own
    sync cells. Measured on the benchmark's immunohistochemistry under CRF 28 + 0.5× + brightness
    +15 %: plain mean p = 9e-6 (not found), sync-weighted p = 3e-10. The weights use only the sync
    cells, which are independent of the data cells' keyed chips, so the false-positive bound holds.
    """
    return max(float(np.vdot(img, kernel)), 0.0)


@lru_cache(maxsize=16)
def _sync_kernel(lay: Layout, side: int) -> np.ndarray:
    """K with <img, K> = <highpass(downsample(img, fine)), sync template> / |template| for a side×side
    img (up to the blur's border handling: the weight is an estimate either way).

    The high-pass (identity minus a Gaussian) is self-adjoint, and downsampling side → fine by an
    integer factor k (INTER_AREA: k×k box means) has the adjoint "repeat each sample k×k times / k²",
    so the per-frame correlation costs one dot product instead of a resize and a blur.
    """
    tpl = lay.sync_template
    k = side // lay.fine
    if k * lay.fine != side:
        raise ValueError(f"grid side {lay.fine} does not divide {side}")
    kernel = np.kron(_highpass(tpl), np.ones((k, k), np.float32)) / (k * k)
    return np.asarray(kernel / float(np.sqrt(np.sum(tpl * tpl))), np.float32)


def _weighted_by_type(means: Means, lay: Layout, registered: bool) -> np.ndarray | None:
    """The per-picture-type means combined with weights from their own sync cells (None when the
    types are unknown, all alike, or no type shows the mark).

    H.264 spends its bits unevenly: on the benchmark's 640×360 grass at CRF 28 the I-frame's mean
    shows the sync pattern at 9.4 residual RMS units and the P-frames' at 1.2, and averaging all 48
    frames alike dilutes the one frame that kept the mark. Each type's mean gets the weight z/S of
    maximum-ratio combining (z: its sync correlation in units of its residual RMS S; 0 when
    negative). The weights use only the sync cells and the residual's energy, neither of which
    depends on the data cells' keyed chips, so the false-positive bound holds as for any mean.
    """
    groups = [(m[1] if registered else m[0]) for m in means.by_type.values()]
    if len(groups) < 2 or any(g is None for g in groups):
        return None
    tpl = lay.sync_template
    norm = float(np.sqrt(np.sum(tpl * tpl)))
    total, weight = np.zeros_like(groups[0]), 0.0
    for g in groups:
        assert g is not None
        r = _highpass(_downsample(g, lay.fine))
        rms = float(np.sqrt(np.mean(r * r))) + 1e-6
        w = max(float(np.sum(r * tpl)) / norm / rms, 0.0) / rms
        total += np.float32(w) * g
        weight += w
    return (total / weight).astype(np.float32) if weight > 0 else None


def _host_cancelling(means: Means, lay: Layout) -> np.ndarray | None:
    """For a moving scene: the registered first frame and the registered means of the other frames
    (per picture type when known), combined with the weights that best show the sync cells against
    everything else those means hold (None when the scene is still or no combination shows the mark).

    Registered on the first frame, the scene is the same in every frame and the mark is not: the
    static mark moves against the scene (and averages out), and what H.264 dragged along with the
    scene from the I-frame fades over the P- and B-frames. A weighted difference of the means then
    cancels the scene, which the plain means cannot average away (the registered mean keeps it whole;
    the static mean keeps it wherever the pan is slow). The weights are w = (G + εI)⁻¹ c, c the
    groups' sync correlations and G the Gram matrix of their high-pass residuals (the combination of
    largest sync correlation for its residual energy; ε = 1e-3 of the mean diagonal for stability).
    Measured on the benchmark's grass 640×360 (pan and shake) at CRF 28: 1 of 248 code bits wrong,
    where the plain and re-weighted means read 58-102 wrong. Like the other re-weighted means, the
    weights depend on the sync cells and on the content only, never on the data cells' chips, so the
    false-positive bound holds; its M counts this read.
    """
    if means.registered is None or means.first is None or means.count < 3:
        return None
    first, n = means.first, means.count
    groups = [first]
    typed = [(kind, reg, cnt) for kind, (_, reg, cnt) in means.by_type.items() if reg is not None]
    if typed and sum(cnt for _, _, cnt in typed) == n:
        for kind, reg, cnt in typed:
            total, count = reg * np.float32(cnt), cnt
            if kind == means.first_type:
                total, count = total - first, count - 1
            if count > 0:
                groups.append(total / np.float32(count))
    else:
        groups.append((means.registered * np.float32(n) - first) / np.float32(n - 1))
    tpl = lay.sync_template.ravel().astype(np.float64)
    res = np.stack([_highpass(_downsample(g, lay.fine)).ravel() for g in groups]).astype(np.float64)
    corr = res @ tpl / float(np.sqrt(tpl @ tpl))
    gram = res @ res.T / res.shape[1]
    k = len(groups)
    w = np.linalg.solve(gram + 1e-3 * float(np.trace(gram)) / k * np.eye(k), corr)
    shown = float(w @ corr)
    if shown <= 0 or corr.max() <= 0:
        return None
    # Scaled to the strongest group's sync amplitude, so the normalisation sees luma-sized values.
    w *= float(corr.max()) / shown
    return np.asarray(sum(np.float32(wi) * g for wi, g in zip(w, groups, strict=True)), np.float32)


def accumulate(frames: Iterable[np.ndarray], side: int = ACCUMULATE_SIDE) -> tuple[np.ndarray, int]:
    """Mean luma of `frames` resampled to side×side (float32) and the frame count (no registration)."""
    means = _read_means(frames, side, register=False)
    return means.static, means.count


def _downsample(img: np.ndarray, side: int) -> np.ndarray:
    if img.shape[0] == side:
        return img
    return np.asarray(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA), np.float32)


def _highpass(img: np.ndarray) -> np.ndarray:
    """Remove the host's low frequencies; the mark lives at the cell scale (4 samples)."""
    img = np.asarray(img, np.float32)
    return np.asarray(img - cv2.GaussianBlur(img, (0, 0), 1.5), np.float32)


def _normalise(residual: np.ndarray) -> np.ndarray:
    """Divide by the local residual level so strong edges do not outvote the mark."""
    level = cv2.GaussianBlur(np.abs(residual), (0, 0), 6.0)
    return np.asarray(residual / (level + 0.5), np.float32)


def _soft_bits(canvas: np.ndarray, lay: Layout) -> np.ndarray:
    g, s = lay.grid, SAMPLES_PER_CELL
    cells = (canvas.reshape(g, s, g, s) * _CELL_KERNEL[None, :, None, :]).sum(axis=(1, 3)).ravel()
    data = lay.bit_of_cell >= 0
    weights = (lay.chips * cells)[data]
    return np.bincount(lay.bit_of_cell[data], weights=weights, minlength=codec.code_bits()).astype(np.float32)


@dataclass(frozen=True)
class Hypothesis:
    grid: int
    flip: bool
    size: int  # side, in fine samples, of the received frame mapped onto the original grid
    x: int
    y: int
    z: float  # sync correlation peak in standard deviations (nan: not searched)
    registered: bool = False  # read from the frames registered on the first (a camera-following mark)
    weighting: str = "none"
    """Stage 1 only: "types" (means per picture type combined), "frames" (each frame by its sync cells)
    or "cancel" (registered means combined to cancel the scene, `_host_cancelling`)."""
    residual: str = "highpass"
    """Stage 1 only: "highpass" (linear) or "edge" (`_edge_residual`, edge-preserving)."""


def _sizes(fine: int, config: WatermarkConfig) -> list[int]:
    steps = np.arange(0.0, config.max_crop + 1e-9, config.scale_step)
    return sorted({round(fine * (1.0 - c)) for c in steps}, reverse=True)


def _smallest(fine: int, config: WatermarkConfig) -> int:
    return round(fine * (1.0 - config.max_crop))


def _max_shift(fine: int, config: WatermarkConfig) -> int:
    return round(fine * config.max_crop)


def hypotheses_searched(config: WatermarkConfig = DEFAULT_CONFIG, registered: bool = False) -> int:
    """M of the false-positive bound for the search stage: every (grid, flip, window size, x, y) the
    reader may try on the mean frame and, for a moving scene (`registered`), the same again on the
    registered mean plus every translation of it up to `max_crop` of the frame.

    Counted generously: every integer window size between the largest crop and none, every offset.
    """
    total = 0
    for g in config.grids:
        fine = g * SAMPLES_PER_CELL
        crops = 2 * sum((fine - size + 1) ** 2 for size in range(_smallest(fine, config), fine + 1))
        total += crops + (crops + (2 * _max_shift(fine, config) + 1) ** 2 if registered else 0)
    return total


SEARCH_SIDE = 256
"""The crop/scale search runs at this resolution at most, then refines at full resolution."""


def _search(residual: np.ndarray, lay: Layout, config: WatermarkConfig) -> list[Hypothesis]:
    """The best sync hypotheses over flip × scale × offset (FFT correlation with the sync cells).

    Coarse: every window size (crop 0–30 % in `scale_step`) and offset at ≤ 256², by FFT.
    Fine: the best few, ± one coarse sample in size and offset, by direct correlation at full size.
    """
    fine = lay.fine
    coarse = min(fine, SEARCH_SIDE)
    f = fine // coarse
    spectrum = np.fft.rfft2(_downsample(lay.sync_template, coarse))
    found: list[Hypothesis] = []
    for flip in (False, True):
        img = _downsample(residual[:, ::-1] if flip else residual, coarse)
        for size in _sizes(coarse, config):
            span = coarse - size + 1
            scaled = img if size == coarse else cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
            pad = np.zeros((coarse, coarse), np.float32)
            pad[:size, :size] = scaled
            corr = np.fft.irfft2(np.conj(np.fft.rfft2(pad)) * spectrum, s=(coarse, coarse))
            sd = float(corr.std()) or 1.0
            valid = corr[:span, :span]
            iy, ix = np.unravel_index(int(np.argmax(valid)), valid.shape)
            z = float(valid[iy, ix] - corr.mean()) / sd
            found.append(Hypothesis(lay.grid, flip, size * f, int(ix) * f, int(iy) * f, z))
    found.sort(key=lambda h: -h.z)
    best = found[: config.candidates]
    return best if f == 1 else [_refine(residual, lay, h, f, config) for h in best]


def _translations(residual: np.ndarray, lay: Layout, config: WatermarkConfig) -> list[Hypothesis]:
    """The best translations of a registered mean (a trimmed clip starts where the camera had moved
    to): cyclic FFT correlation with the sync cells at full size, shifts up to `max_crop`."""
    fine = lay.fine
    corr = np.fft.irfft2(np.conj(np.fft.rfft2(residual)) * np.fft.rfft2(lay.sync_template), s=(fine, fine))
    limit = _max_shift(fine, config)
    shifts = np.r_[0 : limit + 1, fine - limit : fine]
    valid = corr[np.ix_(shifts, shifts)]
    sd = float(corr.std()) or 1.0
    best = np.argsort(valid, axis=None)[::-1][:2]
    out = []
    for k in best:
        iy, ix = np.unravel_index(int(k), valid.shape)
        y, x = int(shifts[iy]), int(shifts[ix])
        y, x = (y - fine if y > limit else y), (x - fine if x > limit else x)
        out.append(Hypothesis(lay.grid, False, fine, x, y, float(valid[iy, ix] - corr.mean()) / sd, registered=True))
    return out


def _refine(residual: np.ndarray, lay: Layout, hyp: Hypothesis, f: int, config: WatermarkConfig) -> Hypothesis:
    fine = lay.fine
    img = residual[:, ::-1] if hyp.flip else residual
    tmpl = lay.sync_template
    best: tuple[float, Hypothesis] | None = None
    for size in range(max(_smallest(fine, config), hyp.size - f), min(fine, hyp.size + f) + 1):
        scaled = img if size == fine else cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        x0, y0 = max(0, hyp.x - f - 1), max(0, hyp.y - f - 1)
        x1, y1 = min(fine, hyp.x + f + 1 + size), min(fine, hyp.y + f + 1 + size)
        if x1 - x0 < size or y1 - y0 < size:
            continue
        corr = cv2.matchTemplate(tmpl[y0:y1, x0:x1], np.ascontiguousarray(scaled), cv2.TM_CCORR)
        iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
        score = float(corr[iy, ix]) / (float(np.linalg.norm(scaled)) + 1e-9)
        if best is None or score > best[0]:
            best = (score, Hypothesis(hyp.grid, hyp.flip, size, x0 + int(ix), y0 + int(iy), hyp.z))
    return best[1] if best is not None else hyp


def _place(residual: np.ndarray, hyp: Hypothesis, fine: int) -> np.ndarray:
    img = residual[:, ::-1] if hyp.flip else residual
    if hyp.size != fine:
        img = cv2.resize(img, (hyp.size, hyp.size), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((fine, fine), np.float32)
    x0, y0 = max(0, hyp.x), max(0, hyp.y)
    x1, y1 = min(fine, hyp.x + hyp.size), min(fine, hyp.y + hyp.size)
    if x1 > x0 and y1 > y0:  # a translated window may hang over the edge of the original frame
        canvas[y0:y1, x0:x1] = img[y0 - hyp.y : y1 - hyp.y, x0 - hyp.x : x1 - hyp.x]
    return canvas


@dataclass(frozen=True)
class Reading:
    """The reader's internals for one clip (the benchmark reads raw code bits from here)."""

    result: WatermarkResult
    bits: np.ndarray  # code bits read at the best hypothesis, before the BCH decoder


STAGES = 2
"""The reader's stages, the unattacked geometry and then the search, share the false-positive
budget: every p-value is multiplied by the number of stages (Bonferroni), so that the chance of any
false `found` stays below `p_threshold` whichever stage reports it."""


def _decode(soft: np.ndarray, lay: Layout, hypotheses: int) -> tuple[codec.Decoded, float]:
    """The best decode of one hypothesis's soft bits and its p-value (weighted bound × stages × M).

    Candidates: the soft-decision (OSD) decode and, when it differs, bchlib's algebraic one.
    """
    signed = np.where(lay.scramble == 1, -soft, soft)  # > 0 means code bit 1
    candidates = [codec.decode_soft(signed)]
    hard = codec.decode((signed > 0).astype(np.uint8))
    if hard is not None and hard.payload != candidates[0].payload:
        candidates.append(hard)
    scored = [(codec.log2_soft_false_positive(signed, codec.encode(c.payload), STAGES * hypotheses), c)
              for c in candidates]
    log2_p, best = min(scored, key=lambda item: item[0])
    return best, float(2.0**log2_p)


class _Residuals(dict[tuple[int, bool, str, str], np.ndarray]):
    """The normalised residual of each source mean under each residual filter, computed when a
    hypothesis first needs it (stage 1 usually stops at the plain means, so the re-weighted ones and
    the edge-preserving filter are never computed)."""

    def __init__(self, sources: dict[tuple[int, bool, str], np.ndarray]) -> None:
        super().__init__()
        self.sources = sources

    def __missing__(self, key: tuple[int, bool, str, str]) -> np.ndarray:
        fine = key[0] * SAMPLES_PER_CELL
        img = _downsample(self.sources[key[:3]], fine)
        self[key] = value = _normalise(_edge_residual(img) if key[3] == "edge" else _highpass(img))
        return value


class _SceneSources(dict[tuple[int, bool, str], np.ndarray]):
    """The reader's source means, plus the scene model's residuals (static and registered, every grid
    reads the same full-resolution pair), computed once when a "scene" hypothesis first asks."""

    def __init__(self, sources: dict[tuple[int, bool, str], np.ndarray], means: Means) -> None:
        super().__init__(sources)
        self.means = means
        self.scene: tuple[np.ndarray, np.ndarray] | None = None

    def __missing__(self, key: tuple[int, bool, str]) -> np.ndarray:
        luma, positions = self.means.luma, self.means.positions
        if key[2] != "scene" or luma is None or positions is None:
            raise KeyError(key)
        if self.scene is None:
            h, w = luma[0].shape
            self.scene = scene.scene_residuals(luma, positions * np.array([w, h], np.float64) / MOTION_SIDE)
        return self.scene[int(key[1])]


def _scene_applies(means: Means, config: WatermarkConfig) -> bool:
    """Whether stage 1 reads the scene model: moving, small enough to have been kept, mostly saturated."""
    return (config.scene_model and means.luma is not None and means.positions is not None
            and scene.in_range_fraction(means.luma) <= config.scene_max_in_range)


def _edge_residual(img: np.ndarray) -> np.ndarray:
    """What an edge-preserving smoothing (bilateral filter: 5 samples across, about one cell, and 5
    luma levels, about 2.5× the mark's RMS) takes away: the mark and fine low-contrast texture, without
    the scene's edges, which the linear high-pass keeps at full strength.

    A nearly still scene stays whole in every mean, and its edges then outweigh a mark the codec has
    thinned. Measured on the benchmark's carphone (352×288, a handheld car interior) at CRF 28, four
    keys and payloads: the linear high-pass reads 1 of 4, this filter on the per-type means 4 of 4
    (p = 2e-8 to 2e-18). It depends on the content only, so the false-positive bound holds; its M
    counts these reads.
    """
    img = np.asarray(img, np.float32)
    return np.asarray(img - cv2.bilateralFilter(img, 5, 5.0, 5.0), np.float32)


def read(frames: Iterable[np.ndarray], key: bytes, config: WatermarkConfig = DEFAULT_CONFIG,
         picture_types: Sequence[str] | None = None, search: bool = True) -> Reading:
    """Extract with internals; `extract` is the API. `frames`: RGB (H, W, 3) or luma (H, W) uint8,
    read once, one at a time (a decoder's stream: memory does not grow with the clip). `picture_types`
    (one letter per frame, as `Video.picture_types`; a list the decoder fills while `frames` is read
    will do) lets stage 1 also read the means per picture type, combined. `search=False`
    reads stage 1 only (the unattacked geometry; the embedder's trial, whose transforms keep it)."""
    check_key(key)
    layouts = [layout(key, g, config.data_fraction, config.density) for g in config.grids]
    pass_ = _read_means(frames, max(lay.fine for lay in layouts), config.follow_motion, config.min_motion,
                        picture_types, layouts if config.weigh_frames else (),
                        config.scene_max_samples if config.scene_model else 0)
    registered, count = pass_.registered, pass_.count
    means = {False: pass_.static} if registered is None else {False: pass_.static, True: registered}
    # Stage 1 reads the plain means and, where the codec may have kept the mark unevenly over frames,
    # the same means re-weighted: per picture type (when known) and per frame, by the sync cells.
    sources = {(lay.grid, reg, "none"): m for lay in layouts for reg, m in means.items()}
    for lay in layouts:
        for reg in means:
            weighted = {"types": _weighted_by_type(pass_, lay, reg), "frames": pass_.by_sync.get((lay.grid, reg)),
                        "cancel": _host_cancelling(pass_, lay) if reg and config.cancel_host else None}
            sources.update({(lay.grid, reg, how): m for how, m in weighted.items() if m is not None})
    residuals = _Residuals(_SceneSources(sources, pass_))
    # Stage 1, the unattacked geometry of each grid (and, for a moving scene, of the registered
    # frames): codecs, scaling, colour and time edits keep it, and the full search costs ~250 FFTs.
    # Stage 2, the crop/scale/flip search (and translations of the registered mean), only when
    # stage 1 finds nothing. Each stage's p-values count every hypothesis that stage may try.
    filters = ("highpass", "edge") if config.edge_residual else ("highpass",)
    queue = [Hypothesis(g, False, g * SAMPLES_PER_CELL, 0, 0, float("nan"), registered=reg, weighting=how,
                        residual=filt)
             for filt in filters for g, reg, how in sources]
    if _scene_applies(pass_, config):
        # Last: the model costs seconds, and only mostly black-and-white clips get here.
        queue += [Hypothesis(lay.grid, False, lay.fine, 0, 0, float("nan"), registered=reg, weighting="scene",
                             residual=filt)
                  for filt in filters for lay in layouts for reg in (False, True)]
    stage_hypotheses = len(queue)
    searched = False
    best: tuple[float, WatermarkResult, np.ndarray] | None = None
    by_grid = {lay.grid: lay for lay in layouts}
    while queue:
        hyp = queue.pop(0)
        lay = by_grid[hyp.grid]
        soft = _soft_bits(_place(residuals[hyp.grid, hyp.registered, hyp.weighting, hyp.residual], hyp, lay.fine), lay)
        bits = (soft > 0).astype(np.uint8) ^ lay.scramble
        decoded, p = _decode(soft, lay, stage_hypotheses)
        geometry = {"grid": hyp.grid, "flip": hyp.flip, "scale": round(hyp.size / lay.fine, 4),
                    "x": round(hyp.x / lay.fine, 4), "y": round(hyp.y / lay.fine, 4),
                    "sync_z": None if np.isnan(hyp.z) else round(hyp.z, 2), "registered": hyp.registered,
                    "weighting": hyp.weighting, "residual": hyp.residual}
        found = p < config.p_threshold
        sent = _sent_signs(lay, decoded.payload)
        conf = float(np.sum(soft * sent) / max(float(np.abs(soft).sum()), 1e-12))
        result = WatermarkResult(found=found, payload=decoded.payload if found else None,
                                 confidence=round(max(0.0, conf), 4) if found else 0.0, p_value=p,
                                 bit_errors=decoded.errors if found else None, frames=count, geometry=geometry)
        if best is None or p < best[0]:
            best = (p, result, bits)
        if found:
            break
        if not queue and not searched and search:
            searched = True
            stage_hypotheses = hypotheses_searched(config, registered=registered is not None)
            # The search reads the plain means only (its hypothesis count assumes so).
            plain = {(g, reg): residuals[g, reg, how, "highpass"] for g, reg, how in sources if how == "none"}
            hyps = [replace(h, registered=reg) for (g, reg), res in plain.items()
                    for h in _search(res, by_grid[g], config)]
            hyps += [h for (g, reg), res in plain.items() if reg for h in _translations(res, by_grid[g], config)]
            queue = sorted(hyps, key=lambda h: -h.z)
    assert best is not None
    return Reading(result=best[1], bits=best[2])


def extract(video: Video, key: bytes, config: WatermarkConfig = DEFAULT_CONFIG) -> WatermarkResult:
    """Read the watermark of `video` under `key`; aggregates all frames (by picture type when known)."""
    return read(video.frames, key, config, video.picture_types).result
