"""Verification of an uploaded video: C2PA credentials, watermark, manifest look-up, detector → report.

Guarantees: a missing signal is a state of the report, never an error (only a file that is not a
readable video raises `MediaError`); each signal is reported on its own; the verdict never claims
more than the signals show and never says "authentic" — the absence of signals proves nothing.
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
from safety.media import Video, read_video
from safety.provenance import TRAINED_ALGORITHMIC_MEDIA, ProvenanceReport, read_provenance
from safety.store import Asset, Store

Verdict = Literal[
    "ai_generated_signed",
    "ai_generated_watermarked",
    "signed",
    "credentials_invalid",
    "likely_synthetic",
    "no_signals",
]
AI_SOURCE_TYPES = frozenset({
    TRAINED_ALGORITHMIC_MEDIA,
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia",
})
# Enough frames for the watermark's soft-decision vote and the detector's sampling, bounded in cost.
VERIFY_FRAMES = 96


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

    def verify(self, path: str | Path) -> VerificationReport:
        p = Path(path)
        provenance = read_provenance(p, self.trust_anchors)
        video = read_video(p, max_frames=VERIFY_FRAMES)
        watermark = self.read_watermark_file(p)
        match = self._lookup(watermark, provenance)
        detector = self._detect(video)
        verdict, summary, reasons = decide(provenance, watermark, match, detector)
        return VerificationReport(verdict=verdict, summary=summary, provenance=provenance, watermark=watermark,
                                  manifest_match=match, detector=detector, reasons=tuple(reasons))

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
        except SealFrameError as exc:
            return WatermarkSignal(status="error", error=str(exc))
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
        return DetectorSignal(status="ok", score=float(d.score), threshold=float(d.threshold), model=str(d.model))


def decide(
    provenance: ProvenanceReport,
    watermark: WatermarkSignal,
    match: ManifestMatch | None,
    detector: DetectorSignal,
) -> tuple[Verdict, str, list[str]]:
    """The verdict and the reasons behind it; each reason names the signal it comes from."""
    reasons: list[str] = []
    signed = provenance.state in ("valid", "trusted")
    if signed:
        trust = "trusted signer" if provenance.state == "trusted" else "signer not on the trust list"
        reasons.append(f"C2PA manifest {provenance.state}: signed by {provenance.issuer} ({trust}), "
                       f"claim generator {provenance.claim_generator}")
    elif provenance.state == "invalid":
        codes = ", ".join(c for c in provenance.validation_codes if "mismatch" in c or "invalid" in c.lower())
        reasons.append(f"C2PA manifest present but invalid ({codes or 'validation failed'}): altered after signing")
    else:
        reasons.append("no C2PA manifest in the file")
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
        side = "at or above" if likely else "below"
        reasons.append(f"detector {detector.model}: {detector.score:.2f}, {side} threshold {detector.threshold:.2f}")
    else:
        reasons.append(f"detector {detector.status}: {detector.error}")

    if signed and provenance.digital_source_type in AI_SOURCE_TYPES:
        return "ai_generated_signed", f"AI-generated: signed by {provenance.issuer}", reasons
    if watermark.found and match is not None:
        stripped = "credentials stripped" if provenance.state == "absent" else "credentials altered"
        if signed:
            stripped = "credentials replaced by another signer's"
        return "ai_generated_watermarked", f"AI-generated: our watermark, {stripped}", reasons
    if signed:
        return "signed", f"signed by {provenance.issuer}; no AI generation declared", reasons
    if provenance.state == "invalid":
        return "credentials_invalid", "credentials present but invalid: the file was altered after signing", reasons
    if likely:
        return "likely_synthetic", f"likely synthetic (detector {detector.score:.2f})", reasons
    return "no_signals", "no provenance signals found", reasons
