"""A member's own account: trades with filters, the statement by day and month
(from clients/sync/statement.py) with charts and CSV, recommended vs bought
energy per hour, the Q-score's history and settlement outcomes."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, redirect, render_template, url_for

from sawgrid.clients.dashboard import charts, params, queries
from sawgrid.clients.dashboard.app import services
from sawgrid.clients.dashboard.config import MAX_TRADES
from sawgrid.clients.dashboard.views import require_account, signed_in
from sawgrid.clients.sdk import market
from sawgrid.clients.sync import statement

bp = Blueprint("account", __name__)
CSV_COLUMNS = ("day", "contracts", "bought_wh", "sold_wh", "spent_ueur", "earned_ueur", "fees_ueur",
               "penalties_ueur", "net_ueur")


@bp.get("/account")
def mine():
    me, _ = signed_in()
    return redirect(url_for("account.page", public_key=me), 303)


@bp.get("/account/<public_key>")
def page(public_key: str):
    public_key = params.public_key(public_key)
    require_account(public_key)
    s = services()
    first, last = params.day_range()
    side = params.choice("side", params.SIDES)
    stage = params.choice("stage", params.STAGES)
    st = statement.read(s.engine, public_key, first, last)
    rows, matched = queries.trades(s.engine, public_key, first, last, side, stage, MAX_TRADES)
    rec_days = queries.recommendation_days(s.engine, public_key)
    rec_day = params.day("day", rec_days[-1] if rec_days else (max(st.days) if st.days else market.today()))
    recommended, bought = queries.recommended_vs_bought(s.engine, public_key, rec_day)
    history = queries.score_history(s.engine, public_key)
    outcomes = queries.settlement_outcomes(s.engine, public_key, MAX_TRADES)
    names = queries.names(s.engine, [public_key] + [k for c in rows for k in (c.buyer, c.seller)])
    return render_template(
        "account.html", public_key=public_key, name=names.get(public_key, ""), names=names, st=st,
        months=queries.months(st), trades=rows, matched=matched, limit=MAX_TRADES, side=side, stage=stage,
        first=first, last=last, sides=params.SIDES, stages=params.STAGES, rec_day=rec_day, rec_days=rec_days,
        statement_chart=charts.statement_days(st.days) if st.days else None,
        rec_chart=charts.recommended_vs_bought(rec_day, recommended, bought),
        score_chart=charts.score_history([h.start_block for h in history], [h.score for h in history])
        if history else None,
        history=history, outcomes=outcomes, csv_url=url_for("account.statement_csv", public_key=public_key,
                                                           **_range_args(first, last)))


def _range_args(first: int | None, last: int | None) -> dict[str, str]:
    found = {"from": first, "to": last}
    return {name: market.day_text(day) for name, day in found.items() if day is not None}


@bp.get("/account/<public_key>/statement.csv")
def statement_csv(public_key: str):
    public_key = params.public_key(public_key)
    require_account(public_key)
    first, last = params.day_range()
    st = statement.read(services().engine, public_key, first, last)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for day, t in sorted(st.days.items()):
        writer.writerow(_csv_row(market.day_text(day), t))
    writer.writerow(_csv_row("total", st.total))
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=statement-{public_key[:10]}.csv"})


def _csv_row(label: str, t: statement.Totals) -> list:
    return [label, t.contracts, t.bought_wh, t.sold_wh, t.spent, t.earned, t.fees, t.penalties, t.net]
