"""Recommended schedules (par_engine.recommend, optimal, astar): guarantees and optimality."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import maximum_flow

from sawgrid.par_engine import optimal
from sawgrid.par_engine.recommend import (ALGORITHMS, Problem, feasible_start, make_problem, peak_lower_bound,
                                          recommend, to_integers, water_fill, water_fill_is_exact)
from sawgrid.processors.market.units import HOURS_PER_DAY
from budget import examples

H = HOURS_PER_DAY
FLOAT_SLACK = 1e-6      # float water levels: ⌈level − slack⌉ is the whole-Wh level
SHORT_BUDGET = 0.3      # seconds: astar budget in property tests
PROPS = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ helpers


def assert_valid(problem: Problem, schedules: np.ndarray) -> None:
    """The guarantees of every algorithm: whole Wh, each day's energy kept, within bounds."""
    assert schedules.shape == problem.demand.shape
    assert schedules.dtype == np.int64
    np.testing.assert_array_equal(schedules.sum(1), problem.energy)
    assert np.all(problem.lower <= schedules) and np.all(schedules <= problem.upper)


def integer_min_peak(problem: Problem) -> int:
    """Independent certificate: the least whole-Wh peak, by binary search over maximum flows.

    Peak T is reachable iff a flow source → participant (E_p − Σ lower_p) →
    hour (upper − lower) → sink (T − base_h − Σ_p lower_ph) saturates the
    source (integral flows give integral schedules).
    """
    lo, up, n = problem.lower, problem.upper, problem.n
    movable = problem.energy - lo.sum(1)
    sink = n + H + 1

    def feasible(peak: int) -> bool:
        caps = peak - problem.base - lo.sum(0)
        if np.any(caps < 0):
            return False
        p, h = np.nonzero(up - lo)
        src = np.concatenate([np.zeros(n, int), 1 + p, n + 1 + np.arange(H)])
        dst = np.concatenate([1 + np.arange(n), n + 1 + h, np.full(H, sink)])
        cap = np.concatenate([movable, (up - lo)[p, h], caps]).astype(np.int32)
        graph = sp.csr_array((cap, (src, dst)), shape=(sink + 1, sink + 1))
        return maximum_flow(graph, 0, sink).flow_value == movable.sum()

    low, high = max(0, math.ceil(peak_lower_bound(problem) - FLOAT_SLACK)), int(problem.aggregate(problem.demand).max())
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if feasible(mid) else (mid + 1, high)
    return low


@st.composite
def problems(draw, max_n: int = 5, demand_in_bounds: bool = True) -> Problem:
    """Random small problems: any demand, bounds around it, optional base load."""
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    peaky = rng.random() < 0.5
    demand = rng.integers(0, 1_000, (n, H)) * (rng.random((n, H)) < (0.3 if peaky else 1.0))
    lower = np.floor(demand * rng.random((n, H)) * draw(st.sampled_from([0.0, 0.5, 1.0]))).astype(np.int64)
    upper = demand + rng.integers(0, 1_500, (n, H)) * (rng.random((n, H)) < draw(st.sampled_from([0.2, 1.0])))
    if draw(st.booleans()):     # each participant may only buy in its own window of hours
        start, width = rng.integers(0, H, (n, 1)), rng.integers(1, H + 1, (n, 1))
        window = (np.arange(H) - start) % H < width
        demand, lower, upper = demand * window, lower * window, upper * window
    base = rng.integers(0, 3_000, H) if draw(st.booleans()) else None
    if not demand_in_bounds:     # a different demand with the same daily energy, possibly out of bounds
        demand = np.array([rng.multinomial(int(e), np.ones(H) / H) for e in demand.sum(1)])
    return Problem(demand, lower, upper, np.zeros(H, np.int64) if base is None else base)


def household_day(n: int, seed: int = 0) -> np.ndarray:
    """Evening-peaked household days (Wh), jittered."""
    shape = np.array([300, 250, 230, 220, 230, 300, 500, 700, 600, 400, 350, 350,
                      380, 350, 330, 380, 500, 800, 1200, 1400, 1300, 1000, 700, 450])
    rng = np.random.default_rng(seed)
    return (shape * rng.lognormal(0, 0.3, (n, 1)) * rng.uniform(0.8, 1.2, (n, H))).astype(np.int64)


# ------------------------------------------------------------------ guarantees


@PROPS
@given(problems())
def test_optimal_keeps_energy_and_bounds(problem):
    assert_valid(problem, recommend(problem, "optimal").schedules)


