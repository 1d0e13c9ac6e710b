"""Generation jobs: POST creates one (after moderation), GET reports it, /video delivers the sealed MP4."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from generator.base import GenerationRequest
from safety.api.deps import KeyDep, Prompt, StateDep, errors
from safety.api.state import AppState
from safety.errors import BlockedByPolicy, HeldForReview
from safety.store import Asset, Job

router = APIRouter(prefix="/v1", tags=["generation"], responses=errors(400, 401, 404, 409, 413, 422, 429, 503))
ACTIVE = ("queued", "running")
QUEUE_RETRY_AFTER_S = 30
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]


class GenerationIn(BaseModel):
    prompt: Prompt
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    frames: int | None = Field(default=None, ge=1, le=10_000)
    width: int | None = Field(default=None, ge=1, le=100_000)
    height: int | None = Field(default=None, ge=1, le=100_000)
    steps: int | None = Field(default=None, ge=1, le=100_000)


class JobAccepted(BaseModel):
    id: str
    status: Literal["queued", "held"]
    decision: dict[str, Any] | None = None


class JobOut(BaseModel):
    id: str
    status: str
    progress: float
    error: str | None = None
    video_url: str | None = None
    manifest_url: str | None = None


@router.post("/generations", status_code=202, response_model=JobAccepted,
             responses={403: {"description": "blocked by policy; the body carries the decision"}})
async def create_generation(body: GenerationIn, state: StateDep, key: KeyDep) -> Any:
    given = {k: v for k, v in body.model_dump().items() if v is not None}
    request = GenerationRequest(**given)
    cost = request.frames * request.width * request.height * request.steps
    if cost > state.settings.max_generation_cost:
        raise HTTPException(422, f"generation cost {request.frames} frames × {request.width}×{request.height} × "
                                 f"{request.steps} steps = {cost} exceeds this server's limit of "
                                 f"{state.settings.max_generation_cost}; ask for fewer frames, pixels or steps")
    await run_in_threadpool(_check_queue, state, key.id)
    try:
        job = await run_in_threadpool(state.pipeline.submit, request, key.id)
    except BlockedByPolicy as exc:
        return JSONResponse({"detail": str(exc), "decision": exc.decision, "id": exc.job_id}, status_code=403)
    except HeldForReview as exc:
        return JSONResponse({"id": exc.job_id, "status": "held", "decision": exc.decision}, status_code=202)
    state.runner.submit(job.id)
    return JobAccepted(id=job.id, status="queued")


def _check_queue(state: AppState, key_id: str) -> None:
    """429 when this key has its quota of jobs queued or running, 503 when the whole queue is full."""
    with state.store.session() as s:
        mine = s.scalar(select(func.count()).select_from(Job).where(Job.api_key_id == key_id,
                                                                    Job.status.in_(ACTIVE))) or 0
        total = s.scalar(select(func.count()).select_from(Job).where(Job.status.in_(ACTIVE))) or 0
    retry = {"Retry-After": str(QUEUE_RETRY_AFTER_S)}
    if mine >= state.settings.max_queued_jobs_per_key:
        raise HTTPException(429, f"this key already has {mine} generations queued or running "
                                 f"(limit {state.settings.max_queued_jobs_per_key})", headers=retry)
    if total >= state.settings.max_queued_jobs:
        raise HTTPException(503, f"the generation queue is full ({total} jobs); retry later", headers=retry)


def _own_job(state: Any, key: Any, job_id: str) -> tuple[Job, Asset | None]:
    with state.store.session() as s:
        job = s.get(Job, job_id)
        # Someone else's job is "not found", not "forbidden": ids must not be probeable.
        if job is None or (key.role not in ("admin", "moderator") and job.api_key_id != key.id):
            raise HTTPException(404, "no such generation")
        asset = s.execute(select(Asset).where(Asset.job_id == job_id)).scalar()
        return job, asset


@router.get("/generations/{job_id}", response_model=JobOut)
def get_generation(job_id: JobId, state: StateDep, key: KeyDep) -> JobOut:
    job, asset = _own_job(state, key, job_id)
    sealed = job.status == "succeeded" and asset is not None
    return JobOut(id=job.id, status=job.status, progress=round(job.progress, 3), error=job.error,
                  video_url=f"/v1/generations/{job.id}/video" if sealed else None,
                  manifest_url=f"/c2pa/v1/manifests/{asset.manifest_id}" if sealed and asset else None)


@router.get("/generations/{job_id}/video", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}}, 409: {"description": "not sealed (yet)"}})
def get_generation_video(job_id: JobId, state: StateDep, key: KeyDep) -> FileResponse:
    job, asset = _own_job(state, key, job_id)
    if job.status != "succeeded" or asset is None:
        raise HTTPException(409, f"generation is {job.status}; only sealed videos are delivered")
    return FileResponse(state.artifacts.local_path(asset.video_key), media_type="video/mp4",
                        filename=f"sealframe-{asset.id}.mp4")
