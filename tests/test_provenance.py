"""C2PA credentials: real signatures by c2pa-python on real MP4s, checked for every state."""

from __future__ import annotations

import base64
import contextlib
import stat
from pathlib import Path

import c2pa
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from safety.errors import KeyMaterialError, MediaError
from safety.media import read_video, write_video
from safety.provenance import (
    TRAINED_ALGORITHMIC_MEDIA,
    WATERMARK_ALG,
    ManifestSpec,
    SigningCredentials,
    callback_for_key,
    credentials_from_settings,
    init_dev_keys,
    load_credentials,
    read_provenance,
    sign_file,
    trust_anchors_from_settings,
)
from safety.provenance.keys import DevKeyPaths
from safety.settings import Settings


@pytest.fixture
def keys(tmp_path: Path) -> DevKeyPaths:
    return init_dev_keys(tmp_path / "keys")


@pytest.fixture
def creds(keys: DevKeyPaths) -> SigningCredentials:
    return load_credentials(keys.signer_key, keys.signer_chain)


SPEC = ManifestSpec(
    title="clip",
    model_id="stdit-test",
    weights_sha256="ab" * 32,
    prompt_sha256="cd" * 32,
    policy="sealframe-default@1#0123456789ab",
    decision_id="dec-1",
    asset_id="asset-1",
    watermark_payload=bytes.fromhex("0102030405060708"),
)


