"""Keyed, error-corrected invisible video watermark: `embed` and `extract` (the package's front door).

What it guarantees
- `embed` returns a clip whose every frame carries the same keyed ±1 cell pattern (a still scene
  does not flicker), added to luma only, shaped by texture and luminance masking, on a grid that
  is normalised to the frame, so rescaling does not move it. The grid has 128×128 cells when the
  frame gives each cell ≥ 3.5 px, else 64×64. On small frames whose camera moves, the pattern may
  instead be fixed to the scene (it moves with the global translation, which H.264's motion
  compensation then carries); a codec round trip decides. It then reads the mark back from the
  frames it produced and raises `WatermarkError` when the clip is too small, flat, dark or
  saturated to carry it: it never returns an unmarked clip.
- `extract` reports `found` only when the weighted false-positive bound of `codec`, times every
  hypothesis of its stage and times the two stages, is below `p_threshold` (1e-6).

Where things live (each module's docstring says more)
- `config`: `WatermarkConfig`, the parameters (layout, embedding policy, reader options).
- `layout`: the keyed layout of a grid (data and sync cells, chips, scrambling) and soft bits.
- `residuals`: the high-pass and edge-preserving residuals and the local normalisation.
- `accumulation`: the one streaming pass over the frames (means, registration, re-weighted means).
- `search`: the crop/scale/flip and translation search and its hypothesis count (the bound's M).
- `reader`: stage 1 and stage 2, decoding and the p-value gate (`read`, `extract`).
- `embedding`: `embed`, the codec trial, masking, rate control, informed embedding, streaming passes.
- `stream`: files: streaming `embed_file`, luma `extract_file`, verification's `extract_sampled`.
- `codec` (BCH and soft decoding, the bound), `scene` (sub-pixel scene model), `keys`, `transcode`.
"""

from safety.watermark.config import DEFAULT_CONFIG, WatermarkConfig
from safety.watermark.embedding import Frames, FrameWriter, TooFlatError, embed, embed_frames
from safety.watermark.layout import ALGORITHM, Layout, grid_candidates, grid_for, layout
from safety.watermark.reader import Reading, WatermarkResult, extract, read
from safety.watermark.search import hypotheses_searched

__all__ = [
    "ALGORITHM",
    "DEFAULT_CONFIG",
    "FrameWriter",
    "Frames",
    "Layout",
    "Reading",
    "TooFlatError",
    "WatermarkConfig",
    "WatermarkResult",
    "embed",
    "embed_frames",
    "extract",
    "grid_candidates",
    "grid_for",
    "hypotheses_searched",
    "layout",
    "read",
]
