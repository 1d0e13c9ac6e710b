"""Tamper-evident record of every decision: a hash chain with signed checkpoints."""

from __future__ import annotations

from safety.audit.chain import AUDIT_KEY, AuditKey, AuditLog, ChainProblem, ChainReport, canonical, event_hash
from safety.keyfolder import refuse_lost_keys
from safety.settings import Settings
from safety.store import open_store

__all__ = [
    "AuditKey",
    "AuditLog",
    "ChainProblem",
    "ChainReport",
    "audit_log_from_settings",
    "canonical",
    "event_hash",
]


def audit_log_from_settings(settings: Settings) -> AuditLog:
    store = open_store(settings.db_url)
    # A lost audit key is never silently replaced (the chain would read as forged).
    refuse_lost_keys({"audit key": settings.keys_dir / AUDIT_KEY} if not (settings.keys_dir / AUDIT_KEY).exists()
                     else {}, settings.keys_dir, store)
    return AuditLog(store, AuditKey.load_or_create(settings.keys_dir), settings.audit_checkpoint_every)
