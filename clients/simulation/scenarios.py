"""How a meter client trades in each scenario (paper, Section 5.2).

The rules themselves are the meter agent's (clients/meter/rules.py: the one
implementation, re-exported here): sells are the same in both scenarios;
"without recommendations" buys each hour's shortfall, "with" shapes the same
daily total by the recommended schedule. The experiment's own check is here:
the daily bought and sold energy per participant are identical in both
scenarios, as the paper requires (`check_same_daily_energy`).
"""
from __future__ import annotations

import numpy as np

from sawgrid.clients.meter.rules import (  # noqa: F401  (re-exported: the experiment's vocabulary)
    DEFAULT_SPREAD_LIMIT_WH, MIN_RECOMMENDED_HOURS, purchases_with_recommendation, shortfall, surplus,
)
from sawgrid.processors.market.units import HOURS_PER_DAY


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
