"""Property-based conformance of the HTTP API to its own OpenAPI document (schemathesis).

schemathesis generates valid and invalid requests for every operation and checks the responses: no
5xx, only documented status codes, and content types, headers and bodies that match the schema.
It runs as its own CLI (`st run`) against a live server: its pytest plugin does not load under
pytest 9 (`Function._nodeid`), and the CLI is the same engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.test_e2e_api import tiny_weights

pytestmark = pytest.mark.slow

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])


def test_api_conforms_to_its_openapi(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "home", env={"SEALFRAME_GENERATOR": f"stdit:{tiny_weights(tmp_path)}"})
    try:
        key = server.key("admin", rate_limit=1_000_000)
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(
            [str(st), "run", f"{server.url}/openapi.json", "-H", f"Authorization: Bearer {key}",
             "--checks", CHECKS, "--max-examples", "8", "--seed", "20261126", "--workers", "1",
             "--phases", "examples,coverage,fuzzing", "--request-timeout", "120"],
            capture_output=True, text=True, timeout=900,
        )
    finally:
        server.stop()
    (tmp_path.parent / "schemathesis.txt").write_text(result.stdout + result.stderr)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout.lower(), report
