"""One streaming pass over the frames: mean luma, registration on the first frame (global motion),
per-picture-type means and the re-weighted means the reader combines (`Means`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from safety.errors import WatermarkError
from safety.watermark.config import DEFAULT_CONFIG
from safety.watermark.layout import SAMPLES_PER_CELL, Layout
from safety.watermark.residuals import downsample, highpass


class MeanLuma:
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


ACCUMULATE_SIDE = max(DEFAULT_CONFIG.grids) * SAMPLES_PER_CELL


MOTION_SIDE = 256
"""Global motion is estimated on luma resampled to this square (normalised to the frame, like the grid)."""


MIN_MATCH_RESPONSE = 0.1
"""Phase-correlation peaks weaker than this (a cut, noise) keep the last position."""
MAX_MATCH_SHIFT = MOTION_SIDE / 4
"""Matches farther than this from the key frame are not trusted."""
KEY_FRAME_RENEWAL = MOTION_SIDE / 8
"""The key frame is renewed when the scene has moved this far from it (few links, little drift)."""


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
        if response > MIN_MATCH_RESPONSE and max(abs(dx), abs(dy)) < MAX_MATCH_SHIFT:
            self._pos = self._key_pos + np.array([dx, dy])
        if np.abs(self._pos - self._key_pos).max() > KEY_FRAME_RENEWAL:
            self._key, self._key_pos = small, self._pos.copy()
        return self._pos.copy()


def global_motion(frames: Iterable[np.ndarray]) -> np.ndarray:
    """(T, 2) scene positions of each frame relative to the first, in MOTION_SIDE samples."""
    track = MotionTracker()
    return np.array([track(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)) for f in frames])


def translate(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`img` moved by (dx, dy) pixels (bilinear, reflected borders)."""
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    return np.asarray(cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT))


class Source(StrEnum):
    """Which mean frame a stage-1 read looks at (each for the static and, when the scene moves, the
    registered frames)."""

    PLAIN = "none"
    """The plain mean of all frames (the only source the search reads)."""
    BY_TYPE = "types"
    """The per-picture-type means combined by their sync cells (`weighted_by_type`)."""
    BY_FRAME = "frames"
    """Each frame weighted by its own sync correlation (`Means.by_sync`)."""
    CANCEL = "cancel"
    """Registered means combined to cancel the scene (`host_cancelling`; registered only)."""
    SCENE = "scene"
    """The residual against the sub-pixel scene model (`scene.py`; mostly black-and-white clips)."""


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


def read_means(frames: Iterable[np.ndarray], side: int, register: bool = True,
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
            reg = translate(small, *(-pos * side / MOTION_SIDE))
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
    sync cells. The weights use only the sync
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
    kernel = np.kron(highpass(tpl), np.ones((k, k), np.float32)) / (k * k)
    return np.asarray(kernel / float(np.sqrt(np.sum(tpl * tpl))), np.float32)


def weighted_by_type(means: Means, lay: Layout, registered: bool) -> np.ndarray | None:
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
        r = highpass(downsample(g, lay.fine))
        rms = float(np.sqrt(np.mean(r * r))) + 1e-6
        w = max(float(np.sum(r * tpl)) / norm / rms, 0.0) / rms
        total += np.float32(w) * g
        weight += w
    return (total / weight).astype(np.float32) if weight > 0 else None


def host_cancelling(means: Means, lay: Layout) -> np.ndarray | None:
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
    Like the other re-weighted means, the
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
    res = np.stack([highpass(downsample(g, lay.fine)).ravel() for g in groups]).astype(np.float64)
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
    means = read_means(frames, side, register=False)
    return means.static, means.count
