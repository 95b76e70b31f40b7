"""How a meter client trades in each scenario (paper, Section 5.2).

Per participant and day, from its hourly consumption c and production p (Wh):

* **sells** are the same in both scenarios: each hour's surplus max(0, p - c)
  (production cannot be moved);
* **without recommendations** it buys each hour's shortfall max(0, c - p).
  (The paper's sentence has the comparison the wrong way round, "buy when
  consumption is less than production"; buying the shortfall is what the rest
  of the paper implies.)
* **with recommendations** it buys the same daily total N = Σ shortfall, but
  shaped by its recommended schedule R, deviating as the paper allows:
  1. no recommendation that day (or all zeros) -> buy as without;
  2. Σ R >= N -> follow R hour by hour and stop once N is bought;
  3. Σ R < N -> follow R and spread the rest evenly over the recommended hours
     (hours with R > 0);
  4. if there are fewer than 6 recommended hours and rule 3 would add more than
     `spread_limit_wh` per hour, rule 3 is dropped: buy as without.
     (The paper's "300" has no unit; with its industrial data it reads as kWh.
     Our default is 300 Wh, the same number at household scale; configurable.)

Either way the daily bought and sold energy per participant are identical in
both scenarios, as the paper requires; `check_same_daily_energy` asserts it.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sawgrid.processors.market.units import HOURS_PER_DAY

MIN_RECOMMENDED_HOURS = 6
DEFAULT_SPREAD_LIMIT_WH = 300


def shortfall(consumption: np.ndarray, production: np.ndarray) -> np.ndarray:
    """max(0, c - p), element-wise (any shape)."""
    return np.maximum(consumption - production, 0).astype(np.int64)


def surplus(consumption: np.ndarray, production: np.ndarray) -> np.ndarray:
    """max(0, p - c), element-wise."""
    return np.maximum(production - consumption, 0).astype(np.int64)


def _spread(total: int, hours: Sequence[int]) -> np.ndarray:
    """`total` Wh over `hours` as evenly as integers allow (earlier hours get the remainder)."""
    out = np.zeros(HOURS_PER_DAY, dtype=np.int64)
    share, rest = divmod(total, len(hours))
    for i, h in enumerate(sorted(hours)):
        out[h] = share + (1 if i < rest else 0)
    return out


def purchases_with_recommendation(need_by_hour: np.ndarray, recommendation: Sequence[int] | None,
                                  spread_limit_wh: int = DEFAULT_SPREAD_LIMIT_WH) -> np.ndarray:
    """One participant's 24 hourly purchases on a day with (maybe) a recommendation."""
    need_by_hour = np.asarray(need_by_hour, dtype=np.int64)
    need = int(need_by_hour.sum())
    rec = np.zeros(HOURS_PER_DAY, dtype=np.int64) if recommendation is None else np.asarray(recommendation, dtype=np.int64)
    if need == 0 or rec.sum() == 0:
        return need_by_hour.copy()                                   # rule 1
    if rec.sum() >= need:                                            # rule 2: stop when enough
        bought = np.minimum(rec, np.maximum(need - (np.cumsum(rec) - rec), 0))
        return bought.astype(np.int64)
    hours = [h for h in range(HOURS_PER_DAY) if rec[h] > 0]                  # rule 3: spread the rest
    rest = need - int(rec.sum())
    if len(hours) < MIN_RECOMMENDED_HOURS and rest / len(hours) > spread_limit_wh:
        return need_by_hour.copy()                                   # rule 4
    return rec + _spread(rest, hours)


def check_same_daily_energy(bought_a: np.ndarray, bought_b: np.ndarray,
                            sold_a: np.ndarray, sold_b: np.ndarray) -> None:
    """The paper's requirement: per participant and day, the same bought and
    sold energy in both scenarios. Arrays are (participants, days*24)."""
    for name, a, b in (("bought", bought_a, bought_b), ("sold", sold_a, sold_b)):
        days_a = a.reshape(a.shape[0], -1, HOURS_PER_DAY).sum(axis=2)
        days_b = b.reshape(b.shape[0], -1, HOURS_PER_DAY).sum(axis=2)
        if not np.array_equal(days_a, days_b):
            p, d = np.argwhere(days_a != days_b)[0]
            raise AssertionError(f"participant {p}, day {d}: {name} {days_a[p, d]} Wh vs {days_b[p, d]} Wh")
