"""The simulation report (paper Section 6) on small hand-made runs with known answers."""
from __future__ import annotations

import csv
import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats as st

from sawgrid.clients.simulation import report
from sawgrid.clients.simulation.report import costs, daily_par, statistics, summary, write_report
from sawgrid.clients.simulation.report import stats as report_stats
from sawgrid.clients.simulation.results import WITH, WITHOUT, ScenarioResult, SimulationResult

H = 24


def flat(level: int) -> list[int]:
    return [level] * H


def spike(total: int, hour: int = 9) -> list[int]:
    day = [0] * H
    day[hour] = total
    return day


def peaky(base: int, peak: int, hours=(8, 9, 18)) -> list[int]:
    return [peak if h in hours else base for h in range(H)]


def scenario(name: str, days: list[list[int]], *, participants: int = 3, sold: list[list[int]] | None = None,
             paid=None, received=None, surcharge: int = 0, optimal=None, penalties=None) -> ScenarioResult:
    """Spread each day's microgrid load over `participants` rows (row 0 gets the remainder)."""
    load = np.asarray(days, dtype=np.int64).reshape(-1)            # days*24
    bought = np.tile(load // participants, (participants, 1))
    bought[0] += load - bought.sum(axis=0)
    sold_arr = np.zeros_like(bought) if sold is None else np.asarray(sold, dtype=np.int64)
    n_days = len(days)
    return ScenarioResult(
        name=name,
        days=[f"2024-01-{8 + d:02d}" for d in range(n_days)],
        bought_wh=bought,
        sold_wh=sold_arr,
        paid_ueur=np.zeros(participants, dtype=np.int64) if paid is None else np.asarray(paid, dtype=np.int64),
        received_ueur=np.zeros(participants, dtype=np.int64) if received is None else np.asarray(received, dtype=np.int64),
        surcharge_ueur=surcharge,
        penalties=penalties if penalties is not None else [[1000] * H for _ in range(n_days)],
        optimal_par=optimal if optimal is not None else [None] * n_days,
        contracts=int((bought > 0).sum()),
    )


def result(without: ScenarioResult, with_: ScenarioResult, **config) -> SimulationResult:
    n = without.bought_wh.shape[0]
    cfg = {"seed": 7, "participants": n, "days": len(without.days), "mode": "fast"}
    cfg.update(config)
    return SimulationResult(config=cfg, dataset="hand-made test data", participants=[f"p{i}" for i in range(n)],
                            without=without, with_=with_, seconds=1.5)


def week() -> SimulationResult:
    """7 days; days 1-2 identical in both scenarios, days 3-7 flatter with recommendations."""
    without_days = [peaky(100, 100 + 50 * d) for d in range(7)]             # PAR falls with the peak
    with_days = [list(day) for day in without_days]
    for d in range(2, 7):                                                      # same daily total, flatter
        total = sum(without_days[d])
        with_days[d] = [total // H] * H
        with_days[d][0] += total - sum(with_days[d])
    optimal = [None, None] + [1.0] * 5
    return result(scenario(WITHOUT, without_days), scenario(WITH, with_days, optimal=optimal))


def identical(days: int = 4) -> SimulationResult:
    loads = [peaky(100, 300 + 10 * d) for d in range(days)]
    return result(scenario(WITHOUT, loads), scenario(WITH, loads))


# --------------------------------------------------------------------------- daily PAR

def test_daily_par_known_values():
    days = [flat(10), spike(240), [2] * 12 + [1] * 12, [0] * H]
    s = scenario(WITHOUT, days, participants=4)
    assert daily_par(s) == pytest.approx([1.0, 1 / 24, 0.75, 1.0])


def test_daily_par_sums_participants_before_measuring():
    # two participants with complementary peaks make a flat microgrid
    a = np.array(spike(50, 3) * 2, dtype=np.int64)
    b = np.array([0 if h == 3 else 50 for h in range(H)] * 2, dtype=np.int64)
    s = scenario(WITHOUT, [flat(50)] * 2)
    s.bought_wh = np.vstack([a, b])
    assert daily_par(s) == [1.0, 1.0]


# --------------------------------------------------------------------------- costs

def test_costs_at_the_flat_price_by_hand():
    # without: 3 participants buy 28.8 kWh in total, sell 8 kWh; with: the same energy, other hours
    sold = np.zeros((3, H), dtype=np.int64)
    sold[1, 12] = 8000
    w = scenario(WITHOUT, [flat(1200)], sold=sold, paid=[3_000_000, 2_000_000, 1_000_000],
                 received=[0, 1_900_000, 0], surcharge=0)
    r = scenario(WITH, [spike(28_800, 2)], sold=sold, paid=[2_000_000, 2_000_000, 1_400_000],
                 received=[0, 2_000_000, 0], surcharge=400_000)
    c = costs(result(w, r))                                     # the default price: the paper's 0.25 EUR/kWh
    for key in ("without", "with"):
        x = c[key]
        assert x["bought_kwh"] == 28.8 and x["sold_kwh"] == 8.0
        assert x["flat_bought_eur"] == pytest.approx(7.2)            # 28.8 kWh x 0.25
        assert x["flat_sold_eur"] == pytest.approx(2.0)
        assert x["flat_net_cost_eur"] == pytest.approx(5.2)
    assert c["change_pct"]["flat_net_cost_eur"] == pytest.approx(0.0)
    assert c["same_daily_energy"] is True
    # market: without pays 6.00, receives 1.90 -> 4.10; with pays 5.40, receives 2.00 -> 3.40
    assert c["without"]["market_net_cost_eur"] == pytest.approx(4.10)
    assert c["with"]["market_net_cost_eur"] == pytest.approx(3.40)
    assert c["with"]["market_surcharge_eur"] == pytest.approx(0.40)
    assert c["change_pct"]["market_surcharge_eur"] is None      # from 0: no percentage
    assert c["change_pct"]["market_net_cost_eur"] == pytest.approx((3.40 - 4.10) / 4.10 * 100)
    assert c["with"]["market_avg_price_paid_eur_per_kwh"] == pytest.approx(5.40 / 28.8)


def test_costs_other_flat_price_and_profit_is_negative():
    sold = np.zeros((2, 2 * H), dtype=np.int64)
    sold[0, 10] = 30_000                                        # sells 30 kWh, buys 2 * 24 * 500 Wh = 24 kWh
    w = scenario(WITHOUT, [flat(500), flat(500)], participants=2, sold=sold)
    r = scenario(WITH, [flat(250), flat(750)], participants=2, sold=sold)
    c = costs(result(w, r), flat_price_ueur_per_kwh=200_000)
    assert c["without"]["flat_net_cost_eur"] == pytest.approx(24 * 0.2 - 30 * 0.2)   # -1.2: a profit
    assert c["without"]["flat_net_cost_eur"] < 0
    assert c["same_daily_energy"] is False                      # day totals differ: 6 kWh vs 18 kWh
    assert c["change_pct"]["bought_kwh"] == pytest.approx(0.0)


def test_costs_reproduce_the_papers_table_2_from_its_energy():
    # Table 2's kWh, put through costs() at 0.25 EUR/kWh, must give Table 2's EUR columns
    # (printed to the cent) and the -6.5 % of the text; the numbers are the paper's, typed in.
    def one_day(total_wh: int) -> np.ndarray:
        day = np.zeros((1, H), dtype=np.int64)
        day[0, 0] = total_wh
        return day

    def paper_scenario(name: str, bought_wh: int, sold_wh: int) -> ScenarioResult:
        s = scenario(name, [[0] * H], participants=1, sold=one_day(sold_wh))
        s.bought_wh = one_day(bought_wh)
        return s

    c = costs(result(paper_scenario(WITHOUT, 3_360_517_950, 2_006_353_320),
                     paper_scenario(WITH, 2_072_264_830, 805_993_840)))
    assert c["without"]["bought_kwh"] == 3_360_517.95 and c["with"]["sold_kwh"] == 805_993.84
    table2 = {"without": (840_129.49, 501_588.33, 338_541.16), "with": (518_066.21, 201_498.46, 316_567.75)}
    for key, (bought_eur, sold_eur, net_eur) in table2.items():
        x = c[key]
        assert round(x["flat_bought_eur"], 2) == bought_eur
        assert round(x["flat_sold_eur"], 2) == sold_eur
        assert round(x["flat_net_cost_eur"], 2) == net_eur
    # (316,567.7475 - 338,541.1575) / 338,541.1575 = -6.4906 %
    assert c["change_pct"]["flat_net_cost_eur"] == pytest.approx(-6.4906, abs=5e-5)
    assert round(c["change_pct"]["flat_net_cost_eur"], 1) == -6.5
    assert c["change_pct"]["bought_kwh"] == pytest.approx((2_072_264.83 / 3_360_517.95 - 1) * 100)
    assert c["same_daily_energy"] is False


# --------------------------------------------------------------------------- statistics

def test_statistics_match_scipy_on_a_known_week():
    res = week()
    s = statistics(res)
    a, b = np.array(daily_par(res.without)), np.array(daily_par(res.with_))
    t = s["tests"]
    assert t["shapiro_without"]["p_value"] == pytest.approx(st.shapiro(a).pvalue)
    assert t["shapiro_with"]["statistic"] == pytest.approx(st.shapiro(b).statistic)
    assert t["levene"]["p_value"] == pytest.approx(st.levene(a, b).pvalue)
    assert t["ttest_rel"]["statistic"] == pytest.approx(st.ttest_rel(b, a).statistic)
    assert t["ttest_rel"]["p_value"] == pytest.approx(st.ttest_rel(b, a).pvalue)
    assert t["wilcoxon"]["p_value"] == pytest.approx(2 / 2 ** 5)   # exact, 5 positive differences (below)
    assert s["days_better"] == 5 and s["days_equal"] == 2 and s["days_worse"] == 0
    for test in t.values():
        assert test["applicable"]
        assert test["reject_h0"] == (test["p_value"] < 0.05)


def exact_signed_rank_p(differences: list[float]) -> float:
    """Two-sided exact p of Wilcoxon's signed-rank test, by enumerating every sign pattern.

    Zero differences are dropped; the rest must differ in size (ranks 1..n).
    p = 2 * min(P(T+ >= t), P(T+ <= t)) over the 2^n equally likely patterns, at most 1.
    """
    d = [x for x in differences if x != 0]
    ranks = {x: r for r, x in enumerate(sorted(d, key=abs), start=1)}
    assert len({abs(x) for x in d}) == len(d), "hand computation assumes no ties"
    t = sum(r for x, r in ranks.items() if x > 0)
    n = len(d)
    sums = [sum(r for r, plus in zip(range(1, n + 1), signs) if plus)
            for signs in itertools.product((True, False), repeat=n)]
    upper = sum(v >= t for v in sums) / len(sums)
    lower = sum(v <= t for v in sums) / len(sums)
    return min(1.0, 2 * min(upper, lower))


def normal_approx_p(differences: list[float]) -> float:
    """Two-sided p of the signed-rank test's normal approximation (no ties, no continuity correction)."""
    d = [x for x in differences if x != 0]
    n = len(d)
    ranks = {x: r for r, x in enumerate(sorted(d, key=abs), start=1)}
    t = min(sum(r for x, r in ranks.items() if x > 0), sum(r for x, r in ranks.items() if x < 0))
    z = (t - n * (n + 1) / 4) / math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return math.erfc(abs(z) / math.sqrt(2))


def half_flat(levels: list[int]) -> list[list[int]]:
    """Days of 12 hours at 240 Wh and 12 at `level`: PAR = 0.5 + level / 480 exactly."""
    return [[240] * 12 + [level] * 12 for level in levels]


def test_hand_computations_agree_with_textbook_values():
    # five positive differences: only the all-plus pattern (and its mirror) is as extreme
    assert exact_signed_rank_p([1, 2, 3, 4, 5]) == 2 / 32
    # T+ = 14 of 15 (rank 1 negative): patterns with T+ >= 14 are 2 of 32
    assert exact_signed_rank_p([5, -1, 3, 4, 2]) == 4 / 32
    assert normal_approx_p([1, 2, 3, 4, 5]) == pytest.approx(0.0431, abs=5e-5)   # the paper's Table 1


def test_wilcoxon_exact_p_value_matches_the_hand_computed_one_with_zero_differences():
    # days 1-2 equal (zero differences, dropped), then +5, -1, +3, +4, +2 (x 1/96 of PAR)
    steps = [0, 0, 5, -1, 3, 4, 2]
    without = half_flat([48] * 7)                              # PAR 0.6 every day
    with_ = half_flat([48 + 5 * k for k in steps])
    w = statistics(result(scenario(WITHOUT, without), scenario(WITH, with_)))["tests"]["wilcoxon"]
    assert w["nonzero_differences"] == 5
    assert w["p_value"] == pytest.approx(exact_signed_rank_p(steps)) == pytest.approx(0.125)
    assert w["statistic"] == 1.0                                # T- = rank 1
    assert w["p_value_normal_approx"] == pytest.approx(normal_approx_p(steps), rel=1e-9)
    assert w["reject_h0"] is False


def test_wilcoxon_reproduces_the_papers_p_value_with_the_normal_approximation():
    # 7 days, the first 2 identical, 5 improving: the paper's Table 1 p = 0.0431 is the
    # normal approximation; the exact test gives 2/2^5 = 0.0625 (not significant)
    w = statistics(week())["tests"]["wilcoxon"]
    assert w["nonzero_differences"] == 5
    assert w["p_value_normal_approx"] == pytest.approx(normal_approx_p([1, 2, 3, 4, 5]), rel=1e-12)
    assert w["p_value_normal_approx"] == pytest.approx(0.043114446783075355, rel=1e-12)   # paper, Table 1
    assert w["p_value"] == pytest.approx(exact_signed_rank_p([1, 2, 3, 4, 5])) == pytest.approx(0.0625)
    assert w["min_exact_p"] == pytest.approx(0.0625)
    assert w["reject_h0"] is False


def test_wilcoxon_call_pins_method_and_zero_handling(monkeypatch):
    # scipy's default (method="auto") handled zero differences differently across versions
    # (normal approximation before 1.13, a permutation test after): every call the report
    # makes must say how, and must not leave any zero to scipy.
    calls = []
    real = st.wilcoxon

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(report_stats.st, "wilcoxon", spy)
    statistics(week())
    assert {kw["method"] for _a, kw in calls} == {"exact", "approx"}
    for args, kw in calls:
        assert len(args) == 1 and np.count_nonzero(args[0]) == len(args[0]) == 5
        assert kw["zero_method"] == "wilcox" and kw["correction"] is False and kw["alternative"] == "two-sided"


def test_chosen_test_follows_the_papers_procedure():
    s = statistics(week())
    lev = s["tests"]["levene"]
    normal = not s["tests"]["shapiro_without"]["reject_h0"] and not s["tests"]["shapiro_with"]["reject_h0"]
    expected = "ttest_rel" if normal and not lev["reject_h0"] else "wilcoxon"
    assert s["chosen_test"] == expected
    assert s["significant"] == s["tests"][expected]["reject_h0"]


def test_identical_scenarios_do_not_crash():
    s = statistics(identical())
    w, t = s["tests"]["wilcoxon"], s["tests"]["ttest_rel"]
    assert not w["applicable"] and w["decision"] == "not applicable" and "identical" in w["reason"]
    assert w["p_value"] is None and w["nonzero_differences"] == 0
    assert not t["applicable"] and "identical" in t["reason"]
    # identical samples pass Shapiro and Levene, so the paper's route picks the t-test, which is n/a
    assert s["chosen_test"] == "ttest_rel" and s["significant"] is None
    assert s["days_equal"] == 4
    assert s["tests"]["shapiro_without"]["applicable"]      # 4 varied days: Shapiro still works


def test_too_few_days_and_constant_samples():
    two = statistics(identical(days=2))
    assert not two["tests"]["shapiro_without"]["applicable"]
    assert "at least 3" in two["tests"]["shapiro_without"]["reason"]
    one = statistics(identical(days=1))
    assert not one["tests"]["levene"]["applicable"] and not one["tests"]["ttest_rel"]["applicable"]
    const = result(scenario(WITHOUT, [flat(10)] * 5), scenario(WITH, [flat(20)] * 5))
    s = statistics(const)                                        # PAR is 1.0 every day in both
    assert not s["tests"]["shapiro_with"]["applicable"] and "equal" in s["tests"]["shapiro_with"]["reason"]
    assert not s["tests"]["levene"]["applicable"]
    assert not s["tests"]["wilcoxon"]["applicable"]


def test_constant_nonzero_differences_make_the_t_test_not_applicable():
    # with is exactly 0.25 better every day: t = inf would be meaningless
    w = [peaky(0, 100, hours=range(12)) for _ in range(4)]     # PAR 0.5
    r = [peaky(50, 100, hours=range(12)) for _ in range(4)]    # PAR 0.75
    s = statistics(result(scenario(WITHOUT, w), scenario(WITH, r)))
    assert not s["tests"]["ttest_rel"]["applicable"]
    assert "same" in s["tests"]["ttest_rel"]["reason"]
    assert s["tests"]["wilcoxon"]["applicable"]                 # ranks still exist
    # four equal positive differences: only all-plus and all-minus are as extreme, 2 of 16
    assert s["tests"]["wilcoxon"]["p_value"] == pytest.approx(2 / 16)


# --------------------------------------------------------------------------- summary

def four_days() -> SimulationResult:
    """A fully specified 4-day run of one participant, small enough to work out by hand.

    Without: every day 18 hours at 100 Wh and 6 at 400 Wh (4,200 Wh; PAR 175/400 = 7/16).
    With: days 1-2 the same; day 3 flat at 175 Wh (PAR 1); day 4 12 hours at 150 and 12 at
    200 Wh (PAR 175/200 = 7/8). Same energy every day. It also sells 2 kWh on day 1.
    Market: without pays 5.00 EUR and receives 0.60; with pays 4.60 (0.25 of it penalty
    surcharges) and receives 0.60. Optimal PAR known on day 1 (0.5, without's record only),
    day 3 (1.0) and day 4 (0.9). Day 3 of with had 3 penalised hours.
    """
    peaky_day = [100] * 18 + [400] * 6
    without_days = [peaky_day] * 4
    with_days = [peaky_day, peaky_day, [175] * 24, [150] * 12 + [200] * 12]
    sold = np.zeros((1, 4 * H), dtype=np.int64)
    sold[0, 12] = 2000
    day3_penalties = [1000] * H
    day3_penalties[18:21] = [1100, 1500, 1250]
    w = scenario(WITHOUT, without_days, participants=1, sold=sold, paid=[5_000_000], received=[600_000],
                 optimal=[0.5, None, None, None])
    r = scenario(WITH, with_days, participants=1, sold=sold, paid=[4_600_000], received=[600_000],
                 surcharge=250_000, optimal=[None, None, 1.0, 0.9],
                 penalties=[[1000] * H, [1000] * H, day3_penalties, [1000] * H])
    return result(w, r)


def test_summary_headline_by_hand():
    s = summary(four_days())
    h = s["headline"]
    # mean daily PAR: without 7/16 each day; with (7/16 + 7/16 + 1 + 7/8) / 4 = 11/16
    assert h["par_without"] == pytest.approx(7 / 16)
    assert h["par_with"] == pytest.approx(11 / 16)
    assert h["par_change_pct"] == pytest.approx(400 / 7)                 # (11/16) / (7/16) - 1 = 4/7
    # days 3-4: with (1 + 7/8) / 2 = 15/16 against 7/16
    assert h["par_without_from_day3"] == pytest.approx(7 / 16)
    assert h["par_with_from_day3"] == pytest.approx(15 / 16)
    assert h["par_change_pct_from_day3"] == pytest.approx(800 / 7)
    # flat 0.25 EUR/kWh: 4 x 4.2 kWh bought = 4.20 EUR, 2 kWh sold = 0.50 EUR, in both scenarios
    assert h["cost_without_eur"] == pytest.approx(3.70) and h["cost_with_eur"] == pytest.approx(3.70)
    assert h["cost_change_pct"] == pytest.approx(0.0)
    assert s["costs"]["same_daily_energy"] is True
    # market: 5.00 - 0.60 = 4.40 against 4.60 - 0.60 = 4.00, i.e. -0.40 / 4.40 = -1/11
    assert h["cost_without_market_eur"] == pytest.approx(4.40)
    assert h["cost_with_market_eur"] == pytest.approx(4.00)
    assert h["cost_change_pct_market"] == pytest.approx(-100 / 11)
    # ceiling: day 1 from without's record (with has none), days 3-4 from with's: (0.5 + 1.0 + 0.9) / 3
    assert h["optimal_par_ceiling"] == pytest.approx(0.8) and h["optimal_par_days"] == 3
    assert h["par_with_on_ceiling_days"] == pytest.approx((7 / 16 + 1 + 7 / 8) / 3)
    # without's PAR is the same every day, so Shapiro-Wilk cannot apply: Wilcoxon, on the two
    # non-zero differences +9/16 and +7/16, exact p = 2 x 1/4
    assert h["test"] == "wilcoxon"
    assert h["p_value"] == pytest.approx(0.5) and h["significant"] is False

    day3 = s["per_day"][2]
    assert day3 == {
        "day": 3, "date": "2024-01-10", "recommendations": True,
        "par_without": pytest.approx(7 / 16), "par_with": pytest.approx(1.0),
        "change_pct": pytest.approx(900 / 7), "optimal_par": pytest.approx(1.0),
        "peak_to_average_without": pytest.approx(16 / 7), "peak_to_average_with": pytest.approx(1.0),
        "load_without_kwh": 4.2, "load_with_kwh": 4.2, "peak_without_kwh": 0.4, "peak_with_kwh": 0.175,
        "penalised_hours_with": 3,
    }
    assert [row["recommendations"] for row in s["per_day"]] == [False, False, True, True]
    assert [row["optimal_par"] for row in s["per_day"]] == [0.5, None, 1.0, 0.9]
    assert [row["penalised_hours_with"] for row in s["per_day"]] == [0, 0, 3, 0]


def test_interpretation_by_hand():
    text = summary(four_days())["interpretation"]
    assert "went from 0.438 without to 0.688 with recommendations (+57.1 %" in text
    assert "Counting only days 3-4, when recommendations were in force, the change is +114.3 % " \
           "(0.438 -> 0.938)" in text
    assert "improved PAR on 2 day(s), worsened it on 0 and left it unchanged on 2" in text
    assert "the Wilcoxon signed-rank test gives p = 0.5: the difference is not statistically significant" in text
    assert "With only 2 non-zero daily difference(s) the exact test cannot go below p = 0.5" in text
    assert "the net cost is the same in both scenarios (+0.0 %)" in text
    assert "from 4.40 EUR to 4.00 EUR (-9.1 %; the paper reports -6.5 %), with penalty surcharges of " \
           "0.00 EUR and 0.25 EUR" in text
    assert "mean PAR of 0.800 on the 3 day(s) where it is known, against 0.771 achieved" in text


def test_interpretation_quotes_the_chosen_tests_p_value():
    s = summary(week())
    t = s["statistics"]["tests"]["ttest_rel"]
    assert s["statistics"]["chosen_test"] == "ttest_rel" and t["reject_h0"] is True
    assert f"the paired t-test gives p = {t['p_value']:.4g}: the difference is statistically significant" \
        in s["interpretation"]


def test_interpretation_is_honest_about_a_non_significant_wilcoxon():
    # without: the same peaky day 7 times (constant PAR -> no Shapiro -> Wilcoxon);
    # with: days 3-7 flatter by different amounts
    w = [peaky(100, 300)] * 7
    r = [peaky(100, 300)] * 2 + [peaky(100 + 10 * k, 300 - 20 * k) for k in range(1, 6)]
    res = result(scenario(WITHOUT, w), scenario(WITH, r))
    s = summary(res)
    text = s["interpretation"]
    assert s["statistics"]["chosen_test"] == "wilcoxon"
    assert "Shapiro-Wilk cannot be applied to the scenario without recommendations" in text
    assert "not statistically significant" in text
    assert "cannot go below p = 0.0625" in text
    assert "normal approximation" in text and "0.04311" in text
    assert "improved PAR on 5 day(s), worsened it on 0 and left it unchanged on 2" in text
    assert "cannot be applied" in summary(identical())["interpretation"]


@pytest.mark.parametrize("make", [week, identical, lambda: identical(days=1)])
def test_summary_is_json_serialisable(make):
    s = summary(make())
    assert json.loads(json.dumps(s, allow_nan=False)) == s      # plain JSON values only: no numpy, NaN or tuples


# --------------------------------------------------------------------------- files

def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_write_report_creates_every_file(tmp_path):
    res = week()
    md = write_report(res, tmp_path / "out")
    assert md == tmp_path / "out" / "summary.md"
    names = {"summary.md", "summary.json", "daily_par.csv", *report.PLOTS.values()}
    assert names <= {p.name for p in (tmp_path / "out").iterdir()}
    for name in report.PLOTS.values():
        w, h = _png_size(tmp_path / "out" / name)
        assert 900 <= w <= 2000 and 600 <= h <= 1400, (name, w, h)    # ~150 dpi, 7-8.5 x 4.6-5 in
    from PIL import Image                                       # a real decoder (matplotlib needs pillow)
    with Image.open(tmp_path / "out" / "box_par.png") as im:
        im.verify()

    text = md.read_text()
    s = summary(res)
    h = s["headline"]
    assert f"{h['par_without']:.3f}" in text and f"{h['par_with']:.3f}" in text
    assert f"{h['par_change_pct']:+.1f} %" in text and "+15 %" in text and "-6.5 %" in text
    for name in report.PLOTS.values():
        assert f"({name})" in text                              # embedded with a relative link
    assert "Shapiro-Wilk" in text and "Levene" in text and "Wilcoxon" in text
    assert "| seed | 7 |" in text and "| mode | fast |" in text and "hand-made test data" in text

    assert json.loads((tmp_path / "out" / "summary.json").read_text())["headline"]["par_with"] == \
        pytest.approx(h["par_with"])
    with (tmp_path / "out" / "daily_par.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 7 and rows[0]["date"] == "2024-01-08"
    assert float(rows[4]["par_with"]) == pytest.approx(daily_par(res.with_)[4])
    assert rows[0]["optimal_par"] == ""


def test_write_report_on_degenerate_runs(tmp_path):
    for i, res in enumerate((identical(), identical(days=1),
                             result(scenario(WITHOUT, [[0] * H] * 3), scenario(WITH, [[0] * H] * 3)))):
        md = write_report(res, tmp_path / str(i))
        text = md.read_text()
        assert "not applicable" in text
        for name in report.PLOTS.values():
            assert _png_size(tmp_path / str(i) / name)[0] > 0
        json.loads((tmp_path / str(i) / "summary.json").read_text())


def test_report_from_a_saved_run(tmp_path, capsys):
    four_days().save(tmp_path / "run")
    assert report.main([str(tmp_path / "run"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == summary(four_days())                          # the saved run reports what the run did
    assert out["headline"]["optimal_par_ceiling"] == pytest.approx(0.8)
    assert (tmp_path / "run" / "summary.md").exists()


def test_pct_handles_zero_and_negative_bases():
    assert report.pct_change(5, 0) is None
    assert report.pct_change(-50, -100) == pytest.approx(50.0)         # a smaller loss is an increase
    assert math.isclose(report.pct_change(110, 100), 10.0)


# --------------------------------------------------------------------------- the paper's -6.5 %

def _sentences(text: str) -> list[str]:
    return [x for x in text.replace("e.g.", "eg").split(". ") if x]


def test_the_papers_cost_change_stands_beside_the_market_price_cost(tmp_path):
    text = write_report(four_days(), tmp_path).read_text()
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| Net cost")}
    market = next(v for k, v in rows.items() if "market prices" in k)
    flat = next(v for k, v in rows.items() if "flat 0.25 EUR/kWh" in k)
    assert market.rstrip().endswith("| -9.1 % | -6.5 % |")               # change, then the paper's
    assert "-6.5" not in flat and flat.rstrip().endswith("| +0.0 % | |")  # no paper figure beside it
    assert "cannot change" in flat
    # the market-price table carries the paper's change in its net-cost column
    paper_row = next(line for line in text.splitlines() if line.startswith("| paper: change"))
    header = next(line for line in text.splitlines() if line.startswith("| Scenario | Paid EUR"))
    assert paper_row.split("|").index(" -6.5 % ") == [c.strip() for c in header.split("|")].index("Net cost EUR")
    # the interpretation quotes it once, in the market-price sentence
    quoted = [x for x in _sentences(summary(four_days())["interpretation"]) if "6.5" in x]
    assert len(quoted) == 1 and "market" in quoted[0] and "flat" not in quoted[0]


def test_flat_price_sentence_without_the_same_energy_has_no_paper_figure():
    sold = np.zeros((2, 2 * H), dtype=np.int64)
    res = result(scenario(WITHOUT, [flat(500), flat(500)], participants=2, sold=sold),
                 scenario(WITH, [flat(250), flat(750)], participants=2, sold=sold))
    text = summary(res)["interpretation"]
    flat_sentence = next(x for x in _sentences(text) if "flat" in x)
    assert "bought or sold different daily energy" in flat_sentence and "6.5" not in flat_sentence


# --------------------------------------------------------------------------- configuration

def test_configuration_table_gives_every_value_in_the_users_unit(tmp_path):
    from dataclasses import asdict

    from sawgrid.clients.simulation.runner import SimConfig

    cfg = asdict(SimConfig(seed=7))
    assert set(cfg) <= set(report.text.CONFIG_ROWS)                  # no setting shown raw
    res = result(*_week_scenarios(), **cfg)
    text = write_report(res, tmp_path).read_text()
    table = text.split("## Configuration", 1)[1]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Setting")}
    assert rows["grid_buy"] == "0.10 EUR/kWh"
    assert rows["grid_sell"] == "0.30 EUR/kWh"
    assert rows["flat_price"] == "0.25 EUR/kWh"
    assert rows["participant_funds"] == "100,000.00 EUR"
    assert rows["operator_funds"] == "10,000,000.00 EUR"
    assert rows["flexibility"] == "50 %"
    assert rows["threshold"] == "PAR 0.85"
    assert rows["spread_limit"] == "300 Wh per hour"
    assert rows["first_recommended_day"] == "day 3"                  # index 2, 0-based
    assert rows["days"] == "7 (2024-01-08 to 2024-01-14)"
    assert rows["runtime"] == "1.5 s"
    assert rows["seed"] == "7" and rows["mode"] == "fast" and rows["algorithm"] == "optimal"
    assert "100000" not in table and "100,000,000,000" not in table
    # the JSON keeps integers, each key naming its unit
    doc = json.loads((tmp_path / "summary.json").read_text())["config"]
    assert doc["grid_buy_ueur_per_kwh"] == 100_000 and doc["participant_funds_ueur"] == 10**11
    assert doc["first_recommended_day_index"] == 2 and doc["spread_limit_wh"] == 300
    assert not {"grid_buy", "grid_sell", "flat_price", "participant_funds", "operator_funds"} & set(doc)


def test_an_older_runs_configuration_gets_unit_keys(tmp_path):
    old = result(*_week_scenarios(), grid_buy=120_000, grid_sell=300_000, flat_price=200_000,
                 participant_funds=10**11, operator_funds=10**13, first_recommended_day=2)
    old.save(tmp_path / "run")
    assert report.main([str(tmp_path / "run"), "--json"]) == 0
    s = summary(old)
    assert s["config"]["grid_buy_ueur_per_kwh"] == 120_000 and "grid_buy" not in s["config"]
    assert s["costs"]["flat_price_eur_per_kwh"] == 0.2               # the run's own flat price
    text = (tmp_path / "run" / "summary.md").read_text()
    assert "| grid_buy | 0.12 EUR/kWh |" in text and "| flat_price | 0.20 EUR/kWh |" in text
    assert "| first_recommended_day | day 3 |" in text


def test_costs_use_the_runs_flat_price():
    # four_days(): 16.8 kWh bought and 2 kWh sold in each scenario; at 0.20 EUR/kWh: 3.36 - 0.40
    res = four_days()
    res.config["flat_price_ueur_per_kwh"] = 200_000
    h = summary(res)["headline"]
    assert h["cost_without_eur"] == pytest.approx(2.96) and h["cost_with_eur"] == pytest.approx(2.96)


def test_unknown_settings_are_shown_as_recorded(tmp_path):
    text = write_report(result(*_week_scenarios(), note="a|b", weights=[1, 2]), tmp_path).read_text()
    assert "| note | a/b |" in text and "| weights | [1, 2] |" in text


def _week_scenarios():
    w = week()
    return w.without, w.with_


# --------------------------------------------------------------------------- figures

def _titles(fig) -> str:
    ax = fig.axes[0]
    return "\n".join([ax.get_title(), ax.get_ylabel()])


def test_hourly_figures_plot_energy_bought_over_days_3_on_in_both_scenarios():
    res = week()
    fig6 = report.plots.hourly_figure(res.without, res.with_, 1.0, 6)
    fig7 = report.plots.hourly_figure(res.with_, res.without, 1.0, 7)
    for fig in (fig6, fig7):
        text = _titles(fig)
        assert "Energy bought per hour" in text and "consumption" not in text.lower()
        assert "kWh per hour, mean over days 3-7" in fig.axes[0].get_ylabel()
        assert "days 3-7 (Wed 10 Jan - Sun 14 Jan) in both scenarios" in text
        assert "days 1-2, before any recommendation, left out" in text
    # bars: the without scenario's mean over days 3-7 (d = 2..6), not over all 7 days:
    # the peak hours hold 100 + 50 d Wh, i.e. 300 Wh on average (250 Wh over the whole week)
    bars = [p.get_height() for p in fig6.axes[0].patches]
    assert len(bars) == H
    assert bars[9] == pytest.approx(0.300) and bars[8] == pytest.approx(0.300) and bars[3] == pytest.approx(0.100)
    # the outline in Fig. 7 is the same profile as Fig. 6's bars
    outline = next(line for line in fig7.axes[0].lines if line.get_linestyle() == "--")
    assert list(outline.get_ydata()[:H]) == pytest.approx(bars)
    expected = res.with_.hourly_load_wh[2:].mean(axis=0) / 1000
    assert [p.get_height() for p in fig7.axes[0].patches] == pytest.approx(list(expected))


def test_hourly_figures_of_a_run_without_recommended_days_say_so():
    fig = report.plots.hourly_figure(identical(days=2).with_, identical(days=2).without, 1.0, 7)
    text = _titles(fig)
    assert "mean over days 1-2 (Mon 08 Jan - Tue 09 Jan): no recommendations yet on any of them" in text
    assert "kWh per hour, mean over days 1-2" in text


def _marker_path(handle):
    from matplotlib.markers import MarkerStyle
    m = MarkerStyle(handle.get_marker())
    return m.get_path().transformed(m.get_transform())


def test_box_plot_legend_markers_are_the_points_drawn():
    from matplotlib.colors import to_rgba
    res = week()
    fig = report.plots.box_figure(res)
    ax = fig.axes[0]
    legend = fig.legends[0]
    entries = dict(zip([t.get_text() for t in legend.texts], legend.legend_handles))
    points = ax.collections
    assert len(points) == 4                                   # per scenario: days 1-2, days 3-7
    pw, pr = daily_par(res.without), daily_par(res.with_)
    by_values = {tuple(np.round(c.get_offsets()[:, 1], 12)): c for c in points}
    early = ("one of days 1-2: no recommendations yet (same in both)", [pw[:2], pr[:2]])
    late_w = (f"one of days 3-7, {WITHOUT}", [pw[2:]])
    late_r = (f"one of days 3-7, {WITH}", [pr[2:]])
    for label, samples in (early, late_w, late_r):
        handle = entries[label]
        assert handle.get_linestyle() == "None"                   # a marker, no line
        for values in samples:
            c = by_values[tuple(np.round(values, 12))]
            assert to_rgba(handle.get_markerfacecolor()) == tuple(c.get_facecolor()[0])
            assert to_rgba(handle.get_markeredgecolor()) == tuple(c.get_edgecolor()[0])
            assert handle.get_markeredgewidth() == pytest.approx(c.get_linewidths()[0])
            assert handle.get_markersize() ** 2 == pytest.approx(c.get_sizes()[0])
            assert np.allclose(_marker_path(handle).vertices, c.get_paths()[0].vertices)
    # hollow days 1-2, coloured days 3-7 (each in its scenario's colour)
    assert to_rgba(entries[early[0]].get_markerfacecolor()) == to_rgba("white")
    assert to_rgba(entries[late_w[0]].get_markerfacecolor()) == to_rgba(report.plots.COLOURS[WITHOUT])
    assert to_rgba(entries[late_r[0]].get_markerfacecolor()) == to_rgba(report.plots.COLOURS[WITH])
    # the mean's legend marker is the boxplot's mean marker
    mean_line = next(line for line in ax.lines if line.get_marker() == "D")
    mean = entries["mean"]
    assert (mean.get_marker(), mean.get_markerfacecolor(), mean.get_markeredgecolor(), mean.get_markersize()) == \
        (mean_line.get_marker(), mean_line.get_markerfacecolor(), mean_line.get_markeredgecolor(),
         mean_line.get_markersize())
    assert "all 7 days, as in the paper; hollow: days 1-2, no recommendations in either scenario" in ax.get_title()


def test_box_plot_of_a_run_without_recommended_days_has_no_coloured_points():
    fig = report.plots.box_figure(identical(days=2))
    labels = [t.get_text() for t in fig.legends[0].texts]
    assert labels == ["one of days 1-2: no recommendations yet (same in both)", "median of the box", "mean"]
    assert "all 2 days; no recommendations yet on any of them" in fig.axes[0].get_title()


def test_report_captions_name_the_days_each_figure_shows(tmp_path):
    text = write_report(week(), tmp_path).read_text()
    assert "![Daily PAR per scenario, all 7 days (cf. Fig. 5)](box_par.png)" in text
    assert "![Energy bought per hour without recommendations, days 3-7 (cf. Fig. 6)](hourly_without.png)" in text
    assert "![Energy bought per hour with recommendations, days 3-7 (cf. Fig. 7)](hourly_with.png)" in text
    assert "the paper's Figs. 6-7 average its whole week" in text
    assert "consumption" not in text.lower()
