"""The audit chain: tampering done directly in the SQLite file is found and the event named."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from safety.audit import AuditKey, AuditLog
from safety.store import open_store


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    store = open_store(f"sqlite:///{tmp_path / 'audit.db'}")
    return AuditLog(store, AuditKey.load_or_create(tmp_path / "keys"), checkpoint_every=5)


def fill(log: AuditLog, n: int = 12) -> None:
    for i in range(n):
        log.append("decision", {"i": i, "action": "block" if i % 3 == 0 else "allow"}, subject=f"d{i}")


def db_of(log: AuditLog) -> sqlite3.Connection:
    return sqlite3.connect(log.store.url.split("///", 1)[1])


def test_intact_chain_verifies_with_checkpoints(log: AuditLog) -> None:
    fill(log)
    report = log.verify()
    assert report.ok, report.problems
    assert (report.events, report.checkpoints, report.head_seq) == (12, 2, 12)


def test_edited_event_is_named(log: AuditLog) -> None:
    fill(log)
    with db_of(log) as db:
        db.execute("UPDATE audit_events SET payload = ? WHERE seq = 7", (json.dumps({"i": 7, "action": "allow"}),))
    report = log.verify()
    assert not report.ok
    assert report.problems[0].seq == 7
    assert "edited" in report.problems[0].problem
    assert "event 7" in report.summary()


def test_deleted_event_is_named(log: AuditLog) -> None:
    fill(log)
    with db_of(log) as db:
        db.execute("DELETE FROM audit_events WHERE seq = 4")
    report = log.verify()
    assert not report.ok
    assert report.problems[0].seq == 4 and "deleted" in report.problems[0].problem


def test_reordered_events_are_named(log: AuditLog) -> None:
    fill(log)
    with db_of(log) as db:
        db.execute("UPDATE audit_events SET seq = -1 WHERE seq = 8")
        db.execute("UPDATE audit_events SET seq = 8 WHERE seq = 9")
        db.execute("UPDATE audit_events SET seq = 9 WHERE seq = -1")
    report = log.verify()
    assert not report.ok
    assert report.problems[0].seq == 8


def test_deleted_tail_is_caught_by_the_signed_checkpoint(log: AuditLog) -> None:
    fill(log, 10)  # checkpoints at 5 and 10
    with db_of(log) as db:
        db.execute("DELETE FROM audit_events WHERE seq >= 9")
    report = log.verify()
    assert not report.ok and "tail deleted" in report.problems[0].problem


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(log: AuditLog) -> None:
    from safety.audit import event_hash

    fill(log, 10)
    # An attacker edits event 3 and recomputes every later hash (no key needed for that).
    with db_of(log) as db:
        rows = db.execute("SELECT seq, ts, kind, subject, payload FROM audit_events ORDER BY seq").fetchall()
        prev = "0" * 64
        for seq, ts, kind, subject, payload in rows:
            if seq == 3:
                payload = json.dumps({"i": 3, "action": "allow"})
            h = event_hash(seq, ts, kind, subject, payload, prev)
            db.execute("UPDATE audit_events SET payload=?, prev_hash=?, hash=? WHERE seq=?", (payload, prev, h, seq))
            prev = h
    report = log.verify()
    assert not report.ok
    assert report.problems[0].seq == 5 and "checkpoint" in report.problems[0].problem


def test_forged_checkpoint_signature_is_caught(log: AuditLog) -> None:
    fill(log, 5)
    other = AuditKey.load_or_create(Path(log.store.url.split("///", 1)[1]).parent / "other-keys")
    forged = AuditLog(log.store, other, 5)
    assert forged.verify().problems[0].problem.startswith("checkpoint signature invalid")


def test_export_json_and_csv(log: AuditLog) -> None:
    fill(log, 3)
    rows = json.loads(log.export("json"))
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    csv_text = log.export("csv")
    assert csv_text.splitlines()[0] == "seq,ts,kind,subject,payload,prev_hash,hash"
    assert len(csv_text.splitlines()) == 4


WORKER = """
import sys
from pathlib import Path
from safety.audit import AuditKey, AuditLog
from safety.store import open_store
log = AuditLog(open_store(sys.argv[1]), AuditKey.load_or_create(Path(sys.argv[2])), 7)
for i in range(int(sys.argv[3])):
    log.append("concurrent", {"worker": sys.argv[4], "i": i})
"""


@pytest.mark.slow
def test_concurrent_processes_keep_one_valid_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    keys = tmp_path / "keys"
    AuditKey.load_or_create(keys)
    open_store(url)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(keys), "40", f"w{w}"], env=env)
             for w in range(4)]
    assert [p.wait(timeout=240) for p in procs] == [0, 0, 0, 0]
    log = AuditLog(open_store(url), AuditKey.load_or_create(keys), 7)
    report = log.verify()
    assert report.ok, report.problems
    assert report.events == 160 and report.checkpoints == 160 // 7


def test_cli_audit_verify_exit_6_names_event(tmp_path: Path, sealframe_home: Path) -> None:
    from safety.audit import audit_log_from_settings
    from safety.settings import get_settings

    log = audit_log_from_settings(get_settings())
    fill(log, 6)
    env = {**os.environ, "SEALFRAME_HOME": str(sealframe_home)}
    ok = subprocess.run([sys.executable, "-m", "safety.cli", "audit", "verify"], capture_output=True, text=True,
                        env=env)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with db_of(log) as db:
        db.execute("UPDATE audit_events SET kind = 'tampered' WHERE seq = 2")
    bad = subprocess.run([sys.executable, "-m", "safety.cli", "audit", "verify"], capture_output=True, text=True,
                         env=env)
    assert bad.returncode == 6
    assert "event 2" in bad.stderr and "Traceback" not in bad.stderr
    exported = subprocess.run([sys.executable, "-m", "safety.cli", "audit", "export", "--format", "csv"],
                              capture_output=True, text=True, env=env)
    assert exported.returncode == 0 and exported.stdout.count("\n") == 7
