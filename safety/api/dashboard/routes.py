"""The dashboard: server-rendered pages over the same state as the JSON API.

Sign-in takes an API key once and answers with a signed session cookie (HttpOnly, SameSite=Strict,
path /dashboard); every form post carries a CSRF token. Roles decide the pages: the review queue
for moderators, the audit page for auditors, statistics for both, verification for every key
(admin sees all). Review decisions go through `SafeGenerationPipeline.review`, the call the JSON
route makes, so they land in the audit log the same way. Bad input answers a page with a clear
message and a 4xx status, never a traceback.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from safety.api.dashboard import charts
from safety.api.dashboard.session import (
    COOKIE_PATH,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SessionSigner,
    is_revoked,
    load_or_create_secret,
    revoke_session,
)
from safety.api.dashboard.stats import compute as compute_stats
from safety.api.dashboard.stats import top_category
from safety.api.dashboard.wording import HIDDEN_BY_DEFAULT, event_summary, explain_reason
from safety.api.routes.verifications import upload_chunks, upload_suffix
from safety.api.state import AppState
from safety.api.uploads import save_stream, upload_dir
from safety.errors import SealFrameError
from safety.store import ApiKey, Decision, ReviewItem
from safety.store.apikeys import find_api_key

log = logging.getLogger("sealframe.dashboard")
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}
# Every asset is ours; inline SVG charts use presentation attributes, frame thumbnails are data: URIs.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    # page: (title, roles besides admin)
    "queue": ("Review queue", ("moderator",)),
    "verify": ("Verify a video", ("client", "moderator", "auditor")),
    "stats": ("Statistics", ("moderator", "auditor")),
    "audit": ("Audit", ("auditor",)),
}
HOME_ORDER = ("queue", "audit", "verify")
FRAME_STRIP = 8
VERDICTS = {"ai_generated_signed": "AI-generated, signed", "ai_generated_watermarked": "AI-generated, watermarked",
            "signed": "Signed (no AI-generation claim)", "signed_untrusted": "Signed by a signer you do not trust",
            "credential_problem": "Signature intact, credential fails", "tampered": "Altered after signing",
            "credentials_unreadable": "Credentials unreadable",
            "likely_synthetic": "Likely synthetic (detector only)", "no_signals": "No signals"}
LOGIN_ATTEMPTS_PER_MINUTE = 20


class PageError(Exception):
    """Ends a request with an HTML page (or a redirect) instead of the API's JSON error."""

    def __init__(self, status: int, message: str, redirect: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.redirect = status, message, redirect


@dataclass(frozen=True)
class Viewer:
    key_id: str
    name: str
    role: str
    session_id: str
    csrf: str

    def may(self, page: str) -> bool:
        return self.role == "admin" or self.role in PAGES[page][1]

    @property
    def pages(self) -> list[tuple[str, str]]:
        return [(p, title) for p, (title, _) in PAGES.items() if self.may(p)]

    @property
    def home(self) -> str:
        return next(p for p in HOME_ORDER if self.may(p))


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.sealframe
    return state


@lru_cache(maxsize=8)
def _signer_for(secret_path: Path) -> SessionSigner:
    return SessionSigner(load_or_create_secret(secret_path))


def signer(state: AppState) -> SessionSigner:
    return _signer_for(state.settings.keys_dir / "dashboard-session.key")


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in key of this request, or None (no cookie, bad signature, expired, revoked key)."""
    state = _state(request)
    sign = signer(state)
    data = sign.read(request.cookies.get(SESSION_COOKIE))
    if data is None or is_revoked(state.store, data.session_id):
        return None
    with state.store.session() as s:
        key = s.get(ApiKey, data.key_id)
        if key is None or key.revoked_at is not None:
            return None
        return Viewer(key_id=key.id, name=key.name, role=key.role, session_id=data.session_id,
                      csrf=sign.csrf_token(data.session_id))


def require_page(request: Request, page: str) -> Viewer:
    viewer = current_viewer(request)
    if viewer is None:
        if request.method == "GET":
            raise PageError(303, "sign in first", redirect="/dashboard/login")
        raise PageError(401, "Your session has ended. Sign in again and repeat the action.")
    if not viewer.may(page):
        raise PageError(403, f"The {PAGES[page][0].lower()} page needs the "
                             f"{' or '.join(PAGES[page][1])} role; you are signed in with a {viewer.role} key.")
    return viewer


def check_csrf(request: Request, viewer: Viewer, token: str | None) -> None:
    if not signer(_state(request)).check_csrf(viewer.session_id, token):
        raise PageError(403, "The form's CSRF token is missing or does not match your session. "
                             "Reload the page and try again.")


def check_rate(request: Request, viewer: Viewer) -> None:
    state = _state(request)
    with state.store.session() as s:
        key = s.get(ApiKey, viewer.key_id)
        per_minute = key.rate_limit_per_minute if key else 60
    if state.limiter.allow(viewer.key_id, per_minute) > 0:
        raise PageError(429, f"Rate limit of {per_minute} requests per minute exceeded; wait a moment.")


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    viewer = context.pop("viewer", None)
    if viewer is None and name != "login.html":
        viewer = current_viewer(request)
    return TEMPLATES.TemplateResponse(request, name, {"viewer": viewer, "swatch": charts.swatch, **context},
                                      status_code=status_code)


def secure(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    try:
        return render(request, "error.html", status_code=status, message=message, code=status)
    except Exception:  # the error page must not fail in turn (say, the store is down)
        log.exception("could not render the error page")
        return Response(message, status_code=status, media_type="text/plain; charset=utf-8")


class DashboardRoute(APIRoute):
    """Renders every failure of a dashboard route as a page: people get HTML, not JSON or a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except PageError as exc:
                response = (RedirectResponse(exc.redirect, status_code=303) if exc.redirect
                            else error_page(request, exc.status, exc.message))
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
                response = error_page(request, 422, f"The form was incomplete or invalid ({fields}).")
            except SealFrameError as exc:
                status = exc.http_status if 400 <= exc.http_status < 600 else 500
                response = error_page(request, status, str(exc))
            except StarletteHTTPException as exc:
                response = error_page(request, exc.status_code, str(exc.detail))
            except Exception:
                log.exception("dashboard error on %s %s", request.method, request.url.path)
                response = error_page(request, 500, "Something went wrong on our side; the error is logged.")
            return secure(response)

        return handler


router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)
FormStr = Annotated[str | None, Form()]


