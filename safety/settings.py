"""Process settings, read from `SEALFRAME_*` environment variables (pydantic-settings).

The embedded default needs none of them: keys under `$SEALFRAME_HOME` (default `~/.sealframe`),
the bundled default policy pack, no time-stamping authority (no network).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEALFRAME_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".sealframe")
    policy: Path | None = None
    """Policy pack YAML; the bundled `policies/default.yaml` when unset."""

    # Provenance. Unset paths mean "the development keys under home/keys".
    signing_key: Path | None = None
    signing_chain: Path | None = None
    key_passphrase: SecretStr | None = None
    trust_anchors: Path | None = None
    """PEM bundle of trust anchors. Unset: the dev root under home/keys (if it exists)."""
    tsa_url: str | None = None
    """RFC 3161 time-stamping authority; unset means no time-stamp (and no network)."""
    tsa_trust_anchors: Path | None = None
    """PEM bundle of time-stamp authority roots, added to the trust anchors when verifying: a
    time-stamp from a TSA outside it reads `timeStamp.untrusted` and does not rescue an expired
    signing certificate."""
    soft_binding_alg: str = Field(default="io.sealframe.video-watermark.1",
                                  pattern=r"^[A-Za-z]{2,63}(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
    """The `alg` our `c2pa.soft-binding` assertion names and the resolution API serves: ours until the
    C2PA soft-binding algorithm list assigns an entry (docs/provenance.md has the one to submit)."""
    trust_list: Literal["none", "c2pa-2026-08-13"] = "none"
    """A dated snapshot of the official C2PA trust list (and its TSA list) shipped with SealFrame,
    added to the anchors; `none` by default."""
    remote_manifest_hosts: list[str] = Field(default_factory=list)
    """Hosts (`name` or `name:port`) from which a manifest referenced by URL may be fetched when
    verifying (JSON list in the environment). Empty (default): remote manifests are reported, never
    fetched."""
    sign_existing: Literal["ingredient", "refuse"] = "ingredient"
    """Signing a file that already carries C2PA credentials: keep its manifest as our `parentOf`
    ingredient (`c2pa.opened`), or refuse."""
    watermark_key: Path | None = None
    """32-byte watermark secret; unset means home/keys/watermark.key (created on first use)."""

    # Store and audit log.
    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite (WAL) at home/sealframe.db."""
    audit_checkpoint_every: int = Field(default=50, gt=0)
    """Sign a checkpoint of the audit chain every N events."""

    # Scale-out (docs/deploy.md): all three default to the embedded single process.
    jobs: Literal["inprocess", "celery"] = "inprocess"
    """Where generation jobs run: a thread pool in the API process, or Celery workers (`sealframe worker`)."""
    broker_url: str = "redis://127.0.0.1:6379/0"
    """Celery broker for `jobs=celery`."""
    job_lease_s: float = Field(default=60.0, gt=0)
    """A running job whose worker has not reported for this long is re-queued (or failed) by a sweep."""
    artifacts: str | None = None
    """Artifact store: a folder, or `s3://bucket[/prefix]`; unset means home/artifacts."""
    s3_endpoint_url: str | None = None
    """S3-compatible endpoint (SeaweedFS, MinIO, Ceph …); unset means AWS."""
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"

    # Bounded cost per request (docs/security.md).
    max_json_bytes: int = Field(default=32_768, gt=0)
    """Largest body of a JSON or form route (a 2000-character prompt, fully escaped, is ~24 KB)."""
    max_concurrent_verifications: int = Field(default=2, gt=0)
    """Uploads decoded at once in this process; more get 503 with Retry-After."""
    max_concurrent_verifications_per_key: int = Field(default=1, gt=0)
    """Uploads decoded at once for one API key; more get 429 with Retry-After."""
    max_generation_cost: int = Field(default=64 * 256 * 256 * 50, gt=0)
    """Largest frames × width × height × steps of one generation (the pack's limits bound each factor)."""
    max_queued_jobs: int = Field(default=32, gt=0)
    """Generation jobs queued or running at once, all keys together; more get 503."""
    max_queued_jobs_per_key: int = Field(default=4, gt=0)
    """Generation jobs queued or running at once for one API key; more get 429."""
    header_timeout_s: float = Field(default=10.0, gt=0)
    """A connection must send complete request headers within this time, or it is closed."""
    body_timeout_s: float = Field(default=30.0, gt=0)
    """Longest wait for the next chunk of a request body before answering 408."""
    max_connections: int = Field(default=256, gt=0)
    """Open connections at once; uvicorn answers 503 beyond."""
    trusted_proxies: str = ""
    """Comma-separated proxy addresses whose X-Forwarded-For / -Proto are believed; empty: none."""

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'sealframe.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
