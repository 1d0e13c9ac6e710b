"""C2PA sign / read / validate on c2pa-python, offline.

`sign_file` embeds a signed manifest store in an MP4 (atomically: the output holds a complete,
signed file or is untouched). `read_provenance` reports what any signer's manifest says; trust is
decided only by the configured PEM trust anchors. Neither ever reaches the network: remote
manifest and OCSP fetching are off, and time-stamping is used only when a TSA URL is configured.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import c2pa

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
    GENERATION_LABEL,
    SOFT_BINDING_LABEL,
    ManifestSpec,
    manifest_definition,
)
from safety.provenance.report import ProvenanceReport, ProvenanceState, SoftBinding
from safety.settings import Settings

__all__ = [
    "SignedAsset",
    "c2pa_context",
    "credentials_from_settings",
    "read_provenance",
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


@dataclass(frozen=True)
class SignedAsset:
    path: Path
    manifest_store: bytes
    """The signed JUMBF manifest store (`application/c2pa`), kept for manifest look-up."""


@lru_cache(maxsize=8)
def c2pa_context(trust_anchors_pem: bytes | None) -> c2pa.Context:
    """An offline c2pa Context; with anchors, chains ending at them read as `Trusted`."""
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
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


def trust_anchors_from_settings(settings: Settings) -> bytes | None:
    """The configured PEM bundle; unset, the dev root under the key folder (if there is one)."""
    path = settings.trust_anchors or (settings.keys_dir / ROOT_CERT)
    if settings.trust_anchors is None and not path.exists():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyMaterialError(f"cannot read trust anchors {path}: {exc.strerror}") from None


def _signer(creds: SigningCredentials, tsa_url: str | None) -> c2pa.Signer:
    alg = _ALG[creds.alg]
    try:
        if creds.callback is not None:
            return c2pa.Signer.from_callback(creds.callback, alg, creds.chain_pem.decode("ascii"), tsa_url)
        info = c2pa.C2paSignerInfo(alg, creds.chain_pem, creds.private_key_pem, tsa_url)
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
) -> SignedAsset:
    """Embed a signed manifest built from `spec` into a copy of `src` at `dst`."""
    src_p, dst_p = Path(src), Path(dst)
    info = probe(src_p, limits)
    mime = _mime_for(src_p, info.container)
    if mime is None:
        raise MediaError(f"{src_p}: C2PA signing supports MP4, MOV and AVI, not {info.container!r}")
    if not dst_p.parent.is_dir():
        raise MediaError(f"{dst_p}: output folder {dst_p.parent} does not exist")
    definition = manifest_definition(spec)
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
            store = builder.sign(signer, mime, source, dest)
        os.replace(tmp, dst_p)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed: {_one_line(exc)}") from None
    except OSError as exc:
        raise MediaError(f"{dst_p}: cannot write signed file ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return SignedAsset(path=dst_p, manifest_store=bytes(store))


def _codes(results: dict[str, Any] | None) -> tuple[str, ...]:
    if not results:
        return ()
    codes: list[str] = []
    active = results.get("activeManifest") or {}
    for kind in ("failure", "informational"):
        codes.extend(str(item.get("code")) for item in active.get(kind) or [])
    for delta in results.get("ingredientDeltas") or []:
        for item in (delta.get("validationDeltas") or {}).get("failure") or []:
            codes.append(f"ingredient:{item.get('code')}")
    return tuple(dict.fromkeys(codes))


def _report_from_manifest(state: ProvenanceState, manifest: dict[str, Any], codes: tuple[str, ...]) -> ProvenanceReport:
    assertions = manifest.get("assertions") or []
    actions: list[dict[str, Any]] = []
    soft: list[SoftBinding] = []
    generation: dict[str, Any] | None = None
    for a in assertions:
        label, data = str(a.get("label", "")), a.get("data") or {}
        if label in ("c2pa.actions", "c2pa.actions.v2"):
            actions.extend(x for x in data.get("actions") or [] if isinstance(x, dict))
        elif label == SOFT_BINDING_LABEL:
            for block in data.get("blocks") or []:
                soft.append(SoftBinding(alg=str(data.get("alg", "")), value=str(block.get("value", ""))))
        elif label == GENERATION_LABEL and isinstance(data, dict):
            generation = data
    source = next((str(x["digitalSourceType"]) for x in actions if x.get("digitalSourceType")), None)
    gen_info = (manifest.get("claim_generator_info") or [{}])[0]
    claim_generator = manifest.get("claim_generator") or " ".join(
        str(gen_info.get(k)) for k in ("name", "version") if gen_info.get(k)
    )
    sig = manifest.get("signature_info") or {}
    return ProvenanceReport(
        state=state,
        manifest_id=manifest.get("label"),
        issuer=sig.get("issuer"),
        signer=sig.get("common_name"),
        claim_generator=claim_generator or None,
        actions=tuple(actions),
        digital_source_type=source,
        assertions=tuple(str(a.get("label")) for a in assertions),
        soft_bindings=tuple(soft),
        generation=generation,
        validation_codes=codes,
    )


_STATES: dict[str, ProvenanceState] = {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}


def read_provenance(
    path: str | Path,
    trust_anchors_pem: bytes | None = None,
    *,
    limits: MediaLimits | None = None,
) -> ProvenanceReport:
    """Read and validate the manifest of any signer. Errors only on a file that is not a video."""
    p = Path(path)
    info = probe(p, limits)
    mime = _mime_for(p, info.container)
    if mime is None:
        # No C2PA embedding is defined for this container: nothing can be attached to it.
        return ProvenanceReport(state="absent", validation_codes=("sealframe.containerUnsupported",))
    try:
        with p.open("rb") as fh:
            reader = c2pa.Reader.try_create(mime, fh, None, c2pa_context(trust_anchors_pem))
            if reader is None:
                return ProvenanceReport(state="absent")
            with reader:
                raw_state = reader.get_validation_state()
                manifest = reader.get_active_manifest() or json.loads(reader.json()).get("manifests", {})
                codes = _codes(reader.get_validation_results())
    except (c2pa.C2paError, KeyError, ValueError) as exc:
        # c2pa-python raises KeyError ("Active manifest not found in manifest store") for a store
        # whose active manifest is damaged, and json a ValueError: unreadable, like a C2paError.
        if isinstance(exc, c2pa.C2paError.RemoteManifest) or str(exc).startswith("Remote:"):
            # The file points at a manifest elsewhere (c2pa 0.38 raises a plain C2paError "Remote: …");
            # reading stays offline, so nothing is attached to this file.
            return ProvenanceReport(state="absent", validation_codes=("sealframe.remoteManifestNotFetched",))
        # A manifest is there but cannot be parsed or verified: that is a finding, not an error.
        return ProvenanceReport(state="invalid", validation_codes=(f"sealframe.unreadable: {_one_line(exc)}",))
    state = _STATES.get(str(raw_state), "invalid")
    return _report_from_manifest(state, manifest if isinstance(manifest, dict) else {}, codes)
