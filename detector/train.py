"""Train the synthetic-video detector, calibrate it, export ONNX and write its model card.

    python -m detector.train --recipe                       # the built-in small-data recipe
    python -m detector.train --real DIR --synthetic DIR     # your corpus (GenVideo-style folders)

Data are split by source (a real clip, a photo, a synthetic generator family lies wholly in one
split); both classes pass through the same platform chain (resize, crop, H.264 at a random CRF),
see `detector.data`. Training keeps the best validation AUC (early stopping), fits Platt scaling
on the validation split, picks the operating threshold at 5 % validation FPR, exports ONNX and
evaluates the held-out test uploads with the ONNX runtime. Checkpoints are resumable
(safetensors, never pickle): rerun the same command to continue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from detector import data as D
from detector.export import export_onnx, save_model, sha256_file
from detector.metrics import auc, summary, threshold_at_fpr
from detector.model import DETECTOR_CONFIGS, SyntheticVideoDetector, build_detector, count_parameters


@dataclass
class TrainConfig:
    model: str = "sealframe-det-t"
    batch_size: int = 16
    lr: float = 6e-4
    weight_decay: float = 0.05
    max_steps: int = 3000
    max_minutes: float = 30.0
    eval_every: int = 50
    patience: int = 8  # evaluations without a better validation AUC
    checkpoint_minutes: float = 3.0
    threads: int = 2
    seed: int = 0
    fpr_target: float = 0.05


def train_step(model: SyntheticVideoDetector, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """One optimiser step of binary cross-entropy; returns the loss before the step."""
    model.train()
    loss = F.binary_cross_entropy_with_logits(model(x), y.float())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss.detach())


def to_tensor(x: np.ndarray) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) → float (B, T, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 1, 4, 2, 3).float().div_(255.0)


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cheap per-batch augmentations on top of the offline platform chain: flips, time reversal."""
    x = x.copy()
    for i in range(len(x)):
        if rng.random() < 0.5:
            x[i] = x[i][:, :, ::-1]
        if rng.random() < 0.2:
            x[i] = x[i][::-1]
    return x


