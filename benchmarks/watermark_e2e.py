"""Watermark end to end: `sealframe watermark embed/extract` and `sealframe verify` through the CLI.

    python benchmarks/watermark_e2e.py                  # 10 s speed clip, 20 s and 2 min memory, 60 s verify
    python benchmarks/watermark_e2e.py --long 60        # a shorter "long" clip

Each command runs in its own process under /usr/bin/time (wall s, CPU s = user + system of the
process and its threads, peak RSS). Sources are 1280×720, 30 frames/s: a photograph (scikit-image's
`coffee`) seen through a panning, slowly zooming camera, written frame by frame. Beside the CLI:
the floor (a plain PyAV decode + x264 re-encode of the same clip at the delivery preset and CRF),
the inner loop (`embed` on 48 frames in memory) and the reader alone on an unmarked upload (the
first 96 frames, luma, after imports). Frames per CPU-second are the figures that do not depend on
other jobs on a shared machine; wall-clock frames/s are printed beside them. JSON goes to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safety.media import Video, VideoWriter  # noqa: E402
from safety.watermark import embed  # noqa: E402
from safety.watermark.stream import DELIVERY_PRESET  # noqa: E402

PAYLOAD = "a5c3f00f12345678"
W, H, FPS = 1280, 720, 30.0
PY = sys.executable


class Camera:
    """Frame t of a pan with slow zoom over a photograph, 1280×720."""

    def __init__(self, seed: int = 0) -> None:
        import skimage.data as sd

        src = sd.coffee() if seed == 0 else sd.astronaut()
        scale = 1.6 * max(W / src.shape[1], H / src.shape[0])
        size = (int(src.shape[1] * scale), int(src.shape[0] * scale))
        self.big = cv2.resize(src, size, interpolation=cv2.INTER_CUBIC)

    def __call__(self, t: int) -> np.ndarray:
        bh, bw = self.big.shape[:2]
        phase = (t % 600) / 600.0  # a 20 s back-and-forth pan
        x = (bw - W) * (0.5 - 0.4 * np.cos(2 * np.pi * phase))
        y = (bh - H) * (0.5 - 0.3 * np.sin(2 * np.pi * phase))
        z = 1.0 + 0.05 * np.sin(2 * np.pi * phase)
        m = np.array([[z, 0, -x * z + (1 - z) * W / 2], [0, z, -y * z + (1 - z) * H / 2]], np.float32)
        return np.asarray(cv2.warpAffine(self.big, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))


def write_source(path: Path, seconds: float, camera: Camera, marked: dict[int, np.ndarray] | None = None) -> Path:
    writer = VideoWriter(path, W, H, FPS, crf=18, preset="veryfast")
    for t in range(round(seconds * FPS)):
        writer.write(marked[t] if marked and t in marked else camera(t))
    return writer.close()


def timed(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run under /usr/bin/time: wall s, CPU s (user + system), peak RSS MB, stdout."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %U %S %M", *args], env=env,
                              capture_output=True, text=True, check=False)
        wall, user, system, rss = tf.read().split()[-4:]
    if proc.returncode not in (0,):
        raise RuntimeError(f"{args[:4]} exited {proc.returncode}: {proc.stderr[-500:]}")
    return {"wall_s": float(wall), "cpu_s": float(user) + float(system), "peak_mb": int(rss) / 1024,
            "stdout": proc.stdout}


FLOOR = """
import sys, av
src, dst, crf, preset = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with av.open(src) as inp, av.open(dst, "w", format="mp4") as out:
    s = inp.streams.video[0]; s.thread_type = "AUTO"
    o = out.add_stream("libx264", rate=s.average_rate); o.width, o.height, o.pix_fmt = s.width, s.height, "yuv420p"
    o.options = {"crf": crf, "preset": preset}
    for f in inp.decode(s):
        for p in o.encode(f.reformat(format="yuv420p")): out.mux(p)
    for p in o.encode(): out.mux(p)
