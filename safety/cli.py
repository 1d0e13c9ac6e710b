"""`sealframe`: the command line over the same stages the API uses.

Conventions (DESIGN): every command takes `--json`; exit 0 success, 2 usage, 3 blocked by policy,
4 bad input, 5 held for review, 6 audit chain broken; an error is one line on stderr, never a
traceback. `main()` is the only place exceptions become exit codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from safety.errors import BadInputError, SealFrameError
from safety.settings import Settings, get_settings

app = typer.Typer(
    name="sealframe",
    help="SealFrame: moderation, invisible watermark and signed C2PA credentials for AI video.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
keys_app = typer.Typer(help="Signing keys and certificates.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
audit_app = typer.Typer(help="The tamper-evident decision log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
apikey_app = typer.Typer(help="API keys for the HTTP API and dashboard.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
InPath = Annotated[Path, typer.Argument(help="Input video.", show_default=False)]


def emit(result: BaseModel | dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print `result` as JSON (with --json) or as the human summary."""
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    if as_json or human is None:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        typer.echo(human)


def _settings() -> Settings:
    return get_settings()


@keys_app.command("init")
def keys_init(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Key folder (default $SEALFRAME_HOME/keys).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing keys.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a development root CA, an ES256 C2PA signing certificate, the watermark and prompt keys (0600).

    Only on an empty key folder, or with --force (which keeps the replaced certificates under
    history/). The private keys are encrypted when SEALFRAME_KEY_PASSPHRASE is set.
    """
    from safety.provenance import init_dev_keys

    s = _settings()
    target = directory or s.keys_dir
    existing = sorted(p.name for p in target.glob("*") if p.is_file() and not p.name.startswith(".")) \
        if target.is_dir() else []
    if existing and not force:
        raise BadInputError(f"key folder {target} already holds keys ({', '.join(existing)}); `keys init` "
                            f"runs only on an empty folder: use `sealframe keys rotate` for a new signing "
                            f"key, or --force to replace every key (old assets then verify as untrusted)")
    passphrase = s.key_passphrase.get_secret_value().encode() if s.key_passphrase else None
    paths = init_dev_keys(target, passphrase=passphrase, force=force)
    result = {k: str(v) for k, v in vars(paths).items()}
    result["watermark_key"] = str(init_watermark_key(s, directory, force=force))
    result["prompt_key"] = str(init_prompt_key(target, force=force))
    emit(result, as_json, "\n".join(f"{k:13s} {v}" for k, v in result.items()))


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Replace the dev signing key and certificate; old assets keep verifying (same root CA).

    The replaced certificate chain is kept under keys/history/; the watermark and audit keys are
    not rotated (old watermarks and checkpoints are read with them).
    """
    from safety.provenance.keys import rotate_signer

    s = _settings()
    if s.signing_key or s.signing_chain:
        raise BadInputError("SEALFRAME_SIGNING_KEY is set: rotate that key with its own CA, then point the "
                            "settings at the new files")
    passphrase = s.key_passphrase.get_secret_value().encode() if s.key_passphrase else None
    paths = rotate_signer(s.keys_dir, passphrase=passphrase)
    result = {"signer_key": str(paths.signer_key), "signer_chain": str(paths.signer_chain),
              "history": str(s.keys_dir / "history")}
    emit(result, as_json, "\n".join(f"{k:13s} {v}" for k, v in result.items()))


watermark_app = typer.Typer(help="The invisible, keyed video watermark alone.", no_args_is_help=True)
app.add_typer(watermark_app, name="watermark")


def init_watermark_key(s: Settings, directory: Path | None, force: bool = False) -> Path:
    from safety.watermark import KEY_FILE, create_key, key_path

    path = directory / KEY_FILE if directory is not None else key_path(s)
    if force or not path.exists():
        create_key(path, force=force)
    return path


def init_prompt_key(directory: Path, force: bool = False) -> Path:
    from safety.provenance.prompt_key import PROMPT_KEY_FILE, create_prompt_key

    path = directory / PROMPT_KEY_FILE
    if force or not path.exists():
        create_prompt_key(path, force=force)
    return path


def _require_keys() -> None:
    """Refuse to make new keys when this home already signed or audited something (keys are precious)."""
    from safety.keycheck import require_keys
    from safety.store import open_store

    s = _settings()
    require_keys(s, open_store(s.db_url))


def _watermark_key() -> bytes:
    from safety.watermark import load_or_create_key

    _require_keys()
    return load_or_create_key(_settings())


@watermark_app.command("embed")
def watermark_embed(
    src: InPath,
    dst: Annotated[Path, typer.Argument(help="Watermarked output video (H.264 MP4).", show_default=False)],
    payload: Annotated[str, typer.Option(help="64-bit payload as 16 hex digits (the asset id).")],
    crf: Annotated[int, typer.Option(help="x264 CRF of the output.")] = 18,
    as_json: JsonOpt = False,
) -> None:
    """Embed PAYLOAD into SRC under the watermark key and write DST; fails closed (exit 4)."""
    from safety.watermark.stream import embed_file

    try:
        data = bytes.fromhex(payload)
    except ValueError:
        raise BadInputError(f"--payload is not hex: {payload!r}") from None
    if len(data) != 8:
        raise BadInputError(f"--payload must be 8 bytes (16 hex digits), got {len(data)} bytes")
    from safety.progress import progress_bar

    with progress_bar(f"embedding the watermark in {src.name}", enabled=not as_json):
        done = embed_file(src, dst, data, _watermark_key(), crf=crf)
    result = {"output": str(done.output), "payload": data.hex(), "frames": done.frames,
              "width": done.width, "height": done.height}
    emit(result, as_json, f"watermarked {done.output} with payload {data.hex()}")


@watermark_app.command("extract")
def watermark_extract(src: InPath, as_json: JsonOpt = False) -> None:
    """Read the watermark of SRC under the watermark key (absent is a result, not an error)."""
    from safety.watermark.stream import extract_file

    result = extract_file(src, _watermark_key())
    human = (f"watermark found: payload {result.payload.hex()} (p ≤ {result.p_value:.1e}, "
             f"{result.bit_errors} bits corrected)" if result.found and result.payload is not None
             else "no watermark found under this key")
    emit(result, as_json, human)


def _read_assertions(path: Path | None) -> tuple[dict[str, Any], ...]:
    if path is None:
        return ()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"cannot read assertion file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"assertion file {path} is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("label"), str) and "data" in item):
            raise BadInputError(f"assertion file {path}: each assertion needs a 'label' and 'data'")
    return tuple(items)