# -- sign-in -----------------------------------------------------------------------------------------
@router.get("")
def home(request: Request) -> Response:
    viewer = current_viewer(request)
    return RedirectResponse(f"/dashboard/{viewer.home}" if viewer else "/dashboard/login", status_code=303)


def _login_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    sign = signer(_state(request))
    nonce = sign.new_login_nonce()
    response = render(request, "login.html", status_code=status, error=error, csrf=sign.login_token(nonce))
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    if current_viewer(request) is not None:
        return RedirectResponse("/dashboard", status_code=303)
    return _login_page(request)


@router.post("/login")
async def login(request: Request, api_key: FormStr = None, csrf_token: FormStr = None) -> Response:
    state = _state(request)
    if not signer(state).check_login(request.cookies.get(LOGIN_COOKIE), csrf_token):
        return _login_page(request, 403, "The sign-in form expired or its CSRF token is missing. Try again.")
    client = request.client.host if request.client else "unknown"
    if state.limiter.allow(f"dashboard-login:{client}", LOGIN_ATTEMPTS_PER_MINUTE) > 0:
        return _login_page(request, 429, "Too many sign-in attempts; wait a minute.")
    secret = (api_key or "").strip()
    if not secret:
        return _login_page(request, 400, "Paste an API key (from `sealframe apikey create`).")
    key = await run_in_threadpool(find_api_key, state.store, secret)
    if key is None:
        await run_in_threadpool(state.audit.append, "dashboard.signin_failed", {"client": client}, None)
        return _login_page(request, 401, "Unknown or revoked API key.")
    cookie, _ = signer(state).issue(key.id)
    await run_in_threadpool(state.audit.append, "dashboard.signin", {"key": key.id, "role": key.role}, key.id)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=signer(state).max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: FormStr = None) -> Response:
    viewer = current_viewer(request)
    if viewer is not None:
        check_csrf(request, viewer, csrf_token)
        data = signer(_state(request)).read(request.cookies.get(SESSION_COOKIE))
        if data is not None:
            revoke_session(_state(request).store, data, signer(_state(request)).max_age)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/static/{name}")
