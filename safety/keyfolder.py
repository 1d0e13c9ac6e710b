"""The key folder: one lock for creating key material, and the rule that issued keys are never replaced.

Several processes may start at once on a fresh home (API processes, workers): each would find no
keys and create its own, and a signing key could end up beside another process's certificate.
Every "check, then create" of key files runs under this exclusive lock, so exactly one process
creates and the others load what it wrote. A read-only key folder (keys mounted from a secret
store) needs no lock: nothing can be created in it, so nothing can race.

Keys are precious: once assets or audit events exist, a missing signing, watermark or audit key
means old assets would stop verifying and the audit chain would read as forged. `require_keys`
refuses to go on (and so to create new keys) in that case, with the recovery steps.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from safety.errors import KeyMaterialError

if TYPE_CHECKING:
    from safety.settings import Settings
    from safety.store import Store

LOCK_FILE = ".create.lock"
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextmanager
def key_folder_lock(directory: Path) -> Iterator[None]:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        if not directory.is_dir():
            raise KeyMaterialError(f"cannot use key folder {directory}: {exc.strerror}") from None
    lock = directory / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if exc.errno not in _READ_ONLY:
            raise KeyMaterialError(f"cannot use key folder {directory}: {exc.strerror}") from None
        try:  # a read-only folder: an existing lock file still serialises readers and creators
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            yield  # nothing can be created in a read-only folder, so there is no race to prevent
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def expected_key_files(settings: Settings) -> dict[str, Path]:
    """The key files this configuration signs, watermarks and audits with, by role."""
    from safety.audit.chain import AUDIT_KEY
    from safety.provenance.keys import ROOT_CERT, SIGNER_CHAIN, SIGNER_KEY
    from safety.watermark.keys import KEY_FILE

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


def has_history(store: Store) -> bool:
    """Whether anything was ever signed or audited with this home's keys."""
    from sqlalchemy import select

    from safety.store import Asset, AuditEvent

    with store.session() as s:
        return (s.execute(select(Asset.id).limit(1)).first() is not None
                or s.execute(select(AuditEvent.seq).limit(1)).first() is not None)


def require_keys(settings: Settings, store: Store, roles: Collection[str] | None = None) -> None:
    """Raise when a key is missing although assets or audit events exist (keys are never re-made then).

    `roles` limits the check to the keys a command uses (for example `{"audit key"}` for `audit
    verify`, which neither signs nor watermarks); None checks them all.
    """
    missing = {role: path for role, path in expected_key_files(settings).items()
               if not path.exists() and (roles is None or role in roles)}
    if not missing or not has_history(store):
        return
    names = ", ".join(f"{role} ({path})" for role, path in missing.items())
    raise KeyMaterialError(
        f"missing {names}, but this home already holds signed assets or audit events: new keys would make "
        f"old assets unverifiable and the audit chain read as forged, so none are created. Recovery: restore "
        f"the key folder {settings.keys_dir} from backup (or mount it read-only); if the keys are truly lost, "
        f"run `sealframe keys init --force` to start a new key set (old assets then verify as untrusted)")
