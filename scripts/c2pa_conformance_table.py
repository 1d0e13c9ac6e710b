"""The C2PA conformance table of docs/provenance.md: c2pa-python beside our outcome and verdict.

For each third-party fixture of contentauth/c2pa-rs (brought in with the search tool's `fetch`,
a bare git dir), clips we sign with the c2pa-rs test certificates, and our own tampered / expired /
AI-edit / remote / parse-error / truncated cases, it prints one Markdown row: c2pa-python's
validation state and failure codes, our `ProvenanceReport.state` and reason, and the verdict
`decide` gives with no watermark and no detector. Everything is written under OUT (outside the
repository); a JSON copy of the rows lands there too.

    python scripts/c2pa_conformance_table.py --c2pa-rs GIT_DIR --out data/c2pa-table
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import c2pa

sys.path.insert(0, str(Path(__file__).parents[1]))

from safety.errors import SealFrameError
from safety.media import write_video
from safety.provenance import (
    ManifestSpec,
    SigningCredentials,
    init_dev_keys,
    load_credentials,
    read_provenance,
    sign_file,
)
from safety.provenance.credentials import c2pa_context
from safety.verify import DetectorSignal, WatermarkSignal, decide
from tests.c2pa_support import issue_signer, sign_with_definition
from tests.conftest import make_video

FIXTURES = ["video1.mp4", "video1_no_manifest.mp4", "legacy.mp4", "c.mov", "test.avi", "dashinit.mp4",
            "nested_moov_1000.mp4", "sample1.m4a"]
CERT_ALGS = {"es256": "es256", "es384": "es384", "es512": None, "ps256": "ps256", "ps384": None, "ed25519": "ed25519"}
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
MIME = {".mp4": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo", ".m4a": "audio/mp4"}


def git_show(git_dir: Path, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"HEAD:{path}"], check=True,
                          capture_output=True).stdout


def c2pa_python(path: Path, anchors: bytes) -> tuple[str, str]:
    mime = MIME.get(path.suffix.lower(), "video/mp4")
    try:
        with path.open("rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, c2pa_context(anchors))
            if reader is None:
                return "no manifest", ""
            with reader:
                results = reader.get_validation_results() or {}
                failures = [str(f.get("code")) for f in (results.get("activeManifest") or {}).get("failure") or []]
                return str(reader.get_validation_state()), ", ".join(failures)
    except c2pa.C2paError as exc:
        return "error", " ".join(str(exc).split())[:90]


def row(name: str, source: str, path: Path, anchors: bytes) -> dict[str, Any]:
    state, codes = c2pa_python(path, anchors)
    try:
        report = read_provenance(path, anchors)
        verdict, summary, _ = decide(report, WatermarkSignal(), None, DetectorSignal(status="unavailable"))
        ours, reason = report.state, report.reason or ""
    except SealFrameError as exc:
        ours, reason, verdict, summary = "error (exit 4)", str(exc).split(": ", 1)[-1][:90], "-", "-"
    return {"case": name, "source": source, "c2pa_python": state, "codes": codes, "ours": ours,
            "reason": reason, "verdict": verdict, "summary": summary}


def c2pa_rs_signer(git_dir: Path, alg: str) -> SigningCredentials:
    base = "sdk/tests/fixtures/certs"
    return SigningCredentials(alg=alg,  # type: ignore[arg-type]
                              chain_pem=git_show(git_dir, f"{base}/{alg}.pub"),
                              private_key_pem=git_show(git_dir, f"{base}/{alg}.pem"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c2pa-rs", type=Path, required=True, help="bare git dir of contentauth/c2pa-rs")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    git_dir: Path = args.c2pa_rs
    commit = subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    keys = init_dev_keys(out / "keys")
    ours_creds = load_credentials(keys.signer_key, keys.signer_chain)
    rs_roots = git_show(git_dir, "sdk/tests/fixtures/certs/trust/test_cert_root_bundle.pem")
    anchors = keys.root_cert.read_bytes() + rs_roots
    rows: list[dict[str, Any]] = []

    for name in FIXTURES:
        try:
            data = git_show(git_dir, f"sdk/tests/fixtures/{name}")
        except subprocess.CalledProcessError:
            continue  # a blob the snapshot does not hold
        path = out / name
        path.write_bytes(data)
        rows.append(row(name, "c2pa-rs fixture", path, anchors))

    clip = write_video(make_video(frames=24, width=192, height=128), out / "clip.mp4", faststart=True)
    avi = out / "fixture-test.avi"
    if (out / "test.avi").exists():
        avi.write_bytes((out / "test.avi").read_bytes())
    spec = ManifestSpec(title="clip", model_id="stdit", watermark_payload=bytes.fromhex("0102030405060708"))
    for alg, ours_alg in CERT_ALGS.items():
        if ours_alg is None:
            continue  # our signer takes es256/es384/ps256/ed25519 keys
        try:
            signed = sign_file(clip, out / f"rs-{alg}.mp4", spec, c2pa_rs_signer(git_dir, alg))
        except SealFrameError as exc:
            rows.append({"case": f"signed with c2pa-rs {alg} test cert", "source": "ours", "c2pa_python": "-",
                         "codes": "", "ours": "sign error", "reason": str(exc)[:90], "verdict": "-", "summary": "-"})
            continue
        rows.append(row(f"signed with c2pa-rs {alg} test cert", "ours + c2pa-rs certs", signed.path, anchors))
    if avi.exists():
        signed_avi = sign_file(avi, out / "rs-es256.avi", spec, c2pa_rs_signer(git_dir, "es256"))
        rows.append(row("c2pa-rs test.avi signed with its es256 cert", "ours + c2pa-rs", signed_avi.path, anchors))

    sealed = sign_file(clip, out / "sealed.mp4", spec, ours_creds)
    rows.append(row("our sealed clip", "ours", sealed.path, anchors))
    rows.append(row("our sealed clip, no trust anchors", "ours", sealed.path, rs_roots))
    data = bytearray(sealed.path.read_bytes())
    data[data.find(b"mdat") + 100] ^= 1
    (out / "tampered.mp4").write_bytes(bytes(data))
    rows.append(row("one mdat byte flipped", "ours", out / "tampered.mp4", anchors))
    full = sealed.path.read_bytes()
    (out / "truncated.mp4").write_bytes(full[: len(full) * 6 // 10])
    rows.append(row("sealed clip cut at 60 %", "ours", out / "truncated.mp4", anchors))
    moov_last = sign_file(write_video(make_video(frames=24), out / "ml.mp4"), out / "ml-sealed.mp4", spec, ours_creds)
    cut = moov_last.path.read_bytes()
    (out / "truncated-moov-last.mp4").write_bytes(cut[: len(cut) * 9 // 10])
    rows.append(row("moov-last sealed clip cut at 90 %", "ours", out / "truncated-moov-last.mp4", anchors))

    short = sign_file(clip, out / "expired.mp4", spec, issue_signer(keys, seconds=2))
    capture_edit = sign_with_definition(clip, out / "capture-composite.mp4", {
        "claim_generator_info": [{"name": "camera", "version": "1"}], "title": "t", "format": "video/mp4",
        "assertions": [{"label": "c2pa.actions", "created": True, "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"},
            {"action": "c2pa.edited", "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia"}]}}]},
        ours_creds)
    rows.append(row("capture, then composite AI edit", "ours", capture_edit, anchors))
    edited = sign_with_definition(sealed.path, out / "ai-parent-edited.mp4", {
        "claim_generator_info": [{"name": "editor", "version": "1"}], "title": "t", "format": "video/mp4",
        "assertions": [{"label": "c2pa.actions", "created": True, "data": {"actions": [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}, {"action": "c2pa.edited"}]}}]},
        ours_creds, ingredient=sealed.path)
    rows.append(row("AI-generated parent, then edited", "ours", edited, anchors))
    resigned = sign_file(capture_edit, out / "resigned.mp4", ManifestSpec(title="again"), ours_creds)
    rows.append(row("`sealframe sign` over credentials", "ours", resigned.path, anchors))
    other = init_dev_keys(out / "other-keys")
    foreign = sign_file(clip, out / "other-install.mp4", spec, load_credentials(other.signer_key, other.signer_chain))
    rows.append(row("another installation's clip", "ours", foreign.path, anchors))
    remote = out / "remote.mp4"
    from safety.provenance.credentials import _signer
    from safety.provenance.manifest import manifest_definition
    with _signer(ours_creds, None) as signer, c2pa.Builder.from_json(manifest_definition(spec)) as builder:
        builder.set_no_embed()
        builder.set_remote_url("https://manifests.example/clip.c2pa")
        with clip.open("rb") as src, remote.open("w+b") as dst:
            builder.sign(signer, "video/mp4", src, dst)
    rows.append(row("remote manifest reference", "ours", remote, anchors))
    bad = bytearray(clip.read_bytes())
    struct.pack_into(">I", bad, bad.find(b"moov") - 4, 0xFFFFFF00)
    (out / "bad-moov.mp4").write_bytes(bytes(bad))
    rows.append(row("unsigned, moov size past the end", "ours", out / "bad-moov.mp4", anchors))
    time.sleep(3.5)  # the short-lived certificate expires
    rows.append(row("certificate expired, no time-stamp", "ours", short.path, anchors))

    (out / "table.json").write_text(json.dumps({"c2pa_rs_commit": commit, "c2pa_sdk": c2pa.sdk_version(),
                                                "rows": rows}, indent=1))
    print(f"c2pa-rs {commit[:12]}, c2pa-python SDK {c2pa.sdk_version()}")
    print("| case | c2pa-python | failure codes | our state | reason | verdict |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['c2pa_python']} | {r['codes']} | {r['ours']} | {r['reason']} | {r['verdict']} |")


if __name__ == "__main__":
    main()
