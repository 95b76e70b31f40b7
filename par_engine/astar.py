"""The paper's state-space search for flat schedules (Section 4, "A*").

States are schedules; the aggregate S = base + Σ_p x_p decides their worth.

* Heuristic: V(S) (eq. 12, `metrics.balance`). Since the daily total is fixed,
  V(S) = 100 − 100 · dev / (24 · total) with dev = Σ_h |24 · S_h − total|, so
  states are ranked by the integer dev (exact). V is piecewise linear and has
  plateaus (moving energy between two hours on the same side of the mean does
  not change it); ties are broken by the peak, then by Σ S_h².
* Moves: shift Δ Wh from a highly used hour a to a less used hour b (pairs of
  the PAIR_HOURS highest × PAIR_HOURS lowest hours with energy to give / room
  to take; all pairs when those have none), taken from the participants who
  can move energy between the two hours within their bounds, in proportion to
  how much each can move (largest remainder in whole Wh).
* Annealing: Δ = portion · ⌊(S_a − S_b)/2⌋ (at least 1 Wh, at most what the
  participants can move), with portion = min(1, ANNEAL_GAIN · (100 − V)/100):
  the flatter the state, the smaller the step (the paper's temperature).
  Δ <= (S_a − S_b)/2 never raises the peak and, by convexity, never lowers V
  and always lowers Σ S_h², so every child ranks strictly better than its
  parent: the search cannot cycle and never returns a state worse than the
  input.
* Best-first: the paper's A* with V(S) as heuristic; a schedule's worth does
  not depend on the moves that led to it, so the path cost is zero and A*
  is best-first search: a priority queue on the heuristic, a visited set of
  aggregates; children are stored as (parent, move) and their matrices built
  on demand by replaying moves from the nearest kept ancestor: the
  CACHED_STATES most recently used matrices, plus a checkpoint every
  CHECKPOINT_DEPTH levels (the MAX_CHECKPOINTS deepest), so that returning
  to an older sibling replays at most CHECKPOINT_DEPTH moves. Matrices are
  hour-major int32 when the bounds fit (contiguous hours, half the memory):
  about 1 MB each for 10,000 participants, at most 41 kept.
* Stops when the best state reaches V >= threshold ("threshold"), when the
  time budget expires ("time"), or when no move improves: the queue is empty
  or STALL_EXPANSIONS expansions in a row generated nothing better than the
  best state ("exhausted"). Returns the best state seen.
"""
from __future__ import annotations

import heapq
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from sawgrid.processors.market.units import HOURS_PER_DAY

if TYPE_CHECKING:
    from .recommend import Problem

PAIR_HOURS = 4          # highest and lowest hours paired per expansion
ANNEAL_GAIN = 8.0       # portion of the half-gap moved per unit of (100 − V)/100
CACHED_STATES = 8       # recently used schedule matrices kept for rebuilding children
CHECKPOINT_DEPTH = 16   # ... plus one kept every this many levels of the search tree
MAX_CHECKPOINTS = 32    # ... at most this many (the deepest)
STALL_EXPANSIONS = 50   # expansions without a better state before giving up


@dataclass(frozen=True)
class SearchOutcome:
    schedules: np.ndarray   # (n, 24) int64, the best state seen
    expansions: int         # states expanded
    generated: int          # states generated (pushed)
    stop: str               # "threshold", "time" or "exhausted"


def _rank(s: np.ndarray, total: int) -> tuple[int, int, int]:
    """Priority of an aggregate: (dev, peak, Σ s²), smaller is better."""
    values = s.tolist()
    return (sum(abs(HOURS_PER_DAY * v - total) for v in values), max(values), sum(v * v for v in values))


def _apply(x: np.ndarray, lower: np.ndarray, upper: np.ndarray, a: int, b: int, delta: int) -> None:
    """Move `delta` Wh from hour a to hour b in the hour-major matrix x, in place."""
    can = np.minimum(x[a] - lower[a], upper[b] - x[b]).astype(np.int64)
    total = int(can.sum())
    share = delta * can // total
    left = delta - int(share.sum())
    if left:
        remainder = np.where(share < can, delta * can % total, -1)
        share[np.argpartition(-remainder, left - 1)[:left]] += 1
    x[a] -= share.astype(x.dtype)
    x[b] += share.astype(x.dtype)


