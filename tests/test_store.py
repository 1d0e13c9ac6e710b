"""The store: Alembic migrations produce exactly the models' schema; API keys are hashed at rest."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from safety.errors import BadInputError
from safety.store import Asset, Base, open_store
from safety.store.apikeys import create_api_key, find_api_key, revoke_api_key


def test_migrated_schema_matches_models(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    open_store(f"sqlite:///{db}")
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_an_existing_database_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    secret, _ = create_api_key(open_store(url), "client", "first")
    open_store.cache_clear()
    assert find_api_key(open_store(url), secret) is not None


def test_api_keys_are_hashed_shown_once_and_revocable(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = open_store(f"sqlite:///{db}")
    secret, row = create_api_key(store, "moderator", "alice")
    assert secret.startswith("sf_") and len(secret) > 40
    raw = db.read_bytes() + (tmp_path / "k.db-wal").read_bytes()
    assert secret.encode() not in raw
    found = find_api_key(store, secret)
    assert found is not None and found.role == "moderator"
    assert find_api_key(store, secret + "x") is None
    assert find_api_key(store, "not-a-key") is None
    assert revoke_api_key(store, row.id)
    assert find_api_key(store, secret) is None
    assert not revoke_api_key(store, row.id)
    with pytest.raises(BadInputError, match="unknown role"):
        create_api_key(store, "superuser", "mallory")


def test_one_asset_per_job(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    fields = dict(job_id="job1", video_key="v", manifest_key="m", manifest_id="urn:c2pa:x", sha256="0" * 64,
                  model_id="stdit")
    with store.session() as s:
        s.add(Asset(id="a1", **fields))
    with pytest.raises(IntegrityError), store.session() as s:
        s.add(Asset(id="a2", **fields))
