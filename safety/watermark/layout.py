"""The keyed layout of one grid: which cell carries which code bit or sync, with which chip."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from safety.errors import WatermarkError
from safety.watermark import codec
from safety.watermark.config import DEFAULT_CONFIG, LAYOUT_VERSION, WatermarkConfig
from safety.watermark.keys import check_key, keyed_rng
from safety.watermark.residuals import highpass

ALGORITHM = f"io.sealframe.video-watermark.{LAYOUT_VERSION}"


SAMPLES_PER_CELL = 4


SYNC, INACTIVE = -1, -2


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
def layout(key: bytes, grid: int, data_fraction: float = DEFAULT_CONFIG.data_fraction) -> Layout:
    """The keyed layout of a grid×grid grid: every cell is active (INACTIVE is never drawn now)."""
    check_key(key)
    g2 = grid * grid
    n = codec.code_bits()
    active = g2
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
    template = highpass(cv2.resize(sync, (fine, fine), interpolation=cv2.INTER_LINEAR))
    return Layout(grid=grid, chips=chips, bit_of_cell=bit_of_cell, scramble=scramble, sync_template=template)


def sent_signs(lay: Layout, payload: bytes) -> np.ndarray:
    """±1 per code bit as it is written into the cells (after scrambling)."""
    return np.asarray(2.0 * (codec.encode(payload) ^ lay.scramble).astype(np.float32) - 1.0, np.float32)


def grid_pattern(lay: Layout, payload: bytes, bit_gain: np.ndarray | None = None) -> np.ndarray:
    sent = sent_signs(lay, payload) * (1.0 if bit_gain is None else bit_gain)
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


_K1 = np.array([0.625, 0.875, 0.875, 0.625], np.float32)


_CELL_KERNEL = np.outer(_K1, _K1)


def soft_bits(canvas: np.ndarray, lay: Layout) -> np.ndarray:
    g, s = lay.grid, SAMPLES_PER_CELL
    cells = (canvas.reshape(g, s, g, s) * _CELL_KERNEL[None, :, None, :]).sum(axis=(1, 3)).ravel()
    data = lay.bit_of_cell >= 0
    weights = (lay.chips * cells)[data]
    return np.bincount(lay.bit_of_cell[data], weights=weights, minlength=codec.code_bits()).astype(np.float32)
