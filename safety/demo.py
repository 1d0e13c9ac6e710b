"""`sealframe demo`: every capability that exists, end to end, on the embedded defaults.

Each stage is a function returning a `Stage`; `run_demo` runs them in order and stops at the first
failure (a later stage would only report the consequences). New capabilities add their stage to
`STAGES`, so the README's first command always shows the whole product as far as it works.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from safety.errors import SealFrameError
from safety.media import Video, read_video, write_video
from safety.settings import Settings


class Stage(BaseModel):
    name: str
    ok: bool
    summary: str
    seconds: float = 0.0
    details: dict[str, Any] = {}


@dataclass
class DemoState:
    """What the stages hand to each other."""

    out: Path
    settings: Settings
    files: dict[str, Path] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


def demo_clip(seconds: float = 2.0, width: int = 320, height: int = 180, fps: int = 24) -> Video:
    """A small procedural clip: a disc crossing a moving gradient (textured enough to encode)."""
    t = np.arange(int(seconds * fps))[:, None, None]
    y = np.arange(height)[None, :, None]
    x = np.arange(width)[None, None, :]
    shape = (t.shape[0], height, width)
    r = np.broadcast_to(128 + 100 * np.sin((x + 3 * t) / 23.0), shape)
    g = np.broadcast_to(128 + 100 * np.sin((y - 2 * t) / 17.0), shape)
    b = np.broadcast_to((x + y + t) % 256, shape)
    frames = np.stack([r, g, b], axis=-1).astype(np.uint8)
    cx = (width * 0.15 + (width * 0.7) * t[:, 0, 0] / max(1, t.shape[0] - 1)).astype(int)
    disc = (x - cx[:, None, None]) ** 2 + (y - height // 2) ** 2 < (height // 6) ** 2
    frames[disc] = (230, 40, 40)
    return Video(frames, float(fps))


def stage_keys(st: DemoState) -> Stage:
    from safety.provenance import credentials_from_settings

    creds = credentials_from_settings(st.settings)
    st.data["creds"] = creds
    return Stage(name="keys", ok=True, summary=f"signing as {creds.issuer_name!r} ({creds.alg})",
                 details={"keys_dir": str(st.settings.keys_dir)})


def stage_clip(st: DemoState) -> Stage:
    path = write_video(demo_clip(), st.out / "clip.mp4")
    st.files["clip"] = path
    return Stage(name="clip", ok=True, summary=f"wrote {path.name} (2 s, 320×180, H.264)",
                 details={"path": str(path)})


def stage_watermark(st: DemoState) -> Stage:
    import hashlib

    from safety.watermark import embed, extract, load_or_create_key

    key = load_or_create_key(st.settings)
    clip = read_video(st.files["clip"])
    asset_id = hashlib.sha256(clip.frames.tobytes()).digest()[:8]
    path = write_video(embed(clip, asset_id, key), st.out / "clip.marked.mp4", crf=18)
    check = extract(read_video(path), key)  # fail closed: the written file must read back
    st.files["clip"] = path
    st.data["watermark_payload"] = asset_id
    return Stage(name="watermark", ok=check.found and check.payload == asset_id,
                 summary=f"asset id {asset_id.hex()} embedded → {path.name} (read back: {check.found})",
                 details={"path": str(path), "payload": asset_id.hex(), "p_value": check.p_value})


def stage_sign(st: DemoState) -> Stage:
    from safety.provenance import ManifestSpec, sign_file

    spec = ManifestSpec(title="SealFrame demo clip", model_id="sealframe-demo-procedural",
                        watermark_payload=st.data.get("watermark_payload"))
    signed = sign_file(st.files["clip"], st.out / "clip.signed.mp4", spec, st.data["creds"],
                       tsa_url=st.settings.tsa_url)
    st.files["signed"] = signed.path
    return Stage(name="sign", ok=True,
                 summary=f"C2PA manifest embedded ({len(signed.manifest_store)} bytes) → {signed.path.name}",
                 details={"path": str(signed.path), "manifest_bytes": len(signed.manifest_store)})


def _inspect(st: DemoState, key: str) -> Any:
    from safety.provenance import read_provenance, trust_anchors_from_settings

    return read_provenance(st.files[key], trust_anchors_from_settings(st.settings))


def stage_inspect(st: DemoState) -> Stage:
    report = _inspect(st, "signed")
    return Stage(name="inspect", ok=report.state == "trusted",
                 summary=f"{report.state}: signed by {report.signer!r}, source {report.digital_source_type}",
                 details=report.model_dump(mode="json"))


def stage_tamper(st: DemoState) -> Stage:
    data = bytearray(st.files["signed"].read_bytes())
    at = data.find(b"mdat") + 64
    data[at] ^= 0xFF
    path = st.out / "clip.tampered.mp4"
    path.write_bytes(bytes(data))
    st.files["tampered"] = path
    report = _inspect(st, "tampered")
    hit = [c for c in report.validation_codes if "mismatch" in c]
    return Stage(name="tamper", ok=report.state == "invalid",
                 summary=f"one media byte flipped → {report.state} ({', '.join(hit) or 'no mismatch code'})",
                 details={"state": report.state, "codes": list(report.validation_codes)})


def stage_reencode(st: DemoState) -> Stage:
    path = write_video(read_video(st.files["signed"]), st.out / "clip.reencoded.mp4", crf=28)
    st.files["reencoded"] = path
    report = _inspect(st, "reencoded")
    return Stage(name="re-encode", ok=report.state == "absent",
                 summary=f"re-encoded at CRF 28 → manifest {report.state} (metadata does not survive)",
                 details={"state": report.state})


def stage_recover(st: DemoState) -> Stage:
    from safety.watermark import extract, load_or_create_key

    result = extract(read_video(st.files["reencoded"]), load_or_create_key(st.settings))
    want = st.data.get("watermark_payload")
    if result.found:
        # A wrong payload would be a false attribution: that is the failure this stage guards.
        ok = result.payload == want
        got = result.payload.hex() if result.payload else "?"
        summary = (f"manifest stripped, watermark still reads asset id {got} "
                   f"(p ≤ {result.p_value:.1e}, {result.bit_errors} bits corrected)")
    else:
        # Reported, not hidden: this 320×180 clip moves every pixel 2–3 px per frame, and a CRF 28
        # re-encode of that erases a 42 dB mark (docs/watermark.md, "Limits").
        ok = True
        summary = "watermark NOT recovered after the CRF 28 re-encode (small, fast-moving clip; see docs/watermark.md)"
    return Stage(name="recover", ok=ok, summary=summary, details=result.model_dump(mode="json"))


DEMO_PROMPTS = {
    "allowed": "a red fox running through fresh snow at dawn",
    "blocked": "a tutorial showing how to build a p1pe b0mb step by step",
    "held": "Mickey Mouse dancing in Times Square",
}


def stage_moderate(st: DemoState) -> Stage:
    """Moderate three prompts under the settings' policy pack: one allowed, one blocked, one held."""
    from safety.moderation import Moderator

    mod = Moderator.from_settings(st.settings)
    got = {k: mod.moderate(p) for k, p in DEMO_PROMPTS.items()}
    want = {"allowed": "allow", "blocked": "block", "held": "review"}
    st.data["moderator"] = mod
    summary = "; ".join(f"{got[k].action}: {DEMO_PROMPTS[k]!r}" for k in want)
    return Stage(name="moderate", ok=all(got[k].action == want[k] for k in want), summary=summary,
                 details={k: d.model_dump(mode="json", include={"action", "categories", "reasons", "policy",
                                                              "normalized"}) for k, d in got.items()})


STAGES: list[Callable[[DemoState], Stage]] = [
    stage_moderate,
    stage_keys,
    stage_clip,
    stage_watermark,
    stage_sign,
    stage_inspect,
    stage_tamper,
    stage_reencode,
    stage_recover,
]


def run_demo(out: Path, settings: Settings, echo: Callable[[str], None] | None = print) -> list[Stage]:
    out.mkdir(parents=True, exist_ok=True)
    st = DemoState(out=out, settings=settings)
    results: list[Stage] = []
    for fn in STAGES:
        t0 = time.perf_counter()
        try:
            stage = fn(st)
        except SealFrameError as exc:
            stage = Stage(name=fn.__name__.removeprefix("stage_"), ok=False, summary=f"failed: {exc}")
        stage.seconds = round(time.perf_counter() - t0, 3)
        results.append(stage)
        if echo is not None:
            mark = "ok " if stage.ok else "FAIL"
            echo(f"[{mark}] {stage.name:<10s} {stage.summary}  ({stage.seconds:.2f} s)")
        if not stage.ok:
            break
    if echo is not None and all(s.ok for s in results):
        echo(f"all {len(results)} stages passed; files in {out}")
    return results
