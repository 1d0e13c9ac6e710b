"""Benchmark: the scale-out deployment (scripts/stack: PostgreSQL, Redis + Celery, SeaweedFS S3).

Measures, in one run, over real HTTP to `sealframe serve` processes on 127.0.0.1:
  * moderation requests/s with 1 and 2 API processes (8 concurrent clients, spread over the processes);
  * generation jobs/min with 1 and 2 `sealframe worker` processes (jobs submitted at once, until final);
  * verification latency p50/p95 on PostgreSQL (scale-out) against SQLite (the embedded default).
The scaling ratio is reported beside the number of CPUs: on a 2-core machine two processes can at
best double a CPU-bound rate, and less when anything else runs (record the load average).

Usage: python benchmarks/scale.py [--moderations 200] [--jobs 6] [--verify-runs 10] [--generator stdit:/path]
Default generator: a tiny random STDiT exported here (the stages around it are what is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.api import PROMPTS, pct, run_jobs, start_server  # noqa: E402
from safety.demo import demo_clip  # noqa: E402
from safety.media import write_video  # noqa: E402


def stack(cmd: str, folder: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "stack"), cmd], capture_output=True, text=True,
                         env={**os.environ, "SEALFRAME_STACK_DIR": folder}, timeout=180)
    if out.returncode != 0:
        raise SystemExit(f"scripts/stack {cmd} failed:\n{out.stderr}")
    return out.stdout


def tiny_generator(folder: Path) -> str:
    import torch

    from generator.stdit.checkpoint import export_weights
    from generator.stdit.model import STDiT, STDiTConfig

    torch.manual_seed(0)
    model = STDiT(STDiTConfig(frames=8, height=64, width=64, hidden=32, depth=1, heads=2)).eval()
    path = folder / "tiny-stdit.safetensors"
    export_weights(path, model, {"id": "stdit-tiny-random", "version": "bench"})
    return f"stdit:{path}"


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("w")
    proc = subprocess.Popen([sys.executable, "-m", "safety.cli", "worker"], env={**os.environ, **env},
                            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 180
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker did not start: {log}")
        time.sleep(0.2)
    return proc


def moderation_rps(urls: list[str], headers: dict[str, str], n: int, clients: int = 8) -> dict[str, float]:
    def one(i: int) -> float:
        t0 = time.perf_counter()
        r = httpx.post(urls[i % len(urls)] + "/v1/moderations", json={"prompt": PROMPTS[i % len(PROMPTS)]},
                       headers=headers, timeout=120)
        r.raise_for_status()
        return time.perf_counter() - t0

    for i in range(4 * len(urls)):
        one(i)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    return {"requests": n, "rps": n / wall, "p50_ms": pct(lat, 0.5) * 1e3, "p95_ms": pct(lat, 0.95) * 1e3}


def jobs_per_min(url: str, headers: dict[str, str], jobs: int, seed0: int) -> dict[str, object]:
    bodies: list[dict[str, object]] = [
        {"prompt": PROMPTS[0], "seed": seed0 + i, "frames": 8, "width": 64, "height": 64, "steps": 4}
        for i in range(jobs)
    ]
    return run_jobs(url, headers, bodies)[0]


def verify_latency(url: str, headers: dict[str, str], data: bytes, runs: int) -> dict[str, float]:
    lat = []
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        r = httpx.post(url + "/v1/verifications", headers=headers, files={"file": ("v.mp4", data, "video/mp4")},
                       timeout=300)
        r.raise_for_status()
        lat.append(time.perf_counter() - t0)
    lat = lat[1:]  # the first loads the detector
    return {"runs": runs, "p50_ms": pct(lat, 0.5) * 1e3, "p95_ms": pct(lat, 0.95) * 1e3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moderations", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--verify-runs", type=int, default=10)
    ap.add_argument("--generator", default="")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    args = ap.parse_args()

    from safety.store import open_store
    from safety.store.apikeys import create_api_key

    work = Path(tempfile.mkdtemp(prefix="sealframe-scale-bench-"))
    folder = tempfile.mkdtemp(prefix="sealframe-stack-bench-", dir="/tmp")
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    t_stack = time.perf_counter()
    exports = dict(line.removeprefix("export ").split("=", 1) for line in stack("up", folder).splitlines())
    t_stack = time.perf_counter() - t_stack
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, dict[str, object]] = {}
    try:
        generator = args.generator or tiny_generator(work)
        env = {**exports, "SEALFRAME_GENERATOR": generator, "SEALFRAME_HOME": str(work / "home")}
        api1, url1 = start_server(work / "home", env)
        procs.append(api1)
        api2, url2 = start_server(work / "home", env)
        procs.append(api2)
        key, _ = create_api_key(open_store(env["SEALFRAME_DATABASE_URL"]), "admin", "bench", 10**7)
        h = {"Authorization": f"Bearer {key}"}

        results["moderation, 1 API process"] = moderation_rps([url1], h, args.moderations)
        results["moderation, 2 API processes"] = moderation_rps([url1, url2], h, args.moderations)

        procs.append(start_worker(env, work / "worker1.log"))
        results["generation, 1 worker"] = jobs_per_min(url1, h, args.jobs, 0)
        procs.append(start_worker(env, work / "worker2.log"))
        results["generation, 2 workers"] = jobs_per_min(url1, h, args.jobs, 1000)

        clip_video = demo_clip(seconds=2.0, width=640, height=360, fps=24)
        clip = write_video(clip_video, work / "clip.mp4", crf=23).read_bytes()
        results["verify on PostgreSQL (scale-out)"] = verify_latency(url1, h, clip, args.verify_runs)
        lite_home = work / "sqlite-home"
        lite, lite_url = start_server(lite_home, {"SEALFRAME_GENERATOR": generator})
        procs.append(lite)
        lite_key, _ = create_api_key(open_store(f"sqlite:///{lite_home / 'sealframe.db'}"), "admin", "b", 10**7)
        results["verify on SQLite (embedded)"] = verify_latency(lite_url, {"Authorization": f"Bearer {lite_key}"},
                                                                 clip, args.verify_runs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        stack("down", folder)

    def ratio(a: str, b: str, field: str) -> float:
        return float(results[b][field]) / float(results[a][field])  # type: ignore[arg-type]

    scaling = {
        "moderation 2 API / 1 API": ratio("moderation, 1 API process", "moderation, 2 API processes", "rps"),
        "generation 2 workers / 1 worker": ratio("generation, 1 worker", "generation, 2 workers", "jobs_per_min"),
        "verify p95 PostgreSQL / SQLite": ratio("verify on SQLite (embedded)", "verify on PostgreSQL (scale-out)",
                                                "p95_ms"),
    }
    print("measure | value")
    print("--- | ---")
    for name, r in results.items():
        if "rps" in r:
            print(f"{name} | {r['rps']:.1f} req/s, p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms")
        elif "jobs_per_min" in r:
            print(f"{name} | {r['jobs']} jobs in {r['seconds']:.1f} s = {r['jobs_per_min']:.1f} jobs/min {r['states']}")
        else:
            print(f"{name} | p50 {r['p50_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms ({r['runs']} runs)")
    for name, value in scaling.items():
        print(f"ratio {name} | {value:.2f}×")
    meta = {"cpus": os.cpu_count(), "loadavg_before": load_before,
            "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
            "generator": args.generator or "tiny random STDiT",
            "stack_up_s": round(t_stack, 1)}
    print(f"\n{meta['cpus']} CPUs; load average before {' '.join(load_before)}, after "
          f"{' '.join(meta['loadavg_after'])}; stack up in {meta['stack_up_s']} s. Two processes can at most "
          f"double a CPU-bound rate on 2 cores; every process here competes for the same cores (and with "
          f"anything else running), so a ratio near 1 means the cores, not the design, are the limit.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "results": results, "scaling": scaling}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
