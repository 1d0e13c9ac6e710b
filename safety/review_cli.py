"""`sealframe review`: the review queue from the command line.

The same calls as the dashboard and `/v1/review-queue`: decisions go through
`SafeGenerationPipeline.review` and into the same audit log (`review.approved` / `review.rejected`),
so a queue decided here looks the same on the dashboard. An approved prompt is generated and sealed
at once (in-process jobs) or queued for the workers (`SEALFRAME_JOBS=celery`).

IDs: a review item id or the id of the job it holds (both 32 hex digits), as printed by a held
`sealframe generate`.
"""

from __future__ import annotations

import getpass
import re
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from safety.errors import BadInputError, SealFrameError

review_app = typer.Typer(help="The review queue: held prompts and quarantined outputs.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
IdArg = Annotated[str, typer.Argument(help="Review item id or job id (32 hex digits).", show_default=False)]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (required; it goes into the audit log).")]
STATUSES = ("pending", "approved", "rejected")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class NotFoundError(SealFrameError):
    """No review item with that id (exit 4, like any bad argument)."""

    exit_code = 4
    http_status = 404


def reviewer_id() -> str:
    """Who decided, for the audit log: the operating-system user at the command line."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        user = "unknown"
    return f"cli:{user}"[:32]


def decide_command(item_id: str, action: str = "approve") -> str:
    """The command that decides `item_id` (what a held generation prints)."""
    return f"sealframe review {action} {item_id} --reason '…'"


def _echo(data: dict[str, Any] | list[Any], as_json: bool, human: str) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str) if as_json else human)


def _state() -> Any:
    from safety.api.state import AppState
    from safety.settings import get_settings

    return AppState(get_settings())


def _row(item: Any, d: Any) -> dict[str, Any]:
    cats = sorted(((k, float(v)) for k, v in (d.categories if d else {}).items()), key=lambda kv: -kv[1])
    return {"id": item.id, "kind": item.kind, "status": item.status, "job": item.job_id,
            "created_at": item.created_at.isoformat() if item.created_at else None,
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
            "reviewer": item.reviewer_key_id, "reason": item.reason,
            "prompt": d.prompt if d else None, "action": d.action if d else None,
            "policy": d.policy if d else None, "reasons": list(d.reasons) if d else [],
            "categories": dict(cats), "top_category": cats[0][0] if cats and cats[0][1] > 0 else None}


def find_item(state: Any, ident: str) -> tuple[Any, Any]:
    """(ReviewItem, Decision) for an item id or a job id; the pending item first for a job."""
    from sqlalchemy import select

    from safety.store import Decision, ReviewItem

    ident = ident.strip().lower()
    if not _HEX32.match(ident):
        raise BadInputError(f"{ident!r} is not a review item or job id (32 hex digits)")
    with state.store.session() as s:
        item = s.get(ReviewItem, ident)
        if item is None:
            item = s.execute(select(ReviewItem).where(ReviewItem.job_id == ident)
                             .order_by((ReviewItem.status == "pending").desc(), ReviewItem.created_at.desc())
                             ).scalars().first()
        if item is None:
            raise NotFoundError(f"no review item or held job {ident}")
        return item, s.get(Decision, item.decision_id)


def _summary_line(r: dict[str, Any]) -> str:
    top = f"{r['top_category']} {r['categories'][r['top_category']]:.2f}" if r["top_category"] else "no category"
    prompt = (r["prompt"] or "").replace("\n", " ")
    prompt = prompt if len(prompt) <= 60 else prompt[:59] + "…"
    return f"{r['id']}  {r['kind']:<6s} {r['created_at'][:19]}  {top:<28s} {prompt!r}"


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="pending, approved or rejected.")] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many items.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Items in the queue, oldest first (decided ones: newest first), with each one's top category."""
    from sqlalchemy import select

    from safety.store import Decision, ReviewItem

    if status not in STATUSES:
        raise BadInputError(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    state = _state()
    order = ReviewItem.created_at if status == "pending" else ReviewItem.decided_at.desc()
    with state.store.session() as s:
        rows = [_row(item, d) for item, d in s.execute(
            select(ReviewItem, Decision).outerjoin(Decision, Decision.id == ReviewItem.decision_id)
            .where(ReviewItem.status == status).order_by(order).limit(limit)).all()]
    if not rows:
        human = f"no {status} review items"
    else:
        human = "\n".join([f"{len(rows)} {status} item(s):"] + [_summary_line(r) for r in rows])
        if status == "pending":
            human += f"\ndecide with: {decide_command('ID')}  (or: sealframe review reject ID --reason '…')"
    _echo(rows, as_json, human)


@review_app.command("show")
def review_show(ident: IdArg, as_json: JsonOpt = False) -> None:
    """One item: its prompt, its category scores (highest first), its state and how to decide it."""
    state = _state()
    item, d = find_item(state, ident)
    r = _row(item, d)
    lines = [f"review item {r['id']} ({r['kind']}, {r['status']})", f"  job:      {r['job']}",
             f"  created:  {r['created_at']}", f"  prompt:   {r['prompt']!r}", f"  policy:   {r['policy']}"]
    if r["categories"]:
        lines.append("  scores (highest first):")
        lines += [f"    {k:<28s} {v:.2f}" for k, v in r["categories"].items() if v > 0][:8]
    lines += [f"  - {reason}" for reason in r["reasons"]]
    if r["status"] == "pending":
        lines.append(f"  decide:   {decide_command(r['id'])}")
        lines.append(f"            {decide_command(r['id'], 'reject')}")
    else:
        lines.append(f"  decided:  {r['decided_at']} by {r['reviewer']}: {r['reason']!r}")
    _echo(r, as_json, "\n".join(lines))


def _decide(ident: str, approve: bool, reason: str, output: Path | None, as_json: bool) -> None:
    from safety.errors import HeldForReview

    text = reason.strip()
    if not text or len(text) > 2000:
        raise BadInputError("--reason is required (1 to 2000 characters); it goes into the audit log")
    if output is not None and not output.parent.is_dir():
        raise BadInputError(f"{output}: output folder {output.parent} does not exist")
    state = _state()
    item, _ = find_item(state, ident)
    try:
        item, run = state.pipeline.review(item.id, approve, reviewer_id(), text)
    except ValueError as exc:
        raise BadInputError(f"review item {item.id}: {exc}") from None
    result: dict[str, Any] = {"id": item.id, "status": item.status, "job": item.job_id, "asset": None,
                              "reviewer": item.reviewer_key_id}
    human = f"{item.status} review item {item.id} (job {item.job_id})"
    if run is not None and state.settings.jobs == "celery":
        state.runner.submit(run)
        result["job_status"] = "queued"
        human += "; job queued for the workers"
    elif run is not None:
        from safety.progress import progress_bar

        with progress_bar("generating and sealing the approved prompt", enabled=not as_json):
            asset = state.pipeline.run_job(run)
        if asset is None:
            from sqlalchemy import select

            from safety.store import ReviewItem

            with state.store.session() as s:
                again = s.execute(select(ReviewItem.id).where(ReviewItem.job_id == run,
                                                              ReviewItem.status == "pending")).scalar()
            raise HeldForReview(f"generated, but the output was quarantined by the frame safety check: review item "
                                f"{again}; decide with: {decide_command(str(again))}", job_id=run)
        result.update(job_status="succeeded", asset=asset.id, manifest_id=asset.manifest_id)
        human += f"; generated and sealed as asset {asset.id} (manifest {asset.manifest_id})"
        if output is not None:
            tmp = output.with_name(f".{output.name}.part")
            shutil.copyfile(state.artifacts.local_path(asset.video_key), tmp)
            tmp.replace(output)
            result["output"] = str(output)
            human += f"\nwrote {output}"
    _echo(result, as_json, human)


OutputOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write the sealed MP4 here too.")]


@review_app.command("approve")
def review_approve(ident: IdArg, reason: ReasonOpt, output: OutputOpt = None, as_json: JsonOpt = False) -> None:
    """Approve: a held prompt is generated and sealed; a quarantined output is sealed as it is."""
    _decide(ident, True, reason, output, as_json)


@review_app.command("reject")
def review_reject(ident: IdArg, reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """Reject: the job is closed as rejected; nothing is generated or delivered."""
    _decide(ident, False, reason, None, as_json)


def held_item(state: Any, exc: Any) -> str | None:
    """The pending review item that holds the job of a `HeldForReview`, if any."""
    from sqlalchemy import select

    from safety.store import ReviewItem

    job = getattr(exc, "job_id", None)
    if not job:
        return None
    with state.store.session() as s:
        found: str | None = s.execute(select(ReviewItem.id).where(ReviewItem.job_id == job,
                                                                  ReviewItem.status == "pending")
                                      .order_by(ReviewItem.created_at.desc())).scalars().first()
    return found


def held_message(state: Any, exc: Any) -> str:
    """A held generation's line: why, the job, the review item and the commands that decide it."""
    item = held_item(state, exc)
    if item is None:
        return str(exc)
    return (f"{exc}; job {exc.job_id}, review item {item}: decide with `{decide_command(item)}` "
            f"or `{decide_command(item, 'reject')}`")