@torch.inference_mode()
def logits_of(model: SyntheticVideoDetector, x: np.ndarray, batch: int = 32) -> np.ndarray:
    model.eval()
    return np.concatenate([model(to_tensor(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: (a, b) minimising the log loss of sigmoid(a·logit + b) on validation data."""
    z = torch.tensor(logits, dtype=torch.float64)
    t = torch.tensor(y, dtype=torch.float64)
    ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=0.5, max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * z + ab[1], t) + 1e-4 * ab[0] ** 2
        loss.backward()
        return loss

    opt.step(closure)
    a, b = (float(v) for v in ab.detach())
    if not np.isfinite(a) or a <= 0:  # a degenerate fit must not flip the score's direction
        a, b = 1.0, 0.0
    return a, b


# --------------------------------------------------------------------------------------------
# Resumable state (safetensors)


def save_state(path: Path, model: SyntheticVideoDetector, best: dict[str, torch.Tensor] | None,
               opt: torch.optim.Optimizer, meta: dict[str, Any]) -> None:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if best is not None:
        tensors.update({f"best.{k}": v for k, v in best.items()})
    names = {p: n for n, p in model.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                tensors[f"opt.{names[p]}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp),
              metadata={"meta": json.dumps(meta)})
    os.replace(tmp, path)


def load_state(path: Path, model: SyntheticVideoDetector,
               opt: torch.optim.Optimizer) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["meta"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
    params = dict(model.named_parameters())
    for key, v in tensors.items():
        if key.startswith("opt."):
            name, _, field = key[4:].rpartition(".")
            opt.state[params[name]][field] = v
    return meta, best


# --------------------------------------------------------------------------------------------


def load_split(folder: Path, split: str) -> dict[str, np.ndarray]:
    with np.load(folder / f"{split}.npz") as z:
        return {k: z[k] for k in z.files}


def balanced_batch(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    pos, neg = np.nonzero(y == 1)[0], np.nonzero(y == 0)[0]
    return np.r_[rng.choice(pos, n // 2), rng.choice(neg, n - n // 2)]


def train(data_dir: Path, out: Path, cfg: TrainConfig, log: Any = print) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    tr, va = load_split(data_dir, D.TRAIN), load_split(data_dir, D.VAL)
    fams = {k: sorted(map(str, set(v["family"]))) for k, v in (("train", tr), ("val", va))}
    log(f"train {len(tr['y'])} windows ({int(tr['y'].sum())} synthetic), val {len(va['y'])} "
        f"({int(va['y'].sum())} synthetic); families {fams}")
    model = build_detector(cfg.model)
    log(f"{cfg.model}: {count_parameters(model) / 1e6:.2f} M parameters")
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / "state.safetensors"
    step, wall, best_auc, bad_evals, history = 0, 0.0, -1.0, 0, []
    best: dict[str, torch.Tensor] | None = None
    if state_path.exists():
        meta, best = load_state(state_path, model, opt)
        step, wall, best_auc, bad_evals, history = (meta["step"], meta["wall"], meta["best_auc"],
                                                    meta["bad_evals"], meta["history"])
        rng = np.random.default_rng(cfg.seed + step)
        log(f"resumed at step {step} ({wall / 60:.1f} min, best val AUC {best_auc:.4f})")
    t_start, t_ckpt = time.time() - wall, time.time()
    losses: list[float] = []
    stopped = "max_steps"
    while step < cfg.max_steps:
        if (time.time() - t_start) / 60 > cfg.max_minutes:
            stopped = "max_minutes"
            break
        if bad_evals >= cfg.patience:
            stopped = "early_stopping"
            break
        lr = cfg.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + np.cos(np.pi * step / cfg.max_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = balanced_batch(tr["y"], cfg.batch_size, rng)
        losses.append(train_step(model, opt, to_tensor(augment(tr["x"][idx], rng)), torch.from_numpy(tr["y"][idx])))
        step += 1
        if step % cfg.eval_every == 0:
            val_auc = auc(va["y"], logits_of(model, va["x"]))
            improved = val_auc > best_auc
            if improved:
                best_auc, bad_evals = val_auc, 0
                best = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_evals += 1
            history.append({"step": step, "loss": round(float(np.mean(losses)), 4), "val_auc": round(val_auc, 4),
                            "minutes": round((time.time() - t_start) / 60, 2)})
            log(json.dumps(history[-1]) + (" *" if improved else ""))
            losses = []
        if time.time() - t_ckpt > cfg.checkpoint_minutes * 60:
            save_state(state_path, model, best, opt, {"step": step, "wall": time.time() - t_start, "best_auc": best_auc,
                                                      "bad_evals": bad_evals, "history": history})
            t_ckpt = time.time()
    wall = time.time() - t_start
    save_state(state_path, model, best, opt, {"step": step, "wall": wall, "best_auc": best_auc,
                                              "bad_evals": bad_evals, "history": history})
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    # Calibration and operating threshold on the validation split.
    val_logits = logits_of(model, va["x"])
    a, b = fit_platt(val_logits, va["y"])
    model.calib_a.fill_(a)
    model.calib_b.fill_(b)
    val_p = 1 / (1 + np.exp(-(a * val_logits + b)))
    threshold = threshold_at_fpr(val_p[va["y"] == 0], cfg.fpr_target)
    val_metrics = summary(va["y"], val_p, threshold)
    log(f"stopped ({stopped}) at step {step} after {wall / 60:.1f} min; calibration a={a:.3f} b={b:.3f}; "
        f"threshold {threshold:.4f}; val {val_metrics}")
    weights_sha = save_model(model, out / "model.safetensors", {"step": step})
    return {"step": step, "minutes": round(wall / 60, 1), "stopped": stopped, "best_val_auc": round(best_auc, 4),
            "calibration": {"a": round(a, 6), "b": round(b, 6)}, "threshold": threshold, "val": val_metrics,
            "history": history, "torch_weights_sha256": weights_sha, "model": model}


def finalize(data_dir: Path, out: Path, cfg: TrainConfig) -> dict[str, Any]:
    """The result of a finished run, rebuilt from its saved model and training state."""
    from detector.export import load_model

    model, _ = load_model(out / "model.safetensors")
    with safe_open(str(out / "state.safetensors"), framework="pt") as f:
        meta = json.loads(f.metadata()["meta"])
    va = load_split(data_dir, D.VAL)
    a, b = float(model.calib_a), float(model.calib_b)
    val_p = 1 / (1 + np.exp(-(a * logits_of(model, va["x"]) + b)))
    threshold = threshold_at_fpr(val_p[va["y"] == 0], cfg.fpr_target)
    stopped = "early_stopping" if meta["bad_evals"] >= cfg.patience else (
        "max_steps" if meta["step"] >= cfg.max_steps else "max_minutes")
    return {"step": meta["step"], "minutes": round(meta["wall"] / 60, 1), "stopped": stopped,
            "best_val_auc": round(meta["best_auc"], 4), "calibration": {"a": round(a, 6), "b": round(b, 6)},
            "threshold": threshold, "val": summary(va["y"], val_p, threshold), "history": meta["history"],
            "model": model}


def write_card(out: Path, name: str, onnx_file: str, result: dict[str, Any], test: dict[str, Any] | None,
               data_note: dict[str, Any], cfg: TrainConfig) -> Path:
    import yaml

    model: SyntheticVideoDetector = result["model"]
    mc = model.config
    card = {
        "name": name,
        "version": 1,
        "file": onnx_file,
        "sha256": sha256_file(out / onnx_file),
        "format": "ONNX (opset 17), input `frames` float32 (B, T, 3, H, W) in [0, 1], output `score` (B,)",
        "threshold": round(float(result["threshold"]), 6),
        "threshold_rule": f"{cfg.fpr_target:.0%} false-positive rate on the validation windows",
        "sampling": {"frames": mc.frames, "size": mc.size, "stride": 1, "max_windows": 4, "max_read": 128},
        "architecture": {"config": mc.to_dict(), "parameters": count_parameters(model)},
        "calibration": {"method": "Platt scaling on validation windows", **result["calibration"]},
        "training": {k: result[k] for k in ("step", "minutes", "stopped", "best_val_auc")}
        | {"config": asdict(cfg), "load_note": data_note.get("load_note", "")},
        "data": data_note,
        "metrics": {"validation_windows": result["val"], "test": test},
        "licence": "Apache-2.0 (weights and code); training media keep their own licences (see data.sources)",
        "intended_use": (
            "One signal among several when verifying an upload that carries no content credentials and no "
            "watermark. Not a verdict on its own: a score says how much the clip resembles the synthetic "
            "families it was trained on."
        ),
        "limitations": (
            "SMALL-DATA DEFAULT. Trained on a few hundred windows cut from ~13 registry-packaged camera clips "
            "and ~20 animated photographs against procedural and random-weight VAE-decoder clips, at 96×96. "
            "It has never seen a real text-to-video model's output; expect it to fail on modern generators. "
            "Train on a real corpus before relying on it: `python -m detector.train --real REAL_DIR "
            "--synthetic FAKE_DIR` with GenVideo-style folders (FAKE_DIR/<generator>/*.mp4)."
        ),
    }
    path = out / "card.yaml"
    path.write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(card_markdown(card), encoding="utf-8")
    return path


def card_markdown(card: dict[str, Any]) -> str:
    """The same card for people: facts first, then the figures as tables."""
    lines = [f"# {card['name']} — synthetic-video detector", "", f"**{card['limitations']}**", "",
             f"- weights: `{card['file']}` ({card['format']})", f"- sha256: `{card['sha256']}`",
             f"- threshold: {card['threshold']} ({card['threshold_rule']})",
             f"- parameters: {card['architecture']['parameters']:,}", f"- licence: {card['licence']}",
             f"- intended use: {card['intended_use']}",
             f"- training: {card['training']['step']} steps, {card['training']['minutes']} min, "
             f"stopped by {card['training']['stopped']}, best validation AUC {card['training']['best_val_auc']}", ""]
    test = (card.get("metrics") or {}).get("test")
    if test:
        lines += ["## Held-out test uploads (every synthetic family unseen in training)", "",
                  "| condition | family | real | synthetic | AUC | AP | accuracy | TPR@1%FPR | TPR@5%FPR |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for cond in ("clean", "crf28_half"):
            rows = [("all", test[cond]["all"]), *test[cond]["families"].items()]
            for name, m in rows:
                lines.append(f"| {cond} | {name} | {m['n_real']} | {m['n_synthetic']} | {m['auc']} | {m['ap']} | "
                             f"{m['accuracy']} | {m['tpr_at_1pct_fpr']} | {m['tpr_at_5pct_fpr']} |")
        lines.append("")
    lines += ["## Data", "", "```yaml", yaml_dump(card.get("data")), "```", ""]
    return "\n".join(lines)


def yaml_dump(obj: Any) -> str:
    import yaml

    return str(yaml.safe_dump(obj, sort_keys=False, allow_unicode=True, width=110)).rstrip()


def folders_to_recipe(real: Path, synthetic: Path, out: Path, frames: int, size: int, seed: int) -> dict[str, int]:
    """GenVideo-style folders → the same split layout as the recipe.

    Real clips are split by clip (70/15/15 by a stable hash); synthetic clips by generator
    sub-folder: the alphabetically last generator is held out for the test split entirely, the
    one before it is validation (with one generator, clips are split by hash instead).
    """
    import hashlib

    rng = np.random.default_rng(seed)
    items = list(D.load_folder(real, 0, frames, 8, rng)) + list(D.load_folder(synthetic, 1, frames, 8, rng))
    gens = sorted({it.source for it in items if it.label == 1})

    def bucket(s: str) -> str:
        h = int(hashlib.sha256(s.encode()).hexdigest()[:8], 16) % 100
        return D.TRAIN if h < 70 else (D.VAL if h < 85 else D.TEST)

    for it in items:
        if it.label == 1 and len(gens) >= 3:
            split = D.TEST if it.source == gens[-1] else (D.VAL if it.source == gens[-2] else D.TRAIN)
        else:
            split = bucket(it.source)
        it.source = f"{split}:{it.source}"
    D.REAL_SPLIT.clear()
    D.SYNTH_SPLIT.clear()
    for it in items:
        D.SYNTH_SPLIT[it.source] = it.source.split(":", 1)[0]
    return D.write_splits(items, out, frames, size, rng, train_variants=2)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, help="folder of real videos")
    ap.add_argument("--synthetic", type=Path, help="folder of synthetic videos, one sub-folder per generator")
    ap.add_argument("--recipe", action="store_true", help="use (and build if missing) the built-in data recipe")
    ap.add_argument("--data", type=Path, default=Path("runs/detector/recipe"), help="prepared split folder")
    ap.add_argument("--out", type=Path, default=Path("runs/detector/train"))
    ap.add_argument("--name", default="sealframe-det-t")
    ap.add_argument("--install", action="store_true", help="copy the ONNX file and card into detector/weights/")
    ap.add_argument("--finalize", action="store_true",
                    help="skip training: calibrate, export, evaluate and write the card from --out's saved model")
    for f, v in asdict(TrainConfig()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    args = ap.parse_args(argv)
    cfg = TrainConfig(**{f: getattr(args, f) for f in asdict(TrainConfig())})
    mc = DETECTOR_CONFIGS[cfg.model]
    if args.real or args.synthetic:
        if not (args.real and args.synthetic):
            ap.error("--real and --synthetic go together")
        counts = folders_to_recipe(args.real, args.synthetic, args.data, mc.frames, mc.size, cfg.seed)
        print(f"prepared {args.data}: {counts}")
    elif not (args.data / "train.npz").exists():
        if not args.recipe:
            ap.error(f"no prepared data in {args.data}: pass --recipe or --real/--synthetic")
        print(D.build_recipe(args.data, mc.frames, mc.size, cfg.seed))

    def log(msg: str) -> None:
        print(msg, flush=True)

    result = finalize(args.data, args.out, cfg) if args.finalize else train(args.data, args.out, cfg, log)
    onnx_file = f"{args.name}.onnx"
    export_onnx(result["model"], args.out / onnx_file)
    data_note: dict[str, Any] = {"recipe": "built-in (detector.data)" if not args.real else
                                 f"folders real={args.real} synthetic={args.synthetic}", **D.describe(args.data)}
    card = write_card(args.out, args.name, onnx_file, result, None, data_note, cfg)
    # Evaluate the exported graph on the held-out uploads, then record the figures in the card.
    from detector.evaluate import evaluate_folder

    test = evaluate_folder(args.data / "test", card)
    card = write_card(args.out, args.name, onnx_file, result, test, data_note, cfg)
    print(json.dumps(test, indent=2))
    if args.install:
        dest = Path(__file__).parent / "weights"
        for old in dest.glob("*.onnx"):
            old.unlink()
        shutil.copyfile(args.out / onnx_file, dest / onnx_file)
        shutil.copyfile(card, dest / "card.yaml")
        print(f"installed {dest / onnx_file} and {dest / 'card.yaml'}", file=sys.stderr)


if __name__ == "__main__":
    main()
