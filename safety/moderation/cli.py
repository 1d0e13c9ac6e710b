"""`sealframe moderate TEXT` / `sealframe moderate --jsonl FILE` (registered by `safety.cli`).

JSONL in: one `{"id", "prompt"}` object per line; out: one `{"id", "action", "categories",
"reasons", "policy"}` per line, in order. A line that is not UTF-8, not JSON, or has no string
`prompt`, and a prompt the pack refuses (empty, too long, not text), gives `{"id", "error"}` for
that line and the run goes on. Exit codes follow the README: 3 when the decision is block, 5 when
it is review, 0 when allowed; with `--jsonl`, the most severe decision of the file (refused lines do
not count). An unreadable file or a bad single TEXT exits 4 with one line on stderr (raised as
`BadInputError`, mapped in `safety.cli`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from safety.errors import BadInputError

BATCH = 64
EXIT_FOR_ACTION = {"allow": 0, "review": 5, "block": 3}
_RANK = {"allow": 0, "review": 1, "block": 2}


def _format(decision: Any) -> str:
    top = sorted(((s, c) for c, s in decision.categories.items() if s >= 0.01), reverse=True)[:4]
    scores = ", ".join(f"{c} {s:.2f}" for s, c in top) or "no category scored"
    lines = [f"{decision.action.upper()}  ({scores})", f"  policy:     {decision.policy}",
             f"  normalized: {decision.normalized}"]
    lines += [f"  - {r}" for r in decision.reasons]
    return "\n".join(lines)


def _records(path: Path) -> Iterator[tuple[str, str | None, str | None]]:
    """(id, prompt, error) per non-blank line; never raises for a bad line."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    with fh:
        for n, raw in enumerate(fh, start=1):
            line_id = f"line-{n}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield line_id, None, f"line {n}: not valid UTF-8 (byte {exc.start})"
                continue
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line_id, None, f"line {n}: not valid JSON ({exc.msg}, column {exc.colno})"
                continue
            if not isinstance(obj, dict):
                yield line_id, None, f"line {n}: expected a JSON object with 'prompt'"
                continue
            rid = obj.get("id", line_id)
            rid = rid if isinstance(rid, str | int) and not isinstance(rid, bool) else line_id
            prompt = obj.get("prompt")
            if not isinstance(prompt, str):
                yield str(rid), None, f"line {n}: 'prompt' must be a string"
                continue
            yield str(rid), prompt, None


def run_jsonl(moderator: Any, path: Path) -> tuple[int, int, str]:
    """Write one result line per record to stdout; returns (decisions, errors, most severe action)."""
    done = errors = 0
    worst = "allow"
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        nonlocal done, errors, worst
        if not pending:
            return
        results = moderator.moderate_batch([p for _, p in pending])
        for (rid, _), res in zip(pending, results, strict=True):
            if isinstance(res, BadInputError):
                errors += 1
                out: dict[str, Any] = {"id": rid, "error": str(res)}
            else:
                done += 1
                if _RANK[res.action] > _RANK[worst]:
                    worst = res.action
                out = {"id": rid, "action": res.action, "categories": res.categories,
                       "reasons": list(res.reasons), "policy": res.policy}
            typer.echo(json.dumps(out, ensure_ascii=False))
        pending.clear()

    for rid, prompt, error in _records(path):
        if error is not None or prompt is None:
            flush()
            errors += 1
            typer.echo(json.dumps({"id": rid, "error": error}, ensure_ascii=False))
            continue
        pending.append((rid, prompt))
        if len(pending) >= BATCH:
            flush()
    flush()
    return done, errors, worst


def moderate_cmd(
    text: Annotated[str | None, typer.Argument(help="The prompt to moderate.", show_default=False)] = None,
    jsonl: Annotated[
        Path | None, typer.Option("--jsonl", help='JSONL file of {"id", "prompt"}; one result line per prompt.')
    ] = None,
    policy: Annotated[Path | None, typer.Option("--policy", help="Policy pack YAML (default: settings).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Moderate a prompt (or a JSONL file of prompts): allow, review or block, with reasons."""
    from safety.moderation.moderator import Moderator, load_pack
    from safety.settings import get_settings

    if (text is None) == (jsonl is None):
        raise typer.BadParameter("give either TEXT or --jsonl FILE")
    pack = load_pack(policy if policy is not None else get_settings().policy)
    if jsonl is not None and not jsonl.is_file():
        raise BadInputError(f"cannot read {jsonl}: no such file")
    moderator = Moderator(pack)
    if jsonl is not None:
        done, errors, worst = run_jsonl(moderator, jsonl)
        typer.echo(f"{done} decided, {errors} refused", err=True)
        if EXIT_FOR_ACTION[worst]:
            raise typer.Exit(EXIT_FOR_ACTION[worst])
        return
    assert text is not None
    decision = moderator.moderate(text)
    if as_json:
        typer.echo(json.dumps(decision.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        typer.echo(_format(decision))
    if EXIT_FOR_ACTION[decision.action]:
        raise typer.Exit(EXIT_FOR_ACTION[decision.action])
