"""The paper's penalty rule (Section 4): day D's hourly totals -> day D+1's
24 price multipliers, in permille for the chain (1000 = no penalty).

1. If PAR = avg(S)/max(S) is at or above the threshold (default 0.85), no
   hour is penalised.
2. Otherwise every hour strictly above the day's average is penalised: its
   excess over the average is normalised between the smallest and the largest
   excess (0..1) and mapped linearly onto 1.1..1.5. Other hours stay at 1.0.
3. When all penalised hours have the same excess (one peak hour, or a tie),
   the normalisation has no range; they all get the highest penalty, 1.5:
   the paper reserves 1.5 for "the hours with the largest difference".

Arithmetic is exact (fractions of integer Wh); each multiplier is rounded
half-up to whole permille, so every engine computes the same vector.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from sawgrid.par_engine.metrics import par_exact
from sawgrid.processors.market.units import HOURS_PER_DAY, NO_PENALTY

LOWEST_PENALTY = 1100    # permille: 1.1x
HIGHEST_PENALTY = 1500   # permille: 1.5x
#: PAR (avg/max) at or above which a day leads to no penalties
PAR_PENALTY_THRESHOLD = Fraction(85, 100)


def _round_half_up(value: Fraction) -> int:
    return int((value * 2 + 1) // 2)


def penalty_vector(hourly_wh: Sequence[int], threshold: Fraction | float | str = PAR_PENALTY_THRESHOLD) -> list[int]:
    """24 multipliers in permille for the next day, from a day's hourly totals (Wh)."""
    totals = [int(v) for v in hourly_wh]
    threshold = Fraction(threshold)
    if par_exact(totals) >= threshold:
        return [NO_PENALTY] * HOURS_PER_DAY
    average = Fraction(sum(totals), HOURS_PER_DAY)
    excess = {h: v - average for h, v in enumerate(totals) if v > average}
    smallest, largest = min(excess.values()), max(excess.values())
    span = HIGHEST_PENALTY - LOWEST_PENALTY
    vector = [NO_PENALTY] * HOURS_PER_DAY
    for hour, e in excess.items():
        normalised = Fraction(1) if largest == smallest else (e - smallest) / (largest - smallest)
        vector[hour] = LOWEST_PENALTY + _round_half_up(span * normalised)
    return vector
