"""sha256 of a weights file, read in 1 MiB blocks. Torch-free, so serving code can check weights
without importing a training stack; every model card check in the project uses this one."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
