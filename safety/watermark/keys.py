"""The 32-byte watermark secret: where it lives, how it is created, how patterns derive from it.

The key file holds 32 raw random bytes, mode 0600, in the key folder (or `SEALFRAME_WATERMARK_KEY`).
Every pattern, chip, permutation and scrambling mask of the watermark is drawn from a generator
seeded by HMAC-SHA256(key, label): without the key nothing can be read, and nothing can be forged.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import numpy as np

from safety.errors import KeyMaterialError
from safety.keyfolder import create_secret, key_folder_lock, read_secret
from safety.settings import Settings

KEY_BYTES = 32
KEY_FILE = "watermark.key"


def check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        size = len(key) if isinstance(key, bytes | bytearray) else type(key).__name__
        raise KeyMaterialError(f"watermark key must be {KEY_BYTES} bytes, got {size}")
    return bytes(key)


def key_path(settings: Settings) -> Path:
    return settings.watermark_key or settings.keys_dir / KEY_FILE


def load_key(path: Path) -> bytes:
    return read_secret(path, KEY_BYTES, "watermark key")


def create_key(path: Path, force: bool = False) -> bytes:
    """Write 32 fresh random bytes to `path` (mode 0600, never world-readable even for an instant)."""
    return create_secret(path, KEY_BYTES, "watermark key", force)


def load_or_create_key(settings: Settings) -> bytes:
    """The configured key; created (0600) on first use when it is the default path and absent."""
    path = key_path(settings)
    if not path.exists() and settings.watermark_key is None:
        # Under the key-folder lock another process is never half-way through writing it.
        with key_folder_lock(path.parent):
            if not path.exists():
                return create_key(path)
    return load_key(path)


def keyed_rng(key: bytes, label: str) -> np.random.Generator:
    """A generator whose stream is a pseudo-random function of (key, label)."""
    digest = hmac.new(check_key(key), b"sealframe/watermark/v1/" + label.encode(), hashlib.sha256).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))
