"""The exact minimum-peak schedule: a linear program (HiGHS) certified by maximum flows.

Variables x_ph (Wh participant p buys in hour h), in sparse matrices so the
programs scale to 10,000 participants (240,000 variables):

Phase 1 (peak)      minimise T
                    s.t. Σ_h x_ph = E_p               every participant keeps its day's energy
                         base_h + Σ_p x_ph <= T       no hour above the peak
                         lower_ph <= x_ph <= upper_ph
  T* is the least peak of fractional schedules, so the least peak of
  whole-Wh schedules (`target`) is ⌈T*⌉. Whether a whole-Wh schedule with
  peak K exists is a maximum-flow question (`feasible_schedule`: source →
  participant → hour → sink; flows of integral capacities are integral), so
  the target is certified by flows: optimal iff K is feasible and K − 1 is
  not. Shortcut: when the water-filling lower bound W (recommend's
  `peak_lower_bound`) is reachable, K = ⌈W⌉ is optimal without any program —
  the usual case for household days (one flow, ~20 ms for 10,000
  participants, against seconds for the program).

Phase 2 (movement)  among schedules with peak <= target, minimise Σ|x − demand|
  (recommendations disturb participants as little as possible). From
  FLOW_MIN_PARTICIPANTS it is solved as the min-cost flow it is
  (`movement_method="flow"`, `least_movement_flow`, see below); below, and
  with `movement_method="lp"` at any size (the benchmark's old method), as
  an L1 program with split variables x = r + u − v, r = clip(demand, lower, upper),
  0 <= u <= upper − r, 0 <= v <= r − lower, minimise Σ (u + v) (equal to
  Σ|x − demand| up to a constant). Its constraint matrix is a bipartite
  incidence matrix (totally unimodular) with whole-Wh right-hand sides, so a
  vertex solution is integral: below IPM_MIN_PARTICIPANTS dual simplex finds
  one. From IPM_MIN_PARTICIPANTS ("lp" only; the default before the flow)
  the interior point method is used without crossover (crossover, i.e.
  finding the vertex, took ~75 % of the time for 10,000 participants): the
  optimum is then fractional, spread over many participants, and
  `recommend.to_integers` rounds it to the target peak,
  which can add a few Wh of movement per participant (0.15 % of the moved
  energy measured for 1,000 participants). Phase 2 runs automatically up to
  MOVEMENT_MAX_PARTICIPANTS; without it the schedule is phase 1's flow
  schedule: of minimum peak, but moving more energy than needed.

Phase 2 as a min-cost flow (`least_movement_flow`). The same program is a
  network: a node per participant, per hour and one balance node Z. u_ph is
  an arc p → h (energy put into hour h, capacity upper − r), v_ph an arc
  h → p (energy taken out of it, capacity r − lower), both of the same cost
  per Wh (MOVE_COST, see the tie-break); participant p supplies E_p − Σ_h r_ph (it conserves
  its day's energy); hour h may absorb at most c_h = target − base_h − Σ_p r_ph
  net (arc h → Z of capacity max(c_h, 0); an hour above the target,
  c_h < 0, must give −c_h: its supply); Z → h lets an hour give more.
  Integral capacities and supplies give an integral optimum, so the
  schedule is whole Wh without rounding and its movement is exactly the
  program's minimum (tests/unit/test_optimal_flow.py compares it with
  HiGHS's).
  Flatness tie-break: many schedules move the least; a bare flow ends at
  one that fills some hours right up to the target (V(S) 81.6 against the
  interior point's 87.5 for 10,000 households, flexibility 0.5). So the
  hour ↔ Z arcs are split into FLAT_BANDS bands of the aggregate S_h
  (`flat_bands`), band k costing k per Wh absorbed (−k per Wh given): a
  convex g(S_h), and a moved Wh costs MOVE_COST = 2·FLAT_BANDS + 1. The
  flow minimises MOVE_COST·movement + Σ_h g(S_h), and still moves exactly
  the least: any schedule that moves less differs from it by cycles, one
  of which moves at least 1 Wh less per unit while crossing Z at most
  once, i.e. changing Σ g by at most 2·(FLAT_BANDS − 1) < MOVE_COST per
  unit, so augmenting it would lower the cost (tested against HiGHS).
  Among the least-moving schedules it takes the flattest in Σ g
  (`flatness_penalty`); it took V(S) to 90.6 there, in about the same time
  (0.4–0.9 s for 10,000 participants, bench/README.md).
  Solver: OR-Tools' SimpleMinCostFlow (cost-scaling push-relabel,
  C++; Apache-2.0; a declared dependency): scipy has no min-cost flow,
  networkx's network simplex is pure Python (far too slow for 480,000
  arcs), and HiGHS on the program took 4.6–5.3 s for 10,000 participants
  on an idle machine as a fractional interior point (then rounded), ~20 s
  for a vertex (bench/README.md). It is single-threaded and has no
  randomness: the same arcs in the same order give the same flow, bit for
  bit (the schedules are written on chain, full-stack and in-process runs
  must agree).
  Where it runs: from FLOW_MIN_PARTICIPANTS (where the interior point ran
  before). Below, dual simplex stays: its vertex is just as optimal
  (the same movement, tested) but often a different one, and the
  simulation's recorded experiment (tests/integration/test_simulation.py,
  test_settlement_leaves_the_experiment_as_it_was_on_main, 5 participants)
  depends on those very schedules. The price: just below the threshold
  dual simplex is slow (999 participants: 1.7–4.5 s at load average 8,
  the flow 0.03 s); lowering FLOW_MIN_PARTICIPANTS would change the
  recommendations of such days (equally optimal, flatter).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from ortools.graph.python.min_cost_flow import SimpleMinCostFlow
from scipy.optimize import OptimizeWarning, linprog
from scipy.sparse.csgraph import maximum_flow

from sawgrid.processors.market.units import HOURS_PER_DAY

if TYPE_CHECKING:
    from .recommend import Problem

MOVEMENT_MAX_PARTICIPANTS = 10_000   # automatic phase 2 up to this many participants
IPM_MIN_PARTICIPANTS = 1_000         # from here: interior point (no crossover) instead of dual simplex
PEAK_TOLERANCE_WH = 1e-6             # a float bound this close above a whole Wh counts as that Wh
FLOW_CAPACITY_MAX = np.iinfo(np.int32).max   # scipy's maximum_flow takes int32 capacities
MOVEMENT_METHODS = ("flow", "lp")    # phase 2 by min-cost flow or by the linear program
FLOW_MIN_PARTICIPANTS = 1_000        # automatic phase 2 method: "flow" from here, "lp" (dual simplex) below
FLAT_BANDS = 64                      # the flow's flatness tie-break: bands of the aggregate, slopes 0..63
MOVE_COST = 2 * FLAT_BANDS + 1       # a moved Wh's cost in the flow: above any tie-break a cycle can gain


@dataclass(frozen=True)
class Solution:
    """The optimum: a schedule of peak `target` and, with phase 2, a movement-minimal one."""

    x: np.ndarray                 # (n, 24) Wh: phase 2's (int64 by flow, float by "lp") or phase 1's (int64)
    peak_schedule: np.ndarray     # (n, 24) int64 Wh of peak `target`, from the flow
    target: int                   # the least whole-Wh peak
    lp_peak: float | None         # T* when the peak program ran (None: water level reached)
    movement_phase: bool          # whether phase 2 ran
    phase_seconds: tuple[float, ...]


def feasible_schedule(problem: Problem, peak: int) -> np.ndarray | None:
    """A whole-Wh schedule with every hour of the aggregate <= peak, or None if there is none.

    Maximum flow, shifted by the lower bounds: source → participant p
    (E_p − Σ_h lower_ph), p → hour h (upper_ph − lower_ph), h → sink
    (peak − base_h − Σ_p lower_ph). Saturating the source is a schedule.
    """
    n, lower = problem.n, problem.lower
    hour_caps = peak - problem.base - lower.sum(0)
    if np.any(hour_caps < 0):
        return None
    movable = problem.energy - lower.sum(1)
    room = problem.upper - lower
    p, h = np.nonzero(room)
    sink = n + HOURS_PER_DAY + 1
    src = np.concatenate([np.zeros(n, np.int64), 1 + p, n + 1 + np.arange(HOURS_PER_DAY)])
    dst = np.concatenate([1 + np.arange(n), n + 1 + h, np.full(HOURS_PER_DAY, sink)])
    cap = np.concatenate([movable, room[p, h], hour_caps])
    if cap.max(initial=0) > FLOW_CAPACITY_MAX:
        raise ValueError(f"capacities above {FLOW_CAPACITY_MAX} Wh are too large for the flow solver")
    keep = cap > 0
    graph = sp.csr_array((cap[keep].astype(np.int32), (src[keep], dst[keep])), shape=(sink + 1, sink + 1))
    result = maximum_flow(graph, 0, sink, method="dinic")
    if result.flow_value < movable.sum():
        return None
    return lower + result.flow[1:n + 1, n + 1:n + 1 + HOURS_PER_DAY].toarray().astype(np.int64)


def _incidence(n: int) -> tuple[sp.csr_array, sp.csr_array]:
    """(n, 24n) participant-sum and (24, 24n) hour-sum matrices for x flattened row-major."""
    per_participant = sp.kron(sp.eye_array(n, format="csr"), np.ones((1, HOURS_PER_DAY)), format="csr")
    per_hour = sp.kron(np.ones((1, n)), sp.eye_array(HOURS_PER_DAY, format="csr"), format="csr")
    return per_participant, per_hour


def _solve(c, a_ub, b_ub, a_eq, b_eq, bounds, n: int, phase: str):
    """HiGHS: dual simplex (a vertex) for small n, interior point without crossover for large n."""
    if n < IPM_MIN_PARTICIPANTS:
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs-ds")
    else:
        with warnings.catch_warnings():   # linprog passes HiGHS options it does not know verbatim, warning
            warnings.simplefilter("ignore", OptimizeWarning)
            res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs-ipm",
                          options={"run_crossover": "off"})
    if res.status != 0:
        raise RuntimeError(f"optimal: {phase} program failed (status {res.status}): {res.message}")
    return res


def min_peak(problem: Problem) -> tuple[np.ndarray, float]:
    """Phase 1: a fractional minimum-peak schedule and T*."""
    n = problem.n
    rows, hours = _incidence(n)
    c = np.zeros(n * HOURS_PER_DAY + 1)
    c[-1] = 1.0
    a_ub = sp.hstack([hours, -np.ones((HOURS_PER_DAY, 1))], format="csr")
    a_eq = sp.hstack([rows, sp.csr_array((n, 1))], format="csr")
    bounds = np.column_stack([np.append(problem.lower.ravel(), 0.0), np.append(problem.upper.ravel(), np.inf)])
    res = _solve(c, a_ub, -problem.base.astype(float), a_eq, problem.energy.astype(float), bounds, n, "peak")
    return res.x[:-1].reshape(n, HOURS_PER_DAY), float(res.x[-1])


def flat_bands(start: np.ndarray, target: int) -> np.ndarray:
    """FLAT_BANDS + 1 band edges (Wh) of the flatness tie-break, from min(start) up to at least target.

    start: (24,) each hour's aggregate before it may absorb (see
    `least_movement_flow`). Band k, [edges[k], edges[k+1]), has slope k.
    """
    low = int(start.min())
    step = max(1, -(-(int(target) - low) // FLAT_BANDS))
    return low + step * np.arange(FLAT_BANDS + 1, dtype=np.int64)


def flatness_penalty(aggregate: np.ndarray, edges: np.ndarray) -> int:
    """Σ_h g(S_h), g convex piecewise linear: slope 0 below edges[0], k in band k (the tie-break's measure)."""
    s = np.asarray(aggregate, dtype=np.int64)[:, None]
    return int(np.clip(s - edges[None, :-1], 0, edges[1:] - edges[:-1]).sum(0) @ np.arange(FLAT_BANDS))


def least_movement_flow(problem: Problem, target: int) -> np.ndarray:
    """Phase 2 by min-cost flow: the whole-Wh schedule with peak <= target closest to demand in L1.

    The network of the module's docstring, with the flatness tie-break;
    target must be feasible (phase 1 certifies it). Returns an (n, 24)
    int64 schedule.
    """
    n = problem.n
    ref = np.clip(problem.demand, problem.lower, problem.upper)
    hour_node, balance_node = n + np.arange(HOURS_PER_DAY), n + HOURS_PER_DAY
    put, take = problem.upper - ref, ref - problem.lower     # capacities of u (p → h) and v (h → p)
    up_p, up_h = np.nonzero(put)                              # row-major: a fixed arc order
    down_p, down_h = np.nonzero(take)
    level = problem.base + ref.sum(0)                         # each hour's aggregate at r
    start = np.minimum(level, target)
    must_give = level - start                                 # hours above the target: their supply
    can_give = take.sum(0) - must_give                        # what each hour may give beyond that
    edges = flat_bands(start, target)
    lo, hi = edges[None, :-1], edges[None, 1:]                # (1, FLAT_BANDS) band limits
    absorb = np.clip(np.minimum(target, hi) - np.maximum(start[:, None], lo), 0, None)   # (24, bands)
    give = np.clip(np.minimum(start[:, None], hi) - np.maximum((start - can_give)[:, None], lo), 0, None)
    give_below = np.clip(edges[0] - (start - can_give), 0, None)                    # below band 0: slope 0
    slopes = np.broadcast_to(np.arange(FLAT_BANDS), absorb.shape)
    ab_h, ab_k = np.nonzero(absorb)
    gv_h, gv_k = np.nonzero(give)
    below_h = np.flatnonzero(give_below)
    moves = len(up_p) + len(down_p)
    tails = np.concatenate([up_p, hour_node[down_h], hour_node[ab_h],
                            np.full(len(gv_h) + len(below_h), balance_node)])
    heads = np.concatenate([hour_node[up_h], down_p, np.full(len(ab_h), balance_node),
                            hour_node[gv_h], hour_node[below_h]])
    caps = np.concatenate([put[up_p, up_h], take[down_p, down_h], absorb[ab_h, ab_k], give[gv_h, gv_k],
                           give_below[below_h]])
    costs = np.concatenate([np.full(moves, MOVE_COST), slopes[ab_h, ab_k], -slopes[gv_h, gv_k],
                            np.zeros(len(below_h), np.int64)])
    supply = np.concatenate([problem.energy - ref.sum(1), must_give, [0]])
    supply[-1] = -supply.sum()
    flow = SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails.astype(np.int32), heads.astype(np.int32),
                                              caps.astype(np.int64), costs.astype(np.int64))
    flow.set_nodes_supplies(np.arange(len(supply), dtype=np.int32), supply.astype(np.int64))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"optimal: movement flow failed (status {status}) for peak {target}")
    moved = flow.flows(np.arange(moves))
    x = ref.astype(np.int64, copy=True)
    x[up_p, up_h] += moved[:len(up_p)]
    x[down_p, down_h] -= moved[len(up_p):]
    return x


