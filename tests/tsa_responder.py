"""A small RFC 3161 time-stamp authority for tests, served over HTTP on 127.0.0.1.

Built on `cryptography` (keys, certificates, ECDSA) and `asn1crypto` (TimeStampReq/Resp, CMS).
It answers `application/timestamp-query` POSTs with a granted TimeStampResp whose token is a CMS
SignedData over a TSTInfo that echoes the request's message imprint and nonce, signed by a TSA
certificate (critical EKU timeStamping) issued by its own root. `clock` sets the time it stamps.
"""

from __future__ import annotations

import datetime
import hashlib
import http.server
import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Clock = Callable[[], datetime.datetime]


@dataclass
class Tsa:
    url: str
    root_pem: bytes
    requests: list[bytes]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SealFrame test TSA")])


def _tsa_certificates() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, x509.Certificate]:
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder().subject_name(_name("test TSA root")).issuer_name(_name("test TSA root"))
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(_name("test TSA")).issuer_name(root.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return key, cert, root


def time_stamp_response(request_der: bytes, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
                        serial: int, when: datetime.datetime) -> bytes:
    """A granted TimeStampResp for one DER TimeStampReq."""
    req = tsp.TimeStampReq.load(request_der)
    info = {
        "version": "v1",
        "policy": "1.3.6.1.4.1.99999.1",
        "message_imprint": req["message_imprint"],
        "serial_number": serial,
        "gen_time": when.astimezone(datetime.UTC).replace(microsecond=0),
        "accuracy": {"seconds": 1},
    }
    if req["nonce"].native is not None:
        info["nonce"] = req["nonce"]
    tst_der = tsp.TSTInfo(info).dump()
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    asn_cert = asn1_x509.Certificate.load(cert_der)
    signed_attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": when.astimezone(datetime.UTC)})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}),
        cms.CMSAttribute({"type": "signing_certificate_v2", "values": [tsp.SigningCertificateV2({"certs": [
            {"hash_algorithm": {"algorithm": "sha256"}, "cert_hash": hashlib.sha256(cert_der).digest()}]})]}),
    ])
    signature = key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": asn_cert.issuer, "serial_number": asn_cert.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": signature,
    })
    signed_data = cms.SignedData({
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_der)},
        "certificates": [asn_cert],
        "signer_infos": [signer_info],
    })
    return tsp.TimeStampResp({
        "status": {"status": "granted"},
        "time_stamp_token": cms.ContentInfo({"content_type": "signed_data", "content": signed_data}),
    }).dump()


@contextmanager
def running_tsa(clock: Clock | None = None) -> Iterator[Tsa]:
    """Serve a TSA on 127.0.0.1 for the duration of the block."""
    key, cert, root = _tsa_certificates()
    serials = itertools.count(1)
    requests: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            requests.append(body)
            when = clock() if clock else datetime.datetime.now(datetime.UTC)
            try:
                reply = time_stamp_response(body, key, cert, next(serials), when)
            except Exception:  # a malformed query gets a 400, as a real TSA would answer
                self.send_response(400)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Tsa(url=f"http://127.0.0.1:{server.server_address[1]}/tsa",
                  root_pem=root.public_bytes(serialization.Encoding.PEM), requests=requests)
    finally:
        server.shutdown()
        server.server_close()