"""

READER = """
import sys, time
from safety.watermark.stream import extract_file
from safety.media import default_limits
key = bytes(range(32)); lim = default_limits()
extract_file(sys.argv[1], key, limits=lim, max_frames=8)  # warm: imports, layouts, FFT plans
c = time.process_time(); r = extract_file(sys.argv[1], key, limits=lim, max_frames=96)
print(time.process_time() - c, r.found, r.p_value)
"""

IMPORTS = "import safety.cli, safety.watermark.stream, safety.media; safety.media.default_limits()"


def inner_loop(camera: Camera, frames: int = 48) -> dict[str, float]:
    clip = Video(np.stack([camera(t) for t in range(frames)]), FPS)
    key = bytes(range(32))
    c, t = time.process_time(), time.perf_counter()
    embed(clip, bytes.fromhex(PAYLOAD), key)
    return {"fps_cpu": frames / (time.process_time() - c), "fps_wall": frames / (time.perf_counter() - t)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed-seconds", type=float, default=10.0)
    ap.add_argument("--memory-seconds", type=float, nargs="+", default=[20.0, 120.0])
    ap.add_argument("--verify-seconds", type=float, default=60.0)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "sealframe-wm-e2e")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEALFRAME_HOME": str(args.work / "home")}
    cli = [PY, "-m", "safety.cli"]
    camera = Camera()
    res: dict[str, Any] = {"argv": sys.argv, "loadavg_start": os.getloadavg(), "preset": DELIVERY_PRESET}
    base = timed([PY, "-c", IMPORTS], env)
    res["imports"] = {k: base[k] for k in ("wall_s", "cpu_s", "peak_mb")}

    src = write_source(args.work / "speed.mp4", args.speed_seconds, camera)
    n = round(args.speed_seconds * FPS)
    floor = timed([PY, "-c", FLOOR, str(src), str(args.work / "floor.mp4"), "18", DELIVERY_PRESET], env)
    emb = timed([*cli, "watermark", "embed", str(src), str(args.work / "m.mp4"), "--payload", PAYLOAD, "--json"], env)
    ext = timed([*cli, "watermark", "extract", str(args.work / "m.mp4"), "--json"], env)
    unm = timed([*cli, "watermark", "extract", str(src), "--json"], env)
    found = json.loads(ext["stdout"])
    reader = timed([PY, "-c", READER, str(src)], env)
    res["speed"] = {
        "frames": n,
        "floor": {**{k: floor[k] for k in ("wall_s", "cpu_s", "peak_mb")}, "fps_cpu": n / floor["cpu_s"]},
        "cli_embed": {**{k: emb[k] for k in ("wall_s", "cpu_s", "peak_mb")}, "fps_cpu": n / emb["cpu_s"],
                      "fps_cpu_minus_imports": n / (emb["cpu_s"] - base["cpu_s"])},
        "cli_extract_marked": {**{k: ext[k] for k in ("wall_s", "cpu_s", "peak_mb")}, "fps_cpu": n / ext["cpu_s"],
                               "fps_cpu_minus_imports": n / (ext["cpu_s"] - base["cpu_s"]),
                               "found": found["found"], "payload_ok": found["payload"] == PAYLOAD},
        "cli_extract_unmarked": {**{k: unm[k] for k in ("wall_s", "cpu_s", "peak_mb")},
                                 "found": json.loads(unm["stdout"])["found"]},
        "reader_unmarked_96_frames_cpu_s": float(reader["stdout"].split()[0]),
        "inner_loop_48_frames": inner_loop(camera),
    }
    print(json.dumps(res["speed"], indent=1), flush=True)

    res["memory"] = {}
    for seconds in args.memory_seconds:
        path = write_source(args.work / f"mem{seconds:g}.mp4", seconds, camera)
        e = timed([*cli, "watermark", "embed", str(path), str(args.work / f"mem{seconds:g}-m.mp4"), "--payload",
                   PAYLOAD], env)
        x = timed([*cli, "watermark", "extract", str(args.work / f"mem{seconds:g}-m.mp4"), "--json"], env)
        res["memory"][f"{seconds:g}s"] = {"embed_peak_mb": e["peak_mb"], "extract_peak_mb": x["peak_mb"],
                                          "embed_cpu_s": e["cpu_s"], "extract_cpu_s": x["cpu_s"],
                                          "found": json.loads(x["stdout"])["found"]}
        print(seconds, json.dumps(res["memory"][f"{seconds:g}s"]), flush=True)
        path.unlink()
        (args.work / f"mem{seconds:g}-m.mp4").unlink()

    # A 3 s marked segment in the middle of an unmarked video, through `sealframe verify`.
    key_path = args.work / "home" / "keys" / "watermark.key"
    key = key_path.read_bytes()
    mid = round(args.verify_seconds * FPS / 2)
    seg = Video(np.stack([camera(t) for t in range(mid, mid + 90)]), FPS)
    marked = embed(seg, bytes.fromhex(PAYLOAD), key)
    long = write_source(args.work / "long.mp4", args.verify_seconds, camera,
                        {mid + i: f for i, f in enumerate(marked.frames)})
    del seg, marked
    ver = timed([*cli, "verify", str(long), "--json"], env)
    report = json.loads(ver["stdout"])
    res["verify_segment"] = {"seconds": args.verify_seconds, "segment": [mid, mid + 89],
                             "found": report["watermark"]["found"], "payload": report["watermark"]["payload"],
                             "p_value": report["watermark"]["p_value"], "wall_s": ver["wall_s"],
                             "cpu_s": ver["cpu_s"], "peak_mb": ver["peak_mb"]}
    print(json.dumps(res["verify_segment"]), flush=True)
    res["loadavg_end"] = os.getloadavg()
    table = summarise(res)
    res["table"] = table
    path = args.out / f"watermark-e2e-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(res, indent=1))
    print(table)
    print(f"load average {res['loadavg_start']} → {res['loadavg_end']}; JSON: {path}")
    return 0


def summarise(res: dict[str, Any]) -> str:
    s = res["speed"]
    n = s["frames"]
    rows = [
        "| 720p, 30 frames/s | frames/CPU-s | frames/s wall | CPU s | peak MB |",
        "|---|---|---|---|---|",
        f"| floor: PyAV decode + x264 {res['preset']} CRF 18 | {s['floor']['fps_cpu']:.1f} | "
        f"{n / s['floor']['wall_s']:.1f} | {s['floor']['cpu_s']:.1f} | {s['floor']['peak_mb']:.0f} |",
        f"| `sealframe watermark embed` | {s['cli_embed']['fps_cpu']:.1f} "
        f"({s['cli_embed']['fps_cpu_minus_imports']:.1f} without imports) | {n / s['cli_embed']['wall_s']:.1f} | "
        f"{s['cli_embed']['cpu_s']:.1f} | {s['cli_embed']['peak_mb']:.0f} |",
        f"| inner loop (`embed`, 48 frames in memory) | {s['inner_loop_48_frames']['fps_cpu']:.1f} | "
        f"{s['inner_loop_48_frames']['fps_wall']:.1f} | – | – |",
        f"| `sealframe watermark extract` (marked: found {s['cli_extract_marked']['found']}) | "
        f"{s['cli_extract_marked']['fps_cpu']:.1f} ({s['cli_extract_marked']['fps_cpu_minus_imports']:.1f} without "
        f"imports) | {n / s['cli_extract_marked']['wall_s']:.1f} | {s['cli_extract_marked']['cpu_s']:.1f} | "
        f"{s['cli_extract_marked']['peak_mb']:.0f} |",
        f"| `sealframe watermark extract` (unmarked: found {s['cli_extract_unmarked']['found']}) | – | – | "
        f"{s['cli_extract_unmarked']['cpu_s']:.1f} | {s['cli_extract_unmarked']['peak_mb']:.0f} |",
        f"| reader alone, unmarked, first 96 frames | – | – | {s['reader_unmarked_96_frames_cpu_s']:.2f} | – |",
        f"| Python start + imports | – | – | {res['imports']['cpu_s']:.1f} | {res['imports']['peak_mb']:.0f} |",
        "",
        "| clip | embed peak MB | extract peak MB | embed CPU s | extract CPU s | found |",
        "|---|---|---|---|---|---|",
    ]
    for k, m in res["memory"].items():
        rows.append(f"| {k} 720p | {m['embed_peak_mb']:.0f} | {m['extract_peak_mb']:.0f} | {m['embed_cpu_s']:.0f} | "
                    f"{m['extract_cpu_s']:.0f} | {m['found']} |")
    v = res["verify_segment"]
    rows += ["", f"`sealframe verify` on {v['seconds']:g} s of 720p with a 3 s marked segment at frames "
             f"{v['segment'][0]}–{v['segment'][1]}: found {v['found']} (p = {v['p_value']:.1e}), "
             f"{v['cpu_s']:.0f} CPU s, {v['wall_s']:.0f} s wall, peak {v['peak_mb']:.0f} MB"]
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
