"""The paper's meter behaviour rules on small hand-made cases."""
import numpy as np
import pytest

from sawgrid.clients.simulation.scenarios import (
    check_same_daily_energy, purchases_with_recommendation, shortfall, surplus,
)


def day(**hours):
    v = np.zeros(24, dtype=np.int64)
    for h, x in hours.items():
        v[int(h[1:])] = x
    return v


def test_without_recommendations_buy_shortfall_sell_surplus():
    c = day(h8=500, h12=100, h19=900)
    p = day(h12=400, h19=200)
    assert list(shortfall(c, p)) == list(day(h8=500, h19=700))
    assert list(surplus(c, p)) == list(day(h12=300))


def test_rule_1_no_recommendation_buys_as_without():
    need = day(h19=700)
    assert list(purchases_with_recommendation(need, None)) == list(need)
    assert list(purchases_with_recommendation(need, [0] * 24)) == list(need)


def test_rule_2_follow_and_stop_when_enough():
    need = day(h19=700)                      # needs 700 Wh in total
    rec = day(h2=300, h3=300, h4=300, h5=300)
    assert list(purchases_with_recommendation(need, rec)) == list(day(h2=300, h3=300, h4=100))


def test_rule_3_spread_the_rest_evenly_over_recommended_hours():
    need = day(h18=900, h19=900)             # 1800 Wh
    rec = day(**{f"h{h}": 100 for h in range(0, 12)})   # 12 hours x 100 = 1200
    bought = purchases_with_recommendation(need, rec)
    assert bought.sum() == 1800
    assert list(bought[:12]) == [150] * 12 and bought[12:].sum() == 0


def test_rule_4_few_hours_and_a_big_spread_buys_as_without():
    need = day(h19=5000)
    rec = day(h2=100, h3=100)                # 2 hours; the rest (4800) would add 2400/h > 300
    assert list(purchases_with_recommendation(need, rec)) == list(need)
    assert purchases_with_recommendation(need, rec, spread_limit_wh=10_000).tolist() == day(h2=2500, h3=2500).tolist()


@pytest.mark.parametrize("seed", range(20))
def test_daily_energy_is_preserved(seed):
    rng = np.random.default_rng(seed)
    need = rng.integers(0, 800, 24) * (rng.random(24) < 0.4)
    rec = rng.integers(0, 500, 24) * (rng.random(24) < 0.5)
    assert purchases_with_recommendation(need, rec).sum() == need.sum()
    assert (purchases_with_recommendation(need, rec) >= 0).all()


def test_check_same_daily_energy_catches_a_difference():
    a = np.zeros((2, 48), dtype=np.int64)
    b = a.copy()
    b[1, 30] = 5
    check_same_daily_energy(a, a, a, a)
    with pytest.raises(AssertionError, match="participant 1, day 1: bought"):
        check_same_daily_energy(a, b, a, a)
