"""Where sealed videos and manifest stores live: one small interface, a local folder by default.

Keys are relative paths such as `assets/<asset id>/video.mp4`. Writes are atomic (a reader never
sees half a file); keys cannot escape the store's root. An object store implements the same
protocol later (issue 9) without touching the pipeline or the routes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from safety.errors import BadInputError, SealFrameError
from safety.homedirs import private_dirs


class ArtifactStoreError(SealFrameError):
    """The artifact store could not store or return an artifact."""

    exit_code = 1
    http_status = 503


class ArtifactStore(Protocol):
    def put_file(self, key: str, src: Path) -> str: ...
    def put_bytes(self, key: str, data: bytes) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def local_path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...


def _clean_key(key: str) -> str:
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or any(p in ("..", "") for p in parts):
        raise BadInputError(f"invalid artifact key {key!r}")
    return "/".join(parts)


class LocalArtifactStore:
    """Artifacts as files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _clean_key(key)

    def _write(self, key: str, writer: Callable[[BinaryIO], object]) -> str:
        dst = self._path(key)
        try:
            private_dirs(dst.parent)  # 0700 at every level, like the home (safety.homedirs)
            fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".part-")
            with os.fdopen(fd, "wb") as out:
                writer(out)
            os.replace(tmp, dst)
        except OSError as exc:
            raise ArtifactStoreError(f"cannot store artifact {key}: {exc.strerror or exc}") from None
        return key

    def put_file(self, key: str, src: Path) -> str:
        def copy(out: BinaryIO) -> None:
            with src.open("rb") as fh:
                shutil.copyfileobj(fh, out)

        return self._write(key, copy)

    def put_bytes(self, key: str, data: bytes) -> str:
        return self._write(key, lambda out: out.write(data))

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise ArtifactStoreError(f"artifact {key} unavailable: {exc.strerror or exc}") from None

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ArtifactStoreError(f"artifact {key} unavailable")
        return path

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
