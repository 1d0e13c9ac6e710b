"""Train STDiT on the procedural video world with the rectified-flow objective.

    python -m generator.stdit.train --config stdit-s-64 [--out runs/stdit-s-64] [--max-minutes 90]

Reads top to bottom: config → model, EMA and optimiser → (resume) → loop of (render a batch,
encode its captions, flow loss, step, EMA) → periodic safetensors checkpoints and a JSONL loss log.
Batches are a pure function of (config seed, step), so a resumed run sees exactly the batches the
interrupted one would have. CPU by default (bf16 autocast where the CPU has it); CUDA + bf16 when
present.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import queue
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from generator.stdit.checkpoint import export_weights, load_training_state, save_training_state
from generator.stdit.conditioning import TextCondition, encode_text, text_statistics
from generator.stdit.configs import TrainConfig, load_train_config
from generator.stdit.data import make_batch, render_batch, sample_spec, swap_shapes
from generator.stdit.flow import flow_loss
from generator.stdit.model import STDIT_CONFIGS, STDiT, count_params, token_means


def build_model(cfg: TrainConfig) -> STDiT:
    arch = copy.deepcopy(STDIT_CONFIGS[cfg.model])
    arch.frames, arch.height, arch.width = cfg.frames, cfg.size, cfg.size
    return STDiT(arch)


Batch = tuple[torch.Tensor, TextCondition, torch.Tensor | None, torch.Tensor | None]
"""Clips, captions, and the shape-swapped signals with their mask (None when the recipe swaps none)."""


def batch_for_step(cfg: TrainConfig, step: int) -> Batch:
    """The training batch of `step`: clips, captions (some dropped to "" for guidance) and, for a share
    `cfg.shape_swap` of the captioned clips, the same scene rendered with other shapes (`data.swap_shapes`)
    as the signal of their noisy input."""
    seeds = [cfg.seed * 1_000_000_007 + step * cfg.batch_size + i for i in range(cfg.batch_size)]
    specs = [sample_spec(seed, "train") for seed in seeds]
    x = render_batch(specs, cfg.frames, cfg.size)
    rng = np.random.default_rng([cfg.seed, step, 7])
    captions = ["" if rng.random() < cfg.caption_dropout else s.caption for s in specs]
    if not cfg.shape_swap:
        return torch.from_numpy(x), encode_text(captions), None, None
    swap_rng = np.random.default_rng([cfg.seed, step, 11])
    mask = (swap_rng.random(len(seeds)) < cfg.shape_swap) & np.array([c != "" for c in captions])
    signal = x.copy()
    swapped = np.flatnonzero(mask)
    if swapped.size:
        signal[swapped] = render_batch([swap_shapes(specs[i], swap_rng) for i in swapped], cfg.frames, cfg.size)
    return torch.from_numpy(x), encode_text(captions), torch.from_numpy(signal), torch.from_numpy(mask)


class Prefetcher:
    """Renders and encodes the next batches on a thread while the current step runs."""

    def __init__(self, cfg: TrainConfig, start: int, depth: int = 2) -> None:
        self.q: queue.Queue[Batch] = queue.Queue(maxsize=depth)
        self.cfg, self.next_step = cfg, start
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            self.q.put(batch_for_step(self.cfg, self.next_step))
            self.next_step += 1

    def get(self) -> Batch:
        return self.q.get()


@torch.no_grad()
def update_ema(ema: STDiT, model: STDiT, decay: float) -> None:
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(pm, 1.0 - decay)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then a cosine from lr down to lr·lr_final at max_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / max(1, cfg.warmup_steps)
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * frac)))


POSITION_PARAMS = ("pos_proj.", "pos_cond.")
"""The zero-initialised position paths: their own learning rate, and absent from older checkpoints."""
LAYOUT_PARAMS = ("layout.",)
"""The caption-by-place readout (its map into the conditioning starts at zero): its own learning rate,
absent from older checkpoints."""
STATISTICS_CAPTIONS = 2048
"""Training captions whose token states set the layout readout's standardisation."""


def set_text_statistics(models: list[STDiT], cfg: TrainConfig) -> None:
    """Measure the token-state statistics on the recipe's own training captions (a fresh layout readout)."""
    if models[0].layout is None:
        return
    base = cfg.seed * 1_000_000_007 + 10**12  # captions of the training world, not of the first batches
    captions = [sample_spec(base + i, "train", cfg.two_object_p).caption for i in range(STATISTICS_CAPTIONS)]
    mean, std = text_statistics(captions)
    for m in models:
        assert m.layout is not None
        m.layout.set_text_statistics(mean.to(m.layout.text_mean.device), std.to(m.layout.text_std.device))


