"""The movement phase as a min-cost flow (optimal.least_movement_flow): exact, whole Wh, deterministic.

The flow must reach exactly the minimum movement of the linear program it
replaces (HiGHS dual simplex, whose vertex is integral), at the certified
least peak, keeping every participant's energy and bounds, on problems that
stress the network: tight bounds, demand outside the bounds, participants
with no energy, base load, and days whose water level is out of reach.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from sawgrid.par_engine import optimal
from sawgrid.par_engine.recommend import Problem, make_problem, peak_lower_bound, recommend
from sawgrid.processors.market.units import HOURS_PER_DAY

H = HOURS_PER_DAY
FLOAT_SLACK = 1e-6        # HiGHS's objective is a float: this close to the flow's integer counts as equal
CASES = ("loose", "tight", "outside", "zero_energy", "windows", "base")
SEEDS = range(3)


def random_problem(case: str, seed: int) -> Problem:
    """50-300 participants of random days, shaped by `case` (see the module docstring)."""
    rng = np.random.default_rng([seed, CASES.index(case)])
    n = int(rng.integers(50, 301))
    demand = rng.integers(0, 1_500, (n, H)) * (rng.random((n, H)) < 0.7)
    lower = np.floor(demand * rng.random((n, H)) * rng.choice([0.0, 0.5, 0.9])).astype(np.int64)
    upper = demand + rng.integers(0, 1_000, (n, H))
    base = np.zeros(H, np.int64)
    if case == "tight":            # most hours cannot move at all; the rest only by a few Wh
        frozen = rng.random((n, H)) < 0.8
        lower = np.where(frozen, demand, np.maximum(demand - rng.integers(0, 5, (n, H)), 0))
        upper = np.where(frozen, demand, demand + rng.integers(0, 5, (n, H)))
    elif case == "outside":        # same daily energy, spread differently: often outside [lower, upper]
        demand = np.array([rng.multinomial(int(e), np.ones(H) / H) for e in demand.sum(1)])
    elif case == "zero_energy":    # a third of the participants buy nothing, whatever their upper bounds
        idle = rng.random(n) < 1 / 3
        demand[idle] = lower[idle] = 0
        upper[idle] = rng.integers(0, 2, (int(idle.sum()), H)) * 500
    elif case == "windows":        # each participant may only buy in its own hours: water level unreachable
        night = rng.random((n, 1)) < 0.5     # night owls (hours 0-11) buy 10× more than the others
        start = np.where(night, rng.integers(0, 7, (n, 1)), rng.integers(12, 19, (n, 1)))
        window = (np.arange(H) - start) % H < rng.integers(1, 6, (n, 1))
        demand = np.where(night, demand, demand // 10)
        demand, lower, upper = demand * window, np.minimum(lower, demand) * window, upper * window
    elif case == "base":
        base = rng.integers(0, 50_000, H)
    return Problem(demand, lower, upper, base)


def certified_peak(problem: Problem) -> int:
    """The least whole-Wh peak, as phase 1 certifies it (no movement phase)."""
    return optimal.solve(problem, lower_bound=peak_lower_bound(problem), minimise_movement=False).target


def movement(problem: Problem, x: np.ndarray) -> float:
    return float(np.abs(np.asarray(x, dtype=float) - problem.demand).sum())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES)
def test_flow_moves_exactly_as_little_as_the_linear_program(case, seed):
    problem = random_problem(case, seed)
    target = certified_peak(problem)
    x = optimal.least_movement_flow(problem, target)
    assert x.dtype == np.int64 and x.shape == problem.demand.shape
    np.testing.assert_array_equal(x.sum(1), problem.energy)
    assert np.all(problem.lower <= x) and np.all(x <= problem.upper)
    assert problem.aggregate(x).max() <= target
    lp = optimal.least_movement(problem, target)        # dual simplex below IPM_MIN_PARTICIPANTS
    assert problem.n < optimal.IPM_MIN_PARTICIPANTS
    assert movement(problem, x) == pytest.approx(movement(problem, lp), abs=FLOAT_SLACK)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES)
def test_among_the_least_moving_schedules_the_flow_takes_the_flattest(case, seed):
    """The tie-break: no schedule that moves as little (here the LP's vertex) is flatter in Σ g(S_h)."""
    problem = random_problem(case, seed)
    target = certified_peak(problem)
    start = np.minimum(problem.base + np.clip(problem.demand, problem.lower, problem.upper).sum(0), target)
    edges = optimal.flat_bands(start, target)
    x = optimal.least_movement_flow(problem, target)
    lp = np.rint(optimal.least_movement(problem, target)).astype(np.int64)     # a vertex: integral
    assert movement(problem, lp) == movement(problem, x)
    assert optimal.flatness_penalty(problem.aggregate(x), edges) <= \
        optimal.flatness_penalty(problem.aggregate(lp), edges)


def test_the_tie_break_spreads_what_moves_over_the_low_hours():
    """One participant must take 30 Wh out of hour 0, and may put it into hours 1-3 at the same
    movement; the base makes hour 1 already high, so the flattest answer fills hours 2 and 3 evenly."""
    demand = np.zeros((1, H), np.int64)
    demand[0, 0] = 60
    upper = np.zeros((1, H), np.int64)
    upper[0, :4] = 60
    base = np.zeros(H, np.int64)
    base[1:4] = (30, 0, 0)
    problem = Problem(demand, np.zeros_like(demand), upper, base)
    x = optimal.least_movement_flow(problem, target=30)
    np.testing.assert_array_equal(x[0, :4], [30, 0, 15, 15])


@pytest.mark.parametrize("case", CASES)
def test_the_flow_fails_clearly_below_the_least_peak(case):
    """One Wh under the certified peak no schedule exists: the flow says so instead of returning one."""
    problem = random_problem(case, seed=0)
    target = certified_peak(problem)
    assert target > 0
    with pytest.raises(RuntimeError, match=f"movement flow failed .* for peak {target - 1}"):
        optimal.least_movement_flow(problem, target - 1)


def test_windows_need_the_peak_program_and_keep_its_certified_peak(monkeypatch):
    """On days the water level cannot reach, the peak program runs; the flow keeps its ⌈T*⌉ exactly."""
    monkeypatch.setattr(optimal, "FLOW_MIN_PARTICIPANTS", 1)
    problem = random_problem("windows", seed=1)
    result = recommend(problem)
    assert result.extra["lp_peak"] is not None
    assert result.peak == result.optimal_peak == math.ceil(optimal.min_peak(problem)[1] - FLOAT_SLACK)
    assert optimal.feasible_schedule(problem, result.peak - 1) is None


def test_recommend_uses_the_flow_from_flow_min_participants(monkeypatch):
    """From FLOW_MIN_PARTICIPANTS `optimal` returns the flow's schedule as it is: whole Wh, no rounding."""
    problem = make_problem(random_problem("loose", seed=2).demand, flexibility=0.9)
    monkeypatch.setattr(optimal, "FLOW_MIN_PARTICIPANTS", 1)
    result = recommend(problem)
    target = certified_peak(problem)
    np.testing.assert_array_equal(result.schedules, optimal.least_movement_flow(problem, target))
    assert result.peak == target
    by_lp = recommend(problem, movement_method="lp")
    assert by_lp.peak == result.peak
    assert result.extra["moved_wh"] == by_lp.extra["moved_wh"]


def test_small_days_keep_the_dual_simplex_schedule():
    """Below FLOW_MIN_PARTICIPANTS the default is the linear program: the simulation's recorded schedules."""
    problem = random_problem("loose", seed=0)
    assert problem.n < optimal.FLOW_MIN_PARTICIPANTS
    np.testing.assert_array_equal(recommend(problem).schedules, recommend(problem, movement_method="lp").schedules)


def test_unknown_movement_method_is_refused():
    with pytest.raises(ValueError, match="unknown movement_method 'simplex'"):
        recommend(random_problem("loose", seed=0), movement_method="simplex")


# ------------------------------------------------------------------ determinism


def digest(problem: Problem) -> str:
    return hashlib.sha256(optimal.least_movement_flow(problem, certified_peak(problem)).tobytes()).hexdigest()


@pytest.mark.parametrize("case", ["outside", "base"])
def test_the_same_day_gives_the_same_schedule_every_time(case):
    """Bit for bit, also after other days were solved in between (the chain and every node must agree)."""
    problem = random_problem(case, seed=2)
    first = digest(problem)
    for other in CASES:
        digest(random_problem(other, seed=1))
    assert digest(problem) == first
    rebuilt = Problem(problem.demand.copy(), problem.lower.copy(), problem.upper.copy(), problem.base.copy())
    assert digest(rebuilt) == first
