"""Detector throughput: clips/s for 16-frame 224×224 clips, torch vs onnxruntime (CPU; CUDA when present).

    python benchmarks/detector.py [--batch 1 8] [--repeats 5] [--threads 2]

Both engines run the same network (the default `sealframe-det-t` architecture, random weights:
speed does not depend on the weights' values) in one process, one after the other, on the same
inputs; the table also lists the clip shape the default runtime uses (8 frames at 96×96).
Writes benchmarks/results/detector.json (git-ignored). The load average is recorded beside the
figures: on a shared machine they are pessimistic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.export import export_onnx
from detector.model import build_detector, count_parameters
from detector.runtime import OnnxBackend, torch_backend


def clips_per_second(fn: object, x: np.ndarray, repeats: int) -> float:
    assert callable(fn)
    fn(x)  # warm-up (graph optimisation, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return x.shape[0] / float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="sealframe-det-t")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "detector.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = build_detector(args.model).eval()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "det.onnx"
        export_onnx(model, onnx_path)
        engines: dict[str, object] = {"torch-cpu": torch_backend(model),
                                      "onnxruntime-cpu": OnnxBackend(onnx_path, ["CPUExecutionProvider"], args.threads)}
        cuda = OnnxBackend(onnx_path, ["CUDAExecutionProvider"])
        if "CUDAExecutionProvider" in cuda.providers:
            engines["onnxruntime-cuda"] = cuda
        if torch.cuda.is_available():
            gpu = build_detector(args.model).eval().cuda()
            gpu.load_state_dict(model.state_dict())

            def torch_cuda(x: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    out: np.ndarray = gpu.probability(torch.from_numpy(x).cuda()).cpu().numpy()
                    return out

            engines["torch-cuda"] = torch_cuda
        rng = np.random.default_rng(0)
        for frames, size in ((16, 224), (model.config.frames, model.config.size)):
            for b in args.batch:
                x = rng.random((b, frames, 3, size, size), dtype=np.float32)
                for name, fn in engines.items():
                    cps = clips_per_second(fn, x, args.repeats)
                    rows.append({"engine": name, "frames": frames, "size": size, "batch": b,
                                 "clips_per_s": round(cps, 2), "ms_per_clip": round(1000 / cps, 1)})
                    print(f"{name:18s} {frames:>3d}×{size}×{size} batch {b:>2d}: {cps:8.2f} clips/s", flush=True)
    load = os.getloadavg()
    result = {
        "model": args.model,
        "parameters": count_parameters(model),
        "threads": args.threads,
        "loadavg": [round(v, 2) for v in load],
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "rows": rows,
    }
    print()
    print(f"{'engine':18s} {'clip':>12s} {'batch':>5s} {'clips/s':>9s} {'ms/clip':>8s}")
    for r in rows:
        clip = f"{r['frames']}×{r['size']}²"
        print(f"{r['engine']:18s} {clip:>12s} {r['batch']:>5d} {r['clips_per_s']:>9.2f} {r['ms_per_clip']:>8.1f}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs, {args.threads} threads")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
