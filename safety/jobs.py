"""Generation jobs behind one small interface: submit, status (in the database), cancel.

The default runner is an in-process thread pool. Job state lives in the database, not in the
runner, so a restarted server finds every job: `recover()` re-queues what never started and re-runs,
once, what was running when the process died (the handler is idempotent: one asset per job is a
database constraint); a job that fails again is marked failed with its reason. Nothing is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from sqlalchemy import select

from safety.store import Job, Store

MAX_ATTEMPTS = 2
TERMINAL = frozenset({"succeeded", "failed", "rejected", "cancelled"})

JobHandler = Callable[[str], object]
"""Runs one job to a terminal state given its id; raising marks it failed with the message."""


class JobRunner(Protocol):
    def submit(self, job_id: str) -> None: ...
    def cancel(self, job_id: str) -> bool: ...
    def recover(self) -> int: ...
    def shutdown(self, wait: bool = True) -> None: ...


def set_status(store: Store, job_id: str, status: str, *, progress: float | None = None,
               error: str | None = None) -> None:
    with store.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        job.status = status
        if progress is not None:
            job.progress = progress
        if error is not None:
            job.error = error[:2000]


class InProcessRunner:
    """A thread pool; state in the database."""

    def __init__(self, store: Store, handler: JobHandler, workers: int = 1) -> None:
        self.store = store
        self.handler = handler
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sealframe-job")
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, job_id: str) -> None:
        with self._lock:
            self._futures[job_id] = self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        with self.store.session() as s:
            job = s.get(Job, job_id)
            if job is None or job.status in TERMINAL or job.status == "held":
                return
            if job.attempts >= MAX_ATTEMPTS:
                job.status, job.error = "failed", job.error or "interrupted too many times; resubmit the request"
                return
            job.attempts += 1
            job.status = "running"
        try:
            self.handler(job_id)
        except Exception as exc:  # the handler's failure is the job's result, never the worker's death
            set_status(self.store, job_id, "failed", error=" ".join(str(exc).split()) or type(exc).__name__)
        finally:
            with self._lock:
                self._futures.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            fut = self._futures.get(job_id)
        if fut is not None and fut.cancel():
            set_status(self.store, job_id, "cancelled", error="cancelled before it started")
            return True
        return False

    def recover(self) -> int:
        """Pick up jobs a previous process left behind; returns how many were resubmitted."""
        with self.store.session() as s:
            pending = list(s.execute(select(Job).where(Job.status.in_(("queued", "running")))).scalars())
            ids = []
            for job in pending:
                if job.status == "running" and job.attempts >= MAX_ATTEMPTS:
                    job.status = "failed"
                    job.error = "the server stopped during this job twice; resubmit the request"
                else:
                    job.status = "queued"
                    ids.append(job.id)
        for job_id in ids:
            self.submit(job_id)
        return len(ids)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
