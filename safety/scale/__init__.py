"""Scale-out back-ends behind the embedded interfaces, chosen by settings alone (docs/deploy.md).

`make_artifacts(settings)` picks the artifact store (a folder or `s3://bucket`), `make_runner(...)`
the job runner (a thread pool in the API process, or Celery workers on a broker). Routes, pipeline
and stages do not know which one runs.
"""

from __future__ import annotations

from pathlib import Path

from safety.artifacts import ArtifactStore, LocalArtifactStore
from safety.jobs import InProcessRunner, JobHandler, JobRunner
from safety.settings import Settings
from safety.store import Store


def make_artifacts(settings: Settings) -> ArtifactStore:
    spec = settings.artifacts
    if spec and spec.startswith("s3://"):
        from safety.scale.s3 import S3ArtifactStore

        return S3ArtifactStore.from_settings(settings)
    return LocalArtifactStore(Path(spec).expanduser() if spec else settings.home / "artifacts")


def make_runner(settings: Settings, store: Store, handler: JobHandler) -> JobRunner:
    if settings.jobs == "celery":
        from safety.scale.runner import CeleryRunner

        return CeleryRunner(settings, store)
    return InProcessRunner(store, handler, workers=1)
