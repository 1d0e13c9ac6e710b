"""The keyed prompt digest a manifest carries: HMAC-SHA256(server secret, prompt).

An unsalted sha256 of the prompt lets anyone holding the video confirm a guessed prompt. With a
secret key only this server can compute (and so confirm) the digest; the manifest still ties the
asset to one prompt for whoever holds the key. The secret is 32 random bytes in
`keys/prompt.key` (mode 0600), made by `sealframe keys init` or on first use beside the other keys.

Keys are precious here too: once an asset was sealed with a keyed digest (its `asset.sealed` audit
event names the key id), a missing prompt key is never re-made silently; the service refuses to
start with the recovery steps (`require_prompt_key`, beside `safety.keycheck.require_keys`).
Manifests sealed before this key existed carry `prompt_sha256` and still read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from safety.errors import KeyMaterialError
from safety.keyfolder import create_secret, key_folder_lock, read_secret

if TYPE_CHECKING:
    from safety.store import Store

PROMPT_KEY_FILE = "prompt.key"
KEY_BYTES = 32
DIGEST_FIELD = "prompt_hmac_sha256"
log = logging.getLogger("sealframe.keys")


def prompt_digest(key: bytes, prompt: str) -> str:
    """HMAC-SHA256 of the prompt's UTF-8 bytes under the server's prompt key (hex)."""
    return hmac.new(key, b"sealframe/prompt/v1/" + prompt.encode("utf-8"), hashlib.sha256).hexdigest()


def prompt_key_id(key: bytes) -> str:
    """A public name for the key (it reveals nothing about the key or any prompt)."""
    return hashlib.sha256(b"sealframe/prompt-key-id/v1/" + key).hexdigest()[:16]


def create_prompt_key(path: Path, force: bool = False) -> bytes:
    """Write 32 fresh random bytes to `path`, mode 0600 from the start; refuses to replace one unless forced."""
    return create_secret(path, KEY_BYTES, "prompt key", force)


def load_prompt_key(path: Path) -> bytes:
    return read_secret(path, KEY_BYTES, "prompt key")


def sealed_with_prompt_key(store: Store) -> bool:
    """Whether any asset was sealed with a keyed prompt digest (its audit event names the key id)."""
    from sqlalchemy import select

    from safety.store import AuditEvent

    with store.session() as s:
        q = (select(AuditEvent.seq).where(AuditEvent.kind == "asset.sealed")
             .where(AuditEvent.payload.contains('"prompt_key"')).limit(1))
        return s.execute(q).first() is not None


def require_prompt_key(keys_dir: Path, store: Store) -> None:
    """Raise when the prompt key is missing although assets were sealed with it (checked at start)."""
    path = keys_dir / PROMPT_KEY_FILE
    if not path.exists() and sealed_with_prompt_key(store):
        raise KeyMaterialError(
            f"missing prompt key ({path}), but assets were sealed with it: a new key would make their "
            f"prompt digests unconfirmable, so none is created. Recovery: restore {path} from backup "
            f"(or mount the key folder read-only); if it is truly lost, run `sealframe keys init "
            f"--force` to start a new key set")


def load_or_create_prompt_key(keys_dir: Path, store: Store) -> bytes | None:
    """The prompt key; created (0600) only while no asset was sealed with one.

    None when it is absent from a read-only key folder (made before this key existed) and nothing
    was sealed with it: manifests then carry no prompt digest at all, never an unsalted one.
    """
    path = keys_dir / PROMPT_KEY_FILE
    with key_folder_lock(keys_dir):
        if not path.exists():
            require_prompt_key(keys_dir, store)
            try:
                return create_prompt_key(path)
            except KeyMaterialError:
                if os.access(keys_dir, os.W_OK):
                    raise
                log.warning("no prompt key in the read-only key folder %s: manifests carry no prompt digest "
                            "(add 32 random bytes as %s)", keys_dir, PROMPT_KEY_FILE)
                return None
    return load_prompt_key(path)
