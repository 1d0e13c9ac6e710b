"""The manifest definition we sign: what a generated video says about itself.

`c2pa.actions` carries `c2pa.created` with the IPTC digital source type for generative AI and the
generator as software agent; `sealframe.generation` records why the video was allowed (prompt
digest (keyed), policy fingerprint, moderation decision, model and weights); `c2pa.soft-binding` names our
watermark and its payload, so a stripped copy can be matched back to this manifest.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import safety

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
WATERMARK_ALG = "io.sealframe.video-watermark.1"
GENERATION_LABEL = "sealframe.generation"
SOFT_BINDING_LABEL = "c2pa.soft-binding"


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
    extra_assertions: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def manifest_definition(spec: ManifestSpec) -> dict[str, Any]:
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
    assertions: list[dict[str, Any]] = [
        {
            "label": "c2pa.actions",
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                        "softwareAgent": agent,
                    }
                ]
            },
        },
        {"label": GENERATION_LABEL, "data": {k: v for k, v in generation.items() if v is not None}},
    ]
    if spec.watermark_payload is not None:
        assertions.append(
            {
                "label": SOFT_BINDING_LABEL,
                "data": {
                    "alg": WATERMARK_ALG,
                    "blocks": [
                        {"scope": {}, "value": base64.b64encode(spec.watermark_payload).decode("ascii")}
                    ],
                },
            }
        )
    assertions.extend(spec.extra_assertions)
    return {
        "claim_generator_info": [{"name": "sealframe", "version": safety.__version__}],
        "title": spec.title,
        "format": "video/mp4",
        "assertions": assertions,
    }
