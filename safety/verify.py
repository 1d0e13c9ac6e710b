"""Verification of an uploaded video: C2PA credentials, watermark, manifest look-up, detector → report.

Guarantees: a missing signal is a state of the report, never an error (only a file that is not a
readable video and carries no C2PA manifest raises `MediaError`); each signal is reported on its
own; the verdict never claims more than the signals show and never says "authentic" — the absence
of signals proves nothing.
Credentials of any signer are read; the configured trust bundle alone decides `trusted`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from safety.errors import MediaError, SealFrameError
from safety.media import Video, probe, read_video
from safety.provenance import AI_SOURCE_TYPES, ProvenanceReport, read_provenance
from safety.store import Asset, Store

Verdict = Literal[
    "ai_generated_signed",
    "ai_generated_watermarked",
    "signed",
    "signed_untrusted",
    "credential_problem",
    "tampered",
    "credentials_unreadable",
    "likely_synthetic",
    "no_signals",
]
# Enough frames for the watermark's soft-decision vote and the detector's sampling, bounded in cost.
VERIFY_FRAMES = 96
# Working resolution of a verification (1280×720): larger uploads are scaled down while they are
# decoded, so memory per verification is bounded (96 × 1280 × 720 × 3 bytes ≈ 265 MB of frames)
# whatever the upload; the watermark's grid is normalised to the frame, so scaling keeps it.
VERIFY_PIXELS = 1280 * 720


class WatermarkSignal(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "error"] = "ok"
    found: bool = False
    payload: str | None = None
    """Hex of the decoded payload (our asset id)."""
    confidence: float = 0.0
    p_value: float = 1.0
    error: str | None = None


class ManifestMatch(BaseModel):
    model_config = ConfigDict(frozen=True)

    asset_id: str
    manifest_id: str
    model_id: str
    created_at: dt.datetime
    matches_embedded: bool | None = None
    """Whether the file's own manifest is the stored one (None when the file carries none)."""


class DetectorSignal(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "unavailable", "error"]
    score: float | None = None
    threshold: float | None = None
    model: str | None = None
    error: str | None = None
    meaning: str | None = None
    """What the score says at the model card's operating point (a low score is never a reassurance)."""


class VerificationReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    summary: str
    provenance: ProvenanceReport
    watermark: WatermarkSignal
    manifest_match: ManifestMatch | None
    detector: DetectorSignal
    reasons: tuple[str, ...]


DetectorFn = Callable[[Video], Any]
"""Scores a video; returns an object with `score`, `threshold` and `model` (a `DetectorScore`)."""


