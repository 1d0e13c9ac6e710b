"""The manifest definition we sign: what a generated video says about itself (C2PA 2.2).

Every assertion we write is a *created* assertion (attributed to the signer), not a gathered one:

- `c2pa.actions.v2`: for a new asset, `c2pa.created` with the IPTC digital source type for
  generative AI and the generator as software agent. For an asset that already carries a manifest,
  `c2pa.opened` of that manifest (kept as the `parentOf` ingredient) and our own action; never
  `c2pa.created`, so the asset's history stays with it.
- `io.sealframe.generation` (reverse-domain label; `sealframe.generation` is still read): why the
  video was allowed (keyed prompt digest, policy fingerprint, moderation decision, model and weights).
- `c2pa.soft-binding`: our watermark algorithm, its payload as `value` with the block's `scope`
  (the timespan it covers) and a `pad`, so a stripped copy can be matched back to this manifest.

Limit: c2pa-python builds assertions from JSON, which has no byte string, so `value` and `pad` are
written as CBOR arrays of integers (0-255); c2pa-rs and our reader accept both forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import safety

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
_IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_SOURCE_TYPES = frozenset({
    TRAINED_ALGORITHMIC_MEDIA,
    _IPTC + "compositeWithTrainedAlgorithmicMedia",
    _IPTC + "algorithmicMedia",
    _IPTC + "compositeSynthetic",
    # The short forms c2pa 2.x also allows.
    "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia", "compositeSynthetic",
})
WATERMARK_ALG = "io.sealframe.video-watermark.1"
GENERATION_LABEL = "io.sealframe.generation"
LEGACY_GENERATION_LABEL = "sealframe.generation"
GENERATION_LABELS = (GENERATION_LABEL, LEGACY_GENERATION_LABEL)
SOFT_BINDING_LABEL = "c2pa.soft-binding"
PARENT_INGREDIENT = "sealframe-parent"
"""The label our builder gives the ingredient of a file that was already signed."""


@dataclass(frozen=True)
class ManifestSpec:
    """Everything the signer needs to describe one asset."""

    title: str
    model_id: str = "unknown"
    weights_sha256: str | None = None
    prompt_sha256: str | None = None
    """Unsalted; only manifests sealed before the prompt key carry it (readers still accept them)."""
    prompt_hmac_sha256: str | None = None
    """HMAC-SHA256 of the prompt under the server's prompt key (safety.provenance.prompt_key)."""
    policy: str | None = None
    decision_id: str | None = None
    asset_id: str | None = None
    watermark_payload: bytes | None = None
    soft_binding_alg: str = WATERMARK_ALG
    duration_ms: int | None = None
    """Length of the asset, for the soft binding's scope; `sign_file` fills it from the file."""
    extra_assertions: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def soft_binding_assertion(alg: str, payload: bytes, duration_ms: int | None) -> dict[str, Any]:
    """`c2pa.soft-binding` for our watermark: one block over the whole timeline."""
    scope: dict[str, Any] = {}
    if duration_ms is not None:
        scope["timespan"] = {"start": 0, "end": int(duration_ms)}
    return {
        "label": SOFT_BINDING_LABEL,
        "created": True,
        "data": {"alg": alg, "blocks": [{"scope": scope, "value": list(payload)}], "pad": []},
    }


def manifest_definition(spec: ManifestSpec, *, has_parent: bool = False) -> dict[str, Any]:
    """The builder JSON for `spec`; `has_parent`: the asset's own manifest is ingredient PARENT_INGREDIENT."""
    agent: dict[str, Any] = {"name": spec.model_id}
    if spec.weights_sha256:
        agent["version"] = spec.weights_sha256[:12]
    generation = {
        "prompt_sha256": spec.prompt_sha256,
        "prompt_hmac_sha256": spec.prompt_hmac_sha256,
        "policy": spec.policy,
        "decision_id": spec.decision_id,
        "asset_id": spec.asset_id,
        "model_id": spec.model_id,
        "weights_sha256": spec.weights_sha256,
    }
    ours = {"name": "sealframe", "version": safety.__version__}
    if has_parent:
        actions: list[dict[str, Any]] = [
            {"action": "c2pa.opened", "softwareAgent": ours, "parameters": {"ingredientIds": [PARENT_INGREDIENT]}},
            {"action": "c2pa.edited.metadata", "softwareAgent": ours,
             "description": "SealFrame generation record added"},
        ]
        if spec.watermark_payload is not None:
            actions.append({"action": "c2pa.watermarked", "softwareAgent": ours})
    else:
        actions = [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": agent}]
    assertions: list[dict[str, Any]] = [
        {"label": "c2pa.actions", "created": True, "data": {"actions": actions}},
        {"label": GENERATION_LABEL, "created": True, "data": {k: v for k, v in generation.items() if v is not None}},
    ]
    if spec.watermark_payload is not None:
        assertions.append(soft_binding_assertion(spec.soft_binding_alg, spec.watermark_payload, spec.duration_ms))
    assertions.extend({"created": True, **a} for a in spec.extra_assertions)
    return {
        "claim_generator_info": [ours],
        "title": spec.title,
        "format": "video/mp4",
        "assertions": assertions,
    }
