"""Safetensors checkpoints (training state, resumable) and exported weights (EMA only, sha256-checked).

Never pickle: optimiser moments are stored as plain tensors keyed by parameter name, and every
non-tensor fact (configs, step, wall time) goes into the safetensors metadata as JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from generator.hashing import sha256_file
from generator.stdit.model import STDiT, STDiTConfig


def _atomic_save(tensors: dict[str, torch.Tensor], meta: dict[str, str], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)  # a crash mid-write never leaves a torn checkpoint behind


def save_training_state(path: str | Path, model: STDiT, ema: STDiT, opt: torch.optim.Optimizer,
                        meta: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    names = {p: n for n, p in model.named_parameters()}
    for n, t in model.state_dict().items():
        tensors[f"model.{n}"] = t
    for n, t in ema.state_dict().items():
        tensors[f"ema.{n}"] = t
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                tensors[f"opt.{names[p]}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    _atomic_save(tensors, {"sealframe": json.dumps(meta)}, Path(path))


def load_training_state(path: str | Path, model: STDiT, ema: STDiT, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, EMA and optimiser in place; returns the metadata (step, wall time, configs)."""
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["sealframe"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    params = dict(model.named_parameters())
    for key, v in tensors.items():
        if key.startswith("opt."):
            name, _, field = key[4:].rpartition(".")
            opt.state[params[name]][field] = v
    return meta


def export_weights(path: str | Path, ema: STDiT, meta: dict[str, Any], dtype: torch.dtype = torch.float16) -> str:
    """Write the EMA weights (half precision by default) with the config in metadata; returns sha256."""
    tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in ema.state_dict().items()}
    info = {"model_config": ema.config.to_dict(), **meta}
    _atomic_save(tensors, {"sealframe": json.dumps(info)}, Path(path))
    return sha256_file(path)


class WeightsHashMismatch(ValueError):
    """The weights file is not the one its card names."""


def load_weights(path: str | Path, sha256: str | None,
                 device: str | torch.device = "cpu") -> tuple[STDiT, dict[str, Any]]:
    """Build the model from the file's own config after checking its sha256 (None skips the check)."""
    path = Path(path)
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256.lower():
            raise WeightsHashMismatch(f"{path.name}: sha256 {actual} does not match the expected {sha256}")
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["sealframe"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    model = STDiT(STDiTConfig(**meta["model_config"]))
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    return model.to(device).eval(), meta
