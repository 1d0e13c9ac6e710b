"""Bounded cost per request, over real HTTP: keys before bodies, per-route body limits, timeouts, caps.

Each test here sends what an attacker would (a huge body without a key, a chunked body over the
limit, a stalled body, half-sent headers, parallel uploads, a costly generation) to a real
`sealframe serve` on 127.0.0.1 and checks the server refuses it cheaply.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safety.store import Job, open_store
from safety.store.apikeys import find_api_key
from tests.conftest import LiveServer

UPLOAD_LIMIT = 3_000_000
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("limits")
    policy = root / "policy.yaml"
    text = (Path(__file__).parents[1] / "policies" / "default.yaml").read_text()
    policy.write_text(text.replace("max_bytes: 536870912", f"max_bytes: {UPLOAD_LIMIT}"))
    srv = LiveServer(root / "home", env={
        "SEALFRAME_POLICY": str(policy),
        "SEALFRAME_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT), "SEALFRAME_BODY_TIMEOUT_S": str(BODY_TIMEOUT),
        "SEALFRAME_MAX_CONCURRENT_VERIFICATIONS": "2", "SEALFRAME_MAX_QUEUED_JOBS_PER_KEY": "2",
    })
    yield srv
    srv.stop()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def raw(server: LiveServer, head: str, body: bytes = b"", timeout: float = 5.0) -> socket.socket:
    """A socket that has sent `head` (request line and headers, CRLF-joined) and the start of a body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.sendall(head.replace("\n", "\r\n").encode() + body)
    return sock


