"""The served ONNX generator against the torch reference (needs the [train] extra for the torch side).

    python benchmarks/generator_onnx.py [--seeds 8] [--steps 20] [--json runs/generator_onnx.json]

Two comparisons, each clip 16×64×64 with the card's sampler and guidance 4, printed as a table and
written as JSON:

* `same-text`: both paths given the same float32 text conditioning, so the network (onnxruntime vs
  torch), the sampler (numpy vs torch) and the noise stream are what is compared;
* `served`: `load_generator()` (int8 text encoder) against `load_generator("stdit-torch")` (float32),
  i.e. what a lean install delivers against what the torch path delivered, over a few prompts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

PROMPTS = ["a small red circle drifts left across a white background", "a blue square moves up",
           "a green star rotating on a black background", "a yellow triangle bouncing"]


def same_text(seeds: list[int], steps: int) -> list[dict[str, float]]:
    from generator.onnx import sampler as onnx_sampler
    from generator.registry import default_weights, load_stdit, read_card
    from generator.stdit import pipeline as tp
    from generator.stdit.conditioning import TextCondition as TorchCondition
    from generator.stdit.conditioning import encode_text
    from generator.stdit.sampler import SamplerConfig

    weights = default_weights()
    card = read_card(weights) or {}
    model = load_stdit(weights)
    net = onnx_sampler.OnnxSTDiT(weights.with_suffix(".onnx"), card["architecture"])
    config = SamplerConfig.from_card(card["sampler"])
    tc = TorchCondition.concat(encode_text(PROMPTS[:1]), encode_text([""]))
    cond = onnx_sampler.TextCondition(tc.states.numpy(), tc.mask.numpy(), tc.pooled.numpy())
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        ref = tp.generate_clips(model, PROMPTS[:1], [seed], 16, 64, 64, steps, 4.0, sampler=config, pixels=False)
        t1 = time.perf_counter()
        ours = onnx_sampler.generate_clips(net, None, PROMPTS[:1], [seed], 16, 64, 64, steps, 4.0, sampler=config,
                                           cond=cond, pixels=False)
        t2 = time.perf_counter()
        pix = np.abs(onnx_sampler.to_pixels(ref).astype(int) - onnx_sampler.to_pixels(ours).astype(int))
        rows.append({"seed": seed, "max_abs_model_space": float(np.abs(ref - ours).max()),
                     "max_pixel_levels": int(pix.max()), "share_pixels_differing": float((pix > 0).mean()),
                     "torch_s": round(t1 - t0, 2), "onnx_s": round(t2 - t1, 2)})
        print(f"same-text seed {seed}: max abs {rows[-1]['max_abs_model_space']:.2e}, max {pix.max()} levels, "
              f"{100 * rows[-1]['share_pixels_differing']:.4f} % differ; torch {t1 - t0:.1f} s, onnx {t2 - t1:.1f} s",
              flush=True)
    return rows


def served(seeds: list[int], steps: int) -> list[dict[str, object]]:
    from generator.base import GenerationRequest
    from generator.registry import load_generator

    torch_gen, onnx_gen = load_generator("stdit-torch"), load_generator("")
    rows: list[dict[str, object]] = []
    for prompt in PROMPTS:
        for seed in seeds[:2]:
            r = GenerationRequest(prompt, seed=seed, steps=steps)
            a = torch_gen.generate(r).frames.astype(int)
            b = onnx_gen.generate(r).frames.astype(int)
            d = np.abs(a - b)
            rows.append({"prompt": prompt, "seed": seed, "mean_abs_levels": float(d.mean()),
                         "share_over_8_levels": float((d > 8).mean()), "max_levels": int(d.max())})
            print(f"served {prompt!r} seed {seed}: mean {d.mean():.2f} levels, {100 * (d > 8).mean():.1f} % > 8",
                  flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    result = {"same_text": same_text(seeds, args.steps), "served": served(seeds, args.steps)}
    st = result["same_text"]
    print("\n| comparison | result |\n|---|---|")
    print(f"| same text, {len(st)} seeds | max abs {max(r['max_abs_model_space'] for r in st):.1e} in model space, "
          f"at most {max(r['max_pixel_levels'] for r in st)} level(s) per pixel |")
    sv = result["served"]
    print(f"| served (int8 text) vs torch, {len(sv)} clips | mean abs "
          f"{min(float(r['mean_abs_levels']) for r in sv):.1f}-{max(float(r['mean_abs_levels']) for r in sv):.1f} "
          f"levels |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
