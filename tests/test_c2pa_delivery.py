"""Delivery with `moov` first, and what verification says about a signed clip cut short in transit."""

from __future__ import annotations

from pathlib import Path

import pytest

from safety.errors import MediaError
from safety.media import write_video
from safety.provenance import ManifestSpec, init_dev_keys, load_credentials, read_provenance, sign_file
from safety.store import open_store
from safety.verify import Verifier
from tests.conftest import make_video

SPEC = ManifestSpec(title="clip", model_id="stdit-test")


def _boxes(data: bytes) -> list[bytes]:
    at, kinds = 0, []
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        kinds.append(data[at + 4:at + 8])
        if size < 8:
            break
        at += size
    return kinds


def _sealed(tmp_path: Path, faststart: bool) -> tuple[Path, bytes]:
    keys = init_dev_keys(tmp_path / "keys")
    clip = write_video(make_video(frames=24), tmp_path / f"clip-{faststart}.mp4", faststart=faststart)
    signed = sign_file(clip, tmp_path / f"sealed-{faststart}.mp4", SPEC,
                       load_credentials(keys.signer_key, keys.signer_chain))
    return signed.path, keys.root_cert.read_bytes()


def test_faststart_output_keeps_moov_before_mdat_after_signing(tmp_path: Path) -> None:
    sealed, _ = _sealed(tmp_path, faststart=True)
    kinds = _boxes(sealed.read_bytes())
    assert kinds.index(b"moov") < kinds.index(b"mdat")
    assert kinds.index(b"uuid") < kinds.index(b"moov")  # the manifest arrives first as well
    plain = _boxes(write_video(make_video(), tmp_path / "plain.mp4").read_bytes())
    assert plain.index(b"mdat") < plain.index(b"moov")  # the default is unchanged


@pytest.mark.parametrize("faststart", [True, False])
@pytest.mark.parametrize("keep", [0.9, 0.6])
def test_truncated_signed_clip_is_tampered_not_unreadable(tmp_path: Path, faststart: bool, keep: float) -> None:
    sealed, root = _sealed(tmp_path, faststart)
    data = sealed.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    report = read_provenance(cut, root)
    assert report.state == "tampered"
    verifier = Verifier(store=open_store(f"sqlite:///{tmp_path / 'db.sqlite'}"), trust_anchors=root,
                        watermark_key=bytes(32))
    result = verifier.verify(cut)
    assert result.verdict == "tampered"
    assert result.summary == "credentials present but the file or its manifest was altered after signing"
    assert str(tmp_path) not in result.model_dump_json()  # no server path in what a client sees


def test_truncated_unsigned_clip_is_still_not_a_video(tmp_path: Path) -> None:
    clip = write_video(make_video(frames=24), tmp_path / "clip.mp4")
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    with pytest.raises(MediaError):
        read_provenance(cut, None)
