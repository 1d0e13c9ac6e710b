"""Extract the frozen frame features of a clip corpus once, clean and after CRF 28 + true 0.5×.

    python -m detector.features --data data/detector [--frames 8 --size 224]

Reads the per-source records `<data>/items/*.json` that scripts/detector_data.py writes (picking
new ones up while the corpus is still being built), takes each clip's window exactly as
`detector.runtime` does (same `Sampling`, same resize and centre crop), runs the frame-feature part
of `detector.lite.LiteDetector` through onnxruntime, and writes `<data>/features/<condition>/<source>.npz`
(clip files and frame features (N, T, D) as float16): an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

CONDITIONS = ("clean", "crf28_half")


def load_rows(data: Path) -> list[dict[str, str]]:
    with open(data / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


def load_features(data: Path, condition: str, rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, T, D) float32, present mask (N,)) for every row of the index."""
    where = {r["file"]: i for i, r in enumerate(rows)}
    feats: np.ndarray | None = None
    present = np.zeros(len(rows), dtype=bool)
    for p in sorted((data / "features" / condition).glob("*.npz")):
        z = np.load(p)
        f = z["feats"].astype(np.float32)
        if feats is None:
            feats = np.zeros((len(rows), *f.shape[1:]), dtype=np.float32)
        for name, v in zip(z["files"], f, strict=True):
            i = where.get(str(name))
            if i is not None:
                feats[i] = v
                present[i] = True
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
    ap.add_argument("--data", default="data/detector")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--shard", default="0/1", help="k/n: this process takes every n-th source from the k-th")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    s = Sampling(frames=args.frames, size=args.size, max_windows=1, max_read=args.frames)
    graph = data / "features" / f"frame-features-{args.size}.onnx"
    if not graph.exists():
        export_features(LiteDetector(size=args.size).eval(), graph, args.frames)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
    conds = args.conditions.split(",")
    k, n_shards = (int(v) for v in args.shard.split("/"))
    for cond in conds:
        (data / "features" / cond).mkdir(parents=True, exist_ok=True)
    while True:
        todo = [p for p in sorted((data / "items").glob("*.json"))
                if int(p.stem, 16) % n_shards == k
                and not all((data / "features" / c / f"{p.stem}.npz").exists() for c in conds)]
        if not todo:
            if (data / "index.csv").exists():
                break
            time.sleep(20)  # the corpus is still being built: pick up new sources as they land
            continue
        t0 = time.time()
        todo = todo[:20]  # report progress every 20 sources
        for item in todo:
            clips = json.loads(item.read_text())["clips"]
            for cond in conds:
                names, wins = [], []
                for c in clips:
                    try:
                        v = read_video(data / c["file"])
                        if cond == "crf28_half":
                            v = degrade(v)
                        wins.append(video_windows(v, s)[0])
                        names.append(c["file"])
                    except Exception as exc:
                        print(f"skip {c['file']}: {exc}", flush=True)
                feats = (np.concatenate([sess.run(["features"], {"frames": to_batch(wins[j : j + 8])})[0]
                                         for j in range(0, len(wins), 8)]).astype(np.float16)
                         if wins else np.zeros((0, args.frames, 1), np.float16))
                tmp = data / "features" / cond / f"{item.stem}.tmp.npz"
                np.savez(tmp, files=np.array(names), feats=feats)
                tmp.replace(data / "features" / cond / f"{item.stem}.npz")
        print(f"{len(todo)} sources in {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
