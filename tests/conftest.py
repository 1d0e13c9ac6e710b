"""Shared fixtures: every test gets its own $SEALFRAME_HOME, and small real MP4 files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
