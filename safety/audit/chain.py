"""The append-only, hash-chained, signed decision log.

Each event stores `prev_hash` and `hash = sha256(canonical{seq, ts, kind, subject, payload, prev})`,
so editing, deleting or reordering a row breaks the chain at that row. Every `checkpoint_every`
events the head (seq, hash) is signed with an Ed25519 key: rewriting the whole tail after an edit
(recomputing every later hash, which needs no key) then still fails at the next checkpoint, and a
deleted tail shows as a checkpoint beyond the head.

Appends stay one linear chain under concurrency on any database: `seq` is the primary key, so of two
appends racing for the same head one fails on the key and retries on the new head (PostgreSQL also
takes a transaction-scoped advisory lock, so they queue instead of retrying).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from safety.errors import KeyMaterialError, SealFrameError
from safety.keyfolder import key_folder_lock
from safety.store import AuditCheckpoint, AuditEvent, Store

GENESIS = "0" * 64
AUDIT_KEY = "audit-ed25519.key"
AUDIT_PUB = "audit-ed25519.pub"
_PG_LOCK_ID = 0x5EA1F4A3


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(seq: int, ts: str, kind: str, subject: str | None, payload: str, prev_hash: str) -> str:
    material = canonical({"seq": seq, "ts": ts, "kind": kind, "subject": subject, "payload": payload,
                          "prev": prev_hash})
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _checkpoint_message(seq: int, head_hash: str) -> bytes:
    return f"sealframe-audit-checkpoint\n{seq}\n{head_hash}".encode()


@dataclass(frozen=True)
class AuditKey:
    private: ed25519.Ed25519PrivateKey | None
    public: ed25519.Ed25519PublicKey

    @property
    def key_id(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> AuditKey:
        """The checkpoint key under the key folder; made (mode 0600) on first use."""
        key_path, pub_path = keys_dir / AUDIT_KEY, keys_dir / AUDIT_PUB
        with key_folder_lock(keys_dir):
            if not key_path.exists():
                cls._create(key_path, pub_path)
        try:
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyMaterialError(f"cannot load audit key {key_path}: {exc}") from None
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise KeyMaterialError(f"audit key {key_path} is not an Ed25519 key")
        return cls(private=loaded, public=loaded.public_key())

    @staticmethod
    def _create(key_path: Path, pub_path: Path) -> None:
        key = ed25519.Ed25519PrivateKey.generate()
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        pub_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo))


class ChainProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int
    kind: str | None
    problem: str


class ChainReport(BaseModel):
    """Result of `AuditLog.verify`: `ok` only when every link and every checkpoint holds."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    events: int
    checkpoints: int
    head_seq: int
    head_hash: str
    problems: tuple[ChainProblem, ...] = ()

    def summary(self) -> str:
        if self.ok:
            return (f"audit chain intact: {self.events} events, {self.checkpoints} signed checkpoints, "
                    f"head {self.head_seq} {self.head_hash[:16]}")
        first = self.problems[0]
        if first.seq == 0:  # the database itself (safety.store.db.check_database)
            return f"audit chain cannot be verified: {first.problem}"
        return f"audit chain broken at event {first.seq} ({first.kind or '?'}): {first.problem}"


