"""Keys are precious: never silently re-made, `keys init` only on an empty folder, rotation, read-only folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from safety.api.state import AppState
from safety.errors import KeyMaterialError
from safety.media import write_video
from safety.provenance import ManifestSpec, credentials_from_settings, init_dev_keys, read_provenance, sign_file
from safety.provenance.keys import ROOT_CERT, SIGNER_KEY, rotate_signer
from safety.settings import Settings
from tests.conftest import make_video

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safety.cli", *args], capture_output=True, text=True,
                          env={**ENV, "SEALFRAME_HOME": str(home)}, timeout=300)


def one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 4, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr


@pytest.fixture
def used_home(sealframe_home: Path) -> Path:
    """A home whose keys have signed and audited: what an operator must never lose."""
    state = AppState(Settings(home=sealframe_home))
    state.audit.append("test.event", {"n": 1}, None)
    assert state.verifier.watermark_key  # made on first use, like the others
    return sealframe_home


@pytest.mark.parametrize("lost", [SIGNER_KEY, "watermark.key", "audit-ed25519.key"])
def test_a_lost_key_is_never_replaced(used_home: Path, lost: str) -> None:
    keys = used_home / "keys"
    root_before = (keys / ROOT_CERT).read_bytes()
    (keys / lost).unlink()
    with pytest.raises(KeyMaterialError, match="restore the key folder"):
        AppState(Settings(home=used_home))
    assert not (keys / lost).exists()
    assert (keys / ROOT_CERT).read_bytes() == root_before
    clip = write_video(make_video(), used_home.parent / "clip.mp4")
    one_line_error(cli("verify", str(clip), home=used_home), "Recovery")
    audit = cli("audit", "verify", home=used_home)
    if lost == "audit-ed25519.key":
        one_line_error(audit, "Recovery")
    else:  # the audit chain needs only its own key: an auditor can still check it
        assert audit.returncode == 0 and "intact" in audit.stdout, audit.stderr
    assert not (keys / lost).exists()


def test_fresh_home_still_creates_keys_on_first_use(sealframe_home: Path) -> None:
    AppState(Settings(home=sealframe_home))
    assert (sealframe_home / "keys" / SIGNER_KEY).exists()


def test_part_of_a_key_set_is_not_remade(tmp_path: Path) -> None:
    paths = init_dev_keys(tmp_path / "k")
    root = paths.root_cert.read_bytes()
    paths.signer_key.unlink()
    with pytest.raises(KeyMaterialError, match="part of a key set"):
        init_dev_keys(tmp_path / "k")
    assert paths.root_cert.read_bytes() == root


def test_keys_init_only_on_an_empty_folder_or_with_force(sealframe_home: Path) -> None:
    assert cli("keys", "init", home=sealframe_home).returncode == 0
    root = (sealframe_home / "keys" / ROOT_CERT).read_bytes()
    one_line_error(cli("keys", "init", home=sealframe_home), "empty folder")
    assert (sealframe_home / "keys" / ROOT_CERT).read_bytes() == root
    forced = cli("keys", "init", "--force", home=sealframe_home)
    assert forced.returncode == 0, forced.stderr
    assert (sealframe_home / "keys" / ROOT_CERT).read_bytes() != root
    kept = list((sealframe_home / "keys" / "history").glob(f"*-{ROOT_CERT}"))
    assert len(kept) == 1 and kept[0].read_bytes() == root


def test_rotation_keeps_old_assets_trusted(sealframe_home: Path, tmp_path: Path) -> None:
    settings = Settings(home=sealframe_home)
    clip = write_video(make_video(), tmp_path / "c.mp4")
    old = sign_file(clip, tmp_path / "old.mp4", ManifestSpec(title="t", model_id="m"),
                    credentials_from_settings(settings)).path
    old_chain = (settings.keys_dir / "signer-chain.pem").read_bytes()
    rotated = cli("keys", "rotate", "--json", home=sealframe_home)
    assert rotated.returncode == 0, rotated.stderr
    assert (settings.keys_dir / "signer-chain.pem").read_bytes() != old_chain
    assert [p.read_bytes() for p in (settings.keys_dir / "history").glob("*-signer-chain.pem")] == [old_chain]
    anchors = (settings.keys_dir / ROOT_CERT).read_bytes()
    new = sign_file(clip, tmp_path / "new.mp4", ManifestSpec(title="t", model_id="m"),
                    credentials_from_settings(settings)).path
    assert read_provenance(old, anchors).state == "trusted"
    assert read_provenance(new, anchors).state == "trusted"
    with pytest.raises(KeyMaterialError):
        rotate_signer(tmp_path / "no-keys-here")


@pytest.fixture
def read_only_keys(used_home: Path) -> Iterator[Path]:
    """The key folder made read-only (immutable for root, 0500 otherwise), without a lock file in it."""
    keys = used_home / "keys"
    (keys / ".create.lock").unlink(missing_ok=True)
    # the dashboard's session secret, as a deployment that mounts keys would provision it
    (keys / "dashboard-session.key").write_bytes(os.urandom(32))
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(keys)]).returncode != 0:
            pytest.skip("cannot make a folder read-only for root here (no chattr)")
    else:
        keys.chmod(0o500)
    try:
        with pytest.raises(OSError):
            (keys / "probe").write_bytes(b"x")
        yield keys
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(keys)], check=False)
        else:
            keys.chmod(0o700)


def test_read_only_key_folder_serves_verifies_and_audits(read_only_keys: Path, used_home: Path) -> None:
    state = AppState(Settings(home=used_home))  # what `sealframe serve` builds at start
    assert state.verifier is not None
    clip = write_video(make_video(), used_home.parent / "clip.mp4")
    verified = cli("verify", str(clip), "--json", home=used_home)
    assert verified.returncode == 0, verified.stderr
    audited = cli("audit", "verify", home=used_home)
    assert audited.returncode == 0, audited.stderr
    assert not (read_only_keys / ".create.lock").exists()
