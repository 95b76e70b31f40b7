"""The paper's penalty rule on hand-computed days.

Every expected vector below is worked out by hand in the comments (exact
fractions, rounding half up to whole permille), not with the module's own
formula or constants.
"""
from fractions import Fraction

from sawgrid.par_engine.metrics import par_exact
from sawgrid.par_engine.penalties import penalty_vector


def day_of(**hours: int) -> list[int]:
    """A day that is 0 Wh except the given hours: day_of(h6=10_000, ...)."""
    day = [0] * 24
    for name, wh in hours.items():
        day[int(name[1:])] = wh
    return day


def test_flat_day_has_no_penalties():
    assert penalty_vector([500] * 24) == [1000] * 24


def test_a_day_at_the_threshold_is_not_penalised():
    # 23 hours at 1940 Wh and one at 2300: total 23·1940 + 2300 = 46 920,
    # average 46 920 / 24 = 1955, PAR = 1955 / 2300 = 0.85 exactly
    day = [1940] * 23 + [2300]
    assert par_exact(day) == Fraction(85, 100)
    assert penalty_vector(day) == [1000] * 24
    # one Wh more at the peak: PAR = 46 921 / (24·2301) = 0.849 96 < 0.85; the
    # average (1955.04) is above the 23 hours at 1940, so only the peak is
    # penalised, alone, at 1.5
    assert penalty_vector(day[:-1] + [2301]) == [1000] * 23 + [1500]


def test_hand_computed_vector():
    # 20 hours at 100, hours 20..23 at 200, 300, 400, 600: total 3500, average
    # 145.83, PAR 145.83 / 600 = 0.24. Hours above the average: 20..23, excess
    # 54.17, 154.17, 254.17, 454.17; normalised over their range (400):
    # 0, 0.25, 0.5, 1 -> 1.1 + 0.4·n = 1.1, 1.2, 1.3, 1.5
    day = [100] * 20 + [200, 300, 400, 600]
    assert penalty_vector(day) == [1000] * 20 + [1100, 1200, 1300, 1500]


def test_single_peak_and_ties_get_the_highest_penalty():
    single = [100] * 23 + [1000]
    assert penalty_vector(single) == [1000] * 23 + [1500]
    tied = [100] * 22 + [800, 800]
    assert penalty_vector(tied) == [1000] * 22 + [1500, 1500]
    ties_below = [100] * 20 + [400, 400, 700, 700]
    assert penalty_vector(ties_below) == [1000] * 20 + [1100, 1100, 1500, 1500]


def test_rounding_is_half_up_to_whole_permille():
    # Eight hours at 10 000 + d Wh, the rest at 0. Total 83 635, average 3484.79:
    # all eight are above it, PAR = 3484.79 / 12 400 = 0.28. Their excesses
    # differ by d, the range is 2400, so the surcharge is 400·d/2400 = d/6
    # permille, rounded half up:
    #   d     d/6      rounded   multiplier
    #   0     0        0         1100
    #   1     0.167    0         1100   (not up: ceil would give 1101)
    #   3     0.5      1         1101   (half up: half-even or floor give 1100)
    #   4     0.667    1         1101   (floor/truncation give 1100)
    #   9     1.5      2         1102
    #   15    2.5      3         1103   (half-even gives 1102)
    #   1203  200.5    201       1301   (half-even gives 1300)
    #   2400  400      400       1500
    day = day_of(h12=10_000, h21=10_001, h8=10_003, h17=10_004, h20=10_009, h19=10_015, h6=11_203, h18=12_400)
    expected = [1000] * 24
    for hour, permille in {12: 1100, 21: 1100, 8: 1101, 17: 1101, 20: 1102, 19: 1103, 6: 1301, 18: 1500}.items():
        expected[hour] = permille
    assert penalty_vector(day) == expected


def test_rounding_is_exact_where_a_float_could_not_tell():
    # Hours at V, V + k − 1, V + k, V + k + 1 and V + 800k Wh (V = 10^21,
    # k = 10^18), the rest 0: PAR ≈ 0.09, all five above the average. The range
    # is 800k, so the surcharges are 400·(k − 1)/800k = 0.5 − 1/(2k) -> 0 (a float
    # sees 0.5), exactly 0.5 -> 1, 0.5 + 1/(2k) -> 1, and 400.
    v, k = 10**21, 10**18
    day = day_of(h0=v, h1=v + k - 1, h2=v + k, h3=v + k + 1, h4=v + 800 * k)
    assert penalty_vector(day) == [1100, 1100, 1101, 1101, 1500] + [1000] * 19


def test_rounding_of_thirds_and_only_hours_strictly_above_the_average():
    # 16 hours at 0, hour 3 at 100, and 200, 250, 300, 350, 400, 300, 500 in
    # hours 15..21: total 2400, average exactly 100, PAR 100/500 = 0.2. Hour 3
    # is AT the average: not penalised. Excesses 100..400, range 300, so the
    # surcharge is 400·(e − 100)/300 = 4/3·(e − 100) permille:
    #   200 -> 0 -> 1100; 250 -> 66.67 -> 1167; 300 -> 133.33 -> 1233;
    #   350 -> 200 -> 1300; 400 -> 266.67 -> 1367; 500 -> 400 -> 1500
    day = [0] * 24
    day[3] = 100
    day[15:22] = [200, 250, 300, 350, 400, 300, 500]
    assert penalty_vector(day) == [1000] * 15 + [1100, 1167, 1233, 1300, 1367, 1233, 1500] + [1000] * 2


def test_threshold_is_configurable():
    # the hand-computed day above has PAR 3500 / (24·600) = 35/144 = 0.243
    day = [100] * 20 + [200, 300, 400, 600]
    assert penalty_vector(day, threshold="0.1") == [1000] * 24                    # PAR above it: none
    assert penalty_vector(day, threshold=Fraction(35, 144)) == [1000] * 24         # at it: none
    assert penalty_vector(day, threshold=Fraction(36, 144)) == [1000] * 20 + [1100, 1200, 1300, 1500]
    assert penalty_vector([0] * 24) == [1000] * 24  # no load, nothing to flatten
