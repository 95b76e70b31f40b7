"""The grid (clients/negotiation/grid.py): pandapower's PTDF matrix mapped to IEEE bus numbers and
named branches, checked against pandapower's own DC power flow; and the congested case, where a
line limit binds and its price changes who trades with whom."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from sawgrid.clients.negotiation import algorithm, optimum
from sawgrid.clients.negotiation.agents import PAPER_AGENTS
from sawgrid.clients.negotiation.cases import Case, case_from_dict, load_case
from sawgrid.clients.negotiation.grid import load_grid


def test_ieee14_has_the_papers_buses_and_its_20_branches():
    grid = load_grid("ieee14")
    assert grid.buses == tuple(range(1, 15)) and grid.slack_bus == 1
    assert len(grid.lines) == 20 and grid.ptdf.shape == (20, 14)
    assert {a.bus for a in PAPER_AGENTS} <= set(grid.buses)
    assert {"1-2", "2-3", "7-8", "9-10"} <= set(grid.lines)


def test_ptdf_flows_equal_pandapowers_dc_power_flow():
    """Inject the uncongested optimum's powers at the agents' buses in pandapower itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandapower
        import pandapower.networks
    grid = load_grid("ieee14")
    powers = optimum.solve(load_case("paper")).powers
    net = pandapower.networks.case14()
    net.load["p_mw"] = 0.0
    net.gen["p_mw"] = 0.0
    for agent in PAPER_AGENTS:  # treat kW as MW: the DC flow is linear
        pandapower.create_sgen(net, agent.bus - 1, p_mw=powers[agent.name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # case14 predates pandapower 3's tap tables
        pandapower.rundcpp(net, numba=False)
    theirs = list(net.res_line.p_from_mw) + list(net.res_trafo.p_hv_mw)
    ours = grid.flows({a.bus: powers[a.name] for a in PAPER_AGENTS})
    assert np.allclose(ours, theirs, atol=1e-9)
    assert max(abs(f) for f in theirs) > 1.0  # a real flow pattern, not all zeros


def test_a_transfer_into_radial_bus_8_crosses_only_its_transformer():
    grid = load_grid("ieee14")
    factors = grid.transfer_factors(3, 8)  # 1 kW from bus 3 to bus 8
    assert factors[grid.lines.index("7-8")] == pytest.approx(1.0)
    # and the slack bus cancels: the same transfer from bus 3 to bus 8 via bus 1's column
    via_slack = grid.transfer_factors(3, 1) + grid.transfer_factors(1, 8)
    assert np.allclose(factors, via_slack)


def test_unknown_grid_and_line_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown grid"):
        load_grid("ieee30")
    case = Case("bad", PAPER_AGENTS, line_limits={"2-99": 1.0})
    with pytest.raises(ValueError, match="no line '2-99'"):
        optimum.solve(case)
    with pytest.raises(ValueError, match="no line '2-99'"):
        algorithm.run_plain(case)


@pytest.mark.parametrize("raw, message", [
    ({"agents": 3}, '"agents" must be'),
    ({"agents": [{"name": "S", "bus": 2, "kind": "producer", "a": 0.04, "b": 1, "p_min": 1}]},
     "lacks field 'p_max'"),
    ({"line_limits_kw": {"2-3": -1}}, "line 2-3 limit must be a positive"),
    ({"line_limits_kw": {"2-3": "big"}}, "line_limits_kw.2-3 must be a finite number"),
    ({"params": {"gamma": 1}}, "unknown params: gamma"),
    ({"params": {"alpha": 0}}, "params.alpha must be > 0"),
    ({"grid": "ieee30"}, "unknown grid"),
])
def test_malformed_cases_name_the_field(raw, message):
    with pytest.raises(ValueError, match=message):
        case_from_dict(raw)


def test_missing_case_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no case"):
        load_case(tmp_path / "nope.json")


def test_congested_line_binds_and_its_price_moves_the_trades():
    paper, congested = load_case("paper"), load_case("congested")
    (line, limit), = congested.line_limits.items()
    free = algorithm.run_plain(paper)
    bound = algorithm.run_plain(congested)
    assert free.converged and bound.converged
    # uncongested, the line would carry more than its limit; congested, it sits at the limit
    assert abs(free.line_flows[line]) > limit + 0.5
    assert abs(bound.line_flows[line]) == pytest.approx(limit, abs=1e-2)
    assert bound.line_prices[line] > 0.1
    # no limited line is overloaded
    assert all(abs(bound.line_flows[l]) <= lim + 1e-2 for l, lim in congested.line_limits.items())
    # the trades change: the seller and buyer at the line's ends trade less, welfare falls
    s1_b1 = ("S1", "B1")
    assert bound.powers["S1"] < free.powers["S1"] - 0.5
    assert bound.powers["B1"] > free.powers["B1"] + 0.5
    assert max(abs(bound.trades[p] - free.trades[p]) for p in free.trades) > 0.5
    assert bound.trades[s1_b1] < free.trades[s1_b1]
    assert bound.welfare < free.welfare
    # and prices separate: pairs across the line pay its charge, so they no longer all agree
    assert max(bound.prices.values()) - min(bound.prices.values()) > 0.1
    assert max(free.prices.values()) - min(free.prices.values()) < 1e-3
