"""Everything the routes share, built once per app: settings, store, artifacts, audit log, stages."""

from __future__ import annotations

import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import select

from safety.artifacts import ArtifactStore
from safety.audit import AuditKey, AuditLog
from safety.errors import SealFrameError
from safety.homedirs import private_home
from safety.jobs import JobRunner
from safety.keycheck import require_keys
from safety.media import default_limits
from safety.pipeline import SafeGenerationPipeline
from safety.provenance import SigningCredentials, credentials_from_settings, trust_anchors_from_settings
from safety.provenance.prompt_key import require_prompt_key
from safety.scale import make_artifacts, make_runner
from safety.settings import Settings
from safety.store import Job, Store, open_store
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

    def __post_init__(self) -> None:
        # The home holds keys, the database and uploads: private to this user (0700).
        self.settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        with suppress(PermissionError):  # a home made before this rule, or owned by another user
            self.settings.home.chmod(0o700)
        private_home(self.settings)  # and its data folders (keys, artifacts, uploads, work)
        self.store = open_store(self.settings.db_url)
        # Keys are made on first use only while nothing was signed or audited with them yet.
        require_keys(self.settings, self.store)
        require_prompt_key(self.settings.keys_dir, self.store)
        # On the embedded default this creates the dev CA, whose root must be among the trust
        # anchors the verifier loads (lazily, below).
        self.credentials = credentials_from_settings(self.settings)
        self.artifacts = make_artifacts(self.settings)  # a folder, or an S3 bucket (safety.scale)
        self.audit = AuditLog(self.store, AuditKey.load_or_create(self.settings.keys_dir),
                              self.settings.audit_checkpoint_every)

    @property
    def max_upload_bytes(self) -> int:
        return default_limits().max_bytes

    @cached_property
    def pipeline(self) -> SafeGenerationPipeline:
        return build_pipeline(self.settings, self.store, self.artifacts, self.audit, self.credentials)

    @cached_property
    def runner(self) -> JobRunner:
        # In-process threads, or Celery workers (which build their own pipeline): by settings alone.
        return make_runner(self.settings, self.store, lambda job_id: self.pipeline.run_job(job_id))

    def start(self) -> None:
        """Pick up jobs a previous process left queued or running (nothing is lost on a restart).

        A job the recovery gives up on (interrupted too many times) is failed and audited.
        """
        with self.store.session() as s:
            unfinished = set(s.execute(select(Job.id).where(Job.status.in_(("queued", "running")))).scalars())
        self.runner.recover()
        if not unfinished:
            return
        with self.store.session() as s:
            failed = list(s.execute(select(Job).where(Job.id.in_(unfinished), Job.status == "failed")).scalars())
        for job in failed:
            self.audit.append("job.failed", {"job": job.id, "error": job.error, "during": "recovery",
                                             "attempts": job.attempts}, subject=job.id)

    def stop(self) -> None:
        if "runner" in self.__dict__:
            self.runner.shutdown(wait=True)
        self.audit.checkpoint_now()  # a deleted tail is then detectable

    @cached_property
    def verifier(self) -> Verifier:
        from safety.watermark import load_or_create_key

        return Verifier(store=self.store, trust_anchors=trust_anchors_from_settings(self.settings),
                        watermark_key=load_or_create_key(self.settings), detector=load_detector(),
                        remote_manifest_hosts=tuple(self.settings.remote_manifest_hosts))


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


def build_pipeline(settings: Settings, store: Store, artifacts: ArtifactStore, audit: AuditLog,
                   credentials: SigningCredentials) -> SafeGenerationPipeline:
    """The pipeline on the configured policy, moderator, generator and keys (the generator loads lazily)."""
    from functools import lru_cache

    from generator.registry import load_generator
    from policies import load_policy
    from safety.moderation import Moderator
    from safety.output_checks import FrameSafetyChecker
    from safety.provenance.prompt_key import load_or_create_prompt_key
    from safety.watermark import load_or_create_key

    policy = load_policy(settings.policy)
    workdir = settings.home / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    return SafeGenerationPipeline(
        store=store, artifacts=artifacts, audit=audit, policy=policy, credentials=credentials,
        watermark_key=load_or_create_key(settings), trust_anchors=trust_anchors_from_settings(settings),
        moderator=Moderator.from_settings(settings), generator=lru_cache(maxsize=1)(load_generator),
        checker=FrameSafetyChecker(policy.pack.output_checks), tsa_url=settings.tsa_url,
        soft_binding_alg=settings.soft_binding_alg, workdir=workdir,
        prompt_key=load_or_create_prompt_key(settings.keys_dir, store),
    )
