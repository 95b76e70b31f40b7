"""Figures for the pages, built with plotly's Python API (which checks them)
and handed to the page as JSON: the plotly.js the dashboard serves itself
(`/static/plotly.min.js`, the plotly wheel's own copy) draws them as SVG.
Units are the user's: kWh, EUR, EUR/kWh."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from sawgrid.clients.sdk.market import day_text

HOURS = list(range(24))
_LAYOUT = dict(margin=dict(l=60, r=20, t=40, b=50), height=320, legend=dict(orientation="h", y=-0.2),
               paper_bgcolor="white", plot_bgcolor="#f7f7f7")


def _figure(traces: list, title: str, x_title: str, y_title: str, xaxis_type: str = "-", **layout) -> dict:
    """A figure's JSON; days go on a category axis (a date axis of one day shows milliseconds)."""
    fig = go.Figure(data=traces, layout=go.Layout(title=title, xaxis=dict(title=x_title, type=xaxis_type),
                                                  yaxis=dict(title=y_title), **_LAYOUT, **layout))
    return fig.to_plotly_json()


def _kwh(values: Sequence[int | None]) -> list[float | None]:
    return [None if v is None else v / 1000 for v in values]


def _eur(values: Sequence[int | None]) -> list[float | None]:
    return [None if v is None else v / 1_000_000 for v in values]


def traded_energy(day: int, p2p: Sequence[int], grid: Sequence[int]) -> dict:
    return _figure([go.Bar(x=HOURS, y=_kwh(p2p), name="P2P"), go.Bar(x=HOURS, y=_kwh(grid), name="grid")],
                   f"Traded energy, {day_text(day)}", "hour", "kWh", barmode="stack")


def daily_par(days: Sequence) -> dict:
    with_p = [d for d in days if d.penalties]
    without = [d for d in days if not d.penalties]
    return _figure([go.Scatter(x=[day_text(d.day) for d in without], y=[d.par for d in without],
                               mode="markers", name="no penalties in force"),
                    go.Scatter(x=[day_text(d.day) for d in with_p], y=[d.par for d in with_p],
                               mode="markers", name="penalties in force")],
                   "Daily PAR of traded energy (mean / peak; 1 is flat)", "day", "PAR", xaxis_type="category")


def prices(day: int, buy: Sequence[int | None], sell: Sequence[int | None], p2p: Sequence[int | None]) -> dict:
    return _figure([go.Scatter(x=HOURS, y=_eur(sell), name="grid sells at", mode="lines+markers"),
                    go.Scatter(x=HOURS, y=_eur(buy), name="grid buys at", mode="lines+markers"),
                    go.Scatter(x=HOURS, y=_eur(p2p), name="P2P (mean)", mode="lines+markers")],
                   f"Prices, {day_text(day)}", "hour", "EUR/kWh")


def statement_days(days: dict) -> dict:
    x = [day_text(d) for d in sorted(days)]
    t = [days[d] for d in sorted(days)]
    return _figure([go.Bar(x=x, y=_eur([v.spent for v in t]), name="spent"),
                    go.Bar(x=x, y=_eur([v.earned for v in t]), name="earned"),
                    go.Bar(x=x, y=_eur([v.fees for v in t]), name="fees"),
                    go.Bar(x=x, y=_eur([v.penalties for v in t]), name="penalties"),
                    go.Scatter(x=x, y=_eur([v.net for v in t]), name="net", mode="lines+markers")],
                   "Statement by day", "day", "EUR", barmode="group", xaxis_type="category")


def recommended_vs_bought(day: int, recommended: Sequence[int | None], bought: Sequence[int]) -> dict:
    return _figure([go.Bar(x=HOURS, y=_kwh(bought), name="bought"),
                    go.Scatter(x=HOURS, y=_kwh(recommended), name="recommended", mode="lines+markers")],
                   f"Recommended vs bought, {day_text(day)}", "hour", "kWh")


def score_history(blocks: Sequence[int], scores_ppm: Sequence[int]) -> dict:
    return _figure([go.Scatter(x=list(blocks), y=[s / 1_000_000 for s in scores_ppm], mode="lines+markers",
                               name="Q-score", line=dict(shape="hv"))],
                   "Q-score history", "block", "Q-score")
