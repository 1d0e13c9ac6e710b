"""`sealframe review`: a held prompt is listed, decided from the command line and sealed; same audit log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from safety.cli import main
from tests.test_cli import run

HELD = "Mickey Mouse dancing in Times Square"


def hold(home: Path, tmp_path: Path, name: str = "held.mp4") -> tuple[str, str]:
    """Generate a held prompt; returns (job id, review item id) from the one-line message."""
    held = run("generate", HELD, "-o", str(tmp_path / name), "--frames", "8", home=home)
    assert held.returncode == 5, held.stderr
    line = held.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    m = re.search(r"job ([0-9a-f]{32}), review item ([0-9a-f]{32}): decide with `sealframe review approve \2 "
                  r"--reason '…'`", line)
    assert m, line
    assert not (tmp_path / name).exists()
    return m.group(1), m.group(2)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI in this process (the commands that load no model): (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_hold_list_approve_seals_and_chain_verifies(tmp_path: Path, sealframe_home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    job, item = hold(sealframe_home, tmp_path)

    code, out, err = cli(capsys, "review", "list", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["id"], r["job"], r["status"]) for r in rows] == [(item, job, "pending")]
    assert rows[0]["top_category"] == "intellectual_property" and rows[0]["prompt"] == HELD
    human = cli(capsys, "review", "list")[1]
    assert item in human and "intellectual_property" in human

    code, out, _ = cli(capsys, "review", "show", job)  # a job id finds its item too
    assert code == 0 and f"review item {item} (prompt, pending)" in out

    out = tmp_path / "approved.mp4"
    code, out_text, err = cli(capsys, "review", "approve", item, "--reason", "licensed parody", "-o", str(out),
                              "--json")
    assert code == 0, err
    result = json.loads(out_text)
    assert result["status"] == "approved" and result["job_status"] == "succeeded" and result["asset"]

    report = json.loads(cli(capsys, "inspect", str(out), "--json")[1])
    assert report["state"] == "trusted"
    assert report["digital_source_type"].endswith("trainedAlgorithmicMedia")

    assert json.loads(cli(capsys, "review", "list", "--json")[1]) == []
    decided = json.loads(cli(capsys, "review", "list", "--status", "approved", "--json")[1])
    assert [(r["id"], r["reason"], r["reviewer"].startswith("cli:")) for r in decided] == [
        (item, "licensed parody", True)]

    code, _, err = cli(capsys, "audit", "verify", "--json")
    assert code == 0, err
    exported = json.loads(cli(capsys, "audit", "export")[1])
    kinds = [e["kind"] for e in exported]
    assert kinds.index("job.held") < kinds.index("review.approved") < kinds.index("asset.sealed")
    review_event = next(e for e in exported if e["kind"] == "review.approved")
    payload = review_event["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    assert payload["item"] == item and payload["job"] == job and payload["reason"] == "licensed parody"

    code, _, err = cli(capsys, "review", "approve", item, "--reason", "twice")
    assert code == 4 and "already approved" in err


@pytest.mark.slow
def test_reject_closes_the_job_and_bad_ids_are_one_line(tmp_path: Path, sealframe_home: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    job, item = hold(sealframe_home, tmp_path)
    code, out, err = cli(capsys, "review", "reject", job, "--reason", "not licensed", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert (got["id"], got["status"], got["job"], got["asset"]) == (item, "rejected", job, None)
    from safety.api.state import AppState
    from safety.settings import get_settings
    from safety.store import Job

    state = AppState(get_settings())
    with state.store.session() as s:
        assert s.get(Job, job).status == "rejected"
    assert cli(capsys, "audit", "verify")[0] == 0

    for args, fragment in [(("show", "zz"), "not a review item or job id"),
                           (("show", "0" * 32), "no review item or held job"),
                           (("approve", item, "--reason", "  "), "--reason is required"),
                           (("list", "--status", "maybe"), "--status must be one of")]:
        code, _, err = cli(capsys, "review", *args)
        assert code == 4, (args, err)
        assert err.strip().splitlines() == [err.strip()] and fragment in err
    assert cli(capsys, "review", "approve", item)[0] == 2  # --reason is required: usage


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from safety import __version__

    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"sealframe {__version__}"


def test_progress_bar_only_at_a_terminal_and_never_under_json(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from safety import progress

    with progress.progress_bar("generating"):  # stderr is not a terminal here
        assert progress._reporter.get() is None
        progress.report("sampling", 1, 2)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress.progress_bar("generating", enabled=False):  # --json
        assert progress._reporter.get() is None
    with progress.progress_bar("generating"):
        assert progress._reporter.get() is not None
        progress.report("sampling", 2, 4)
    assert progress._reporter.get() is None
    assert capsys.readouterr().out == ""  # the bar never writes to stdout (where --json output goes)
