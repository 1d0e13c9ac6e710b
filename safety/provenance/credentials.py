"""C2PA sign / read / validate on c2pa-python, offline.

`sign_file` embeds a signed manifest store in an MP4 (atomically: the output holds a complete,
signed file or is untouched). `read_provenance` reports what any signer's manifest says; trust is
decided only by the configured PEM trust anchors. Neither ever reaches the network: remote
manifest and OCSP fetching are off, and time-stamping is used only when a TSA URL is configured.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from policies import MediaLimits
from safety.errors import KeyMaterialError, MediaError, ProvenanceError
from safety.media import probe
from safety.provenance.keys import (
    ROOT_CERT,
    SIGNER_CHAIN,
    SIGNER_KEY,
    SigningCredentials,
    init_dev_keys,
    load_credentials,
)
from safety.provenance.manifest import (
    AI_SOURCE_TYPES,
    GENERATION_LABELS,
    PARENT_INGREDIENT,
    SOFT_BINDING_LABEL,
    ManifestSpec,
    manifest_definition,
)
from safety.provenance.report import (
    CODE_OUTCOMES,
    AIDisclosure,
    DisclosureKind,
    ProvenanceReport,
    ProvenanceState,
    SoftBinding,
    outcome_for_codes,
)
from safety.settings import Settings

__all__ = [
    "SignedAsset",
    "active_manifest_only",
    "ai_disclosures",
    "c2pa_context",
    "credentials_from_settings",
    "read_provenance",
    "read_provenance_stream",
    "sign_file",
    "trust_anchors_from_settings",
]

_ALG = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}
# Keep signing from holding extra copies of a large file in RAM: above this, c2pa spills to disk.
# Measured (benchmarks/provenance.py): 16 MB → a 15 MB clip adds 2.2× its size; 1 MB → 1.3×.
_BACKING_STORE_MB = 1
ExistingPolicy = Literal["ingredient", "refuse"]
TRUST_LISTS = Path(__file__).parent / "trust_lists"
"""Dated snapshots of the official C2PA trust lists, one folder each (see its SOURCE.md)."""


@dataclass(frozen=True)
class SignedAsset:
    path: Path
    manifest_store: bytes
    """The signed JUMBF manifest store (`application/c2pa`), kept for manifest look-up."""


@lru_cache(maxsize=8)
def c2pa_context(trust_anchors_pem: bytes | None, fetch_remote: bool = False) -> c2pa.Context:
    """An offline c2pa Context (unless `fetch_remote`); with anchors, chains ending at them read `Trusted`."""
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": fetch_remote, "ocsp_fetch": False},
        "core": {"backing_store_memory_threshold_in_mb": _BACKING_STORE_MB},
        "builder": {"thumbnail": {"enabled": False}},
    }
    if trust_anchors_pem and trust_anchors_pem.strip():
        settings["trust"] = {"user_anchors": trust_anchors_pem.decode("ascii", "replace")}
    try:
        return c2pa.Context(settings=c2pa.Settings.from_dict(settings))
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"cannot configure C2PA trust anchors: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def credentials_from_settings(settings: Settings) -> SigningCredentials:
    """Production PEM key + chain when configured, else the dev keys (created on first use)."""
    passphrase = settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None
    if settings.signing_key or settings.signing_chain:
        if not (settings.signing_key and settings.signing_chain):
            raise KeyMaterialError("set both SEALFRAME_SIGNING_KEY and SEALFRAME_SIGNING_CHAIN")
        return load_credentials(settings.signing_key, settings.signing_chain, passphrase)
    keys = settings.keys_dir
    if not (keys / SIGNER_KEY).exists():
        init_dev_keys(keys, passphrase=passphrase)
    return load_credentials(keys / SIGNER_KEY, keys / SIGNER_CHAIN, passphrase)


def _pem_bundle(path: Path, what: str) -> bytes:
    """A PEM certificate bundle, checked: an empty or unparsable bundle is an error, never "no anchors"."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise KeyMaterialError(f"{what} {path} holds no readable PEM certificate") from None
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def trust_anchors_from_settings(settings: Settings) -> bytes | None:
    """The configured PEM bundle plus TSA anchors; unset, the dev root under the key folder (if any).

    A configured bundle that is empty or unparsable raises `KeyMaterialError`.
    """
    bundle = b""
    if settings.trust_anchors is not None:
        bundle = _pem_bundle(settings.trust_anchors, "trust anchors")
    elif (settings.keys_dir / ROOT_CERT).exists():
        bundle = _pem_bundle(settings.keys_dir / ROOT_CERT, "trust anchors")
    if settings.tsa_trust_anchors is not None:
        bundle += _pem_bundle(settings.tsa_trust_anchors, "time-stamp authority anchors")
    if settings.trust_list != "none":
        folder = TRUST_LISTS / settings.trust_list
        bundle += _pem_bundle(folder / "C2PA-TRUST-LIST.pem", "C2PA trust list")
        bundle += _pem_bundle(folder / "C2PA-TSA-TRUST-LIST.pem", "C2PA TSA trust list")
    return bundle or None


