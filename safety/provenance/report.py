"""Typed results of the provenance stage, and the table that maps C2PA validation codes to them.

`ProvenanceReport.state` says how far a file's C2PA manifest can be believed:

| state | meaning |
|---|---|
| `absent` | no manifest embedded (a remote manifest reference is reported in `remote_manifest_url`) |
| `unreadable` | a manifest is there but cannot be parsed or checked; `reason` says why |
| `tampered` | a hash or signature does not match: the file or its manifest changed after signing |
| `credential_problem` | hashes and signature match, but the credential fails: expired without a |
|   | valid time-stamp, revoked, invalid, or an unsupported algorithm |
| `valid` | intact and signed by a sound credential that does not chain to a trust anchor you chose |
| `trusted` | intact and signed by a credential that chains to a configured trust anchor |

`outcome_for_codes` decides between the last five from the validation failure codes of the
active manifest, using `CODE_OUTCOMES` (the same table is in docs/provenance.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ProvenanceState = Literal["absent", "unreadable", "tampered", "credential_problem", "valid", "trusted"]
Outcome = Literal["unreadable", "tampered", "credential_problem", "valid"]
DisclosureKind = Literal["created", "composite", "edited"]

# Each C2PA validation *failure* code and the outcome it leads to (C2PA 2.2, plus the codes c2pa-rs
# emits). Success and informational codes never lower the outcome. The most severe code wins:
# tampered > unreadable > credential_problem > valid. A failure code missing here reads as
# `unreadable` (the manifest could not be checked as a whole), never as tampered.
_TAMPERED = (
    "assertion.hashedURI.mismatch", "assertion.dataHash.mismatch", "assertion.bmffHash.mismatch",
    "assertion.boxesHash.mismatch", "assertion.collectionHash.mismatch", "claimSignature.mismatch",
    "ingredient.manifest.mismatch", "ingredient.claimSignature.mismatch", "ingredient.hashedURI.mismatch",
    "hashedURI.mismatch",
)
_CREDENTIAL = (
    "signingCredential.expired", "signingCredential.revoked", "signingCredential.ocsp.revoked",
    "signingCredential.invalid", "signingCredential.ocsp.unknown", "algorithm.unsupported",
    "claimSignature.outsideValidity", "timeStamp.mismatch", "timeStamp.malformed",
    "timeStamp.outsideValidity", "timeStamp.untrusted",
)
_UNREADABLE = (
    "claim.malformed", "claim.missing", "claim.multiple", "claim.hardBindings.missing",
    "claim.required.missing", "claim.cbor.invalid", "claimSignature.missing", "manifest.inaccessible",
    "manifest.multipleParents", "manifest.update.invalid", "manifest.update.wrongParents",
    "manifest.timestamp.invalid", "manifest.timestamp.wrongParents", "manifest.compressed.invalid",
    "assertion.missing", "assertion.undeclared", "assertion.inaccessible", "assertion.notRedacted",
    "assertion.selfRedacted", "assertion.required.missing", "assertion.json.invalid",
    "assertion.cbor.invalid", "assertion.multipleHardBindings", "assertion.outsideManifest",
    "assertion.action.ingredientMismatch", "assertion.action.malformed", "assertion.action.redacted",
    "assertion.action.redactionMismatch", "assertion.dataHash.malformed", "assertion.dataHash.redacted",
    "assertion.bmffHash.malformed", "assertion.boxesHash.malformed", "assertion.boxesHash.unknownBox",
    "assertion.cloud-data.hardBinding", "assertion.cloud-data.actions", "assertion.cloud-data.malformed",
    "assertion.collectionHash.invalidURI", "assertion.collectionHash.malformed",
    "assertion.ingredient.malformed", "assertion.metadata.disallowed", "assertion.timestamp.malformed",
    "ingredient.manifest.missing", "ingredient.claimSignature.missing", "hashedURI.missing",
    "general.error",
)
CODE_OUTCOMES: dict[str, Outcome] = {
    **dict.fromkeys(_TAMPERED, "tampered"),
    **dict.fromkeys(_CREDENTIAL, "credential_problem"),
    **dict.fromkeys(_UNREADABLE, "unreadable"),
    # Sound credential, chain not ending at an anchor you configured: intact, but not trusted.
    "signingCredential.untrusted": "valid",
}
_SEVERITY: dict[Outcome, int] = {"valid": 0, "credential_problem": 1, "unreadable": 2, "tampered": 3}


def outcome_for_codes(failures: Iterable[str]) -> Outcome | None:
    """The most severe outcome among the failure codes, or None when there is no failure."""
    worst: Outcome | None = None
    for code in failures:
        outcome = CODE_OUTCOMES.get(code, "unreadable")
        if worst is None or _SEVERITY[outcome] > _SEVERITY[worst]:
            worst = outcome
    return worst


class SoftBinding(BaseModel):
    """A `c2pa.soft-binding` assertion: the algorithm and its value (base64 of the value bytes)."""

    model_config = ConfigDict(frozen=True)

    alg: str
    value: str


class AIDisclosure(BaseModel):
    """One declaration of generative AI somewhere in the provenance graph.

    `how`: `created` (the asset was made by a model), `composite` (AI material was combined with
    other material), `edited` (an AI-backed edit of an existing asset). `via` says where in the
    graph the declaring manifest sits: `active manifest`, or the chain of ingredients leading to it.
    """

    model_config = ConfigDict(frozen=True)

    manifest_id: str | None
    signer: str | None
    action: str
    digital_source_type: str
    how: DisclosureKind
    via: str


class ProvenanceReport(BaseModel):
    """What the C2PA manifest of a file says, and how far it can be believed (see the module doc)."""

    model_config = ConfigDict(frozen=True)

    state: ProvenanceState
    reason: str | None = None
    """Why the state is what it is, in one line: the parser's message for `unreadable`, the deciding
    validation codes otherwise."""
    manifest_id: str | None = None
    issuer: str | None = None
    signer: str | None = None
    claim_generator: str | None = None
    actions: tuple[dict[str, Any], ...] = ()
    digital_source_type: str | None = None
    assertions: tuple[str, ...] = ()
    soft_bindings: tuple[SoftBinding, ...] = ()
    generation: dict[str, Any] | None = None
    ai_disclosures: tuple[AIDisclosure, ...] = ()
    """Every AI declaration in the active manifest and, recursively, its ingredients' manifests."""
    remote_manifest_url: str | None = None
    """A manifest referenced by URL (XMP `dcterms:provenance`); never fetched."""
    validation_codes: tuple[str, ...] = ()
