"""Durable state: SQLAlchemy models, sessions and Alembic migrations (SQLite default, PostgreSQL by URL)."""

from safety.store.db import Store, StoreError, open_store
from safety.store.models import (
    ApiKey,
    Asset,
    AuditCheckpoint,
    AuditEvent,
    Base,
    Decision,
    Job,
    ReviewItem,
    RevokedSession,
)

__all__ = [
    "ApiKey",
    "Asset",
    "AuditCheckpoint",
    "AuditEvent",
    "Base",
    "Decision",
    "Job",
    "ReviewItem",
    "RevokedSession",
    "Store",
    "StoreError",
    "open_store",
]
