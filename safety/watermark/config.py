"""The watermark's parameters, in three parts.

- `LayoutParams` (versioned): where the mark is written. A mark is read only with the parameters
  it was written with; changing one needs a new `LAYOUT_VERSION` (and with it a new `ALGORITHM`).
- `EmbeddingPolicy`: how strongly and where the embedder writes, and when it refuses.
- `ReaderOptions`: what the reader tries and the false-positive gate.

`WatermarkConfig` combines the three (every field by its own name, so
`dataclasses.replace(DEFAULT_CONFIG, follow_motion=False)` works); `.layout_params`,
`.embedding_policy` and `.reader_options` give each part alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

LAYOUT_VERSION = 1
"""The version of `LayoutParams`' defaults; `layout.ALGORITHM` names it."""


@dataclass(frozen=True)
class LayoutParams:
    """Where the mark is written (versioned: `LAYOUT_VERSION`)."""

    grids: tuple[int, ...] = (128, 64)
    """Cells per side of the normalised grids, finest first."""
    data_fraction: float = 0.85
    """Share of the cells that carry code bits; the rest are sync."""


@dataclass(frozen=True)
class EmbeddingPolicy:
    """How the embedder writes the mark and when it refuses a clip (no effect on reading)."""

    min_side: int = 128
    """Frames with a side below this many pixels are refused (fail closed)."""
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
    follow_max_side: int = 480
    """… only frames whose short side is below this (larger ones keep the static mark: they survive
    the codec, and their embedding stays without trial encodes)."""
    strength: float = 1.9
    """Base amplitude in 8-bit luma levels before masking."""
    target_rms: float = 1.95
    """Luma RMS of the delivered mark that rate control gives every clip (≈ 42.3 dB PSNR): smooth clips
    are raised to it (at most `max_gain`), busy ones lowered to it."""
    max_gain: float = 3.0
    """Rate control raises a smooth clip's mark by at most this factor."""
    informed_margin: float = 0.6
    """Informed embedding lifts each bit until its read-back value (mark + host) reaches this × typical."""
    max_bit_gain: float = 2.5
    """Informed embedding lifts one code bit by at most this factor."""
    texture_ref: float = 10.0
    """Local luma std (3×3 at 128×128) at which the texture mask adds 1.0 to the floor."""
    mask_floor: float = 0.55
    """The perceptual mask's floor (in units of `strength`): flat areas get this much."""
    mask_ceil: float = 2.2
    """… and its ceiling, on busy texture."""
    headroom_floor: float = 0.25
    """Near black and white the mask fades to this fraction (the mark would clip there)."""
    flat_floor: float = 1.0
    """When a clip is too flat for `mask_floor`, the embedder retries once with this floor: flat areas
    then carry the nominal amplitude, and rate control still holds the mark's RMS."""
    saturated_retry: bool = True
    """A clip still too weak at `flat_floor` (mostly pure black or white) is tried once more without the
    fade: on a saturated pixel only the half of the mark that points into range survives the clip, so
    that retry asks for half of `min_amplitude`. Rate control holds the RMS (PSNR) as for any clip."""
    saturated_min_content: float = 0.01
    """… but only when at least this share of pixels is in range (a silhouette, text on white): on a
    uniformly black or white clip the mark would be the only structure in the picture, so it is refused."""
    min_amplitude: float = 0.7
    """Embedding fails closed when the mark read back is weaker than this fraction of nominal."""
    max_clean_errors: int = 14
    """… or when more code bits than this (half of BCH t) read wrong straight after embedding."""


@dataclass(frozen=True)
class ReaderOptions:
    """What the reader tries, and the false-positive gate (`search.hypotheses_searched` counts M)."""

    follow_motion: bool = True
    """Register the frames on the first, so a mark that follows the camera is read; the embedder
    tries such a mark on small moving clips (`follow_max_side`) only when this is on."""
    min_motion: float = 2.0
    """Global displacement (in samples of the 256² motion image) above which a clip counts as moving."""
    weigh_frames: bool = True
    """Stage 1 also reads the frames weighted by their own sync correlation (`_sync_weight`)."""
    cancel_host: bool = True
    """Stage 1 also reads, for a moving scene, the registered means combined to cancel the scene
    (`host_cancelling`)."""
    edge_residual: bool = True
    """Stage 1 also reads every source through the edge-preserving residual (`edge_residual`)."""
    scene_model: bool = True
    """Stage 1 reads last, for a moving clip that is mostly pure black and white, the residual against
    a sub-pixel model of the scene (`scene.py`): after a contrast increase the mark is left only on
    the anti-aliased edges, where every other residual keeps the edge itself."""
    scene_max_in_range: float = 0.25
    """… a clip counts as mostly black and white when at most this share of its samples is in range …"""
    scene_max_samples: int = 8_000_000
    """… and the model reads at most this many luma samples, the first frames that fit (held as uint8
    while streaming: 8 MB)."""
    max_crop: float = 0.30
    """Largest fraction of width and height the extractor assumes may have been cropped away."""
    scale_step: float = 0.005
    """Window sizes are searched in steps of this fraction of the frame."""
    candidates: int = 6
    """How many of the best sync hypotheses per grid are decoded."""
    p_threshold: float = 1e-6
    """`found` only when the p-value (bound × hypotheses × stages) is below this."""


@dataclass(frozen=True)
class WatermarkConfig(ReaderOptions, EmbeddingPolicy, LayoutParams):
    """All of the watermark's parameters (the three parts above, by field name)."""

    @property
    def layout_params(self) -> LayoutParams:
        return LayoutParams(**{f.name: getattr(self, f.name) for f in dataclasses.fields(LayoutParams)})

    @property
    def embedding_policy(self) -> EmbeddingPolicy:
        return EmbeddingPolicy(**{f.name: getattr(self, f.name) for f in dataclasses.fields(EmbeddingPolicy)})

    @property
    def reader_options(self) -> ReaderOptions:
        return ReaderOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ReaderOptions)})


DEFAULT_CONFIG = WatermarkConfig()
