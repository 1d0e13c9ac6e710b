"""Publish a training run's EMA weights as the committed default: weights file + model card.

    python -m generator.stdit.publish --run runs/stdit-s-64 --eval runs/stdit-s-64/eval.json

Writes generator/weights/<name>.safetensors (fp16 EMA weights; config in the metadata) and
<name>.card.yaml (id, version, full sha256, config, data recipe, steps, wall time, metrics), which
`generator.registry` checks on every load.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from generator.registry import WEIGHTS_DIR, card_path
from generator.stdit import data
from generator.stdit.checkpoint import export_weights, load_weights
from generator.stdit.sampler import SamplerConfig
from generator.stdit.sampler import add_arguments as sampler_options

DATA_RECIPE = (
    f"Procedural video world (generator/stdit/data.py), rendered on the fly and deterministic by seed: "
    f"{len(data.SHAPES)} shapes ({', '.join(data.SHAPES)}), {len(data.COLOURS)} colours "
    f"({', '.join(data.COLOURS)}), {len(data.SIZES)} sizes, {len(data.BACKGROUNDS)} flat backgrounds, "
    f"{len(data.MOTIONS)} motions ({', '.join(data.MOTIONS)}); one object, or two with p=0.15; captions "
    "in varied wording. One (colour, shape, motion) triple in eight is held out of training for "
    "evaluation. No real images or videos, no people."
)


TARGETS = {"colour": 0.80, "shape": 0.60, "motion": 0.80}


def objective(tc: dict[str, Any]) -> str:
    """One line for the card: the loss and the training-time mix of a recipe."""
    text = ("rectified flow; the head predicts x0, the loss is on the derived velocity; logit-normal times "
            f"(mean {tc.get('t_mean', 0.0)}, std {tc.get('t_std', 1.0)}), {tc.get('t_one', 0.0):.0%} of them at t = 1, "
            f"{tc.get('t_high', 0.0):.0%} with 1 - t log-uniform in [1e-4, 1e-1], {tc.get('t_top', 0.0):.0%} uniform "
            "in [0.97, 1]")
    if tc.get("layout_aux"):
        text += (f"; plus {tc['layout_aux']} x the layout readout's loss (its coarse clip from the caption alone "
                 "against the clip's token means)")
        if tc.get("layout_pretrain_steps"):
            text += f", the readout fitted alone for {tc['layout_pretrain_steps']} steps first"
    if tc.get("shape_swap"):
        lo, hi = tc.get("shape_swap_band", (0.6, 1.0))
        text += (f"; {tc['shape_swap']:.0%} of the captioned clips noised (t uniform in [{lo}, {hi}]) from the same "
                 "scene drawn with other shapes, the target still the true clip (shape-swap corruption)")
    return text


def publish(run: Path, eval_json: Path | None, name: str, version: str, sampler: dict[str, Any],
            notes: list[str] | None = None) -> Path:
    model, meta = load_weights(run / "ema.safetensors", None)
    weights = WEIGHTS_DIR / f"{name}.safetensors"
    info = {"step": meta["step"], "wall_seconds": meta["wall_seconds"], "train_config": meta["train_config"]}
    sha = export_weights(weights, model, info)
    metrics: dict[str, Any] = {}
    evaluation: dict[str, Any] = {}
    if eval_json is not None:
        evaluation = json.loads(eval_json.read_text())
        metrics = {f"{k}_adherence": round(evaluation["ours"][k], 4) for k in ("colour", "shape", "motion")}
        metrics.update({k: round(evaluation["ours"][k], 4) for k in ("frame_diff_mae", "object_persistence")})
    tc = meta["train_config"]
    card = {
        "id": f"sealframe/{name}",
        "version": version,
        "weights": weights.name,
        "sha256": sha,
        "format": "safetensors, float16 EMA weights",
        "license": "Apache-2.0",
        "intended_use": "Demonstration and tests of the SealFrame safety pipeline; draws coloured shapes only.",
        "architecture": model.config.to_dict(),
        "params": sum(p.numel() for p in model.parameters()),
        "text_encoder": "sentence-transformers/all-MiniLM-L6-v2 (frozen, offline)",
        "objective": objective(tc),
        "training_data": DATA_RECIPE,
        "training": {"config": meta["train_config"], "steps": meta["step"],
                     "clips_seen": meta["step"] * meta["train_config"]["batch_size"],
                     "wall_minutes": round(meta["wall_seconds"] / 60, 1),
                     "hardware": f"2 CPU cores ({'bf16 autocast' if tc.get('amp') else 'fp32'}), no GPU"},
        "sampler": sampler,
        "metrics": metrics,
        "targets": {f"{k}_adherence": {"target": v, "met": bool(metrics.get(f"{k}_adherence", 0) >= v)}
                    for k, v in TARGETS.items()},
        "notes": notes or [],
        "evaluation": evaluation,
    }
    path = card_path(weights)
    path.write_text(yaml.safe_dump(card, sort_keys=False, width=100))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--eval", type=Path, default=None)
    ap.add_argument("--name", default="stdit-s-64")
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--guidance", type=float, default=4.0)
    sampler_options(ap)
    ap.add_argument("--note", action="append", default=[], help="a line for the card's notes (repeatable)")
    args = ap.parse_args()
    path = publish(args.run, args.eval, args.name, args.version,
                   {"guidance": args.guidance, **SamplerConfig.from_args(args).to_card()},
                   args.note)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