def static(name: str) -> Response:
    path = HERE / "static" / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise PageError(404, "No such file.")
    return Response(path.read_bytes(), media_type=STATIC_TYPES[path.suffix],
                    headers={"Cache-Control": "public, max-age=300"})


# -- review queue --------------------------------------------------------------------------------------
def _category_info(state: AppState) -> dict[str, tuple[str, float | None, float | None, str]]:
    """Category id → (title, review threshold, block threshold, highest action) from the configured pack."""
    from policies import load_policy

    try:
        pack = load_policy(state.settings.policy).pack
    except Exception:
        return {}
    out: dict[str, tuple[str, float | None, float | None, str]] = {}
    for c in pack.categories:
        th = getattr(c, "thresholds", None)
        out[c.id] = (c.title, getattr(th, "review", None), getattr(th, "block", None),
                     str(getattr(c, "max_action", "block")))
    return out


def _queue_page(request: Request, viewer: Viewer, status: str, status_code: int = 200,
                error: str | None = None, decided: str | None = None) -> Response:
    state = _state(request)
    with state.store.session() as s:
        rows = s.execute(select(ReviewItem, Decision).outerjoin(Decision, Decision.id == ReviewItem.decision_id)
                         .where(ReviewItem.status == status)
                         .order_by(ReviewItem.created_at if status == "pending" else ReviewItem.decided_at.desc())
                         .limit(100)).all()
        items = [{
            "id": item.id, "kind": item.kind, "status": item.status, "job_id": item.job_id,
            "created_at": item.created_at, "decided_at": item.decided_at, "reason": item.reason,
            "prompt": d.prompt if d else "", "normalized": d.normalized if d else "",
            "action": d.action if d else "", "policy": d.policy if d else "", "reasons": d.reasons if d else [],
            "scores": sorted(((k, float(v)) for k, v in (d.categories if d else {}).items()), key=lambda kv: -kv[1]),
            "top": top_category(d.categories) if d else "",
        } for item, d in rows]
        just = s.get(ReviewItem, decided) if decided else None
        done = {"id": just.id, "status": just.status, "reason": just.reason} if just else None
    return render(request, "queue.html", status_code=status_code, viewer=viewer, items=items, status=status,
                  error=error, done=done, info=_category_info(state), explain=explain_reason)


@router.get("/queue")
def queue(request: Request, status: Literal["pending", "approved", "rejected"] = "pending",
          decided: str | None = None) -> Response:
    viewer = require_page(request, "queue")
    return _queue_page(request, viewer, status, decided=decided)


@router.post("/queue/{item_id}")
async def decide(request: Request, item_id: str, decision: FormStr = None, reason: FormStr = None,
                 csrf_token: FormStr = None) -> Response:
    viewer = require_page(request, "queue")
    check_csrf(request, viewer, csrf_token)
    check_rate(request, viewer)
    text = (reason or "").strip()
    if decision not in ("approve", "reject"):
        return _queue_page(request, viewer, "pending", 422, error="Choose approve or reject.")
    if not text or len(text) > 2000:
        return _queue_page(request, viewer, "pending", 422,
                           error="A reason is required (up to 2000 characters); it goes into the audit log.")
    state = _state(request)
    try:
        item, run = await run_in_threadpool(state.pipeline.review, item_id, decision == "approve", viewer.key_id,
                                            text)
    except KeyError:
        return _queue_page(request, viewer, "pending", 404, error="No such review item.")
    except ValueError as exc:
        return _queue_page(request, viewer, "pending", 409, error=f"Not recorded: {exc}.")
    if run is not None:
        state.runner.submit(run)
    return RedirectResponse(f"/dashboard/queue?decided={item.id}", status_code=303)


