"""Helpers for the C2PA tests: certificates of our own, a JUMBF walker, and signing with any definition."""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import c2pa
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from safety.provenance import SigningCredentials
from safety.provenance.credentials import _signer
from safety.provenance.keys import DevKeyPaths


def issue_signer(
    keys: DevKeyPaths, *, seconds: float, org: str = "Short-lived", eku: bool = True
) -> SigningCredentials:
    """An ES256 end-entity certificate from the dev root, valid from a minute ago for `seconds`."""
    root_key = serialization.load_pem_private_key(keys.root_key.read_bytes(), None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root = x509.load_pem_x509_certificate(keys.root_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{org} signer"),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(seconds=seconds))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
    cert = builder.sign(root_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    return SigningCredentials(
        alg="es256",
        chain_pem=cert.public_bytes(pem) + root.public_bytes(pem),
        private_key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def sign_with_definition(src: Path, dst: Path, definition: dict[str, Any], creds: SigningCredentials,
                         ingredient: Path | None = None) -> Path:
    """Sign `src` with an arbitrary manifest definition, as another tool would (optionally with a parent)."""
    with _signer(creds, None) as signer, c2pa.Builder.from_json(definition) as builder:
        if ingredient is not None:
            with ingredient.open("rb") as ing:
                builder.add_ingredient({"title": ingredient.name, "relationship": "parentOf", "label": "parent"},
                                       "video/mp4", ing)
        with src.open("rb") as s, dst.open("w+b") as d:
            builder.sign(signer, "video/mp4", s, d)
    return dst


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    at, end = start, len(data) if end is None else end
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        if size < header or at + size > end:
            return
        yield kind, data[at + header : at + size]
        at += size


def jumbf_cbor(store: bytes) -> dict[str, Any]:
    """Every CBOR content box of a JUMBF manifest store, decoded, keyed by its label path."""
    out: dict[str, Any] = {}

    def walk(body: bytes, path: str) -> None:
        label = path
        for kind, content in _boxes(body):
            if kind == b"jumd":
                toggles = content[16]
                if toggles & 0x02:
                    name = content[17 : content.index(bytes(1), 17)].decode()
                    label = f"{path}/{name}"
            elif kind == b"jumb":
                walk(content, label)
            elif kind == b"cbor":
                out[label] = cbor2.loads(content)

    for kind, content in _boxes(store):
        if kind == b"jumb":
            walk(content, "")
    return out


def x5chain(store: bytes, manifest_id: str) -> list[x509.Certificate]:
    """The certificates in the COSE signature of one manifest (protected header 33, x5chain)."""
    sign1 = jumbf_cbor(store)[f"/c2pa/{manifest_id}/c2pa.signature"]
    sign1 = sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1
    headers = {**cbor2.loads(sign1[0]), **sign1[1]}
    chain = headers[33]
    return [x509.load_der_x509_certificate(c) for c in ([chain] if isinstance(chain, bytes) else chain)]