def x5chain_pem(chain_pem: bytes) -> bytes:
    """The chain to embed: end-entity and intermediates, without a self-signed root (C2PA 2.2 §14.5)."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise KeyMaterialError("signing certificate chain is not a PEM certificate list") from None
    kept = [c for i, c in enumerate(certs) if i == 0 or c.subject != c.issuer]
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in kept)


def _signer(creds: SigningCredentials, tsa_url: str | None) -> c2pa.Signer:
    alg = _ALG[creds.alg]
    chain = x5chain_pem(creds.chain_pem)
    try:
        if creds.callback is not None:
            return c2pa.Signer.from_callback(creds.callback, alg, chain.decode("ascii"), tsa_url)
        info = c2pa.C2paSignerInfo(alg, chain, creds.private_key_pem, tsa_url)
        return c2pa.Signer.from_info(info)
    except (c2pa.C2paError, ValueError) as exc:
        raise KeyMaterialError(f"signing credentials rejected: {_one_line(exc)}") from None


def _mime_for(path: Path, container: str) -> str | None:
    names = set(container.split(","))
    if "avi" in names:
        return "video/x-msvideo"
    if names & {"mov", "mp4"}:
        return "video/quicktime" if path.suffix.lower() == ".mov" else "video/mp4"
    return None


def sign_file(
    src: str | Path,
    dst: str | Path,
    spec: ManifestSpec,
    creds: SigningCredentials,
    *,
    tsa_url: str | None = None,
    limits: MediaLimits | None = None,
    existing: ExistingPolicy = "ingredient",
) -> SignedAsset:
    """Embed a signed manifest built from `spec` into a copy of `src` at `dst`.

    A `src` that already carries a manifest keeps it: the manifest becomes our `parentOf`
    ingredient and our actions start with `c2pa.opened` (`existing="refuse"` raises instead).
    """
    src_p, dst_p = Path(src), Path(dst)
    info = probe(src_p, limits)
    mime = _mime_for(src_p, info.container)
    if mime is None:
        raise MediaError(f"{src_p}: C2PA signing supports MP4, MOV and AVI, not {info.container!r}")
    if not dst_p.parent.is_dir():
        raise MediaError(f"{dst_p}: output folder {dst_p.parent} does not exist")
    if spec.duration_ms is None and info.seconds > 0:
        spec = dataclasses.replace(spec, duration_ms=round(info.seconds * 1000))
    parent = _existing_manifest(src_p, mime)
    if parent is not None and existing == "refuse":
        raise ProvenanceError(f"{src_p.name} already carries C2PA credentials ({parent}); refusing to sign it again")
    definition = manifest_definition(spec, has_parent=parent is not None)
    fd, tmp_name = tempfile.mkstemp(prefix=".sealframe-", suffix=dst_p.suffix or ".mp4", dir=dst_p.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with (
            _signer(creds, tsa_url) as signer,
            c2pa.Builder.from_json(definition, context=c2pa_context(None)) as builder,
            src_p.open("rb") as source,
            tmp.open("w+b") as dest,
        ):
            if parent is not None:
                builder.add_ingredient({"title": src_p.name, "relationship": "parentOf", "label": PARENT_INGREDIENT},
                                       mime, source)
                source.seek(0)
            store = builder.sign(signer, mime, source, dest)
        os.replace(tmp, dst_p)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed: {_one_line(exc)}") from None
    except OSError as exc:
        raise MediaError(f"{dst_p}: cannot write signed file ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return SignedAsset(path=dst_p, manifest_store=bytes(store))


def _existing_manifest(path: Path, mime: str) -> str | None:
    """The active manifest label of a file that already has credentials, else None."""
    try:
        with path.open("rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, c2pa_context(None))
            if reader is None:
                return None
            with reader:
                label = json.loads(reader.json()).get("active_manifest")
                return str(label or "a manifest")
    except c2pa.C2paError as exc:
        # Unreadable C2PA data, a remote manifest reference, or a container the parser rejects:
        # signing could only throw away (or fail on) what is there.
        raise ProvenanceError(
            f"{path.name}: the C2PA parser cannot read this file ({_one_line(exc)}); not signing it"
        ) from None


def _soft_binding_alg(item: dict[str, Any]) -> bool:
    return item.get("code") == "algorithm.unsupported" and SOFT_BINDING_LABEL in str(item.get("url", ""))


def _codes(results: dict[str, Any] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(all failure and informational codes, the active manifest's deciding failure codes).

    `algorithm.unsupported` on a `c2pa.soft-binding` assertion (an algorithm missing from the C2PA
    soft-binding list, which newer c2pa-rs reports) says nothing about the signature or the signing
    credential: it is kept in the codes as `softBinding:algorithm.unsupported` but does not decide.
    """
    if not results:
        return (), ()
    codes: list[str] = []
    active = results.get("activeManifest") or {}
    failures = tuple(str(item.get("code")) for item in active.get("failure") or [] if not _soft_binding_alg(item))
    codes.extend("softBinding:algorithm.unsupported" for item in active.get("failure") or [] if _soft_binding_alg(item))
    for kind in ("failure", "informational"):
        codes.extend(str(item.get("code")) for item in active.get(kind) or [])
    for delta in results.get("ingredientDeltas") or []:
        for item in (delta.get("validationDeltas") or {}).get("failure") or []:
            codes.append(f"ingredient:{item.get('code')}")
    return tuple(dict.fromkeys(codes)), failures


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    for a in manifest.get("assertions") or []:
        if str(a.get("label", "")).split("__")[0] in ("c2pa.actions", "c2pa.actions.v2"):
            data = a.get("data") or {}
            actions.extend(x for x in data.get("actions") or [] if isinstance(x, dict))
    return actions


