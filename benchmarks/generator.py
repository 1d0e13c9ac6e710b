"""Speed and memory of the built-in generator: one 16-frame clip at the default size, end to end.

    python benchmarks/generator.py [--weights FILE] [--steps 10 20 25] [--repeats 3]

Times `generate()` (prompt encoding, guided sampling with two network passes per step, decoding to
uint8) after one warm-up call, and reports the median. tokens/s counts spacetime-patch tokens
through the network (tokens per clip × 2 for guidance × steps / seconds). Prints a table and writes
JSON to benchmarks/results/. Runs on CUDA too when a GPU is present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.base import GenerationRequest
from generator.registry import default_weights, load_builtin
from generator.stdit.model import count_params

PROMPT = "a large red circle moves right on a white background"


def bench(device: str, weights: Path, steps: int, repeats: int, frames: int, size: int, threads: int | None) -> dict:
    if threads:
        torch.set_num_threads(threads)
    gen = load_builtin(weights, device=device)
    model = gen.model  # type: ignore[attr-defined]
    cfg = model.config
    tokens = (frames // cfg.patch_t) * (size // cfg.patch_h) * (size // cfg.patch_w)
    req = GenerationRequest(PROMPT, seed=0, frames=frames, height=size, width=size, steps=steps, guidance=4.0)
    gen.generate(req)  # warm-up: loads MiniLM, allocates buffers
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        gen.generate(GenerationRequest(PROMPT, seed=i, frames=frames, height=size, width=size, steps=steps))
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    row = {"device": device, "threads": torch.get_num_threads() if device == "cpu" else None, "steps": steps,
           "frames": frames, "size": size, "seconds": round(sec, 3), "seconds_all": [round(t, 3) for t in times],
           "tokens_per_clip": tokens, "tokens_per_s": round(tokens * 2 * steps / sec),
           "params_m": round(count_params(model) / 1e6, 2), "peak_rss_mb": round(resource.getrusage(
               resource.RUSAGE_SELF).ru_maxrss / 1024)}
    if device == "cuda":
        row["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=default_weights())
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 20, 25])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--target-seconds", type=float, default=5.0)
    args = ap.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [bench(d, args.weights, s, args.repeats, args.frames, args.size, args.threads)
            for d in devices for s in args.steps]
    print(f"STDiT {rows[0]['params_m']}M params, {args.frames} frames {args.size}×{args.size}, guidance on "
          f"(2 passes/step), median of {args.repeats}; target ≤ {args.target_seconds}s at ≤ 25 steps; "
          f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} (other work slows every row)")
    print(f"{'device':<8}{'threads':>8}{'steps':>7}{'seconds':>9}{'tokens/s':>10}{'peak MB':>9}  target")
    for r in rows:
        ok = "ok" if r["seconds"] <= args.target_seconds else "MISSED"
        mem = r.get("peak_cuda_mb", r["peak_rss_mb"])
        print(f"{r['device']:<8}{r['threads'] or '-':>8}{r['steps']:>7}{r['seconds']:>9.2f}{r['tokens_per_s']:>10}"
              f"{mem:>9}  {ok}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    path = out / f"generator-{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
            "cpu_cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}
    path.write_text(json.dumps({**meta, "rows": rows}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
