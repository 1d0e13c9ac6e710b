"""`sealframe demo`: every capability that exists, end to end, on the embedded defaults.

Each stage is a function returning a `Stage`; `run_demo` runs them in order and stops at the first
failure (a later stage would only report the consequences). New capabilities add their stage to
`STAGES`, so the README's first command always shows the whole product as far as it works.

A stage's `outcome` is `ok` (it showed what it claims), `miss` (it ran and reports truthfully a
signal that did not fire: the detector not flagging our own clip, a watermark lost to a re-encode)
or `fail` (the product did something wrong; the run stops and exits non-zero). A miss is printed
as `[miss]`, never as `[ok]`.

By default the demo runs in a scratch home of its own (`scratch_settings`): its own development
keys, database, artifacts and audit log, so its prompts never reach the real review queue,
statistics or backtests.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from safety.errors import BadInputError, SealFrameError
from safety.media import Video, read_video, write_video
from safety.settings import Settings


class Stage(BaseModel):
    name: str
    ok: bool
    """False only for a failure; a miss is ok (the product told the truth) with outcome "miss"."""
    summary: str
    outcome: Literal["ok", "miss", "fail"] = "ok"
    seconds: float = 0.0
    details: dict[str, Any] = {}

    def model_post_init(self, context: Any) -> None:
        if not self.ok:
            self.outcome = "fail"

    def line(self) -> str:
        mark = {"ok": "ok  ", "miss": "miss", "fail": "FAIL"}[self.outcome]
        return f"[{mark}] {self.name:<10s} {self.summary}  ({self.seconds:.2f} s)"


SCRATCH_MARKER = ".sealframe-demo"
_OLD_DEMO_FILES = {"sealed.mp4", "tampered.mp4", "stripped.mp4", "reencoded.mp4"}


def prepare_scratch(home: Path) -> Path:
    """Empty `home` for a new demo run: only a folder the demo made (or a new one) is cleared."""
    if home.exists():
        if not home.is_dir():
            raise BadInputError(f"{home} is not a folder")
        names = {p.name for p in home.iterdir()}
        if names and SCRATCH_MARKER not in names and not names <= _OLD_DEMO_FILES:
            raise BadInputError(f"{home} is not a demo scratch folder; choose another with --scratch or remove it")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / SCRATCH_MARKER).write_text("made by `sealframe demo`; cleared on its next run\n", encoding="utf-8")
    return home


def scratch_settings(base: Settings, home: Path) -> Settings:
    """Settings of a home of its own: development keys, SQLite, local artifacts, in-process jobs, no
    time-stamping; only the policy pack is the configured one (the demo moderates under it)."""
    return Settings(home=home, policy=base.policy, signing_key=None, signing_chain=None, key_passphrase=None,
                    trust_anchors=None, tsa_url=None, watermark_key=None, database_url=None, artifacts=None,
                    jobs="inprocess")


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
    return Stage(name="keys", ok=True, summary=f"signing as {creds.issuer_name!r} ({creds.alg}), keys in "
                                               f"{st.settings.keys_dir}",
                 details={"keys_dir": str(st.settings.keys_dir)})


def stage_generate(st: DemoState) -> Stage:
    """All three prompts through the safe pipeline: refused, held, and generated + sealed."""
    import shutil

    from generator.base import GenerationRequest
    from safety.api.state import AppState
    from safety.errors import BlockedByPolicy, HeldForReview

    state = AppState(st.settings)
    st.data["state"] = state
    pipe = state.pipeline
    outcomes: dict[str, str] = {}
    for name in ("blocked", "held"):
        try:
            pipe.submit(GenerationRequest(prompt=DEMO_PROMPTS[name]))
            outcomes[name] = "queued (unexpected)"
        except (BlockedByPolicy, HeldForReview) as exc:
            what = "rejected" if isinstance(exc, BlockedByPolicy) else "held for review"
            outcomes[name] = f"{what} (job {exc.job_id})"
    job = pipe.submit(GenerationRequest(prompt=DEMO_PROMPTS["allowed"], seed=7))
    asset = pipe.run_job(job.id)
    if asset is None:
        return Stage(name="generate", ok=False, summary="output quarantined by the frame safety check")
    sealed = st.out / "sealed.mp4"
    shutil.copyfile(state.artifacts.local_path(asset.video_key), sealed)
    st.files["sealed"] = sealed
    st.data["asset"] = asset.id
    outcomes["allowed"] = f"sealed as asset {asset.id}"
    return Stage(name="generate", ok=outcomes["blocked"].startswith("rejected")
                 and outcomes["held"].startswith("held"),
                 summary=f"{asset.model_id}: {DEMO_PROMPTS['allowed']!r} → {sealed.name} "
                         f"(watermarked, signed); blocked prompt {outcomes['blocked'].split(' (')[0]}, "
                         f"copyrighted character {outcomes['held'].split(' (')[0]}",
                 details={"asset": asset.id, "manifest_id": asset.manifest_id, "model": asset.model_id,
                          "policy": asset.policy, "outcomes": outcomes, "path": str(sealed)})


def _verify(st: DemoState, key: str) -> Any:
    return st.data["state"].verifier.verify(st.files[key])


def stage_inspect(st: DemoState) -> Stage:
    from safety.provenance import read_provenance, trust_anchors_from_settings

    report = read_provenance(st.files["sealed"], trust_anchors_from_settings(st.settings))
    return Stage(name="inspect", ok=report.state == "trusted",
                 summary=f"C2PA {report.state}: signed by {report.signer!r}, {report.digital_source_type}",
                 details=report.model_dump(mode="json"))


def stage_verify(st: DemoState) -> Stage:
    r = _verify(st, "sealed")
    d = r.detector
    if d.status == "ok" and d.score is not None and d.threshold is not None:
        det = f"detector {d.score:.2f} {'≥' if d.score >= d.threshold else '<'} {d.threshold:.2f}" + (
            "" if d.score >= d.threshold else " (missed)")
    else:
        det = f"detector {d.status}"
    return Stage(name="verify", ok=r.verdict == "ai_generated_signed" and r.watermark.found,
                 summary=f"{r.summary}; watermark {r.watermark.payload}; {det}",
                 details=r.model_dump(mode="json"))


def stage_tamper(st: DemoState) -> Stage:
    from safety.provenance import read_provenance, trust_anchors_from_settings

    data = bytearray(st.files["sealed"].read_bytes())
    at = data.find(b"mdat") + 64
    data[at] ^= 0xFF
    path = st.out / "tampered.mp4"
    path.write_bytes(bytes(data))
    report = read_provenance(path, trust_anchors_from_settings(st.settings))
    hit = [c for c in report.validation_codes if "mismatch" in c]
    return Stage(name="tamper", ok=report.state == "tampered",
                 summary=f"one media byte flipped → {report.state} ({', '.join(hit) or 'no mismatch code'})",
                 details={"state": report.state, "codes": list(report.validation_codes)})


def stage_strip(st: DemoState) -> Stage:
    """What a platform does to an upload: metadata gone, half the size, re-encoded at CRF 28."""
    from safety.media import resize_video

    v = read_video(st.files["sealed"])
    small = resize_video(v, v.width // 2 // 2 * 2, v.height // 2 // 2 * 2)
    path = write_video(small, st.out / "stripped.mp4", crf=28)
    st.files["stripped"] = path
    r = _verify(st, "stripped")
    recovered = r.manifest_match is not None and r.manifest_match.asset_id == st.data["asset"]
    # The stage checks that verification claims nothing false about the stripped copy; whether the
    # watermark survived is reported as found (flat generated clips often lose it: issue 4).
    truthful = r.provenance.state == "absent" and r.verdict != "ai_generated_signed" and (
        recovered or r.verdict != "ai_generated_watermarked")
    outcome = (f"{r.summary} (asset {st.data['asset']}, p = {r.watermark.p_value:.1e})" if recovered else
               f"{r.summary}: MISSED, the watermark did not survive this re-encode of a flat generated clip")
    return Stage(name="strip", ok=truthful, outcome="ok" if recovered else "miss",
                 summary=f"manifest stripped, 0.5× and CRF 28 → {outcome}",
                 details={**r.model_dump(mode="json"), "recovered": recovered})


def stage_audit(st: DemoState) -> Stage:
    report = st.data["state"].audit.verify()
    return Stage(name="audit", ok=report.ok, summary=report.summary(), details=report.model_dump(mode="json"))


DEMO_PROMPTS = {
    "allowed": "a small red circle drifts left across a white background",
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


def stage_detect(st: DemoState) -> Stage:
    from detector.runtime import default_detector

    key = "stripped" if "stripped" in st.files else "reencoded"
    det = default_detector()
    score = det.score_path(st.files[key])
    # Our own clip is AI-generated: a score under the threshold is a miss, printed as one. It does not
    # fail the run (the detector is one signal of several, and the other stages already showed the clip's
    # origin), but it is never reported as a success.
    if score.flagged:
        verdict = f"{score.score:.3f} ≥ threshold {score.threshold:.3f}: flagged as likely synthetic"
    else:
        verdict = (f"{score.score:.3f} < threshold {score.threshold:.3f}: MISSED, the detector did not flag "
                   f"this AI-generated clip")
    return Stage(name="detect", ok=True, outcome="ok" if score.flagged else "miss",
                 summary=f"{st.files[key].name} (AI-generated, no manifest) scores {verdict} "
                         f"[{score.model}, {det.providers[0]}]",
                 details=score.model_dump(mode="json"))


STAGES: list[Callable[[DemoState], Stage]] = [
    stage_moderate,
    stage_keys,
    stage_generate,
    stage_inspect,
    stage_verify,
    stage_tamper,
    stage_strip,
    stage_audit,
    stage_detect,
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
            echo(stage.line())
        if not stage.ok:
            break
    if echo is not None:
        echo(closing_line(results, out, len(STAGES)))
    return results


def closing_line(results: list[Stage], out: Path, total: int) -> str:
    counts = {k: sum(s.outcome == k for s in results) for k in ("ok", "miss", "fail")}
    if counts["fail"]:
        failed = next(s.name for s in results if s.outcome == "fail")
        return f"stopped at stage {failed!r} ({len(results)} of {total} ran); files in {out}"
    misses = [s.name for s in results if s.outcome == "miss"]
    tail = f", {counts['miss']} missed ({', '.join(misses)})" if misses else ""
    return f"{len(results)} stages ran: {counts['ok']} ok{tail}; files in {out}"