def test_dev_keys_have_private_files_0600_and_are_stable(tmp_path: Path) -> None:
    paths = init_dev_keys(tmp_path / "k")
    for key in (paths.root_key, paths.signer_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    chain = paths.signer_chain.read_bytes()
    assert chain.count(b"BEGIN CERTIFICATE") == 2
    again = init_dev_keys(tmp_path / "k")
    assert again.signer_chain.read_bytes() == chain  # a second init keeps what was issued
    forced = init_dev_keys(tmp_path / "k", force=True)
    assert forced.signer_chain.read_bytes() != chain


def test_sign_and_read_trusted_then_valid_without_anchors(
    tmp_path: Path, mp4: Path, keys: DevKeyPaths, creds: SigningCredentials
) -> None:
    signed = sign_file(mp4, tmp_path / "signed.mp4", SPEC, creds)
    assert len(signed.manifest_store) > 1000
    trusted = read_provenance(signed.path, keys.root_cert.read_bytes())
    assert trusted.state == "trusted"
    assert trusted.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert trusted.actions[0]["action"] == "c2pa.created"
    assert trusted.actions[0]["softwareAgent"]["name"] == "stdit-test"
    assert trusted.issuer == "SealFrame development"
    assert trusted.claim_generator and trusted.claim_generator.startswith("sealframe")
    assert trusted.generation is not None
    assert trusted.generation["prompt_sha256"] == "cd" * 32
    assert trusted.generation["policy"] == SPEC.policy
    assert trusted.soft_bindings[0].alg == WATERMARK_ALG
    assert base64.b64decode(trusted.soft_bindings[0].value) == SPEC.watermark_payload
    assert trusted.manifest_id and trusted.manifest_id.startswith("urn:c2pa:")

    untrusted = read_provenance(signed.path, None)
    assert untrusted.state == "valid"
    assert "signingCredential.untrusted" in untrusted.validation_codes
    assert read_provenance(signed.path, b"").state == "valid"


def test_another_root_does_not_make_it_trusted(
    tmp_path: Path, mp4: Path, creds: SigningCredentials
) -> None:
    other = init_dev_keys(tmp_path / "other", organization="Someone else")
    signed = sign_file(mp4, tmp_path / "s.mp4", SPEC, creds)
    assert read_provenance(signed.path, other.root_cert.read_bytes()).state == "valid"


def test_flipped_media_byte_is_invalid_and_reencode_is_absent(
    tmp_path: Path, mp4: Path, keys: DevKeyPaths, creds: SigningCredentials
) -> None:
    signed = sign_file(mp4, tmp_path / "signed.mp4", SPEC, creds)
    data = bytearray(signed.path.read_bytes())
    mdat = data.find(b"mdat")
    assert mdat > 0
    data[mdat + 100] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = read_provenance(tampered, keys.root_cert.read_bytes())
    assert report.state == "tampered"
    assert "assertion.bmffHash.mismatch" in report.validation_codes

    reencoded = write_video(read_video(signed.path), tmp_path / "re.mp4", crf=28)
    assert read_provenance(reencoded, keys.root_cert.read_bytes()).state == "absent"


def test_unsigned_video_is_absent(mp4: Path, keys: DevKeyPaths) -> None:
    report = read_provenance(mp4, keys.root_cert.read_bytes())
    assert report.state == "absent"
    assert report.issuer is None


def test_callback_signer_es256_ed25519_ps256(tmp_path: Path, mp4: Path, keys: DevKeyPaths) -> None:
    # The HSM/KMS hook: c2pa asks our callback for each signature; the key never leaves it.
    root = keys.root_cert.read_bytes()
    key_pem = load_credentials(keys.signer_key, keys.signer_chain).private_key_pem
    assert key_pem is not None
    calls: list[int] = []
    alg, sign = callback_for_key(key_pem)

    def counting(data: bytes) -> bytes:
        calls.append(len(data))
        return sign(data)

    cb_creds = SigningCredentials(alg=alg, chain_pem=keys.signer_chain.read_bytes(), callback=counting)
    signed = sign_file(mp4, tmp_path / "cb.mp4", SPEC, cb_creds)
    assert calls, "the callback was never asked to sign"
    assert read_provenance(signed.path, root).state == "trusted"


def test_callback_that_fails_means_nothing_is_written(tmp_path: Path, mp4: Path, keys: DevKeyPaths) -> None:
    def broken(data: bytes) -> bytes:
        raise RuntimeError("HSM offline")

    creds = SigningCredentials(alg="es256", chain_pem=keys.signer_chain.read_bytes(), callback=broken)
    out = tmp_path / "never.mp4"
    with pytest.raises(Exception):  # noqa: B017 - any failure; the point is what is left on disk
        sign_file(mp4, out, SPEC, creds)
    assert not out.exists()
    assert not list(tmp_path.glob(".sealframe-*"))


def test_ed25519_key_from_pem_files(tmp_path: Path, mp4: Path, keys: DevKeyPaths) -> None:
    # Production path: a PEM key + chain named in settings (here an Ed25519 key issued by our root).
    import datetime

    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    root_key = serialization.load_pem_private_key(keys.root_key.read_bytes(), None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate(keys.root_cert.read_bytes())
    key = ed25519.Ed25519PrivateKey.generate()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed signer"),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Prod")]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key_path, chain_path = tmp_path / "prod.key", tmp_path / "prod-chain.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b"s3cret")))
    chain_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + keys.root_cert.read_bytes())
    settings = Settings(home=tmp_path / "home", signing_key=key_path, signing_chain=chain_path,
                        key_passphrase="s3cret")  # type: ignore[arg-type]
    creds = credentials_from_settings(settings)
    assert creds.alg == "ed25519"
    signed = sign_file(mp4, tmp_path / "ed.mp4", SPEC, creds)
    report = read_provenance(signed.path, keys.root_cert.read_bytes())
    assert report.state == "trusted"
    assert report.issuer == "Prod"


def test_passphrase_protected_dev_keys(tmp_path: Path) -> None:
    paths = init_dev_keys(tmp_path / "k", passphrase=b"correct horse")
    assert b"ENCRYPTED" in paths.signer_key.read_bytes()
    assert load_credentials(paths.signer_key, paths.signer_chain, b"correct horse").private_key_pem
    with pytest.raises(KeyMaterialError, match="wrong passphrase"):
        load_credentials(paths.signer_key, paths.signer_chain, b"battery staple")
    with pytest.raises(KeyMaterialError, match="encrypted"):
        load_credentials(paths.signer_key, paths.signer_chain, None)


