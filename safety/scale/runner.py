"""Generation jobs on Celery workers: the `JobRunner` interface over a broker, state in the database.

The API process only publishes (`submit`) and reads the job table. A worker runs a job only after
claiming it in the database with one conditional UPDATE (`status queued → running`, `claimed_by`,
`attempts + 1`), so of any number of deliveries of one message exactly one runs; the rest are
acknowledged and dropped. While it runs, a heartbeat thread renews the claim (`updated_at`).

Nothing is lost, whatever dies:
- a worker killed mid-job stops renewing its claim; after `job_lease_s` the sweep (every worker runs
  one, and the API runs one at start) puts the job back to `queued` and publishes it again, or marks
  it failed with the reason once it has used its attempts;
- a broker that lost its messages (restarted without persistence) leaves queued jobs in the database;
  the sweep publishes every queued job not touched for a lease once the queue has drained;
- a publish that fails leaves the job queued for the same sweep.
One asset per job is still the database's unique constraint, and the pipeline reuses an asset an
earlier attempt already sealed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import CursorResult, Update, and_, select, update
from sqlalchemy.orm import Session

from safety.jobs import MAX_ATTEMPTS, TERMINAL, JobHandler
from safety.scale.celery_app import QUEUE, TASK, make_celery
from safety.settings import Settings
from safety.store import Job, Store

log = logging.getLogger("sealframe.jobs")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rows(s: Session, stmt: Update) -> int:
    """Rows an UPDATE changed (the conditional UPDATE is the claim, so the count is the answer)."""
    result = s.execute(stmt.execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim(store: Store, job_id: str, me: str) -> bool:
    """Take the job if it is queued and has attempts left; True when this caller now holds it."""
    with store.session() as s:
        taken = _rows(s, update(Job)
                      .where(Job.id == job_id, Job.status == "queued", Job.attempts < MAX_ATTEMPTS)
                      .values(status="running", claimed_by=me, attempts=Job.attempts + 1, updated_at=_now()))
        if taken:
            return True
        _rows(s, update(Job)
              .where(Job.id == job_id, Job.status == "queued", Job.attempts >= MAX_ATTEMPTS)
              .values(status="failed", error="interrupted too many times; resubmit the request", updated_at=_now()))
    return False


def _renew(store: Store, job_id: str, me: str) -> bool:
    with store.session() as s:
        return bool(_rows(s, update(Job).where(Job.id == job_id, Job.claimed_by == me, Job.status == "running")
                          .values(updated_at=_now())))


def execute(store: Store, handler: JobHandler, job_id: str, lease_s: float, me: str | None = None) -> str:
    """Claim and run one job (the worker's task body); returns what happened, for the log."""
    me = me or worker_id()
    if not claim(store, job_id, me):
        return "skipped"
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(max(0.5, lease_s / 4)):
            try:
                if not _renew(store, job_id, me):
                    return  # finished, or the sweep gave it to another worker
            except Exception:  # a database blip: try again next beat, the lease has slack
                log.warning("heartbeat for job %s failed", job_id, exc_info=True)

    heart = threading.Thread(target=beat, name=f"lease-{job_id[:8]}", daemon=True)
    heart.start()
    try:
        handler(job_id)
        return "done"
    except Exception as exc:  # the job's failure is its result, never the worker's death
        reason = " ".join(str(exc).split()) or type(exc).__name__
        with store.session() as s:
            _rows(s, update(Job).where(Job.id == job_id, Job.claimed_by == me, Job.status.not_in(TERMINAL))
                  .values(status="failed", error=reason[:2000], updated_at=_now()))
        return "failed"
    finally:
        stop.set()


class CeleryRunner:
    """`JobRunner` on Celery: `submit` publishes, workers claim and run, the database keeps state."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.lease_s = settings.job_lease_s
        self.app = make_celery(settings)

    def submit(self, job_id: str) -> None:
        try:
            self.app.send_task(TASK, args=[job_id], queue=QUEUE)
        except Exception as exc:  # broker down: the job stays queued and the next sweep publishes it
            log.warning("could not publish job %s (%s); the sweep will retry", job_id, exc)

    def cancel(self, job_id: str) -> bool:
        with self.store.session() as s:
            return bool(_rows(s, update(Job).where(Job.id == job_id, Job.status == "queued")
                              .values(status="cancelled", error="cancelled before it started", updated_at=_now())))

    def queue_depth(self) -> int | None:
        """Messages waiting in the broker's queue, or None when the broker cannot say."""
        try:
            with self.app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1)
                return int(conn.default_channel.queue_declare(QUEUE, passive=True).message_count)
        except Exception:
            return None

    def sweep(self) -> int:
        """Re-queue jobs whose worker stopped renewing, re-publish lost queued jobs; returns how many."""
        cutoff = _now() - dt.timedelta(seconds=self.lease_s)
        publish: list[str] = []
        with self.store.session() as s:
            stale = list(s.execute(select(Job.id, Job.attempts, Job.updated_at).where(
                Job.status == "running", Job.updated_at < cutoff)))
            for job_id, attempts, seen in stale:
                done = attempts >= MAX_ATTEMPTS
                values: dict[str, Any] = (
                    {"status": "failed", "error": f"the worker running this job stopped {attempts} times "
                                                  "(killed or lost); resubmit the request"}
                    if done else {"status": "queued", "claimed_by": None})
                hit = _rows(s, update(Job).where(Job.id == job_id, Job.status == "running", Job.updated_at == seen)
                            .values(updated_at=_now(), **values))
                if hit and not done:
                    log.warning("job %s: worker lost mid-job; re-queued (attempt %d done)", job_id, attempts)
                    publish.append(job_id)
        depth = self.queue_depth()
        if depth == 0 or depth is None:
            with self.store.session() as s:
                waiting = list(s.execute(select(Job.id, Job.updated_at).where(
                    Job.status == "queued", Job.updated_at < cutoff)))
                for job_id, seen in waiting:
                    if _rows(s, update(Job).where(and_(Job.id == job_id, Job.status == "queued",
                                                       Job.updated_at == seen)).values(updated_at=_now())):
                        publish.append(job_id)
        for job_id in publish:
            self.submit(job_id)
        return len(publish)

    def recover(self) -> int:
        return self.sweep()

    def shutdown(self, wait: bool = True) -> None:
        self.app.close()


