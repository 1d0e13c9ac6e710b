"""Scale-out (issue 9) on the real servers: PostgreSQL, Redis + Celery workers, SeaweedFS S3.

One stack per module (`scripts/stack up`/`down`, ≈ 5–10 s). Each group of tests gets its own
PostgreSQL database, Redis database and bucket prefix, so they do not see each other's jobs. The
end-to-end part runs the unchanged end-to-end test of the safe generation API against one API
process and two `sealframe worker` processes, then the faults. The object-store outage kills
SeaweedFS for good, so it runs last (tests in a module run in file order).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from safety.artifacts import ArtifactStoreError
from safety.settings import Settings
from safety.store import Asset, AuditEvent, Job, open_store
from tests.conftest import LiveServer

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = "a small red circle drifts left across a white background"
FINAL = ("succeeded", "failed", "rejected", "held", "cancelled")


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, str]]:
    folder = tempfile.mkdtemp(prefix="sealframe-stack-", dir="/tmp")
    env = {**os.environ, "SEALFRAME_STACK_DIR": folder}
    up = subprocess.run([sys.executable, str(ROOT / "scripts" / "stack"), "up"], env=env, capture_output=True,
                        text=True, timeout=180)
    try:
        assert up.returncode == 0, up.stderr
        exports = dict(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())
        yield {**exports, "SEALFRAME_STACK_DIR": folder}
    finally:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "stack"), "down"], env=env, timeout=60)


def isolated(stack: dict[str, str], name: str, redis_db: int) -> dict[str, str]:
    """The stack's settings with a database, a Redis database and a bucket prefix of their own."""
    base = stack["SEALFRAME_DATABASE_URL"]
    db = f"t_{name}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(base.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    return {**stack, "SEALFRAME_DATABASE_URL": base.rsplit("/", 1)[0] + "/" + db,
            "SEALFRAME_BROKER_URL": stack["SEALFRAME_BROKER_URL"].rsplit("/", 1)[0] + f"/{redis_db}",
            "SEALFRAME_ARTIFACTS": f"{stack['SEALFRAME_ARTIFACTS']}/{name}", "SEALFRAME_JOB_LEASE_S": "6",
            # A scaled-out deployment is sized by its operator: these tests queue 10 jobs per key
            # (the quotas themselves are tested in tests/test_security_limits.py).
            "SEALFRAME_MAX_QUEUED_JOBS_PER_KEY": "16", "SEALFRAME_MAX_QUEUED_JOBS": "64"}


def settings_of(env: dict[str, str], home: Path) -> Settings:
    fields = {k.removeprefix("SEALFRAME_").lower(): v for k, v in env.items() if k.startswith("SEALFRAME_")
              and k not in ("SEALFRAME_STACK_DIR", "SEALFRAME_GENERATOR")}
    return Settings(**{**fields, "home": home})  # type: ignore[arg-type]


class Worker:
    """A worker process (`sealframe worker`, or a script) in its own session, ready when Celery says so."""

    def __init__(self, env: dict[str, str], log: Path, argv: list[str] | None = None) -> None:
        self.log_path = log
        self.log = log.open("w")
        self.proc = subprocess.Popen(argv or [sys.executable, "-m", "safety.cli", "worker"],
                                     env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=ROOT)
        deadline = time.monotonic() + 120
        while " ready." not in log.read_text(errors="replace"):
            assert self.proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "worker not ready"
            time.sleep(0.2)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


# --- the parts, one at a time --------------------------------------------------------------------


def test_migrated_schema_on_postgresql_matches_models(stack: dict[str, str]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from safety.store import Base

    store = open_store(isolated(stack, "schema", 0)["SEALFRAME_DATABASE_URL"])
    assert store.engine.dialect.name == "postgresql"
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_audit_chain_stays_one_chain_with_concurrent_writers_on_postgresql(stack: dict[str, str],
                                                                          tmp_path: Path) -> None:
    from safety.audit import AuditKey, AuditLog
    from tests.test_audit import WORKER

    url = isolated(stack, "audit", 0)["SEALFRAME_DATABASE_URL"]
    keys = tmp_path / "keys"
    AuditKey.load_or_create(keys)
    open_store(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(keys), "40", f"w{w}"], env=env)
             for w in range(4)]
    assert [p.wait(timeout=240) for p in procs] == [0] * 4
    report = AuditLog(open_store(url), AuditKey.load_or_create(keys), 7).verify()
    assert report.ok, report.problems
    assert report.events == 160 and report.checkpoints == 160 // 7


