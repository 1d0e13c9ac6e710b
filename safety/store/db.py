"""Engine, sessions and migrations. SQLite in WAL mode by default, PostgreSQL by URL.

`open_store(url)` migrates the database to the newest Alembic revision before handing out
sessions, so a fresh home folder and an old database both end up on the same schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
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


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


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
