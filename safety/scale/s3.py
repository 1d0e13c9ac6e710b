"""Artifacts in an S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph), through boto3.

Same contract as the local folder: keys are relative paths, writes are atomic (an S3 PUT or a
completed multipart upload is all-or-nothing: a reader never sees half an object), and every failure
is an `ArtifactStoreError` (HTTP 503) that names the endpoint and the cause, so a job whose sealed
video cannot be stored fails closed with a reason instead of being delivered from somewhere else.
`local_path` downloads into a cache under home (keyed by the object's ETag) for the routes that
serve files.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from safety.artifacts import ArtifactStoreError, _clean_key
from safety.settings import Settings

_MISSING = ("404", "NoSuchKey", "NotFound")


class S3ArtifactStore:
    """Artifacts as objects under `s3://bucket/prefix/`."""

    def __init__(self, bucket: str, prefix: str, cache_dir: Path, *, endpoint_url: str | None,
                 access_key: str | None, secret_key: str | None, region: str) -> None:
        self.bucket, self.prefix, self.cache_dir = bucket, prefix.strip("/"), cache_dir
        self.endpoint = endpoint_url or "AWS S3"
        config = Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"},
                        s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                        response_checksum_validation="when_required")
        self.client: Any = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            region_name=region, config=config)
        self._bucket_ready = False

    @classmethod
    def from_settings(cls, settings: Settings) -> S3ArtifactStore:
        spec = (settings.artifacts or "")[len("s3://"):]
        bucket, _, prefix = spec.partition("/")
        if not bucket:
            raise ArtifactStoreError(f"SEALFRAME_ARTIFACTS={settings.artifacts!r} names no bucket")
        secret = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else None
        return cls(bucket, prefix, settings.home / "cache" / "artifacts", endpoint_url=settings.s3_endpoint_url,
                   access_key=settings.s3_access_key, secret_key=secret, region=settings.s3_region)

    def _key(self, key: str) -> str:
        clean = _clean_key(key)
        return f"{self.prefix}/{clean}" if self.prefix else clean

    def _fail(self, what: str, key: str, exc: Exception) -> ArtifactStoreError:
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            cause = f"{err.get('Code', '?')}: {err.get('Message', '')}".strip(": ")
        else:
            cause = " ".join(str(exc).split()) or type(exc).__name__
        return ArtifactStoreError(f"object store {self.endpoint} bucket {self.bucket}: cannot {what} {key} ({cause})")

    def _ensure_bucket(self) -> None:
        """Create the bucket on first write when it does not exist (development stacks start empty)."""
        if self._bucket_ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
            try:
                self.client.create_bucket(Bucket=self.bucket)
            except ClientError as exc2:
                if exc2.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        self._bucket_ready = True

    def put_file(self, key: str, src: Path) -> str:
        try:
            self._ensure_bucket()
            # upload_file switches to multipart above 8 MB; the object appears only when complete.
            self.client.upload_file(str(src), self.bucket, self._key(key))
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail("store", key, exc) from None
        return key

    def put_bytes(self, key: str, data: bytes) -> str:
        try:
            self._ensure_bucket()
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("store", key, exc) from None
        return key

    def get_bytes(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            return bytes(body.read())
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("read", key, exc) from None

    def local_path(self, key: str) -> Path:
        """A local copy of the object, downloaded once per version (ETag) and reused."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("read", key, exc) from None
        tag = hashlib.sha256(f"{self._key(key)}\0{head.get('ETag', '')}".encode()).hexdigest()
        path = self.cache_dir / tag[:2] / tag
        if path.is_file() and path.stat().st_size == head.get("ContentLength", -1):
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
            os.close(fd)
            self.client.download_file(self.bucket, self._key(key), tmp)
            os.replace(tmp, path)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise self._fail("read", key, exc) from None
        return path

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise self._fail("look up", key, exc) from None
        except BotoCoreError as exc:
            raise self._fail("look up", key, exc) from None
        return True
