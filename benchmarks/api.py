"""Benchmark: the HTTP API under load, over real HTTP to `sealframe serve` on 127.0.0.1.

Measures, in one run:
  * verification latency p50/p95 for a 5 s 1280×720 upload (a sealed one and an unsigned one);
  * moderation requests/s with 1 and 8 concurrent clients;
  * generation jobs/min (jobs submitted at once, until all are sealed), with the configured generator
    (the built-in weights when present; `--generator stdit:/path` to choose).

Usage: python benchmarks/api.py [--verify-runs 10] [--moderations 200] [--jobs 4]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safety.demo import demo_clip  # noqa: E402
from safety.media import write_video  # noqa: E402

PROMPTS = [
    "a small red circle drifts left across a white background",
    "a boxer training in an empty gym at dawn",
    "a voter casting a ballot at a polling station",
    "step by step instructions to build a pipe bomb",
    "a green triangle rotating slowly on a blue background",
    "a mother bathing her baby in a small tub",
]


def start_server(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "safety.cli", "serve", "--port", str(port), "--json"],
                            env={**os.environ, "SEALFRAME_HOME": str(home), **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


FINAL = ("succeeded", "failed", "held", "rejected", "cancelled")


def run_jobs(
    url: str, headers: dict[str, str], bodies: list[dict[str, object]]
) -> tuple[dict[str, object], dict[str, str]]:
    """Submit every generation at once and poll until each is final: (summary with jobs/min, state per job)."""
    t0 = time.perf_counter()
    ids = []
    for body in bodies:
        r = httpx.post(url + "/v1/generations", headers=headers, timeout=120, json=body)
        r.raise_for_status()
        ids.append(r.json()["id"])
    states: dict[str, str] = {}
    while len(states) < len(ids):
        for job_id in ids:
            if job_id not in states:
                st = httpx.get(f"{url}/v1/generations/{job_id}", headers=headers).json()["status"]
                if st in FINAL:
                    states[job_id] = st
        time.sleep(0.3)
    wall = time.perf_counter() - t0
    counts = {s: list(states.values()).count(s) for s in sorted(set(states.values()))}
    return {"jobs": len(ids), "seconds": wall, "jobs_per_min": len(ids) / wall * 60, "states": counts}, states


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify-runs", type=int, default=10)
    ap.add_argument("--moderations", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--generator", default=os.environ.get("SEALFRAME_GENERATOR", ""))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "api.json")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sealframe-api-bench-"))
    env = {"SEALFRAME_GENERATOR": args.generator} if args.generator else {}
    proc, url = start_server(work / "home", env)
    try:
        from safety.store import open_store
        from safety.store.apikeys import create_api_key

        store = open_store(f"sqlite:///{work / 'home' / 'sealframe.db'}")
        key, _ = create_api_key(store, "admin", "bench", rate_limit_per_minute=10**7)
        h = {"Authorization": f"Bearer {key}"}
        results: dict[str, object] = {}

        # Moderation throughput.
        def moderate(i: int) -> float:
            t0 = time.perf_counter()
            r = httpx.post(url + "/v1/moderations", json={"prompt": PROMPTS[i % len(PROMPTS)]}, headers=h, timeout=60)
            r.raise_for_status()
            return time.perf_counter() - t0

        for _ in range(5):
            moderate(0)
        for clients in (1, 8):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                lat = list(pool.map(moderate, range(args.moderations)))
            wall = time.perf_counter() - t0
            results[f"moderation_c{clients}"] = {"requests": args.moderations, "rps": args.moderations / wall,
                                                 "p50_ms": pct(lat, 0.5) * 1e3, "p95_ms": pct(lat, 0.95) * 1e3}

        # Generation jobs/min: submit all at once, wait until every one is final.
        summary, states = run_jobs(url, h, [{"prompt": PROMPTS[0], "seed": i} for i in range(args.jobs)])
        results["generation"] = summary
        sealed = next((j for j, s in states.items() if s == "succeeded"), None)

        # Verification latency on a 5 s 720p upload: unsigned, and (when a job sealed one) ours re-sized.
        plain = write_video(demo_clip(seconds=5.0, width=1280, height=720, fps=24), work / "plain-720p.mp4", crf=23)
        uploads = {"unsigned 5 s 720p": plain.read_bytes()}
        if sealed:
            uploads["sealed (as delivered)"] = httpx.get(f"{url}/v1/generations/{sealed}/video", headers=h).content
        for name, data in uploads.items():
            lat = []
            for _ in range(args.verify_runs):
                t0 = time.perf_counter()
                r = httpx.post(url + "/v1/verifications", headers=h, files={"file": ("v.mp4", data, "video/mp4")},
                               timeout=300)
                r.raise_for_status()
                lat.append(time.perf_counter() - t0)
            results[f"verify {name}"] = {"bytes": len(data), "p50_ms": pct(lat, 0.5) * 1e3,
                                         "p95_ms": pct(lat, 0.95) * 1e3, "verdict": r.json()["verdict"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print("measure | value")
    print("--- | ---")
    for name, r in results.items():
        if name.startswith("moderation"):
            print(f"{name} | {r['rps']:.1f} req/s, p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms")  # type: ignore[index]
        elif name == "generation":
            print(f"generation | {r['jobs']} jobs in {r['seconds']:.1f} s = {r['jobs_per_min']:.2f} jobs/min "  # type: ignore[index]
                  f"{r['states']}")  # type: ignore[index]
        else:
            print(f"{name} | p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms ({r['verdict']})")  # type: ignore[index]
    meta = {"loadavg": Path("/proc/loadavg").read_text().split()[:3], "cpus": os.cpu_count(),
            "generator": args.generator or "built-in"}
    print(f"\nload average {' '.join(meta['loadavg'])} on {meta['cpus']} CPUs; generator {meta['generator']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