@PROPS
@given(problems())
def test_astar_keeps_energy_and_bounds(problem):
    assert_valid(problem, recommend(problem, "astar", time_budget=SHORT_BUDGET).schedules)


@PROPS
@given(problems(demand_in_bounds=False))
def test_guarantees_hold_when_demand_lies_outside_the_bounds(problem):
    assert_valid(problem, feasible_start(problem))
    for algorithm in ALGORITHMS:
        assert_valid(problem, recommend(problem, algorithm, time_budget=SHORT_BUDGET).schedules)


# ------------------------------------------------------------------ optimality


@PROPS
@given(problems())
def test_optimal_is_the_integer_minimum_peak(problem):
    result = recommend(problem, "optimal")
    assert result.peak == result.optimal_peak == integer_min_peak(problem)
    assert result.peak == math.ceil(optimal.min_peak(problem)[1] - FLOAT_SLACK)    # ⌈T*⌉ of the program
    assert result.peak >= math.ceil(peak_lower_bound(problem) - FLOAT_SLACK)
    assert result.extra["gap_to_optimal"] == 0.0


@PROPS
@given(problems())
def test_peaks_are_ordered_optimal_astar_input(problem):
    best = recommend(problem, "optimal")
    searched = recommend(problem, "astar", time_budget=SHORT_BUDGET, yardstick=True)
    assert best.peak <= searched.peak <= searched.extra["input_peak"]
    assert searched.balance >= searched.extra["input_balance"] - 1e-9
    assert searched.optimal_peak == best.peak
    assert searched.extra["gap_to_optimal"] == pytest.approx(searched.peak / best.peak - 1 if best.peak else 0.0)


@PROPS
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_single_participant_reaches_the_water_level(seed, with_base):
    rng = np.random.default_rng(seed)
    demand = rng.integers(0, 2_000, (1, H))
    base = rng.integers(0, 5_000, H) if with_base else None
    problem = make_problem(demand, flexibility=float(rng.random()), base=base)
    assert water_fill_is_exact(problem)
    assert recommend(problem).peak == math.ceil(peak_lower_bound(problem) - FLOAT_SLACK)


@PROPS
@given(st.integers(0, 2**32 - 1), st.integers(2, 40))
def test_loose_bounds_reach_the_water_level(seed, n):
    """Loose bounds: each participant could buy all its movable energy in any hour.

    Then the reachable aggregates are exactly water filling's set, so the
    least fractional peak T* equals the water level W, and the least whole-Wh
    peak — what `optimal` returns — is exactly ⌈W⌉ (not merely within n Wh).
    """
    rng = np.random.default_rng(seed)
    demand = rng.integers(0, 1_000, (n, H))
    lower = np.floor(demand * rng.random((n, 1))).astype(np.int64)
    movable = demand.sum(1) - lower.sum(1)
    upper = lower + movable[:, None] + rng.integers(0, 100, (n, H))
    problem = Problem(demand, lower, upper, rng.integers(0, 10_000, H))
    assert water_fill_is_exact(problem)
    assert optimal.min_peak(problem)[1] == pytest.approx(peak_lower_bound(problem), abs=1e-6)
    assert recommend(problem).peak == math.ceil(peak_lower_bound(problem) - FLOAT_SLACK)


def test_water_level_is_only_a_bound_when_participants_bounds_bind():
    """Participant 0 can only use hours 0-1; the aggregate alone would spread it everywhere."""
    demand = np.zeros((2, H), np.int64)
    demand[0, 0], demand[1, 5] = 10, 10
    upper = np.zeros((2, H), np.int64)
    upper[0, :2] = 10
    upper[1, 2:] = 10
    problem = Problem(demand, np.zeros_like(demand), upper)
    assert not water_fill_is_exact(problem)
    assert peak_lower_bound(problem) == pytest.approx(20 / H)
    result = recommend(problem)
    assert result.peak == 5 == integer_min_peak(problem)
    assert result.extra["lp_peak"] == pytest.approx(5)      # the peak program ran: ⌈W⌉ = 1 is unreachable


