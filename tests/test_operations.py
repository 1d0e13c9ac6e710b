"""Operations: a corrupt database is never reported as an intact audit chain."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from safety.audit import audit_log_from_settings
from safety.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def test_audit_verify_on_a_corrupt_database_is_not_intact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SEALFRAME_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "safety.cli", "keys", "init"], env=env, check=True, capture_output=True)
    log = audit_log_from_settings(Settings(home=home))
    for i in range(60):
        log.append("test.event", {"i": i, "text": "x" * 200})
    assert log.verify().ok
    log.store.engine.dispose()  # the last connection checkpoints the WAL into the file
    db = home / "sealframe.db"
    con = sqlite3.connect(db)  # more pages after the chain's: a corrupt one there leaves every event readable
    con.execute("CREATE TABLE filler (x TEXT)")
    con.executemany("INSERT INTO filler VALUES (?)", [(f"row {i} " * 20,) for i in range(2000)])
    con.commit()
    con.close()
    raw = bytearray(db.read_bytes())
    raw[-4096 * 4: -4096 * 4 + 600] = b"\xa5" * 600
    db.write_bytes(bytes(raw))

    r = subprocess.run([sys.executable, "-m", "safety.cli", "audit", "verify"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 6, (r.returncode, r.stdout, r.stderr)
    assert "intact" not in r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "cannot be verified" in r.stderr and "Traceback" not in r.stderr
