"""The paper's penalty rule on hand-computed days."""
from fractions import Fraction

from sawgrid.par_engine.metrics import par
from sawgrid.par_engine.penalties import penalty_vector


def test_flat_day_has_no_penalties():
    assert penalty_vector([500] * 24) == [1000] * 24


def test_a_day_at_the_threshold_is_not_penalised():
    # avg/max exactly 0.85: 23 hours at x, one at peak p with (23x+p)/24 = 0.85p
    # -> 23x = 19.4p; p = 2300, x = 1940
    day = [1940] * 23 + [2300]
    assert Fraction(sum(day), 24 * 2300) == Fraction(85, 100)
    assert penalty_vector(day) == [1000] * 24
    assert penalty_vector(day[:-1] + [2301]) != [1000] * 24  # just below: penalised


def test_hand_computed_vector():
    # 20 hours at 100, hours 20..23 at 200, 300, 400, 600 -> total 3500, avg 145.83
    day = [100] * 20 + [200, 300, 400, 600]
    assert par(day) < 0.85
    avg = Fraction(3500, 24)
    excess = [200 - avg, 300 - avg, 400 - avg, 600 - avg]
    lo, hi = excess[0], excess[-1]
    expected = [1100 + int((400 * (e - lo) / (hi - lo)) * 2 + 1) // 2 for e in excess]
    assert expected == [1100, 1200, 1300, 1500]
    assert penalty_vector(day) == [1000] * 20 + expected


def test_single_peak_and_ties_get_the_highest_penalty():
    single = [100] * 23 + [1000]
    assert penalty_vector(single) == [1000] * 23 + [1500]
    tied = [100] * 22 + [800, 800]
    assert penalty_vector(tied) == [1000] * 22 + [1500, 1500]
    ties_below = [100] * 20 + [400, 400, 700, 700]
    assert penalty_vector(ties_below) == [1000] * 20 + [1100, 1100, 1500, 1500]


def test_threshold_is_configurable():
    day = [100] * 20 + [200, 300, 400, 600]
    assert penalty_vector(day, threshold="0.1") == [1000] * 24
    assert penalty_vector([0] * 24) == [1000] * 24  # no load, nothing to flatten
