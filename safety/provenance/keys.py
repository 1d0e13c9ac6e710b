"""Signing credentials: a development CA for the embedded default, PEM files or a callback in production.

`init_dev_keys` writes a root CA and an ES256 end-entity certificate with the extensions c2pa-rs
insists on (critical BasicConstraints ca=False and KeyUsage digitalSignature, SKI, AKI, EKU
emailProtection). Private keys are written with mode 0600, optionally encrypted.

`SigningCredentials` is what the signer consumes: a PEM chain (end-entity first) plus either a
private key or a `sign` callback, the hook for an HSM or a cloud KMS that never hands out its key.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from safety.errors import KeyMaterialError
from safety.keyfolder import key_folder_lock

Algorithm = Literal["es256", "es384", "ps256", "ed25519"]
SignCallback = Callable[[bytes], bytes]

ROOT_CERT = "root-ca.pem"
ROOT_KEY = "root-ca.key"
SIGNER_CHAIN = "signer-chain.pem"
SIGNER_KEY = "signer.key"

__all__ = [
    "ROOT_CERT",
    "SIGNER_CHAIN",
    "SIGNER_KEY",
    "Algorithm",
    "DevKeyPaths",
    "SignCallback",
    "SigningCredentials",
    "callback_for_key",
    "init_dev_keys",
    "load_credentials",
    "load_private_key",
    "rotate_signer",
]


@dataclass(frozen=True)
class DevKeyPaths:
    root_cert: Path
    root_key: Path
    signer_chain: Path
    signer_key: Path


@dataclass(frozen=True)
class SigningCredentials:
    """A certificate chain and the means to sign with its end-entity key.

    Exactly one of `private_key_pem` (unencrypted PKCS#8, kept in memory only) and `callback` is set.
    """

    alg: Algorithm
    chain_pem: bytes
    private_key_pem: bytes | None = None
    callback: SignCallback | None = None

    def __post_init__(self) -> None:
        if (self.private_key_pem is None) == (self.callback is None):
            raise KeyMaterialError("signing credentials need exactly one of a private key or a callback")
        if b"-----BEGIN CERTIFICATE-----" not in self.chain_pem:
            raise KeyMaterialError("signing certificate chain holds no PEM certificate")

    @property
    def issuer_name(self) -> str:
        cert = x509.load_pem_x509_certificate(self.chain_pem)
        orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(orgs[0].value) if orgs else cert.subject.rfc4514_string()


def _name(common_name: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        ]
    )


def _key_usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes | None) -> None:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
    # Create with 0600 from the start: a chmod afterwards leaves a window where the key is readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def init_dev_keys(
    directory: Path,
    *,
    organization: str = "SealFrame development",
    passphrase: bytes | None = None,
    force: bool = False,
    valid_days: int = 825,
) -> DevKeyPaths:
    """Create a development root CA and an ES256 signing certificate under `directory`.

    Existing keys are kept unless `force` is set, so a second `keys init` never invalidates
    credentials already issued.
    """
    with key_folder_lock(directory):
        return _init_dev_keys_locked(directory, organization, passphrase, force, valid_days)


def _init_dev_keys_locked(
    directory: Path, organization: str, passphrase: bytes | None, force: bool, valid_days: int
) -> DevKeyPaths:
    paths = DevKeyPaths(
        directory / ROOT_CERT, directory / ROOT_KEY, directory / SIGNER_CHAIN, directory / SIGNER_KEY
    )
    needed = (paths.root_cert, paths.signer_chain, paths.signer_key)
    if not force and all(p.exists() for p in needed):
        return paths
    present = [p for p in vars(paths).values() if p.exists()]
    if present and not force:
        # Re-making part of a set would replace the root CA: every asset signed so far would drop
        # from trusted to untrusted. Only an explicit --force replaces a key set.
        missing = ", ".join(p.name for p in needed if not p.exists())
        raise KeyMaterialError(
            f"key folder {directory} holds part of a key set ({missing} missing): restore the missing files "
            f"from backup, or run `sealframe keys init --force` to replace the whole set (the old "
            f"certificates are kept under {directory / HISTORY})")
    if present:
        _keep_history(directory, [paths.root_cert, paths.signer_chain])

    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(f"{organization} root CA", organization)
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days * 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    ee_key, ee = _issue_signer(root_key, root, organization, valid_days)
    pem = serialization.Encoding.PEM
    _write_private(paths.root_key, root_key, passphrase)
    _write_private(paths.signer_key, ee_key, passphrase)
    paths.root_cert.write_bytes(root.public_bytes(pem))
    paths.signer_chain.write_bytes(ee.public_bytes(pem) + root.public_bytes(pem))
    return paths


def _issue_signer(
    root_key: ec.EllipticCurvePrivateKey, root: x509.Certificate, organization: str, valid_days: int
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A fresh ES256 end-entity key and its certificate, issued by the dev root."""
    now = datetime.datetime.now(datetime.UTC)
    ee_key = ec.generate_private_key(ec.SECP256R1())
    ee = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{organization} signer", organization))
        .issuer_name(root.subject)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True, ca=False), critical=True)
        # c2pa-rs accepts emailProtection without extra trust configuration; documentSigning alone
        # is rejected unless the trust settings list its OID.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    return ee_key, ee


