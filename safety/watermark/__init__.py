"""Keyed, error-corrected invisible video watermark (see `engine` for what it guarantees).

Stable API: `embed(video, payload, key) -> Video` and `extract(video, key) -> WatermarkResult`.
"""

from safety.watermark.engine import ALGORITHM, DEFAULT_CONFIG, WatermarkConfig, WatermarkResult, embed, extract, read
from safety.watermark.keys import KEY_BYTES, KEY_FILE, create_key, key_path, load_key, load_or_create_key

__all__ = [
    "ALGORITHM",
    "DEFAULT_CONFIG",
    "KEY_BYTES",
    "KEY_FILE",
    "WatermarkConfig",
    "WatermarkResult",
    "create_key",
    "embed",
    "extract",
    "key_path",
    "load_key",
    "load_or_create_key",
    "read",
]
