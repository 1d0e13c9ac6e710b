"""Shared fixtures: every test gets its own $SEALFRAME_HOME, and small real MP4 files."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from safety.media import Video, write_video
from safety.settings import get_settings


@pytest.fixture(autouse=True)
def sealframe_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Isolate settings and keys per test: nothing touches the user's ~/.sealframe."""
    home = tmp_path / "sealframe-home"
    monkeypatch.setenv("SEALFRAME_HOME", str(home))
    for var in ("SEALFRAME_POLICY", "SEALFRAME_SIGNING_KEY", "SEALFRAME_SIGNING_CHAIN",
                "SEALFRAME_KEY_PASSPHRASE", "SEALFRAME_TRUST_ANCHORS", "SEALFRAME_TSA_URL"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def make_video(frames: int = 12, width: int = 96, height: int = 64, fps: float = 12.0, seed: int = 0) -> Video:
    """A small textured clip with motion (random noise alone encodes poorly and unrealistically)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (height // 8 + 2, width // 8 + 2, 3)).astype(np.float32)
    big = np.kron(base, np.ones((8, 8, 1)))
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        out[t] = np.clip(big[t % 8 : t % 8 + height, 0:width] + rng.normal(0, 4, (height, width, 3)), 0, 255)
    return Video(out, fps)


@pytest.fixture
def mp4(tmp_path: Path) -> Path:
    """A real H.264 MP4 written through PyAV."""
    return write_video(make_video(), tmp_path / "clip.mp4")


def mjpeg_avi(path: Path, width: int, height: int, frames: int = 3) -> Path:
    """A real MJPEG-in-AVI clip of flat grey frames."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("mjpeg", rate=10)
        s.width, s.height, s.pix_fmt = width, height, "yuvj420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 90, np.uint8), format="rgb24")
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def crafted_20000_header(tmp_path: Path) -> Path:
    """A 16×16 clip whose every size field (AVI header, stream format, JPEG SOF0) claims 20000×20000."""
    data = bytearray(mjpeg_avi(tmp_path / "small.avi", 16, 16).read_bytes())
    avih = data.find(b"avih")
    struct.pack_into("<II", data, avih + 8 + 32, 20000, 20000)
    strf = data.find(b"strf")
    struct.pack_into("<ii", data, strf + 12, 20000, 20000)
    at, patched = 0, 0
    while (at := data.find(b"\xff\xc0", at)) >= 0:
        struct.pack_into(">HH", data, at + 5, 20000, 20000)
        at, patched = at + 2, patched + 1
    assert patched == 3
    out = tmp_path / "crafted.mp4"
    out.write_bytes(bytes(data))
    return out


def png_renamed_mp4(tmp_path: Path) -> Path:
    """A real PNG image saved under a .mp4 name."""
    png = tmp_path / "image.png"
    with av.open(str(png), "w", format="image2") as c:
        s = c.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = 32, 32, "rgb24"
        for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")):
            c.mux(p)
    fake = tmp_path / "image.mp4"
    fake.write_bytes(png.read_bytes())
    return fake


class LiveServer:
    """`sealframe serve` in a subprocess on 127.0.0.1, with its own home folder."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        import os
        import socket
        import subprocess
        import sys

        self.home = home
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SEALFRAME_HOME": str(home), **(env or {})}
        self.log = (home.parent / f"server-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "safety.cli", "serve", "--port", str(self.port)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    @property
    def db_url(self) -> str:
        return self.env.get("SEALFRAME_DATABASE_URL") or f"sqlite:///{self.home / 'sealframe.db'}"

    def key(self, role: str, rate_limit: int = 1000) -> str:
        from safety.store import open_store
        from safety.store.apikeys import create_api_key

        secret, _ = create_api_key(open_store(self.db_url), role, f"test-{role}", rate_limit)
        return secret

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
        self.log.close()
