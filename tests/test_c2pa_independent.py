"""Our sealed clips checked by an independent C2PA implementation: @trustnxt/c2pa-ts (TypeScript).

Runs where Node.js and the npm package are present (`npm install @trustnxt/c2pa-ts` in a folder
named by SEALFRAME_C2PA_TS_DIR); skips otherwise. The validator script is scripts/c2pa_ts_validate.mjs.
c2pa-ts does not check the chain of trust, so only integrity (hashes, signature) is compared here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from safety.provenance import ManifestSpec, init_dev_keys, load_credentials, read_provenance, sign_file

SCRIPT = Path(__file__).parents[1] / "scripts" / "c2pa_ts_validate.mjs"
TS_DIR = Path(os.environ.get("SEALFRAME_C2PA_TS_DIR", "/nonexistent"))
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (TS_DIR / "node_modules" / "@trustnxt" / "c2pa-ts").is_dir(),
    reason="needs node and @trustnxt/c2pa-ts installed under $SEALFRAME_C2PA_TS_DIR",
)


def c2pa_ts(path: Path) -> dict[str, Any]:
    assert NODE is not None
    proc = subprocess.run([NODE, "--input-type=module", "-", str(path)], input=SCRIPT.read_text(), cwd=TS_DIR,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_sealed_clip_is_valid_for_c2pa_ts_and_a_flipped_byte_is_not(tmp_path: Path, mp4: Path) -> None:
    keys = init_dev_keys(tmp_path / "keys")
    creds = load_credentials(keys.signer_key, keys.signer_chain)
    spec = ManifestSpec(title="clip", model_id="stdit-test", watermark_payload=bytes.fromhex("0102030405060708"))
    sealed = sign_file(mp4, tmp_path / "sealed.mp4", spec, creds)
    assert read_provenance(sealed.path, keys.root_cert.read_bytes()).state == "trusted"
    ours = c2pa_ts(sealed.path)
    assert ours["found"] and ours["isValid"], ours
    assert "+assertion.bmffHash.match" in ours["codes"] and "+claimSignature.validated" in ours["codes"]

    resigned = sign_file(sealed.path, tmp_path / "resigned.mp4", ManifestSpec(title="again"), creds)
    again = c2pa_ts(resigned.path)
    assert again["found"] and again["isValid"], again

    data = bytearray(sealed.path.read_bytes())
    data[data.find(b"mdat") + 100] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    verdict = c2pa_ts(tampered)
    assert verdict["found"] and not verdict["isValid"]
    assert "-assertion.bmffHash.mismatch" in verdict["codes"]
