"""The reader: stage 1 (the unattacked geometry, every source and residual), stage 2 (the search),
soft bits, BCH decoding and the p-value gate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, field_serializer

from safety.media import Video
from safety.watermark import codec, scene
from safety.watermark.accumulation import MOTION_SIDE, Means, Source, host_cancelling, read_means, weighted_by_type
from safety.watermark.config import DEFAULT_CONFIG, WatermarkConfig
from safety.watermark.keys import check_key
from safety.watermark.layout import ALGORITHM, SAMPLES_PER_CELL, Layout, layout, sent_signs, soft_bits
from safety.watermark.residuals import Residual, downsample, residual
from safety.watermark.search import Hypothesis, hypotheses_searched, place, search_crops, search_translations


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


@dataclass(frozen=True)
class Reading:
    """The reader's internals for one clip (the benchmark reads raw code bits from here)."""

    result: WatermarkResult
    bits: np.ndarray  # code bits read at the best hypothesis, before the BCH decoder
    tried: tuple[Hypothesis, ...] = ()
    """Every hypothesis decoded, in order (stage 1's have no sync z)."""
    counted: tuple[int, int] = (0, 0)
    """The M each stage's p-values were multiplied by (stage 2: 0 when it did not run)."""


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


@dataclass(frozen=True)
class Read:
    """One stage-1 read: a grid's unattacked geometry on one source mean under one residual filter."""

    grid: int
    registered: bool
    source: Source
    residual: Residual


class StageOne:
    """Stage 1's inputs and its explicit list of reads, in the order they are tried.

    The source means come from the one pass over the frames (`Means`); each read's residual is
    computed when that read is reached (stage 1 usually stops at the first, plain read, so the
    re-weighted means, the edge-preserving filter and the scene model are rarely computed).
    """

    def __init__(self, means: Means, layouts: Sequence[Layout], config: WatermarkConfig) -> None:
        self.means = means
        frames = {False: means.static} if means.registered is None else {False: means.static, True: means.registered}
        # The plain means and, where the codec may have kept the mark unevenly over frames, the same
        # means re-weighted: per picture type (when known), per frame by the sync cells, and (moving
        # scene) combined to cancel the scene.
        self.sources: dict[tuple[int, bool, Source], np.ndarray] = {
            (lay.grid, reg, Source.PLAIN): m for lay in layouts for reg, m in frames.items()}
        for lay in layouts:
            for reg in frames:
                weighted = {Source.BY_TYPE: weighted_by_type(means, lay, reg),
                            Source.BY_FRAME: means.by_sync.get((lay.grid, reg)),
                            Source.CANCEL: host_cancelling(means, lay) if reg and config.cancel_host else None}
                self.sources.update({(lay.grid, reg, src): m for src, m in weighted.items() if m is not None})
        filters = (Residual.HIGHPASS, Residual.EDGE) if config.edge_residual else (Residual.HIGHPASS,)
        self.reads = [Read(g, reg, src, filt) for filt in filters for g, reg, src in self.sources]
        if _scene_applies(means, config):
            # Last: the model costs seconds, and only mostly black-and-white clips get here.
            self.reads += [Read(lay.grid, reg, Source.SCENE, filt) for filt in filters for lay in layouts
                           for reg in (False, True)]
        self._scene: tuple[np.ndarray, np.ndarray] | None = None
        self._residuals: dict[Read, np.ndarray] = {}

    def mean(self, grid: int, registered: bool, source: Source) -> np.ndarray:
        """The source mean a read looks at (the scene model's residual, computed once, for SCENE)."""
        if source is not Source.SCENE:
            return self.sources[grid, registered, source]
        if self._scene is None:
            luma, positions = self.means.luma, self.means.positions
            assert luma is not None and positions is not None  # `_scene_applies` checked
            h, w = luma[0].shape
            self._scene = scene.scene_residuals(luma, positions * np.array([w, h], np.float64) / MOTION_SIDE)
        return self._scene[int(registered)]

    def residual(self, r: Read) -> np.ndarray:
        """The normalised residual of a read, at its grid's resolution."""
        if r not in self._residuals:
            img = downsample(self.mean(r.grid, r.registered, r.source), r.grid * SAMPLES_PER_CELL)
            self._residuals[r] = residual(img, r.residual)
        return self._residuals[r]


def _scene_applies(means: Means, config: WatermarkConfig) -> bool:
    """Whether stage 1 reads the scene model: moving, small enough to have been kept, mostly saturated."""
    return (config.scene_model and means.luma is not None and means.positions is not None
            and scene.in_range_fraction(means.luma) <= config.scene_max_in_range)