# -- verification ----------------------------------------------------------------------------------------
def frame_strip(path: Path, count: int = FRAME_STRIP, height: int = 90) -> list[str]:
    """Evenly spaced frames of the clip as small JPEG data: URIs."""
    import numpy as np
    from PIL import Image

    from safety.media import read_video
    from safety.verify import VERIFY_FRAMES, VERIFY_PIXELS

    video = read_video(path, max_frames=VERIFY_FRAMES, max_pixels=VERIFY_PIXELS)
    frames = video.frames
    picks = sorted({round(float(i)) for i in np.linspace(0, len(frames) - 1, min(count, len(frames)))})
    out = []
    for i in picks:
        img = Image.fromarray(frames[i])
        img.thumbnail((max(1, round(height * img.width / img.height)), height))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=80)
        out.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


@router.get("/verify")
def verify_form(request: Request) -> Response:
    viewer = require_page(request, "verify")
    return render(request, "verify.html", viewer=viewer, report=None, frames=[], verdicts=VERDICTS,
                  max_bytes=_state(request).max_upload_bytes)


@router.post("/verify")
async def verify_upload(request: Request, file: UploadFile | None = None, csrf_token: FormStr = None) -> Response:
    viewer = require_page(request, "verify")
    check_csrf(request, viewer, csrf_token)
    check_rate(request, viewer)
    state = _state(request)

    def page(status: int, **context: Any) -> Response:
        return render(request, "verify.html", status_code=status, viewer=viewer, max_bytes=state.max_upload_bytes,
                      verdicts=VERDICTS, **{"report": None, "frames": [], "filename": None, **context})

    if file is None or not file.filename:
        return page(400, error="Choose a video file to verify.")
    try:
        path = await save_stream(upload_chunks(file), upload_dir(state.settings.home), state.max_upload_bytes,
                                 upload_suffix(file.filename))
    except SealFrameError as exc:
        return page(exc.http_status if 400 <= exc.http_status < 500 else 400, error=str(exc))
    try:
        report = await run_in_threadpool(state.verifier.verify, path)
        frames = await run_in_threadpool(frame_strip, path)
    except SealFrameError as exc:
        status = exc.http_status if 400 <= exc.http_status < 500 else 422
        return page(status, error=f"Could not read {file.filename} as a video: {exc}", filename=file.filename)
    finally:
        path.unlink(missing_ok=True)
    await run_in_threadpool(state.audit.append, "verification", {
        "verdict": report.verdict, "provenance": report.provenance.state, "watermark": report.watermark.found,
        "asset": report.manifest_match.asset_id if report.manifest_match else None, "key": viewer.key_id,
        "via": "dashboard",
    }, None)
    return page(200, report=report, frames=frames, filename=file.filename)


# -- statistics ---------------------------------------------------------------------------------------------
@router.get("/stats")
def stats(request: Request, days: int = 14) -> Response:
    viewer = require_page(request, "stats")
    days = min(max(days, 1), 90)
    st = compute_stats(_state(request).store, days)
    info = _category_info(_state(request))
    actions = list(st.per_action)
    return render(
        request, "stats.html", viewer=viewer, st=st, days=days, info=info,
        action_chart=charts.stacked_bars("Decisions per day by action", st.days, st.per_action, actions),
        category_chart=charts.stacked_bars("Flagged decisions per day by category", st.days, st.per_category,
                                           st.categories),
        rate_chart=charts.lines("Block, review and overturn rates per day", st.days,
                                {"block rate": st.block_rate, "review rate": st.review_rate,
                                 "overturn rate": st.overturn_rate},
                                ["block rate", "review rate", "overturn rate"]),
        action_legend=[(a, charts.colour_for(a, actions)) for a in actions],
        category_legend=[(c, charts.colour_for(c, st.categories)) for c in st.categories],
        category_colours={c: charts.colour_for(c, st.categories) for c in st.categories},
        rate_legend=[(n, charts.colour_for(n, ["block rate", "review rate", "overturn rate"]))
                     for n in ["block rate", "review rate", "overturn rate"]],
    )


