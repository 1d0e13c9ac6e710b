"""POST /v1/verifications: an uploaded video → VerificationReport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from safety.api.deps import KeyDep, StateDep, errors
from safety.api.uploads import CHUNK, save_stream, upload_dir
from safety.verify import VerificationReport

router = APIRouter(prefix="/v1", tags=["verification"], responses=errors(400, 401, 408, 413, 422, 429, 503))
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts"}


async def upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


def upload_suffix(name: str | None) -> str:
    suffix = Path(name or "").suffix.lower()
    return suffix if suffix in VIDEO_SUFFIXES else ".mp4"


@router.post("/verifications", response_model=VerificationReport)
async def create_verification(
    state: StateDep, key: KeyDep, file: Annotated[UploadFile, File(description="The video to verify.")]
) -> VerificationReport:
    """Report every provenance signal of the upload separately, then a verdict that claims no more than they show."""
    path = await save_stream(upload_chunks(file), upload_dir(state.settings.home), state.max_upload_bytes,
                             upload_suffix(file.filename))
    try:
        report = await run_in_threadpool(state.verifier.verify, path)
    finally:
        path.unlink(missing_ok=True)
    await run_in_threadpool(state.audit.append, "verification", {
        "verdict": report.verdict, "provenance": report.provenance.state, "watermark": report.watermark.found,
        "asset": report.manifest_match.asset_id if report.manifest_match else None, "key": key.id,
    }, None)
    return report
