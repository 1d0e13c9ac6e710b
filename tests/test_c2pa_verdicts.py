"""C2PA outcomes and verdicts as a newsroom would meet them: each case under "Why" of issue 22.

Real signatures by c2pa-python on real MP4s; the verdict is computed by `decide` from the report.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from pathlib import Path

import c2pa
import pytest

from safety.errors import ProvenanceError
from safety.provenance import (
    ManifestSpec,
    ProvenanceReport,
    SigningCredentials,
    init_dev_keys,
    load_credentials,
    read_provenance,
    sign_file,
)
from safety.provenance.keys import DevKeyPaths
from safety.provenance.manifest import GENERATION_LABEL
from safety.verify import DetectorSignal, WatermarkSignal, decide
from tests.c2pa_support import issue_signer, jumbf_cbor, sign_with_definition, x5chain

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
SPEC = ManifestSpec(title="clip", model_id="stdit-test", weights_sha256="ab" * 32, prompt_sha256="cd" * 32,
                    asset_id="asset-1", watermark_payload=bytes.fromhex("0102030405060708"))


@pytest.fixture
def keys(tmp_path: Path) -> DevKeyPaths:
    return init_dev_keys(tmp_path / "keys")


@pytest.fixture
def creds(keys: DevKeyPaths) -> SigningCredentials:
    return load_credentials(keys.signer_key, keys.signer_chain)


def verdict(report: ProvenanceReport) -> tuple[str, str, list[str]]:
    return decide(report, WatermarkSignal(), None, DetectorSignal(status="unavailable", error="none configured"))


# 1. Expired certificate and unparsable manifests are not "altered".

def test_expired_certificate_is_a_credential_problem_not_tampering(
    tmp_path: Path, mp4: Path, keys: DevKeyPaths
) -> None:
    short = issue_signer(keys, seconds=2)
    signed = sign_file(mp4, tmp_path / "short.mp4", SPEC, short)
    root = keys.root_cert.read_bytes()
    assert read_provenance(signed.path, root).state == "trusted"  # before the end date
    time.sleep(3.5)
    report = read_provenance(signed.path, root)
    assert report.state == "credential_problem"
    assert "signingCredential.expired" in (report.reason or "")
    v, summary, _reasons = verdict(report)
    assert v == "credential_problem"
    assert "altered" not in summary and "unchanged since signing" in summary
    assert "expired" in summary


def test_unparsable_manifest_container_is_unreadable_with_the_parsers_reason(tmp_path: Path, mp4: Path) -> None:
    data = bytearray(mp4.read_bytes())
    moov = data.find(b"moov")
    struct.pack_into(">I", data, moov - 4, 0xFFFFFF00)  # a moov that claims to run past the end
    bad = tmp_path / "bad-moov.mp4"
    bad.write_bytes(bytes(data))
    report = read_provenance(bad, None)
    assert report.state == "unreadable"
    assert report.reason and "beyond asset bounds" in report.reason
    v, summary, _ = verdict(report)
    assert v == "credentials_unreadable"
    assert "altered" not in summary and "beyond asset bounds" in summary


def test_only_a_hash_mismatch_reads_as_tampered(tmp_path: Path, mp4: Path, keys: DevKeyPaths,
                                                creds: SigningCredentials) -> None:
    signed = sign_file(mp4, tmp_path / "s.mp4", SPEC, creds)
    data = bytearray(signed.path.read_bytes())
    data[data.find(b"mdat") + 100] ^= 0x01
    tampered = tmp_path / "t.mp4"
    tampered.write_bytes(bytes(data))
    report = read_provenance(tampered, keys.root_cert.read_bytes())
    assert report.state == "tampered"
    assert report.reason == "assertion.bmffHash.mismatch"
    assert verdict(report)[0] == "tampered"


# 2. AI disclosure anywhere in the provenance graph.

def test_composite_ai_edit_after_a_capture_is_disclosed(tmp_path: Path, mp4: Path, keys: DevKeyPaths,
                                                        creds: SigningCredentials) -> None:
    definition = {"claim_generator_info": [{"name": "camera-app", "version": "1"}], "title": "capture",
                  "format": "video/mp4", "assertions": [{"label": "c2pa.actions", "created": True, "data": {
                      "actions": [{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"},
                                  {"action": "c2pa.edited",
                                   "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia"}]}}]}
    out = sign_with_definition(mp4, tmp_path / "capture-edit.mp4", definition, creds)
    report = read_provenance(out, keys.root_cert.read_bytes())
    assert report.state == "trusted"
    assert [(d.how, d.action, d.via) for d in report.ai_disclosures] == [
        ("composite", "c2pa.edited", "active manifest")]
    assert report.ai_disclosures[0].manifest_id == report.manifest_id
    v, _summary, reasons = verdict(report)
    assert v == "ai_generated_signed"
    assert any("composite (c2pa.edited, compositeWithTrainedAlgorithmicMedia)" in r for r in reasons)


def test_ai_generated_parent_that_was_then_edited_is_disclosed(tmp_path: Path, mp4: Path, keys: DevKeyPaths,
                                                               creds: SigningCredentials) -> None:
    ai = sign_file(mp4, tmp_path / "ai.mp4", SPEC, creds)
    definition = {"claim_generator_info": [{"name": "editor", "version": "2"}], "title": "edited",
                  "format": "video/mp4", "assertions": [{"label": "c2pa.actions", "created": True, "data": {
                      "actions": [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
                                  {"action": "c2pa.edited"}]}}]}
    edited = sign_with_definition(ai.path, tmp_path / "edited.mp4", definition, creds, ingredient=ai.path)
    report = read_provenance(edited, keys.root_cert.read_bytes())
    assert report.state == "trusted"
    assert report.digital_source_type is None  # the active manifest itself declares nothing
    (d,) = report.ai_disclosures
    assert (d.how, d.action, d.via) == ("created", "c2pa.created", "ingredient 'ai.mp4' (parentOf)")
    assert d.manifest_id != report.manifest_id and d.signer == "SealFrame development"
    v, _summary, reasons = verdict(report)
    assert v == "ai_generated_signed"
    assert any("ingredient 'ai.mp4'" in r for r in reasons)


# 3. A remote manifest reference is reported, not fetched.

def test_remote_manifest_reference_is_reported_with_its_url(tmp_path: Path, mp4: Path,
                                                             creds: SigningCredentials) -> None:
    from safety.provenance.credentials import _signer
    from safety.provenance.manifest import manifest_definition

    url = "https://manifests.example/clip.c2pa"
    out = tmp_path / "remote.mp4"
    with _signer(creds, None) as signer, c2pa.Builder.from_json(manifest_definition(SPEC)) as builder:
        builder.set_no_embed()
        builder.set_remote_url(url)
        with mp4.open("rb") as src, out.open("w+b") as dst:
            builder.sign(signer, "video/mp4", src, dst)
    report = read_provenance(out, None)
    assert report.state == "absent"
    assert report.remote_manifest_url == url
    assert report.reason == f"remote manifest referenced at {url}, not fetched"
    v, summary, reasons = verdict(report)
    assert v == "no_signals"
    assert f"remote manifest referenced at {url}, not fetched" in summary
    assert "no C2PA manifest in the file" not in reasons


# 4. An untrusted signer has its own verdict.

def test_untrusted_signer_is_its_own_verdict(tmp_path: Path, mp4: Path, keys: DevKeyPaths) -> None:
    other = init_dev_keys(tmp_path / "other-install")
    signed = sign_file(mp4, tmp_path / "other.mp4", SPEC, load_credentials(other.signer_key, other.signer_chain))
    report = read_provenance(signed.path, keys.root_cert.read_bytes())
    assert report.state == "valid"
    v, summary, _ = verdict(report)
    assert v == "signed_untrusted"
    assert summary == ("signed by SealFrame development, whom you have not chosen to trust; "
                       "it declares AI generation")
    assert verdict(read_provenance(signed.path, other.root_cert.read_bytes()))[:2] == (
        "ai_generated_signed", "AI-generated: signed by SealFrame development")


# 5. Our own manifest by the specification.

def test_our_assertions_are_created_namespaced_and_soft_binding_has_scope_and_pad(
    tmp_path: Path, mp4: Path, keys: DevKeyPaths, creds: SigningCredentials
) -> None:
    signed = sign_file(mp4, tmp_path / "s.mp4", SPEC, creds)
    with signed.path.open("rb") as fh, c2pa.Reader("video/mp4", fh) as reader:
        detailed = json.loads(reader.detailed_json())
    claim = detailed["manifests"][detailed["active_manifest"]]["claim"]
    created = [a["url"].rsplit("/", 1)[-1] for a in claim["created_assertions"]]
    assert {"c2pa.actions.v2", GENERATION_LABEL, "c2pa.soft-binding"} <= set(created)
    assert not claim.get("gathered_assertions")
    assert GENERATION_LABEL == "io.sealframe.generation"

    boxes = jumbf_cbor(signed.manifest_store)
    manifest_id = detailed["active_manifest"]
    soft = boxes[f"/c2pa/{manifest_id}/c2pa.assertions/c2pa.soft-binding"]
    assert soft["alg"] == SPEC.soft_binding_alg
    assert "pad" in soft
    (block,) = soft["blocks"]
    assert bytes(block["value"]) == SPEC.watermark_payload
    assert block["scope"]["timespan"]["start"] == 0 and block["scope"]["timespan"]["end"] == 1000  # 12 frames, 12 fps
    report = read_provenance(signed.path, keys.root_cert.read_bytes())
    assert base64.b64decode(report.soft_bindings[0].value) == SPEC.watermark_payload

    chain = x5chain(signed.manifest_store, manifest_id)
    assert len(chain) == 1 and chain[0].subject != chain[0].issuer  # end-entity only: no root
    assert report.state == "trusted"


def test_legacy_generation_label_is_still_read(tmp_path: Path, mp4: Path, keys: DevKeyPaths,
                                               creds: SigningCredentials) -> None:
    definition = {"claim_generator_info": [{"name": "sealframe", "version": "0.0.9"}], "title": "old",
                  "format": "video/mp4", "assertions": [
                      {"label": "c2pa.actions", "data": {"actions": [
                          {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}]}},
                      {"label": "sealframe.generation", "data": {"prompt_sha256": "ef" * 32}}]}
    out = sign_with_definition(mp4, tmp_path / "old.mp4", definition, creds)
    report = read_provenance(out, keys.root_cert.read_bytes())
    assert report.generation == {"prompt_sha256": "ef" * 32}


def test_signing_a_file_with_credentials_keeps_its_history(tmp_path: Path, mp4: Path, keys: DevKeyPaths,
                                                           creds: SigningCredentials) -> None:
    capture = {"claim_generator_info": [{"name": "camera-app", "version": "1"}], "title": "capture",
               "format": "video/mp4", "assertions": [{"label": "c2pa.actions", "created": True, "data": {
                   "actions": [{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}]}}]}
    original = sign_with_definition(mp4, tmp_path / "capture.mp4", capture, creds)
    first = read_provenance(original, keys.root_cert.read_bytes())
    resigned = sign_file(original, tmp_path / "resigned.mp4", ManifestSpec(title="resigned"), creds)
    report = read_provenance(resigned.path, keys.root_cert.read_bytes())
    assert report.state == "trusted"
    names = [a["action"] for a in report.actions]
    assert names[0] == "c2pa.opened" and "c2pa.created" not in names
    assert report.digital_source_type is None and report.ai_disclosures == ()
    with c2pa.Reader("video/mp4", resigned.path.open("rb")) as reader:
        store = json.loads(reader.json())
    (ingredient,) = store["manifests"][store["active_manifest"]]["ingredients"]
    assert ingredient["relationship"] == "parentOf" and ingredient["active_manifest"] == first.manifest_id
    assert verdict(report)[0] == "signed"  # a capture, not AI, stays so after we sign it
    with pytest.raises(ProvenanceError, match="already carries C2PA credentials"):
        sign_file(original, tmp_path / "refused.mp4", ManifestSpec(title="x"), creds, existing="refuse")
    assert not (tmp_path / "refused.mp4").exists()


def test_remote_manifest_is_fetched_only_from_an_allowed_host(tmp_path: Path, mp4: Path, keys: DevKeyPaths,
                                                              creds: SigningCredentials) -> None:
    import http.server
    import threading

    from safety.provenance.credentials import _signer
    from safety.provenance.manifest import manifest_definition

    served: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/c2pa")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    url = f"http://{host}/clip.c2pa"
    try:
        out = tmp_path / "remote.mp4"
        with _signer(creds, None) as signer, c2pa.Builder.from_json(manifest_definition(SPEC)) as builder:
            builder.set_no_embed()
            builder.set_remote_url(url)
            with mp4.open("rb") as src, out.open("w+b") as dst:
                served["/clip.c2pa"] = bytes(builder.sign(signer, "video/mp4", src, dst))
        root = keys.root_cert.read_bytes()
        assert read_provenance(out, root, remote_hosts=("manifests.example",)).state == "absent"
        assert hits == []  # a host outside the allow-list is never contacted
        fetched = read_provenance(out, root, remote_hosts=(host,))
        assert hits == ["/clip.c2pa"]
        assert fetched.state == "trusted" and fetched.remote_manifest_url == url
        assert "sealframe.remoteManifestFetched" in fetched.validation_codes
        assert fetched.ai_disclosures and fetched.ai_disclosures[0].how == "created"
    finally:
        server.shutdown()


def test_cli_sign_over_credentials_keeps_them_or_refuses_by_setting(tmp_path: Path, mp4: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "SEALFRAME_HOME": str(tmp_path / "home")}

    def sign(src: Path, dst: Path, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "safety.cli", "sign", str(src), str(dst), "--json"],
                              env={**env, **extra}, capture_output=True, text=True, timeout=120)

    first = tmp_path / "first.mp4"
    assert sign(mp4, first).returncode == 0
    again = sign(first, tmp_path / "again.mp4")
    assert again.returncode == 0, again.stderr
    report = read_provenance(tmp_path / "again.mp4", None)
    assert [a["action"] for a in report.actions][:1] == ["c2pa.opened"]
    refused = sign(first, tmp_path / "refused.mp4", SEALFRAME_SIGN_EXISTING="refuse")
    assert refused.returncode == 4
    assert "already carries C2PA credentials" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "refused.mp4").exists()