def test_s3_store_round_trip_and_refusals(stack: dict[str, str], tmp_path: Path) -> None:
    from safety.scale import make_artifacts
    from safety.scale.s3 import S3ArtifactStore

    env = isolated(stack, "s3", 0)
    store = make_artifacts(settings_of(env, tmp_path / "home"))
    assert isinstance(store, S3ArtifactStore)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 2**20))  # above boto3's 8 MB multipart threshold
    assert store.put_file("assets/a/video.mp4", big) == "assets/a/video.mp4"
    store.put_bytes("assets/a/manifest.c2pa", b"manifest")
    assert store.get_bytes("assets/a/manifest.c2pa") == b"manifest"
    assert store.local_path("assets/a/video.mp4").read_bytes() == big.read_bytes()
    assert store.exists("assets/a/video.mp4") and not store.exists("assets/b/video.mp4")
    with pytest.raises(ArtifactStoreError, match=r"NoSuchKey|404"):
        store.get_bytes("assets/b/video.mp4")

    wrong = make_artifacts(settings_of({**env, "SEALFRAME_S3_SECRET_KEY": "not-the-secret"}, tmp_path / "h2"))
    with pytest.raises(ArtifactStoreError, match=r"403|SignatureDoesNotMatch|AccessDenied"):
        wrong.put_bytes("assets/x/manifest.c2pa", b"x")
    assert not store.exists("assets/x/manifest.c2pa")

    down = make_artifacts(settings_of({**env, "SEALFRAME_S3_ENDPOINT_URL": "http://127.0.0.1:9"}, tmp_path / "h3"))
    with pytest.raises(ArtifactStoreError, match=r"object store http://127\.0\.0\.1:9 .*cannot store"):
        down.put_bytes("assets/y/manifest.c2pa", b"y")


TRIVIAL_WORKER = """
import sys, time
from safety.settings import Settings
from safety.store import Asset, Job, open_store
from safety.scale.runner import run_worker

settings = Settings()
store = open_store(settings.db_url)

def handler(job_id):  # idempotent like the pipeline: one asset per job, derived id
    with store.session() as s:
        seconds = s.get(Job, job_id).request.get("sleep", 0.1)
    time.sleep(seconds)
    with store.session() as s:
        if s.query(Asset).filter_by(job_id=job_id).count() == 0:
            s.add(Asset(id=job_id[:16], job_id=job_id, video_key="v", manifest_key="m", manifest_id="x",
                        sha256="0" * 64, model_id="trivial"))
        s.get(Job, job_id).status = "succeeded"

run_worker(settings, lambda: handler, store, name=sys.argv[1])
"""


def test_celery_jobs_are_claimed_once_and_survive_a_killed_worker(stack: dict[str, str], tmp_path: Path) -> None:
    """A trivial handler: duplicate messages run once; a SIGKILLed worker's job finishes on the other."""
    from safety.scale.runner import CeleryRunner

    env = isolated(stack, "claims", 3)
    settings = settings_of(env, tmp_path / "home")
    store = open_store(settings.db_url)
    workers = [Worker({**env, "PYTHONPATH": str(ROOT)}, tmp_path / f"w{i}.log",
                      [sys.executable, "-c", TRIVIAL_WORKER, f"trivial{i}@test"]) for i in range(2)]
    runner = CeleryRunner(settings, store)
    try:
        ids = []
        with store.session() as s:
            for i in range(10):
                job = Job(request={"sleep": 0.05 * i})
                s.add(job)
                s.flush()
                ids.append(job.id)
        for job_id in ids + ids:  # every message twice: at-least-once delivery made into exactly-once work
            runner.submit(job_id)
        slow = Job(request={"sleep": 30})
        with store.session() as s:
            s.add(slow)
        runner.submit(slow.id)

        deadline = time.monotonic() + 90
        while True:
            with store.session() as s:
                job = s.get(Job, slow.id)
                assert job is not None
                if job.status == "running" and job.claimed_by:
                    holder = int(job.claimed_by.split(":")[1])
                    break
            assert time.monotonic() < deadline, "slow job never started"
            time.sleep(0.1)
        victim = next(w for w in workers if w.proc.pid == holder)
        victim.kill()
        with store.session() as s:  # shorten the rerun: it only has to start on the survivor
            s.get(Job, slow.id).request = {"sleep": 0.1}  # type: ignore[union-attr]

        deadline = time.monotonic() + 120
        while True:
            with store.session() as s:
                jobs = {j.id: j for j in s.query(Job).filter(Job.id.in_([*ids, slow.id]))}
            if all(j.status in FINAL for j in jobs.values()):
                break
            assert time.monotonic() < deadline, {j.id: j.status for j in jobs.values()}
            time.sleep(0.2)
        assert {j.status for j in jobs.values()} == {"succeeded"}
        assert all(jobs[i].attempts == 1 for i in ids), [jobs[i].attempts for i in ids]
        assert jobs[slow.id].attempts == 2 and str(holder) not in str(jobs[slow.id].claimed_by)
        with store.session() as s:
            assert s.query(Asset).count() == 11
    finally:
        runner.shutdown()
        for w in workers:
            w.stop()


