"""An analytic prompt-adherence checker for the video world: what colour, shape and motion a clip shows.

It reads pixels only (no learned model), so it can score any clip — generated, rendered or random:
the background is the median border colour; the object is every pixel far from it; its colour is
the nearest palette colour to the median object pixel; its shape is the best IoU against rendered
templates (matched in area and centroid, searched over rotation); its motion comes from tracking
the centroid and area over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from generator.stdit.data import COLOURS, SHAPES, TRANSLATIONS, shape_mask

_PALETTE = np.array(list(COLOURS.values()), np.float32)
_NAMES = list(COLOURS)
_SYMMETRY = {"circle": 360, "square": 90, "triangle": 120, "star": 72}
_DIRECTIONS = {name: np.arctan2(-dy, dx) for name, (dx, dy) in TRANSLATIONS.items()}  # y up for angles


@dataclass(frozen=True)
class ClipReading:
    """What the checker sees in a clip (None where no object is visible)."""

    colour: str | None
    shape: str | None
    motion: str | None
    visible_frames: float  # fraction of frames with an object
    displacement: tuple[float, float]  # centroid travel, fraction of the frame (x right, y down)
    area_ratio: float  # last / first object area


def foreground(frames: np.ndarray, threshold: float = 70.0) -> tuple[np.ndarray, np.ndarray]:
    """(masks T×H×W bool, background RGB): pixels farther than `threshold` from the border median."""
    f = frames.astype(np.float32)
    border = np.concatenate([f[:, 0].reshape(-1, 3), f[:, -1].reshape(-1, 3),
                             f[:, :, 0].reshape(-1, 3), f[:, :, -1].reshape(-1, 3)])
    bg = np.median(border, axis=0)
    return np.linalg.norm(f - bg, axis=-1) > threshold, bg


def nearest_colour(rgb: np.ndarray) -> str:
    return _NAMES[int(np.argmin(np.linalg.norm(_PALETTE - rgb, axis=1)))]


@lru_cache(maxsize=8)
def _unit_geometry(shape: str) -> tuple[float, float, float]:
    """(area, centroid x, centroid y) of the unit-size shape, measured on a fine grid."""
    g = np.linspace(-1.5, 1.5, 601)
    x, y = np.meshgrid(g, g)
    m = shape_mask(shape, x, y)
    cell = (g[1] - g[0]) ** 2
    return float(m.sum() * cell), float(x[m].mean()), float(y[m].mean())


def classify_shape(mask: np.ndarray) -> tuple[str | None, float]:
    """Best-matching shape class for one frame's object mask, and its IoU."""
    area = int(mask.sum())
    if area < 12:
        return None, 0.0
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean() + 0.5, xs.mean() + 0.5
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    best, best_iou = None, -1.0
    for shape in SHAPES:
        unit_area, ux, uy = _unit_geometry(shape)
        half = np.sqrt(area / unit_area)
        for deg in range(0, _SYMMETRY[shape], 6 if shape != "circle" else 360):
            a = np.deg2rad(deg)
            c, s = np.cos(a), np.sin(a)
            # Place the template so that its (rotated) centroid lands on the observed centroid.
            ox, oy = c * ux - s * uy, s * ux + c * uy
            lx, ly = (gx - cx) / half + ox, (gy - cy) / half + oy
            tmpl = shape_mask(shape, c * lx + s * ly, -s * lx + c * ly)
            iou = (tmpl & mask).sum() / max(1, (tmpl | mask).sum())
            if iou > best_iou:
                best, best_iou = shape, float(iou)
    return best, best_iou


def classify_motion(centroids: np.ndarray, areas: np.ndarray, masks: np.ndarray) -> tuple[str, tuple[float, float]]:
    """Motion label from centroid (T×2, fractions of the frame) and area tracks."""
    k = max(1, len(centroids) // 8)
    start, end = centroids[:k].mean(0), centroids[-k:].mean(0)
    dx, dy = float(end[0] - start[0]), float(end[1] - start[1])
    ratio = float(areas[-k:].mean() / max(1.0, areas[:k].mean()))
    if ratio > 1.6:
        return "growing", (dx, dy)
    if ratio < 1 / 1.6:
        return "shrinking", (dx, dy)
    if np.hypot(dx, dy) > 0.15:
        ang = np.arctan2(-dy, dx)
        diff = {n: abs(np.angle(np.exp(1j * (ang - a)))) for n, a in _DIRECTIONS.items()}
        return min(diff, key=lambda n: diff[n]), (dx, dy)
    if float(centroids[:, 1].max() - centroids[:, 1].min()) > 0.12:
        return "bouncing", (dx, dy)
    mid = masks[len(masks) // 2]
    iou = (masks[0] & mid).sum() / max(1, (masks[0] | mid).sum())
    return ("rotating" if iou < 0.85 else "still"), (dx, dy)


def read_clip(frames: np.ndarray) -> ClipReading:
    """Colour, shape and motion of the main (only) object in uint8 frames T×H×W×3."""
    masks, _ = foreground(frames)
    t, h, w = masks.shape
    areas = masks.reshape(t, -1).sum(1).astype(np.float32)
    visible = areas >= 12
    if visible.sum() < max(2, t // 2):
        return ClipReading(None, None, None, float(visible.mean()), (0.0, 0.0), 0.0)
    pixels = frames[masks]
    colour = nearest_colour(np.median(pixels.astype(np.float32), axis=0))
    idx = np.nonzero(visible)[0]
    votes: dict[str, float] = {}
    for i in idx[np.linspace(0, len(idx) - 1, min(4, len(idx))).astype(int)]:
        shape, iou = classify_shape(masks[i])
        if shape is not None:
            votes[shape] = votes.get(shape, 0.0) + iou
    shape_label = max(votes, key=lambda s: votes[s]) if votes else None
    ys, xs = np.mgrid[0:h, 0:w]
    cents = np.array([[(xs * m).sum() / max(1, m.sum()) / w, (ys * m).sum() / max(1, m.sum()) / h]
                      for m in masks[idx]])
    motion, disp = classify_motion(cents, areas[idx], masks[idx])
    return ClipReading(colour, shape_label, motion, float(visible.mean()), disp,
                       float(areas[idx[-1]] / max(1.0, areas[idx[0]])))


def frame_consistency(frames: np.ndarray) -> dict[str, float]:
    """Frame-to-frame consistency: mean |Δ| between consecutive frames (0–255) and object persistence
    (fraction of frames whose object area is within 2× of the clip's median)."""
    f = frames.astype(np.float32)
    diff = float(np.abs(np.diff(f, axis=0)).mean()) if len(f) > 1 else 0.0
    masks, _ = foreground(frames)
    areas = masks.reshape(len(masks), -1).sum(1).astype(np.float32)
    med = float(np.median(areas))
    persist = float(((areas > med / 2) & (areas < med * 2)).mean()) if med > 0 else 0.0
    return {"frame_diff_mae": diff, "object_persistence": persist}
