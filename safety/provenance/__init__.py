"""C2PA content credentials: keys, manifest definition, sign, read and validate."""

from safety.provenance.credentials import (
    SignedAsset,
    credentials_from_settings,
    read_provenance,
    sign_file,
    trust_anchors_from_settings,
)
from safety.provenance.keys import SigningCredentials, callback_for_key, init_dev_keys, load_credentials
from safety.provenance.manifest import AI_SOURCE_TYPES, TRAINED_ALGORITHMIC_MEDIA, WATERMARK_ALG, ManifestSpec
from safety.provenance.report import CODE_OUTCOMES, AIDisclosure, ProvenanceReport, ProvenanceState, SoftBinding

__all__ = [
    "AI_SOURCE_TYPES",
    "CODE_OUTCOMES",
    "TRAINED_ALGORITHMIC_MEDIA",
    "WATERMARK_ALG",
    "AIDisclosure",
    "ManifestSpec",
    "ProvenanceReport",
    "ProvenanceState",
    "SignedAsset",
    "SigningCredentials",
    "SoftBinding",
    "callback_for_key",
    "credentials_from_settings",
    "init_dev_keys",
    "load_credentials",
    "read_provenance",
    "sign_file",
    "trust_anchors_from_settings",
]
