"""API keys: random secrets shown once, stored as sha256, each with one role."""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal, get_args

from sqlalchemy import select

from safety.errors import BadInputError
from safety.store.db import Store
from safety.store.models import ApiKey, utcnow

Role = Literal["client", "moderator", "auditor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
PREFIX = "sf_"


def hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_key(store: Store, role: str, name: str, rate_limit_per_minute: int = 120) -> tuple[str, ApiKey]:
    """Create a key; returns (secret, row). The secret is not stored and cannot be shown again."""
    if role not in ROLES:
        raise BadInputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if rate_limit_per_minute <= 0:
        raise BadInputError("rate limit must be a positive number of requests per minute")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name[:200], role=role, prefix=secret[:10], key_hash=hash_secret(secret),
                 rate_limit_per_minute=rate_limit_per_minute)
    with store.session() as s:
        s.add(row)
    return secret, row


def find_api_key(store: Store, secret: str) -> ApiKey | None:
    """The active key for `secret`, or None (unknown or revoked)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    with store.session() as s:
        row = s.execute(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret))).scalar()
        return row if row is not None and row.revoked_at is None else None


def revoke_api_key(store: Store, key_id: str) -> bool:
    with store.session() as s:
        row = s.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def list_api_keys(store: Store, include_revoked: bool = False) -> list[ApiKey]:
    """Keys, oldest first (their hashes are never shown, and the secrets are not stored)."""
    with store.session() as s:
        q = select(ApiKey).order_by(ApiKey.created_at)
        if not include_revoked:
            q = q.where(ApiKey.revoked_at.is_(None))
        return list(s.execute(q).scalars())