def _moves(x: np.ndarray, s: np.ndarray, lower: np.ndarray, upper: np.ndarray,
           portion: float) -> list[tuple[int, int, int]]:
    """Candidate moves (a, b, Δ) from high hours to low hours."""
    order = np.argsort(s, kind="stable")
    gives = (x - lower).sum(1) > 0
    takes = (upper - x).sum(1) > 0
    highs = [int(h) for h in order[::-1] if gives[h]]
    lows = [int(h) for h in order if takes[h]]
    for width in (PAIR_HOURS, HOURS_PER_DAY):
        moves = []
        for a in highs[:width]:
            for b in lows[:width]:
                half = int(s[a] - s[b]) // 2
                if half < 1:
                    continue
                can = int(np.minimum(x[a] - lower[a], upper[b] - x[b]).sum())
                if can > 0:
                    moves.append((a, b, min(can, max(1, int(portion * half)))))
        if moves or width >= max(len(highs), len(lows)):
            return moves
    return []


def search(problem: Problem, start: np.ndarray, *, time_budget: float, threshold: float,
           clock: Callable[[], float] = time.perf_counter) -> SearchOutcome:
    """Best-first search from `start` (an in-bounds integer schedule keeping each E_p)."""
    deadline = clock() + time_budget
    dtype = np.int32 if problem.upper.max(initial=0) <= np.iinfo(np.int32).max else np.int64
    lower = np.ascontiguousarray(problem.lower.T, dtype=dtype)
    upper = np.ascontiguousarray(problem.upper.T, dtype=dtype)
    root = np.ascontiguousarray(start.T, dtype=dtype)
    aggregates = [problem.base + root.sum(1, dtype=np.int64)]
    total = int(aggregates[0].sum())
    goal = (100.0 - threshold) * HOURS_PER_DAY * total / 100.0      # dev at which V == threshold
    parents, depths, moves = [-1], [0], [(0, 0, 0)]
    best_rank, best = _rank(aggregates[0], total), 0
    queue = [(best_rank, 0)]
    visited: set[bytes] = set()
    cache: OrderedDict[int, np.ndarray] = OrderedDict()
    checkpoints: dict[int, np.ndarray] = {0: root}

    def materialise(i: int) -> np.ndarray:
        chain = []
        while i not in cache and i not in checkpoints:
            chain.append(i)
            i = parents[i]
        if i in cache:
            cache.move_to_end(i)
        x = cache.get(i, checkpoints.get(i))
        for j in reversed(chain):
            x = x.copy()
            _apply(x, lower, upper, *moves[j])
            cache[j] = x
            if len(cache) > CACHED_STATES:
                cache.popitem(last=False)
            if depths[j] % CHECKPOINT_DEPTH == 0:
                checkpoints[j] = x
                if len(checkpoints) > MAX_CHECKPOINTS + 1:     # + the root, always kept
                    del checkpoints[min(checkpoints, key=lambda k: (k == 0, depths[k]))]
        return x

    best_parent = root          # the matrix the best state is one move away from
    expansions, stalled, stop = 0, 0, "exhausted"
    while queue and stalled < STALL_EXPANSIONS:
        if best_rank[0] <= goal:
            stop = "threshold"
            break
        if clock() >= deadline:
            stop = "time"
            break
        rank, i = heapq.heappop(queue)
        key = aggregates[i].tobytes()
        if key in visited:
            continue
        visited.add(key)
        x = materialise(i)
        expansions += 1
        s = aggregates[i]
        portion = min(1.0, ANNEAL_GAIN * rank[0] / max(1, HOURS_PER_DAY * total))
        stalled += 1
        for a, b, delta in _moves(x, s, lower, upper, portion):
            child = s.copy()
            child[a] -= delta
            child[b] += delta
            if child.tobytes() in visited:
                continue
            parents.append(i)
            depths.append(depths[i] + 1)
            moves.append((a, b, delta))
            aggregates.append(child)
            child_rank = _rank(child, total)
            heapq.heappush(queue, (child_rank, len(parents) - 1))
            if child_rank < best_rank:
                best_rank, best, best_parent, stalled = child_rank, len(parents) - 1, x, 0
    else:
        if best_rank[0] <= goal:
            stop = "threshold"
    schedules = best_parent.astype(np.int64)
    if best > 0:
        _apply(schedules, lower, upper, *moves[best])
    return SearchOutcome(np.ascontiguousarray(schedules.T), expansions, len(parents) - 1, stop)
