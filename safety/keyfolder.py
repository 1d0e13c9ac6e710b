"""One lock for creating key material in the key folder.

Several processes may start at once on a fresh home (API processes, workers): each would find no
keys and create its own, and a signing key could end up beside another process's certificate.
Every "check, then create" of key files runs under this exclusive lock, so exactly one process
creates and the others load what it wrote.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safety.errors import KeyMaterialError


@contextmanager
def key_folder_lock(directory: Path) -> Iterator[None]:
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(directory / ".create.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise KeyMaterialError(f"cannot use key folder {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