def least_movement(problem: Problem, target: int) -> np.ndarray:
    """Phase 2 by the linear program (HiGHS): the schedule with peak <= target closest to demand in L1.

    target must be feasible. The result is float; a vertex (integral) below
    IPM_MIN_PARTICIPANTS, an interior point (fractional) from there on.
    """
    n = problem.n
    rows, hours = _incidence(n)
    ref = np.clip(problem.demand, problem.lower, problem.upper)
    a_eq = sp.hstack([rows, -rows], format="csr")
    a_ub = sp.hstack([hours, -hours], format="csr")
    b_eq = (problem.energy - ref.sum(1)).astype(float)
    b_ub = (target - problem.base - ref.sum(0)).astype(float)
    upper = np.concatenate([(problem.upper - ref).ravel(), (ref - problem.lower).ravel()]).astype(float)
    bounds = np.column_stack([np.zeros_like(upper), upper])
    res = _solve(np.ones(2 * n * HOURS_PER_DAY), a_ub, b_ub, a_eq, b_eq, bounds, n, "movement")
    u, v = res.x[: n * HOURS_PER_DAY], res.x[n * HOURS_PER_DAY:]
    return ref + (u - v).reshape(n, HOURS_PER_DAY)


def solve(problem: Problem, *, lower_bound: float, minimise_movement: bool | None = None,
          movement_method: str | None = None) -> Solution:
    """The least whole-Wh peak (certified), then phase 2 when minimise_movement.

    lower_bound: a valid lower bound on the peak (the water level).
    minimise_movement None: phase 2 when n <= MOVEMENT_MAX_PARTICIPANTS.
    movement_method: one of MOVEMENT_METHODS, how phase 2 is solved ("flow":
    exact whole Wh; "lp": the linear program, rounded by the caller); None:
    "flow" when n >= FLOW_MIN_PARTICIPANTS, else "lp".
    """
    if movement_method is None:
        movement_method = "flow" if problem.n >= FLOW_MIN_PARTICIPANTS else "lp"
    if movement_method not in MOVEMENT_METHODS:
        raise ValueError(f"unknown movement_method {movement_method!r}; choose one of {list(MOVEMENT_METHODS)}")
    if minimise_movement is None:
        minimise_movement = problem.n <= MOVEMENT_MAX_PARTICIPANTS
    started = time.perf_counter()
    floor = max(0, math.ceil(lower_bound - PEAK_TOLERANCE_WH))
    lp_peak = None
    schedule = feasible_schedule(problem, floor)
    target = floor
    if schedule is None:
        lp_peak = min_peak(problem)[1]
        target = max(floor + 1, math.ceil(lp_peak - 1))   # T* is accurate to well under 1 Wh
        while (schedule := feasible_schedule(problem, target)) is None:
            if target > lp_peak + 1:
                raise RuntimeError(f"optimal: no schedule with peak {target} although T* = {lp_peak}")
            target += 1
    seconds = (time.perf_counter() - started,)
    x = schedule
    if minimise_movement:
        started = time.perf_counter()
        x = (least_movement_flow if movement_method == "flow" else least_movement)(problem, target)
        seconds += (time.perf_counter() - started,)
    return Solution(x, schedule, target, lp_peak, minimise_movement, seconds)
