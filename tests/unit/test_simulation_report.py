"""The simulation report (paper Section 6) on small hand-made runs with known answers."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from scipy import stats as st

from sawgrid.clients.simulation import report
from sawgrid.clients.simulation.report import costs, daily_par, statistics, summary, write_report
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
    c = costs(result(w, r))
    assert c["flat_price_eur_per_kwh"] == 0.25
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


def test_cost_change_like_the_papers_table_2():
    # the paper's kWh totals give its -6.5 % at 0.25 EUR/kWh
    p = report.PAPER["table2"]
    w = p["without"]["bought_kwh"] * 0.25 - p["without"]["sold_kwh"] * 0.25
    r = p["with"]["bought_kwh"] * 0.25 - p["with"]["sold_kwh"] * 0.25
    assert report.pct_change(r, w) == pytest.approx(-6.49, abs=0.01)


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
    assert t["wilcoxon"]["p_value"] == pytest.approx(st.wilcoxon(b, a).pvalue)
    assert s["days_better"] == 5 and s["days_equal"] == 2 and s["days_worse"] == 0
    for test in t.values():
        assert test["applicable"]
        assert test["reject_h0"] == (test["p_value"] < 0.05)


def test_wilcoxon_reproduces_the_papers_p_value_with_the_normal_approximation():
    # 7 days, the first 2 identical, 5 improving: the paper's Table 1 p = 0.0431 is the
    # normal approximation; the exact test gives 2/2^5 = 0.0625 (not significant)
    w = statistics(week())["tests"]["wilcoxon"]
    assert w["nonzero_differences"] == 5
    assert w["p_value_normal_approx"] == pytest.approx(report.PAPER["table1_p"]["wilcoxon"], rel=1e-12)
    assert w["p_value"] == pytest.approx(0.0625)
    assert w["min_exact_p"] == pytest.approx(0.0625)
    assert w["reject_h0"] is False


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
    assert s["tests"]["wilcoxon"]["p_value"] == pytest.approx(st.wilcoxon([0.25] * 4).pvalue)


# --------------------------------------------------------------------------- summary

def test_summary_headline_numbers():
    res = week()
    s = summary(res)
    h = s["headline"]
    pw, pr = daily_par(res.without), daily_par(res.with_)
    assert h["par_without"] == pytest.approx(np.mean(pw))
    assert h["par_with"] == pytest.approx(np.mean(pr))
    assert h["par_change_pct"] == pytest.approx((np.mean(pr) / np.mean(pw) - 1) * 100)
    assert h["par_change_pct_from_day3"] == pytest.approx((np.mean(pr[2:]) / np.mean(pw[2:]) - 1) * 100)
    assert h["par_change_pct_from_day3"] > h["par_change_pct"] > 0
    assert h["paper_par_change_pct"] == 15.0 and h["paper_cost_change_pct"] == -6.5
    assert h["optimal_par_ceiling"] == pytest.approx(1.0) and h["optimal_par_days"] == 5
    assert h["cost_change_pct"] == 0.0                           # same energy bought in both scenarios
    assert h["cost_without_eur"] == pytest.approx(sum(map(sum, [peaky(100, 100 + 50 * d) for d in range(7)])) / 4000)
    assert h["cost_change_pct_market"] is None                   # nothing paid: 0 -> 0 has no %
    assert [row["day"] for row in s["per_day"]] == list(range(1, 8))
    assert [row["recommendations"] for row in s["per_day"]] == [False, False] + [True] * 5
    assert s["per_day"][3]["par_with"] == pytest.approx(pr[3])
    assert s["plots"] == report.PLOTS
    assert f"the paired t-test gives p = {s['statistics']['tests']['ttest_rel']['p_value']:.4g}: " \
           f"the difference is statistically significant" in s["interpretation"]


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
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text)["headline"]["paper_par_change_pct"] == 15.0


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
    week().save(tmp_path / "run")
    assert report.main([str(tmp_path / "run"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["headline"]["optimal_par_ceiling"] == pytest.approx(1.0)
    assert (tmp_path / "run" / "summary.md").exists()


def test_pct_handles_zero_and_negative_bases():
    assert report.pct_change(5, 0) is None
    assert report.pct_change(-50, -100) == pytest.approx(50.0)         # a smaller loss is an increase
    assert math.isclose(report.pct_change(110, 100), 10.0)
