"""The C2PA Soft Binding Resolution API (shapes from its OpenAPI document): watermark → manifest.

Clients that found our watermark (or uploaded a stripped copy) get back the ids of the stored
manifests, then the manifest store itself as `application/c2pa`, which validates with any C2PA SDK.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from safety.api.deps import KeyDep, StateDep, errors
from safety.api.state import AppState
from safety.api.uploads import save_stream, upload_dir
from safety.errors import MediaError
from safety.media import read_video
from safety.provenance import WATERMARK_ALG
from safety.store import Asset
from safety.verify import VERIFY_FRAMES, VERIFY_PIXELS

router = APIRouter(prefix="/c2pa/v1", tags=["C2PA soft binding resolution"],
                   responses=errors(400, 401, 404, 413, 415, 422, 429))


class SoftBindingQuery(BaseModel):
    alg: str = Field(description="Soft binding algorithm, e.g. io.sealframe.video-watermark.1")
    value: str = Field(description="Base64 of the soft binding value (our 8-byte watermark payload).")


class Match(BaseModel):
    manifestId: str
    similarityScore: int = Field(ge=0, le=100)
    endpoint: str | None = None


class SoftBindingQueryResult(BaseModel):
    matches: list[Match]


class AlgEntry(BaseModel):
    alg: str


class SoftBindingAlgList(BaseModel):
    watermarks: list[AlgEntry]
    fingerprints: list[AlgEntry] = []


MaxResults = Annotated[int, Query(ge=1, le=100, description="Most manifest ids to return.")]


def _check_alg(alg: str | None) -> None:
    if alg is not None and alg != WATERMARK_ALG:
        raise HTTPException(400, f"unsupported soft binding algorithm {alg!r}; this service supports {WATERMARK_ALG}")


def _matches(state: AppState, payload: bytes, max_results: int, score: int = 100) -> SoftBindingQueryResult:
    with state.store.session() as s:
        rows = s.execute(select(Asset).where(Asset.id == payload.hex()).limit(max_results)).scalars()
        return SoftBindingQueryResult(matches=[Match(manifestId=a.manifest_id, similarityScore=score) for a in rows])


def _decode_value(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, "value is not valid base64") from None
    if len(raw) != 8:
        raise HTTPException(400, f"value must encode the 8-byte watermark payload, got {len(raw)} bytes")
    return raw


@router.get("/matches/byBinding", response_model=SoftBindingQueryResult)
def matches_by_binding(
    state: StateDep, key: KeyDep, alg: Annotated[str, Query()], value: Annotated[str, Query(max_length=4096)],
    maxResults: MaxResults = 10,
) -> SoftBindingQueryResult:
    _check_alg(alg)
    return _matches(state, _decode_value(value), maxResults)


@router.post("/matches/byBinding", response_model=SoftBindingQueryResult)
def matches_by_large_binding(
    state: StateDep, key: KeyDep, query: SoftBindingQuery, maxResults: MaxResults = 10
) -> SoftBindingQueryResult:
    _check_alg(query.alg)
    return _matches(state, _decode_value(query.value), maxResults)


@router.post(
    "/matches/byContent",
    response_model=SoftBindingQueryResult,
    openapi_extra={"requestBody": {"required": True, "content": {
        "video/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    }}},
)
async def matches_by_content(
    request: Request, state: StateDep, key: KeyDep, alg: Annotated[str | None, Query()] = None,
    maxResults: MaxResults = 10,
) -> SoftBindingQueryResult:
    """Upload the asset itself (raw body, `video/*`): we read our watermark from it and match."""
    _check_alg(alg)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not (ctype.startswith("video/") or ctype == "application/octet-stream"):
        raise HTTPException(415, f"expected a video/* body, got {ctype}")
    path = await save_stream(request.stream(), upload_dir(state.settings.home), state.max_upload_bytes)
    try:
        result = await run_in_threadpool(_extract, state, path)
    finally:
        path.unlink(missing_ok=True)
    if result is None:
        return SoftBindingQueryResult(matches=[])
    payload, confidence = result
    return _matches(state, payload, maxResults, score=max(0, min(100, round(confidence * 100))))


def _extract(state: AppState, path: Path) -> tuple[bytes, float] | None:
    try:
        video = read_video(path, max_frames=VERIFY_FRAMES, max_pixels=VERIFY_PIXELS)
    except MediaError as exc:
        raise HTTPException(415, str(exc)) from None
    signal = state.verifier.read_watermark(video)
    return (bytes.fromhex(signal.payload), signal.confidence) if signal.found and signal.payload else None


@router.get("/manifests/{manifestId}", response_class=Response,
            responses={200: {"content": {"application/c2pa": {}}}, 404: {"description": "unknown manifest id"}})
def get_manifest(
    state: StateDep, key: KeyDep, manifestId: str,
    returnActiveManifest: bool = False,
) -> Response:
    if not manifestId.startswith("urn:") or len(manifestId) > 200:
        raise HTTPException(400, "invalid C2PA manifest id")
    with state.store.session() as s:
        asset = s.execute(select(Asset).where(Asset.manifest_id == manifestId)).scalar()
    if asset is None:
        raise HTTPException(404, "C2PA manifest id not found")
    return Response(state.artifacts.get_bytes(asset.manifest_key), media_type="application/c2pa")


@router.get("/services/supportedAlgorithms", response_model=SoftBindingAlgList)
def supported_algorithms() -> SoftBindingAlgList:
    return SoftBindingAlgList(watermarks=[AlgEntry(alg=WATERMARK_ALG)])
