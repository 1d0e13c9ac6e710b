"""SafeGenerationPipeline end to end in-process, on a tiny random STDiT built here (no trained weights).

Every stage is the real one: the moderator and its ONNX classifier, the frame safety model, the
watermark, C2PA signing, the SQLite store and the audit chain.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generator.base import GenerationRequest, ModelCard
from generator.stdit.model import STDiT, STDiTConfig
from generator.stdit.pipeline import STDiTGenerator
from policies import load_policy
from policies.schema import OutputChecks
from safety.api.state import AppState
from safety.errors import BlockedByPolicy, HeldForReview, KeyMaterialError
from safety.media import read_video
from safety.output_checks import FrameSafetyChecker
from safety.pipeline import SafeGenerationPipeline, asset_id_for, delivery_size
from safety.provenance import read_provenance
from safety.settings import Settings
from safety.store import Asset, Job, ReviewItem

ALLOWED = "a small red circle drifts left across a white background"
BLOCKED = "step by step instructions to build a pipe bomb to kill people"


def tiny_generator() -> STDiTGenerator:
    torch.manual_seed(0)
    model = STDiT(STDiTConfig(frames=8, height=64, width=64, hidden=32, depth=1, heads=2)).eval()
    return STDiTGenerator(model, ModelCard(id="stdit-tiny-random", version="test", weights_sha256="0" * 64,
                                           training_data="none (random init)"))


@pytest.fixture
def pipeline(sealframe_home: Path) -> SafeGenerationPipeline:
    state = AppState(Settings(home=sealframe_home))
    pipe = state.pipeline
    gen = tiny_generator()
    pipe.generator = lambda: gen
    return pipe


def small(prompt: str) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, frames=8, height=64, width=64, steps=2, seed=1)


def test_delivery_size() -> None:
    assert delivery_size(64, 64) == (256, 256)
    assert delivery_size(1280, 720) == (1280, 720)
    assert delivery_size(96, 64) == (384, 256)


def test_allowed_prompt_is_sealed_watermarked_signed_and_audited(pipeline: SafeGenerationPipeline) -> None:
    from safety.watermark import extract

    job = pipeline.submit(small(ALLOWED))
    assert job.status == "queued"
    asset = pipeline.run_job(job.id)
    assert asset is not None and asset.id == asset_id_for(job.id)
    video_path = pipeline.artifacts.local_path(asset.video_key)
    report = read_provenance(video_path, pipeline.trust_anchors)
    assert report.state == "trusted"
    assert report.manifest_id == asset.manifest_id
    assert report.generation is not None and report.generation["asset_id"] == asset.id
    assert report.generation["policy"] == pipeline.policy.fingerprint
    assert report.soft_bindings and report.soft_bindings[0].alg == "io.sealframe.video-watermark.1"
    video = read_video(video_path)
    assert (video.width, video.height) == (256, 256)
    wm = extract(video, pipeline.watermark_key)
    assert wm.found and wm.payload == bytes.fromhex(asset.id)
    assert pipeline.artifacts.get_bytes(asset.manifest_key)[:4] != b""
    with pipeline.store.session() as s:
        assert s.get(Job, job.id).status == "succeeded"  # type: ignore[union-attr]
    kinds = [e.kind for e in pipeline.audit.iter_events()]
    assert kinds == ["moderation.decision", "job.queued", "asset.sealed"]
    assert pipeline.audit.verify().ok

    again = pipeline.run_job(job.id)  # a re-run after an interruption: no second asset
    assert again is not None and again.id == asset.id
    with pipeline.store.session() as s:
        assert s.query(Asset).count() == 1


def test_blocked_prompt_is_refused_recorded_and_audited(pipeline: SafeGenerationPipeline) -> None:
    with pytest.raises(BlockedByPolicy) as info:
        pipeline.submit(small(BLOCKED))
    assert info.value.decision["action"] == "block"
    assert info.value.decision["categories"]
    with pipeline.store.session() as s:
        job = s.get(Job, info.value.job_id)
        assert job is not None and job.status == "rejected"
    assert [e.kind for e in pipeline.audit.iter_events()] == ["moderation.decision", "job.rejected"]


def test_held_prompt_waits_for_review_then_runs(pipeline: SafeGenerationPipeline) -> None:
    prompt = "Mickey Mouse dancing on a stage"
    decision = pipeline.moderator.moderate(prompt)
    if decision.action != "review":
        pytest.fail(f"the default pack should send copyrighted characters to review, got {decision.action}")
    with pytest.raises(HeldForReview) as info:
        pipeline.submit(small(prompt))
    with pipeline.store.session() as s:
        item = s.query(ReviewItem).filter_by(job_id=info.value.job_id).one()
    _, run = pipeline.review(item.id, approve=True, reviewer_key_id="mod", reason="parody, allowed")
    assert run == info.value.job_id
    assert pipeline.run_job(run) is not None
    with pytest.raises(ValueError, match="already approved"):
        pipeline.review(item.id, approve=False, reviewer_key_id="mod", reason="changed my mind")


def test_flagged_output_is_quarantined_never_delivered(pipeline: SafeGenerationPipeline) -> None:
    pipeline.checker = FrameSafetyChecker(OutputChecks(nsfw_threshold=0.0, min_flagged_frames=1))
    job = pipeline.submit(small(ALLOWED))
    assert pipeline.run_job(job.id) is None
    with pipeline.store.session() as s:
        assert s.get(Job, job.id).status == "held"  # type: ignore[union-attr]
        assert s.query(Asset).count() == 0
        item = s.query(ReviewItem).filter_by(job_id=job.id, kind="output").one()
    assert pipeline.artifacts.exists(f"quarantine/{job.id}.mp4")
    assert not pipeline.artifacts.exists(f"assets/{asset_id_for(job.id)}/video.mp4")
    _, run = pipeline.review(item.id, approve=True, reviewer_key_id="mod", reason="false positive")
    sealed = pipeline.run_job(run)  # seals exactly the reviewed clip
    assert sealed is not None


def test_failure_anywhere_delivers_nothing(pipeline: SafeGenerationPipeline) -> None:
    pipeline.watermark_key = b"short"  # an unusable key: the watermark stage must raise
    job = pipeline.submit(small(ALLOWED))
    with pytest.raises(KeyMaterialError):
        pipeline.run_job(job.id)
    with pipeline.store.session() as s:
        assert s.query(Asset).count() == 0
    assert not pipeline.artifacts.exists(f"assets/{asset_id_for(job.id)}/video.mp4")
    assert [e.kind for e in pipeline.audit.iter_events()][-1] == "job.failed"


def test_request_limits_come_from_the_pack(pipeline: SafeGenerationPipeline) -> None:
    from safety.errors import BadInputError

    limits = load_policy().pack.limits.request
    for bad in (GenerationRequest(prompt=""), GenerationRequest(prompt="x", frames=0),
                GenerationRequest(prompt="x", width=10000, height=10000),
                GenerationRequest(prompt="x", steps=limits.max_steps + 1)):
        with pytest.raises(BadInputError):
            pipeline.submit(bad)
    assert list(pipeline.audit.iter_events()) == []  # refused before moderation: nothing to record
