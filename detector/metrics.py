"""Detection metrics a platform needs: AUC and AP, and the true-positive rate at a fixed low FPR.

Label 1 is synthetic (the positive class); higher scores mean more likely synthetic.
"""

from __future__ import annotations

import numpy as np


def roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) at every distinct threshold, from (0, 0) to (1, 1); ties are one step."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    npos, nneg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return np.r_[0.0, fp / nneg], np.r_[0.0, tp / npos]


def auc(y: np.ndarray, s: np.ndarray) -> float:
    fpr, tpr = roc(y, s)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Step-wise AP (as scikit-learn's average_precision_score): Σ (R_k − R_{k−1}) P_k."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(s, dtype=np.float64), kind="mergesort")
    ss, yy = np.asarray(s, dtype=np.float64)[order], y[order]
    last = np.r_[np.nonzero(np.diff(ss))[0], len(ss) - 1]
    tp = np.cumsum(yy)[last]
    fp = np.cumsum(~yy)[last]
    if tp[-1] == 0:
        return 0.0
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def tpr_at_fpr(y: np.ndarray, s: np.ndarray, max_fpr: float) -> float:
    """The best TPR among thresholds whose FPR is ≤ `max_fpr` (no interpolation: a real threshold)."""
    fpr, tpr = roc(y, s)
    ok = fpr <= max_fpr + 1e-12
    return float(tpr[ok].max())


def threshold_at_fpr(neg_scores: np.ndarray, max_fpr: float) -> float:
    """The lowest threshold t (score ≥ t flags) with a fraction ≤ `max_fpr` of negatives at or above it."""
    neg = np.sort(np.asarray(neg_scores, dtype=np.float64))
    k = int(np.floor(max_fpr * len(neg)))  # negatives we may flag
    if k >= len(neg):
        return 0.0
    # Flag only scores strictly above the (n-k)-th smallest negative.
    return float(np.nextafter(neg[len(neg) - k - 1], np.inf))


def summary(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    y = np.asarray(y)
    s = np.asarray(s)
    return {
        "n_real": int((y == 0).sum()),
        "n_synthetic": int((y == 1).sum()),
        "auc": round(auc(y, s), 4),
        "ap": round(average_precision(y, s), 4),
        "accuracy": round(float(((s >= threshold) == (y == 1)).mean()), 4),
        "tpr_at_1pct_fpr": round(tpr_at_fpr(y, s, 0.01), 4),
        "tpr_at_5pct_fpr": round(tpr_at_fpr(y, s, 0.05), 4),
    }