class AuditLog:
    def __init__(self, store: Store, key: AuditKey, checkpoint_every: int = 50) -> None:
        self.store = store
        self.key = key
        self.checkpoint_every = checkpoint_every

    def append(self, kind: str, payload: dict[str, Any], subject: str | None = None) -> AuditEvent:
        """Append one event; retries when another writer took the same head."""
        body = canonical(payload)
        delay = 0.002
        for _ in range(200):
            try:
                with self.store.session() as s:
                    if self.store.engine.dialect.name == "postgresql":
                        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
                    head = s.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar()
                    seq = head.seq + 1 if head else 1
                    prev = head.hash if head else GENESIS
                    ts = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
                    ev = AuditEvent(seq=seq, ts=ts, kind=kind, subject=subject, payload=body, prev_hash=prev,
                                    hash=event_hash(seq, ts, kind, subject, body, prev))
                    s.add(ev)
                    if seq % self.checkpoint_every == 0:
                        s.add(self._checkpoint(seq, ev.hash, ts))
                return ev
            except (IntegrityError, OperationalError):
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.1)
        raise SealFrameError("audit log busy: could not append the event (nothing was recorded)")

    def _checkpoint(self, seq: int, head_hash: str, ts: str) -> AuditCheckpoint:
        if self.key.private is None:
            raise KeyMaterialError("audit checkpoint needs the private audit key")
        sig = self.key.private.sign(_checkpoint_message(seq, head_hash))
        return AuditCheckpoint(seq=seq, hash=head_hash, signature=base64.b64encode(sig).decode(),
                               key_id=self.key.key_id, ts=ts)

    def checkpoint_now(self) -> AuditCheckpoint | None:
        """Sign the current head (e.g. at shutdown), so a later tail deletion is detectable."""
        with self.store.session() as s:
            head = s.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar()
            if head is None or s.get(AuditCheckpoint, head.seq) is not None:
                return None
            cp = self._checkpoint(head.seq, head.hash, head.ts)
            s.add(cp)
            return cp

    def iter_events(self, kind: str | None = None, after: int = 0, limit: int | None = None) -> Iterator[AuditEvent]:
        with self.store.session() as s:
            q = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
            if kind:
                q = q.where(AuditEvent.kind == kind)
            if limit:
                q = q.limit(limit)
            yield from s.execute(q.execution_options(yield_per=1000)).scalars()

    def verify(self, max_problems: int = 20) -> ChainReport:
        """The chain's report; never `ok` on a database that fails its integrity check or cannot be read."""
        from safety.store.db import check_database

        problem = check_database(self.store)
        if problem is None:
            try:
                return self._verify_chain(max_problems)
            except DatabaseError as exc:
                problem = f"database unreadable: {str(exc.orig or exc)[:200]}"
        return ChainReport(ok=False, events=0, checkpoints=0, head_seq=0, head_hash="",
                           problems=(ChainProblem(seq=0, kind=None, problem=problem),))

    def _verify_chain(self, max_problems: int) -> ChainReport:
        problems: list[ChainProblem] = []
        hashes: dict[int, str] = {}
        expected, prev, count = 1, GENESIS, 0
        kinds: dict[int, str] = {}
        for ev in self.iter_events():
            count += 1
            kinds[ev.seq] = ev.kind
            if ev.seq != expected:
                missing = f"{expected}" if ev.seq == expected + 1 else f"{expected}–{ev.seq - 1}"
                problems.append(ChainProblem(seq=expected, kind=None,
                                             problem=f"event {missing} missing (deleted)"))
            if ev.prev_hash != prev:
                problems.append(ChainProblem(seq=ev.seq, kind=ev.kind,
                                             problem="does not link to the event before it "
                                                     "(reordered, or a neighbour was deleted)"))
            if event_hash(ev.seq, ev.ts, ev.kind, ev.subject, ev.payload, ev.prev_hash) != ev.hash:
                problems.append(ChainProblem(seq=ev.seq, kind=ev.kind,
                                             problem="content does not match its hash (edited or moved)"))
            hashes[ev.seq] = ev.hash
            prev, expected = ev.hash, ev.seq + 1
        head_seq = expected - 1
        with self.store.session() as s:
            checkpoints = list(s.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars())
        for cp in checkpoints:
            try:
                self.key.public.verify(base64.b64decode(cp.signature), _checkpoint_message(cp.seq, cp.hash))
            except (InvalidSignature, ValueError):
                problems.append(ChainProblem(seq=cp.seq, kind=kinds.get(cp.seq),
                                             problem="checkpoint signature invalid (forged or edited checkpoint)"))
                continue
            if cp.seq > head_seq:
                problems.append(ChainProblem(seq=cp.seq, kind=None,
                                             problem=f"signed checkpoint at {cp.seq} but the chain ends at "
                                                     f"{head_seq} (tail deleted)"))
            elif hashes.get(cp.seq) != cp.hash:
                problems.append(ChainProblem(seq=cp.seq, kind=kinds.get(cp.seq),
                                             problem="does not match its signed checkpoint (chain rewritten)"))
        problems.sort(key=lambda p: p.seq)
        return ChainReport(ok=not problems, events=count, checkpoints=len(checkpoints), head_seq=head_seq,
                           head_hash=prev, problems=tuple(problems[:max_problems]))

    def export(self, fmt: Literal["json", "csv"]) -> str:
        rows = [
            {"seq": e.seq, "ts": e.ts, "kind": e.kind, "subject": e.subject, "payload": json.loads(e.payload),
             "prev_hash": e.prev_hash, "hash": e.hash}
            for e in self.iter_events()
        ]
        if fmt == "json":
            return json.dumps(rows, indent=2, ensure_ascii=False)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["seq", "ts", "kind", "subject", "payload", "prev_hash", "hash"])
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "payload": canonical(r["payload"])})
        return buf.getvalue()
