"""Mutated-video fuzzing of verification: every file must get a report or a one-line 4xx, never an internal error.

    python -m benchmarks.fuzz_media --count 300 --out data/fuzz-media   (prints a table, writes JSON)

Seeds are our own clips, made here (an H.264 MP4, the same clip C2PA-signed, an MJPEG AVI);
mutants are made from them deterministically (seeded; the signed seed's signature, and so its
mutants, change with the home's dev key): bit flips, overwritten spans, truncation,
corrupted MP4 box sizes, duplicated spans and splices of two seeds. Each mutant goes through
`Verifier.verify` in a worker process under an address-space rlimit, with a timeout per file; a
worker that dies or overruns is replaced and the file is counted as a crash or a timeout. Outcome
classes: `report` (a verification report), `refused` (a SealFrameError: CLI exit 4, HTTP 4xx),
`internal` (any other exception: a bug), `timeout`, `crash`. tests/test_fuzz_media.py runs a
small corpus in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

BOXES = (b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl", b"stsd",
         b"avc1", b"avcC", b"stts", b"stss", b"stsc", b"stsz", b"stco", b"co64", b"mdat", b"uuid", b"jumb",
         b"jumd", b"udta", b"edts", b"elst")
MUTATIONS = ("flip", "overwrite", "truncate", "box_size", "box_field", "duplicate", "splice")
AS_LIMIT = 6 << 30  # address space per worker: onnxruntime and torch reserve far more than they touch


def make_seeds(folder: Path) -> list[Path]:
    """Three small real clips: plain H.264 MP4, the same clip C2PA-signed, an MJPEG AVI."""
    import av
    import numpy as np

    from safety.media import Video, write_video
    from safety.provenance import ManifestSpec, credentials_from_settings, sign_file
    from safety.settings import get_settings

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    base = np.kron(rng.integers(0, 256, (14, 18, 3)).astype(np.float32), np.ones((8, 8, 1)))
    frames = np.stack([np.clip(base[t % 8: t % 8 + 96, 0:128], 0, 255) for t in range(12)]).astype(np.uint8)
    plain = write_video(Video(frames, 12.0), folder / "seed-plain.mp4", crf=28)
    signed = sign_file(plain, folder / "seed-signed.mp4", ManifestSpec(title="fuzz seed", model_id="fuzz"),
                       credentials_from_settings(get_settings())).path
    avi = folder / "seed-mjpeg.avi"
    with av.open(str(avi), "w") as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = 128, 96, "yuvj420p"
        for f in frames[:6]:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return [plain, Path(signed), avi]


def _box_offsets(data: bytes) -> list[int]:
    return [i - 4 for box in BOXES for i in _find_all(data, box) if i >= 4]


def _find_all(data: bytes, needle: bytes) -> list[int]:
    out, at = [], data.find(needle)
    while at >= 0 and len(out) < 64:
        out.append(at)
        at = data.find(needle, at + 1)
    return out


def mutate(data: bytes, other: bytes, rng: random.Random, kind: str) -> bytes:
    """One deterministic mutant of `data` (`other` is a second seed, for splices)."""
    b = bytearray(data)
    n = len(b)
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        at, size = rng.randrange(n), rng.randint(1, 64)
        fill = rng.choice([b"\0", b"\xff", None])
        chunk = bytes(rng.randrange(256) for _ in range(size)) if fill is None else fill * size
        b[at:at + size] = chunk[: max(0, min(size, n - at))]
    elif kind == "truncate":
        del b[rng.randint(1, n - 1):]
    elif kind in ("box_size", "box_field"):
        offsets = _box_offsets(data) or [0]
        at = rng.choice(offsets)
        if kind == "box_size":
            value = rng.choice([0, 1, 7, 8, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << 32)])
            struct.pack_into(">I", b, at, value)
        else:  # a count or size field just after the box header (entry counts, dimensions)
            field = at + 8 + 4 * rng.randint(0, 6)
            if field + 4 <= n:
                value = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 1 << 20, rng.randrange(1 << 32)])
                struct.pack_into(">I", b, field, value)
    elif kind == "duplicate":
        at, size = rng.randrange(n), rng.randint(1, 4096)
        b[at:at] = b[at:at + size]
    elif kind == "splice":
        cut = rng.randrange(1, n)
        b = b[:cut] + bytearray(other[rng.randrange(len(other)):])
    return bytes(b)


def make_corpus(seeds: list[Path], folder: Path, count: int, seed: int = 0) -> list[tuple[Path, str]]:
    """`count` mutants of `seeds` written under `folder` (the same files for the same arguments)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    blobs = [p.read_bytes() for p in seeds]
    out = []
    for i in range(count):
        kind = MUTATIONS[i % len(MUTATIONS)]
        j = rng.randrange(len(blobs))
        data = mutate(blobs[j], blobs[(j + 1) % len(blobs)], rng, kind)
        path = folder / f"{i:04d}-{kind}-{seeds[j].stem}{seeds[j].suffix}"
        path.write_bytes(data)
        out.append((path, kind))
    return out