def test_missing_key_and_chain_are_key_errors(tmp_path: Path, keys: DevKeyPaths) -> None:
    with pytest.raises(KeyMaterialError, match="not found"):
        load_credentials(tmp_path / "absent.key", keys.signer_chain)
    with pytest.raises(KeyMaterialError, match="not found"):
        load_credentials(keys.signer_key, tmp_path / "absent.pem")
    settings = Settings(home=tmp_path, signing_key=keys.signer_key)
    with pytest.raises(KeyMaterialError, match="both"):
        credentials_from_settings(settings)


def test_settings_default_to_dev_keys_made_on_first_use(tmp_path: Path, mp4: Path) -> None:
    settings = Settings(home=tmp_path / "fresh")
    assert trust_anchors_from_settings(settings) is None
    creds = credentials_from_settings(settings)
    anchors = trust_anchors_from_settings(settings)
    assert anchors is not None and b"BEGIN CERTIFICATE" in anchors
    signed = sign_file(mp4, tmp_path / "s.mp4", SPEC, creds)
    assert read_provenance(signed.path, anchors).state == "trusted"
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(KeyMaterialError, match="no readable PEM certificate"):
        trust_anchors_from_settings(settings.model_copy(update={"trust_anchors": empty}))
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(KeyMaterialError, match="no readable PEM certificate"):
        trust_anchors_from_settings(settings.model_copy(update={"trust_anchors": garbage}))


def test_signing_rejects_bad_inputs(tmp_path: Path, mp4: Path, creds: SigningCredentials) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        sign_file(mp4, tmp_path / "missing" / "out.mp4", SPEC, creds)
    text = tmp_path / "notes.mp4"
    text.write_text("hello")
    with pytest.raises(MediaError):
        sign_file(text, tmp_path / "out.mp4", SPEC, creds)


def test_reading_never_fetches_a_remote_manifest(tmp_path: Path, mp4: Path, creds: SigningCredentials) -> None:
    import http.server
    import io
    import threading

    from safety.provenance.credentials import _signer
    from safety.provenance.manifest import manifest_definition

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/manifest.c2pa"
    try:
        out = tmp_path / "remote.mp4"
        with _signer(creds, None) as signer, c2pa.Builder.from_json(manifest_definition(SPEC)) as builder:
            builder.set_no_embed()
            builder.set_remote_url(url)
            with mp4.open("rb") as src, out.open("w+b") as dst:
                builder.sign(signer, "video/mp4", src, dst)
        report = read_provenance(out, None)
        assert hits == []
        assert report.state == "absent"
        assert "sealframe.remoteManifestNotFetched" in report.validation_codes
        # Positive control: the same file with fetching on does reach the listener, so it is our
        # setting that keeps the reader offline (c2pa ignores unknown setting keys silently).
        online = c2pa.Context(settings=c2pa.Settings.from_dict({"verify": {"remote_manifest_fetch": True}}))
        with contextlib.suppress(c2pa.C2paError):
            c2pa.Reader.try_create("video/mp4", io.BytesIO(out.read_bytes()), None, online)
        assert any("manifest.c2pa" in h for h in hits)
    finally:
        server.shutdown()


def test_an_unlisted_soft_binding_algorithm_does_not_decide_the_outcome() -> None:
    # The result shape newer c2pa-rs produces for an alg missing from the soft-binding list.
    from safety.provenance.credentials import _codes
    from safety.provenance.report import outcome_for_codes

    url = "self#jumbf=/c2pa/urn:c2pa:x/c2pa.assertions/c2pa.soft-binding"
    results = {"activeManifest": {"failure": [{"code": "algorithm.unsupported", "url": url}],
                                  "informational": [{"code": "signingCredential.ocsp.skipped", "url": "x"}]}}
    codes, failures = _codes(results)
    assert failures == () and outcome_for_codes(failures) is None
    assert "softBinding:algorithm.unsupported" in codes
    signature = {"activeManifest": {"failure": [{"code": "algorithm.unsupported",
                                                 "url": "self#jumbf=/c2pa/urn:c2pa:x/c2pa.signature"}]}}
    assert outcome_for_codes(_codes(signature)[1]) == "credential_problem"
