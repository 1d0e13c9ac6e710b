"""Prompt adherence of a trained STDiT on held-out prompts, scored by the analytic checker.

    python -m generator.stdit.evaluate [--weights generator/weights/stdit-s-64.safetensors] [--n 240]

Held-out prompts come from the (colour, shape, motion) triples that training never renders
(`data.is_held_out`), one object each. For every prompt the table shows: our generated clip; the
baseline of a random training clip (what a model that ignores the prompt would score); and the
ground-truth rendering of the prompt (the checker's own accuracy, an upper bound).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generator.stdit.checker import ClipReading, frame_consistency, read_clip
from generator.stdit.conditioning import encode_text
from generator.stdit.data import (
    BACKGROUNDS,
    COLOURS,
    TRANSLATIONS,
    ClipSpec,
    make_clip,
    render,
    render_batch,
    sample_spec,
    swap_shapes,
)
from generator.stdit.flow import interpolate
from generator.stdit.pipeline import generate_clips, to_pixels
from generator.stdit.sampler import SamplerConfig
from generator.stdit.sampler import add_arguments as sampler_options

CONTACT_PROMPTS = [
    "a large red circle moves right on a white background",
    "a blue square moves up on a black background",
    "a green triangle drifts left over gray",
    "a yellow star falls on a gray background",
    "a large purple square grows on a white background",
    "an orange circle shrinks on a black background",
    "a large blue star rotates on a white background",
    "a red triangle moves diagonally down and to the right on black",
]


def heldout_specs(n: int, offset: int = 0) -> list[ClipSpec]:
    return [sample_spec(10_000_000 + offset + i, "heldout") for i in range(n)]


def score(reading: ClipReading, spec: ClipSpec) -> dict[str, bool]:
    m = spec.main
    return {"colour": reading.colour == m.colour, "shape": reading.shape == m.shape,
            "motion": reading.motion == m.motion}


def evaluate(model: torch.nn.Module | None, n: int = 240, steps: int = 20, guidance: float = 4.0, batch: int = 8,
             sampler: SamplerConfig | None = None, frames: int = 16, size: int = 64, quiet: bool = False,
             offset: int = 0, onnx: Any = None) -> dict[str, Any]:
    """`onnx`: an `OnnxSTDiTGenerator` to evaluate the served path (ONNX network, int8 text) instead of `model`."""
    sampler = replace(sampler or SamplerConfig(), steps=steps)
    specs = heldout_specs(n, offset)
    rng = np.random.default_rng(1234)
    rows: dict[str, list[dict[str, bool]]] = {"ours": [], "random_clip": [], "ground_truth": []}
    consist: dict[str, list[dict[str, float]]] = {"ours": [], "ground_truth": []}
    t0 = time.time()
    for start in range(0, n, batch):
        chunk = specs[start:start + batch]
        if onnx is not None:
            from generator.onnx.sampler import generate_clips as onnx_clips

            clips = onnx_clips(onnx.net, onnx.encode, [s.caption for s in chunk], [s.seed for s in chunk], frames,
                               size, size, steps, guidance, sampler=sampler)
        else:
            clips = generate_clips(model, [s.caption for s in chunk], [s.seed for s in chunk], frames, size, size,
                                   steps, guidance, sampler=sampler)
        for clip, spec in zip(clips, chunk, strict=True):
            rows["ours"].append(score(read_clip(clip), spec))
            consist["ours"].append(frame_consistency(clip))
            truth = render(spec, frames, size)
            rows["ground_truth"].append(score(read_clip(truth), spec))
            consist["ground_truth"].append(frame_consistency(truth))
            other, _ = make_clip(int(rng.integers(0, 2**31)), "train", frames, size)
            rows["random_clip"].append(score(read_clip(other), spec))
        if not quiet:
            done = len(rows["ours"])
            acc = {k: np.mean([r[k] for r in rows["ours"]]) for k in ("colour", "shape", "motion")}
            print(f"  {done}/{n}  colour {acc['colour']:.2f} shape {acc['shape']:.2f} motion {acc['motion']:.2f}"
                  f"  ({time.time() - t0:.0f}s)", flush=True)
    result: dict[str, Any] = {"n_prompts": n, "offset": offset, "steps": steps, "guidance": guidance,
                              "path": "onnx (int8 text)" if onnx is not None else "torch (float32 text)",
                              "sampler": sampler.to_card(),
                              "frames": frames, "size": size, "seconds": round(time.time() - t0, 1)}
    for who, rs in rows.items():
        result[who] = {k: float(np.mean([r[k] for r in rs])) for k in ("colour", "shape", "motion")}
    for who, cs in consist.items():
        result[who].update({k: float(np.mean([c[k] for c in cs])) for k in cs[0]})
    return result


@torch.no_grad()
def layout_probe(model: torch.nn.Module, n: int = 64, guidance: float = 4.0, t: float = 1.0,
                 seed: int = 0) -> dict[str, float]:
    """Does the network's clean-clip prediction from (nearly) pure noise move the way the caption says?

    For held-out prompts with a translation, one guided x0 prediction at time `t` (no sampling), its
    per-frame centroid of "closer to the object colour than to the background", and the cosine
    between that centroid's travel (last four frames minus first four) and the caption's direction.
    A model that knows what "left" means puts the mean object on the right early and on the left
    late; one that does not gives cosines near 0. It costs two forward passes, so it can watch a
    run's checkpoints where the full `evaluate` (20 sampling steps per clip) would not. Below t = 1,
    x_t holds (1 - t) of the true clip, so there it measures reading the layout, not knowing it.
    """
    specs = [s for s in heldout_specs(8 * n) if s.main.motion in TRANSLATIONS][:n]
    cond, uncond = encode_text([s.caption for s in specs]), encode_text([""] * len(specs))
    cfg = model.config  # type: ignore[attr-defined]
    x_t = torch.randn((len(specs), cfg.channels, cfg.frames, cfg.height, cfg.width),
                      generator=torch.Generator().manual_seed(seed))
    if t < 1:  # at t = 1 the clip is pure noise: nothing to render
        x_t = (1 - t) * torch.from_numpy(render_batch(specs, cfg.frames, cfg.height)) + t * x_t
    times = torch.full((len(specs),), t)
    pc = model(x_t, times, cond.states, cond.mask, cond.pooled)
    pu = model(x_t, times, uncond.states, uncond.mask, uncond.pooled)
    pred = (pu + guidance * (pc - pu)).numpy()
    ys, xs = np.mgrid[0:cfg.height, 0:cfg.width]
    cosines, travel = [], []
    for spec, clip in zip(specs, pred, strict=True):
        col = (np.array(COLOURS[spec.main.colour]) / 127.5 - 1)[:, None, None, None]
        bg = (np.array(BACKGROUNDS[spec.background]) / 127.5 - 1)[:, None, None, None]
        w = np.clip(np.linalg.norm(clip - bg, axis=0) - np.linalg.norm(clip - col, axis=0), 0, None)
        mass = w.sum((1, 2)) + 1e-6
        cent = np.stack([(w * xs).sum((1, 2)) / mass / cfg.width, (w * ys).sum((1, 2)) / mass / cfg.height], 1)
        d = cent[-4:].mean(0) - cent[:4].mean(0)
        cosines.append(float(d @ np.array(TRANSLATIONS[spec.main.motion]) / (np.linalg.norm(d) + 1e-9)))
        travel.append(float(np.linalg.norm(d)))
    cos = np.array(cosines)
    return {"t": t, "n": len(specs), "direction_agrees": float((cos > 0.92).mean()), "mean_cosine": float(cos.mean()),
            "mean_travel": float(np.mean(travel))}


@torch.no_grad()
def shape_probe(model: torch.nn.Module, n: int = 48, times: tuple[float, ...] = (0.5, 0.7, 0.85),
                seed: int = 0, offset: int = 1000, swap: bool = False) -> dict[str, float]:
    """Where is shape lost? One conditional x0 prediction from the *true* held-out clip noised to each
    time t, and the checker's shape reading of it (share right).

    High values at t where sampling still fails mean the network can read a silhouette out of x_t
    but the sampler's own x_t never carries one: the shape is lost earlier on the path, or it is
    lost by a sampler that commits to a blob. Costs one forward pass per time.

    `swap`: noise the same scenes rendered with *other* shapes (`data.swap_shapes`) instead, still
    scored against the caption's shape: how far the caption, not the silhouette in x_t, sets the
    shape (chance is 0.25; a network that copies x_t scores near 0)."""
    specs = heldout_specs(n, offset)
    cfg = model.config  # type: ignore[attr-defined]
    rng = np.random.default_rng([seed, 0x5A])
    shown = [swap_shapes(s, rng) for s in specs] if swap else specs
    x0 = torch.from_numpy(render_batch(shown, cfg.frames, cfg.height))
    cond = encode_text([s.caption for s in specs])
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    out: dict[str, float] = {"n": float(n)}
    for t in times:
        tb = torch.full((n,), t)
        pixels = to_pixels(model(interpolate(x0, noise, tb), tb, cond.states, cond.mask, cond.pooled))
        out[f"shape@{t:g}"] = float(np.mean([read_clip(p).shape == s.main.shape
                                             for p, s in zip(pixels, specs, strict=True)]))
    return out


def format_table(result: dict[str, Any]) -> str:
    lines = [f"held-out prompts: {result['n_prompts']}  steps {result['steps']}  guidance {result['guidance']}",
             f"{'metric':<22}{'ours':>10}{'random clip':>14}{'ground truth':>14}"]
    for k in ("colour", "shape", "motion"):
        lines.append(f"{k + ' adherence':<22}{result['ours'][k]:>10.1%}{result['random_clip'][k]:>14.1%}"
                     f"{result['ground_truth'][k]:>14.1%}")
    for k in ("frame_diff_mae", "object_persistence"):
        lines.append(f"{k:<22}{result['ours'][k]:>10.3f}{'':>14}{result['ground_truth'][k]:>14.3f}")
    return "\n".join(lines)


def contact_sheet(model: torch.nn.Module, path: Path, steps: int = 20, guidance: float = 4.0,
                  sampler: SamplerConfig | None = None, prompts: list[str] | None = None, columns: int = 6,
                  scale: int = 2) -> Path:
    """A PNG with one row per prompt: `columns` frames of the generated clip and the prompt above them."""
    from PIL import Image, ImageDraw

    prompts = prompts or CONTACT_PROMPTS
    clips = generate_clips(model, prompts, list(range(len(prompts))), 16, 64, 64, steps, guidance, sampler=sampler)
    t, h, w = clips.shape[1:4]
    idx = np.linspace(0, t - 1, columns).round().astype(int)
    label_h = 16
    sheet = Image.new("RGB", (columns * w * scale, len(prompts) * (h * scale + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (clip, prompt) in enumerate(zip(clips, prompts, strict=True)):
        y = r * (h * scale + label_h)
        draw.text((4, y + 2), prompt, fill=(0, 0, 0))
        strip = np.concatenate([clip[i] for i in idx], axis=1)
        img = Image.fromarray(strip).resize((strip.shape[1] * scale, h * scale), Image.NEAREST)
        sheet.paste(img, (0, y + label_h))
    path.parent.mkdir(parents=True, exist_ok=True)
    # A 128-colour palette keeps the committed PNG small; flat-shaded shapes lose nothing to it.
    sheet.quantize(colors=128).save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> None:
    from generator.registry import default_weights, load_stdit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=None, help="a safetensors file (default: the committed one)")
    ap.add_argument("--n", type=int, default=240)
    ap.add_argument("--guidance", type=float, default=4.0)
    sampler_options(ap)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--offset", type=int, default=0,
                    help="first held-out prompt (tune sampler settings on another offset than you report)")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument("--onnx", action="store_true",
                    help="evaluate the served path: the committed ONNX graph with the int8 text encoder")
    ap.add_argument("--contact-sheet", type=Path, default=None, help="also write a contact sheet PNG here")
    ap.add_argument("--probe", action="store_true",
                    help="only the layout probe (x0 from near-pure noise; seconds), not the full evaluation")
    ap.add_argument("--shape-probe", action="store_true",
                    help="only the shape probe (x0 from the noised true clip at t = 0.5, 0.7, 0.85; seconds)")
    ap.add_argument("--swap", action="store_true",
                    help="with --shape-probe: noise the scenes drawn with other shapes (does the caption win?)")
    args = ap.parse_args(argv)
    model = load_stdit(args.weights) if args.weights else load_stdit(default_weights())
    if args.probe:
        print(json.dumps(layout_probe(model, guidance=args.guidance)))
        return
    if args.shape_probe:
        print(json.dumps(shape_probe(model, swap=args.swap)))
        return
    sampler = SamplerConfig.from_args(args)
    onnx = None
    if args.onnx:
        from generator.registry import load_onnx

        onnx = load_onnx()
    result = evaluate(model, args.n, args.steps, args.guidance, args.batch, sampler, offset=args.offset, onnx=onnx)
    print(format_table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.contact_sheet:
        contact_sheet(model, args.contact_sheet, args.steps, args.guidance, sampler)


if __name__ == "__main__":
    main()