@pytest.mark.parametrize("minimise_movement", [True, False])
def test_interior_point_path_of_large_problems(monkeypatch, minimise_movement):
    """From IPM_MIN_PARTICIPANTS HiGHS runs interior point without crossover: fractional, then rounded."""
    monkeypatch.setattr(optimal, "IPM_MIN_PARTICIPANTS", 1)
    problem = make_problem(household_day(300, seed=5), flexibility=0.9)
    result = recommend(problem, minimise_movement=minimise_movement)
    assert_valid(problem, result.schedules)
    assert result.peak == integer_min_peak(problem)
    # half the participants can only buy in the evening: the water level is out of reach,
    # so the peak program runs (on the interior point path too)
    upper = problem.upper.copy()
    upper[:150, :17] = upper[:150, 22:] = 0
    demand = np.minimum(problem.demand, upper)
    demand[:150, 18] += problem.demand[:150].sum(1) - demand[:150].sum(1)
    upper[:150, 18] = np.maximum(upper[:150, 18], demand[:150, 18])
    bounded = Problem(demand, np.zeros_like(demand), upper)
    result = recommend(bounded, minimise_movement=minimise_movement)
    assert result.extra["lp_peak"] is not None
    assert_valid(bounded, result.schedules)
    assert result.peak == integer_min_peak(bounded)


def test_movement_phase_moves_no_more_than_the_peak_phase():
    problem = make_problem(household_day(200, seed=3))
    moved = recommend(problem, minimise_movement=True)
    unmoved = recommend(problem, minimise_movement=False)
    assert moved.peak == unmoved.peak
    assert moved.extra["movement_phase"] and not unmoved.extra["movement_phase"]
    assert moved.extra["moved_wh"] <= unmoved.extra["moved_wh"]


def test_households_halve_their_peak():
    problem = make_problem(household_day(300))
    best = recommend(problem)
    # no time limit: astar stops at its V(S) threshold or when no move improves,
    # so what it finds does not depend on how fast this machine is
    searched = recommend(problem, "astar", time_budget=math.inf, yardstick=True)
    assert searched.extra["stop"] in ("threshold", "exhausted")
    assert_valid(problem, best.schedules)
    assert_valid(problem, searched.schedules)
    assert best.peak < 0.6 * best.extra["input_peak"]
    assert best.peak <= searched.peak < searched.extra["input_peak"]
    assert searched.balance >= searched.extra["input_balance"]
    assert searched.optimal_peak == best.peak
    assert searched.extra["gap_to_optimal"] == searched.peak / best.peak - 1
    assert searched.extra["gap_to_optimal"] < 0.05


# ------------------------------------------------------------------ astar


@PROPS
@given(problems(), st.sampled_from([0.0, 1e-4]))
def test_astar_is_never_worse_than_the_input(problem, budget):
    result = recommend(problem, "astar", time_budget=budget)
    assert_valid(problem, result.schedules)
    assert result.peak <= result.extra["input_peak"]
    assert result.balance >= result.extra["input_balance"] - 1e-9
    if budget == 0.0:
        np.testing.assert_array_equal(result.schedules, problem.demand)


def test_astar_stops_at_the_threshold():
    problem = make_problem(household_day(100), flexibility=0.9)
    result = recommend(problem, "astar", threshold=90.0, time_budget=30.0)
    assert result.extra["stop"] == "threshold"
    assert result.balance >= 90.0


def test_astar_is_deterministic_when_not_timed_out():
    problem = make_problem(household_day(50))
    first, second = (recommend(problem, "astar", time_budget=30.0) for _ in range(2))
    assert first.extra["stop"] != "time"
    np.testing.assert_array_equal(first.schedules, second.schedules)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_flat_day_stays_flat(algorithm):
    demand = np.full((3, H), 500, np.int64)
    result = recommend(make_problem(demand), algorithm)
    np.testing.assert_array_equal(result.schedules, demand)
    assert result.par == 1.0 and result.balance == 100.0 and result.extra["moved_wh"] == 0


def test_complementary_participants_are_left_alone_by_optimal():
    """An already flat aggregate made of two unflat participants: nothing needs to move."""
    demand = np.array([[800 if h < 12 else 200 for h in range(H)],
                       [200 if h < 12 else 800 for h in range(H)]])
    result = recommend(make_problem(demand))
    np.testing.assert_array_equal(result.schedules, demand)


def test_no_participants():
    problem = Problem(np.zeros((0, H), np.int64), np.zeros((0, H), np.int64), np.zeros((0, H), np.int64),
                      np.arange(H))
    for algorithm in ALGORITHMS:
        result = recommend(problem, algorithm)
        assert result.schedules.shape == (0, H) and result.peak == H - 1


# ------------------------------------------------------------------ rounding and water filling


