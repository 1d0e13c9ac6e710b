"""Typed results of the provenance stage."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

ProvenanceState = Literal["absent", "invalid", "valid", "trusted"]


class SoftBinding(BaseModel):
    """A `c2pa.soft-binding` assertion: the algorithm and its value (base64, as in the manifest)."""

    model_config = ConfigDict(frozen=True)

    alg: str
    value: str


class ProvenanceReport(BaseModel):
    """What the C2PA manifest of a file says, and how far it can be believed.

    `state`: `absent` (no manifest), `invalid` (a manifest whose signature or hashes fail),
    `valid` (intact and signed, but the signer does not chain to a configured trust anchor),
    `trusted` (intact and chained to a configured trust anchor).
    """

    model_config = ConfigDict(frozen=True)

    state: ProvenanceState
    manifest_id: str | None = None
    issuer: str | None = None
    signer: str | None = None
    claim_generator: str | None = None
    actions: tuple[dict[str, Any], ...] = ()
    digital_source_type: str | None = None
    assertions: tuple[str, ...] = ()
    soft_bindings: tuple[SoftBinding, ...] = ()
    generation: dict[str, Any] | None = None
    validation_codes: tuple[str, ...] = ()