# --- the product on the stack: API process(es) + two `sealframe worker` processes ------------------


class Deployment:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        # Every process shares one home: the same signing, watermark and audit keys.
        self.root, self.env = root, {**env, "SEALFRAME_HOME": str(root / "home")}
        self.api = LiveServer(root / "home", env=self.env)  # first: it creates the keys the workers load
        self.workers = [Worker(self.env, root / f"worker{i}.log") for i in range(2)]

    def add_worker(self) -> None:
        self.workers.append(Worker(self.env, self.root / f"worker{len(self.workers)}.log"))

    def store_jobs(self, ids: list[str]) -> dict[str, Job]:
        with open_store(self.api.db_url).session() as s:
            return {j.id: j for j in s.query(Job).filter(Job.id.in_(ids))}

    def assets(self, job_id: str) -> int:
        with open_store(self.api.db_url).session() as s:
            return s.query(Asset).filter_by(job_id=job_id).count()

    def stop(self) -> None:
        for w in self.workers:
            w.stop()
        self.api.stop()


@pytest.fixture(scope="module")
def deployment(stack: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from tests.test_e2e_api import tiny_weights

    root = tmp_path_factory.mktemp("scale")
    env = {**isolated(stack, "e2e", 1), "SEALFRAME_GENERATOR": f"stdit:{tiny_weights(root)}"}
    dep = Deployment(root, env)
    yield dep
    dep.stop()


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> LiveServer:
    return deployment.api


# The end-to-end test of the safe generation API, unchanged, on the scale-out deployment.
from tests.test_e2e_api import test_generate_verify_strip_recover_and_refuse  # noqa: E402, F401


def test_the_end_to_end_run_really_used_the_stack(deployment: Deployment) -> None:
    """The sealed video lives in the bucket (not in a folder), and a worker, not the API, sealed it."""
    from safety.scale.s3 import S3ArtifactStore

    store = open_store(deployment.api.db_url)
    assert store.engine.dialect.name == "postgresql"
    with store.session() as s:
        assets = s.query(Asset).all()
        jobs = {j.id: j for j in s.query(Job).all()}
    assert assets
    artifacts = S3ArtifactStore.from_settings(settings_of(deployment.env, deployment.root / "check-home"))
    for asset in assets:
        assert artifacts.exists(asset.video_key) and artifacts.exists(asset.manifest_key)
        holder = int(str(jobs[str(asset.job_id)].claimed_by).split(":")[1])
        assert holder in {w.proc.pid for w in deployment.workers} and holder != deployment.api.proc.pid
    assert not (deployment.root / "home" / "artifacts").exists()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def submit(api: LiveServer, key: str, **extra: object) -> str:
    body = {"prompt": ALLOWED, "frames": 8, "width": 64, "height": 64, "steps": 4, **extra}  # as the e2e test
    r = httpx.post(api.url + "/v1/generations", headers=auth(key), json=body, timeout=120)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def wait_final(dep: Deployment, ids: list[str], timeout: float = 300) -> dict[str, Job]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = dep.store_jobs(ids)
        if len(jobs) == len(ids) and all(j.status in FINAL for j in jobs.values()):
            return jobs
        assert time.monotonic() < deadline, {j.id[:8]: (j.status, j.attempts) for j in jobs.values()}
        time.sleep(0.5)


def assert_settled(dep: Deployment, jobs: dict[str, Job]) -> None:
    """Every job was taken by a worker (none lost) and ended sealed once, or failed by a stage with its reason.

    Whether a tiny random generator's clip passes the later stages (frame check, watermark read-back)
    is those stages' business; a job the infrastructure lost or interrupted is this test's.
    """
    for j in jobs.values():
        assert j.attempts >= 1, (j.id, j.status, j.error)
        if j.status == "succeeded":
            assert dep.assets(j.id) == 1
        else:
            assert j.status == "failed" and j.error, (j.id, j.status)
            assert not any(w in j.error for w in ("stopped", "interrupted", "object store")), j.error
            assert dep.assets(j.id) == 0


def test_worker_killed_mid_job_reruns_elsewhere_or_fails_with_reason(deployment: Deployment) -> None:
    key = deployment.api.key("client")
    job_id = submit(deployment.api, key, seed=3, frames=16, steps=30)
    deadline = time.monotonic() + 120
    while not ((job := deployment.store_jobs([job_id])[job_id]).status == "running" and job.claimed_by):
        assert time.monotonic() < deadline and job.status == "queued", (job.status, job.error)
        time.sleep(0.05)
    holder = int(str(job.claimed_by).split(":")[1])
    victim = next(w for w in deployment.workers if w.proc.pid == holder)
    victim.kill()
    deployment.workers.remove(victim)
    final = wait_final(deployment, [job_id])[job_id]
    assert final.status == "succeeded" or (final.status == "failed" and final.error), (final.status, final.error)
    assert deployment.assets(job_id) == (1 if final.status == "succeeded" else 0)
    if final.status == "succeeded":
        assert final.attempts == 2 and str(holder) not in str(final.claimed_by)
        got = httpx.get(f"{deployment.api.url}/v1/generations/{job_id}/video", headers=auth(key), timeout=60)
        assert got.status_code == 200 and got.content[4:8] == b"ftyp"
    deployment.add_worker()


def test_redis_restarted_mid_run_loses_no_queued_job(deployment: Deployment, stack: dict[str, str]) -> None:
    key = deployment.api.key("client")
    ids = [submit(deployment.api, key, seed=i) for i in range(6)]
    state = json.loads((Path(stack["SEALFRAME_STACK_DIR"]) / "stack.json").read_text())["redis"]
    os.kill(int(state["pid"]), signal.SIGKILL)  # everything queued in Redis is gone (no persistence)
    time.sleep(0.5)
    subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", str(state["port"]), "--save", "",
                    "--appendonly", "no", "--daemonize", "yes", "--pidfile", state["pidfile"],
                    "--dir", stack["SEALFRAME_STACK_DIR"]], check=True)
    assert_settled(deployment, wait_final(deployment, ids))