@PROPS
@given(problems(), st.integers(0, 2**32 - 1))
def test_to_integers_keeps_row_sums_bounds_and_hourly_ceilings(problem, seed):
    rng = np.random.default_rng(seed)
    lo, up = problem.lower.astype(float), problem.upper.astype(float)
    # a fractional in-bounds schedule with exact row sums: a random point between
    # the bounds, rescaled per row towards lower or upper to hit E_p
    point = lo + rng.random(lo.shape) * (up - lo)
    short = problem.energy - point.sum(1)
    room = np.where(short[:, None] > 0, up - point, point - lo)
    x = point + short[:, None] * room / np.maximum(room.sum(1), 1e-12)[:, None]
    rounded = to_integers(x, problem)
    assert_valid(problem, rounded)
    assert np.all(rounded.sum(0) <= np.ceil(x.sum(0) - FLOAT_SLACK))


@PROPS
@given(problems(), st.integers(0, 2**32 - 1))
def test_to_integers_repairs_any_matrix(problem, seed):
    x = np.random.default_rng(seed).normal(500, 800, problem.demand.shape)
    assert_valid(problem, to_integers(x, problem))


@PROPS
@given(st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_water_fill_is_the_lowest_flat_top(seed, where):
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 500, H).astype(float)
    up = lo + rng.integers(0, 500, H) * (rng.random(H) < 0.7)
    base = rng.integers(0, 1_000, H).astype(float)
    total = lo.sum() + where * (up.sum() - lo.sum())
    y = water_fill(lo, up, total, base)
    assert y.sum() == pytest.approx(total)
    assert np.all(lo - 1e-9 <= y) and np.all(y <= up + 1e-9)
    top, free = base + y, up > lo + 1e-9
    level = top[free & (y > lo + 1e-9) & (y < up - 1e-9)]     # hours strictly between their bounds
    if level.size:     # one level; no hour below it could take more, none above it could give more
        assert np.ptp(level) == pytest.approx(0, abs=1e-6)
        assert np.all(top[free & (y <= lo + 1e-9)] >= level[0] - 1e-6)
        assert np.all(top[free & (y >= up - 1e-9)] <= level[0] + 1e-6)


# ------------------------------------------------------------------ validation


def test_make_problem_default_bounds():
    demand = np.array([[100] * 20 + [1_000, 0, 7, 3]])
    problem = make_problem(demand, flexibility=0.25)
    np.testing.assert_array_equal(problem.lower, np.floor(demand * 0.75))
    np.testing.assert_array_equal(problem.upper, np.full((1, H), 1_000))
    assert not problem.demand.flags.writeable


@pytest.mark.parametrize("build, message", [
    (lambda: make_problem(np.ones((2, 23))), "shape"),
    (lambda: make_problem(np.ones(H)), "shape"),
    (lambda: make_problem(-np.ones((1, H))), "negative"),
    (lambda: make_problem(np.full((1, H), 1.5)), "whole Wh"),
    (lambda: make_problem(np.full((1, H), np.nan)), "finite"),
    (lambda: make_problem(np.full((1, H), "x")), "numbers"),
    (lambda: make_problem(np.ones((1, H)), flexibility=1.5), "flexibility"),
    (lambda: make_problem(np.ones((1, H)), base=np.ones(5)), "base"),
    (lambda: Problem(np.ones((1, H)), np.full((1, H), 2), np.ones((1, H))), "lower > upper for participant 0"),
    (lambda: Problem(np.ones((1, H)), np.full((1, H), 2), np.full((1, H), 3)), "participant 0's lower bounds"),
    (lambda: Problem(np.full((2, H), 5), np.zeros((2, H)), np.full((2, H), 4)), "participant 0's upper bounds"),
    (lambda: Problem(np.ones((1, H)), np.zeros((2, H)), np.ones((1, H))), "lower must have shape"),
    (lambda: recommend(make_problem(np.ones((1, H))), "greedy"), "unknown algorithm"),
    (lambda: recommend(make_problem(np.ones((1, H))), "astar", time_budget=-1), "time_budget"),
    (lambda: to_integers(np.ones((2, H)), make_problem(np.ones((1, H)))), "schedule must have shape"),
    (lambda: water_fill(np.zeros(H), np.ones(H), 25.0), "outside"),
])
def test_invalid_input_raises_a_clear_value_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_unknown_options_are_refused():
    with pytest.raises(TypeError):
        recommend(make_problem(np.ones((1, H))), "astar", minimise_movement=False)
