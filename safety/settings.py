"""Process settings, read from `SEALFRAME_*` environment variables (pydantic-settings).

The embedded default needs none of them: keys under `$SEALFRAME_HOME` (default `~/.sealframe`),
the bundled default policy pack, no time-stamping authority (no network).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    watermark_key: Path | None = None
    """32-byte watermark secret; unset means home/keys/watermark.key (created on first use)."""

    # Store and audit log.
    database_url: str | None = None
    """SQLAlchemy URL; unset means SQLite (WAL) at home/sealframe.db."""
    audit_checkpoint_every: int = Field(default=50, gt=0)
    """Sign a checkpoint of the audit chain every N events."""

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'sealframe.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
