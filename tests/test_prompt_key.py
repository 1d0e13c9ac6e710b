"""The manifest's prompt digest is keyed (HMAC-SHA256 with a server secret kept beside the keys)."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import pytest

from safety.api.state import AppState
from safety.errors import KeyMaterialError
from safety.pipeline import SafeGenerationPipeline
from safety.provenance import read_provenance
from safety.settings import Settings
from tests.test_pipeline import ALLOWED, small, tiny_generator

REPO = Path(__file__).resolve().parents[1]


def sealed_pipeline(home: Path) -> SafeGenerationPipeline:
    pipe = AppState(Settings(home=home)).pipeline
    gen = tiny_generator()
    pipe.generator = lambda: gen
    return pipe


def test_manifest_carries_a_keyed_prompt_digest_and_a_lost_key_is_not_remade(sealframe_home: Path) -> None:
    pipe = sealed_pipeline(sealframe_home)
    asset = pipe.run_job(pipe.submit(small(ALLOWED)).id)
    assert asset is not None
    key_file = sealframe_home / "keys" / "prompt.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_bytes()
    assert len(key) == 32
    video = pipe.artifacts.local_path(asset.video_key)
    generation = read_provenance(video, pipe.trust_anchors).generation
    assert generation is not None
    assert generation["prompt_hmac_sha256"] == hmac.new(key, b"sealframe/prompt/v1/" + ALLOWED.encode(),
                                                        hashlib.sha256).hexdigest()
    # Nobody holding the video can confirm a guessed prompt: the unsalted digest is nowhere in it.
    plain = hashlib.sha256(ALLOWED.encode()).hexdigest()
    assert "prompt_sha256" not in generation
    assert plain.encode() not in video.read_bytes()
    assert plain.encode() not in pipe.artifacts.get_bytes(asset.manifest_key)

    # A lost prompt key is never re-made once an asset was sealed with it.
    key_file.unlink()
    with pytest.raises(KeyMaterialError, match="missing prompt key"):
        AppState(Settings(home=sealframe_home))  # refused at start, before any request
    assert not key_file.exists()


def test_keys_init_creates_the_prompt_key_private(tmp_path: Path) -> None:
    home = tmp_path / "h"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SEALFRAME_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "safety.cli", "keys", "init"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    key_file = home / "keys" / "prompt.key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_bytes()) == 32