HISTORY = "history"
"""Sub-folder of the key folder where replaced certificates are kept (never their private keys)."""


def _keep_history(directory: Path, files: list[Path]) -> list[Path]:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = directory / HISTORY
    folder.mkdir(mode=0o700, exist_ok=True)
    kept = []
    for f in files:
        if f.exists():
            dest = folder / f"{stamp}-{f.name}"
            dest.write_bytes(f.read_bytes())
            kept.append(dest)
    return kept


def rotate_signer(directory: Path, *, passphrase: bytes | None = None, valid_days: int = 825) -> DevKeyPaths:
    """Replace the dev signing key and certificate with new ones from the same root CA.

    Assets signed before keep verifying as trusted (their certificate chains to the unchanged
    root); the replaced chain is kept under `history/`, the replaced private key is destroyed.
    """
    with key_folder_lock(directory):
        paths = DevKeyPaths(
            directory / ROOT_CERT, directory / ROOT_KEY, directory / SIGNER_CHAIN, directory / SIGNER_KEY
        )
        for p in vars(paths).values():
            if not p.exists():
                raise KeyMaterialError(f"cannot rotate: {p} is missing (rotation needs the dev root CA's key)")
        root_key = serialization.load_pem_private_key(
            load_private_key(paths.root_key, passphrase), password=None)
        if not isinstance(root_key, ec.EllipticCurvePrivateKey):
            raise KeyMaterialError(f"{paths.root_key} is not an EC key")
        try:
            root = x509.load_pem_x509_certificate(paths.root_cert.read_bytes())
        except ValueError:
            raise KeyMaterialError(f"{paths.root_cert} is not a PEM certificate") from None
        organization = root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        org = str(organization[0].value) if organization else "SealFrame development"
        ee_key, ee = _issue_signer(root_key, root, org, valid_days)
        _keep_history(directory, [paths.signer_chain])
        pem = serialization.Encoding.PEM
        # New files beside the old, then renamed into place: a crash leaves one whole set.
        tmp_key, tmp_chain = directory / f".{SIGNER_KEY}.new", directory / f".{SIGNER_CHAIN}.new"
        _write_private(tmp_key, ee_key, passphrase)
        tmp_chain.write_bytes(ee.public_bytes(pem) + root.public_bytes(pem))
        os.replace(tmp_chain, paths.signer_chain)
        os.replace(tmp_key, paths.signer_key)
        return paths


def load_private_key(path: Path, passphrase: bytes | None) -> bytes:
    """Read a PEM private key (decrypting it if needed) and return it as unencrypted PKCS#8 PEM."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"signing key {path} not found (run `sealframe keys init` or set SEALFRAME_SIGNING_KEY)"
        ) from None
    except OSError as exc:
        raise KeyMaterialError(f"cannot read signing key {path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError:
        if passphrase:
            raise KeyMaterialError(f"signing key {path} is not encrypted but a passphrase was given") from None
        raise KeyMaterialError(
            f"signing key {path} is encrypted: set SEALFRAME_KEY_PASSPHRASE"
        ) from None
    except ValueError:
        if passphrase:
            raise KeyMaterialError(f"wrong passphrase for signing key {path}") from None
        raise KeyMaterialError(f"signing key {path} is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise KeyMaterialError(f"signing key {path} has an unsupported type {type(key).__name__}")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _alg_for(private_key_pem: bytes) -> Algorithm:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        return "es384"
    return "es256"


def load_credentials(
    key_path: Path, chain_path: Path, passphrase: bytes | None = None
) -> SigningCredentials:
    """PEM key + PEM chain from disk; the algorithm follows the key type."""
    key_pem = load_private_key(key_path, passphrase)
    try:
        chain = chain_path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(f"certificate chain {chain_path} not found") from None
    except OSError as exc:
        raise KeyMaterialError(f"cannot read certificate chain {chain_path}: {exc.strerror}") from None
    return SigningCredentials(alg=_alg_for(key_pem), chain_pem=chain, private_key_pem=key_pem)


def callback_for_key(private_key_pem: bytes) -> tuple[Algorithm, SignCallback]:
    """A signing callback over a local key: how an HSM/KMS hook looks, used by tests and examples.

    ES256 returns the DER signature cryptography produces; PS256 uses a PSS salt of 32 bytes,
    as c2pa-rs verifies.
    """
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    alg = _alg_for(private_key_pem)

    def sign(data: bytes) -> bytes:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            digest = hashes.SHA384() if alg == "es384" else hashes.SHA256()
            return key.sign(data, ec.ECDSA(digest))
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
        raise KeyMaterialError(f"unsupported key type {type(key).__name__}")

    return alg, sign