def _disclosure_kind(action: str, source_type: str) -> DisclosureKind:
    if "composite" in source_type.rsplit("/", 1)[-1].lower():
        return "composite"
    return "created" if action == "c2pa.created" else "edited"


def ai_disclosures(store: dict[str, Any]) -> tuple[AIDisclosure, ...]:
    """Every action declaring generative AI in the active manifest and its ingredients, recursively.

    `store` is the reader's JSON (`manifests` by label, `active_manifest`). Each manifest is visited
    once, however many ingredients point at it.
    """
    manifests: dict[str, Any] = store.get("manifests") or {}
    found: list[AIDisclosure] = []
    seen: set[str] = set()

    def visit(label: str | None, via: str) -> None:
        if label is None or label in seen or not isinstance(manifests.get(label), dict):
            return
        seen.add(label)
        manifest = manifests[label]
        signer = (manifest.get("signature_info") or {}).get("issuer")
        for act in _actions(manifest):
            source = str(act.get("digitalSourceType") or "")
            if source in AI_SOURCE_TYPES:
                action = str(act.get("action", ""))
                found.append(AIDisclosure(manifest_id=label, signer=signer, action=action, digital_source_type=source,
                                          how=_disclosure_kind(action, source), via=via))
        for ing in manifest.get("ingredients") or []:
            if isinstance(ing, dict):
                name = f"ingredient {ing.get('title') or '?'!r} ({ing.get('relationship') or 'componentOf'})"
                visit(ing.get("active_manifest"), name if via == "active manifest" else f"{via} > {name}")

    visit(store.get("active_manifest"), "active manifest")
    return tuple(found)


