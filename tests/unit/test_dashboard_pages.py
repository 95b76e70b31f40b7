"""What the pages show: the market's charts and archive, a member's statement
(the numbers `sawgrid statement` computes from the same mirror), its CSV and
filters, the operator's lists; plotly.js served from the plotly wheel."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from sawgrid.clients.dashboard.app import create_app, plotly_js
from sawgrid.clients.dashboard.config import DashboardConfig
from sawgrid.clients.sdk import market
from sawgrid.clients.sync import statement
from sawgrid.clients.sync.database import open_database
from sawgrid.protos import enrollment_pb2 as epb

from dashboard_world import DAY, make_world, sign_in
from enrollment_world import World as EnrollmentWorld, hex_key


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def app(world):
    return world.app()


@pytest.fixture(scope="module")
def alice(world, app):
    client = app.test_client()
    sign_in(client, world.alice)
    return client


def _charts(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" data-chart="([^"]+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in found}


def _mirror_statement(world):
    from sawgrid.clients.sync.database import make_engine

    engine = make_engine(world.db_url)
    try:
        return statement.read(engine, world.pk(world.alice))
    finally:
        engine.dispose()


def test_plotly_is_served_from_the_wheel(app):
    answer = app.test_client().get("/static/plotly.min.js")
    assert answer.status_code == 200 and answer.data == plotly_js().read_bytes()
    page = app.test_client().get("/")
    assert 'src="/static/plotly.min.js"' in page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "cdn" not in page.get_data(as_text=True).lower()


def test_market_page_charts(app):
    page = app.test_client().get("/", query_string={"day": market.day_text(DAY)})
    assert page.status_code == 200
    charts = _charts(page.get_data(as_text=True))
    assert set(charts) == {"chart-traded", "chart-prices", "chart-par"}
    traded = charts["chart-traded"]["data"]
    p2p = next(t for t in traded if t["name"] == "P2P")["y"]
    assert p2p[10] == 1.5 and p2p[11] == 0.8 and p2p[12] == 1.0 and p2p[13] == 0.5 and sum(p2p) == 3.8
    par = charts["chart-par"]["data"]
    assert [len(t["x"]) for t in par] == [1, 0]          # one day, no penalties in force
    assert par[0]["y"][0] == pytest.approx((3.8 / 24) / 1.5)     # Sawgrid's PAR: mean / peak


def test_statement_is_the_mirrors(world, alice):
    page = alice.get(f"/account/{world.pk(world.alice)}")
    html = page.get_data(as_text=True)
    total = re.search(r'<tr id="statement-total">(.*?)</tr>', html, re.S).group(1)
    cells = dict(re.findall(r'<td class="(spent|earned|fees|penalties|net)">([^<]*)</td>', total))
    expected = _mirror_statement(world).total
    assert expected.contracts == 3 and expected.earned == 1500 * 200 + 40_000     # sold at match, declined paid
    for name in ("spent", "earned", "fees", "penalties", "net"):
        assert market.eur_to_ueur(cells[name].lstrip("-")) * (-1 if cells[name].startswith("-") else 1) \
            == getattr(expected, name), name
    assert "1 contract(s) in settlement" in html
    assert set(_charts(html)) == {"chart-statement", "chart-recommended", "chart-score"}


def test_months_sum_the_days(world, alice):
    html = alice.get(f"/account/{world.pk(world.alice)}").get_data(as_text=True)
    months = re.search(r'<table id="months">(.*?)</table>', html, re.S).group(1)
    assert market.day_text(DAY)[:7] in months


def test_statement_csv(world, alice):
    answer = alice.get(f"/account/{world.pk(world.alice)}/statement.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    expected = _mirror_statement(world)
    assert [r["day"] for r in rows] == [market.day_text(d) for d in sorted(expected.days)] + ["total"]
    assert {k: int(v) for k, v in rows[-1].items() if k != "day"} == {
        "contracts": expected.total.contracts, "bought_wh": expected.total.bought_wh,
        "sold_wh": expected.total.sold_wh, "spent_ueur": expected.total.spent, "earned_ueur": expected.total.earned,
        "fees_ueur": expected.total.fees, "penalties_ueur": expected.total.penalties,
        "net_ueur": expected.total.net}
    later = alice.get(f"/account/{world.pk(world.alice)}/statement.csv",
                      query_string={"from": market.day_text(DAY + 1)})
    assert [r["day"] for r in csv.DictReader(io.StringIO(later.get_data(as_text=True)))] == ["total"]


@pytest.mark.parametrize("query,ids", [
    ({}, {"10/1", "11/2", "12/3", "13/4"}),
    ({"side": "sold"}, {"10/1", "12/3", "13/4"}),
    ({"side": "bought"}, {"11/2"}),
    ({"stage": "pending"}, {"13/4"}),
    ({"stage": "declined"}, {"12/3"}),
    ({"stage": "settled", "side": "sold"}, {"10/1", "12/3"}),
    ({"from": "2000-01-01", "to": "2000-01-02"}, set()),
])
def test_trade_filters(world, alice, query, ids):
    html = alice.get(f"/account/{world.pk(world.alice)}", query_string=query).get_data(as_text=True)
    trades = re.search(r'<table id="trades">(.*?)</table>', html, re.S).group(1)
    assert set(re.findall(rf"<td>{DAY}/(\d+/\d+)</td>", trades)) == ids


def test_recommended_vs_bought_and_q_score(world, alice):
    html = alice.get(f"/account/{world.pk(world.alice)}").get_data(as_text=True)
    charts = _charts(html)
    recommended = next(t for t in charts["chart-recommended"]["data"] if t["name"] == "recommended")["y"]
    bought = next(t for t in charts["chart-recommended"]["data"] if t["name"] == "bought")["y"]
    assert recommended[5] == 0.5 and bought[11] == 0.8 and sum(bought) == 0.8
    score = charts["chart-score"]["data"][0]
    assert score["x"] == [1, 2] and score["y"] == [0.8, 0.85]
    outcomes = re.search(r'<table id="outcomes">(.*?)</table>', html, re.S).group(1)
    assert f"{DAY}/12/3" in outcomes and "declined" in outcomes


def test_operator_page(world, app):
    client = app.test_client()
    sign_in(client, world.operator)
    html = client.get("/operator").get_data(as_text=True)
    pending = re.search(r'<table id="pending">(.*?)</table>', html, re.S).group(1)
    assert world.pk(world.bob) in pending and world.pk(world.alice) not in pending
    declined = re.search(r'<table id="declined">(.*?)</table>', html, re.S).group(1)
    assert f"{DAY}/12/3" in declined and f"{DAY}/10/1" not in declined


def test_operator_page_lists_the_join_requests_still_open(tmp_path):
    w = EnrollmentWorld()
    waiting, _ = w.applicant(serial="SM-1")
    decided, _ = w.applicant(serial="SM-2")
    slot = w.slot()
    leader, payload = w.propose([w.decision(decided)])
    w.submit(leader, payload)
    w.countersign_all(slot)
    assert w.reader.request(hex_key(decided)).status == epb.APPROVED
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    open_database(url).engine.dispose()
    app = create_app(DashboardConfig(db_url=url, rest_url="http://127.0.0.1:1"), ledger=w.ledger)
    app.testing = True
    client = app.test_client()
    sign_in(client, w.op)
    html = client.get("/operator").get_data(as_text=True)
    table = re.search(r'<table id="enrollment">(.*?)</table>', html, re.S).group(1)
    assert hex_key(waiting) in table and hex_key(decided) not in table


def test_security_headers_on_every_answer(app):
    for path in ("/", "/login", "/nowhere"):
        answer = app.test_client().get(path)
        assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
