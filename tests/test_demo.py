"""`sealframe demo`: a scratch home of its own by default, and honest stage lines (a miss is a miss)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from safety.demo import Stage, closing_line, prepare_scratch, scratch_settings
from safety.errors import BadInputError
from safety.settings import Settings
from tests.test_cli import run


def test_a_miss_is_printed_as_a_miss_and_a_failure_as_a_failure(tmp_path: Path) -> None:
    ok = Stage(name="verify", ok=True, summary="signed")
    miss = Stage(name="detect", ok=True, outcome="miss", summary="0.180 < threshold 0.910: MISSED")
    fail = Stage(name="tamper", ok=False, outcome="ok", summary="flipped byte not noticed")
    assert ok.line().startswith("[ok  ] verify")
    assert miss.line().startswith("[miss] detect") and "[ok" not in miss.line()
    assert fail.outcome == "fail" and fail.line().startswith("[FAIL] tamper")
    assert closing_line([ok, miss], tmp_path, 2) == f"2 stages ran: 1 ok, 1 missed (detect); files in {tmp_path}"
    assert closing_line([ok, fail], tmp_path, 9).startswith("stopped at stage 'tamper' (2 of 9 ran)")


def test_scratch_settings_ignore_the_real_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEALFRAME_DATABASE_URL", "sqlite:////nonexistent/real.db")
    monkeypatch.setenv("SEALFRAME_ARTIFACTS", str(tmp_path / "real-artifacts"))
    monkeypatch.setenv("SEALFRAME_WATERMARK_KEY", str(tmp_path / "real.key"))
    real = Settings()
    s = scratch_settings(real, tmp_path / "demo")
    assert s.db_url == f"sqlite:///{tmp_path / 'demo' / 'sealframe.db'}"
    assert s.artifacts is None and s.watermark_key is None and s.keys_dir == tmp_path / "demo" / "keys"


def test_prepare_scratch_clears_only_its_own_folder(tmp_path: Path) -> None:
    home = prepare_scratch(tmp_path / "demo")
    (home / "sealframe.db").write_bytes(b"old run")
    assert list(prepare_scratch(home).iterdir()) == [home / ".sealframe-demo"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    with pytest.raises(BadInputError, match="not a demo scratch folder"):
        prepare_scratch(mine)
    assert (mine / "thesis.tex").read_text() == "keep me"


@pytest.mark.slow
def test_demo_leaves_the_real_home_alone(tmp_path: Path, sealframe_home: Path) -> None:
    from tests.test_e2e_api import tiny_weights

    env = {"SEALFRAME_GENERATOR": f"stdit:{tiny_weights(tmp_path)}"}
    result = run("demo", "--json", home=sealframe_home, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    out = json.loads(result.stdout)
    assert out["scratch"] is True and out["home"] == str(sealframe_home / "demo")
    assert not (sealframe_home / "sealframe.db").exists() and not (sealframe_home / "keys").exists()
    assert (sealframe_home / "demo" / "sealframe.db").is_file() and (sealframe_home / "demo" / "sealed.mp4").is_file()
    stages = {s["name"]: s for s in out["stages"]}
    det = stages["detect"]["details"]
    assert stages["detect"]["outcome"] == ("ok" if det["score"] >= det["threshold"] else "miss")
    assert stages["strip"]["outcome"] == ("ok" if stages["strip"]["details"]["recovered"] else "miss")
    assert all(s["outcome"] != "fail" for s in out["stages"])
    # The queue of the real home is empty: the demo's held prompt went to the scratch one.
    listed = run("review", "list", "--json", home=sealframe_home)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
