"""Export the STDiT network to ONNX (training side: needs torch and onnx).

    python -m generator.onnx.export [--weights generator/weights/stdit-s-64.safetensors]

writes `<name>.onnx` beside the weights and records it in the model card (`onnx:` section: file,
sha256, opset, the max abs difference to torch measured at export). The graph is the network's
`velocity(x, t, text, text_mask, pooled, geometry)`: batch, frames, height, width and the token
count are dynamic, and the grid geometry (RoPE tables, position features) is an input computed by
`generator.onnx.sampler.geometry`, so one graph serves every clip size. The weights were trained
and published in float16; they are stored in float16 in the graph too (with a Cast to float32,
which is exact), so the file is half the size of a float32 export and computes the same.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

INPUTS = ["x", "t", "text", "text_mask", "pooled", "rope_s_cos", "rope_s_sin", "rope_t_cos", "rope_t_sin", "feats"]
OPSET = 17


def _halve_initializers(path: Path) -> int:
    """Store every float32 initializer whose values are exact in float16 as float16 + Cast."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts, kept, n = [], [], 0
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size >= 64 and np.array_equal(arr.astype(np.float16).astype(np.float32),
                                                                           arr):
            half = numpy_helper.from_array(arr.astype(np.float16), name=init.name + "__f16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
            n += 1
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return n


def export(weights: Path, out: Path | None = None) -> dict[str, Any]:
    import torch

    from generator.onnx.sampler import geometry
    from generator.registry import load_stdit, read_card

    model = load_stdit(weights).eval()
    cfg = model.config
    out = out or weights.with_suffix(".onnx")
    b, frames, size, length = 2, cfg.patch_t * 2, cfg.patch_h * 3, 7
    x = torch.randn(b, cfg.channels, frames, size, size + cfg.patch_w)
    grid = (frames // cfg.patch_t, size // cfg.patch_h, (size + cfg.patch_w) // cfg.patch_w)
    geo = tuple(torch.from_numpy(g) for g in geometry(cfg.hidden // cfg.heads, grid))
    args = (x, torch.rand(b), torch.randn(b, length, cfg.text_dim), torch.ones(b, length, dtype=torch.long),
            torch.randn(b, cfg.text_dim), geo)

    class Velocity(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: Any, t: Any, text: Any, text_mask: Any, pooled: Any, rsc: Any, rss: Any, rtc: Any,
                    rts: Any, feats: Any) -> Any:
            return self.m.velocity(x, t, text, text_mask, pooled, (rsc, rss, rtc, rts, feats))

    dyn = {"x": {0: "batch", 2: "frames", 3: "height", 4: "width"}, "t": {0: "batch"},
           "text": {0: "batch", 1: "tokens"}, "text_mask": {0: "batch", 1: "tokens"}, "pooled": {0: "batch"},
           "rope_s_cos": {0: "space"}, "rope_s_sin": {0: "space"}, "rope_t_cos": {0: "time"},
           "rope_t_sin": {0: "time"}, "feats": {0: "cells"},
           "velocity": {0: "batch", 2: "frames", 3: "height", 4: "width"}}
    with torch.no_grad():
        torch.onnx.export(Velocity(model), (*args[:5], *args[5]), str(out), input_names=INPUTS,
                          output_names=["velocity"], dynamic_axes=dyn, opset_version=OPSET, dynamo=False)
    halved = _halve_initializers(out)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    from generator.hashing import sha256_file
    from generator.text_encoder import ONNX_INT8

    card = read_card(weights) or {}
    entry = {"file": out.name, "sha256": sha, "opset": OPSET, "exported_from": card.get("sha256"),
             "float16_initializers": halved, "bytes": out.stat().st_size,
             "text_encoder": "safety/moderation/weights/" + ONNX_INT8.name + " (int8, read to its last hidden layer)",
             "text_encoder_sha256": sha256_file(ONNX_INT8)}
    return entry


def write_card_entry(weights: Path, entry: dict[str, Any]) -> None:
    from generator.registry import card_path

    path = card_path(weights)
    text = path.read_text()
    if "\nonnx:" in text:
        text = text[:text.index("\nonnx:") + 1]
    text = text.rstrip("\n") + "\n" + yaml.safe_dump({"onnx": entry}, sort_keys=False)
    path.write_text(text)


def main() -> None:
    from generator.registry import default_weights

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=default_weights())
    ap.add_argument("--no-card", action="store_true", help="do not write the card's onnx section")
    args = ap.parse_args()
    entry = export(args.weights)
    if not args.no_card:
        write_card_entry(args.weights, entry)
    print(yaml.safe_dump({"onnx": entry}, sort_keys=False), end="")


if __name__ == "__main__":
    main()
