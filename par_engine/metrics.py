"""Load-shape metrics of a day's hourly totals S = [s_1 .. s_24].

* `par(S) = avg(S) / max(S)` — what the paper (eq. 11) calls PAR: 1.0 for a
  perfectly flat day, lower for peakier days; **higher is better**. We call
  it the load factor in prose to avoid confusion with the usual definition.
* `peak_to_average(S) = max(S) / avg(S)` — the usual PAR: 1.0 flat, higher
  is worse. Reported next to the paper's figure.
* `balance(S)` — V(S) of eq. 12, the paper's heuristic. The extracted text
  lost its symbols; we read it (after the similarity measure it cites) as
  V(S) = (1/24) Σ (100 − |100·s_i/mean(S) − 100|): each hour scores 100 when
  it equals the mean and loses one point per percent it deviates, so a flat
  load scores the maximum, 100, and eq. 13 (maximise V) prefers flat days.

Empty or all-zero days have no shape: `par` and `balance` return 1.0 / 100.0
(nothing to flatten), `peak_to_average` returns 1.0.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from sawgrid.processors.market.units import HOURS_PER_DAY


def _check(s: Sequence) -> None:
    if len(s) != HOURS_PER_DAY:
        raise ValueError(f"a day has {HOURS_PER_DAY} hourly values, got {len(s)}")
    if any(v < 0 for v in s):
        raise ValueError("hourly load cannot be negative")


def par(s: Sequence[float]) -> float:
    """avg/max (the paper's PAR, eq. 11): 1.0 is flat, lower is peakier."""
    _check(s)
    peak = max(s)
    return 1.0 if peak == 0 else float(sum(s)) / HOURS_PER_DAY / peak


def par_exact(s: Sequence[int]) -> Fraction:
    """`par` as an exact fraction, for integer Wh (threshold decisions)."""
    _check(s)
    peak = max(s)
    return Fraction(1) if peak == 0 else Fraction(sum(s), HOURS_PER_DAY * peak)


def peak_to_average(s: Sequence[float]) -> float:
    """max/avg (the usual PAR): 1.0 is flat, higher is peakier."""
    _check(s)
    total = float(sum(s))
    return 1.0 if total == 0 else max(s) * HOURS_PER_DAY / total


def balance(s: Sequence[float]) -> float:
    """V(S), eq. 12 as interpreted above: 100 for a flat day, lower otherwise."""
    _check(s)
    mean = float(sum(s)) / HOURS_PER_DAY
    if mean == 0:
        return 100.0
    return sum(100.0 - abs(100.0 * v / mean - 100.0) for v in s) / HOURS_PER_DAY
