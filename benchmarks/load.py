"""Load on one `sealframe serve` over loopback: moderation, 720p and 4K verification, and the server's peak RSS.

    nice -n 10 python -m benchmarks.load --out data/load      (prints a table, writes load.json)

Three scenarios, each on a fresh server (127.0.0.1, its own home): 16 clients moderating for
`--seconds`; 4 clients verifying 1280×720 uploads; 4 clients verifying 3840×2160 uploads (100
frames, the shape that took 4.6 GB before decoding was bounded). Every client has its own API key;
an answer 429/503 with Retry-After is honoured and counted as `deferred`, not as an error. The
server's RSS is sampled every 100 ms; `peak_rss_mb` is the largest sample (VmHWM at the end
agrees). Bounded: clients stop at the deadline, each request has a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx

PROMPTS = ["a red kite over a quiet beach at dawn", "a cat asleep on a windowsill in the rain",
           "time-lapse of clouds over mountains", "a chef slicing vegetables in a busy kitchen",
           "a paper boat drifting down a gutter stream", "city traffic at night, long exposure"]


def write_clip(path: Path, width: int, height: int, frames: int, fps: int = 25, crf: int = 30) -> Path:
    """A smooth moving gradient, encoded frame by frame (never held whole in memory); an existing
    file at `path` is reused. tests/test_security_memory.py writes its large clips with it too."""
    import av
    import numpy as np

    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(tmp), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"crf": str(crf), "preset": "ultrafast"}
        yy, xx = np.mgrid[0:height:8, 0:width:8]
        base = ((xx * 255 // width + yy * 255 // height) // 2).astype(np.uint8)
        for t in range(frames):
            img = np.repeat(np.repeat(np.roll(base, 2 * t, axis=1), 8, 0), 8, 1)[:height, :width]
            rgb = np.ascontiguousarray(np.stack([img, img // 2 + 40, 255 - img], -1))
            for p in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    tmp.replace(path)
    return path


class Server:
    def __init__(self, home: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        env = {**os.environ, "SEALFRAME_HOME": str(home),
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        self.log = (home.parent / f"{home.name}.log").open("w")
        self.proc = subprocess.Popen([sys.executable, "-m", "safety.cli", "serve", "--port", str(self.port),
                                      "--json"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("server did not start")
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _status(self, field_name: str) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            self.samples.append(self._status("VmRSS"))
            time.sleep(0.1)

    def key(self, role: str) -> str:
        from safety.store import open_store
        from safety.store.apikeys import create_api_key

        secret, _ = create_api_key(open_store(f"sqlite:///{self.home / 'sealframe.db'}"), role, "load", 100_000)
        return secret

    def stop(self) -> dict[str, float]:
        hwm = self._status("VmHWM")
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        return {"peak_rss_mb": round(max(self.samples, default=0.0), 1), "vm_hwm_mb": round(hwm, 1),
                "start_rss_mb": round(self.samples[0], 1) if self.samples else 0.0}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


def client_loop(send: Any, deadline: float, tally: Tally, max_requests: int | None) -> None:
    done = 0
    while time.monotonic() < deadline and (max_requests is None or done < max_requests):
        start = time.monotonic()
        try:
            r = send()
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            continue
        if r.status_code in (429, 503) and "retry-after" in r.headers:
            with tally.lock:
                tally.deferred += 1
            time.sleep(min(float(r.headers["retry-after"]), max(0.0, deadline - time.monotonic())))
            continue
        if r.status_code != 200:
            tally.error(str(r.status_code))
        else:
            with tally.lock:
                tally.latencies.append(time.monotonic() - start)
        done += 1


def run_scenario(name: str, root: Path, clients: int, seconds: float, make_send: Any,
                 max_requests: int | None = None) -> dict[str, Any]:
    server = Server(root / f"home-{name}")
    try:
        sends = [make_send(server, server.key("client")) for _ in range(clients)]
        # one request first: loads the moderation model or the detector, outside the timing
        sends[0]()
        tally = Tally()
        start = time.monotonic()
        deadline = start + seconds
        threads = [threading.Thread(target=client_loop, args=(s, deadline, tally, max_requests)) for s in sends]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
    finally:
        mem = server.stop()
    lat = sorted(tally.latencies)

    def pct(q: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else None

    return {"scenario": name, "clients": clients, "seconds": round(wall, 1), "ok": len(lat),
            "throughput_per_s": round(len(lat) / wall, 2) if wall else 0.0,
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
            "errors": tally.errors, "deferred": tally.deferred, **mem}


def moderation_send(server: Server, key: str) -> Any:
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    counter = iter(range(10**9))
    return lambda: client.post("/v1/moderations", json={"prompt": PROMPTS[next(counter) % len(PROMPTS)]})


def verify_send(clip: Path) -> Any:
    data = clip.read_bytes()

    def make(server: Server, key: str) -> Any:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=600)
        return lambda: client.post("/v1/verifications", files={"file": (clip.name, data, "video/mp4")})

    return make


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("data/load"))
    ap.add_argument("--seconds", type=float, default=60.0, help="Duration of each scenario.")
    ap.add_argument("--verify-requests", type=int, default=3, help="Uploads per verifying client (at most).")
    ap.add_argument("--only", choices=["moderation", "verify-720p", "verify-4k"], action="append")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = args.out / "clips"
    clips.mkdir(exist_ok=True)
    hd = write_clip(clips / "720p-48f.mp4", 1280, 720, 48)
    uhd = write_clip(clips / "2160p-100f.mp4", 3840, 2160, 100)
    scenarios = {
        "moderation": lambda: run_scenario("moderation", args.out, 16, args.seconds, moderation_send),
        "verify-720p": lambda: run_scenario("verify-720p", args.out, 4, args.seconds * 5, verify_send(hd),
                                            args.verify_requests),
        "verify-4k": lambda: run_scenario("verify-4k", args.out, 4, args.seconds * 10, verify_send(uhd),
                                          args.verify_requests),
    }
    results = []
    for name in args.only or list(scenarios):
        results.append(scenarios[name]())
        r = results[-1]
        print(f"{r['scenario']:<12} clients {r['clients']:>2}  ok {r['ok']:>5}  {r['throughput_per_s']:>7}/s  "
              f"p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  p99 {r['p99_ms']} ms  errors {r['errors']}  "
              f"deferred {r['deferred']}  server peak RSS {r['peak_rss_mb']} MB (VmHWM {r['vm_hwm_mb']})",
              flush=True)
    (args.out / "load.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