def _report_from_manifest(
    state: ProvenanceState, store: dict[str, Any], codes: tuple[str, ...], reason: str | None
) -> ProvenanceReport:
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest") or "") or {}
    assertions = manifest.get("assertions") or []
    actions = _actions(manifest)
    soft: list[SoftBinding] = []
    generation: dict[str, Any] | None = None
    for a in assertions:
        label, data = str(a.get("label", "")), a.get("data") or {}
        if label == SOFT_BINDING_LABEL:
            for block in data.get("blocks") or []:
                soft.append(SoftBinding(alg=str(data.get("alg", "")), value=_b64(block.get("value"))))
        elif label in GENERATION_LABELS and isinstance(data, dict):
            generation = data
    source = next((str(x["digitalSourceType"]) for x in actions if x.get("digitalSourceType")), None)
    gen_info = (manifest.get("claim_generator_info") or [{}])[0]
    claim_generator = manifest.get("claim_generator") or " ".join(
        str(gen_info.get(k)) for k in ("name", "version") if gen_info.get(k)
    )
    sig = manifest.get("signature_info") or {}
    return ProvenanceReport(
        state=state,
        reason=reason,
        manifest_id=manifest.get("label") or store.get("active_manifest"),
        issuer=sig.get("issuer"),
        signer=sig.get("common_name"),
        claim_generator=claim_generator or None,
        actions=tuple(actions),
        digital_source_type=source,
        assertions=tuple(str(a.get("label")) for a in assertions),
        soft_bindings=tuple(soft),
        generation=generation,
        ai_disclosures=ai_disclosures(store),
        validation_codes=codes,
    )


def _b64(value: Any) -> str:
    """The soft-binding value as base64: the reader gives bytes as base64 text, older ones as text."""
    if isinstance(value, list) and all(isinstance(x, int) and 0 <= x < 256 for x in value):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value or "")


_REMOTE = re.compile(r"(https?://\S+)")


def read_provenance(
    path: str | Path,
    trust_anchors_pem: bytes | None = None,
    *,
    limits: MediaLimits | None = None,
    remote_hosts: tuple[str, ...] = (),
) -> ProvenanceReport:
    """Read and validate the manifest of any signer. Errors only on a file that is not a video.

    A manifest referenced by URL is fetched only when the URL's host (or host:port) is in
    `remote_hosts`; otherwise it is reported, not fetched.
    """
    p = Path(path)
    try:
        info = probe(p, limits)
    except MediaError:
        # Not a video PyAV can open, yet an ISO BMFF file with a complete C2PA box: a signed MP4 cut
        # short in transit, or a fragment's init segment. Its manifest still says what the whole
        # file was; bytes that are missing fail its hash.
        found, truncated = _bmff_manifest_box(p)
        if not found:
            raise
        report = read_provenance_stream(p, "video/mp4", trust_anchors_pem, remote_hosts)
        if truncated and report.state == "unreadable":
            return report.model_copy(update={
                "state": "tampered", "reason": f"file truncated after signing ({report.reason})",
                "validation_codes": (*report.validation_codes, "sealframe.truncated")})
        return report
    mime = _mime_for(p, info.container)
    if mime is None:
        # No C2PA embedding is defined for this container: nothing can be attached to it.
        return ProvenanceReport(state="absent", validation_codes=("sealframe.containerUnsupported",))
    return read_provenance_stream(p, mime, trust_anchors_pem, remote_hosts)


_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


def _bmff_manifest_box(path: Path) -> tuple[bool, bool]:
    """(holds a complete top-level C2PA box, its top-level boxes run past the end) for ISO BMFF files."""
    try:
        return _scan_top_level_boxes(path)
    except OSError:
        return False, False


