"""Everything the routes share, built once per app: settings, store, artifacts, audit log, stages."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from safety.artifacts import ArtifactStore, LocalArtifactStore
from safety.audit import AuditKey, AuditLog
from safety.errors import SealFrameError
from safety.media import default_limits
from safety.provenance import SigningCredentials, credentials_from_settings, trust_anchors_from_settings
from safety.settings import Settings
from safety.store import Store, open_store
from safety.verify import Verifier


class RateLimiter:
    """A token bucket per API key, refilled continuously at the key's per-minute rate."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key_id: str, per_minute: int) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * per_minute / 60.0)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                return (1.0 - tokens) * 60.0 / per_minute
            self._buckets[key_id] = (tokens - 1.0, now)
            return 0.0


@dataclass
class AppState:
    settings: Settings
    credentials: SigningCredentials = field(init=False)
    store: Store = field(init=False)
    artifacts: ArtifactStore = field(init=False)
    audit: AuditLog = field(init=False)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Signing credentials first: on the embedded default this creates the dev CA, whose root
        # must be among the trust anchors the verifier loads below.
        self.credentials = credentials_from_settings(self.settings)
        self.store = open_store(self.settings.db_url)
        self.artifacts = LocalArtifactStore(self.settings.home / "artifacts")
        self.audit = AuditLog(self.store, AuditKey.load_or_create(self.settings.keys_dir),
                              self.settings.audit_checkpoint_every)

    @property
    def max_upload_bytes(self) -> int:
        return default_limits().max_bytes

    @cached_property
    def verifier(self) -> Verifier:
        from safety.watermark import load_or_create_key

        return Verifier(store=self.store, trust_anchors=trust_anchors_from_settings(self.settings),
                        watermark_key=load_or_create_key(self.settings), detector=load_detector())


def load_detector() -> Any:
    """The default detector's scoring function, or None while no detector weights are installed."""
    try:
        from detector.runtime import default_detector
    except ImportError:
        return None
    try:
        return default_detector().score_video
    except (SealFrameError, OSError, ValueError):
        return None
