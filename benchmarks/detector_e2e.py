"""Detector end to end on 720p uploads: decode + resize + network, clips/s, with the committed card.

    python benchmarks/detector_e2e.py [--clips 12] [--threads 2] [--card detector/weights/card.yaml]

Writes `--clips` 1280×720 H.264 uploads (3 s at 25 fps, a moving, textured scene) to a temporary
folder, then scores them with `Detector.from_card` exactly as `sealframe detect` does (decode
through `safety.media.read_video` with the card's `max_read`, resize, centre crop, onnxruntime),
one upload at a time and in one batch. It also times the decode alone, and the decode the
previous runtime did (128 frames). Beside wall-clock clips/s it reports CPU seconds per clip
(this process, all its threads): on a shared machine wall-clock figures depend on the load, the
CPU cost does not. Prints a table and writes benchmarks/results/detector_e2e.json
(git-ignored) with the load average: on a shared machine the figures are pessimistic.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.runtime import DEFAULT_CARD, Detector
from safety.media import Video, read_video, write_video


def make_upload(path: Path, seed: int, seconds: float = 3.0, fps: int = 25) -> Path:
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    base = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(base, 4, axis=0), 4, axis=1)  # 1440×2560 texture to pan over
    frames = np.empty((n, 720, 1280, 3), np.uint8)
    for t in range(n):
        y0, x0 = 20 + t * 3, 40 + t * 5
        frames[t] = base[y0 : y0 + 720, x0 : x0 + 1280]
    return write_video(Video(frames, float(fps)), path, crf=23)


def timed(fn: object, repeats: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of one call."""
    assert callable(fn)
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def row(engine: str, mode: str, n: int, t: tuple[float, float]) -> dict[str, object]:
    return {"engine": engine, "mode": mode, "clips_per_s": round(n / t[0], 2), "cpu_s_per_clip": round(t[1] / n, 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--card", default=str(DEFAULT_CARD))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "detector_e2e.json")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sealframe-det-bench-") as tmp:
        paths = [make_upload(Path(tmp) / f"u{i}.mp4", i) for i in range(args.clips)]
        providers = [["CPUExecutionProvider"]]
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            providers.append(["CUDAExecutionProvider"])
        for prov in providers:
            det = Detector.from_card(args.card, providers=prov, threads=args.threads)
            engine = det.providers[0]
            n = len(paths)
            rows.append(row(engine, "one upload at a time", n,
                            timed(lambda d=det: [d.score_path(p) for p in paths], args.repeats)))
            rows.append(row(engine, "one batch", n, timed(lambda d=det: d.score_paths(paths), args.repeats)))
            vids = [det.read(p) for p in paths]
            rows.append(row(engine, "network + resize only (decoded)", n,
                            timed(lambda d=det, v=vids: d.score_videos(v), args.repeats)))
        rows.append(row("-", f"decode only, {det.sampling.max_read} frames", n,
                        timed(lambda: [read_video(p, max_frames=det.sampling.max_read) for p in paths], args.repeats)))
        rows.append(row("-", "decode only, 128 frames (previous runtime)", n,
                        timed(lambda: [read_video(p, max_frames=128) for p in paths], 1)))
    load = os.getloadavg()
    print(f"{'engine':26s} {'mode':42s} {'clips/s':>8s} {'CPU s/clip':>10s}")
    for r in rows:
        print(f"{r['engine']:26s} {r['mode']:42s} {r['clips_per_s']:>8.2f} {r['cpu_s_per_clip']:>10.3f}")
    print(f"model {det.model_id}; 1280×720 H.264 uploads; load average {load[0]:.2f} on {os.cpu_count()} CPUs, "
          f"{args.threads} threads")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": det.model_id, "threads": args.threads, "clips": args.clips,
                                    "loadavg": [round(v, 2) for v in load], "cpus": os.cpu_count(),
                                    "machine": platform.processor() or platform.machine(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
