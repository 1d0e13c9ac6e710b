"""Sync search: the crop/scale/flip and translation hypotheses, and how many the false-positive bound counts."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from safety.watermark.accumulation import Source
from safety.watermark.config import DEFAULT_CONFIG, WatermarkConfig
from safety.watermark.layout import SAMPLES_PER_CELL, Layout
from safety.watermark.residuals import Residual, downsample


@dataclass(frozen=True)
class Hypothesis:
    grid: int
    flip: bool
    size: int  # side, in fine samples, of the received frame mapped onto the original grid
    x: int
    y: int
    z: float  # sync correlation peak in standard deviations (nan: not searched)
    registered: bool = False  # read from the frames registered on the first (a camera-following mark)
    source: Source = Source.PLAIN
    """Which mean is read (stage 1 reads every source; the search only the plain means)."""
    residual: Residual = Residual.HIGHPASS
    """Which residual filter (stage 1 reads both; the search only the linear high-pass)."""


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


def in_counted_space(h: Hypothesis, config: WatermarkConfig = DEFAULT_CONFIG) -> bool:
    """Whether a stage-2 hypothesis is one of those `hypotheses_searched` counts: a grid of the config,
    the plain high-pass mean, a window size between the largest crop and none with its window inside
    the frame, or (registered) an unflipped full-size translation of at most `max_crop`."""
    if h.grid not in config.grids or h.source is not Source.PLAIN or h.residual is not Residual.HIGHPASS:
        return False
    fine = h.grid * SAMPLES_PER_CELL
    if _smallest(fine, config) <= h.size <= fine and 0 <= h.x <= fine - h.size and 0 <= h.y <= fine - h.size:
        return True
    limit = _max_shift(fine, config)
    return h.registered and not h.flip and h.size == fine and abs(h.x) <= limit and abs(h.y) <= limit


SEARCH_SIDE = 256
"""The crop/scale search runs at this resolution at most, then refines at full resolution."""


def search_crops(residual: np.ndarray, lay: Layout, config: WatermarkConfig) -> list[Hypothesis]:
    """The best sync hypotheses over flip × scale × offset (FFT correlation with the sync cells).

    Coarse: every window size (crop 0–30 % in `scale_step`) and offset at ≤ 256², by FFT.
    Fine: the best few, ± one coarse sample in size and offset, by direct correlation at full size.
    """
    fine = lay.fine
    coarse = min(fine, SEARCH_SIDE)
    f = fine // coarse
    spectrum = np.fft.rfft2(downsample(lay.sync_template, coarse))
    found: list[Hypothesis] = []
    for flip in (False, True):
        img = downsample(residual[:, ::-1] if flip else residual, coarse)
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


def search_translations(residual: np.ndarray, lay: Layout, config: WatermarkConfig) -> list[Hypothesis]:
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


def place(residual: np.ndarray, hyp: Hypothesis, fine: int) -> np.ndarray:
    img = residual[:, ::-1] if hyp.flip else residual
    if hyp.size != fine:
        img = cv2.resize(img, (hyp.size, hyp.size), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((fine, fine), np.float32)
    x0, y0 = max(0, hyp.x), max(0, hyp.y)
    x1, y1 = min(fine, hyp.x + hyp.size), min(fine, hyp.y + hyp.size)
    if x1 > x0 and y1 > y0:  # a translated window may hang over the edge of the original frame
        canvas[y0:y1, x0:x1] = img[y0 - hyp.y : y1 - hyp.y, x0 - hyp.x : x1 - hyp.x]
    return canvas
