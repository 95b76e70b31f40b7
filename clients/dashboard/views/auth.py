"""Sign-in pages: the challenge (HTML and JSON), the one-time link, POST /login, POST /logout."""
from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for

from sawgrid.clients.dashboard import sessions, signin
from sawgrid.clients.dashboard.app import services

bp = Blueprint("auth", __name__)


def _issue() -> tuple[str, float]:
    book = services().challenges
    if book.per_client_full(_client()):
        g.retry_after = int(book.ttl) or 1
        abort(429, description="too many sign-in challenges from this address; use one or wait for them to expire")
    issued = book.issue(_client())
    if issued is None:
        abort(503, description="too many sign-ins in progress; try again in a minute")
    return issued


def _client() -> str:
    return request.remote_addr or "unknown"


def _refuse_if_blocked() -> None:
    wait = services().detector.retry_after(_client())
    if wait:
        g.retry_after = wait
        abort(429, description=f"too many failed sign-ins from this address; try again in {wait} s")


@bp.get("/login")
def login_page():
    _refuse_if_blocked()
    challenge, ttl = _issue()
    return render_template("login.html", challenge=challenge, ttl=int(ttl),
                           expired=bool(request.args.get("expired") is not None))


@bp.get("/login/challenge")
def challenge_json():
    """For `sawgrid login`: {"challenge": ..., "expires_in": seconds, "link": URL template}."""
    _refuse_if_blocked()
    challenge, ttl = _issue()
    return jsonify(challenge=challenge, expires_in=int(ttl), link=url_for("auth.link", _external=True))


@bp.get("/login/link")
def link():
    """The one-time link `sawgrid login` prints: a confirmation form (a GET
    signs nobody in, so another site cannot sign a visitor in as someone else)."""
    _refuse_if_blocked()
    fields = {name: request.args.get(name, "") for name in ("challenge", "public_key", "signature")}
    try:
        signin.check_formats(fields["challenge"], fields["public_key"], fields["signature"])
    except signin.SignInRefused as err:
        abort(err.status, description=f"not a sign-in link: {err}")
    return render_template("confirm.html", **fields)


@bp.post("/login")
def login():
    _refuse_if_blocked()
    s = services()
    challenge, public_key, signature = (request.form.get(n, "").strip() for n in ("challenge", "public_key",
                                                                                   "signature"))
    try:
        who = signin.check(s.challenges, s.ledger, challenge, public_key.lower(), signature.lower())
    except signin.SignInRefused as err:
        s.metrics.sign_in_failures.labels(err.reason).inc()
        s.detector.failed(_client(), public_key.lower() if signin.PUBLIC_KEY_RE.match(public_key.lower()) else None,
                          str(err))
        abort(err.status, description=f"sign-in refused: {err}")
    sessions.open_session(who.public_key, who.role, s.config.session_minutes)
    s.metrics.sign_ins.labels(who.role).inc()
    if who.role == sessions.OPERATOR:
        return redirect(url_for("operator.page"), 303)
    return redirect(url_for("account.page", public_key=who.public_key), 303)


@bp.post("/logout")
def logout():
    sessions.close_session(services().revoked)
    return redirect(url_for("market.page"), 303)
