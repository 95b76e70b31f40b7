"""Sessions and CSRF.

The session is Flask's own: a cookie signed with itsdangerous (no server-side
store to keep). It carries the public key, the role, a random session id and
the moment it expires; the expiry is checked on every request (the cookie's
Max-Age alone is the browser's business). Signing out revokes the session id
until it would have expired anyway, so a copied cookie dies with it.

Cookies are HttpOnly and SameSite=Strict always, and Secure when the
dashboard serves HTTPS. The one exception is plain http://127.0.0.1 for
development (a browser drops a Secure cookie over plain HTTP).

CSRF: every session (a signed-out one too, for the sign-in form) holds a
random token; every POST must carry it as the form field `csrf_token` (or the
`X-CSRF-Token` header), compared in constant time. It is written here rather
than taken from Flask-WTF: that would bring WTForms for one hidden field
and one comparison, and Sawgrid has no other forms.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time

from flask import abort, session

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MEMBER, OPERATOR = "member", "operator"


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(sent: str | None) -> None:
    """400 unless `sent` is this session's token."""
    token = session.get("csrf")
    if not isinstance(token, str) or not isinstance(sent, str) or not hmac.compare_digest(token, sent):
        abort(400, description="the form's CSRF token is missing or wrong: reload the page and try again")


class Revoked:
    """Session ids signed out before their expiry (forgotten once expired)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, sid: str, until: float) -> None:
        now = time.time()
        with self._lock:
            self._until = {s: t for s, t in self._until.items() if t > now}
            self._until[sid] = until

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            return isinstance(sid, str) and self._until.get(sid, 0.0) > time.time()


def open_session(public_key: str, role: str, minutes: int) -> None:
    """Sign `public_key` in (a fresh session id and CSRF token: no fixation)."""
    session.clear()
    session.permanent = True
    session.update(pk=public_key, role=role, sid=secrets.token_urlsafe(16), exp=time.time() + minutes * 60)
    csrf_token()


def current(revoked: Revoked) -> tuple[str, str] | None:
    """(public key, role) of a live session; an expired or revoked one is cleared."""
    pk, role, exp, sid = session.get("pk"), session.get("role"), session.get("exp"), session.get("sid")
    if pk is None:
        return None
    if not isinstance(exp, (int, float)) or exp <= time.time() or sid in revoked or role not in (MEMBER, OPERATOR):
        session.clear()
        session["expired"] = True
        return None
    return pk, role


def close_session(revoked: Revoked) -> None:
    sid, exp = session.get("sid"), session.get("exp")
    if isinstance(sid, str) and isinstance(exp, (int, float)):
        revoked.add(sid, exp)
    session.clear()
