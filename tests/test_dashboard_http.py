"""The dashboard over HTTP without a browser: sessions, CSRF, roles, bad input, charts and statistics.

These run in-process (Starlette's TestClient on the real app and a real SQLite store); the browser
tests in `test_dashboard.py` drive the same pages through Chromium.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safety.api.app import create_app
from safety.api.dashboard.charts import lines, stacked_bars
from safety.api.dashboard.session import SessionSigner
from safety.api.dashboard.stats import compute
from safety.settings import Settings
from safety.store import Decision, ReviewItem, open_store
from safety.store.apikeys import create_api_key


@pytest.fixture
def app_client(sealframe_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=sealframe_home)), base_url="http://127.0.0.1") as client:
        yield client


def key(home: Path, role: str) -> str:
    secret, _ = create_api_key(open_store(f"sqlite:///{home / 'sealframe.db'}"), role, f"test-{role}", 1000)
    return secret


def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def sign_in(client: TestClient, secret: str) -> None:
    page = client.get("/dashboard/login")
    r = client.post("/dashboard/login", data={"api_key": secret, "csrf_token": csrf(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def test_session_cookie_is_signed_and_expires() -> None:
    signer = SessionSigner(b"k" * 32, max_age=60)
    cookie, data = signer.issue("abc", now=1000)
    assert signer.read(cookie, now=1030) == data
    assert signer.read(cookie, now=1061) is None  # expired
    body, mac = cookie.split(".")
    # Altered signature: change its first character (changing the last two to a fixed "AA" was a no-op
    # whenever the random session id gave a MAC that already ended so, about 1 run in 1 000).
    assert signer.read(body + "." + ("B" if mac[0] == "A" else "A") + mac[1:], now=1030) is None
    assert signer.read(cookie.replace(body, body[:-1] + ("A" if body[-1] != "A" else "B")), now=1030) is None
    assert SessionSigner(b"x" * 32).read(cookie, now=1030) is None  # another install's secret
    assert signer.check_csrf(data.session_id, signer.csrf_token(data.session_id))
    assert not signer.check_csrf(data.session_id, "")
    assert not signer.check_csrf(data.session_id, signer.csrf_token("other-session"))


def test_sign_in_sets_a_strict_httponly_cookie_and_roles_pick_pages(app_client: TestClient,
                                                                     sealframe_home: Path) -> None:
    assert app_client.get("/dashboard/queue", follow_redirects=False).headers["location"] == "/dashboard/login"
    page = app_client.get("/dashboard/login")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    r = app_client.post("/dashboard/login", data={"api_key": key(sealframe_home, "moderator"),
                                                  "csrf_token": csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("sf_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    assert app_client.get("/dashboard", follow_redirects=False).headers["location"] == "/dashboard/queue"
    assert app_client.get("/dashboard/queue").status_code == 200
    assert app_client.get("/dashboard/stats").status_code == 200
    denied = app_client.get("/dashboard/audit")
    assert denied.status_code == 403 and "auditor role" in denied.text and "Traceback" not in denied.text


def test_client_key_cannot_open_the_review_queue(app_client: TestClient, sealframe_home: Path) -> None:
    sign_in(app_client, key(sealframe_home, "client"))
    r = app_client.get("/dashboard/queue")
    assert r.status_code == 403
    assert "needs the moderator role" in r.text and "client key" in r.text
    assert app_client.get("/dashboard/verify").status_code == 200
    assert app_client.get("/dashboard/stats").status_code == 403
    assert ">Review queue<" not in r.text  # not offered in the navigation either


def test_bad_key_and_missing_csrf_answer_4xx_pages(app_client: TestClient, sealframe_home: Path) -> None:
    page = app_client.get("/dashboard/login")
    bad = app_client.post("/dashboard/login", data={"api_key": "sf_not_a_key", "csrf_token": csrf(page.text)})
    assert bad.status_code == 401 and "Unknown or revoked API key" in bad.text
    no_token = app_client.post("/dashboard/login", data={"api_key": key(sealframe_home, "admin")})
    assert no_token.status_code == 403 and "CSRF" in no_token.text

    sign_in(app_client, key(sealframe_home, "moderator"))
    for path, data in (("/dashboard/queue/" + "0" * 32, {"decision": "approve", "reason": "fine"}),
                       ("/dashboard/logout", {})):
        r = app_client.post(path, data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF token is missing" in r.text, (path, r.text)
        r = app_client.post(path, data={**data, "csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403
    token = csrf(app_client.get("/dashboard/queue").text)
    missing = app_client.post("/dashboard/queue/" + "0" * 32, data={"decision": "approve", "reason": "ok",
                                                                    "csrf_token": token})
    assert missing.status_code == 404 and "No such review item" in missing.text
    no_reason = app_client.post("/dashboard/queue/" + "0" * 32, data={"decision": "approve", "reason": "  ",
                                                                      "csrf_token": token})
    assert no_reason.status_code == 422 and "reason is required" in no_reason.text


def test_signed_out_post_and_revoked_key_end_the_session(app_client: TestClient, sealframe_home: Path) -> None:
    r = app_client.post("/dashboard/verify", data={"csrf_token": "x"})
    assert r.status_code == 401 and "Sign in again" in r.text
    secret = key(sealframe_home, "auditor")
    sign_in(app_client, secret)
    assert app_client.get("/dashboard/audit").status_code == 200
    store = open_store(f"sqlite:///{sealframe_home / 'sealframe.db'}")
    from safety.store import ApiKey

    with store.session() as s:
        for k in s.query(ApiKey).all():
            k.revoked_at = dt.datetime.now(dt.UTC)
    assert app_client.get("/dashboard/audit", follow_redirects=False).status_code == 303


def test_corrupt_upload_is_a_clear_4xx(app_client: TestClient, sealframe_home: Path) -> None:
    sign_in(app_client, key(sealframe_home, "client"))
    token = csrf(app_client.get("/dashboard/verify").text)
    r = app_client.post("/dashboard/verify", data={"csrf_token": token},
                        files={"file": ("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 200, "video/mp4")})
    assert 400 <= r.status_code < 500, r.text
    assert "Could not read broken.mp4 as a video" in r.text and "Traceback" not in r.text
    r = app_client.post("/dashboard/verify", data={"csrf_token": token})
    assert r.status_code == 400 and "Choose a video file" in r.text


def test_audit_page_export_and_static_assets(app_client: TestClient, sealframe_home: Path) -> None:
    sign_in(app_client, key(sealframe_home, "auditor"))
    page = app_client.get("/dashboard/audit")
    assert page.status_code == 200 and 'id="chain-status">intact<' in page.text
    # The sign-in itself is an audit event: hidden from the table by default, offered as a filter.
    assert 'data-kind="dashboard.signin"' not in page.text and "1 sign-in event hidden" in page.text
    assert 'value="dashboard.signin"' in page.text
    shown = app_client.get("/dashboard/audit?signins=1")
    assert 'data-kind="dashboard.signin"' in shown.text and "signed in" in shown.text
    only = app_client.get("/dashboard/audit", params={"kind": "dashboard.signin"})
    assert only.text.count("<tr data-kind=") == only.text.count('data-kind="dashboard.signin"') >= 1
    csv = app_client.get("/dashboard/audit/export.csv")
    assert csv.status_code == 200 and csv.text.startswith("seq,ts,kind")
    assert "attachment" in csv.headers["content-disposition"]
    assert app_client.get("/dashboard/audit/export.json").json()[0]["kind"] == "dashboard.signin"
    bad = app_client.post("/dashboard/audit/backtest",
                          data={"policy": "../../etc/passwd", "csrf_token": csrf(page.text)})
    assert bad.status_code == 422 and "Choose one of the listed policy packs" in bad.text
    assert app_client.get("/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert app_client.get("/dashboard/static/..%2Fapp.py").status_code == 404
    assert app_client.get("/dashboard/static/routes.py").status_code == 404
    missing = app_client.get("/dashboard/nowhere")
    assert missing.status_code == 404 and "no dashboard page at /dashboard/nowhere" in missing.text
    assert missing.headers["content-type"].startswith("text/html")


def test_statistics_count_per_day_category_and_overturns(sealframe_home: Path) -> None:
    store = open_store(f"sqlite:///{sealframe_home / 'sealframe.db'}")
    today = dt.date(2026, 11, 26)
    at = dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC)
    yesterday = at - dt.timedelta(days=1)
    rows = [("allow", {"hate_harassment": 0.1}, at), ("block", {"graphic_violence": 0.9}, at),
            ("review", {"intellectual_property": 1.0, "graphic_violence": 0.2}, at),
            ("review", {"intellectual_property": 0.7}, yesterday), ("allow", {}, at - dt.timedelta(days=30))]
    with store.session() as s:
        for action, cats, when in rows:
            d = Decision(prompt="p", prompt_sha256="0" * 64, action=action, categories=cats, policy="x",
                         created_at=when)
            s.add(d)
            s.flush()
            if action == "review":
                s.add(ReviewItem(kind="prompt", decision_id=d.id, status="approved" if when == at else "rejected",
                                 decided_at=when, reason="r"))
    st = compute(store, days=7, today=today)
    assert st.days[-1] == "2026-11-26" and len(st.days) == 7
    assert st.total == 4 and st.totals["block"] == 1
    assert st.per_action["allow"][-1] == 1 and st.per_action["review"][-2] == 1
    assert st.per_category["intellectual_property"][-1] == 1 and st.per_category["graphic_violence"][-1] == 1
    assert st.block_rate[-1] == pytest.approx(100 / 3) and st.block_rate[0] is None
    assert st.overturn_rate[-1] == 100.0 and st.overturn_rate[-2] == 0.0
    assert st.overall_overturn == 50.0
    assert [(r["day"], r["total"], r["decided"]) for r in st.rows()] == [("2026-11-26", 3, 1), ("2026-11-25", 1, 1)]
    svg = stacked_bars("t <x>", st.days, st.per_category, st.categories)
    assert svg.count("<rect") == 3 and "t &lt;x&gt;" in svg and "style=" not in svg
    assert lines("r", st.days, {"a": [None, 10.0, 20.0, None, None, 50.0, 60.0]}, ["a"]).count("<polyline") == 2


def test_wording_of_reasons_and_events() -> None:
    from safety.api.dashboard.wording import event_summary, explain_reason

    info = {"intellectual_property": ("Intellectual property", 0.5, 0.8, "review")}
    text = explain_reason("intellectual_property: review — score 0.99 ≥ block 0.80 (rule 'copyrighted character' "
                          "(copyrighted_character: mickey mouse), classifier 0.99)", info)
    assert text.startswith("Intellectual property: held for review. Score 0.99 reaches the block threshold 0.80, "
                           "but this category is never blocked, only sent to review.")
    assert "copyrighted character" in text and "≥" not in text
    assert explain_reason("no category reached its review threshold", info) == (
        "no category reached its review threshold")
    payload = '{"action":"review","categories":{"hate_harassment":0.01,"intellectual_property":0.99}}'
    assert event_summary("moderation.decision", payload, info) == "review · top category: Intellectual property 0.99"
    assert event_summary("review.approved", {"kind": "prompt", "reason": "licensed"}, info) == (
        "approved prompt item: “licensed”")