def sweep_forever(runner: CeleryRunner, stop: threading.Event, every: float | None = None) -> None:
    """The worker's background sweep: a dead peer's jobs come back within about one lease."""
    interval = every or max(1.0, runner.lease_s / 2)
    while not stop.wait(interval):
        try:
            n = runner.sweep()
            if n:
                log.info("sweep re-published %d job(s)", n)
        except Exception:
            log.warning("sweep failed", exc_info=True)


def run_worker(settings: Settings, handler_factory: Callable[[], JobHandler], store: Store,
               concurrency: int = 1, name: str | None = None, loglevel: str = "INFO") -> None:
    """Start a Celery worker in this process (blocks): the job task plus the sweep thread."""
    from safety.scale.celery_app import register_task

    app = make_celery(settings)
    handler: list[JobHandler] = []

    def run(job_id: str) -> None:
        if not handler:  # built in the process that runs jobs (a prefork child builds its own)
            handler.append(handler_factory())
        outcome = execute(store, handler[0], job_id, settings.job_lease_s)
        log.info("job %s: %s", job_id, outcome)

    register_task(app, run)
    if concurrency > 1:
        from celery.signals import worker_process_init

        def forget_parent_connections(**_: Any) -> None:
            store.engine.dispose(close=False)  # a forked child must not share the parent's sockets

        worker_process_init.connect(forget_parent_connections, weak=False)
    stop = threading.Event()
    sweeper = CeleryRunner(settings, store)
    threading.Thread(target=sweep_forever, args=(sweeper, stop), name="sealframe-sweep", daemon=True).start()
    pool = ["--pool=solo"] if concurrency <= 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
    try:
        app.worker_main(["worker", *pool, "-Q", QUEUE, f"--loglevel={loglevel}", "--without-heartbeat",
                         "--without-mingle", "--without-gossip",
                         "-n", name or f"sealframe-{os.getpid()}@{socket.gethostname()}"])
    finally:
        stop.set()
