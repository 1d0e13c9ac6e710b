"""The HTTP API over real HTTP (uvicorn on 127.0.0.1): auth, roles, limits, verification, C2PA routes."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from safety.media import write_video
from safety.provenance import ManifestSpec, credentials_from_settings, sign_file
from safety.settings import Settings
from tests.conftest import LiveServer, make_video

UPLOAD_LIMIT = 3_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("api")
    policy = root / "policy.yaml"
    text = (Path(__file__).parents[1] / "policies" / "default.yaml").read_text()
    policy.write_text(text.replace("max_bytes: 536870912", f"max_bytes: {UPLOAD_LIMIT}"))
    srv = LiveServer(root / "home", env={"SEALFRAME_POLICY": str(policy)})
    yield srv
    srv.stop()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_missing_bad_and_wrong_role_keys(server: LiveServer) -> None:
    assert httpx.get(server.url + "/v1/audit/events").status_code == 401
    assert httpx.get(server.url + "/v1/audit/events", headers=auth("sf_nope")).status_code == 401
    client = server.key("client")
    denied = httpx.get(server.url + "/v1/audit/events", headers=auth(client))
    assert denied.status_code == 403 and "auditor" in denied.json()["detail"]
    assert httpx.get(server.url + "/v1/audit/events", headers=auth(server.key("auditor"))).status_code == 200
    assert httpx.get(server.url + "/v1/audit/verify", headers=auth(server.key("admin"))).json()["ok"] is True


def test_rate_limit_answers_429_with_retry_after(server: LiveServer) -> None:
    key = server.key("client", rate_limit=3)
    codes = [httpx.get(server.url + "/c2pa/v1/matches/byBinding", headers=auth(key),
                       params={"alg": "io.sealframe.video-watermark.1", "value": "AAAAAAAAAAA="}).status_code
             for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429


def test_verify_unsigned_video_reports_no_signals(server: LiveServer, tmp_path: Path) -> None:
    clip = write_video(make_video(frames=24, width=192, height=128), tmp_path / "plain.mp4")
    r = httpx.post(server.url + "/v1/verifications", headers=auth(server.key("client")),
                   files={"file": ("plain.mp4", clip.read_bytes(), "video/mp4")}, timeout=120)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["verdict"] == "no_signals"
    assert report["provenance"]["state"] == "absent"
    assert report["watermark"]["found"] is False
    assert report["manifest_match"] is None
    assert "authentic" not in report["summary"].lower()


def test_verify_signed_video_names_the_signer(server: LiveServer, tmp_path: Path) -> None:
    settings = Settings(home=server.home)
    clip = write_video(make_video(frames=24, width=192, height=128), tmp_path / "c.mp4")
    signed = sign_file(clip, tmp_path / "signed.mp4", ManifestSpec(title="t", model_id="m"),
                       credentials_from_settings(settings))
    r = httpx.post(server.url + "/v1/verifications", headers=auth(server.key("client")),
                   files={"file": ("signed.mp4", signed.path.read_bytes(), "video/mp4")}, timeout=120)
    report = r.json()
    assert report["verdict"] == "ai_generated_signed"
    assert report["provenance"]["state"] == "trusted"
    assert "SealFrame development" in report["summary"]


def test_bad_uploads_get_4xx(server: LiveServer, tmp_path: Path) -> None:
    key = server.key("client")
    corrupt = httpx.post(server.url + "/v1/verifications", headers=auth(key),
                         files={"file": ("x.mp4", b"not a video at all" * 100, "video/mp4")})
    assert corrupt.status_code == 422 and "not a readable video" in corrupt.json()["detail"]
    big = b"\0" * (UPLOAD_LIMIT + 200_000)
    too_big = httpx.post(server.url + "/v1/verifications", headers=auth(key),
                         files={"file": ("big.mp4", big, "video/mp4")})
    assert too_big.status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit must hold mid-stream
        for _ in range(40):
            yield b"\0" * 100_000

    streamed = httpx.post(server.url + "/c2pa/v1/matches/byContent", headers={**auth(key), "content-type": "video/mp4"},
                          content=chunked())
    assert streamed.status_code == 413
    missing = httpx.post(server.url + "/v1/verifications", headers=auth(key))
    assert missing.status_code == 422
    assert not list((server.home / "uploads").glob("upload-*"))  # nothing left behind


def test_soft_binding_service_shapes(server: LiveServer) -> None:
    key = server.key("client")
    algs = httpx.get(server.url + "/c2pa/v1/services/supportedAlgorithms").json()
    assert algs["watermarks"] == [{"alg": "io.sealframe.video-watermark.1"}]
    q = {"alg": "io.sealframe.video-watermark.1", "value": base64.b64encode(b"\x01" * 8).decode()}
    assert httpx.get(server.url + "/c2pa/v1/matches/byBinding", params=q, headers=auth(key)).json() == {"matches": []}
    assert httpx.post(server.url + "/c2pa/v1/matches/byBinding", json=q, headers=auth(key)).json() == {"matches": []}
    bad_alg = httpx.get(server.url + "/c2pa/v1/matches/byBinding", headers=auth(key),
                        params={**q, "alg": "com.other.wm"})
    assert bad_alg.status_code == 400
    bad_value = httpx.get(server.url + "/c2pa/v1/matches/byBinding", headers=auth(key),
                          params={**q, "value": "%%%"})
    assert bad_value.status_code == 400
    assert httpx.get(server.url + "/c2pa/v1/manifests/urn:c2pa:unknown", headers=auth(key)).status_code == 404
    assert httpx.get(server.url + "/c2pa/v1/manifests/junk", headers=auth(key)).status_code == 400


def test_openapi_is_served(server: LiveServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    for path in ("/v1/verifications", "/c2pa/v1/matches/byBinding", "/c2pa/v1/matches/byContent",
                 "/c2pa/v1/manifests/{manifestId}", "/c2pa/v1/services/supportedAlgorithms", "/v1/audit/events"):
        assert path in spec["paths"]
    assert httpx.get(server.url + "/docs").status_code == 200