@dataclass
class Verifier:
    store: Store
    trust_anchors: bytes | None
    watermark_key: bytes
    detector: DetectorFn | None = None
    remote_manifest_hosts: tuple[str, ...] = ()

    def verify(self, path: str | Path) -> VerificationReport:
        p = Path(path)
        provenance = read_provenance(p, self.trust_anchors, remote_hosts=self.remote_manifest_hosts)
        try:
            video = read_video(p, max_frames=VERIFY_FRAMES, max_pixels=VERIFY_PIXELS)
        except MediaError as exc:
            if provenance.state == "absent":
                raise
            # Credentials were read from a file whose pictures cannot be decoded (a truncated
            # download): report them; the picture signals are errors, not absences.
            return self._undecodable(provenance, str(exc).replace(f"{p}: ", ""))
        # Up to the working resolution the watermark is searched across the whole file (a marked
        # segment inside a longer video is found); a larger upload is read on its bounded frames
        # only, so the memory of a verification stays bounded whatever the upload.
        info = probe(p)
        if info.width * info.height <= VERIFY_PIXELS:
            watermark = self.read_watermark_file(p)
        else:
            watermark = self.read_watermark(video)
        match = self._lookup(watermark, provenance)
        detector = self._detect(video)
        verdict, summary, reasons = decide(provenance, watermark, match, detector)
        return VerificationReport(verdict=verdict, summary=summary, provenance=provenance, watermark=watermark,
                                  manifest_match=match, detector=detector, reasons=tuple(reasons))

    def _undecodable(self, provenance: ProvenanceReport, error: str) -> VerificationReport:
        watermark = WatermarkSignal(status="error", error=f"video not decodable: {error}")
        detector = DetectorSignal(status="error", error=f"video not decodable: {error}")
        verdict, summary, reasons = decide(provenance, watermark, None, detector)
        return VerificationReport(verdict=verdict, summary=summary, provenance=provenance, watermark=watermark,
                                  manifest_match=None, detector=detector, reasons=tuple(reasons))

    def read_watermark(self, video: Video) -> WatermarkSignal:
        """Our watermark in `video`; a clip that cannot carry one reads as not found, with the reason."""
        from safety.watermark import extract

        try:
            r = extract(video, self.watermark_key)
        except SealFrameError as exc:
            # A clip too small or flat to carry a mark is "not found", reported with its reason.
            return WatermarkSignal(status="error", error=str(exc))
        return WatermarkSignal(found=r.found, payload=r.payload.hex() if r.found and r.payload else None,
                               confidence=r.confidence, p_value=r.p_value)

    def read_watermark_file(self, path: Path) -> WatermarkSignal:
        """Our watermark anywhere in the file: its first frames, and bounded windows across the whole
        video (`safety.watermark.stream.extract_sampled`), so a marked segment inside a longer video is found."""
        from safety.watermark.stream import extract_sampled

        try:
            r = extract_sampled(path, self.watermark_key).result
        except SealFrameError as exc:  # the client sees the reason, never our file's path
            reason = str(exc).replace(f"{path}: ", "").replace(str(path), "the file")
            return WatermarkSignal(status="error", error=reason)
        return WatermarkSignal(found=r.found, payload=r.payload.hex() if r.found and r.payload else None,
                               confidence=r.confidence, p_value=r.p_value)

    def _lookup(self, watermark: WatermarkSignal, provenance: ProvenanceReport) -> ManifestMatch | None:
        if not watermark.found or watermark.payload is None:
            return None
        with self.store.session() as s:
            asset = s.get(Asset, watermark.payload)
            if asset is None:
                return None
            embedded = provenance.manifest_id == asset.manifest_id if provenance.state != "absent" else None
            return ManifestMatch(asset_id=asset.id, manifest_id=asset.manifest_id, model_id=asset.model_id,
                                 created_at=asset.created_at, matches_embedded=embedded)

    def _detect(self, video: Video) -> DetectorSignal:
        if self.detector is None:
            return DetectorSignal(status="unavailable", error="no detector model is configured")
        try:
            d = self.detector(video)
        except (SealFrameError, MediaError) as exc:
            return DetectorSignal(status="error", error=str(exc))
        from detector.types import describe

        meaning = describe(float(d.score), float(d.threshold), getattr(d, "fpr", None), getattr(d, "unseen_tpr", None))
        return DetectorSignal(status="ok", score=float(d.score), threshold=float(d.threshold), model=str(d.model),
                              meaning=meaning)


def _disclosure_text(provenance: ProvenanceReport) -> str:
    """`created by X in the active manifest; edited … in ingredient …` for every AI declaration."""
    parts = []
    for d in provenance.ai_disclosures:
        source = d.digital_source_type.rsplit("/", 1)[-1]
        parts.append(f"{d.how} ({d.action}, {source}) declared in {d.via}"
                     + (f" signed by {d.signer}" if d.signer and d.via != "active manifest" else ""))
    return "; ".join(parts)


