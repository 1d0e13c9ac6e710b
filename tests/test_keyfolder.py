"""Processes starting at once on a fresh home create one set of keys and all use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import hashlib, sys
from pathlib import Path
from safety.audit import AuditKey
from safety.provenance import credentials_from_settings
from safety.settings import Settings
from safety.watermark import load_or_create_key
s = Settings(home=Path(sys.argv[1]))
creds = credentials_from_settings(s)
print(hashlib.sha256(creds.chain_pem + (creds.private_key_pem or b"")).hexdigest(),
      AuditKey.load_or_create(s.keys_dir).key_id, hashlib.sha256(load_or_create_key(s)).hexdigest())
"""


def test_concurrent_first_starts_share_one_set_of_keys(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "home")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    lines = {out.strip() for out, _ in outs}
    assert len(lines) == 1, lines