# -- audit -------------------------------------------------------------------------------------------------
def policy_packs(state: AppState) -> dict[str, Path]:
    """The packs a backtest may replay: the bundled ones and the configured one (never a free path)."""
    import policies

    packs = {p.stem: p for p in sorted(Path(policies.__file__).parent.glob("*.yaml"))}
    if state.settings.policy is not None and Path(state.settings.policy).is_file():
        packs.setdefault(Path(state.settings.policy).stem, Path(state.settings.policy))
    return packs


AUDIT_ROWS = 50
AUDIT_SCAN = 5000


async def _audit_page(request: Request, viewer: Viewer, status: int = 200, **context: Any) -> Response:
    """The chain, the backtest and the latest events, filtered by kind (?kind=…, repeatable; sign-ins are
    hidden unless ?signins=1 or asked for by kind)."""
    state = _state(request)
    chain = await run_in_threadpool(state.audit.verify)
    chosen = [k for k in request.query_params.getlist("kind") if k]
    signins = request.query_params.get("signins") == "1"
    info = _category_info(state)

    def load() -> tuple[list[dict[str, Any]], list[str], int]:
        rows, kinds, hidden = [], set(), 0
        for e in state.audit.iter_events(after=max(0, chain.head_seq - AUDIT_SCAN)):
            kinds.add(e.kind)
            if chosen and e.kind not in chosen:
                continue
            if not chosen and not signins and e.kind in HIDDEN_BY_DEFAULT:
                hidden += 1
                continue
            rows.append({"seq": e.seq, "ts": e.ts, "kind": e.kind, "subject": e.subject, "payload": e.payload,
                         "summary": event_summary(e.kind, e.payload, info)})
        rows = rows[-AUDIT_ROWS:]
        rows.reverse()
        return rows, sorted(kinds), hidden

    events, kinds, hidden = await run_in_threadpool(load)
    return render(request, "audit.html", status_code=status, viewer=viewer, chain=chain, events=events,
                  packs=list(policy_packs(state)), info=info, kinds=kinds, chosen_kinds=chosen, signins=signins,
                  hidden_signins=hidden, **{"backtest": None, "chosen": None, "error": None, **context})


@router.get("/audit")
async def audit(request: Request) -> Response:
    viewer = require_page(request, "audit")
    return await _audit_page(request, viewer)


@router.get("/audit/export.{fmt}")
async def audit_export(request: Request, fmt: Literal["csv", "json"]) -> Response:
    require_page(request, "audit")
    text = await run_in_threadpool(_state(request).audit.export, fmt)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/json"
    return Response(text, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="sealframe-audit-{stamp}.{fmt}"'})


@router.post("/audit/backtest")
async def audit_backtest(request: Request, policy: FormStr = None, csrf_token: FormStr = None) -> Response:
    viewer = require_page(request, "audit")
    check_csrf(request, viewer, csrf_token)
    check_rate(request, viewer)
    state = _state(request)
    packs = policy_packs(state)
    if policy not in packs:
        return await _audit_page(request, viewer, 422, error="Choose one of the listed policy packs.")
    from safety.audit.backtest import backtest_file

    try:
        report = await run_in_threadpool(backtest_file, state.store, str(packs[policy]))
    except SealFrameError as exc:
        return await _audit_page(request, viewer, 503 if exc.http_status >= 500 else exc.http_status,
                                 error=f"The backtest could not run: {exc}", chosen=policy)
    return await _audit_page(request, viewer, backtest=report, chosen=policy)


@router.get("/{rest:path}")
def not_found(request: Request, rest: str) -> Response:
    """Any other dashboard address: a page, not the API's JSON 404 (registered last, so it shadows nothing)."""
    if not rest.strip("/"):
        return RedirectResponse("/dashboard", status_code=303)
    raise PageError(404, f"There is no dashboard page at /dashboard/{rest}.")
