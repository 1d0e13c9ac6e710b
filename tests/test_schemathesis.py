"""Property-based conformance of the HTTP API to its own OpenAPI document (schemathesis).

Every operation gets generated requests, valid and invalid; the checks are schemathesis' defaults:
no 5xx, documented status codes, content types, headers and response bodies that match the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.conftest import LiveServer
from tests.test_e2e_api import tiny_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def st_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("schemathesis")
    srv = LiveServer(root / "home", env={"SEALFRAME_GENERATOR": f"stdit:{tiny_weights(root)}"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(st_server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(st_server.url + "/openapi.json")


@pytest.fixture(scope="module")
def admin_key(st_server: LiveServer) -> str:
    return st_server.key("admin", rate_limit=1_000_000)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case: schemathesis.Case, admin_key: str, tmp_path: Path) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_key}"}, timeout=120)
