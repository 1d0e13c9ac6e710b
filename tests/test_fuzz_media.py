"""Mutated videos (made here from our own clips, deterministically) get a report or a clear 4xx, never a 5xx.

The corpus generator and the worker are `benchmarks/fuzz_media.py` (which also runs the large
corpus and prints its table); tests/fixtures/fuzz holds mutants that once broke a parser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.fuzz_media import MUTATIONS, make_corpus, make_seeds, run_corpus
from tests.conftest import LiveServer

FIXTURES = Path(__file__).parent / "fixtures" / "fuzz"
PER_MUTATION = 2
AS_LIMIT = 6 << 30  # per worker; its peak RSS is asserted separately
PEAK_RSS_MB = 1500


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[tuple[Path, str]]]]:
    root = tmp_path_factory.mktemp("fuzz")
    home = root / "home"
    old = os.environ.get("SEALFRAME_HOME")
    os.environ["SEALFRAME_HOME"] = str(home)
    from safety.settings import get_settings

    get_settings.cache_clear()
    try:
        seeds = make_seeds(root / "seeds")
    finally:
        if old is None:
            os.environ.pop("SEALFRAME_HOME", None)
        else:
            os.environ["SEALFRAME_HOME"] = old
        get_settings.cache_clear()
    files = make_corpus(seeds, root / "corpus", PER_MUTATION * len(MUTATIONS), seed=1)
    files += [(p, "regression") for p in sorted(FIXTURES.glob("*")) if p.suffix in (".mp4", ".avi")]
    yield home, files


@pytest.mark.slow
def test_mutants_never_cause_an_internal_error(corpus: tuple[Path, list[tuple[Path, str]]]) -> None:
    home, files = corpus
    env = {**os.environ, "SEALFRAME_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    summary = run_corpus(files, env, timeout=60.0, as_limit=AS_LIMIT)
    assert summary["files"] == len(files)
    assert summary["failures"] == [], summary["failures"]
    assert set(summary["by_class"]) <= {"report", "refused"}
    assert all(r["status"] in (413, 415, 422) for r in summary["rows"] if r["class"] == "refused"), summary["statuses"]
    assert all("\n" not in r.get("reason", "") for r in summary["rows"])
    assert summary["peak_rss_mb"] < PEAK_RSS_MB


@pytest.mark.slow
def test_mutants_over_http_are_4xx_or_reports(corpus: tuple[Path, list[tuple[Path, str]]]) -> None:
    home, files = corpus
    srv = LiveServer(home.parent / "http-home")
    try:
        key = srv.key("client")
        statuses = []
        for path, _ in files[:: max(1, len(files) // 10)]:
            r = httpx.post(srv.url + "/v1/verifications", headers={"Authorization": f"Bearer {key}"},
                           files={"file": (path.name, path.read_bytes(), "video/mp4")}, timeout=120)
            statuses.append(r.status_code)
            assert r.status_code < 500, (path.name, r.text)
            assert r.status_code == 200 or "detail" in r.json()
    finally:
        srv.stop()
    assert statuses
