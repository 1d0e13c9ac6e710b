"""Benchmark: C2PA sign and inspect through SealFrame beside the raw c2pa-python calls.

For 2 s and 20 s 720p H.264 clips (and an 80 s one, for memory scaling) it measures, in one run:
  * sign and inspect wall time (median of N) for our wrapper and for the bare c2pa-python calls;
  * the manifest's byte overhead (signed size − source size);
  * peak resident memory added by one signing, measured in a fresh child process per case
    (VmHWM, reset before the signing starts), as a ratio to the file.

Usage: python benchmarks/provenance.py [--repeats 7] [--out benchmarks/results/provenance.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import c2pa
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from safety.media import (  # noqa: E402
    Video,
    probe,
    write_video,
)
from safety.provenance import ManifestSpec, init_dev_keys, load_credentials, read_provenance, sign_file  # noqa: E402
from safety.provenance.credentials import c2pa_context  # noqa: E402
from safety.provenance.manifest import manifest_definition  # noqa: E402

CACHE = Path(os.environ.get("SEALFRAME_BENCH_CACHE", Path.home() / ".cache" / "sealframe" / "bench"))
SPEC = ManifestSpec(title="bench", model_id="stdit", weights_sha256="ab" * 32, prompt_sha256="cd" * 32,
                    policy="sealframe-default@1#0123456789ab", decision_id="d", asset_id="a",
                    watermark_payload=b"\x01" * 8)


def clip(seconds: int) -> Path:
    """A textured, moving 1280×720 clip at 24 fps (cached: encoding 20 s of 720p takes a while)."""
    path = CACHE / f"clip-{seconds}s-720p.mp4"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seconds)
    tex = rng.integers(0, 256, (800, 1400, 3), dtype=np.uint8)
    frames = np.empty((seconds * 24, 720, 1280, 3), np.uint8)
    for t in range(frames.shape[0]):
        frames[t] = tex[t % 80 : t % 80 + 720, (2 * t) % 120 : (2 * t) % 120 + 1280]
    write_video(Video(frames, 24.0), path, crf=23, preset="veryfast")
    return path


def long_clip(seconds: int) -> Path:
    """A longer clip made by remuxing the 20 s one end to end (no re-encode; for memory scaling)."""
    path = CACHE / f"clip-{seconds}s-720p.mp4"
    if path.exists():
        return path
    import av

    base = clip(20)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        ost, offset = None, 0
        for _ in range(seconds // 20):
            with av.open(str(base)) as inp:
                ist = inp.streams.video[0]
                ost = ost or out.add_stream_from_template(ist)
                last = 0
                for pkt in inp.demux(ist):
                    if pkt.dts is None:
                        continue
                    pkt.dts += offset
                    pkt.pts += offset
                    last = max(last, pkt.pts + (pkt.duration or 0))
                    pkt.stream = ost
                    out.mux(pkt)
                offset = last
    tmp.rename(path)
    return path


def raw_sign(src: Path, dst: Path, chain: bytes, key: bytes, context: c2pa.Context | None = None) -> bytes:
    """The bare c2pa-python call: default settings unless `context` is given."""
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
    with (
        c2pa.Builder.from_json(manifest_definition(SPEC), context=context) as b,
        src.open("rb") as s,
        dst.open("w+b") as d,
    ):
        out = b.sign(signer, "video/mp4", s, d)
    signer.close()
    return bytes(out)


def raw_read(path: Path) -> str | None:
    with path.open("rb") as fh:
        reader = c2pa.Reader.try_create("video/mp4", fh)
        if reader is None:
            return None
        with reader:
            reader.get_active_manifest()
            reader.get_validation_results()
            return reader.get_validation_state()


def timed(fn: Any, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def child(kind: str, src: Path, keys_dir: Path) -> None:
    """Sign once and print the peak RSS added by it (KiB)."""
    paths = init_dev_keys(keys_dir)
    creds = load_credentials(paths.signer_key, paths.signer_chain)
    dst = Path(tempfile.mkdtemp()) / "out.mp4"
    # Everything except the signing itself is loaded before the baseline is taken.
    c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, creds.chain_pem,
                                              creds.private_key_pem, None)).close()
    if kind == "ours":
        # ffmpeg's one-time library set-up (~10 MB per process, paid once by a server) is not
        # memory held for this file.
        probe(src)
    # ru_maxrss survives exec (a child of a large parent starts "high"), so use the mm's own peak,
    # reset to the current RSS right before signing.
    Path("/proc/self/clear_refs").write_text("5")
    base = _status_kib("VmHWM")
    if kind == "ours":
        sign_file(src, dst, SPEC, creds)
    else:
        assert creds.private_key_pem is not None
        raw_sign(src, dst, creds.chain_pem, creds.private_key_pem)
    peak = _status_kib("VmHWM")
    print(json.dumps({"added_kib": peak - base}))


def _status_kib(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def peak_added(kind: str, src: Path, keys_dir: Path) -> int:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(src), str(keys_dir)],
                         capture_output=True, text=True, check=True)
    return int(json.loads(out.stdout.strip().splitlines()[-1])["added_kib"]) * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "provenance.json")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "KEYS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return

    work = Path(tempfile.mkdtemp(prefix="sealframe-bench-"))
    paths = init_dev_keys(work / "keys")
    creds = load_credentials(paths.signer_key, paths.signer_chain)
    assert creds.private_key_pem is not None
    anchors = paths.root_cert.read_bytes()
    rows = []
    for seconds in (2, 20, 80):
        src = clip(seconds) if seconds <= 20 else long_clip(seconds)
        size = src.stat().st_size
        ours_out, raw_out = work / f"ours-{seconds}.mp4", work / f"raw-{seconds}.mp4"
        sign_ours = timed(lambda s=src, o=ours_out: sign_file(s, o, SPEC, creds), args.repeats)
        sign_raw = timed(lambda s=src, o=raw_out: raw_sign(s, o, creds.chain_pem, creds.private_key_pem),
                         args.repeats)
        same = c2pa_context(None)
        sign_same = timed(
            lambda s=src, o=raw_out, c=same: raw_sign(s, o, creds.chain_pem, creds.private_key_pem, c), args.repeats
        )
        read_ours = timed(lambda o=ours_out: read_provenance(o, anchors), args.repeats)
        read_raw = timed(lambda o=raw_out: raw_read(o), args.repeats)
        assert read_provenance(ours_out, anchors).state == "trusted"
        mem_ours = peak_added("ours", src, work / "keys")
        mem_raw = peak_added("raw", src, work / "keys")
        rows.append({
            "clip": f"{seconds} s 720p", "file_bytes": size,
            "overhead_bytes": ours_out.stat().st_size - size,
            "sign_ms_ours": round(sign_ours, 2), "sign_ms_raw": round(sign_raw, 2),
            "sign_ratio": round(sign_ours / sign_raw, 3),
            "sign_ms_raw_same_settings": round(sign_same, 2),
            "sign_ratio_same_settings": round(sign_ours / sign_same, 3),
            "inspect_ms_ours": round(read_ours, 2), "inspect_ms_raw": round(read_raw, 2),
            "inspect_ratio": round(read_ours / read_raw, 3),
            "peak_added_bytes_ours": mem_ours, "peak_added_bytes_raw_default": mem_raw,
            "peak_over_file_ours": round(mem_ours / size, 3), "peak_over_file_raw": round(mem_raw / size, 3),
        })

    header = ("clip", "file MB", "overhead B", "sign ms ours/raw (×)", "sign ms raw, our settings (×)",
              "inspect ms ours/raw (×)",
              "peak MB ours (/file)", "peak MB raw default (/file)")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in rows:
        print(" | ".join([
            r["clip"], f"{r['file_bytes'] / 1e6:.1f}", str(r["overhead_bytes"]),
            f"{r['sign_ms_ours']:.1f} / {r['sign_ms_raw']:.1f} ({r['sign_ratio']:.2f})",
            f"{r['sign_ms_raw_same_settings']:.1f} ({r['sign_ratio_same_settings']:.2f})",
            f"{r['inspect_ms_ours']:.1f} / {r['inspect_ms_raw']:.1f} ({r['inspect_ratio']:.2f})",
            f"{r['peak_added_bytes_ours'] / 1e6:.1f} ({r['peak_over_file_ours']:.2f})",
            f"{r['peak_added_bytes_raw_default'] / 1e6:.1f} ({r['peak_over_file_raw']:.2f})",
        ]))
    meta = {"c2pa_sdk": c2pa.sdk_version(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3], "repeats": args.repeats}
    print(f"\nc2pa {meta['c2pa_sdk']}, load average {' '.join(meta['loadavg'])}, median of {args.repeats}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
