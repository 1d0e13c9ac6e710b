"""Auditor routes: the event log and its verification."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from safety.api.deps import AuditorDep, StateDep, errors
from safety.audit import ChainReport

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=errors(400, 401, 403, 422, 429))


class AuditEventOut(BaseModel):
    seq: int
    ts: str
    kind: str
    subject: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


@router.get("/events", response_model=list[AuditEventOut])
def list_events(
    state: StateDep, key: AuditorDep, after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100, kind: Annotated[str | None, Query(max_length=60)] = None,
) -> list[AuditEventOut]:
    return [
        AuditEventOut(seq=e.seq, ts=e.ts, kind=e.kind, subject=e.subject, payload=json.loads(e.payload),
                      prev_hash=e.prev_hash, hash=e.hash)
        for e in state.audit.iter_events(kind=kind, after=after, limit=limit)
    ]


@router.get("/verify", response_model=ChainReport)
async def verify_chain(state: StateDep, key: AuditorDep) -> ChainReport:
    return await run_in_threadpool(state.audit.verify)
