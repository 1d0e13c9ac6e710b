"""Tamper-evident record of every decision: a hash chain with signed checkpoints."""

from __future__ import annotations

from safety.audit.chain import AuditKey, AuditLog, ChainProblem, ChainReport, canonical, event_hash
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
    from safety.keyfolder import require_keys

    store = open_store(settings.db_url)
    require_keys(settings, store, roles={"audit key"})  # a lost audit key is never silently replaced
    return AuditLog(store, AuditKey.load_or_create(settings.keys_dir), settings.audit_checkpoint_every)
