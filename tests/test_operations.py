"""Operations: concurrent first starts; a corrupt database is never reported intact; private folders; headers."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import httpx
import pytest

from safety.api.state import AppState
from safety.audit import audit_log_from_settings
from safety.settings import Settings
from tests.conftest import LiveServer

REPO = Path(__file__).resolve().parents[1]

_FIRST_START = """
import sys, time
from pathlib import Path
from safety.store import open_store
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
open_store(sys.argv[1])
"""


def test_concurrent_first_starts_migrate_once_started_together(tmp_path: Path) -> None:
    """Six processes that have all imported open one new SQLite database at the same instant: all start.

    The start signal makes the race happen every run (without the migration lock at least one of
    six fails with "table … already exists"); processes started one after another mostly miss it.
    """
    go, url = tmp_path / "go", f"sqlite:///{tmp_path / 'race.db'}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", _FIRST_START, url, str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    time.sleep(2.5)  # every process has imported and waits for the start signal
    go.touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    failed = [err.strip().splitlines()[-1] for p, err in zip(procs, errors, strict=True) if p.returncode != 0]
    assert failed == [], failed


def corrupt_home(home: Path) -> dict[str, str]:
    """A home with keys and 60 audit events whose database has a corrupt page after the chain's pages."""
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
    return env


def test_audit_verify_on_a_corrupt_database_is_not_intact(tmp_path: Path) -> None:
    env = corrupt_home(tmp_path / "home")
    r = subprocess.run([sys.executable, "-m", "safety.cli", "audit", "verify"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 6, (r.returncode, r.stdout, r.stderr)
    assert "intact" not in r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "cannot be verified" in r.stderr and "Traceback" not in r.stderr


def test_readiness_fails_on_a_corrupt_database_while_liveness_holds(tmp_path: Path) -> None:
    corrupt_home(tmp_path / "home")
    server = LiveServer(tmp_path / "home")  # starts: migrations read only their own table
    try:
        live, ready = httpx.get(server.url + "/healthz"), httpx.get(server.url + "/readyz")
    finally:
        server.stop()
    assert live.status_code == 200
    assert ready.status_code == 503 and ready.json()["status"] == "not ready", ready.text
    assert ready.json()["detail"].startswith("database ") and str(tmp_path) not in ready.text


@pytest.mark.slow
def test_private_folders_and_security_headers_on_sealed_assets(sealframe_home: Path) -> None:
    """A home that sealed an asset: every folder 0700, private files 0600; headers on every kind of response."""
    from tests.test_pipeline import ALLOWED, small, tiny_generator

    pipe = AppState(Settings(home=sealframe_home)).pipeline
    gen = tiny_generator()
    pipe.generator = lambda: gen
    job = pipe.submit(small(ALLOWED))
    asset = pipe.run_job(job.id)
    assert asset is not None
    server = LiveServer(sealframe_home)
    try:
        admin = {"Authorization": f"Bearer {server.key('admin')}"}
        get = partial(httpx.get, timeout=60)
        responses = {
            "video": get(f"{server.url}/v1/generations/{job.id}/video", headers=admin),
            "manifest": get(f"{server.url}/c2pa/v1/manifests/{asset.manifest_id}", headers=admin),
            "job": get(f"{server.url}/v1/generations/{job.id}", headers=admin),
            "no key": get(f"{server.url}/v1/generations/{job.id}"),
            "too large": httpx.post(f"{server.url}/v1/moderations", headers=admin, timeout=60,
                                    json={"prompt": "a" * 100_000}),
            "not found": get(f"{server.url}/v1/nothing-here", headers=admin),
            "dashboard": get(f"{server.url}/dashboard/login"),
            "dashboard asset": get(f"{server.url}/dashboard/static/dashboard.css"),
            "docs": get(f"{server.url}/docs"),
        }
    finally:
        server.stop()
    assert responses["video"].status_code == 200 and responses["video"].headers["content-type"] == "video/mp4"
    assert responses["manifest"].status_code == 200
    assert [responses[k].status_code for k in ("no key", "too large", "not found")] == [401, 413, 404]
    for name, r in responses.items():
        h = r.headers
        assert h.get("x-content-type-options") == "nosniff", name
        assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), name
        assert h.get("x-frame-options") == "DENY", name
        assert h.get("referrer-policy") == "no-referrer", name
        if name not in ("dashboard asset", "docs"):  # public static files may be cached
            assert h.get("cache-control") == "no-store", name

    folders = [sealframe_home, *(p for p in sealframe_home.rglob("*") if p.is_dir())]
    loose = {str(p.relative_to(sealframe_home)): oct(p.stat().st_mode & 0o777) for p in folders
             if p.stat().st_mode & 0o077}
    assert loose == {}, loose
    assert {str(p.relative_to(sealframe_home)) for p in folders} >= {".", "keys", "artifacts", "uploads", "work"}
    private = [sealframe_home / "sealframe.db", *sealframe_home.glob("keys/*.key"),
               *(p for p in (sealframe_home / "artifacts").rglob("*") if p.is_file())]
    assert len(private) >= 6
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in private if p.stat().st_mode & 0o077} == {}
