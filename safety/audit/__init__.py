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
    return AuditLog(open_store(settings.db_url), AuditKey.load_or_create(settings.keys_dir),
                    settings.audit_checkpoint_every)
