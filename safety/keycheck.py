"""Which key files a configuration uses, and the refusal to run when one is lost after use.

Sits above the stages (it names the signing, watermark and audit key files) and is called by the
interfaces (CLI, API state) before anything could create a key; the rule itself is
`safety.keyfolder.refuse_lost_keys`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from safety.audit.chain import AUDIT_KEY
from safety.keyfolder import refuse_lost_keys
from safety.provenance.keys import ROOT_CERT, SIGNER_CHAIN, SIGNER_KEY
from safety.settings import Settings
from safety.store import Store
from safety.watermark.keys import KEY_FILE


def expected_key_files(settings: Settings) -> dict[str, Path]:
    """The key files this configuration signs, watermarks and audits with, by role."""
    keys = settings.keys_dir
    files = {"watermark key": settings.watermark_key or keys / KEY_FILE, "audit key": keys / AUDIT_KEY}
    if settings.signing_key or settings.signing_chain:
        if settings.signing_key:
            files["signing key"] = settings.signing_key
        if settings.signing_chain:
            files["signing chain"] = settings.signing_chain
    else:
        files |= {"signing key": keys / SIGNER_KEY, "signing chain": keys / SIGNER_CHAIN,
                  "root certificate": keys / ROOT_CERT}
    return files


def require_keys(settings: Settings, store: Store, roles: Collection[str] | None = None) -> None:
    """Raise when a key is missing although assets or audit events exist (keys are never re-made then).

    `roles` limits the check to the keys a command uses (for example `{"audit key"}` for `audit
    verify`, which neither signs nor watermarks); None checks them all.
    """
    missing = {role: path for role, path in expected_key_files(settings).items()
               if not path.exists() and (roles is None or role in roles)}
    refuse_lost_keys(missing, settings.keys_dir, store)
