"""Dashboard sessions: an HMAC-signed cookie naming the API key, and CSRF tokens bound to it.

The cookie carries the key's id (never its secret), an issue time and a random session id; the
signature uses a per-install secret under `keys/` (0600), so a cookie from another install or an
edited cookie is refused. Every request re-reads the key, so revoking it ends its sessions; signing
out records the session id server-side, so a copy of the cookie stops working at once too. Form
posts carry a token derived from the session id (or, before sign-in, from a nonce cookie), compared
in constant time; with SameSite=Strict cookies this is defence in depth against cross-site posts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from safety.store import Store

SESSION_COOKIE = "sf_session"
LOGIN_COOKIE = "sf_login"
COOKIE_PATH = "/dashboard"
SESSION_SECONDS = 8 * 3600


def load_or_create_secret(path: Path) -> bytes:
    """32 random bytes kept in `path` (created 0600 once; concurrent creators agree on one file)."""
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionData:
    key_id: str
    session_id: str
    issued_at: int


class SessionSigner:
    def __init__(self, secret: bytes, max_age: int = SESSION_SECONDS) -> None:
        self._secret = secret
        self.max_age = max_age

    def _mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}|{value}".encode(), hashlib.sha256).digest())

    def issue(self, key_id: str, now: float | None = None) -> tuple[str, SessionData]:
        data = SessionData(key_id=key_id, session_id=secrets.token_urlsafe(16), issued_at=int(now or time.time()))
        body = _b64(json.dumps({"k": data.key_id, "s": data.session_id, "t": data.issued_at},
                               separators=(",", ":")).encode())
        return f"{body}.{self._mac('session', body)}", data

    def read(self, cookie: str | None, now: float | None = None) -> SessionData | None:
        """The session of a cookie, or None when it is missing, altered, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            raw = json.loads(_unb64(body))
            data = SessionData(key_id=str(raw["k"]), session_id=str(raw["s"]), issued_at=int(raw["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        age = (now or time.time()) - data.issued_at
        return data if 0 <= age <= self.max_age else None

    def csrf_token(self, session_id: str) -> str:
        return self._mac("csrf", session_id)

    def check_csrf(self, session_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session_id))

    @staticmethod
    def new_login_nonce() -> str:
        return secrets.token_urlsafe(16)

    def login_token(self, nonce: str) -> str:
        return self._mac("login", nonce)

    def check_login(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce) and bool(token) and hmac.compare_digest(str(token), self.login_token(str(nonce)))


def revoke_session(store: Store, data: SessionData, max_age: int = SESSION_SECONDS) -> None:
    """Refuse this session's cookie from now on (sign-out); rows past their expiry are dropped."""
    import datetime as dt

    from sqlalchemy import delete

    from safety.store import RevokedSession

    now = dt.datetime.now(dt.UTC)
    expires = dt.datetime.fromtimestamp(data.issued_at + max_age, dt.UTC)
    with store.session() as s:
        s.execute(delete(RevokedSession).where(RevokedSession.expires_at < now))
        if s.get(RevokedSession, data.session_id) is None:
            s.add(RevokedSession(session_id=data.session_id, key_id=data.key_id, expires_at=expires))


def is_revoked(store: Store, session_id: str) -> bool:
    from safety.store import RevokedSession

    with store.session() as s:
        return s.get(RevokedSession, session_id) is not None
