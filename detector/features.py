"""Extract the frozen frame features of a clip corpus once, clean and after CRF 28 + true 0.5×.

    python -m detector.features --data /work/data/detector [--frames 8 --size 224]

Reads `<data>/index.csv` (written by scripts/detector_data.py), takes each clip's window exactly
as `detector.runtime` does (same `Sampling`, same resize and centre crop), and writes
`<data>/features/<condition>/part-NNNN.npz` (frame features (N, T, D) as float16 and the row
numbers), one part per chunk so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

CONDITIONS = ("clean", "crf28_half")


def load_rows(data: Path) -> list[dict[str, str]]:
    with open(data / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


def load_features(data: Path, condition: str, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, T, D) float32, present mask (N,)) for every row of the index."""
    parts = sorted((data / "features" / condition).glob("part-*.npz"))
    feats: np.ndarray | None = None
    present = np.zeros(n_rows, dtype=bool)
    for p in parts:
        z = np.load(p)
        rows, f = z["rows"], z["feats"].astype(np.float32)
        if feats is None:
            feats = np.zeros((n_rows, *f.shape[1:]), dtype=np.float32)
        feats[rows] = f
        present[rows] = True
    if feats is None:
        raise FileNotFoundError(f"no features under {data / 'features' / condition}")
    return feats, present


def export_features(model: object, path: Path, frames: int) -> None:
    """The frame-feature part of `LiteDetector` as its own ONNX graph (onnxruntime runs it ~4× faster)."""
    import logging
    import warnings

    import torch

    class Features(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.m.features(x)  # type: ignore[operator]

    path.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    size = model.size  # type: ignore[attr-defined]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Features(model).eval(), (torch.rand(2, frames, 3, size, size),), str(path),  # type: ignore[arg-type]
                          input_names=["frames"], output_names=["features"],
                          dynamic_axes={"frames": {0: "batch"}, "features": {0: "batch"}},
                          opset_version=17, do_constant_folding=True, dynamo=False)


def main(argv: list[str] | None = None) -> int:
    import torch

    from detector.evaluate import degrade
    from detector.lite import LiteDetector
    from detector.runtime import Sampling, to_batch, video_windows
    from safety.media import read_video

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/work/data/detector")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    rows = load_rows(data)
    s = Sampling(frames=args.frames, size=args.size, max_windows=1, max_read=args.frames)
    graph = data / "features" / f"frame-features-{args.size}.onnx"
    if not graph.exists():
        export_features(LiteDetector(size=args.size).eval(), graph, args.frames)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    for cond in args.conditions.split(","):
        out = data / "features" / cond
        out.mkdir(parents=True, exist_ok=True)
        for c0 in range(0, len(rows), args.chunk):
            part = out / f"part-{c0 // args.chunk:04d}.npz"
            if part.exists():
                continue
            t0 = time.time()
            idx, wins = [], []
            for i in range(c0, min(len(rows), c0 + args.chunk)):
                try:
                    v = read_video(data / rows[i]["file"])
                    if cond == "crf28_half":
                        v = degrade(v)
                    wins.append(video_windows(v, s)[0])
                    idx.append(i)
                except Exception as exc:
                    print(f"skip {rows[i]['file']}: {exc}", flush=True)
            feats = [sess.run(["features"], {"frames": to_batch(wins[j : j + 8])})[0].astype(np.float16)
                     for j in range(0, len(wins), 8)]
            np.savez(part.with_suffix(".tmp.npz"), rows=np.array(idx), feats=np.concatenate(feats))
            part.with_suffix(".tmp.npz").replace(part)
            print(f"{cond} {c0 + len(idx)}/{len(rows)} {time.time() - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
