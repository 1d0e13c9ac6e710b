"""The review queue (moderators): held prompts and quarantined outputs, approve or reject."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from safety.api.deps import ModeratorDep, StateDep, errors
from safety.store import Decision, ReviewItem

router = APIRouter(prefix="/v1/review-queue", tags=["review"], responses=errors(400, 401, 403, 404, 409, 422, 429))


class ReviewItemOut(BaseModel):
    id: str
    kind: str
    status: str
    job_id: str | None
    created_at: dt.datetime
    reason: str | None
    prompt: str | None
    normalized: str | None
    categories: dict[str, float]
    reasons: list[str]
    policy: str | None


class ReviewDecisionIn(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000)


def _out(item: ReviewItem, d: Decision | None) -> ReviewItemOut:
    return ReviewItemOut(id=item.id, kind=item.kind, status=item.status, job_id=item.job_id,
                         created_at=item.created_at, reason=item.reason, prompt=d.prompt if d else None,
                         normalized=d.normalized if d else None, categories=d.categories if d else {},
                         reasons=d.reasons if d else [], policy=d.policy if d else None)


@router.get("", response_model=list[ReviewItemOut])
def list_queue(
    state: StateDep, key: ModeratorDep,
    status: Annotated[Literal["pending", "approved", "rejected"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReviewItemOut]:
    with state.store.session() as s:
        rows = s.execute(select(ReviewItem, Decision).outerjoin(Decision, Decision.id == ReviewItem.decision_id)
                         .where(ReviewItem.status == status).order_by(ReviewItem.created_at).limit(limit)).all()
        return [_out(item, d) for item, d in rows]


@router.post("/{item_id}/decision", response_model=ReviewItemOut)
async def decide(
    item_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], body: ReviewDecisionIn, state: StateDep,
    key: ModeratorDep,
) -> Any:
    try:
        item, run = await run_in_threadpool(state.pipeline.review, item_id, body.decision == "approve", key.id,
                                            body.reason)
    except KeyError:
        raise HTTPException(404, "no such review item") from None
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if run is not None:
        state.runner.submit(run)
    with state.store.session() as s:
        return _out(item, s.get(Decision, item.decision_id))
