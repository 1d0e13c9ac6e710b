"""Sessions, logs and operations over a real server: sign-out, audit of refusals, proxies, readiness, files, headers."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safety.store import open_store
from tests.conftest import LiveServer

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("ops") / "home"
    # Uploads left by a process that was killed: one in a dead process's folder, one of the flat layout.
    dead = home / "uploads" / "999999999"
    dead.mkdir(parents=True)
    (dead / "upload-left.mp4").write_bytes(b"x" * 1000)
    (home / "uploads" / "upload-flat.mp4").write_bytes(b"y" * 1000)
    srv = LiveServer(home)
    yield srv
    srv.stop()


def events(server: LiveServer, kind: str) -> list[dict[str, object]]:
    auditor = server.key("auditor")
    r = httpx.get(server.url + "/v1/audit/events", params={"kind": kind, "limit": 1000},
                  headers={"Authorization": f"Bearer {auditor}"})
    assert r.status_code == 200, r.text
    out: list[dict[str, object]] = r.json()
    return out


def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field"
    return m.group(1)


def test_sign_out_ends_the_session_on_the_server(server: LiveServer) -> None:
    secret = server.key("auditor")
    with httpx.Client(base_url=server.url) as browser:
        page = browser.get("/dashboard/login")
        r = browser.post("/dashboard/login", data={"api_key": secret, "csrf_token": csrf(page.text)})
        assert r.status_code == 303
        cookie = browser.cookies.get("sf_session")
        assert cookie and browser.get("/dashboard/audit").status_code == 200
        home = browser.get("/dashboard/audit")
        out = browser.post("/dashboard/logout", data={"csrf_token": csrf(home.text)})
        assert out.status_code == 303
    # A copy of the cookie (another tab, a stolen one) no longer works either.
    replay = httpx.get(server.url + "/dashboard/audit", cookies={"sf_session": cookie})
    assert replay.status_code == 303 and replay.headers["location"] == "/dashboard/login"


def test_failed_sign_ins_and_refused_keys_are_audited(server: LiveServer) -> None:
    page = httpx.get(server.url + "/dashboard/login")
    bad = httpx.post(server.url + "/dashboard/login", data={"api_key": "sf_wrong", "csrf_token": csrf(page.text)},
                     cookies=page.cookies)
    assert bad.status_code == 401
    assert httpx.get(server.url + "/v1/audit/events", headers={"Authorization": "Bearer sf_forged"}).status_code == 401
    assert events(server, "dashboard.signin_failed")
    refused = events(server, "auth.refused")
    assert refused and refused[-1]["payload"]["path"] == "/v1/audit/events"  # type: ignore[index]


def test_forwarded_for_from_an_untrusted_peer_does_not_change_the_client(server: LiveServer) -> None:
    # The sign-in limiter counts per client address; a forged X-Forwarded-For must not reset it.
    page = httpx.get(server.url + "/dashboard/login")
    codes = []
    for i in range(25):
        r = httpx.post(server.url + "/dashboard/login", cookies=page.cookies,
                       data={"api_key": "sf_wrong", "csrf_token": csrf(page.text)},
                       headers={"X-Forwarded-For": f"203.0.113.{i}"})
        codes.append(r.status_code)
    assert 429 in codes, codes


def test_readiness_checks_the_database(server: LiveServer, tmp_path: Path) -> None:
    from safety.store.db import check_database

    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    # A real SQLite file with a corrupt page: ready must say no.
    db = tmp_path / "broken.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x TEXT)")
    con.executemany("INSERT INTO t VALUES (?)", [(f"row {i} " * 20,) for i in range(2000)])
    con.commit()
    con.close()
    store = open_store(f"sqlite:///{db}")
    assert check_database(store) is None
    raw = bytearray(db.read_bytes())
    raw[4096 * 3: 4096 * 3 + 600] = b"\xa5" * 600
    db.write_bytes(bytes(raw))
    store.engine.dispose()
    assert check_database(store) is not None


def test_private_file_modes_and_leftover_uploads(server: LiveServer) -> None:
    assert (server.home / "sealframe.db").stat().st_mode & 0o777 == 0o600
    assert server.home.stat().st_mode & 0o777 == 0o700
    assert not list((server.home / "uploads").rglob("upload-*"))


def test_security_headers_on_every_response(server: LiveServer) -> None:
    client = server.key("client")
    for r in (httpx.get(server.url + "/healthz"),
              httpx.get(server.url + "/c2pa/v1/manifests/urn:c2pa:none", headers={"Authorization": f"Bearer {client}"}),
              httpx.post(server.url + "/v1/moderations", json={"prompt": "a cat"}),
              httpx.get(server.url + "/openapi.json")):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert "default-src 'none'" in r.headers["content-security-policy"], r.url
        assert r.headers["cache-control"] == "no-store", r.url


def test_api_docs_are_served_without_a_cdn(server: LiveServer) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(server.url + page).text
        assert "cdn." not in html and "googleapis" not in html, page
        for src in re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', html):
            asset = httpx.get(server.url + src)
            assert asset.status_code == 200 and len(asset.content) > 1000, src


def test_concurrent_first_starts_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    child = "import sys; from safety.store import open_store; open_store(sys.argv[1]); print('ok')"
    procs = [subprocess.Popen([sys.executable, "-c", child, url], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [e[-300:] for _, e in outs]


def test_apikey_list_and_revoke(server: LiveServer) -> None:
    secret = server.key("client")
    env = {**ENV, "SEALFRAME_HOME": str(server.home)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "safety.cli", "apikey", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    listed = json.loads(cli("list", "--json").stdout)["keys"]
    mine = [k for k in listed if secret.startswith(k["prefix"])]
    assert len(mine) == 1 and "key_hash" not in mine[0] and secret not in json.dumps(listed)
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.post(server.url + "/v1/moderations", json={"prompt": "a cat"}, headers=headers,
                      timeout=120).status_code == 200
    assert cli("revoke", mine[0]["id"]).returncode == 0
    assert httpx.post(server.url + "/v1/moderations", json={"prompt": "a cat"}, headers=headers).status_code == 401
    again = cli("revoke", mine[0]["id"])
    assert again.returncode == 4 and again.stderr.count("\n") == 1
    assert events(server, "apikey.revoked")


def test_a_job_failed_by_recovery_is_audited(sealframe_home: Path) -> None:
    from safety.api.state import AppState
    from safety.jobs import MAX_ATTEMPTS
    from safety.settings import Settings
    from safety.store import AuditEvent, Job

    settings = Settings(home=sealframe_home)
    first = AppState(settings)
    with first.store.session() as s:  # a job whose server was killed during every attempt
        s.add(Job(id="a" * 32, status="running", request={}, attempts=MAX_ATTEMPTS))
    state = AppState(settings)
    state.start()
    try:
        with state.store.session() as s:
            assert s.get(Job, "a" * 32).status == "failed"  # type: ignore[union-attr]
            kinds = [e.kind for e in s.query(AuditEvent).filter(AuditEvent.subject == "a" * 32)]
        assert kinds == ["job.failed"]
    finally:
        state.stop()
