"""A sub-pixel model of a still scene seen through a panning camera: the host without the mark.

When every frame is the same scene under a different sub-pixel translation, the frames together
determine that scene more finely than any one of them: each frame is a bilinear sampling of it at
its own offset, so the scene is the least-squares solution of "sample the scene at each frame's
offset and get the frame" over all frames (multi-frame super-resolution). Predicting each frame from
that scene and subtracting leaves what the scene does not explain, which is what was added to the
frames in their own coordinates (our static mark) or, accumulated back in the scene's coordinates,
what moves with the scene (the camera-following mark, less well: the scene model absorbs part of it).

The reader uses it on mostly saturated pictures (a black-and-white silhouette, text on white), where
a contrast increase clips the mark off every pure black and white pixel and leaves it only on the
anti-aliased edges. There the edge itself is a 255-level step that every linear or edge-preserving
residual keeps as host, and a frame-to-frame prediction by interpolation misses it by more than the
mark. The model below, with the registration refined against it, fits the edges to sub-pixel
accuracy, so its residual keeps the mark.

Only pixels away from black and white take part (`LOW` < luma < `HIGH`): clipped samples say nothing
about the scene, and a threshold wider than the mark keeps the selection independent of it. The
result depends on the content alone, never on the key, so the reader's false-positive bound holds
with these reads counted in its M.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

LOW, HIGH = 8.0, 247.0
"""Luma range whose samples constrain the scene (a mark of a few levels on 0 or 255 stays outside)."""


def _warp(img: np.ndarray, dx: float, dy: float, size: tuple[int, int]) -> np.ndarray:
    """`img` sampled at (x + dx, y + dy) for every pixel of a `size` (w, h) output (bilinear, zeros outside)."""
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]], np.float32)
    return np.asarray(cv2.warpAffine(img, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_CONSTANT), np.float32)


def _conjugate_gradient(apply: Callable[[np.ndarray], np.ndarray], b: np.ndarray, x: np.ndarray,
                        iterations: int) -> np.ndarray:
    """Approximate solution of apply(x) = b for a symmetric positive semi-definite `apply`."""
    r = b - apply(x)
    p = r.copy()
    rr = float(np.vdot(r, r))
    for _ in range(iterations):
        if rr <= 1e-12 * max(float(np.vdot(b, b)), 1e-30):
            break
        ap = apply(p)
        alpha = rr / max(float(np.vdot(p, ap)), 1e-30)
        x = x + np.float32(alpha) * p
        r = r - np.float32(alpha) * ap
        rr_new = float(np.vdot(r, r))
        p = r + np.float32(rr_new / rr) * p
        rr = rr_new
    return x


def scene_residuals(luma: Sequence[np.ndarray], shifts: np.ndarray, rounds: int = 3, iterations: int = 25,
                    smoothness: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(static, registered) mean residual of the in-range samples against the scene model.

    `luma`: the frames' luma (h, w), any dtype; `shifts`: (T, 2) where the scene has moved to in each
    frame relative to the first, in pixels (as the reader's motion tracker estimates it). The static
    residual is in frame coordinates, the registered one in the first frame's scene coordinates; both
    are 0 where no in-range sample fell. `rounds` alternations refine each frame's shift against the
    model (the tracker's 0.13 px RMS error on horse becomes 0.03 px); `smoothness` weighs a Laplacian
    penalty that fills scene pixels no in-range sample constrains.
    """
    frames = [np.asarray(f, np.float32) for f in luma]
    h, w = frames[0].shape
    weights = [((f > LOW) & (f < HIGH)).astype(np.float32) for f in frames]
    shifts = np.asarray(shifts, np.float64)
    margin = 2.0
    # Scene canvas covering every frame: frame pixel x sits at x + offset − shift_t on it.
    offset = shifts.max(axis=0) + margin
    size = (int(np.ceil(w + np.ptp(shifts[:, 0]) + 2 * margin)), int(np.ceil(h + np.ptp(shifts[:, 1]) + 2 * margin)))
    at = offset[None, :] - shifts  # (T, 2): where each frame's origin lies on the canvas

    def forward(scene: np.ndarray, t: int) -> np.ndarray:
        return _warp(scene, float(at[t, 0]), float(at[t, 1]), (w, h))

    def adjoint(img: np.ndarray, t: int) -> np.ndarray:
        return _warp(img, -float(at[t, 0]), -float(at[t, 1]), size)

    def normal(scene: np.ndarray) -> np.ndarray:
        out = np.zeros_like(scene)
        for t in range(len(frames)):
            out += adjoint(weights[t] * forward(scene, t), t)
        return np.asarray(out - np.float32(smoothness) * cv2.Laplacian(scene, cv2.CV_32F), np.float32)

    scene = np.zeros((size[1], size[0]), np.float32)
    for round_ in range(rounds + 1):
        rhs = np.zeros_like(scene)
        for t in range(len(frames)):
            rhs += adjoint(weights[t] * frames[t], t)
        scene = _conjugate_gradient(normal, rhs, scene, iterations)
        if round_ == rounds:
            break
        # Gauss–Newton step on each frame's shift: the frame moves with the scene's gradient.
        gx = cv2.Sobel(scene, cv2.CV_32F, 1, 0, ksize=1) * np.float32(0.5)
        gy = cv2.Sobel(scene, cv2.CV_32F, 0, 1, ksize=1) * np.float32(0.5)
        for t in range(len(frames)):
            r = (frames[t] - forward(scene, t)) * weights[t]
            jx, jy = forward(gx, t) * weights[t], forward(gy, t) * weights[t]
            gram = np.array([[np.vdot(jx, jx), np.vdot(jx, jy)], [np.vdot(jx, jy), np.vdot(jy, jy)]], np.float64)
            step = np.linalg.solve(gram + 1e-3 * np.eye(2), [np.vdot(jx, r), np.vdot(jy, r)])
            at[t] += np.clip(step, -0.5, 0.5)
    static, count = np.zeros((h, w), np.float64), np.zeros((h, w), np.float64)
    registered, reg_count = np.zeros((h, w), np.float64), np.zeros((h, w), np.float64)
    first = at[0]
    for t in range(len(frames)):
        residual = (frames[t] - forward(scene, t)) * weights[t]
        static += residual
        count += weights[t]
        # Back to the first frame's scene coordinates: the frame sits at at[t] − at[0] relative to it.
        dx, dy = float(at[t, 0] - first[0]), float(at[t, 1] - first[1])
        registered += _warp(residual, -dx, -dy, (w, h))
        reg_count += _warp(weights[t], -dx, -dy, (w, h))
    return ((static / np.maximum(count, 1.0)).astype(np.float32),
            (registered / np.maximum(reg_count, 1.0)).astype(np.float32))


def in_range_fraction(luma: Sequence[np.ndarray]) -> float:
    """Share of samples strictly between `LOW` and `HIGH` (a few frames suffice)."""
    step = max(1, len(luma) // 8)
    picked = [np.asarray(f) for f in luma[::step]]
    return float(np.mean([np.mean((f > LOW) & (f < HIGH)) for f in picked]))
