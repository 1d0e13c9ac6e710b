"""Trust bundles and RFC 3161 time-stamps, against a real TSA of our own on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from safety.errors import KeyMaterialError
from safety.provenance import ManifestSpec, init_dev_keys, read_provenance, sign_file, trust_anchors_from_settings
from safety.settings import Settings
from safety.verify import DetectorSignal, WatermarkSignal, decide
from tests.c2pa_support import issue_signer
from tests.tsa_responder import running_tsa

SPEC = ManifestSpec(title="clip", model_id="stdit-test")


def test_expired_certificate_with_a_trusted_time_stamp_stays_valid(tmp_path: Path, mp4: Path) -> None:
    keys = init_dev_keys(tmp_path / "keys")
    with running_tsa() as tsa:
        signed = sign_file(mp4, tmp_path / "stamped.mp4", SPEC, issue_signer(keys, seconds=2), tsa_url=tsa.url)
        assert len(tsa.requests) == 1  # the signer really asked our TSA
    tsa_pem = tmp_path / "tsa-roots.pem"
    tsa_pem.write_bytes(tsa.root_pem)
    settings = Settings(home=tmp_path / "home", trust_anchors=keys.root_cert, tsa_trust_anchors=tsa_pem)
    with_tsa = trust_anchors_from_settings(settings)
    without_tsa = trust_anchors_from_settings(settings.model_copy(update={"tsa_trust_anchors": None}))
    assert with_tsa is not None and without_tsa is not None

    time.sleep(3.5)  # the signing certificate has now expired (c2pa-rs allows some skew)
    stamped = read_provenance(signed.path, with_tsa)
    assert stamped.state == "trusted"
    assert "signingCredential.expired" not in stamped.validation_codes
    # The same file when the TSA is not among the anchors: the time-stamp does not count.
    unstamped = read_provenance(signed.path, without_tsa)
    assert unstamped.state == "credential_problem"
    assert "timeStamp.untrusted" in unstamped.validation_codes
    assert "signingCredential.expired" in (unstamped.reason or "")
    verdict, summary, _ = decide(unstamped, WatermarkSignal(), None, DetectorSignal(status="unavailable"))
    assert verdict == "credential_problem" and "altered" not in summary


NOT_A_BUNDLE = [b"", b"# nothing here\n", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]


@pytest.mark.parametrize("content", NOT_A_BUNDLE)
def test_empty_or_unparsable_bundles_are_errors(tmp_path: Path, content: bytes) -> None:
    keys = init_dev_keys(tmp_path / "keys")
    bad = tmp_path / "bundle.pem"
    bad.write_bytes(content)
    with pytest.raises(KeyMaterialError, match="no readable PEM certificate"):
        trust_anchors_from_settings(Settings(home=tmp_path, trust_anchors=bad))
    with pytest.raises(KeyMaterialError, match="time-stamp authority anchors"):
        trust_anchors_from_settings(Settings(home=tmp_path, trust_anchors=keys.root_cert, tsa_trust_anchors=bad))
    with pytest.raises(KeyMaterialError, match="cannot read"):
        trust_anchors_from_settings(Settings(home=tmp_path, trust_anchors=tmp_path / "missing.pem"))


def test_cli_inspect_with_an_empty_bundle_exits_4_with_one_line(tmp_path: Path, mp4: Path) -> None:
    import subprocess
    import sys

    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "safety.cli", "inspect", str(mp4), "--trust-anchors", str(empty)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4
    assert "no readable PEM certificate" in proc.stderr and "Traceback" not in proc.stderr


def test_c2pa_trust_list_snapshot_is_selectable(tmp_path: Path, mp4: Path) -> None:
    from cryptography import x509

    keys = init_dev_keys(tmp_path / "keys")
    settings = Settings(home=tmp_path / "home", trust_anchors=keys.root_cert, trust_list="c2pa-2026-08-13")
    bundle = trust_anchors_from_settings(settings)
    assert bundle is not None
    certs = x509.load_pem_x509_certificates(bundle)
    assert len(certs) == 1 + 30 + 22  # our root, the C2PA list, the C2PA TSA list
    assert any("Google" in c.subject.rfc4514_string() for c in certs)
    signed = sign_file(mp4, tmp_path / "s.mp4", SPEC, issue_signer(keys, seconds=3600))
    assert read_provenance(signed.path, bundle).state == "trusted"  # the list adds anchors, loses none
    other = Settings(home=tmp_path / "other", trust_list="c2pa-2026-08-13")
    assert read_provenance(signed.path, trust_anchors_from_settings(other)).state == "valid"
