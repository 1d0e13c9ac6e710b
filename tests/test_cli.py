"""The `sealframe` command line, run as a real process: exit codes and one-line errors (DESIGN)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import crafted_20000_header, png_renamed_mp4


def run(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SEALFRAME_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "safety.cli", *args], capture_output=True, text=True, env=full_env, timeout=120
    )


def assert_bad_input(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 4, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_keys_sign_inspect_trusted_then_valid(tmp_path: Path, mp4: Path, sealframe_home: Path) -> None:
    init = run("keys", "init", "--json", home=sealframe_home)
    assert init.returncode == 0, init.stderr
    paths = json.loads(init.stdout)
    assert Path(paths["signer_key"]).stat().st_mode & 0o777 == 0o600

    out = tmp_path / "signed.mp4"
    assertion = tmp_path / "extra.json"
    assertion.write_text(json.dumps({"label": "com.example.review", "data": {"reviewer": "qa"}}))
    signed = run("sign", str(mp4), str(out), "--assertion-file", str(assertion), "--json", home=sealframe_home)
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["manifest_bytes"] > 1000

    report = json.loads(run("inspect", str(out), "--json", home=sealframe_home).stdout)
    assert report["state"] == "trusted"
    assert "com.example.review" in report["assertions"]
    assert report["digital_source_type"].endswith("trainedAlgorithmicMedia")

    other = run("keys", "init", "--dir", str(tmp_path / "other"), "--json", home=sealframe_home)
    other_root = str(tmp_path / "other" / "root-ca.pem")
    assert other.returncode == 0, other.stderr
    untrusted = run("inspect", str(out), "--json", home=sealframe_home, env={"SEALFRAME_TRUST_ANCHORS": other_root})
    assert json.loads(untrusted.stdout)["state"] == "valid"
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    refused = run("inspect", str(out), "--json", home=sealframe_home, env={"SEALFRAME_TRUST_ANCHORS": str(empty)})
    assert refused.returncode == 4 and "no readable PEM certificate" in refused.stderr

    human = run("inspect", str(out), home=sealframe_home)
    assert human.returncode == 0 and "provenance: trusted" in human.stdout


def _truncated(tmp_path: Path, mp4: Path) -> Path:
    p = tmp_path / "truncated.mp4"
    p.write_bytes(mp4.read_bytes()[:1500])
    return p


def _text(tmp_path: Path, mp4: Path) -> Path:
    p = tmp_path / "notes.mp4"
    p.write_text("minutes of the meeting\n" * 50)
    return p


def _empty(tmp_path: Path, mp4: Path) -> Path:
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    return p


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_empty, "empty file"),
        (_truncated, "not a readable video"),
        (lambda tmp, _: png_renamed_mp4(tmp), "not an accepted video container"),
        (_text, "not a readable video"),
        (lambda tmp, _: crafted_20000_header(tmp), "frame size"),
        (lambda tmp, _: tmp / "does-not-exist.mp4", "no such file"),
    ],
    ids=["empty", "truncated", "png-renamed", "text", "crafted-20000", "missing"],
)
@pytest.mark.parametrize("command", ["inspect", "sign"])
def test_bad_media_exits_4(tmp_path: Path, mp4: Path, sealframe_home: Path, make, fragment: str, command: str) -> None:  # type: ignore[no-untyped-def]
    bad = make(tmp_path, mp4)
    args = [command, str(bad)] + ([str(tmp_path / "out.mp4")] if command == "sign" else [])
    assert_bad_input(run(*args, home=sealframe_home), fragment)
    assert not (tmp_path / "out.mp4").exists()


def test_output_in_missing_folder_exits_4(tmp_path: Path, mp4: Path, sealframe_home: Path) -> None:
    result = run("sign", str(mp4), str(tmp_path / "nope" / "out.mp4"), home=sealframe_home)
    assert_bad_input(result, "does not exist")


def test_missing_and_wrong_passphrase_keys_exit_4(tmp_path: Path, mp4: Path, sealframe_home: Path) -> None:
    out = tmp_path / "out.mp4"
    missing = run("sign", str(mp4), str(out), home=sealframe_home,
                  env={"SEALFRAME_SIGNING_KEY": str(tmp_path / "gone.key"),
                       "SEALFRAME_SIGNING_CHAIN": str(tmp_path / "gone.pem")})
    assert_bad_input(missing, "not found")

    locked = {"SEALFRAME_KEY_PASSPHRASE": "right one"}
    assert run("keys", "init", home=sealframe_home, env=locked).returncode == 0
    wrong = run("sign", str(mp4), str(out), home=sealframe_home, env={"SEALFRAME_KEY_PASSPHRASE": "wrong"})
    assert_bad_input(wrong, "wrong passphrase")
    none = run("sign", str(mp4), str(out), home=sealframe_home)
    assert_bad_input(none, "encrypted")
    assert not out.exists()
    ok = run("sign", str(mp4), str(out), home=sealframe_home, env=locked)
    assert ok.returncode == 0, ok.stderr


def test_bad_assertion_file_and_payload_exit_4(tmp_path: Path, mp4: Path, sealframe_home: Path) -> None:
    broken = tmp_path / "a.json"
    broken.write_text("{not json")
    out = str(tmp_path / "o.mp4")
    assert_bad_input(run("sign", str(mp4), out, "--assertion-file", str(broken), home=sealframe_home), "JSON")
    assert_bad_input(run("sign", str(mp4), out, "--watermark-payload", "zz", home=sealframe_home), "hex")


def test_usage_errors_exit_2(sealframe_home: Path) -> None:
    assert run("no-such-command", home=sealframe_home).returncode == 2
    assert run("inspect", home=sealframe_home).returncode == 2


def test_help_lists_commands(sealframe_home: Path) -> None:
    result = run("--help", home=sealframe_home)
    assert result.returncode == 0
    for command in ("keys", "sign", "inspect", "demo"):
        assert command in result.stdout


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path, sealframe_home: Path) -> None:
    from tests.test_e2e_api import tiny_weights

    env = {"SEALFRAME_GENERATOR": f"stdit:{tiny_weights(tmp_path)}"}
    result = run("demo", "--out", str(tmp_path / "demo"), "--json", home=sealframe_home, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    stages = {s["name"]: s for s in json.loads(result.stdout)["stages"]}
    assert list(stages) == ["moderate", "keys", "generate", "inspect", "verify", "tamper", "strip", "audit", "detect"]
    assert all(s["ok"] for s in stages.values()), stages
    assert stages["inspect"]["details"]["state"] == "trusted"
    assert stages["verify"]["details"]["verdict"] == "ai_generated_signed"
    assert stages["tamper"]["details"]["state"] == "tampered"
    assert stages["strip"]["details"]["verdict"] == "ai_generated_watermarked"
    assert stages["strip"]["details"]["recovered"] is True
    assert stages["strip"]["details"]["provenance"]["state"] == "absent"
    assert stages["audit"]["details"]["ok"] is True
    assert 0.0 <= stages["detect"]["details"]["score"] <= 1.0