def layout_loss(model: STDiT, x: torch.Tensor, cond: TextCondition) -> torch.Tensor:
    """The layout readout's own loss: its coarse clip from the caption alone against the clip's token means."""
    grid = model.token_grid(*x.shape[2:])
    return torch.nn.functional.mse_loss(model.layout_prior(cond.states, cond.mask, grid), token_means(x, grid))


def pretrain_layout(model: STDiT, cfg: TrainConfig, quiet: bool = False, batch: int = 32) -> list[float]:
    """Fit a fresh layout readout to `layout_loss` alone (the trunk is not run), on a pool of clips
    rendered once at half size (the token means barely change). Measured in a stand-alone version:
    ~2 000 steps of 32 clips read the direction of motion of held-out prompts (cosine 0.99), in a
    couple of CPU minutes, where the full model reads it only after thousands of its own steps."""
    assert model.layout is not None
    dev = next(model.parameters()).device
    size = max(cfg.size // 2, model.config.patch_h)
    seeds = [cfg.seed * 1_000_000_007 + 2 * 10**12 + i for i in range(cfg.layout_pretrain_clips)]
    grid = model.token_grid(cfg.frames, cfg.size, cfg.size)
    pool, captions = [], []
    for i in tqdm(range(0, len(seeds), 256), disable=quiet, desc="layout pool", mininterval=10):
        x, caps = make_batch(seeds[i:i + 256], "train", cfg.frames, size)
        pool.append(token_means(torch.from_numpy(x), grid))
        captions += caps
    targets = torch.cat(pool)
    cond = encode_text(captions)
    opt = torch.optim.Adam(model.layout.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for _ in tqdm(range(cfg.layout_pretrain_steps), disable=quiet, desc="layout pretrain", mininterval=10):
        idx = torch.randint(0, len(captions), (batch,), generator=gen)
        pred = model.layout_prior(cond.states[idx].to(dev), cond.mask[idx].to(dev), grid)
        loss = torch.nn.functional.mse_loss(pred, targets[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def param_groups(model: STDiT, cfg: TrainConfig) -> list[dict[str, Any]]:
    """One optimizer group, plus one for the position paths (map and per-token conditioning) and one
    for the layout readout when they learn at their own rate (a factor of 1.0 keeps them in the first).

    Why: the map starts at zero (so warm starts are unchanged) and, at the trunk's rate, stayed at
    weights of ~0.015 over 4 700 steps; measured, the x0 prediction from pure noise then put the
    object's centroid in the same place in every frame whatever the motion word said.
    """
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if not n.startswith(POSITION_PARAMS + LAYOUT_PARAMS)], "lr_mult": 1.0}]
    for prefixes, mult in ((POSITION_PARAMS, cfg.pos_lr_mult), (LAYOUT_PARAMS, cfg.layout_lr_mult)):
        params = [p for n, p in named if n.startswith(prefixes)]
        if not params:
            continue
        if mult == 1.0:
            groups[0]["params"].extend(params)
        else:
            groups.append({"params": params, "lr_mult": mult})
    return groups


def warm_start(model: STDiT, path: Path) -> bool:
    """Initialise from another run's weights (a training state or exported EMA weights, such as the
    committed generator/weights file). The output head is kept only when that run predicted the same
    target; otherwise it starts again from zero. A source without the absolute-position map gets it
    at zero. Returns whether the head was kept."""
    import json as _json

    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        info = _json.loads((f.metadata() or {}).get("sealframe", "{}"))
        prefix = "model." if any(k.startswith("model.") for k in keys) else ""
        state = {k[len(prefix):]: f.get_tensor(k).float() for k in keys if k.startswith(prefix)
                 and not k.startswith(("ema.", "opt."))}
    keep_head = info.get("model_config", {}).get("prediction", "velocity") == model.config.prediction
    if not keep_head:
        state = {k: v for k, v in state.items() if not k.startswith("final.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # A zero-initialised position map or layout readout the source lacks leaves the function unchanged.
    missing = [k for k in missing if not k.startswith(POSITION_PARAMS + LAYOUT_PARAMS)]
    if unexpected or any(not k.startswith("final.") for k in missing) or (keep_head and missing):
        raise ValueError(f"{path} does not fit this architecture: missing {missing}, unexpected {unexpected}")
    return keep_head


def _keys(path: Path) -> set[str]:
    """Tensor names in a safetensors file, without any prefix ("model." in training states)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k.removeprefix("model.") for k in f.keys()}  # noqa: SIM118


def train(cfg: TrainConfig, out: Path, device: str | None = None, quiet: bool = False,
          init_from: Path | None = None) -> dict[str, Any]:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(dev)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    out.mkdir(parents=True, exist_ok=True)
    ckpt, log_path = out / "last.safetensors", out / "log.jsonl"
    step, wall = 0, 0.0
    if ckpt.exists():
        meta = load_training_state(ckpt, model, ema, opt)
        step, wall = int(meta["step"]), float(meta["wall_seconds"])
        if not quiet:
            print(f"resumed from {ckpt} at step {step} ({wall / 60:.1f} min trained)")
    elif init_from is not None:
        kept = warm_start(model, init_from)
        ema.load_state_dict(model.state_dict())
        if not quiet:
            print(f"warm start from {init_from} (output head {'kept' if kept else 're-initialised'})")
    if (not ckpt.exists() and model.layout is not None
            and (init_from is None or "layout.text_std" not in _keys(init_from))):
        set_text_statistics([model, ema], cfg)
        if cfg.layout_pretrain_steps:
            losses = pretrain_layout(model, cfg, quiet)
            ema.load_state_dict(model.state_dict())
            if not quiet:
                print(f"layout readout pretrained: loss {np.mean(losses[:50]):.4f} -> {np.mean(losses[-50:]):.4f}")
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    if not quiet:
        print(f"{cfg.model}: {count_params(model) / 1e6:.2f}M params on {dev}, amp={cfg.amp or dev.type == 'cuda'}, "
              f"threads={torch.get_num_threads()}")

    def meta() -> dict[str, Any]:
        return {"step": step, "wall_seconds": wall, "train_config": cfg.to_dict(),
                "model_config": model.config.to_dict()}

    # bf16 autocast always on CUDA; on CPU only when the recipe asks (it was no faster on this one).
    amp_dtype = torch.bfloat16 if cfg.amp or dev.type == "cuda" else None
    prefetch = Prefetcher(cfg, step)
    t_start, t_ckpt = time.time(), time.time()
    wall0 = wall
    losses: list[float] = []
    bar = tqdm(total=cfg.max_steps, initial=step, disable=quiet, mininterval=20, dynamic_ncols=True)
    model.train()
    with open(log_path, "a") as log:
        while step < cfg.max_steps:
            if cfg.max_minutes and (time.time() - t_start) / 60 >= cfg.max_minutes:
                break
            x, cond, signal, swapped = prefetch.get()
            x, cond = x.to(dev), cond.to(dev)
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, step) * group["lr_mult"]
            noise_gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
            with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                loss = flow_loss(lambda xt, t, c=cond: model.velocity(xt, t, c.states, c.mask, c.pooled), x, noise_gen,
                                 cfg.t_mean, cfg.t_std, cfg.t_top, cfg.t_one, cfg.t_high,
                                 signal=None if signal is None else signal.to(dev), signal_mask=swapped,
                                 signal_band=(cfg.shape_swap_band[0], cfg.shape_swap_band[1]))
                if cfg.layout_aux and model.layout is not None:
                    loss = loss + cfg.layout_aux * layout_loss(model, x, cond)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            update_ema(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))
            step += 1
            wall = wall0 + time.time() - t_start
            losses.append(float(loss.detach()))
            bar.update(1)
            if step % cfg.log_every == 0:
                rec = {"step": step, "loss": float(np.mean(losses[-cfg.log_every:])), "grad_norm": float(gnorm),
                       "lr": lr_at(cfg, step - 1), "wall_seconds": round(wall, 1)}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{rec['loss']:.4f}")
            if cfg.checkpoint_minutes and (time.time() - t_ckpt) / 60 >= cfg.checkpoint_minutes:
                save_training_state(ckpt, model, ema, opt, meta())
                export_weights(out / "ema.safetensors", ema, meta())
                t_ckpt = time.time()
    bar.close()
    save_training_state(ckpt, model, ema, opt, meta())
    export_weights(out / "ema.safetensors", ema, meta())
    return {"step": step, "wall_seconds": wall, "final_loss": float(np.mean(losses[-50:])) if losses else None}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="stdit-s-64", help="a named recipe (configs.TRAIN_CONFIGS) or a JSON/YAML file")
    ap.add_argument("--out", type=Path, default=None, help="run folder (default runs/<config name>)")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--init-from", type=Path, default=None,
                    help="warm-start the trunk from another run's checkpoint (ignored when resuming)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (1 is faster on an oversubscribed CPU)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_train_config(args.config, max_steps=args.max_steps, max_minutes=args.max_minutes,
                            batch_size=args.batch_size)
    result = train(cfg, args.out or Path("runs") / cfg.name, args.device, init_from=args.init_from)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
