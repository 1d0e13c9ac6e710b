"""SafeGenerationPipeline: moderate → generate → output checks → label → watermark → encode → sign → store.

It composes stages and holds no stage logic. Fail closed: a video is stored and deliverable only
when moderation allowed it (or a moderator approved it), the output checks passed, the watermark
was embedded and read back from the encoded file, and the manifest was signed and read back. Any
failure raises, is recorded in the audit log, and leaves nothing deliverable. Every decision is an
audit event.

Re-running a job is safe: the asset id is derived from the job id and `assets.job_id` is unique, so
a job interrupted after sealing finishes without a second asset.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from generator.base import GenerationRequest, VideoGenerator
from policies import LoadedPolicy
from safety.artifacts import ArtifactStore
from safety.audit import AuditLog
from safety.disclosure import apply_label
from safety.errors import BlockedByPolicy, HeldForReview, ProvenanceError, WatermarkError
from safety.media import read_video, resize_video, write_video
from safety.output_checks import FrameSafetyChecker, OutputCheckResult
from safety.provenance import WATERMARK_ALG, ManifestSpec, SigningCredentials, read_provenance, sign_file
from safety.provenance.prompt_key import prompt_digest, prompt_key_id
from safety.store import Asset, Decision, Job, ReviewItem, Store
from safety.store.models import new_id, utcnow

# Near-lossless delivery: the watermark on flat generated clips read back from 11 of 12 random keys
# at CRF 18 and 12 of 12 at CRF 8 (≈ 200 KB for 16 frames at 256², measured); a miss fails closed.
DELIVERY_CRF = 8
# Small generators (the built-in one makes 64×64) are scaled up before delivery: the watermark needs
# ≥ 128 px and refuses less (fail closed), and a platform shows nothing smaller anyway.
MIN_DELIVERY_SIDE = 256


def delivery_size(width: int, height: int) -> tuple[int, int]:
    """The smallest integer upscale that makes the short side ≥ MIN_DELIVERY_SIDE (even sizes)."""
    factor = max(1, -(-MIN_DELIVERY_SIDE // min(width, height)))
    return (width * factor + 1) // 2 * 2, (height * factor + 1) // 2 * 2


class PromptModerator(Protocol):
    def moderate(self, text: str) -> Any:
        """A ModerationDecision: action, categories, reasons, policy, normalized."""


def asset_id_for(job_id: str) -> str:
    """The 8-byte watermark payload (hex) of a job's asset; deterministic, so a re-run cannot fork it."""
    return hashlib.sha256(b"sealframe-asset:" + job_id.encode()).hexdigest()[:16]


def decision_payload(d: Decision) -> dict[str, Any]:
    return {"id": d.id, "action": d.action, "categories": d.categories, "reasons": d.reasons,
            "policy": d.policy, "normalized": d.normalized}