def _scan_top_level_boxes(path: Path) -> tuple[bool, bool]:
    size = path.stat().st_size
    at, manifest = 0, False
    with path.open("rb") as fh:
        for _ in range(4096):  # top-level boxes only; a real file has a handful
            fh.seek(at)
            header = fh.read(24)
            if len(header) < 8:
                return manifest, at < size
            box_size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if box_size == 1 and len(header) >= 16:
                box_size = int.from_bytes(header[8:16], "big")
            if (at == 0 and kind != b"ftyp") or box_size < 8:
                return False, False
            if at + box_size > size:
                return manifest, True
            if kind == b"uuid" and header[8:24] == _C2PA_UUID:
                manifest = True
            at += box_size
            if at == size:
                return manifest, False
    return manifest, False


def _allowed(url: str | None, hosts: tuple[str, ...]) -> bool:
    if url is None or not hosts:
        return False
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("https", "http") and (parts.netloc in hosts or (parts.hostname or "") in hosts)


def read_provenance_stream(
    p: Path, mime: str, trust_anchors_pem: bytes | None, remote_hosts: tuple[str, ...] = (), *, fetch: bool = False
) -> ProvenanceReport:
    """`read_provenance` without the container probe: for files PyAV cannot open (truncated ones)."""
    try:
        with p.open("rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, c2pa_context(trust_anchors_pem, fetch))
            if reader is None:
                return ProvenanceReport(state="absent")
            with reader:
                raw_state = str(reader.get_validation_state())
                store = json.loads(reader.json())
                codes, failures = _codes(reader.get_validation_results())
    except (c2pa.C2paError, KeyError, ValueError) as exc:
        # c2pa-python raises KeyError ("Active manifest not found in manifest store") for a store
        # whose active manifest is damaged, and json a ValueError: unreadable, like a C2paError.
        message = _one_line(exc)
        if isinstance(exc, c2pa.C2paError.RemoteManifest) or message.startswith("Remote:"):
            # The file points at a manifest elsewhere (XMP dcterms:provenance); reading stays offline
            # unless its host is allowed.
            url = _REMOTE.search(message)
            if not fetch and url and _allowed(url.group(1), remote_hosts):
                fetched = read_provenance_stream(p, mime, trust_anchors_pem, remote_hosts, fetch=True)
                return fetched.model_copy(update={
                    "remote_manifest_url": url.group(1),
                    "validation_codes": (*fetched.validation_codes, "sealframe.remoteManifestFetched")})
            return ProvenanceReport(
                state="absent", remote_manifest_url=url.group(1) if url else None,
                reason=f"remote manifest referenced at {url.group(1) if url else 'an unknown URL'}, not fetched",
                validation_codes=("sealframe.remoteManifestNotFetched",))
        # A manifest is there but cannot be parsed: that is a finding, not an error.
        return ProvenanceReport(state="unreadable", reason=message, validation_codes=("sealframe.unreadable",))
    outcome = outcome_for_codes(failures)
    state: ProvenanceState
    if outcome is None:
        state = "trusted" if raw_state == "Trusted" else "valid"
    else:
        state = outcome
    deciding = [c for c in failures if CODE_OUTCOMES.get(c, "unreadable") == outcome]
    reason = ", ".join(deciding) if deciding else None
    return _report_from_manifest(state, store, codes, reason)


def active_manifest_only(store: bytes) -> bytes:
    """The manifest store cut down to its active (last) manifest: `returnActiveManifest` of the API.

    A JUMBF store is one `jumb` superbox: its `jumd` description and one `jumb` per manifest, the
    active manifest last. Raises `ProvenanceError` on bytes that are not such a store.
    """

    def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
        out, at = [], 0
        while at < len(data):
            if at + 8 > len(data):
                raise ProvenanceError("manifest store is truncated")
            size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
            if size < 8 or at + size > len(data):
                raise ProvenanceError("manifest store has a box of impossible size")
            out.append((kind, data[at:at + size]))
            at += size
        return out

    top = boxes(store)
    if len(top) != 1 or top[0][0] != b"jumb":
        raise ProvenanceError("not a C2PA manifest store")
    children = boxes(top[0][1][8:])
    manifests = [box for kind, box in children if kind == b"jumb"]
    if not children or children[0][0] != b"jumd" or not manifests:
        raise ProvenanceError("not a C2PA manifest store")
    body = children[0][1] + manifests[-1]
    return (len(body) + 8).to_bytes(4, "big") + b"jumb" + body
