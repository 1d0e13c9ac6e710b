"""Export a trained detector to ONNX: input `frames` (B, T, 3, H, W) float in [0, 1], output `score` (B,).

Batch, frame count and frame size are dynamic axes, so the runtime can batch windows of several
uploads into one call. Calibration is inside the graph: `score` is the calibrated probability.

    python -m detector.export --weights runs/detector/model.safetensors --out detector/weights/x.onnx
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from detector.model import CalibratedDetector, DetectorConfig, SyntheticVideoDetector
from generator.hashing import sha256_file

OPSET = 17




def save_model(model: SyntheticVideoDetector, path: str | Path, meta: dict[str, Any] | None = None) -> str:
    """Weights + config (safetensors metadata, never pickle); returns the file's sha256."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    info = {"config": model.config.to_dict(), **(meta or {})}
    tmp = p.with_suffix(p.suffix + ".tmp")
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(tmp), metadata={"sealframe_detector": json.dumps(info)})
    os.replace(tmp, p)
    return sha256_file(p)


def load_model(path: str | Path) -> tuple[SyntheticVideoDetector, dict[str, Any]]:
    """Rebuild the detector from the file's own config (random backbone init, then the file's weights)."""
    with safe_open(str(path), framework="pt") as f:
        meta: dict[str, Any] = json.loads(f.metadata()["sealframe_detector"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    model = SyntheticVideoDetector(DetectorConfig.from_dict(meta["config"]))
    model.load_state_dict(tensors)
    return model.eval(), meta


def export_onnx(model: SyntheticVideoDetector, path: str | Path, frames: int | None = None,
                size: int | None = None) -> str:
    """Write the calibrated model as ONNX with dynamic batch/T/H/W; returns the file's sha256."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    t, s = frames or cfg.frames, size or cfg.size
    wrapper = CalibratedDetector(model).eval()
    example = torch.rand(2, t, 3, s, s)
    tmp = p.with_suffix(".tmp.onnx")
    # The TorchScript exporter: deterministic, no extra dependency, and handles our plain ops.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    # nn.MultiheadAttention's fused eval fast path has no ONNX symbolic; the plain path has.
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        _export(wrapper, example, tmp)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    os.replace(tmp, p)
    return sha256_file(p)


def _export(wrapper: torch.nn.Module, example: torch.Tensor, tmp: Path) -> None:
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        # The tracer's warnings concern shape-dependent Python branches in torch's own MHA checks.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (example,),
            str(tmp),
            input_names=["frames"],
            output_names=["score"],
            dynamic_axes={"frames": {0: "batch", 1: "time", 3: "height", 4: "width"}, "score": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="detector safetensors written by detector.train")
    ap.add_argument("--out", required=True, help="ONNX file to write")
    args = ap.parse_args(argv)
    model, _ = load_model(args.weights)
    digest = export_onnx(model, args.out)
    print(f"wrote {args.out} sha256={digest} ({Path(args.out).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