def _provenance_reason(provenance: ProvenanceReport) -> str:
    state, who = provenance.state, provenance.issuer or "an unnamed signer"
    if state == "trusted":
        return f"C2PA manifest trusted: signed by {who} (chains to your trust list), claim generator " \
               f"{provenance.claim_generator}"
    if state == "valid":
        return f"C2PA manifest intact, signed by {who}, whom you have not chosen to trust (not on your trust list)"
    if state == "credential_problem":
        return f"C2PA manifest intact, but the signing credential of {who} fails ({provenance.reason})"
    if state == "tampered":
        return f"C2PA manifest present but a hash or signature does not match ({provenance.reason}): " \
               "altered after signing"
    if state == "unreadable":
        return f"C2PA data could not be read, so nothing is known about credentials: {provenance.reason}"
    if provenance.remote_manifest_url:
        return f"no embedded C2PA manifest; remote manifest referenced at {provenance.remote_manifest_url}, not fetched"
    return "no C2PA manifest in the file"


def decide(
    provenance: ProvenanceReport,
    watermark: WatermarkSignal,
    match: ManifestMatch | None,
    detector: DetectorSignal,
) -> tuple[Verdict, str, list[str]]:
    """The verdict and the reasons behind it; each reason names the signal it comes from.

    The C2PA part follows `provenance.state` only: `tampered` alone means altered; an expired or
    revoked credential is a credential problem; a signer outside the trust list is its own verdict.
    """
    reasons: list[str] = [_provenance_reason(provenance)]
    ai = bool(provenance.ai_disclosures) or provenance.digital_source_type in AI_SOURCE_TYPES
    if provenance.state in ("trusted", "valid", "credential_problem") and ai:
        reasons.append(f"AI generation declared: {_disclosure_text(provenance) or provenance.digital_source_type}")
    if watermark.found:
        reasons.append(f"SealFrame watermark found: payload {watermark.payload} (p = {watermark.p_value:.1e})")
        if match is not None:
            reasons.append(f"watermark matches stored asset {match.asset_id}, manifest {match.manifest_id}")
        else:
            reasons.append("no stored manifest for this watermark payload")
    elif watermark.status == "error":
        reasons.append(f"watermark not checked: {watermark.error}")
    else:
        reasons.append("no SealFrame watermark")
    likely = detector.status == "ok" and detector.score is not None and detector.score >= (detector.threshold or 1.0)
    if detector.status == "ok":
        reasons.append(f"detector {detector.model}: {detector.meaning or f'score {detector.score:.2f}'}")
    else:
        reasons.append(f"detector {detector.status}: {detector.error}")

    who = provenance.issuer or "an unnamed signer"
    state = provenance.state
    if state == "trusted" and ai:
        return "ai_generated_signed", f"AI-generated: signed by {who}", reasons
    if watermark.found and match is not None:
        stripped = {"absent": "credentials stripped", "tampered": "credentials altered",
                    "unreadable": "credentials unreadable"}.get(state, "credentials replaced by another signer's")
        if state == "credential_problem":
            stripped = f"credentials of {who} fail ({provenance.reason})"
        return "ai_generated_watermarked", f"AI-generated: our watermark, {stripped}", reasons
    declared = "; it declares AI generation" if ai else "; no AI generation declared"
    if state == "trusted":
        return "signed", f"signed by {who}{declared}", reasons
    if state == "valid":
        return "signed_untrusted", f"signed by {who}, whom you have not chosen to trust{declared}", reasons
    if state == "credential_problem":
        return ("credential_problem", f"signed by {who}, but the signing credential fails ({provenance.reason}); "
                f"the file itself is unchanged since signing{declared}", reasons)
    if state == "tampered":
        return "tampered", "credentials present but the file or its manifest was altered after signing", reasons
    if state == "unreadable":
        return "credentials_unreadable", f"C2PA credentials could not be read ({provenance.reason})", reasons
    if likely:
        return "likely_synthetic", f"likely synthetic (detector {detector.score:.2f})", reasons
    if provenance.remote_manifest_url:
        return ("no_signals", f"no embedded credentials; remote manifest referenced at "
                f"{provenance.remote_manifest_url}, not fetched", reasons)
    return "no_signals", "no provenance signals found", reasons
