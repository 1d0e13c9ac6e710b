"""The C2PA Soft Binding Resolution API, as its OpenAPI document (C2PA 2.2) specifies it.

Clients that found our watermark (or upload a stripped copy) get back the ids of the stored
manifests, then the manifest store itself as `application/c2pa`, which validates with any C2PA SDK.

Conformance points: a missing or malformed `alg`, `value` or `maxResults` answers 400 (never 422);
a GET value too long for a URL answers 414; `value` may be standard or URL-safe base64, padded or
not; `endpoint` is left out of a match (the manifest is served here); `maxResults` has no upper cap;
`/matches/byContent` uses `hintAlg`/`hintValue` when the upload itself carries no readable mark;
`/manifests/{id}?returnActiveManifest=true` returns the active manifest alone. Error bodies never
name a server path.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from safety.api.deps import KeyDep, StateDep, errors
from safety.api.state import AppState
from safety.api.uploads import save_stream, upload_dir
from safety.errors import MediaError, ProvenanceError
from safety.media import read_video
from safety.provenance import WATERMARK_ALG
from safety.provenance.credentials import active_manifest_only
from safety.store import Asset
from safety.verify import VERIFY_FRAMES, VERIFY_PIXELS

router = APIRouter(prefix="/c2pa/v1", tags=["C2PA soft binding resolution"],
                   responses=errors(400, 401, 404, 413, 415, 429))

MAX_GET_VALUE = 2048
"""Longest `value` accepted in a GET query; longer ones answer 414 (use POST)."""
PAYLOAD_BYTES = 8


class SoftBindingQuery(BaseModel):
    alg: str = Field(description="Soft binding algorithm, e.g. io.sealframe.video-watermark.1")
    value: str = Field(description="Base64 of the soft binding value (our 8-byte watermark payload).")


class Match(BaseModel):
    manifestId: str
    similarityScore: int | None = Field(default=None, ge=0, le=100)
    endpoint: str | None = Field(default=None, description="Left out: the manifest is served by this API.")


class SoftBindingQueryResult(BaseModel):
    matches: list[Match]


class AlgEntry(BaseModel):
    alg: str


class SoftBindingAlgList(BaseModel):
    watermarks: list[AlgEntry] | None = None
    fingerprints: list[AlgEntry] | None = None


_MAX_RESULTS_DOC = "Most manifest ids to return (an integer of at least 1; default 10)."


def _max_results(raw: str | None) -> int:
    if raw is None:
        return 10
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(400, "maxResults must be an integer of at least 1") from None
    if value < 1:
        raise HTTPException(400, "maxResults must be an integer of at least 1")
    return value


def _algs(state: AppState) -> tuple[str, ...]:
    """The configured algorithm first; manifests sealed under our original name stay resolvable."""
    return tuple(dict.fromkeys((state.settings.soft_binding_alg, WATERMARK_ALG)))


def _decode_value(value: str) -> bytes:
    """Standard or URL-safe base64, with or without padding."""
    text = value.strip()
    if not text:
        raise HTTPException(400, "value is empty")
    padded = text + "=" * (-len(text) % 4)
    alphabet = b"-_" if ("-" in text or "_" in text) else None
    try:
        raw = base64.b64decode(padded, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, "value is not valid base64") from None
    if len(raw) != PAYLOAD_BYTES:
        raise HTTPException(400, f"value must encode the {PAYLOAD_BYTES}-byte watermark payload, got {len(raw)} bytes")
    return raw


def _matches(state: AppState, payload: bytes, max_results: int, score: int | None = 100) -> SoftBindingQueryResult:
    with state.store.session() as s:
        rows = s.execute(select(Asset).where(Asset.id == payload.hex()).limit(max_results)).scalars()
        return SoftBindingQueryResult(matches=[Match(manifestId=a.manifest_id, similarityScore=score) for a in rows])


def _by_binding(state: AppState, alg: Any, value: Any, max_results: int) -> SoftBindingQueryResult:
    if not isinstance(alg, str) or not alg:
        raise HTTPException(400, "alg is required")
    if not isinstance(value, str):
        raise HTTPException(400, "value is required")
    if alg not in _algs(state):
        raise HTTPException(400, f"unsupported soft binding algorithm {alg!r}; this service supports "
                                 f"{', '.join(_algs(state))}")
    return _matches(state, _decode_value(value), max_results)




@router.get("/matches/byBinding", response_model=SoftBindingQueryResult, response_model_exclude_none=True,
            responses={414: {"description": "value too long: use POST"}})
def matches_by_binding(
    state: StateDep, key: KeyDep,
    alg: Annotated[str | None, Query(description="Soft binding algorithm (required).")] = None,
    value: Annotated[str | None, Query(description="Base64 soft binding value (required).")] = None,
    maxResults: Annotated[str | None, Query(description=_MAX_RESULTS_DOC)] = None,
) -> SoftBindingQueryResult:
    if value is not None and len(value) > MAX_GET_VALUE:
        raise HTTPException(414, f"value longer than {MAX_GET_VALUE} characters: send it with POST")
    return _by_binding(state, alg, value, _max_results(maxResults))


@router.post(
    "/matches/byBinding", response_model=SoftBindingQueryResult, response_model_exclude_none=True,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": SoftBindingQuery.model_json_schema()}}}},
)
async def matches_by_large_binding(
    request: Request, state: StateDep, key: KeyDep,
    maxResults: Annotated[str | None, Query(description=_MAX_RESULTS_DOC)] = None,
) -> SoftBindingQueryResult:
    limit = _max_results(maxResults)
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "body is not JSON: send {\"alg\": ..., \"value\": ...}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object {\"alg\": ..., \"value\": ...}")
    return _by_binding(state, body.get("alg"), body.get("value"), limit)


@router.post(
    "/matches/byContent", response_model=SoftBindingQueryResult, response_model_exclude_none=True,
    openapi_extra={"requestBody": {"required": True, "content": {
        "video/*": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    }}},
)
async def matches_by_content(
    request: Request, state: StateDep, key: KeyDep,
    alg: Annotated[str | None, Query(description="Only this algorithm (ours is the only one served).")] = None,
    maxResults: Annotated[str | None, Query(description=_MAX_RESULTS_DOC)] = None,
    hintAlg: Annotated[str | None, Query(description="Another soft binding the client already read.")] = None,
    hintValue: Annotated[str | None, Query(description="Its base64 value; used when the upload reads no mark.")] = None,
) -> SoftBindingQueryResult:
    """Upload the asset itself (raw body, `video/*`): we read our watermark from it and match."""
    limit = _max_results(maxResults)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not (ctype.startswith("video/") or ctype == "application/octet-stream"):
        raise HTTPException(415, f"expected a video/* body, got {ctype}")
    if alg is not None and alg not in _algs(state):
        return SoftBindingQueryResult(matches=[])  # nothing of that algorithm is resolvable here
    path = await save_stream(request.stream(), upload_dir(state.settings.home), state.max_upload_bytes)
    try:
        result = await run_in_threadpool(_extract, state, path)
    finally:
        path.unlink(missing_ok=True)
    if result is not None:
        payload, confidence = result
        return _matches(state, payload, limit, score=max(0, min(100, round(confidence * 100))))
    if hintAlg is not None and hintValue is not None and hintAlg in _algs(state):
        try:
            hinted = _decode_value(hintValue)
        except HTTPException:
            return SoftBindingQueryResult(matches=[])
        # The client's own reading, not confirmed by the upload: no similarity claimed.
        return _matches(state, hinted, limit, score=None)
    return SoftBindingQueryResult(matches=[])


def _extract(state: AppState, path: Path) -> tuple[bytes, float] | None:
    if path.stat().st_size == 0:
        raise HTTPException(415, "the uploaded body is empty: expected a video")
    try:
        video = read_video(path, max_frames=VERIFY_FRAMES, max_pixels=VERIFY_PIXELS)
    except MediaError as exc:
        # The message names our temporary file; the client only needs the reason.
        reason = str(exc).replace(f"{path}: ", "").replace(str(path), "the upload")
        raise HTTPException(415, f"the upload is not a readable video: {reason}") from None
    signal = state.verifier.read_watermark(video)
    return (bytes.fromhex(signal.payload), signal.confidence) if signal.found and signal.payload else None


@router.get("/manifests/{manifestId}", response_class=Response,
            responses={200: {"content": {"application/c2pa": {}}}, 404: {"description": "unknown manifest id"}})
def get_manifest(
    state: StateDep, key: KeyDep, manifestId: str,
    returnActiveManifest: Annotated[
        str | None, Query(description="true: only the active manifest; false (default): the whole store.")
    ] = None,
) -> Response:
    flag = (returnActiveManifest or "false").lower()
    if flag not in ("true", "false", "1", "0"):
        raise HTTPException(400, "returnActiveManifest must be true or false")
    if not manifestId.startswith("urn:") or len(manifestId) > 200:
        raise HTTPException(400, "invalid C2PA manifest id")
    with state.store.session() as s:
        asset = s.execute(select(Asset).where(Asset.manifest_id == manifestId)).scalar()
    if asset is None:
        raise HTTPException(404, "C2PA manifest id not found")
    store = state.artifacts.get_bytes(asset.manifest_key)
    if flag in ("true", "1"):
        try:
            store = active_manifest_only(store)
        except ProvenanceError as exc:
            raise HTTPException(500, f"stored manifest store is damaged: {exc}") from None
    return Response(store, media_type="application/c2pa")


@router.get("/services/supportedAlgorithms", response_model=SoftBindingAlgList, response_model_exclude_none=True)
def supported_algorithms(state: StateDep) -> SoftBindingAlgList:
    return SoftBindingAlgList(watermarks=[AlgEntry(alg=a) for a in _algs(state)])
