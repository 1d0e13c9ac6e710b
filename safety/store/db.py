"""Engine, sessions and migrations. SQLite in WAL mode by default, PostgreSQL by URL.

`open_store(url)` migrates the database to the newest Alembic revision before handing out
sessions, so a fresh home folder and an old database both end up on the same schema.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from safety.errors import SealFrameError

MIGRATIONS = Path(__file__).with_name("migrations")


class StoreError(SealFrameError):
    """The database cannot be opened or migrated."""

    exit_code = 1
    http_status = 503


@dataclass(frozen=True)
class Store:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_path(url: str) -> Path | None:
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    return Path(path) if path and path != ":memory:" else None


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created 0600 before SQLite opens it: the database holds prompts and key hashes.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            with suppress(PermissionError):  # a database made before this rule, or owned by another user
                path.chmod(0o600)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Upgrade to the newest revision; concurrent first starts take turns (no "table already exists")."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock around migrations: a lock file beside SQLite, an advisory lock on PostgreSQL."""
    path = _sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is not None:
        fd = os.open(path.with_name(path.name + ".migrate.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_advisory_lock({0x5345414C})"))
            try:
                yield
            finally:
                conn.execute(text(f"SELECT pg_advisory_unlock({0x5345414C})"))
                conn.commit()
    else:
        yield


def check_database(store: Store) -> str | None:
    """None when the database answers and is consistent, else the reason (for readiness probes)."""
    try:
        with store.engine.connect() as conn:
            if store.is_sqlite:
                rows = conn.execute(text("PRAGMA quick_check")).scalars().all()
                if rows != ["ok"]:
                    return f"database integrity check failed: {str(rows[0])[:200] if rows else 'no answer'}"
            else:
                conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        return f"database unavailable: {type(exc).__name__}"
    return None


@lru_cache(maxsize=4)
def open_store(url: str) -> Store:
    try:
        engine = make_engine(url)
        migrate(engine)
    except SealFrameError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open database {url.split('@')[-1]}: {type(exc).__name__}: {exc}") from None
    return Store(url=url, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))
