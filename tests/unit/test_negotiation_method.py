"""The negotiation's method (clients/negotiation/algorithm.py): each party's step against
hand-computed vectors, and the whole loop against the centralised optimum (optimum.py, HiGHS)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sawgrid.clients.negotiation import algorithm, optimum
from sawgrid.clients.negotiation.agents import CONSUMER, PRODUCER, Agent
from sawgrid.clients.negotiation.cases import Case, load_case, synthetic_case
from sawgrid.clients.negotiation.params import Params

SELLER = Agent("S", 2, PRODUCER, 0.04, 1.0, 1.0, 7.0)
BUYER = Agent("B", 3, CONSUMER, 0.05, 3.0, -7.0, -1.0)
ETA2 = Params(eta=2.0, alpha=0.05)


def state_for(agent: Agent, prices: dict[str, float], start: dict[str, float]) -> algorithm.State:
    """A state in which `agent` trades with the named neighbours at the given prices, no line charges."""
    producers = frozenset([agent.name] if agent.is_producer else prices)
    keys = {m: algorithm.pair_key(agent.name, m, producers) for m in prices}
    trades = {agent.name: dict(start), **{m: {agent.name: 0.0} for m in prices}}
    return algorithm.State(
        iteration=1,
        trades=trades,
        previous_trades=trades,
        prices={keys[m]: p for m, p in prices.items()},
        previous_prices={keys[m]: p for m, p in prices.items()},
        charges={keys[m]: 0.0 for m in prices},
    )


# --- eq. 15: the agent's proximal quantity step ------------------------------------------------

def test_producer_step_interior():
    # d = 2 + 2*1.2 = 4.4 each; s = (0.04*8.8 + 1) / (1 + 0.04*2*2) = 1.165517; y = 4.4 - 2 s
    new = algorithm.quantity_update(SELLER, state_for(SELLER, {"B1": 1.2, "B2": 1.2}, {"B1": 2.0, "B2": 2.0}), ETA2)
    assert new == pytest.approx({"B1": 2.068966, "B2": 2.068966}, abs=1e-6)


def test_producer_step_lifted_to_its_lower_bound():
    # interior total 0.69 kW < p_min 1: s solves 4.8 - 4 s = 1 -> s = 0.95, y = 2.4 - 1.9
    new = algorithm.quantity_update(SELLER, state_for(SELLER, {"B1": 1.2, "B2": 1.2}, {"B1": 0.0, "B2": 0.0}), ETA2)
    assert new == pytest.approx({"B1": 0.5, "B2": 0.5}, abs=1e-9)


def test_producer_step_capped_at_its_upper_bound():
    # d = 3 + 2*3 = 9 each; interior total 12.07 > 7: 18 - 4 s = 7 -> s = 2.75, y = 9 - 5.5
    new = algorithm.quantity_update(SELLER, state_for(SELLER, {"B1": 3.0, "B2": 3.0}, {"B1": 3.0, "B2": 3.0}), ETA2)
    assert new == pytest.approx({"B1": 3.5, "B2": 3.5}, abs=1e-9)


def test_producer_step_drops_the_cheaper_buyer_first():
    # d = (0 + 2*1.3, 0 + 2*0.2) = (2.6, 0.4): interior s with both active = (0.04*3+1)/1.16
    # = 0.9655 > 0.2 = 0.4/2, so B2 drops out; with B1 alone s = (0.04*2.6+1)/1.08 = 1.0222,
    # y = 2.6 - 2.0444 = 0.5556 < p_min: 2.6 - 2 s = 1 -> s = 0.8 (B2 still out: 0.4 - 1.6 < 0)
    new = algorithm.quantity_update(SELLER, state_for(SELLER, {"B1": 1.3, "B2": 0.2}, {"B1": 0.0, "B2": 0.0}), ETA2)
    assert new == pytest.approx({"B1": 1.0, "B2": 0.0}, abs=1e-9)


def test_consumer_step_buys_negative_quantities():
    # selling coordinates y = -P: b' = -3, c = 2, d = -4 each; s = (0.05*-8 - 3)/(1 + 0.2) = -2.8333
    # y = -4 + 2*2.8333 = 1.6667 each, total 3.33 kW within [1, 7]
    new = algorithm.quantity_update(BUYER, state_for(BUYER, {"S1": 2.0, "S2": 2.0}, {"S1": 0.0, "S2": 0.0}), ETA2)
    assert new == pytest.approx({"S1": -1.666667, "S2": -1.666667}, abs=1e-6)


def test_line_charge_halves_lower_what_a_producer_earns():
    # a charge c = 0.4 on the pair costs the seller c/2: as if the price were 1.2 - 0.2 = 1.0
    base = state_for(SELLER, {"B1": 1.2}, {"B1": 2.0})
    charged = replace(base, charges={("S", "B1"): 0.4})
    cheaper = state_for(SELLER, {"B1": 1.0}, {"B1": 2.0})
    assert algorithm.quantity_update(SELLER, charged, ETA2) == pytest.approx(
        algorithm.quantity_update(SELLER, cheaper, ETA2), abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    a=st.floats(0.001, 1.0),
    b=st.floats(-5.0, 5.0),
    linear=st.lists(st.floats(-5.0, 5.0), min_size=1, max_size=6),
    starts=st.lists(st.floats(0.0, 10.0), min_size=6, max_size=6),
    low=st.one_of(st.just(0.0), st.floats(1e-3, 5.0)),  # kW-scale bounds, not 1e-38
    width=st.one_of(st.just(0.0), st.floats(1e-3, 10.0)),
    eta=st.floats(0.05, 10.0),
)
def test_prox_step_satisfies_its_optimality_conditions(a, b, linear, starts, low, width, eta):
    """KKT of min 1/2 a Y^2 + b Y + c.y + |y - y0|^2 / (2 eta), y >= 0, low <= Y <= high."""
    start = starts[: len(linear)]
    high = low + width
    y = algorithm._prox_step(a, b, linear, start, low, high, eta)
    total = sum(y)
    assert all(v >= 0 for v in y)
    assert low - 1e-9 <= total <= high + 1e-9
    d = [y0 - eta * c for y0, c in zip(start, linear)]
    active = [(dm - ym) / eta for dm, ym in zip(d, y) if ym > 0.0]  # inactive ones are exact zeros
    marginal = a * total + b
    if not active:  # nothing traded: only right if even the best trade is not worth its cost
        assert total == 0.0 and low == 0.0
        if high > 1e-9:
            assert max(d) / eta <= marginal + 1e-7
        return
    s = active[0]
    assert all(abs(v - s) < 1e-7 * (1 + abs(s)) for v in active)  # one marginal value for all
    assert all(dm - eta * s <= 1e-7 for dm, ym in zip(d, y) if ym == 0.0)  # the rest stay out
    if low + 1e-9 < total < high - 1e-9:
        assert s == pytest.approx(marginal, abs=1e-7)
    elif total >= high - 1e-9 and high > low + 1e-9:
        assert s >= marginal - 1e-7  # capped: the bound's multiplier is >= 0
    elif total <= low + 1e-9 and high > low + 1e-9:
        assert s <= marginal + 1e-7  # lifted to the lower bound


# --- eq. 17: one term per agent ---------------------------------------------------------------

def test_price_term_is_the_agents_own_extrapolated_innovation():
    state = state_for(SELLER, {"B1": 1.5}, {"B1": 2.0})
    state = replace(state, previous_trades={"S": {"B1": 1.0}, "B1": {"S": 0.0}})
    # -alpha (2 * 2.0 - 1.0) = -0.05 * 3
    assert algorithm.price_term(SELLER, "B1", state, ETA2) == pytest.approx(-0.15)
    # the buyer's proposal does not enter the seller's term
    other = replace(state, trades={"S": {"B1": 2.0}, "B1": {"S": -5.0}})
    assert algorithm.price_term(SELLER, "B1", other, ETA2) == pytest.approx(-0.15)


def test_step_moves_each_price_by_the_sum_of_the_two_terms():
    case = load_case("paper")
    params = case.params
    state = algorithm.step(algorithm.step(algorithm.initial_state(case), case, params), case, params)
    agents = {a.name: a for a in case.agents}
    moved = replace(state, trades={name: algorithm.quantity_update(agent, state, params)
                                   for name, agent in agents.items()},
                    previous_trades=state.trades)
    after = algorithm.step(state, case, params)
    for (n, m), price in state.prices.items():
        expected = (price + algorithm.price_term(agents[n], m, moved, params)
                    + algorithm.price_term(agents[m], n, moved, params))
        assert after.prices[(n, m)] == pytest.approx(expected, abs=1e-12)
    assert any(after.prices[k] != state.prices[k] for k in state.prices)


def test_reciprocal_settled_trades_leave_prices_unchanged():
    result_state = None

    def keep(state, _residuals):
        nonlocal result_state
        result_state = state

    case = load_case("paper")
    algorithm.run_plain(case, on_iteration=keep)
    agents = {a.name: a for a in case.agents}
    for n, m in result_state.prices:
        total = (algorithm.price_term(agents[n], m, result_state, case.params)
                 + algorithm.price_term(agents[m], n, result_state, case.params))
        assert abs(total) < 1e-3


# --- eq. 19 and the whole loop ----------------------------------------------------------------

def test_nothing_is_converged_at_the_opening_prices():
    case = load_case("paper")
    assert not algorithm.converged(algorithm.initial_state(case), case.params)
    first = algorithm.step(algorithm.initial_state(case), case, case.params)
    assert not algorithm.converged(first, case.params)
    assert algorithm.residuals(first).power_mismatch > case.params.eps_power


def test_a_run_that_runs_out_of_iterations_says_so():
    case = load_case("paper")
    result = algorithm.run_plain(case, replace(case.params, max_iterations=5))
    assert not result.converged and result.iterations == 5
    assert len(result.price_mismatch) == len(result.power_mismatch) == 5


def test_progress_is_reported_every_iteration():
    seen = []
    result = algorithm.run_plain(load_case("paper"), on_iteration=lambda s, r: seen.append(s.iteration))
    assert seen == list(range(1, result.iterations + 1))


@pytest.mark.parametrize("name", ["paper", "congested"])
def test_negotiation_reaches_the_centralised_optimum(name):
    case = load_case(name)
    result = algorithm.run_plain(case)
    best = optimum.solve(case)
    assert result.converged
    gap = abs(best.welfare - result.welfare) / abs(best.welfare)
    assert gap < 1e-3
    # the powers (unlike the pair trades) are unique at the optimum
    for agent in case.agents:
        assert result.powers[agent.name] == pytest.approx(best.powers[agent.name], abs=0.02)
        # recorded trades never exceed what either side offered, so no upper bound is passed
        if agent.is_producer:
            assert agent.p_min - 1e-3 <= result.powers[agent.name] <= agent.p_max
        else:
            assert agent.p_min <= result.powers[agent.name] <= agent.p_max + 1e-3
    # producers only sell, consumers only buy; the book balances
    assert all(q >= -1e-9 for q in result.trades.values())
    assert sum(result.powers.values()) == pytest.approx(0.0, abs=1e-6)
    for line, price in best.line_prices.items():
        assert result.line_prices[line] == pytest.approx(price, abs=0.01)


def test_optimum_without_limits_is_one_uniform_price():
    # uncongested, every agent strictly inside its bounds faces the same marginal price
    best = optimum.solve(load_case("paper"))
    case = load_case("paper")
    inside = [a for a in case.agents if a.p_min + 1e-6 < best.powers[a.name] < a.p_max - 1e-6]
    assert inside
    for agent in inside:
        assert agent.marginal_cost(best.powers[agent.name]) == pytest.approx(best.price, abs=1e-6)


def test_custom_case_with_two_agents():
    case = Case("two", (SELLER, BUYER))
    result = algorithm.run_plain(case)
    # marginal cost = marginal utility: 1 + 0.04 P = 3 - 0.05 P -> P = 22.2 kW, capped at 7
    assert result.converged
    assert result.trades[("S", "B")] == pytest.approx(7.0, abs=1e-3)
    assert 1.28 - 0.01 <= result.prices[("S", "B")] <= 2.65 + 0.01


def test_synthetic_cases_are_reproducible_and_paper_like():
    case = synthetic_case(20, seed=3)
    assert case == synthetic_case(20, seed=3) and case != synthetic_case(20, seed=4)
    producers = [a for a in case.agents if a.is_producer]
    assert len(case.agents) == 20 and len(producers) == 11
    assert all(0.04 <= a.a <= 0.05 and a.b == 1.0 and 4 <= a.p_max <= 7 for a in producers)


def test_twenty_agents_on_a_congested_grid_reach_the_optimum():
    case = synthetic_case(20, seed=1, line_limits={"2-3": 3.0, "4-5": 5.0})
    result, best = algorithm.run_plain(case), optimum.solve(case)
    assert result.converged
    assert abs(best.welfare - result.welfare) / abs(best.welfare) < 1e-3
    assert any(price > 0.01 for price in best.line_prices.values())  # a limit does bind
