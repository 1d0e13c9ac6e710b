"""The product over real HTTP (uvicorn on 127.0.0.1), end to end, as issue 7's acceptance reads.

The server runs the real registry, moderator, frame check, watermark, C2PA signer and SQLite store;
only the generator's weights are a tiny random STDiT exported here (trained weights are not needed
to exercise the safety layer, and a test must not depend on them).
"""

from __future__ import annotations

import base64
import io
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import c2pa
import httpx
import pytest
import torch

from generator.stdit.checkpoint import export_weights
from generator.stdit.model import STDiT, STDiTConfig
from safety.media import read_video, resize_video, write_video
from tests.conftest import LiveServer, make_video

pytestmark = pytest.mark.slow

ALLOWED = "a small red circle drifts left across a white background"
BLOCKED = "step by step instructions to build a pipe bomb to kill people"


def tiny_weights(folder: Path) -> Path:
    torch.manual_seed(0)
    model = STDiT(STDiTConfig(frames=8, height=64, width=64, hidden=32, depth=1, heads=2)).eval()
    path = folder / "tiny-stdit.safetensors"
    export_weights(path, model, {"id": "stdit-tiny-random", "version": "test"})
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("e2e")
    srv = LiveServer(root / "home", env={"SEALFRAME_GENERATOR": f"stdit:{tiny_weights(root)}"})
    yield srv
    srv.stop()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_job(server: LiveServer, key: str, job_id: str, timeout: float = 300) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{server.url}/v1/generations/{job_id}", headers=auth(key)).json()
        if job["status"] in ("succeeded", "failed", "rejected", "held"):
            return dict(job)
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish")


def verify(server: LiveServer, key: str, data: bytes) -> dict[str, object]:
    r = httpx.post(server.url + "/v1/verifications", headers=auth(key),
                   files={"file": ("v.mp4", data, "video/mp4")}, timeout=300)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_generate_verify_strip_recover_and_refuse(server: LiveServer, tmp_path: Path) -> None:
    client = server.key("client")
    r = httpx.post(server.url + "/v1/generations", headers=auth(client), timeout=120,
                   json={"prompt": ALLOWED, "seed": 3, "frames": 8, "width": 64, "height": 64, "steps": 4})
    assert r.status_code == 202, r.text
    job = wait_job(server, client, r.json()["id"])
    assert job["status"] == "succeeded", job
    video = httpx.get(server.url + str(job["video_url"]), headers=auth(client), timeout=60)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"

    # 1. As delivered: signed by us, and watermarked.
    report = verify(server, client, video.content)
    assert report["verdict"] == "ai_generated_signed"
    assert report["provenance"]["state"] == "trusted"  # type: ignore[index]
    assert report["watermark"]["found"] is True  # type: ignore[index]
    assert report["manifest_match"]["matches_embedded"] is True  # type: ignore[index]

    # 2. Manifest stripped, re-encoded at CRF 28 and scaled 0.5×: still ours, through the watermark.
    delivered = tmp_path / "delivered.mp4"
    delivered.write_bytes(video.content)
    v = read_video(delivered)
    laundered = write_video(resize_video(v, v.width // 2, v.height // 2), tmp_path / "laundered.mp4", crf=28)
    report2 = verify(server, client, laundered.read_bytes())
    assert report2["provenance"]["state"] == "absent"  # type: ignore[index]
    assert report2["watermark"]["found"] is True, report2["watermark"]  # type: ignore[index]
    assert report2["verdict"] == "ai_generated_watermarked"
    assert report2["manifest_match"]["manifest_id"] == report["provenance"]["manifest_id"]  # type: ignore[index]

    # 3. The standard Soft Binding Resolution API alone recovers the manifest of the stripped copy,
    #    and c2pa-python validates the recovered manifest store against the stripped file.
    found = httpx.post(server.url + "/c2pa/v1/matches/byContent", headers={**auth(client), "content-type": "video/mp4"},
                       content=laundered.read_bytes(), timeout=300).json()
    assert found["matches"], found
    manifest_id = found["matches"][0]["manifestId"]
    payload = bytes.fromhex(report2["watermark"]["payload"])  # type: ignore[index]
    by_binding = httpx.get(server.url + "/c2pa/v1/matches/byBinding", headers=auth(client), params={
        "alg": "io.sealframe.video-watermark.1", "value": base64.b64encode(payload).decode()})
    assert by_binding.json()["matches"][0]["manifestId"] == manifest_id
    store = httpx.get(f"{server.url}/c2pa/v1/manifests/{manifest_id}", headers=auth(client))
    assert store.status_code == 200 and store.headers["content-type"] == "application/c2pa"
    with c2pa.Reader("video/mp4", io.BytesIO(delivered.read_bytes()), store.content) as reader:
        assert reader.get_active_manifest()["label"] == manifest_id
        assert reader.get_validation_state() in ("Valid", "Trusted")

    # 4. A video we never made: no signals, and no claim of authenticity.
    ours_never = write_video(make_video(frames=24, width=192, height=128, seed=9), tmp_path / "other.mp4")
    report3 = verify(server, client, ours_never.read_bytes())
    assert report3["verdict"] in ("no_signals", "likely_synthetic")
    assert report3["watermark"]["found"] is False  # type: ignore[index]

    # 5. A blocked prompt: 403 with its categories, and in the audit log.
    blocked = httpx.post(server.url + "/v1/generations", headers=auth(client), json={"prompt": BLOCKED}, timeout=60)
    assert blocked.status_code == 403
    decision = blocked.json()["decision"]
    assert decision["action"] == "block" and max(decision["categories"].values()) > 0
    events = httpx.get(server.url + "/v1/audit/events", headers=auth(server.key("auditor")),
                       params={"kind": "moderation.decision", "limit": 1000}).json()
    assert any(e["subject"] == decision["id"] and e["payload"]["action"] == "block" for e in events)

    # 6. Roles: the review queue is for moderators.
    assert httpx.get(server.url + "/v1/review-queue", headers=auth(client)).status_code == 403
    assert httpx.get(server.url + "/v1/review-queue", headers=auth(server.key("moderator"))).status_code == 200
    assert httpx.get(server.url + "/v1/audit/verify", headers=auth(server.key("auditor"))).json()["ok"] is True


def test_server_killed_mid_job_loses_nothing(tmp_path: Path) -> None:
    weights = tiny_weights(tmp_path)
    env = {"SEALFRAME_GENERATOR": f"stdit:{weights}"}
    srv = LiveServer(tmp_path / "home", env=env)
    key = srv.key("client")
    try:
        r = httpx.post(srv.url + "/v1/generations", headers=auth(key), timeout=120,
                       json={"prompt": ALLOWED, "frames": 16, "width": 64, "height": 64, "steps": 60})
        job_id = r.json()["id"]
        deadline = time.monotonic() + 120
        while httpx.get(f"{srv.url}/v1/generations/{job_id}", headers=auth(key)).json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=30)
    finally:
        srv.stop()
    restarted = LiveServer(tmp_path / "home", env=env)
    try:
        job = wait_job(restarted, key, job_id)
        assert job["status"] == "succeeded" or (job["status"] == "failed" and job["error"]), job
        from safety.store import Asset, open_store

        with open_store(restarted.db_url).session() as s:
            assert s.query(Asset).filter_by(job_id=job_id).count() == (1 if job["status"] == "succeeded" else 0)
        assert httpx.get(restarted.url + "/v1/audit/verify", headers=auth(restarted.key("auditor"))).json()["ok"]
    finally:
        restarted.stop()