def test_fifty_jobs_from_five_clients_across_two_api_processes(deployment: Deployment) -> None:
    second = LiveServer(deployment.root / "home", env=deployment.env)
    try:
        apis = [deployment.api, second]
        keys = [deployment.api.key("client") for _ in range(5)]
        ids: list[str] = []
        lock = threading.Lock()

        def client(n: int) -> None:
            for i in range(10):
                job_id = submit(apis[(n + i) % 2], keys[n], seed=100 * n + i, steps=1)
                with lock:
                    ids.append(job_id)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(ids) == 50
        assert_settled(deployment, wait_final(deployment, ids, timeout=600))
    finally:
        second.stop()
    audit = subprocess.run([sys.executable, "-m", "safety.cli", "audit", "verify", "--json"], cwd=ROOT,
                           env={**os.environ, **deployment.env, "SEALFRAME_HOME": str(deployment.root / "home")},
                           capture_output=True, text=True, timeout=300)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert json.loads(audit.stdout)["ok"] is True


def test_object_store_unreachable_fails_closed(deployment: Deployment, stack: dict[str, str]) -> None:
    """Last: SeaweedFS is killed for good. The sealed video cannot be stored, so nothing is delivered."""
    state = json.loads((Path(stack["SEALFRAME_STACK_DIR"]) / "stack.json").read_text())["s3"]
    os.killpg(int(state["pid"]), signal.SIGKILL)
    key = deployment.api.key("client")
    job_id = submit(deployment.api, key, seed=3, frames=16, steps=60)  # a clip every stage before storing passes
    job = wait_final(deployment, [job_id])[job_id]
    assert job.status == "failed" and job.error and "object store" in job.error and "cannot store" in job.error
    assert deployment.assets(job_id) == 0
    r = httpx.get(f"{deployment.api.url}/v1/generations/{job_id}", headers=auth(key)).json()
    assert r["status"] == "failed" and r["video_url"] is None and "object store" in r["error"]
    assert httpx.get(f"{deployment.api.url}/v1/generations/{job_id}/video", headers=auth(key)).status_code == 409
    with open_store(deployment.api.db_url).session() as s:
        failed = s.query(AuditEvent).filter_by(kind="job.failed", subject=job_id).all()
    assert failed and "object store" in failed[0].payload
