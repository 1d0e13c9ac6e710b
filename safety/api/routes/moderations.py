"""POST /v1/moderations: a prompt → ModerationDecision (recorded and audited)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from safety.api.deps import KeyDep, Prompt, StateDep, errors

router = APIRouter(prefix="/v1", tags=["moderation"], responses=errors(400, 401, 413, 422, 429))


class ModerationIn(BaseModel):
    prompt: Prompt


class ModerationOut(BaseModel):
    id: str
    action: str
    categories: dict[str, float]
    reasons: list[str]
    policy: str
    normalized: str


@router.post("/moderations", response_model=ModerationOut)
async def create_moderation(body: ModerationIn, state: StateDep, key: KeyDep) -> Any:
    d = await run_in_threadpool(state.pipeline.record_decision, body.prompt, key.id)
    return ModerationOut(id=d.id, action=d.action, categories=d.categories, reasons=d.reasons, policy=d.policy,
                         normalized=d.normalized)