def _worker() -> None:
    """Read paths from stdin, verify each, print one JSON outcome line each."""
    from safety.api.state import AppState
    from safety.errors import SealFrameError
    from safety.settings import get_settings

    verifier = AppState(get_settings()).verifier
    for line in sys.stdin:
        path = line.strip()
        try:
            report = verifier.verify(path)
            outcome: dict[str, Any] = {"class": "report", "verdict": report.verdict}
        except SealFrameError as exc:
            outcome = {"class": "refused", "status": exc.http_status, "exit": exc.exit_code, "reason": str(exc)}
        except MemoryError:
            outcome = {"class": "crash", "reason": "MemoryError"}
        except Exception as exc:  # what the fuzzing is for: a bug
            outcome = {"class": "internal", "reason": f"{type(exc).__name__}: {exc}"[:300]}
        outcome["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(outcome), flush=True)


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, it does not carry the forking parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Worker:
    def __init__(self, env: dict[str, str], as_limit: int) -> None:
        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))

        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.fuzz_media", "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, preexec_fn=limit)

    def run(self, path: Path, timeout: float) -> dict[str, Any]:
        import selectors

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            self.proc.kill()
            return {"class": "timeout", "reason": f"no answer in {timeout:g} s"}
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            return {"class": "crash", "reason": f"worker exited with {code}"}
        result: dict[str, Any] = json.loads(line)
        return result

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


def run_corpus(files: list[tuple[Path, str]], env: dict[str, str], timeout: float = 60.0,
               as_limit: int = AS_LIMIT) -> dict[str, Any]:
    """Verify every file in workers; the summary has counts by class and by mutation, and the peak RSS."""
    worker = Worker(env, as_limit)
    rows = []
    started = time.monotonic()
    # The first file also pays for loading the detector and keys.
    for path, kind in files:
        if not worker.alive:
            worker = Worker(env, as_limit)
        outcome = worker.run(path, timeout)
        rows.append({"file": path.name, "mutation": kind, **outcome})
        if len(rows) % 50 == 0:
            print(f"  {len(rows)}/{len(files)} files, {dict(Counter(r['class'] for r in rows))}", file=sys.stderr,
                  flush=True)
    worker.close()
    by_class = Counter(r["class"] for r in rows)
    by_mutation: dict[str, Counter[str]] = {}
    for r in rows:
        by_mutation.setdefault(r["mutation"], Counter())[r["class"]] += 1
    return {
        "files": len(rows),
        "by_class": dict(by_class),
        "by_mutation": {k: dict(v) for k, v in sorted(by_mutation.items())},
        "statuses": dict(Counter(str(r.get("status")) for r in rows if r["class"] == "refused")),
        "peak_rss_mb": round(max((r.get("peak_rss_mb", 0.0) for r in rows), default=0.0), 1),
        "seconds": round(time.monotonic() - started, 1),
        "failures": [r for r in rows if r["class"] in ("internal", "crash", "timeout")],
        "rows": rows,
    }


def main() -> None:
    if "--worker" in sys.argv:
        _worker()
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("data/fuzz-media"))
    args = ap.parse_args()
    home = args.out / "home"
    os.environ["SEALFRAME_HOME"] = str(home)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    seeds = make_seeds(args.out / "seeds")
    files = make_corpus(seeds, args.out / "corpus", args.count, args.seed)
    summary = run_corpus(files, env, args.timeout)
    print(f"{'mutation':<12}" + "".join(f"{c:>10}" for c in ("report", "refused", "internal", "timeout", "crash")))
    for kind, counts in summary["by_mutation"].items():
        print(f"{kind:<12}" + "".join(f"{counts.get(c, 0):>10}" for c in ("report", "refused", "internal",
                                                                             "timeout", "crash")))
    print(f"files {summary['files']}, by class {summary['by_class']}, refusal statuses {summary['statuses']}, "
          f"peak RSS {summary['peak_rss_mb']} MB, {summary['seconds']} s")
    for f in summary["failures"]:
        print(f"  {f['class']}: {f['file']}: {f.get('reason')}")
    (args.out / "fuzz_media.json").write_text(json.dumps({k: v for k, v in summary.items()}, indent=1))


if __name__ == "__main__":
    main()
