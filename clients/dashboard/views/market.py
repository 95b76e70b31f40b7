"""The public market pages: traded energy, daily PAR, prices, an hour's order
book (live, from the REST API) and the archive days with their verification."""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from sawgrid.clients.dashboard import charts, params, queries
from sawgrid.clients.dashboard.app import services
from sawgrid.clients.sdk import archive, market
from sawgrid.clients.sdk.errors import SawgridError

bp = Blueprint("market", __name__)


@bp.get("/")
def page():
    s = services()
    days = queries.contract_days(s.engine)
    day = params.day("day", days[-1] if days else market.today())
    hour = params.hour("hour")
    p2p, grid = queries.hourly_traded(s.engine, day)
    buy, sell = queries.grid_prices(s.engine, day)
    book, book_error = None, None
    try:
        book = market.book_json(day, hour, market.MarketReader(s.ledger).book(day, hour))
    except SawgridError:
        book_error = "the ledger's REST API cannot be read right now"
    return render_template(
        "market.html", day=day, hour=hour, days=days, book=book, book_error=book_error,
        traded=charts.traded_energy(day, p2p, grid), par=charts.daily_par(queries.daily_par(s.engine)),
        prices=charts.prices(day, buy, sell, queries.p2p_prices(s.engine, day)),
        archive=queries.archive_days(s.engine), verified=s.verified, head=queries.head(s.engine))


@bp.get("/archive/<day_text>")
def archive_day(day_text: str):
    """One archived day, verified against the chain's history (cached per record digest)."""
    s = services()
    try:
        day = market.parse_day(day_text, "day") if len(day_text) <= 10 else None
    except SawgridError:
        day = None
    if day is None:
        abort(404, description="no such day: expected a date like 2026-01-05")
    record = next((r for r in queries.archive_days(s.engine) if r.day == day), None)
    if record is None:
        abort(404, description=f"{market.day_text(day)} is not archived in the mirror")
    cached = s.verified.get(day)
    if cached is None or cached[0] != record.digest:
        cached = s.verified[day] = (record.digest, archive.verify_day(s.ledger, day))
    return render_template("archive_day.html", record=record, verification=cached[1])
