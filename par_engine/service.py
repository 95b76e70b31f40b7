"""`sawgrid par serve`: the engine on its cron schedule, with a small
read-only HTTP API (Flask) beside it.

    GET /                                this list of endpoints
    GET /health                          engine and REST API reachability
    GET /runs/last                       the last run's report
    GET /par/<day>                       a day's load shape from the chain (PAR, max/avg, V(S))
    GET /penalties/<day>                 the day's multipliers (permille and x)
    GET /recommendations/<day>/<pubkey>  a participant's recommended schedule (Wh)

Days are ISO dates from 1970-01-01 to 9999-12-31. Every error is JSON
{"error": "..."}: 400 for a bad day or key, 404 for nothing there, 405 for a
method other than GET, 502 when the ledger cannot be read.
Each scheduled run issues tomorrow (UTC) from today's trades.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.par_engine import chain, metrics
from sawgrid.par_engine.cron import Cron
from sawgrid.par_engine.engine import Engine
from sawgrid.processors.addressing import is_public_key
from sawgrid.processors.market.units import MAX_DAY, PERMILLE, day_number

ENDPOINTS = {
    "/": "this list of endpoints",
    "/health": "engine and REST API reachability",
    "/runs/last": "the last run's report",
    "/par/<day>": "a day's load shape from the chain: PAR (avg/max), max/avg, V(S) (load balance, 100 = flat)",
    "/penalties/<day>": "the day's multipliers (permille and x)",
    "/recommendations/<day>/<pubkey>": "a participant's recommended schedule (Wh per hour)",
}

LOG = logging.getLogger("sawgrid.par_engine")


def _day(text: str) -> int:
    try:
        day = day_number(dt.date.fromisoformat(text))
    except ValueError:
        raise _ApiError(400, f"day must be YYYY-MM-DD, got {text!r}") from None
    if not 0 <= day <= MAX_DAY:
        raise _ApiError(400, f"day must be between 1970-01-01 and 9999-12-31, got {text!r}")
    return day


class _ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def create_app(engine: Engine) -> Flask:
    """The read-only API over `engine` (its REST client and last report)."""
    app = Flask("sawgrid-par")

    @app.errorhandler(_ApiError)
    def _api_error(err: _ApiError):
        return jsonify(error=str(err)), err.status

    @app.errorhandler(SawgridError)
    def _upstream_error(err: SawgridError):
        return jsonify(error=str(err)), 502

    @app.errorhandler(404)
    def _not_found(err):
        return jsonify(error="no such endpoint (GET / lists them)"), 404

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify(error=err.description or err.name), err.code

    @app.get("/")
    def index():
        return jsonify(endpoints=ENDPOINTS)

    @app.get("/health")
    def health():
        try:
            engine.rest.status()
            reachable = True
        except SawgridError:
            reachable = False
        return jsonify(status="ok" if reachable else "degraded", rest_api=engine.rest.url,
                       rest_api_reachable=reachable, cron=engine.config.cron,
                       algorithm=engine.config.algorithm)

    @app.get("/runs/last")
    def last_run():
        if engine.last_report is None:
            raise _ApiError(404, "no run yet")
        return jsonify(engine.last_report.to_json())

    @app.get("/par/<day>")
    def par(day: str):
        load = chain.day_load(engine.reader, _day(day))
        return jsonify(day=day, participants=len(load.buyers), totals_wh=load.totals,
                       par=metrics.par(load.totals), peak_to_average=metrics.peak_to_average(load.totals),
                       balance=metrics.balance(load.totals))

    @app.get("/penalties/<day>")
    def penalties(day: str):
        record = engine.reader.penalties(_day(day))
        if record is None:
            raise _ApiError(404, f"no penalties for {day}")
        vector = list(record.multipliers)
        return jsonify(day=day, permille=vector, multipliers=[v / PERMILLE for v in vector])

    @app.get("/recommendations/<day>/<public_key>")
    def recommendation(day: str, public_key: str):
        if not is_public_key(public_key):
            raise _ApiError(400, "not a public key (66 lowercase hex chars)")
        record = engine.reader.recommendation(_day(day), public_key)
        if record is None:
            raise _ApiError(404, f"no recommendation for {public_key[:10]} on {day}")
        return jsonify(day=day, public_key=public_key, schedule_wh=list(record.schedule))

    return app


class ApiServer:
    """The Flask app on a werkzeug server thread (127.0.0.1 by default)."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self._server = make_server(host, port, app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="par-api", daemon=True)

    def start(self) -> "ApiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def serve(engine: Engine, cron: Cron, stop: threading.Event,
          now=lambda: dt.datetime.now(dt.timezone.utc)) -> None:
    """Run the engine at every cron time until `stop` is set."""
    while not stop.is_set():
        fire = cron.next_after(now())
        LOG.info("next PAR run at %s (cron %r)", fire.isoformat(), cron.expression)
        while not stop.is_set() and now() < fire:
            stop.wait(min(30.0, max(0.05, (fire - now()).total_seconds())))
        if stop.is_set():
            return
        today = day_number(fire.date())
        try:
            report = engine.run(today)
            LOG.info("PAR run for %s: %s (PAR %.3f, %d participants)", report.target_day, report.status,
                     report.par, report.participants)
        except SawgridError as err:  # the chain is unreachable or refused: try again next time
            LOG.error("PAR run for day %d failed: %s", today + 1, err)
