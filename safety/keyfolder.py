"""The key folder: one lock for creating key material, and the rule that issued keys are never replaced.

Several processes may start at once on a fresh home (API processes, workers): each would find no
keys and create its own, and a signing key could end up beside another process's certificate.
Every "check, then create" of key files runs under this exclusive lock, so exactly one process
creates and the others load what it wrote. A read-only key folder (keys mounted from a secret
store) needs no lock: nothing can be created in it, so nothing can race.

Keys are precious: once assets or audit events exist, a missing signing, watermark or audit key
means old assets would stop verifying and the audit chain would read as forged. `refuse_lost_keys`
refuses to go on (and so to create new keys) in that case, with the recovery steps;
`safety.keycheck.require_keys` applies it to every key a configuration uses.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from safety.errors import KeyMaterialError

if TYPE_CHECKING:
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


def has_history(store: Store) -> bool:
    """Whether anything was ever signed or audited with this home's keys."""
    from sqlalchemy import select

    from safety.store import Asset, AuditEvent

    with store.session() as s:
        return (s.execute(select(Asset.id).limit(1)).first() is not None
                or s.execute(select(AuditEvent.seq).limit(1)).first() is not None)


def refuse_lost_keys(missing: dict[str, Path], keys_dir: Path, store: Store) -> None:
    """Raise when any of `missing` (role -> path of a key file that is gone) would have to be re-made
    although assets or audit events exist: keys are never re-made then."""
    if not missing or not has_history(store):
        return
    names = ", ".join(f"{role} ({path})" for role, path in missing.items())
    raise KeyMaterialError(
        f"missing {names}, but this home already holds signed assets or audit events: new keys would make "
        f"old assets unverifiable and the audit chain read as forged, so none are created. Recovery: restore "
        f"the key folder {keys_dir} from backup (or mount it read-only); if the keys are truly lost, "
        f"run `sealframe keys init --force` to start a new key set (old assets then verify as untrusted)")


def create_secret(path: Path, nbytes: int, what: str, force: bool = False) -> bytes:
    """Write `nbytes` fresh random bytes to `path`, mode 0600 from the start (never readable by others,
    even for an instant); refuses to replace an existing file unless forced. `what` names it in errors."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = os.urandom(nbytes)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL), 0o600)
    except FileExistsError:
        raise KeyMaterialError(f"{what} {path} already exists") from None
    except OSError as exc:
        raise KeyMaterialError(f"cannot create {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(secret)
    os.chmod(path, 0o600)
    return secret


def read_secret(path: Path, nbytes: int, what: str) -> bytes:
    """The `nbytes` of the key file at `path`; a clear `KeyMaterialError` when it is missing or malformed."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(f"{what} {path} does not exist (run `sealframe keys init`)") from None
    except OSError as exc:
        raise KeyMaterialError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) != nbytes:
        raise KeyMaterialError(f"{what} {path} must hold {nbytes} bytes, holds {len(data)}")
    return data
