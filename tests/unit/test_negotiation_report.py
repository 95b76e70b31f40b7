"""The negotiation report (clients/negotiation/report.py): the files `sawgrid negotiate --out`
writes, with the paper's trades beside ours, the welfare gap and the timings it was given."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from sawgrid.clients.negotiation import algorithm, optimum, report
from sawgrid.clients.negotiation.agents import PAPER_TRADES, Agent
from sawgrid.clients.negotiation.cases import Case, load_case

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def congested():
    case = load_case("congested")
    return case, algorithm.run_plain(case), optimum.solve(case)


def test_report_files_and_their_contents(tmp_path, congested):
    case, result, best = congested
    timings = [report.Timing(1024, "encrypt", 24, 0.48), report.Timing(2048, "decrypt", 12, 1.2)]
    files = report.write_report(tmp_path / "out", case, result, best, timings)

    assert files.plot.read_bytes().startswith(PNG_SIGNATURE)
    assert files.plot.stat().st_size > 10_000  # two real panels, not an empty canvas
    data = json.loads(files.data.read_text())
    text = files.markdown.read_text()

    # trades: ours beside the paper's, row by row
    row = next(r for r in data["trades"] if (r["seller"], r["buyer"]) == ("S2", "B3"))
    assert row["kw"] == pytest.approx(result.trades[("S2", "B3")])
    assert (row["paper_kw"], row["paper_usd_per_kw"]) == PAPER_TRADES[("S2", "B3")]
    assert f"| S2 | B3 | {row['kw']:.2f} | {row['usd_per_kw']:.3f} | 1.37 | 2.74 |" in text
    assert data["traded_kw"] == pytest.approx(sum(result.trades.values()))
    assert data["paper_traded_kw"] == pytest.approx(19.39)

    # welfare against the optimum
    gap = 100 * (best.welfare - result.welfare) / abs(best.welfare)
    assert data["welfare"]["gap_percent"] == pytest.approx(gap)
    assert f"gap: {gap:.4f} %" in text

    # the binding line with its limit and price
    line = next(l for l in data["lines"] if l["line"] == "2-3")
    assert line["limit_kw"] == 3.0 and line["usd_per_kw"] == pytest.approx(result.line_prices["2-3"])
    assert f"| 2-3 | {line['flow_kw']:.3f} | 3.00 | {line['usd_per_kw']:.3f} |" in text

    # the timings as given, with their means
    assert "| 1024 | encrypt | 24 | 0.480 | 20.000 |" in text
    assert "| 2048 | decrypt | 12 | 1.200 | 100.000 |" in text

    # the convergence series are the run's
    assert data["convergence"]["power_mismatch_kw"] == list(result.power_mismatch)
    assert len(data["convergence"]["price_mismatch_usd_per_kw"]) == result.iterations


def test_paper_table_welfare_follows_from_its_quantities():
    # S1, S3 5.25 kW; S2 3.97; S4 4.92; B1 6.5, B2 5.77, B3 7.12 (the table's row and column sums)
    cost = (2 * (0.02 * 5.25**2 + 5.25) + 0.023 * 3.97**2 + 3.97 + 0.025 * 4.92**2 + 4.92)
    utility = (3 * 6.5 - 0.025 * 6.5**2) + (3 * 5.77 - 0.028 * 5.77**2) + (3 * 7.12 - 0.025 * 7.12**2)
    assert report.paper_welfare() == pytest.approx(utility - cost)


def test_other_markets_get_no_paper_column_and_no_timings(tmp_path):
    case = Case("two", (Agent("S", 2, "producer", 0.04, 1.0, 0.0, 7.0),
                        Agent("B", 3, "consumer", 0.05, 3.0, -7.0, 0.0)))
    result = algorithm.run_plain(case)
    files = report.write_report(tmp_path, case, result)
    text = files.markdown.read_text()
    data = json.loads(files.data.read_text())
    assert "paper kW" not in text and data["paper_traded_kw"] is None
    assert "optimum_usd" not in data["welfare"] and "paper_table_usd" not in data["welfare"]
    assert "Not measured in this run" in text


def test_a_run_that_stopped_early_says_so(tmp_path):
    case = load_case("paper")
    result = algorithm.run_plain(case, replace(case.params, max_iterations=3))
    text = report.write_report(tmp_path, case, result).markdown.read_text()
    assert "did NOT converge after 3 iterations" in text
