"""Recommended purchase schedules: the PAR engine's decision support.

Before each day the engine publishes, for every participant p, a 24-hour
purchase schedule x_p that keeps the participant's daily energy
E_p = Σ_h demand_ph but moves part of it out of the peak, so that the
microgrid's aggregate S_h = base_h + Σ_p x_ph (the paper's vector S, eq. 9)
is as flat as possible (eq. 13).

* `Problem` — demand (each participant's purchases on the reference day, the
  paper's vectors C), per-hour bounds and the load not under recommendation.
  `make_problem` builds the documented default bounds.
* `recommend(problem, algorithm)` → `Result`, with the algorithms of
  `ALGORITHMS`:
  - ``"optimal"`` (default): the least whole-Wh peak, exactly (the water
    level or a linear program, certified by maximum flows), then the
    schedule of that peak that moves the least energy (a min-cost flow;
    a linear program below optimal.FLOW_MIN_PARTICIPANTS; `optimal`). It
    minimises the peak, not V(S): hours below the peak stay as uneven as
    the demand leaves them, so its V(S) can be lower than astar's;
  - ``"astar"``: the paper's state-space search with V(S) as heuristic
    (`astar`), stopped by a V(S) threshold or a time budget.
* `water_fill` — the analytic minimum-peak aggregate when only the aggregate
  bounds count: a lower bound on any schedule's peak (`peak_lower_bound`),
  exact when `water_fill_is_exact`.
* `to_integers` — rounds a fractional schedule to whole Wh, keeping every
  participant's daily total exactly and every bound.

Every algorithm's `Result.schedules` meets these guarantees (tested):
integers (Wh); each row sums exactly to that participant's daily demand;
lower <= schedules <= upper. Minimising the peak maximises the paper's PAR
(avg/max, eq. 11) since the daily total is fixed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from . import astar, optimal
from sawgrid.processors.market.units import HOURS_PER_DAY

from .metrics import balance, par

DEFAULT_FLEXIBILITY = 0.5   # share of each hour's purchase that may move
DEFAULT_TIME_BUDGET = 2.0   # seconds; astar's search budget
VS_ACCEPT_THRESHOLD = 98.0  # V(S) at which astar accepts a schedule and stops (100 = flat)
SNAP_WH = 1e-6              # a solver's value this close to a whole Wh is that Wh

# ------------------------------------------------------------------ problem


def _as_wh(name: str, value: Any, shape: tuple[int, ...] | None) -> np.ndarray:
    """`value` as a read-only int64 array of whole, non-negative Wh."""
    a = np.asarray(value)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must be numbers of Wh, got dtype {a.dtype}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} must be finite")
        if np.any(a != np.rint(a)):
            raise ValueError(f"{name} must be whole Wh (integers)")
    if np.any(a < 0):
        raise ValueError(f"{name} cannot be negative")
    out = a.astype(np.int64, copy=True)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class Problem:
    """What to schedule: n participants × 24 hours, all in whole Wh.

    demand: (n, 24) each participant's purchases on the reference day; its
        row sums E_p are what every schedule must keep.
    lower:  (n, 24) per-hour lower bounds: energy that cannot move (fixed
        appliances, the paper's vector B).
    upper:  (n, 24) per-hour upper bounds (connection limit or a proxy).
    base:   (24,) load not under recommendation (added to the aggregate S).

    Validated on construction (ValueError): shapes, whole non-negative Wh,
    lower <= upper, and Σ_h lower_ph <= E_p <= Σ_h upper_ph for each p (a
    schedule exists). demand itself may lie outside the bounds; the
    algorithms then start from the nearest feasible schedule
    (`feasible_start`). Arrays are stored as read-only int64 copies.
    """

    demand: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    base: np.ndarray = field(default_factory=lambda: np.zeros(HOURS_PER_DAY, dtype=np.int64))

    def __post_init__(self) -> None:
        demand = np.asarray(self.demand)
        if demand.ndim != 2 or demand.shape[1] != HOURS_PER_DAY:
            raise ValueError(f"demand must have shape (participants, {HOURS_PER_DAY}), got {demand.shape}")
        shape = demand.shape
        for name, shp in (("demand", shape), ("lower", shape), ("upper", shape), ("base", (HOURS_PER_DAY,))):
            object.__setattr__(self, name, _as_wh(name, getattr(self, name), shp))
        bad = np.argwhere(self.lower > self.upper)
        if len(bad):
            p, h = bad[0]
            raise ValueError(f"lower > upper for participant {p} at hour {h}: "
                             f"{self.lower[p, h]} > {self.upper[p, h]} Wh")
        energy = self.energy
        for label, bound, fails in (("lower", self.lower, self.lower.sum(1) > energy),
                                    ("upper", self.upper, self.upper.sum(1) < energy)):
            if fails.any():
                p = int(np.flatnonzero(fails)[0])
                word = "exceed" if label == "lower" else "fall short of"
                raise ValueError(f"participant {p}'s {label} bounds sum to {int(bound[p].sum())} Wh and "
                                 f"{word} its daily energy {int(energy[p])} Wh: no schedule exists")

    @property
    def n(self) -> int:
        """Number of participants."""
        return self.demand.shape[0]

    @property
    def energy(self) -> np.ndarray:
        """(n,) each participant's daily energy E_p (Wh), kept by every schedule."""
        return self.demand.sum(1)

    def aggregate(self, schedules: np.ndarray) -> np.ndarray:
        """S = base + Σ_p schedules_p, the microgrid's hourly totals (Wh)."""
        return self.base + np.asarray(schedules, dtype=np.int64).sum(0)


def make_problem(demand: Any, flexibility: float = DEFAULT_FLEXIBILITY, base: Any = None) -> Problem:
    """A Problem with the default bounds.

    lower = floor(demand · (1 − flexibility)): that share of each hour's
    purchase is non-shiftable and stays where it is (flexibility 0: nothing
    moves; 1: everything may move).
    upper[p, h] = max(demand[p, h], peak_p), peak_p = max_h demand[p, h]:
    nobody is asked to buy more in one hour than in their own busiest hour
    (a proxy for their connection limit).
    """
    if not 0.0 <= flexibility <= 1.0:
        raise ValueError(f"flexibility must be in [0, 1], got {flexibility}")
    d = _as_wh("demand", demand, None)
    if d.ndim != 2 or d.shape[1] != HOURS_PER_DAY:
        raise ValueError(f"demand must have shape (participants, {HOURS_PER_DAY}), got {d.shape}")
    lower = np.floor(d * (1.0 - flexibility)).astype(np.int64)
    peak = d.max(1, initial=0)[:, None]
    upper = np.maximum(d, peak)
    return Problem(d, lower, upper, np.zeros(HOURS_PER_DAY, np.int64) if base is None else base)


# ------------------------------------------------------------------ water filling


def water_fill(lower_agg: Any, upper_agg: Any, total: float, base: Any = None) -> np.ndarray:
    """The minimum-peak aggregate y (24 floats) under aggregate bounds only.

    y_h = clamp(L − base_h, lower_h, upper_h) with the level L chosen so that
    Σ y = total: water poured over the base, between the bounds. It minimises
    max_h(base_h + y_h) — and every other convex separable measure of
    flatness, e.g. Σ (base_h + y_h)² — over {lower <= y <= upper, Σ y = total}.
    Exact: L is found on the sorted breakpoints base+lower, base+upper,
    where Σ clamp(...) is piecewise linear, then interpolated.
    """
    lo = np.asarray(lower_agg, dtype=float)
    up = np.asarray(upper_agg, dtype=float)
    b = np.zeros(HOURS_PER_DAY) if base is None else np.asarray(base, dtype=float)
    if lo.shape != (HOURS_PER_DAY,) or up.shape != (HOURS_PER_DAY,) or b.shape != (HOURS_PER_DAY,):
        raise ValueError(f"water_fill needs {HOURS_PER_DAY} hourly values for lower, upper and base")
    if np.any(lo > up):
        raise ValueError("water_fill: lower > upper")
    if not lo.sum() <= total <= up.sum():
        raise ValueError(f"water_fill: total {total} outside [{lo.sum()}, {up.sum()}]")
    points = np.unique(np.concatenate([b + lo, b + up]))
    filled = np.clip(points[:, None] - b, lo, up).sum(1)   # nondecreasing in the level
    k = int(np.searchsorted(filled, total))
    if k == 0:
        level = points[0]
    else:
        k = min(k, len(points) - 1)
        p0, p1, g0, g1 = points[k - 1], points[k], filled[k - 1], filled[k]
        level = p1 if g1 == g0 else p0 + (total - g0) * (p1 - p0) / (g1 - g0)
    return np.clip(level - b, lo, up)


def peak_lower_bound(problem: Problem) -> float:
    """max_h(base + water_fill(...)) of the aggregate bounds: no schedule's peak is lower."""
    y = water_fill(problem.lower.sum(0), problem.upper.sum(0), float(problem.energy.sum()), problem.base)
    return float((problem.base + y).max())


def water_fill_is_exact(problem: Problem) -> bool:
    """A sufficient condition for `peak_lower_bound` to be the optimal peak.

    Water filling only sees the aggregate bounds; a participant's own bounds
    can make its aggregate unreachable. It is exact (the LP optimum T* equals
    the water peak) when n <= 1, or when every participant could put all of
    its movable energy M_p = E_p − Σ_h lower_ph into any single hour
    (upper_ph − lower_ph >= M_p for every h): then the reachable aggregates
    are exactly {Σ lower <= y, Σ y = total}, the water-filling set (the upper
    aggregate bound cannot bind either).
    """
    if problem.n <= 1:
        return True
    movable = problem.energy - problem.lower.sum(1)
    return bool(np.all(problem.upper - problem.lower >= movable[:, None]))


# ------------------------------------------------------------------ integer rounding


def _flow_round(candidates: np.ndarray, need: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """0/1 matrix adding `need[p]` units to row p, only on `candidates`, at most caps[h] per hour.

    A maximum flow source → participant (need) → hour (1 per candidate cell)
    → sink (caps). Where a fractional schedule fits the caps, an integral flow
    routing every unit exists (integrality of flows), so each hour ends at most
    at its cap. Units the flow cannot route are left to `_repair`.
    """
    n = candidates.shape[0]
    add = np.zeros(candidates.shape, dtype=np.int64)
    rows = np.flatnonzero(need > 0)
    if len(rows) == 0:
        return add
    pi, hi = np.nonzero(candidates[rows])
    sink = n + HOURS_PER_DAY + 1
    src = np.concatenate([np.zeros(len(rows), np.int64), 1 + rows[pi], n + 1 + np.arange(HOURS_PER_DAY)])
    dst = np.concatenate([1 + rows, n + 1 + hi, np.full(HOURS_PER_DAY, sink)])
    cap = np.concatenate([need[rows], np.ones(len(pi), np.int64), np.maximum(caps, 0)]).astype(np.int32)
    graph = sp.csr_array((cap, (src, dst)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(graph, 0, sink, method="dinic").flow
    add[:, :] = flow[1:n + 1, n + 1:n + 1 + HOURS_PER_DAY].toarray() > 0
    return add


def _repair(x: np.ndarray, priority: np.ndarray, problem: Problem) -> np.ndarray:
    """Fix row totals of an in-bounds integer matrix, one Wh per cell per pass.

    Rows short of E_p gain 1 Wh in the hours of highest `priority` that are
    below upper (largest remainder); rows over E_p lose 1 Wh in the hours of
    lowest priority above lower. Terminates because Σ lower <= E_p <= Σ upper.
    """
    cols = np.arange(HOURS_PER_DAY)
    while True:
        diff = problem.energy - x.sum(1)
        if not diff.any():
            return x
        for sign, room in ((1, x < problem.upper), (-1, x > problem.lower)):
            want = np.maximum(sign * diff, 0)
            if not want.any():
                continue
            score = np.where(room, sign * priority, -np.inf)
            order = np.argsort(-score, axis=1, kind="stable")
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.broadcast_to(cols, order.shape), axis=1)
            x = x + sign * ((ranks < want[:, None]) & room)


def to_integers(x: Any, problem: Problem, *, peak: int | None = None) -> np.ndarray:
    """Round a fractional (n, 24) schedule to whole Wh within the problem's rules.

    Values are clipped to [lower, upper] and snapped when within SNAP_WH of a
    whole Wh; each row then keeps floor(x) plus one Wh in as many of its
    fractional hours as its daily total needs (largest remainder, chosen by a
    maximum flow so that hours stay balanced): every row sums exactly to E_p
    and lower <= result <= upper. If x's rows sum to E_p, each hour's
    aggregate ends at most at ceil of x's aggregate; with `peak` given, at most
    at `peak` where x allows it (x's aggregate <= peak). Rows x does not sum
    correctly are repaired by largest remainder.
    """
    lo, up = problem.lower, problem.upper
    xf = np.asarray(x, dtype=float)
    if xf.shape != lo.shape:
        raise ValueError(f"schedule must have shape {lo.shape}, got {xf.shape}")
    xf = np.clip(np.nan_to_num(xf), lo, up)
    near = np.rint(xf)
    xf = np.where(np.abs(xf - near) <= SNAP_WH, near, xf)
    floor = np.floor(xf).astype(np.int64)
    frac = xf - floor
    need = problem.energy - floor.sum(1)
    if peak is None:
        caps = np.ceil(frac.sum(0) - SNAP_WH).astype(np.int64)
    else:
        caps = int(peak) - problem.base - floor.sum(0)
    rounded = floor + _flow_round(frac > 0, need, caps)
    return _repair(rounded, frac, problem)


# ------------------------------------------------------------------ running


@dataclass
class Result:
    """One algorithm's recommendation and how good it is.

    schedules: (n, 24) int64 Wh, one row per participant.
    seconds: wall time of the algorithm itself (not of the yardstick).
    peak, par, balance: max, avg/max (eq. 11) and V(S) (eq. 12) of the
        aggregate S = base + Σ schedules.
    optimal_peak: the minimum integer peak when known (the yardstick).
    extra: algorithm statistics; always input_peak/input_par/input_balance
        (of the demand), moved_wh (energy moved to other hours, ½ Σ|x − demand|)
        and peak_lower_bound; gap_to_optimal = peak/optimal_peak − 1 when known.
    """

    algorithm: str
    schedules: np.ndarray
    seconds: float
    peak: int
    par: float
    balance: float
    optimal_peak: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def feasible_start(problem: Problem) -> np.ndarray:
    """demand itself if it lies within the bounds, else the nearest in-bounds integer schedule."""
    d = problem.demand
    if np.all((problem.lower <= d) & (d <= problem.upper)):
        return d.copy()
    return to_integers(d, problem)


def _run_optimal(problem: Problem, *, time_budget: float | None = None, threshold: float | None = None,
                 minimise_movement: bool | None = None,
                 movement_method: str | None = None) -> tuple[np.ndarray, dict]:
    """`optimal`: the certified least whole-Wh peak, the movement phase, rounding (ignores astar's stops).

    The flow's and the peak phase's schedules are whole Wh already (int64)
    and are not rounded; the linear program's are.
    """
    solution = optimal.solve(problem, lower_bound=peak_lower_bound(problem), minimise_movement=minimise_movement,
                             movement_method=movement_method)
    if np.issubdtype(solution.x.dtype, np.integer):
        schedules = solution.x
    else:
        schedules = to_integers(solution.x, problem, peak=solution.target)
        if problem.aggregate(schedules).max() > solution.target:   # rounding could not keep the peak
            schedules = solution.peak_schedule
    extra = {"lp_peak": solution.lp_peak, "movement_phase": solution.movement_phase,
             "phase_seconds": solution.phase_seconds, "water_fill_exact": water_fill_is_exact(problem),
             "optimal_peak": solution.target}
    return schedules, extra


def _run_astar(problem: Problem, *, time_budget: float = DEFAULT_TIME_BUDGET,
               threshold: float = VS_ACCEPT_THRESHOLD) -> tuple[np.ndarray, dict]:
    """`astar`: best-first search from the demand (or its feasible projection)."""
    outcome = astar.search(problem, feasible_start(problem), time_budget=time_budget, threshold=threshold)
    extra = {"expansions": outcome.expansions, "generated": outcome.generated, "stop": outcome.stop,
             "threshold": threshold, "time_budget": time_budget}
    return outcome.schedules, extra


# name -> runner(problem, *, time_budget, threshold, **kw) -> (schedules, extra)
ALGORITHMS: dict[str, Callable[..., tuple[np.ndarray, dict]]] = {
    "optimal": _run_optimal,
    "astar": _run_astar,
}


def _shape(aggregate: np.ndarray) -> tuple[int, float, float]:
    values = aggregate.tolist()
    return int(max(values)), par(values), balance(values)


def recommend(problem: Problem, algorithm: str = "optimal", *, time_budget: float = DEFAULT_TIME_BUDGET,
              threshold: float = VS_ACCEPT_THRESHOLD, yardstick: bool = False, **kw: Any) -> Result:
    """Recommended schedules for `problem` by `algorithm` (a key of ALGORITHMS).

    time_budget (seconds, >= 0) and threshold (V(S) target) are astar's
    stopping rules; `optimal` always solves to optimality and ignores them.
    `optimal` takes minimise_movement (True / False / None = automatic, see
    `optimal.solve`) and movement_method ("flow" / "lp" / None = automatic,
    see `optimal.solve`). yardstick=True also solves `optimal` (peak only) for a
    non-optimal algorithm, to report optimal_peak and gap_to_optimal.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {sorted(ALGORITHMS)}")
    if not time_budget >= 0:
        raise ValueError(f"time_budget must be >= 0 seconds, got {time_budget}")
    started = time.perf_counter()
    if problem.n == 0:
        schedules, extra = problem.demand.copy(), {"optimal_peak": int(problem.base.max())}
    else:
        schedules, extra = ALGORITHMS[algorithm](problem, time_budget=time_budget, threshold=threshold, **kw)
    seconds = time.perf_counter() - started
    optimal_peak = extra.pop("optimal_peak", None)
    if optimal_peak is None and yardstick:
        started = time.perf_counter()
        optimal_peak = optimal.solve(problem, lower_bound=peak_lower_bound(problem), minimise_movement=False).target
        extra["yardstick_seconds"] = time.perf_counter() - started
    peak, load_factor, v = _shape(problem.aggregate(schedules))
    input_peak, input_par, input_v = _shape(problem.aggregate(problem.demand))
    extra.update(input_peak=input_peak, input_par=input_par, input_balance=input_v,
                 moved_wh=int(np.abs(schedules - problem.demand).sum()) // 2,
                 peak_lower_bound=peak_lower_bound(problem) if problem.n else float(problem.base.max()))
    if optimal_peak is not None:
        extra["gap_to_optimal"] = peak / optimal_peak - 1 if optimal_peak else 0.0
    return Result(algorithm, schedules, seconds, peak, load_factor, v, optimal_peak, extra)
