"""The Celery application: one task, `sealframe.run_job(job_id)`, on a broker named by settings.

The message only says "this job wants running"; everything else (status, progress, attempts, who
holds it) lives in the database. So the settings favour at-least-once delivery, and the database
turns it into exactly-one asset: acknowledged late (a message leaves the broker only after its job
reached a final state), one message per worker at a time (`worker_prefetch_multiplier=1`), re-queued
when a worker process dies (`task_reject_on_worker_lost`), and no result backend.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from safety.settings import Settings

TASK = "sealframe.run_job"
QUEUE = "sealframe.jobs"


def make_celery(settings: Settings) -> Celery:
    app = Celery("sealframe", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        broker_connection_max_retries=None,  # a worker waits out a broker restart instead of exiting
        # An unacknowledged message returns to the queue after this long. The database lease
        # (settings.job_lease_s) is what detects a dead worker; this is only the broker's backstop,
        # and a redelivered message for a job that is still running is dropped by the claim.
        broker_transport_options={"visibility_timeout": max(300, int(settings.job_lease_s * 5))},
        # A publish while the broker is down must not hang a request: the job stays queued in the
        # database and the sweep publishes it again.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 1.0},
    )
    return app


def register_task(app: Celery, execute: Any) -> Any:
    """Register the job task on a worker's app; `execute(job_id)` does the work."""

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def run_job(job_id: str) -> None:
        execute(job_id)

    return run_job
