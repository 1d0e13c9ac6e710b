"""Pick a generator by name: `load_generator(spec)`, spec from the argument or `$SEALFRAME_GENERATOR`.

    (unset), "stdit", "builtin"        the committed STDiT network as ONNX (generator/weights/*.onnx), run by
                                       onnxruntime and sampled in numpy: no torch (generator/onnx/)
    "stdit-torch"                      the same weights through torch (extra [train]; the reference path)
    "stdit:/path/file.onnx"            another exported network (its `<name>.card.yaml` beside it)
    "stdit:/path/file.safetensors"     other STDiT weights through torch (checked against the card beside them)
    "wan:/dir", "ltx:/dir", "cogvideox:/dir"   a diffusers pipeline from a local folder (extra [diffusers])

Weights are registered with their hash, as open_clip's pretrained table does: the card names the
file and its full sha256, and loading refuses a file that does not match.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from generator.base import ModelCard, VideoGenerator
from safety.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = "stdit-s-64"
DIFFUSERS_KINDS = ("wan", "ltx", "cogvideox")


def default_weights() -> Path:
    return WEIGHTS_DIR / f"{DEFAULT_MODEL}.safetensors"


def card_path(weights: Path) -> Path:
    return weights.with_name(weights.name.removesuffix(".safetensors").removesuffix(".onnx") + ".card.yaml")


def read_card(weights: Path) -> dict[str, Any] | None:
    p = card_path(weights)
    if not p.is_file():
        return None
    data = yaml.safe_load(p.read_text())
    if not isinstance(data, dict) or "sha256" not in data:
        raise ModelError(f"{p}: a model card must be a mapping with a sha256")
    return data


def load_stdit(weights: Path, sha256: str | None = None, device: str = "cpu") -> Any:
    """The STDiT network from `weights`, checked against `sha256` or the card beside the file."""
    from generator.stdit.checkpoint import WeightsHashMismatch, load_weights

    weights = Path(weights)
    if not weights.is_file():
        raise ModelError(f"generator weights not found: {weights}")
    if sha256 is None:
        card = read_card(weights)
        sha256 = card["sha256"] if card else None
        if sha256 is None and weights.resolve().parent == WEIGHTS_DIR:
            raise ModelError(f"{weights.name} has no model card with a sha256; refusing to load it")
    try:
        model, _ = load_weights(weights, sha256, device)
    except WeightsHashMismatch as exc:
        raise ModelError(str(exc)) from None
    return model


def _card_for(weights: Path, sha256: str) -> ModelCard:
    card = read_card(weights) or {}
    metrics = {k: float(v) for k, v in (card.get("metrics") or {}).items() if isinstance(v, int | float)}
    return ModelCard(id=str(card.get("id", weights.stem)), version=str(card.get("version", "0")),
                     weights_sha256=sha256, training_data=str(card.get("training_data", "unknown")),
                     license=str(card.get("license", "Apache-2.0")),
                     intended_use=str(card.get("intended_use", "")), metrics=metrics)


def _need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModelError("this generator runs on torch: pip install -e '.[train]' (the default generator "
                         "needs no torch)") from None


def load_builtin(weights: Path | None = None, device: str = "cpu") -> VideoGenerator:
    _need_torch()
    from generator.stdit.checkpoint import sha256_file
    from generator.stdit.pipeline import STDiTGenerator
    from generator.stdit.sampler import SamplerConfig

    path = Path(weights) if weights else default_weights()
    model = load_stdit(path, device=device)
    card = read_card(path) or {}
    sampler = SamplerConfig.from_card(card.get("sampler") or {})
    return STDiTGenerator(model, _card_for(path, sha256_file(path)), sampler=sampler)


def load_onnx(graph: Path | None = None, threads: int = 0) -> VideoGenerator:
    """The built-in generator on onnxruntime: the graph checked against its card's `onnx.sha256`, the
    int8 MiniLM graph against `onnx.text_encoder_sha256`."""
    from generator.hashing import sha256_file
    from generator.onnx.sampler import OnnxSTDiT, OnnxSTDiTGenerator, TextCondition
    from generator.stdit.sampler import SamplerConfig
    from generator.text_encoder import ONNX_INT8, onnx_token_states

    path = Path(graph) if graph else WEIGHTS_DIR / f"{DEFAULT_MODEL}.onnx"
    if not path.is_file():
        raise ModelError(f"generator graph not found: {path}")
    card = read_card(path) or {}
    entry = card.get("onnx") or {}
    actual = sha256_file(path)
    if entry.get("sha256") != actual and (entry or path.resolve().parent == WEIGHTS_DIR):
        want = str(entry.get("sha256"))[:16]
        raise ModelError(f"{path.name}: sha256 {actual[:16]}… does not match its card ({want}…)")
    if "architecture" not in card:
        raise ModelError(f"{path.name}: its card has no architecture section")
    net = OnnxSTDiT(path, card["architecture"], threads=threads)
    text_sha = entry.get("text_encoder_sha256")

    def encode(texts: list[str]) -> TextCondition:
        states, mask = onnx_token_states(texts, ONNX_INT8, text_sha)
        return TextCondition.from_states(states, mask)

    sampler = SamplerConfig.from_card(card.get("sampler") or {})
    model_card = _card_for(path, actual)
    return OnnxSTDiTGenerator(net, encode, model_card, sampler=sampler)


def load_generator(spec: str | None = None, device: str = "cpu") -> VideoGenerator:
    """The generator named by `spec` (or `$SEALFRAME_GENERATOR`; the built-in one when both are unset)."""
    spec = spec if spec is not None else os.environ.get("SEALFRAME_GENERATOR", "")
    kind, _, where = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("", "stdit", "builtin"):
        if not where or where.endswith(".onnx"):
            return load_onnx(Path(where) if where else None)
        return load_builtin(Path(where), device)
    if kind == "stdit-torch":
        return load_builtin(Path(where) if where else None, device)
    if kind in DIFFUSERS_KINDS:
        if not where:
            raise ModelError(f"{kind} needs a local weights folder: {kind}:/path/to/weights")
        _need_torch()
        from generator.diffusers_backend import DiffusersGenerator

        return DiffusersGenerator.from_local(kind, Path(where), device=device)
    known = ", ".join(("stdit", "stdit-torch", *DIFFUSERS_KINDS))
    raise ModelError(f"unknown generator {spec!r}: use one of {known} (as kind or kind:/path)")
