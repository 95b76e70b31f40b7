"""The Flask app factory.

    app = create_app(DashboardConfig(db_url="sqlite:///mirror.sqlite", rest_url="http://127.0.0.1:8008"))

One blueprint per page group (views/): market (public), account (a signed-in
member, its own account only), operator (an operator key), sign-in. Every
answer carries strict security headers (a Content-Security-Policy that allows
scripts from the dashboard only: chart data travels as JSON, never as inline
script). Bad input ends as a short 4xx page; the ledger or the mirror being
unreachable as a 503 page; never a traceback.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path

from flask import Flask, Response, abort, g, render_template, request, send_file
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from sawgrid.clients.dashboard import sessions
from sawgrid.clients.dashboard.alerts import AlertLog, FailedSignInDetector
from sawgrid.clients.dashboard.config import MAX_BODY, MAX_QUERY, DashboardConfig
from sawgrid.clients.dashboard.metrics import CONTENT_TYPE, Metrics
from sawgrid.clients.dashboard.signin import ChallengeBook
from sawgrid.clients.sdk import market, reputation
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",     # a sign-in link's signature never leaks onwards
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"


def plotly_js() -> Path:
    """The plotly wheel's own plotly.min.js."""
    spec = importlib_util.find_spec("plotly")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


@dataclass
class Services:
    """What the views share, kept on `app.extensions["sawgrid"]`."""

    config: DashboardConfig
    engine: Engine
    ledger: LedgerClient
    challenges: ChallengeBook
    alerts: AlertLog
    detector: FailedSignInDetector
    revoked: sessions.Revoked
    metrics: Metrics
    verified: dict   # archive day -> (record digest, Verification)


def services() -> Services:
    from flask import current_app

    return current_app.extensions["sawgrid"]


def create_app(config: DashboardConfig, ledger: LedgerClient | None = None, engine: Engine | None = None) -> Flask:
    """The dashboard. `ledger` defaults to a RestClient on config.rest_url and
    `engine` to the mirror at config.db_url (tests pass their own)."""
    from sawgrid.clients.dashboard.views import account, auth, market as market_view, operator
    from sawgrid.clients.sdk.rest import RestClient
    from sawgrid.clients.sync.database import make_engine

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_NAME="sawgrid_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=config.tls,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=config.session_minutes),
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        MAX_FORM_PARTS=50,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if config.behind_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    metrics = Metrics()
    alerts = AlertLog()
    app.extensions["sawgrid"] = Services(
        config=config, engine=engine or make_engine(config.db_url), ledger=ledger or RestClient(config.rest_url),
        challenges=ChallengeBook(config.challenge_ttl), alerts=alerts,
        detector=FailedSignInDetector(alerts, on_alert=lambda a: metrics.alerts.labels(a["kind"]).inc()),
        revoked=sessions.Revoked(), metrics=metrics, verified={})
    for blueprint in (market_view.bp, account.bp, operator.bp, auth.bp):
        app.register_blueprint(blueprint)
    _filters(app)

    @app.before_request
    def _limits_and_session() -> None:
        if len(request.query_string) > MAX_QUERY:
            abort(414, description=f"the query string is longer than {MAX_QUERY} bytes")
        if request.content_length is not None and request.content_length > MAX_BODY:
            abort(413, description=f"the request body is larger than {MAX_BODY} bytes")
        g.user = sessions.current(services().revoked)
        if request.method == "POST":
            sent = request.form.get(sessions.CSRF_FIELD) or request.headers.get(sessions.CSRF_HEADER)
            sessions.check_csrf(sent)

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if config.tls:
            response.headers["Strict-Transport-Security"] = HSTS
        services().metrics.requests.labels(str(response.status_code)).inc()
        return response

    @app.get("/static/plotly.min.js")
    def _plotly() -> Response:
        return send_file(plotly_js(), mimetype="text/javascript", max_age=86400)

    @app.get("/metrics")
    def _metrics() -> Response:
        return Response(services().metrics.exposition(), mimetype=CONTENT_TYPE)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return _error_page(err.code or 400, err.name, err.description or "")

    @app.errorhandler(SQLAlchemyError)
    def _mirror_error(err: SQLAlchemyError):
        app.logger.warning("mirror: %s", str(err).splitlines()[0])
        return _error_page(503, "Mirror unavailable", "the SQL mirror cannot be read right now; try again shortly")

    @app.errorhandler(SawgridError)
    def _ledger_error(err: SawgridError):
        app.logger.warning("ledger: %s", err)
        return _error_page(503, "Ledger unavailable", "the ledger's REST API cannot be read right now; "
                           "try again shortly")

    return app


def _error_page(status: int, title: str, detail: str):
    response = Response(render_template("error.html", status=status, title=title, detail=detail), status)
    if status == 429 and getattr(g, "retry_after", None):
        response.headers["Retry-After"] = str(g.retry_after)
    return response


def _filters(app: Flask) -> None:
    app.jinja_env.filters.update(
        day=market.day_text,
        eur=lambda v: ("-" if v < 0 else "") + market.format_eur(abs(v), unit=False, places=2),
        kwh=lambda v: market.format_kwh(v, unit=False),
        price=lambda v: "" if v is None else market.format_price(v, unit=False),
        short=lambda k: (k or "")[:10],
        score=reputation.format_score,
    )
    app.jinja_env.globals.update(csrf_token=sessions.csrf_token)