def read(frames: Iterable[np.ndarray], key: bytes, config: WatermarkConfig = DEFAULT_CONFIG,
         picture_types: Sequence[str] | None = None, search: bool = True) -> Reading:
    """Extract with internals; `extract` is the API. `frames`: RGB (H, W, 3) or luma (H, W) uint8,
    read once, one at a time (a decoder's stream: memory does not grow with the clip). `picture_types`
    (one letter per frame, as `Video.picture_types`; a list the decoder fills while `frames` is read
    will do) lets stage 1 also read the means per picture type, combined. `search=False`
    reads stage 1 only (the unattacked geometry; the embedder's trial, whose transforms keep it).

    Stage 1 tries `StageOne.reads` at the unattacked geometry of each grid (and, for a moving scene,
    of the registered frames): codecs, scaling, colour and time edits keep it. Stage 2, the
    crop/scale/flip search on the plain means (and translations of the registered mean), runs only
    when stage 1 finds nothing. Each stage's p-values count every hypothesis that stage may try
    (stage 1: its reads; stage 2: `hypotheses_searched`).
    """
    check_key(key)
    layouts = [layout(key, g, config.data_fraction) for g in config.grids]
    means = read_means(frames, max(lay.fine for lay in layouts), config.follow_motion, config.min_motion,
                       picture_types, layouts if config.weigh_frames else (),
                       config.scene_max_samples if config.scene_model else 0)
    stage1 = StageOne(means, layouts, config)
    by_grid = {lay.grid: lay for lay in layouts}
    tried: list[Hypothesis] = []
    counted = [len(stage1.reads), 0]
    best: tuple[float, WatermarkResult, np.ndarray] | None = None

    def attempt(hyp: Hypothesis, res: np.ndarray, hypotheses: int) -> bool:
        nonlocal best
        lay = by_grid[hyp.grid]
        soft = soft_bits(place(res, hyp, lay.fine), lay)
        decoded, p = _decode(soft, lay, hypotheses)
        tried.append(hyp)
        found = p < config.p_threshold
        sent = sent_signs(lay, decoded.payload)
        conf = float(np.sum(soft * sent) / max(float(np.abs(soft).sum()), 1e-12))
        result = WatermarkResult(found=found, payload=decoded.payload if found else None,
                                 confidence=round(max(0.0, conf), 4) if found else 0.0, p_value=p,
                                 bit_errors=decoded.errors if found else None, frames=means.count,
                                 geometry=_geometry(hyp, lay))
        if best is None or p < best[0]:
            best = (p, result, (soft > 0).astype(np.uint8) ^ lay.scramble)
        return found

    found = False
    for r in stage1.reads:
        hyp = Hypothesis(r.grid, False, r.grid * SAMPLES_PER_CELL, 0, 0, float("nan"), registered=r.registered,
                         source=r.source, residual=r.residual)
        if found := attempt(hyp, stage1.residual(r), counted[0]):
            break
    if not found and search:
        counted[1] = hypotheses_searched(config, registered=means.registered is not None)
        # The search reads the plain means only (its hypothesis count assumes so).
        plain = {(g, reg): stage1.residual(Read(g, reg, Source.PLAIN, Residual.HIGHPASS))
                 for g, reg, src in stage1.sources if src is Source.PLAIN}
        hyps = [replace(h, registered=reg) for (g, reg), res in plain.items()
                for h in search_crops(res, by_grid[g], config)]
        hyps += [h for (g, reg), res in plain.items() if reg for h in search_translations(res, by_grid[g], config)]
        for hyp in sorted(hyps, key=lambda h: -h.z):
            if attempt(hyp, plain[hyp.grid, hyp.registered], counted[1]):
                break
    assert best is not None
    return Reading(result=best[1], bits=best[2], tried=tuple(tried), counted=(counted[0], counted[1]))


def _geometry(hyp: Hypothesis, lay: Layout) -> dict[str, Any]:
    return {"grid": hyp.grid, "flip": hyp.flip, "scale": round(hyp.size / lay.fine, 4),
            "x": round(hyp.x / lay.fine, 4), "y": round(hyp.y / lay.fine, 4),
            "sync_z": None if np.isnan(hyp.z) else round(hyp.z, 2), "registered": hyp.registered,
            "weighting": hyp.source.value, "residual": hyp.residual.value}


def extract(video: Video, key: bytes, config: WatermarkConfig = DEFAULT_CONFIG) -> WatermarkResult:
    """Read the watermark of `video` under `key`; aggregates all frames (by picture type when known)."""
    return read(video.frames, key, config, video.picture_types).result
