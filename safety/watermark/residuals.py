"""Residual filters: what is left of a mean frame once the host's low frequencies (or edges) are removed."""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np


def downsample(img: np.ndarray, side: int) -> np.ndarray:
    if img.shape[0] == side:
        return img
    return np.asarray(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA), np.float32)


HIGHPASS_SIGMA = 1.5
"""Gaussian σ (in samples, 4 per cell) of the low frequencies `highpass` removes."""
LEVEL_SIGMA = 6.0
"""Gaussian σ (samples) over which `normalise` measures the local residual level …"""
LEVEL_FLOOR = 0.5
"""… plus this floor, so flat areas are not amplified into noise."""
BILATERAL_DIAMETER = 5
"""The edge-preserving filter's neighbourhood: 5 samples, about one cell …"""
BILATERAL_SIGMA = 5.0
"""… and its range σ in luma levels, about 2.5× the mark's RMS."""


def highpass(img: np.ndarray) -> np.ndarray:
    """Remove the host's low frequencies; the mark lives at the cell scale (4 samples)."""
    img = np.asarray(img, np.float32)
    return np.asarray(img - cv2.GaussianBlur(img, (0, 0), HIGHPASS_SIGMA), np.float32)


def normalise(residual: np.ndarray) -> np.ndarray:
    """Divide by the local residual level so strong edges do not outvote the mark."""
    level = cv2.GaussianBlur(np.abs(residual), (0, 0), LEVEL_SIGMA)
    return np.asarray(residual / (level + LEVEL_FLOOR), np.float32)


def edge_residual(img: np.ndarray) -> np.ndarray:
    """What an edge-preserving smoothing (bilateral filter: 5 samples across, about one cell, and 5
    luma levels, about 2.5× the mark's RMS) takes away: the mark and fine low-contrast texture, without
    the scene's edges, which the linear high-pass keeps at full strength.

    A nearly still scene stays whole in every mean, and its edges then outweigh a mark the codec has
    thinned; this residual leaves them out. It depends on the content only, so the false-positive
    bound holds; its M counts these reads.
    """
    img = np.asarray(img, np.float32)
    return np.asarray(img - cv2.bilateralFilter(img, BILATERAL_DIAMETER, BILATERAL_SIGMA, BILATERAL_SIGMA), np.float32)


class Residual(StrEnum):
    """The residual filter a read applies to its mean frame."""

    HIGHPASS = "highpass"
    """`highpass`: linear, the host's low frequencies removed."""
    EDGE = "edge"
    """`edge_residual`: what an edge-preserving smoothing takes away."""


def residual(img: np.ndarray, kind: Residual) -> np.ndarray:
    """The normalised residual of `img` under filter `kind`."""
    return normalise(edge_residual(img) if kind is Residual.EDGE else highpass(img))