@dataclass
class SafeGenerationPipeline:
    store: Store
    artifacts: ArtifactStore
    audit: AuditLog
    policy: LoadedPolicy
    credentials: SigningCredentials
    watermark_key: bytes
    trust_anchors: bytes | None
    moderator: PromptModerator
    generator: Callable[[], VideoGenerator]
    checker: FrameSafetyChecker
    tsa_url: str | None = None
    soft_binding_alg: str = WATERMARK_ALG
    workdir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    prompt_key: bytes | None = None
    """Key of the manifest's prompt digest (HMAC-SHA256); None: the manifest carries no prompt digest."""

    # -- moderation -------------------------------------------------------------------------------
    def record_decision(self, prompt: str, api_key_id: str | None = None) -> Decision:
        """Moderate `prompt`, store the decision (with the prompt, for backtests) and audit it."""
        result = self.moderator.moderate(prompt)
        row = Decision(prompt=prompt, prompt_sha256=hashlib.sha256(prompt.encode("utf-8")).hexdigest(),
                       normalized=str(getattr(result, "normalized", "")), action=str(result.action),
                       categories={k: float(v) for k, v in dict(result.categories).items()},
                       reasons=[str(r) for r in result.reasons], policy=str(result.policy), api_key_id=api_key_id)
        with self.store.session() as s:
            s.add(row)
        self.audit.append("moderation.decision", {
            "decision": row.id, "action": row.action, "categories": row.categories, "policy": row.policy,
            "prompt_sha256": row.prompt_sha256, "key": api_key_id,
        }, subject=row.id)
        return row

    # -- jobs ---------------------------------------------------------------------------------------
    def submit(self, request: GenerationRequest, api_key_id: str | None = None) -> Job:
        """Validate and moderate a request and create its job: queued, held for review, or rejected.

        Raises `BlockedByPolicy` (the job is recorded as rejected) or `HeldForReview` (the job waits
        in the review queue); both carry the decision.
        """
        request.validate(self.policy.pack.limits.request)
        decision = self.record_decision(request.prompt, api_key_id)
        status = {"allow": "queued", "review": "held", "block": "rejected"}[decision.action]
        # The id is set here, not at flush: the review item below refers to it in the same session.
        job = Job(id=new_id(), status=status, request=_request_dict(request), decision_id=decision.id,
                  api_key_id=api_key_id,
                  error="blocked by policy" if status == "rejected" else None)
        with self.store.session() as s:
            s.add(job)
            if status == "held":
                s.add(ReviewItem(kind="prompt", decision_id=decision.id, job_id=job.id))
        self.audit.append(f"job.{status}", {"job": job.id, "decision": decision.id}, subject=job.id)
        if status == "rejected":
            raise BlockedByPolicy(_explain("blocked by policy", decision), decision=decision_payload(decision),
                                  job_id=job.id)
        if status == "held":
            raise HeldForReview(_explain("held for review", decision), decision=decision_payload(decision),
                                job_id=job.id)
        return job

    def run_job(self, job_id: str) -> Asset | None:
        """Take a queued job through generation and sealing; raises on any failure (fail closed)."""
        with self.store.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise ValueError(f"no job {job_id}")
            existing = s.execute(select(Asset).where(Asset.job_id == job_id)).scalar()
            request, decision_id = GenerationRequest(**job.request), job.decision_id
        if existing is not None:  # sealed before an interruption: finish without a second asset
            self._progress(job_id, 1.0, "succeeded")
            return existing
        with self.store.session() as s:
            approved_output = s.execute(select(ReviewItem).where(
                ReviewItem.job_id == job_id, ReviewItem.kind == "output", ReviewItem.status == "approved")).scalar()
        try:
            return self._seal(job_id, request, decision_id, reviewed=approved_output is not None)
        except Exception as exc:
            self.audit.append("job.failed", {"job": job_id, "error": " ".join(str(exc).split())[:500]}, subject=job_id)
            raise

    def _progress(self, job_id: str, progress: float, status: str | None = None) -> None:
        with self.store.session() as s:
            job = s.get(Job, job_id)
            if job is not None:
                job.progress = progress
                if status:
                    job.status = status

    def _seal(self, job_id: str, request: GenerationRequest, decision_id: str | None, reviewed: bool) -> Asset | None:
        gen = self.generator()
        self._progress(job_id, 0.05)
        if reviewed:  # a moderator approved the quarantined clip: seal exactly that clip
            video = read_video(self.artifacts.local_path(f"quarantine/{job_id}.mp4"))
        else:
            video = gen.generate(request)
        self._progress(job_id, 0.6)
        check = self.checker.check(video)
        if not check.passed and not reviewed:
            self._quarantine(job_id, decision_id, video, check)
            return None
        self._progress(job_id, 0.7)
        asset_id = asset_id_for(job_id)
        payload = bytes.fromhex(asset_id)
        from safety.watermark import embed, extract
        from safety.watermark.profiles import GENERATED, with_headroom

        size = delivery_size(video.width, video.height)
        if size != (video.width, video.height):
            video = resize_video(video, *size)
        labelled = apply_label(video, self.policy.pack.disclosure)
        marked = embed(with_headroom(labelled), payload, self.watermark_key, GENERATED)
        work = Path(tempfile.mkdtemp(prefix=f"job-{job_id[:8]}-", dir=self.workdir))
        try:
            encoded = write_video(marked, work / "encoded.mp4", crf=DELIVERY_CRF, faststart=True)
            readback = extract(read_video(encoded), self.watermark_key)
            if not (readback.found and readback.payload == payload):
                raise WatermarkError("watermark did not read back from the encoded video; nothing delivered")
            self._progress(job_id, 0.85)
            card = gen.card
            prompt_sha = hashlib.sha256(request.prompt.encode("utf-8")).hexdigest()  # server-side row only
            keyed = prompt_digest(self.prompt_key, request.prompt) if self.prompt_key else None
            spec = ManifestSpec(title=f"SealFrame asset {asset_id}", model_id=f"{card.id}@{card.version}",
                                weights_sha256=card.weights_sha256, prompt_hmac_sha256=keyed,
                                policy=self.policy.fingerprint, decision_id=decision_id, asset_id=asset_id,
                                watermark_payload=payload, soft_binding_alg=self.soft_binding_alg)
            signed = sign_file(encoded, work / "sealed.mp4", spec, self.credentials, tsa_url=self.tsa_url)
            report = read_provenance(signed.path, self.trust_anchors)
            if report.state not in ("valid", "trusted") or not report.manifest_id:
                raise ProvenanceError(f"signed manifest did not read back ({report.state}); nothing delivered")
            video_key = self.artifacts.put_file(f"assets/{asset_id}/video.mp4", signed.path)
            manifest_key = self.artifacts.put_bytes(f"assets/{asset_id}/manifest.c2pa", signed.manifest_store)
            asset = Asset(id=asset_id, job_id=job_id, video_key=video_key, manifest_key=manifest_key,
                          manifest_id=report.manifest_id, sha256=hashlib.sha256(signed.path.read_bytes()).hexdigest(),
                          model_id=spec.model_id, weights_sha256=card.weights_sha256, prompt_sha256=prompt_sha,
                          policy=self.policy.fingerprint)
            with self.store.session() as s:
                s.add(asset)
                job = s.get(Job, job_id)
                if job is not None:
                    job.status, job.progress, job.error = "succeeded", 1.0, None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.audit.append("asset.sealed", {
            "job": job_id, "asset": asset_id, "manifest": asset.manifest_id, "model": asset.model_id,
            "policy": asset.policy, "output_check_max": check.max_score, "watermark_p": readback.p_value,
        } | ({"prompt_key": prompt_key_id(self.prompt_key)} if self.prompt_key else {}), subject=asset_id)
        return asset

    def _quarantine(self, job_id: str, decision_id: str | None, video: Any, check: OutputCheckResult) -> None:
        """Keep the flagged clip out of delivery (under quarantine/) and queue it for a moderator."""
        work = Path(tempfile.mkdtemp(prefix="quarantine-", dir=self.workdir))
        try:
            self.artifacts.put_file(f"quarantine/{job_id}.mp4", write_video(video, work / "q.mp4"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with self.store.session() as s:
            s.add(ReviewItem(kind="output", decision_id=decision_id or "", job_id=job_id,
                             reason=f"output check: {check.flagged_frames} frames ≥ {check.threshold}"))
            job = s.get(Job, job_id)
            if job is not None:
                job.status, job.error = "held", "output quarantined by the frame safety check; awaiting review"
        self.audit.append("output.quarantined", {"job": job_id, "scores": list(check.frame_scores),
                                                 "threshold": check.threshold}, subject=job_id)

    # -- review -------------------------------------------------------------------------------------
    def review(self, item_id: str, approve: bool, reviewer_key_id: str, reason: str) -> tuple[ReviewItem, str | None]:
        """Record a moderator's decision; returns the item and the job id to run (prompt approvals only)."""
        with self.store.session() as s:
            item = s.get(ReviewItem, item_id)
            if item is None:
                raise KeyError(item_id)
            if item.status != "pending":
                raise ValueError(f"review item already {item.status}")
            item.status = "approved" if approve else "rejected"
            item.reason, item.reviewer_key_id, item.decided_at = reason, reviewer_key_id, utcnow()
            run: str | None = None
            job = s.get(Job, item.job_id) if item.job_id else None
            if job is not None:
                if not approve:
                    job.status, job.error = "rejected", f"rejected in review: {reason}"
                else:
                    # A prompt approval generates; an output approval seals the quarantined clip.
                    job.status, job.error, run = "queued", None, job.id
        self.audit.append(f"review.{item.status}", {"item": item.id, "kind": item.kind, "job": item.job_id,
                                                    "reviewer": reviewer_key_id, "reason": reason}, subject=item.id)
        return item, run


def _request_dict(r: GenerationRequest) -> dict[str, Any]:
    return {"prompt": r.prompt, "negative_prompt": r.negative_prompt, "seed": r.seed, "frames": r.frames,
            "height": r.height, "width": r.width, "steps": r.steps, "guidance": r.guidance}


def _explain(what: str, d: Decision) -> str:
    top = sorted(d.categories.items(), key=lambda kv: -kv[1])[:3]
    cats = ", ".join(f"{k} {v:.2f}" for k, v in top if v > 0)
    return f"{what} ({cats})" if cats else what
