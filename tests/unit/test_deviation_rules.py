"""The edges of the paper's deviation rules (clients/simulation/scenarios.py),
pinned with hand-computed purchases: moving a boundary by one (< for <=, >
for >=, a remainder to the later hours) changes the experiment's headline
results, so each must fail a test here."""
from __future__ import annotations

import numpy as np

from sawgrid.clients.simulation.scenarios import (
    DEFAULT_SPREAD_LIMIT_WH, MIN_RECOMMENDED_HOURS, purchases_with_recommendation,
)


def hours(**wh: int) -> list[int]:
    out = [0] * 24
    for name, value in wh.items():
        out[int(name[1:])] = value
    return out


def buy(need: list[int], rec: list[int] | None) -> list[int]:
    return [int(x) for x in purchases_with_recommendation(np.array(need), rec)]


def test_the_constants_are_the_papers():
    assert (MIN_RECOMMENDED_HOURS, DEFAULT_SPREAD_LIMIT_WH) == (6, 300)


def test_exactly_six_recommended_hours_still_spread_a_big_rest():
    # 6 hours of 100 Wh recommended, 3000 Wh needed: 2400 Wh rest, 400 per hour (> 300),
    # but six hours are not "fewer than 6": rule 3 applies, each hour gets 100 + 400.
    rec = hours(h1=100, h2=100, h3=100, h4=100, h5=100, h6=100)
    assert buy(hours(h19=3000), rec) == hours(h1=500, h2=500, h3=500, h4=500, h5=500, h6=500)


def test_five_recommended_hours_with_a_big_rest_buy_as_without():
    # 5 hours of 100 Wh, 3000 Wh needed: 2500 Wh rest, 500 per hour > 300 and 5 < 6: rule 4.
    rec = hours(h1=100, h2=100, h3=100, h4=100, h5=100)
    assert buy(hours(h19=3000), rec) == hours(h19=3000)


def test_a_rest_of_exactly_the_limit_per_hour_is_still_spread():
    # 5 hours of 100 Wh, 2000 Wh needed: 1500 Wh rest, exactly 300 per hour: not "more than 300".
    rec = hours(h1=100, h2=100, h3=100, h4=100, h5=100)
    assert buy(hours(h19=2000), rec) == hours(h1=400, h2=400, h3=400, h4=400, h5=400)


def test_a_fraction_over_the_limit_per_hour_buys_as_without():
    # 1504 Wh rest over 5 hours is 300.8 per hour: more than 300 (not rounded down to it),
    # fewer than 6 hours: rule 4.
    rec = hours(h1=100, h2=100, h3=100, h4=100, h5=100)
    assert buy(hours(h19=2004), rec) == hours(h19=2004)


def test_the_remainder_of_the_spread_goes_to_the_earliest_hours():
    # 1000 Wh rest over six recommended hours: 166 each and 4 Wh left for the first four.
    rec = hours(h3=100, h5=100, h7=100, h9=100, h11=100, h13=100)
    assert buy(hours(h20=1600), rec) == hours(h3=267, h5=267, h7=267, h9=267, h11=266, h13=266)


def test_following_a_recommendation_stops_exactly_at_the_need():
    rec = hours(h1=400, h2=400, h3=400)
    assert buy(hours(h18=600, h19=400), rec) == hours(h1=400, h2=400, h3=200)
    # a recommendation of exactly the need is followed hour by hour
    assert buy(hours(h19=1200), rec) == rec
