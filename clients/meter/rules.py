"""A household's day-ahead trading rules (paper, Section 5.2): the one
implementation, used by the meter agent (`sawgrid meter`) and by the
experiment (`sawgrid simulate`, which drives N agents in process).

Per participant and day, from its hourly consumption c and production p (Wh):

* **sells** each hour's surplus max(0, p - c) (production cannot be moved);
* **without a recommendation** it buys each hour's shortfall max(0, c - p).
  (The paper's sentence has the comparison the wrong way round, "buy when
  consumption is less than production"; buying the shortfall is what the rest
  of the paper implies.)
* **with a recommendation** it buys the same daily total N = Σ shortfall, but
  shaped by its recommended schedule R, deviating as the paper allows:
  1. no recommendation that day (or all zeros) -> buy as without;
  2. Σ R >= N -> follow R hour by hour and stop once N is bought;
  3. Σ R < N -> follow R and spread the rest evenly over the recommended hours
     (hours with R > 0);
  4. if there are fewer than 6 recommended hours and rule 3 would add more than
     `spread_limit_wh` per hour, rule 3 is dropped: buy as without.
     (The paper's "300" has no unit; with its industrial data it reads as kWh.
     Our default is 300 Wh, the same number at household scale; configurable.)

**Prices.** Offers ask the grid's buying price and orders accept up to the
grid's selling price, both with grid fallback: P2P first, the system operator
at the grid price for the rest, so every offer and order fills (`offer`,
`order`).

Either way a day's bought and sold energy are the same with and without
recommendations, as the paper requires.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from sawgrid.clients.sdk import market
from sawgrid.processors.market.units import HOURS_PER_DAY
from sawgrid.protos import market_pb2 as pb

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


@dataclass(frozen=True)
class DayPlan:
    """What a household offers and orders on one delivery day: 24 Wh each."""
    day: int
    sells_wh: tuple[int, ...]
    buys_wh: tuple[int, ...]

    @property
    def empty(self) -> bool:
        return not any(self.sells_wh) and not any(self.buys_wh)


def plan_day(day: int, consumption_wh: Sequence[int], production_wh: Sequence[int],
             recommendation: Sequence[int] | None = None, *, follow: bool = True,
             spread_limit_wh: int = DEFAULT_SPREAD_LIMIT_WH) -> DayPlan:
    """The day's plan from its 24 hourly consumption and production (Wh) and
    its recommended schedule (None: none issued); `follow=False` ignores the
    recommendation (the experiment's scenario "without")."""
    c = np.asarray(consumption_wh, dtype=np.int64)
    p = np.asarray(production_wh, dtype=np.int64)
    if c.shape != (HOURS_PER_DAY,) or p.shape != (HOURS_PER_DAY,):
        raise ValueError(f"a day's consumption and production need {HOURS_PER_DAY} hourly values each")
    need = shortfall(c, p)
    buys = purchases_with_recommendation(need, recommendation, spread_limit_wh) if follow else need
    return DayPlan(day, tuple(int(x) for x in surplus(c, p)), tuple(int(x) for x in buys))


def offer(day: int, hour: int, energy_wh: int, grid_buy_ueur_per_kwh: int) -> pb.MarketPayload:
    """A sell offer at the grid's buying price, with grid fallback."""
    return market.place_order(pb.SELL, day, hour, int(energy_wh), int(grid_buy_ueur_per_kwh), True)


def order(day: int, hour: int, energy_wh: int, grid_sell_ueur_per_kwh: int,
          on_credit: bool = False) -> pb.MarketPayload:
    """A buy order up to the grid's selling price, with grid fallback."""
    return market.place_order(pb.BUY, day, hour, int(energy_wh), int(grid_sell_ueur_per_kwh), True,
                              on_credit=on_credit)
