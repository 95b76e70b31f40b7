"""What the PAR engine shows people: `par run`'s text and `par serve`'s API
errors, all of it without a traceback or an HTML page."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from sawgrid.clients.cli.par import _report_text
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.keys import new_private_key, signer_for
from sawgrid.par_engine.engine import Engine
from sawgrid.par_engine.service import ENDPOINTS, create_app


def _report(**fields):
    base = dict(status="issued", target_day="2026-03-02", day="2026-03-01", participants=1,
                totals_wh=[0] * 24, par=1.0, peak_to_average=1.0, balance=100.0, penalties=[1000] * 24,
                recommended_par=None, optimal_par=None, algorithm="optimal", gap_to_optimal=None, seconds=0.01)
    return SimpleNamespace(**{**base, **fields})


def test_a_day_without_trades_says_so_instead_of_a_perfect_par():
    text = _report_text(_report(participants=0))
    assert "no trades" in text
    assert "PAR" not in text and "V(S)" not in text


def test_counts_are_grammatical_and_vs_is_explained():
    totals = [1000] * 12 + [3000] * 12
    one = _report_text(_report(participants=1, totals_wh=totals, par=0.5, peak_to_average=2.0, balance=50.0))
    assert "(1 buyer)" in one and "(1 buyers)" not in one
    assert "V(S) 50.0 (load balance, 100 = flat)" in one
    two = _report_text(_report(participants=2, totals_wh=totals, penalties=[1000] * 23 + [1250]))
    assert "(2 buyers)" in two and "penalties: 23h x1.250" in two


@pytest.fixture
def api():
    engine = Engine(InProcessClient(), signer_for(new_private_key()))
    return create_app(engine).test_client()


def test_the_api_lists_its_endpoints(api):
    response = api.get("/")
    assert response.status_code == 200
    assert response.get_json() == {"endpoints": ENDPOINTS}


@pytest.mark.parametrize("path, status, message", [
    ("/par/1969-12-31", 400, "day must be between 1970-01-01 and 9999-12-31, got '1969-12-31'"),
    ("/penalties/0001-01-01", 400, "day must be between 1970-01-01 and 9999-12-31, got '0001-01-01'"),
    ("/par/yesterday", 400, "day must be YYYY-MM-DD, got 'yesterday'"),
    ("/nothing-here", 404, "no such endpoint (GET / lists them)"),
])
def test_bad_requests_get_json_errors(api, path, status, message):
    response = api.get(path)
    assert response.status_code == status
    assert response.is_json and response.get_json() == {"error": message}


def test_a_wrong_method_is_a_json_405(api):
    response = api.post("/health")
    assert response.status_code == 405
    assert response.is_json and "error" in response.get_json()
    assert b"<html" not in response.data.lower() and b"<!doctype" not in response.data.lower()
