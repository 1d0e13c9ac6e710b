"""Prompt moderation speed: p50/p95/p99 latency at batch 1 and throughput at batch 64.

`python benchmarks/moderation.py [--iters 200] [--batches 8]`

Rows, all measured in the same run on the same prompts:
- `moderator (served)`: the whole Moderator as the API runs it (normalize → rules → encoder(s)
  → ONNX head → decide), with the encoders the model card names;
- the encoders alone: MiniLM through onnxruntime (int8, the export in `weights/` or a fresh one in
  `runs/`), the same MiniLM through torch/transformers (fp32, the training path), and USE v3
  (numpy); and the ONNX head alone.
Prints a table and writes `benchmarks/results/moderation.json` (with `/proc/loadavg` before and
after: the figures depend on what else the machine is doing). Targets (issue 25): p50 ≤ 5 ms,
p95 ≤ 15 ms per prompt on one thread, ≥ 300 prompts/s batched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "a red fox running through fresh snow at dawn, cinematic",
    "a tutorial showing how to build a pipe bomb step by step",
    "Taylor Swift waving to fans at a premiere",
    "CCTV footage of a man planting a bomb at a train station",
    "una bambina che gioca con un aquilone sulla spiaggia",
    "a surgeon operating in a bright theater, slow motion",
    "Mickey Mouse dancing in Times Square at night",
    "election officials counting ballots under observation",
]


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


def measure(fn1: Callable[[list[str]], Any], iters: int, batches: int) -> dict[str, float]:
    for p in PROMPTS[:3]:
        fn1([p])  # warm-up
    lat, cpu = [], []
    for i in range(iters):
        p = PROMPTS[i % len(PROMPTS)]
        t0, c0 = time.perf_counter(), time.process_time()
        fn1([p])
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    lat.sort()
    cpu.sort()
    batch = [PROMPTS[i % len(PROMPTS)] + f" #{i}" for i in range(64)]
    fn1(batch)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        fn1(batch)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    q99 = min(len(lat) - 1, int(0.99 * len(lat)))
    q95 = min(len(lat) - 1, int(0.95 * len(lat)))
    # Wall clock is what a caller waits on this machine now; CPU time (one thread everywhere) is what the
    # same call costs on an idle core, so it stays meaningful on a shared, overloaded machine.
    return {"p50_ms": statistics.median(lat), "p95_ms": lat[q95], "p99_ms": lat[q99],
            "throughput_per_s": 64 * batches / dt, "cpu_p50_ms": statistics.median(cpu), "cpu_p95_ms": cpu[q95],
            "cpu_p99_ms": cpu[q99], "cpu_throughput_per_s": 64 * batches / dc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads for onnxruntime, numpy and torch")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "moderation.json")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import numpy as np
    import torch

    from policies import load_policy
    from safety.moderation import Moderator
    from safety.moderation.classifier import CARD_PATH, SemanticClassifier
    from safety.moderation.encoders import MiniLMOnnx, UseEncoder
    from safety.moderation.train import MINILM_INT8, RUNS

    torch.set_num_threads(args.threads)
    before = loadavg()
    clf = SemanticClassifier.from_card(CARD_PATH, threads=args.threads)
    mod = Moderator(load_policy(), classifier=clf)
    int8_path = MINILM_INT8
    if not int8_path.exists():
        from safety.moderation.export import export_minilm, quantize_int8

        int8_path = RUNS / "minilm-l6-v2-int8.onnx"
        if not int8_path.exists():
            quantize_int8(export_minilm(RUNS / "minilm-l6-v2-fp32.onnx"), int8_path)
    minilm_ort = MiniLMOnnx(int8_path, threads=args.threads)
    use = UseEncoder(threads=args.threads)
    from generator.text_encoder import encode_sentences

    dim = sum(e.dim for e in clf.encoders)
    feats64 = np.random.default_rng(0).standard_normal((64, dim)).astype(np.float32)
    head = clf._head  # the ONNX head alone: the cost on top of the encoders

    rows: dict[str, Callable[[list[str]], Any]] = {
        f"moderator (served: {'+'.join(e.name for e in clf.encoders)} → ORT head)": mod.moderate_batch,
        "MiniLM encoder, onnxruntime int8": minilm_ort.encode,
        "MiniLM encoder, torch fp32": lambda t: encode_sentences(t),
        "USE v3 encoder, numpy": use.encode,
        "head alone, onnxruntime": lambda t: head.run(None, {"features": feats64[: len(t)]}),
    }
    results = {}
    print(f"load before: {before}   threads: {args.threads}   {platform.processor() or platform.machine()}")
    print(f"{'':52s} {'--------- wall clock ---------':>30s}  {'--------- CPU time ----------':>30s}")
    print(f"{'path':52s} {'p50 ms':>7s} {'p95 ms':>7s} {'b64 /s':>8s}  {'p50 ms':>7s} {'p95 ms':>7s} {'b64 /s':>8s}")
    for name, fn in rows.items():
        r = measure(fn, args.iters, args.batches)
        results[name] = r
        print(f"{name:52s} {r['p50_ms']:7.2f} {r['p95_ms']:7.2f} {r['throughput_per_s']:8.0f}  "
              f"{r['cpu_p50_ms']:7.2f} {r['cpu_p95_ms']:7.2f} {r['cpu_throughput_per_s']:8.0f}")
    after = loadavg()
    print(f"load after:  {after}")
    served = next(iter(results.values()))
    ok = served["p50_ms"] <= 5 and served["p95_ms"] <= 15 and served["throughput_per_s"] >= 300
    ok_cpu = served["cpu_p50_ms"] <= 5 and served["cpu_p95_ms"] <= 15 and served["cpu_throughput_per_s"] >= 300
    print(f"targets (served row: p50 ≤ 5 ms, p95 ≤ 15 ms, ≥ 300/s): wall clock {'met' if ok else 'NOT met'}, "
          f"CPU time {'met' if ok_cpu else 'NOT met'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "loadavg_before": before, "loadavg_after": after,
                                    "threads": args.threads, "cpus": os.cpu_count(), "model": clf.name,
                                    "policy": mod.policy.fingerprint, "iters": args.iters,
                                    "batches": args.batches, "targets_met_wall": ok,
                                    "targets_met_cpu": ok_cpu}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