def status_of(sock: socket.socket) -> int:
    """The status code the server answered on `sock` (raises socket.timeout if it does not answer)."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed without an answer after {data!r}")
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_no_key_is_refused_before_the_body_is_read(server: LiveServer) -> None:
    # 400 MB announced, 10 bytes sent: the answer must come from the headers alone.
    head = ("POST /v1/moderations HTTP/1.1\nHost: x\nContent-Type: application/json\n"
            "Content-Length: 400000000\n\n")
    with raw(server, head, b'{"prompt":') as sock:
        assert status_of(sock) == 401
    with raw(server, head.replace("Host: x", "Host: x\nAuthorization: Bearer sf_wrong"), b'{"prompt":') as sock:
        assert status_of(sock) == 401


def test_json_routes_have_a_small_body_limit(server: LiveServer) -> None:
    key = server.key("client")
    head = (f"POST /v1/moderations HTTP/1.1\nHost: x\nAuthorization: Bearer {key}\n"
            "Content-Type: application/json\nContent-Length: 400000000\n\n")
    with raw(server, head, b'{"prompt":') as sock:
        assert status_of(sock) == 413  # refused by Content-Length, nothing read
    big = httpx.post(server.url + "/v1/moderations", headers=auth(key), json={"prompt": "a" * 100_000})
    assert big.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length
        yield b'{"prompt": "'
        for _ in range(20):
            yield b"a" * 10_000
        yield b'"}'

    streamed = httpx.post(server.url + "/v1/generations", headers={**auth(key), "content-type": "application/json"},
                          content=chunks())
    assert streamed.status_code == 413


def test_chunked_multipart_over_the_limit_is_413(server: LiveServer) -> None:
    key = server.key("client")
    limit = UPLOAD_LIMIT
    boundary = "sfboundary"

    def chunks() -> Iterator[bytes]:
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n"
               "Content-Type: video/mp4\r\n\r\n").encode()
        block = b"\0" * (256 << 10)
        for _ in range(limit // len(block) + 20):
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    r = httpx.post(server.url + "/v1/verifications", content=chunks(), timeout=120,
                   headers={**auth(key), "content-type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413, r.text
    assert not list((server.home / "uploads").rglob("upload-*"))


def test_stalled_body_gets_408(server: LiveServer) -> None:
    key = server.key("client")
    head = (f"POST /v1/moderations HTTP/1.1\nHost: x\nAuthorization: Bearer {key}\n"
            "Content-Type: application/json\nContent-Length: 100\n\n")
    start = time.monotonic()
    with raw(server, head, b'{"prompt": "a', timeout=BODY_TIMEOUT + 5) as sock:
        assert status_of(sock) == 408
    assert time.monotonic() - start < BODY_TIMEOUT + 3


def test_slow_headers_are_cut_off(server: LiveServer) -> None:
    socks = [raw(server, "GET /healthz HTTP/1.1\nHost: x\nX-Slow: ", timeout=HEADER_TIMEOUT + 5) for _ in range(40)]
    try:
        time.sleep(HEADER_TIMEOUT + 1.5)
        closed = 0
        for s in socks:
            with contextlib.suppress(ConnectionResetError, TimeoutError):
                closed += s.recv(1) == b""
        assert closed == len(socks)
        assert httpx.get(server.url + "/healthz").status_code == 200
    finally:
        for s in socks:
            s.close()


def test_concurrent_uploads_are_capped_per_key_and_in_total(server: LiveServer) -> None:
    keys = [server.key("client") for _ in range(3)]
    boundary = "sfb"
    head = ("POST /v1/verifications HTTP/1.1\nHost: x\nAuthorization: Bearer {key}\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\nContent-Length: 1000000\n\n")
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n").encode()
    # Two uploads that hold their slot (the body is still coming), then three more.
    held = [raw(server, head.format(key=k), part, timeout=BODY_TIMEOUT + 5) for k in keys[:2]]
    try:
        time.sleep(0.5)
        same_key = httpx.post(server.url + "/v1/verifications", headers=auth(keys[0]),
                              files={"file": ("a.mp4", b"x" * 100, "video/mp4")})
        assert same_key.status_code == 429 and int(same_key.headers["retry-after"]) > 0
        full = httpx.post(server.url + "/v1/verifications", headers=auth(keys[2]),
                          files={"file": ("a.mp4", b"x" * 100, "video/mp4")})
        assert full.status_code == 503 and int(full.headers["retry-after"]) > 0
    finally:
        for s in held:
            s.close()
    time.sleep(BODY_TIMEOUT + 1)  # the held uploads time out and give their slots back
    freed = httpx.post(server.url + "/v1/verifications", headers=auth(keys[2]),
                       files={"file": ("a.mp4", b"x" * 100, "video/mp4")})
    assert freed.status_code == 422


def test_generation_cost_and_queue_quota(server: LiveServer) -> None:
    key = server.key("client")
    costly = httpx.post(server.url + "/v1/generations", headers=auth(key),
                        json={"prompt": "a red kite over a beach", "frames": 64, "width": 512, "height": 512,
                              "steps": 100})
    assert costly.status_code == 422 and "cost" in costly.json()["detail"]
    store = open_store(server.db_url)
    keyed = server.key("client")
    found = find_api_key(store, keyed)
    assert found is not None
    with store.session() as s:
        for _ in range(2):  # jobs this key already has waiting
            s.add(Job(id=uuid.uuid4().hex, status="queued", request={}, api_key_id=found.id))
    r = httpx.post(server.url + "/v1/generations", headers=auth(keyed), json={"prompt": "a red kite over a beach"})
    assert r.status_code == 429 and "queued" in r.json()["detail"] and r.headers["retry-after"]


def test_lone_surrogate_prompt_is_422(server: LiveServer) -> None:
    key = server.key("client")
    for route in ("/v1/moderations", "/v1/generations"):
        r = httpx.post(server.url + route, headers={**auth(key), "content-type": "application/json"},
                       content=b'{"prompt": "a cat \\ud800 on a mat"}')
        assert r.status_code == 422, (route, r.status_code, r.text)
        assert "unicode" in json.dumps(r.json()).lower()


def test_error_bodies_do_not_name_server_paths(server: LiveServer) -> None:
    r = httpx.post(server.url + "/v1/verifications", headers=auth(server.key("client")),
                   files={"file": ("x.mp4", b"not a video" * 50, "video/mp4")})
    assert r.status_code == 422
    assert str(server.home) not in r.text and "/uploads/" not in r.text