@app.command("sign")
def sign_cmd(
    src: InPath,
    dst: Annotated[Path, typer.Argument(help="Signed output video.", show_default=False)],
    assertion_file: Annotated[
        Path | None, typer.Option(help="JSON file with extra assertions ({label, data} or a list).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Manifest title (default: output file name).")] = None,
    model_id: Annotated[str, typer.Option(help="softwareAgent of the c2pa.created action.")] = "unknown",
    watermark_payload: Annotated[
        str | None, typer.Option(help="Hex payload for a c2pa.soft-binding assertion.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Embed a signed C2PA manifest (c2pa.created, trainedAlgorithmicMedia) in a copy of SRC."""
    from safety.provenance import ManifestSpec, credentials_from_settings, sign_file

    payload = None
    if watermark_payload is not None:
        try:
            payload = bytes.fromhex(watermark_payload)
        except ValueError:
            raise BadInputError(f"--watermark-payload is not hex: {watermark_payload!r}") from None
    s = _settings()
    spec = ManifestSpec(
        title=title or dst.name,
        model_id=model_id,
        watermark_payload=payload,
        extra_assertions=_read_assertions(assertion_file),
    )
    _require_keys()
    signed = sign_file(src, dst, spec, credentials_from_settings(s), tsa_url=s.tsa_url, existing=s.sign_existing)
    result = {"output": str(signed.path), "manifest_bytes": len(signed.manifest_store)}
    emit(result, as_json, f"signed {signed.path} ({len(signed.manifest_store)} byte manifest store)")


@app.command("inspect")
def inspect_cmd(
    src: InPath,
    trust_anchors: Annotated[
        Path | None, typer.Option(help="PEM trust bundle (default: settings, else the dev root).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read and validate the C2PA manifest of SRC: absent, unreadable, tampered, credential_problem, valid, trusted."""
    from safety.provenance import read_provenance, trust_anchors_from_settings

    s = _settings()
    if trust_anchors is not None:
        s = s.model_copy(update={"trust_anchors": trust_anchors})
    report = read_provenance(src, trust_anchors_from_settings(s), remote_hosts=tuple(s.remote_manifest_hosts))
    emit(report, as_json, format_provenance(report))


def format_provenance(report: Any) -> str:
    lines = [f"provenance: {report.state}" + (f" ({report.reason})" if report.reason else "")]
    if report.state not in ("absent", "unreadable"):
        lines += [
            f"  signer:          {report.signer} ({report.issuer})",
            f"  claim generator: {report.claim_generator}",
            f"  source type:     {report.digital_source_type}",
            f"  assertions:      {', '.join(report.assertions)}",
        ]
        lines += [f"  AI declared:     {d.how} ({d.action}) in {d.via}" for d in report.ai_disclosures]
    if report.validation_codes:
        lines.append(f"  codes:           {', '.join(report.validation_codes)}")
    return "\n".join(lines)


@app.command("detect")
def detect_cmd(src: InPath, as_json: JsonOpt = False) -> None:
    """Score SRC with the synthetic-video detector: calibrated P(synthetic) and its threshold."""
    from detector.runtime import detect

    score = detect(src)
    emit(score, as_json, f"detector: {score.meaning} [{score.model}]")


@apikey_app.command("create")
def apikey_create(
    role: Annotated[str, typer.Option(help="client, moderator, auditor or admin.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "unnamed",
    rate_limit: Annotated[int, typer.Option(help="Requests per minute.")] = 120,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print its secret once (only its sha256 is stored)."""
    from safety.store import open_store
    from safety.store.apikeys import create_api_key

    secret, row = create_api_key(open_store(_settings().db_url), role, name, rate_limit)
    result = {"id": row.id, "name": row.name, "role": row.role, "key": secret}
    emit(result, as_json, f"{secret}\n(role {row.role}, id {row.id}; store it now: it is not shown again)")


@apikey_app.command("list")
def apikey_list(
    revoked: Annotated[bool, typer.Option("--revoked", help="Also list revoked keys.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List API keys: id, name, role, secret prefix, rate limit, created, revoked (never a secret)."""
    from safety.store import open_store
    from safety.store.apikeys import list_api_keys

    rows = list_api_keys(open_store(_settings().db_url), include_revoked=revoked)
    keys = [{"id": r.id, "name": r.name, "role": r.role, "prefix": r.prefix,
             "rate_limit_per_minute": r.rate_limit_per_minute, "created_at": r.created_at.isoformat(),
             "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None} for r in rows]
    human = "\n".join(f"{k['id']}  {k['prefix']}…  {k['role']:9s} {k['name']}"
                      + (f"  (revoked {k['revoked_at']})" if k["revoked_at"] else "") for k in keys)
    emit({"keys": keys}, as_json, human or "no API keys")


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `sealframe apikey list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: its requests and dashboard sessions are refused from now on."""
    from safety.audit import audit_log_from_settings
    from safety.store.apikeys import revoke_api_key

    log = audit_log_from_settings(_settings())
    if not revoke_api_key(log.store, key_id):
        raise BadInputError(f"no active API key with id {key_id!r} (see `sealframe apikey list`)")
    log.append("apikey.revoked", {"key": key_id}, key_id)
    emit({"id": key_id, "revoked": True}, as_json, f"revoked {key_id}")


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Check every link and signed checkpoint of the audit chain (exit 6 when broken)."""
    from safety.audit import audit_log_from_settings
    from safety.errors import AuditChainBroken

    report = audit_log_from_settings(_settings()).verify()
    emit(report, as_json, report.summary())
    if not report.ok:
        raise AuditChainBroken(report.summary())


@audit_app.command("export")
def audit_export(
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "json",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default: stdout).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Export every audit event with its hashes."""
    from safety.audit import audit_log_from_settings

    if fmt not in ("csv", "json"):
        raise BadInputError(f"--format must be csv or json, not {fmt!r}")
    data = audit_log_from_settings(_settings()).export(fmt)  # type: ignore[arg-type]
    if output is None:
        typer.echo(data, nl=False)
        return
    if not output.parent.is_dir():
        raise BadInputError(f"{output}: folder {output.parent} does not exist")
    output.write_text(data, encoding="utf-8")
    emit({"output": str(output), "format": fmt}, as_json, f"wrote {output}")


def _parse_size(size: str | None) -> tuple[int | None, int | None]:
    if size is None:
        return None, None
    w, _, h = size.lower().partition("x")
    try:
        return int(w), int(h or w)
    except ValueError:
        raise BadInputError(f"--size must look like 64 or 64x64, not {size!r}") from None


@audit_app.command("backtest")
def audit_backtest(
    policy: Annotated[Path, typer.Argument(help="The policy pack to replay stored prompts under.")],
    as_json: JsonOpt = False,
) -> None:
    """Replay every stored prompt under POLICY and report what would change, per category."""
    from safety.audit.backtest import backtest_file
    from safety.store import open_store

    report = backtest_file(open_store(_settings().db_url), str(policy))
    emit(report, as_json, report.summary())


@app.command("generate")
def generate_cmd(
    prompt: Annotated[str, typer.Argument(help="What to generate.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the sealed MP4.")],
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    frames: Annotated[int | None, typer.Option(help="Number of frames.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT of the generator's output, e.g. 64x64.")] = None,
    steps: Annotated[int | None, typer.Option(help="Sampling steps.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The whole safe pipeline: moderate, generate, check, watermark, sign. Exit 3 blocked, 5 held."""
    import shutil

    from generator.base import GenerationRequest
    from safety.api.state import AppState
    from safety.errors import HeldForReview
    from safety.progress import progress_bar
    from safety.review_cli import held_item, held_message

    if not output.parent.is_dir():
        raise BadInputError(f"{output}: output folder {output.parent} does not exist")
    width, height = _parse_size(size)
    given: dict[str, Any] = {"frames": frames, "width": width, "height": height, "steps": steps}
    request = GenerationRequest(prompt=prompt, seed=seed, **{k: v for k, v in given.items() if v is not None})
    state = AppState(_settings())
    pipeline = state.pipeline
    try:
        job = pipeline.submit(request)
    except SealFrameError as exc:
        if as_json and hasattr(exc, "decision"):
            emit({"status": "blocked" if exc.exit_code == 3 else "held", "job": getattr(exc, "job_id", None),
                  "review_item": held_item(state, exc), "decision": exc.decision}, True)
        if isinstance(exc, HeldForReview):
            raise HeldForReview(held_message(state, exc), decision=exc.decision, job_id=exc.job_id) from None
        raise
    if not as_json:
        typer.echo(f"allowed ({job.decision_id}); generating…", err=True)
    with progress_bar(f"generating {request.frames}×{request.width}×{request.height}", enabled=not as_json):
        asset = pipeline.run_job(job.id)
    if asset is None:
        held = HeldForReview("output quarantined by the frame safety check; held for review", job_id=job.id)
        if as_json:
            emit({"status": "held", "job": job.id, "review_item": held_item(state, held)}, True)
        raise HeldForReview(held_message(state, held), job_id=job.id)
    tmp = output.with_name(f".{output.name}.part")
    shutil.copyfile(state.artifacts.local_path(asset.video_key), tmp)
    tmp.replace(output)
    result = {"status": "succeeded", "job": job.id, "asset": asset.id, "manifest_id": asset.manifest_id,
              "output": str(output), "model": asset.model_id, "policy": asset.policy}
    emit(result, as_json, f"sealed {output}: asset {asset.id}, manifest {asset.manifest_id}")


@app.command("verify")
def verify_cmd(src: InPath, as_json: JsonOpt = False) -> None:
    """Verification report: C2PA credentials, watermark, manifest look-up, detector, verdict."""
    from safety.api.state import AppState

    report = AppState(_settings()).verifier.verify(src)
    lines = [f"verdict: {report.summary}"] + [f"  - {r}" for r in report.reasons]
    emit(report, as_json, "\n".join(lines))


@app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    as_json: JsonOpt = False,
) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the dashboard."""
    from safety.api.server import serve

    serve(_settings(), host, port, access_log=not as_json)


@app.command("worker")
def worker_cmd(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs at once (1: one process; more: prefork).")] = 1,
    name: Annotated[str | None, typer.Option(help="Worker node name (default sealframe-<pid>@<host>).")] = None,
) -> None:
    """Run a Celery worker for generation jobs (SEALFRAME_JOBS=celery; see docs/deploy.md)."""
    import logging

    from safety.api.state import AppState
    from safety.scale.runner import run_worker

    s = _settings()
    if s.jobs != "celery":
        typer.echo("sealframe worker needs SEALFRAME_JOBS=celery and SEALFRAME_BROKER_URL", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = AppState(s)  # keys, store, artifacts, audit: the same as the API's
    run_worker(s, lambda: state.pipeline.run_job, state.store, concurrency=concurrency, name=name)


# Prompt moderation (issue 3): the command lives beside its stage, registered here.
from safety.moderation.cli import moderate_cmd  # noqa: E402

app.command("moderate")(moderate_cmd)

# The review queue from the command line (issue 28): its commands live in safety/review_cli.py.
from safety.review_cli import review_app  # noqa: E402

app.add_typer(review_app, name="review")


def _version(value: bool) -> None:
    if value:
        from safety import __version__

        typer.echo(f"sealframe {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="Print the version and exit.")] = False,
) -> None:
    """SealFrame: moderation, invisible watermark and signed C2PA credentials for AI video."""


@app.command("demo")
def demo_cmd(
    out: Annotated[
        Path | None, typer.Option(help="Folder for the demo's clips (default: the demo's home).")
    ] = None,
    scratch: Annotated[
        Path | None, typer.Option(help="Scratch home to run in, cleared first (default $SEALFRAME_HOME/demo).")
    ] = None,
    home: Annotated[
        Path | None, typer.Option("--home", help="Run in this SealFrame home instead of a scratch one: its keys, "
                                  "database and audit log get the demo's prompts and clips.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the whole product end to end on the embedded defaults and print each stage.

    By default everything (keys, database, review queue, audit log) lives in a scratch home of its
    own, so the real queue, statistics and backtests never see the demo's prompts. A detector or
    watermark miss is printed as [miss]; only a failure exits non-zero.
    """
    from safety.demo import prepare_scratch, run_demo, scratch_settings

    s = _settings()
    if home is not None and scratch is not None:
        raise BadInputError("give --home (a real home) or --scratch (a scratch one), not both")
    if home is not None:
        settings, where = s.model_copy(update={"home": home}), home
    else:
        where = prepare_scratch(scratch or s.home / "demo")
        settings = scratch_settings(s, where)
    stages = run_demo(out or where, settings, echo=None if as_json else typer.echo)
    if as_json:
        emit({"home": str(where), "scratch": home is None,
              "stages": [st.model_dump(mode="json") for st in stages]}, True)
    if not all(st.ok for st in stages):
        raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: map every outcome to DESIGN's exit codes.

    Typer's standalone mode owns usage errors (exit 2) and --help; our own error family and any
    bug propagate out of it and are turned into one line here.
    """
    try:
        app(args=argv, prog_name="sealframe")
    except SealFrameError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line, never a traceback
        msg = " ".join(str(exc).split())[:300]
        typer.echo(f"internal error: {type(exc).__name__}: {msg}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
