"""The report of a `sawgrid simulate` run: the paper's Section 6, redone on our numbers.

Input is a :class:`~sawgrid.clients.simulation.results.SimulationResult` (what
the chain recorded in both scenarios). Output, by :func:`write_report`:

* ``summary.md``   -- headline, Table 1 (statistics), Table 2 (costs), per-day
                      PAR, the figures, an interpretation generated from the
                      numbers, and the run's configuration;
* ``summary.json`` -- :func:`summary` (what ``--json`` prints);
* ``daily_par.csv`` -- one row per day;
* ``box_par.png`` (Figure 5), ``hourly_without.png`` (Figure 6),
  ``hourly_with.png`` (Figure 7), ``daily_par.png`` (Figure 8).

PAR is the paper's: avg/max of a day's 24 hourly purchases of the whole
microgrid (:func:`sawgrid.par_engine.metrics.par`), 1.0 = flat, higher is better.

Statistics follow the paper's chain (Section 6): Shapiro-Wilk on each
scenario's daily PAR, Levene for equal variances; the paired t-test if both
are normal with equal variances, else the Wilcoxon signed-rank test. The
paper's Wilcoxon p-value (0.0431) is exactly what scipy's *normal
approximation* gives for 5 non-zero differences all in the same direction
(7 days, the first 2 identical); the exact test gives 0.0625 for the same data.
Both are reported; the decision uses scipy's default (exact for small samples).

Costs follow the paper's Table 2 (flat 0.25 EUR/kWh, cost = bought - sold,
negative = profit) and, next to it, the market's actual prices.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import stats as st

from sawgrid.par_engine import metrics
from sawgrid.clients.simulation.results import SimulationResult, ScenarioResult, WITH, WITHOUT

ALPHA = 0.05
HOURS = 24
#: the first two days have no recommendations nor penalties in either scenario (paper, 5.2)
DAYS_WITHOUT_RECOMMENDATIONS = 2
DEFAULT_FLAT_PRICE_UEUR_PER_KWH = 250_000      # 0.25 EUR/kWh, the paper's EU average

PAPER = {
    "par_change_pct": 15.0,
    "cost_change_pct": -6.5,
    # Table 1 (p-values). Which Shapiro row is which scenario the paper does not
    # say; we read "orig data" as without recommendations, "our data" as with.
    "table1_p": {"shapiro_without": 0.5495042204856873, "shapiro_with": 0.3702385723590851,
                 "levene": 0.03887956060197091, "wilcoxon": 0.043114446783075355},
    # Table 2 and the text above it (one week, EUR at 0.25 EUR/kWh)
    "table2": {
        "without": {"bought_kwh": 3_360_517.95, "bought_eur": 840_129.49,
                    "sold_kwh": 2_006_353.32, "sold_eur": 501_588.33, "net_cost_eur": 338_541.16},
        "with": {"bought_kwh": 2_072_264.83, "bought_eur": 518_066.21,
                 "sold_kwh": 805_993.84, "sold_eur": 201_498.46, "net_cost_eur": 316_567.75},
    },
}

PLOTS = {
    "box_par": "box_par.png",
    "hourly_without": "hourly_without.png",
    "hourly_with": "hourly_with.png",
    "daily_par": "daily_par.png",
}

# one colour per scenario, the same in every figure (colour-blind safe pair)
COLOURS = {WITHOUT: "#D55E00", WITH: "#0072B2"}
CEILING_COLOUR = "#333333"
DPI = 150


# --------------------------------------------------------------------------- helpers

def _pct(new: float | None, old: float | None) -> float | None:
    """Change from `old` to `new` in % of |old| (None when old is 0 or unknown)."""
    if new is None or old is None or old == 0:
        return None
    return (new - old) / abs(old) * 100.0


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _date(label: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(label)[:10])
    except ValueError:
        return None


def _day_label(label: str, sep: str = " ") -> str:
    d = _date(label)
    return d.strftime(f"%a{sep}%d %b") if d else str(label)


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _ueur_to_eur(ueur) -> float:
    return int(ueur) / 1_000_000


def _ceiling(result: SimulationResult) -> list[float | None]:
    """Per day, the optimal PAR (the with-scenario's, else the without-scenario's)."""
    n = len(result.with_.days)
    out: list[float | None] = []
    for d in range(n):
        value = None
        for s in (result.with_, result.without):
            if d < len(s.optimal_par) and s.optimal_par[d] is not None:
                value = float(s.optimal_par[d])
                break
        out.append(value)
    return out


# --------------------------------------------------------------------------- PAR

def daily_par(scenario: ScenarioResult) -> list[float]:
    """The paper's PAR (avg/max) of each day's hourly load of the microgrid."""
    return [float(metrics.par([int(v) for v in day])) for day in scenario.hourly_load_wh]


def _daily_peak_to_average(scenario: ScenarioResult) -> list[float]:
    return [float(metrics.peak_to_average([int(v) for v in day])) for day in scenario.hourly_load_wh]


# --------------------------------------------------------------------------- statistics

def _test(name: str, h0: str, n: int | dict) -> dict:
    return {"test": name, "h0": h0, "n": n, "applicable": False, "statistic": None,
            "p_value": None, "reject_h0": None, "decision": "not applicable", "reason": None}


def _not_applicable(entry: dict, reason: str) -> dict:
    entry.update(applicable=False, decision="not applicable", reason=reason)
    return entry


def _decide(entry: dict, statistic, p_value, yes: str, no: str) -> dict:
    statistic, p_value = _finite(statistic), _finite(p_value)
    if p_value is None:
        return _not_applicable(entry, "the test is undefined for these data (NaN result)")
    reject = p_value < ALPHA
    entry.update(applicable=True, statistic=statistic, p_value=p_value, reject_h0=reject,
                 decision=(yes if reject else no))
    return entry


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _shapiro(sample: np.ndarray, label: str) -> dict:
    e = _test(f"Shapiro-Wilk ({label})", "the daily PAR is normally distributed", len(sample))
    if len(sample) < 3:
        return _not_applicable(e, f"needs at least 3 days, got {len(sample)}")
    if np.ptp(sample) == 0:
        return _not_applicable(e, "all daily PAR values are equal (zero spread)")
    r = _quiet(st.shapiro, sample)
    return _decide(e, r.statistic, r.pvalue, "not normal (H0 rejected)", "normal (H0 not rejected)")


def _levene(a: np.ndarray, b: np.ndarray) -> dict:
    e = _test("Levene (median-centred)", "both scenarios have equal variances", len(a))
    if len(a) < 2:
        return _not_applicable(e, f"needs at least 2 days per scenario, got {len(a)}")
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return _not_applicable(e, "both samples have zero spread")
    r = _quiet(st.levene, a, b, center="median")
    return _decide(e, r.statistic, r.pvalue, "variances differ (H0 rejected)",
                   "equal variances (H0 not rejected)")


def _ttest(a: np.ndarray, b: np.ndarray) -> dict:
    e = _test("paired t-test", "the mean daily PAR is the same in both scenarios", len(a))
    d = b - a
    if len(d) < 2:
        return _not_applicable(e, f"needs at least 2 paired days, got {len(d)}")
    if np.allclose(d, d[0], rtol=0.0, atol=1e-12):
        why = "identical samples (every daily difference is 0)" if abs(d[0]) <= 1e-12 else \
            "every daily difference is the same, so their variance is 0"
        return _not_applicable(e, why)
    r = _quiet(st.ttest_rel, b, a)
    return _decide(e, r.statistic, r.pvalue, "means differ (H0 rejected)",
                   "no significant difference (H0 not rejected)")


def _wilcoxon(a: np.ndarray, b: np.ndarray) -> dict:
    e = _test("Wilcoxon signed-rank test", "the daily PAR differences are symmetric about 0", len(a))
    d = b - a
    nonzero = int(np.count_nonzero(d))
    e.update(nonzero_differences=nonzero, p_value_normal_approx=None,
             min_exact_p=(min(1.0, 2.0 / 2 ** nonzero) if nonzero else None))
    if nonzero == 0:
        return _not_applicable(e, "identical samples: every daily difference is 0, and the test "
                                  "drops zero differences, leaving nothing to rank")
    r = _quiet(st.wilcoxon, b, a)                          # scipy's default: exact for small n
    _decide(e, r.statistic, r.pvalue, "PAR differs between scenarios (H0 rejected)",
            "no significant difference (H0 not rejected)")
    approx = _quiet(st.wilcoxon, b, a, method="approx")   # what the paper's p-value matches
    e["p_value_normal_approx"] = _finite(approx.pvalue)
    return e


def statistics(result: SimulationResult) -> dict:
    """Table 1: the paper's tests on the two scenarios' daily PAR, at alpha = 0.05.

    Each test is a dict with ``statistic``, ``p_value``, ``reject_h0``,
    ``decision`` and, when it cannot be computed, ``applicable: False`` and the
    ``reason``. ``chosen_test`` follows the paper: the paired t-test if both
    samples look normal with equal variances, else Wilcoxon.
    """
    a = np.asarray(daily_par(result.without), dtype=float)
    b = np.asarray(daily_par(result.with_), dtype=float)
    if len(a) != len(b):
        raise ValueError(f"the scenarios have {len(a)} and {len(b)} days; the tests pair days")
    tests = {
        "shapiro_without": _shapiro(a, WITHOUT),
        "shapiro_with": _shapiro(b, WITH),
        "levene": _levene(a, b),
        "ttest_rel": _ttest(a, b),
        "wilcoxon": _wilcoxon(a, b),
    }
    normal = all(tests[k]["applicable"] and not tests[k]["reject_h0"]
                 for k in ("shapiro_without", "shapiro_with"))
    equal_var = tests["levene"]["applicable"] and not tests["levene"]["reject_h0"]
    if normal and equal_var:
        chosen, why = "ttest_rel", "Shapiro-Wilk and Levene do not reject normality and equal variances"
    else:
        reasons = []
        for key, label in (("shapiro_without", WITHOUT), ("shapiro_with", WITH)):
            if not tests[key]["applicable"]:
                reasons.append(f"Shapiro-Wilk cannot be applied to the scenario {label}")
            elif tests[key]["reject_h0"]:
                reasons.append(f"Shapiro-Wilk rejects normality for the scenario {label}")
        if not tests["levene"]["applicable"]:
            reasons.append("Levene cannot be applied")
        elif tests["levene"]["reject_h0"]:
            reasons.append("Levene rejects equal variances")
        chosen, why = "wilcoxon", "; ".join(reasons)
    d = b - a
    return {
        "alpha": ALPHA,
        "n_days": int(len(a)),
        "samples": {"without": a.tolist(), "with": b.tolist()},
        "tests": tests,
        "chosen_test": chosen,
        "chosen_reason": why,
        "significant": tests[chosen]["reject_h0"],
        "days_better": int((d > 0).sum()),
        "days_worse": int((d < 0).sum()),
        "days_equal": int((d == 0).sum()),
        "paper_p_values": dict(PAPER["table1_p"]),
    }


# --------------------------------------------------------------------------- costs

def _scenario_costs(s: ScenarioResult, price: int) -> dict:
    bought_wh = int(np.asarray(s.bought_wh, dtype=np.int64).sum())
    sold_wh = int(np.asarray(s.sold_wh, dtype=np.int64).sum())
    paid = _ueur_to_eur(np.asarray(s.paid_ueur, dtype=np.int64).sum())
    received = _ueur_to_eur(np.asarray(s.received_ueur, dtype=np.int64).sum())
    # Wh * µEUR/kWh / 1000 = µEUR, exact in Python ints
    flat_bought = bought_wh * price / 1000 / 1_000_000
    flat_sold = sold_wh * price / 1000 / 1_000_000
    return {
        "bought_kwh": bought_wh / 1000,
        "sold_kwh": sold_wh / 1000,
        "flat_bought_eur": flat_bought,
        "flat_sold_eur": flat_sold,
        "flat_net_cost_eur": flat_bought - flat_sold,
        "market_paid_eur": paid,
        "market_received_eur": received,
        "market_net_cost_eur": paid - received,
        "market_surcharge_eur": _ueur_to_eur(s.surcharge_ueur),
        "market_avg_price_paid_eur_per_kwh": (paid / (bought_wh / 1000)) if bought_wh else None,
        "market_avg_price_received_eur_per_kwh": (received / (sold_wh / 1000)) if sold_wh else None,
        "contracts": int(s.contracts),
    }


def costs(result: SimulationResult, flat_price_ueur_per_kwh: int = DEFAULT_FLAT_PRICE_UEUR_PER_KWH) -> dict:
    """Table 2: bought/sold kWh and EUR per scenario at a flat price (the paper's
    method; net cost = bought - sold, negative = profit) and at the market's
    actual prices (paid incl. penalty surcharges and fees, received), with the
    change in % from without to with recommendations."""
    w = _scenario_costs(result.without, flat_price_ueur_per_kwh)
    r = _scenario_costs(result.with_, flat_price_ueur_per_kwh)
    keys = [k for k in w if k != "contracts" and not k.startswith("market_avg")]
    change = {k: _pct(r[k], w[k]) for k in keys}
    same_energy = _same_daily_energy(result)
    return {
        "flat_price_eur_per_kwh": flat_price_ueur_per_kwh / 1_000_000,
        "without": w,
        "with": r,
        "change_pct": change,
        "same_daily_energy": same_energy,
        "paper": {"table2": PAPER["table2"], "cost_change_pct": PAPER["cost_change_pct"]},
    }


def _same_daily_energy(result: SimulationResult) -> bool:
    """Did every participant buy and sell the same energy each day in both scenarios?"""
    for name in ("bought_wh", "sold_wh"):
        a, b = getattr(result.without, name), getattr(result.with_, name)
        if a.shape != b.shape:
            return False
        if not np.array_equal(a.reshape(a.shape[0], -1, HOURS).sum(axis=2),
                              b.reshape(b.shape[0], -1, HOURS).sum(axis=2)):
            return False
    return True


# --------------------------------------------------------------------------- summary

def _per_day(result: SimulationResult) -> list[dict]:
    pw, pr = daily_par(result.without), daily_par(result.with_)
    tw, tr = _daily_peak_to_average(result.without), _daily_peak_to_average(result.with_)
    lw, lr = result.without.hourly_load_wh, result.with_.hourly_load_wh
    ceiling = _ceiling(result)
    rows = []
    for d, label in enumerate(result.with_.days):
        pen = result.with_.penalties[d] if d < len(result.with_.penalties) else []
        rows.append({
            "day": d + 1,
            "date": str(label),
            "recommendations": d >= DAYS_WITHOUT_RECOMMENDATIONS,
            "par_without": pw[d],
            "par_with": pr[d],
            "change_pct": _pct(pr[d], pw[d]),
            "optimal_par": ceiling[d],
            "peak_to_average_without": tw[d],
            "peak_to_average_with": tr[d],
            "load_without_kwh": int(lw[d].sum()) / 1000,
            "load_with_kwh": int(lr[d].sum()) / 1000,
            "peak_without_kwh": int(lw[d].max()) / 1000,
            "peak_with_kwh": int(lr[d].max()) / 1000,
            "penalised_hours_with": int(sum(1 for m in pen if m > 1000)),
        })
    return rows


def _interpretation(head: dict, stats: dict, cost: dict) -> str:
    parts = []
    n = stats["n_days"]
    parts.append(
        f"Over the {n} simulated days the mean daily PAR (avg/max, higher is better) went from "
        f"{_f(head['par_without'], 3)} without to {_f(head['par_with'], 3)} with recommendations "
        f"({_p(head['par_change_pct'])}; the paper reports +15 %).")
    if head["par_change_pct_from_day3"] is not None:
        parts.append(
            f"Counting only days 3-{n}, when recommendations were in force, the change is "
            f"{_p(head['par_change_pct_from_day3'])} ({_f(head['par_without_from_day3'], 3)} -> "
            f"{_f(head['par_with_from_day3'], 3)}).")
    parts.append(f"Recommendations improved PAR on {stats['days_better']} day(s), worsened it on "
                 f"{stats['days_worse']} and left it unchanged on {stats['days_equal']}.")
    chosen = stats["tests"][stats["chosen_test"]]
    name = chosen["test"]
    if not chosen["applicable"]:
        parts.append(f"The {name} cannot be applied ({chosen['reason']}), so there is no evidence "
                     f"of a difference between the scenarios.")
    else:
        verdict = ("the difference is statistically significant" if chosen["reject_h0"]
                   else "the difference is not statistically significant")
        parts.append(f"Following the paper's procedure ({stats['chosen_reason']}), the {name} gives "
                     f"p = {chosen['p_value']:.4g}: {verdict} at alpha = {stats['alpha']}.")
        if stats["chosen_test"] == "wilcoxon":
            k, lo, approx = chosen["nonzero_differences"], chosen["min_exact_p"], chosen["p_value_normal_approx"]
            if lo is not None and lo >= stats["alpha"]:
                parts.append(f"With only {k} non-zero daily difference(s) the exact test cannot go "
                             f"below p = {lo:.4g}, so this run cannot reach significance with it however "
                             f"large the improvement; more days are needed.")
            tt = stats["tests"]["ttest_rel"]
            if tt["applicable"] and tt["reject_h0"] != chosen["reject_h0"]:
                parts.append(f"The paired t-test, which works on the daily differences and so does not "
                             f"need equal variances of the two samples, gives p = {tt['p_value']:.4g} "
                             f"({tt['decision']}).")
            if approx is not None and (approx < stats["alpha"]) != bool(chosen["reject_h0"]):
                parts.append(f"The normal approximation (which reproduces the paper's p = 0.0431 for 5 "
                             f"improving days) gives p = {approx:.4g} and the opposite decision; "
                             f"at this sample size the exact p-value is the one to trust.")
    if cost["same_daily_energy"]:
        parts.append(
            f"At the flat {cost['flat_price_eur_per_kwh']:.2f} EUR/kWh the net cost is the same in both "
            f"scenarios ({_p(head['cost_change_pct'])}), because every participant buys and sells the "
            f"same energy each day in both (the paper's own requirement); the paper's -6.5 % comes from "
            f"different bought and sold totals in its Table 2.")
    else:
        parts.append(f"At the flat {cost['flat_price_eur_per_kwh']:.2f} EUR/kWh the net cost changed by "
                     f"{_p(head['cost_change_pct'])} (paper: -6.5 %).")
    w, r = cost["without"], cost["with"]
    parts.append(
        f"At the market's actual prices the net cost went from {_eur(w['market_net_cost_eur'])} to "
        f"{_eur(r['market_net_cost_eur'])} ({_p(head['cost_change_pct_market'])}), with penalty surcharges "
        f"of {_eur(w['market_surcharge_eur'])} and {_eur(r['market_surcharge_eur'])}.")
    if head["optimal_par_ceiling"] is not None:
        achieved = head["par_with_on_ceiling_days"]
        gap = "" if achieved is None else (
            f", against {_f(achieved, 3)} achieved with recommendations on those days "
            f"({achieved / head['optimal_par_ceiling'] * 100:.0f} % of the ceiling)")
        parts.append(
            f"The optimal schedule of each day's purchases has a mean PAR of "
            f"{_f(head['optimal_par_ceiling'], 3)} on the {head['optimal_par_days']} day(s) where it "
            f"is known{gap}.")
    return " ".join(parts)


def summary(result: SimulationResult) -> dict:
    """Everything the report shows, JSON-serialisable (the ``--json`` output)."""
    pw, pr = daily_par(result.without), daily_par(result.with_)
    stats = statistics(result)
    cost = costs(result)
    ceiling_by_day = _ceiling(result)
    ceiling = [c for c in ceiling_by_day if c is not None]
    with_on_ceiling = [pr[d] for d, c in enumerate(ceiling_by_day) if c is not None]
    k = DAYS_WITHOUT_RECOMMENDATIONS
    late_w, late_r = _mean(pw[k:]), _mean(pr[k:])
    head = {
        "par_without": _mean(pw),
        "par_with": _mean(pr),
        "par_change_pct": _pct(_mean(pr), _mean(pw)),
        "par_without_from_day3": late_w,
        "par_with_from_day3": late_r,
        "par_change_pct_from_day3": _pct(late_r, late_w),
        "paper_par_change_pct": PAPER["par_change_pct"],
        "cost_without_eur": cost["without"]["flat_net_cost_eur"],
        "cost_with_eur": cost["with"]["flat_net_cost_eur"],
        "cost_change_pct": cost["change_pct"]["flat_net_cost_eur"],
        "cost_without_market_eur": cost["without"]["market_net_cost_eur"],
        "cost_with_market_eur": cost["with"]["market_net_cost_eur"],
        "cost_change_pct_market": cost["change_pct"]["market_net_cost_eur"],
        "paper_cost_change_pct": PAPER["cost_change_pct"],
        "optimal_par_ceiling": _mean(ceiling),
        "optimal_par_days": len(ceiling),
        "par_with_on_ceiling_days": _mean(with_on_ceiling),
        "significant": stats["significant"],
        "test": stats["chosen_test"],
        "p_value": stats["tests"][stats["chosen_test"]]["p_value"],
    }
    out = {
        "headline": head,
        "config": result.config,
        "dataset": result.dataset,
        "participants": len(result.participants),
        "days": [str(d) for d in result.with_.days],
        "seconds": result.seconds,
        "per_day": _per_day(result),
        "statistics": stats,
        "costs": cost,
        "plots": dict(PLOTS),
        "interpretation": _interpretation(head, stats, cost),
    }
    return _jsonable(out)


def _jsonable(x):
    """numpy scalars/arrays -> Python, NaN/inf -> None, so json.dumps(allow_nan=False) works."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return _finite(x)
    if isinstance(x, (str, type(None))):
        return x
    return str(x)


# --------------------------------------------------------------------------- plots

def _figure(width: float = 8.0, height: float = 4.8):
    from matplotlib.figure import Figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # non-interactive, explicit
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> None:
    fig.savefig(path, dpi=DPI, facecolor="white")


def _style(ax) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _plot_box(result: SimulationResult, path: Path) -> None:
    pw, pr = daily_par(result.without), daily_par(result.with_)
    fig = _figure(7.0, 5.0)
    ax = fig.add_subplot()
    names = (WITHOUT, WITH)
    data = (pw, pr)
    box = ax.boxplot(data, positions=[1, 2], widths=0.5, patch_artist=True, showmeans=True,
                     meanprops=dict(marker="D", markerfacecolor="white", markeredgecolor="black", markersize=6),
                     medianprops=dict(color="black", linewidth=1.8), showfliers=False)
    for patch, name in zip(box["boxes"], names):
        patch.set_facecolor(COLOURS[name])
        patch.set_alpha(0.35)
        patch.set_edgecolor(COLOURS[name])
    rng = np.random.default_rng(0)
    for i, (name, values) in enumerate(zip(names, data), start=1):
        x = i + rng.uniform(-0.09, 0.09, len(values))
        ax.scatter(x, values, color=COLOURS[name], edgecolor="white", linewidth=0.6, s=42, zorder=3)
    n = len(pw)
    ax.set_xticks([1, 2], [f"{WITHOUT}\n(n = {_days(n)})", f"{WITH}\n(n = {_days(n)})"])
    ax.set_ylabel("daily PAR = avg / max of hourly load\n(higher is better, 1.0 = flat)")
    ax.set_title("Daily PAR per scenario (cf. paper Fig. 5)")
    from matplotlib.lines import Line2D
    ax.legend(handles=[Line2D([], [], color="black", linewidth=1.8, label="median"),
                       Line2D([], [], marker="D", linestyle="", markerfacecolor="white",
                              markeredgecolor="black", label="mean"),
                       Line2D([], [], marker="o", linestyle="", color="grey", label="one day")],
              loc="best", fontsize=9, framealpha=0.9)
    _pad_ylim(ax, pw + pr)
    _style(ax)
    ax.grid(False, axis="x")
    _save(fig, path)


def _pad_ylim(ax, values: Sequence[float]) -> None:
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.05)
    ax.set_ylim(max(0.0, lo - 0.15 * span), min(1.05, hi + 0.15 * span))


def _plot_hourly(result: SimulationResult, scenario: ScenarioResult, other: ScenarioResult,
                 ymax: float, path: Path, figure_no: int) -> None:
    from matplotlib.ticker import StrMethodFormatter
    loads = scenario.hourly_load_wh / 1000.0                 # kWh
    mean = loads.mean(axis=0)
    other_mean = other.hourly_load_wh.mean(axis=0) / 1000.0
    fig = _figure(8.0, 4.6)
    ax = fig.add_subplot()
    hours = np.arange(HOURS)
    colour = COLOURS[scenario.name]
    ax.bar(hours, mean, width=0.8, align="edge", color=colour, alpha=0.85,
           label=f"{scenario.name}")
    ax.step(np.append(hours, HOURS), np.append(other_mean, other_mean[-1]), where="post",
            color=COLOURS[other.name], linewidth=1.6, linestyle="--", alpha=0.9,
            label=f"{other.name} (outline)")
    avg = float(mean.mean())
    ax.axhline(avg, color="black", linewidth=1.2, linestyle=":", label=f"average hour: {avg:,.1f} kWh")
    peak_h = int(mean.argmax())
    if mean.max() > 0:
        shape = f"PAR of this profile = {avg / float(mean.max()):.3f}"
        ax.annotate(f"peak {mean[peak_h]:,.1f} kWh\n{peak_h:02d}:00-{peak_h + 1:02d}:00",
                    xy=(peak_h + 0.4, mean[peak_h]), xytext=(0, 8), textcoords="offset points",
                    ha="center", va="bottom", fontsize=9, zorder=5,
                    bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="#bbbbbb", alpha=0.9))
    else:
        shape = "no purchases"
    ax.set_xlim(0, HOURS)
    ax.set_ylim(0, ymax)
    ax.set_xticks(range(0, HOURS + 1, 2), [f"{h:02d}:00" for h in range(0, HOURS + 1, 2)], fontsize=9)
    if ymax >= 10:                                            # thousands separators, no decimals
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("hour of day (UTC)")
    ax.set_ylabel("energy bought in the microgrid (kWh per hour)")
    days = scenario.days
    span = f"{_day_label(days[0])} - {_day_label(days[-1])}" if days else ""
    ax.set_title(f"Average hourly consumption, {scenario.name} (cf. paper Fig. {figure_no})\n"
                 f"mean over {_days(len(days))}, {span}; {shape}", fontsize=11)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i] != scenario.name, i))   # bars first
    fig.legend([handles[i] for i in order], [labels[i] for i in order],
               loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    _style(ax)
    ax.grid(False, axis="x")
    _save(fig, path)


def _plot_daily(result: SimulationResult, path: Path) -> None:
    pw, pr = daily_par(result.without), daily_par(result.with_)
    ceiling = _ceiling(result)
    n = len(pw)
    x = np.arange(1, n + 1)
    fig = _figure(8.5, 4.8)
    ax = fig.add_subplot()
    k = min(DAYS_WITHOUT_RECOMMENDATIONS, n)
    if k:
        ax.axvspan(0.5, k + 0.5, color="#eeeeee", zorder=0)
    # the without markers are larger so they stay visible where the scenarios coincide (days 1-2)
    ax.plot(x, pw, marker="o", markersize=9, color=COLOURS[WITHOUT], linewidth=2.4, label=WITHOUT)
    ax.plot(x, pr, marker="s", markersize=5.5, color=COLOURS[WITH], linewidth=1.8, label=WITH)
    cx = [i + 1 for i, c in enumerate(ceiling) if c is not None]
    cy = [c for c in ceiling if c is not None]
    if cy:
        ax.plot(cx, cy, linestyle="--", marker=".", markersize=7, color=CEILING_COLOUR, linewidth=1.4,
                label="optimal schedule's PAR (ceiling)")
    values = pw + pr + cy
    _pad_ylim(ax, values)
    if k:
        lo, hi = ax.get_ylim()
        ax.text((k + 1) / 2, hi - 0.02 * (hi - lo), "no recommendations yet\n(same in both scenarios)",
                ha="center", va="top", fontsize=8, color="#555555")
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xticks(x, [f"day {i}\n{_day_label(d, chr(10))}" for i, d in zip(x, result.with_.days)], fontsize=8)
    ax.set_ylabel("daily PAR = avg / max of hourly load\n(higher is better, 1.0 = flat)")
    ax.set_title("PAR measured each day (cf. paper Fig. 8)")
    fig.legend(loc="outside lower center", ncols=3, fontsize=9, frameon=False)
    _style(ax)
    _save(fig, path)


def write_plots(result: SimulationResult, folder: Path) -> dict[str, Path]:
    """The four figures, PNG at 150 dpi; returns their paths by key."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / v for k, v in PLOTS.items()}
    _plot_box(result, paths["box_par"])
    top = max(float(result.without.hourly_load_wh.mean(axis=0).max()),
              float(result.with_.hourly_load_wh.mean(axis=0).max())) / 1000.0
    ymax = top * 1.22 if top > 0 else 1.0                   # room for the peak label; same for Figs 6 and 7
    _plot_hourly(result, result.without, result.with_, ymax, paths["hourly_without"], 6)
    _plot_hourly(result, result.with_, result.without, ymax, paths["hourly_with"], 7)
    _plot_daily(result, paths["daily_par"])
    return paths


# --------------------------------------------------------------------------- files

def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _p(x) -> str:
    return "n/a" if x is None else f"{x:+.1f} %"


def _eur(x) -> str:
    return "n/a" if x is None else f"{x:,.2f} EUR"


def _pv(x) -> str:
    return "n/a" if x is None else f"{x:.4g}"


CSV_COLUMNS = ["day", "date", "recommendations", "par_without", "par_with", "change_pct", "optimal_par",
               "peak_to_average_without", "peak_to_average_with", "load_without_kwh", "load_with_kwh",
               "peak_without_kwh", "peak_with_kwh", "penalised_hours_with"]


def _write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row[k] is None else row[k]) for k in CSV_COLUMNS})


def _markdown(s: dict) -> str:
    h, st_, c = s["headline"], s["statistics"], s["costs"]
    n = st_["n_days"]
    w, r = c["without"], c["with"]
    price = c["flat_price_eur_per_kwh"]
    L = ["# Sawgrid simulation: with vs without recommendations", ""]
    L += [f"{s['participants']} participants, {n} days "
          f"({s['days'][0] if s['days'] else ''} to {s['days'][-1] if s['days'] else ''}). "
          "PAR is the paper's: avg/max of the microgrid's hourly purchases, higher is better, 1.0 = flat.", ""]
    L += ["## Headline", "",
          "| | Without | With | Change | Paper |", "|---|---:|---:|---:|---:|",
          f"| Mean daily PAR, all {n} days | {_f(h['par_without'])} | {_f(h['par_with'])} | "
          f"{_p(h['par_change_pct'])} | +15 % |",
          f"| Mean daily PAR, days 3-{n} (recommendations in force) | {_f(h['par_without_from_day3'])} | "
          f"{_f(h['par_with_from_day3'])} | {_p(h['par_change_pct_from_day3'])} | |",
          f"| Net cost at flat {price:.2f} EUR/kWh (paper's method) | {_eur(h['cost_without_eur'])} | "
          f"{_eur(h['cost_with_eur'])} | {_p(h['cost_change_pct'])} | -6.5 % |",
          f"| Net cost at market prices (penalties, fees) | {_eur(h['cost_without_market_eur'])} | "
          f"{_eur(h['cost_with_market_eur'])} | {_p(h['cost_change_pct_market'])} | |",
          f"| Optimal PAR ceiling (mean over {h['optimal_par_days']} day(s) where known) | | "
          f"{_f(h['optimal_par_ceiling'])} | | |",
          "", "Negative cost = net profit.", ""]
    L += ["## Interpretation", "", s["interpretation"], ""]
    L += ["## Statistical tests (cf. Table 1)", "",
          f"On the {n} paired daily PAR values, alpha = {st_['alpha']}.", "",
          "| Test | H0 | Statistic | p-value | Decision | Paper's p-value |", "|---|---|---:|---:|---|---:|"]
    paper_p = st_["paper_p_values"]
    for key, t in st_["tests"].items():
        decision = t["decision"] + (f" ({t['reason']})" if t["reason"] else "")
        L.append(f"| {t['test']} | {t['h0']} | {_pv(t['statistic'])} | {_pv(t['p_value'])} | {decision} | "
                 f"{_pv(paper_p.get(key)) if key in paper_p else ''} |")
    wx = st_["tests"]["wilcoxon"]
    if wx["applicable"]:
        L.append(f"| Wilcoxon signed-rank, normal approximation (the paper's p matches this) | | | "
                 f"{_pv(wx['p_value_normal_approx'])} | "
                 f"{'H0 rejected' if (wx['p_value_normal_approx'] or 1) < st_['alpha'] else 'H0 not rejected'}"
                 f" | {_pv(paper_p['wilcoxon'])} |")
    L += ["", f"Chosen test, as in the paper: **{st_['tests'][st_['chosen_test']]['test']}** "
          f"({st_['chosen_reason']}). Days improved / worse / equal with recommendations: "
          f"{st_['days_better']} / {st_['days_worse']} / {st_['days_equal']}. "
          f"Wilcoxon drops zero differences: {wx['nonzero_differences']} of {n} days ranked"
          + (f"; the smallest exact two-sided p-value possible is {wx['min_exact_p']:.4g}."
             if wx["min_exact_p"] is not None else "."), ""]
    L += ["## Costs (cf. Table 2)", "", f"At a flat {price:.2f} EUR/kWh (the paper's method):", "",
          "| Scenario | Bought kWh | Bought EUR | Sold kWh | Sold EUR | Net cost EUR |",
          "|---|---:|---:|---:|---:|---:|"]
    for name, x in ((WITHOUT, w), (WITH, r)):
        L.append(f"| {name} | {x['bought_kwh']:,.2f} | {x['flat_bought_eur']:,.2f} | {x['sold_kwh']:,.2f} | "
                 f"{x['flat_sold_eur']:,.2f} | {x['flat_net_cost_eur']:,.2f} |")
    ch = c["change_pct"]
    L.append(f"| change | {_p(ch['bought_kwh'])} | {_p(ch['flat_bought_eur'])} | {_p(ch['sold_kwh'])} | "
             f"{_p(ch['flat_sold_eur'])} | {_p(ch['flat_net_cost_eur'])} |")
    for name, key in ((f"paper: {WITHOUT}", "without"), (f"paper: {WITH}", "with")):
        x = PAPER["table2"][key]
        L.append(f"| {name} | {x['bought_kwh']:,.2f} | {x['bought_eur']:,.2f} | {x['sold_kwh']:,.2f} | "
                 f"{x['sold_eur']:,.2f} | {x['net_cost_eur']:,.2f} |")
    L += ["", "At the market's actual prices (what the chain settled):", "",
          "| Scenario | Paid EUR (incl. penalties, fees) | Received EUR | Net cost EUR | Penalty surcharges EUR "
          "| Avg price paid EUR/kWh | Contracts |",
          "|---|---:|---:|---:|---:|---:|---:|"]
    for name, x in ((WITHOUT, w), (WITH, r)):
        L.append(f"| {name} | {x['market_paid_eur']:,.2f} | {x['market_received_eur']:,.2f} | "
                 f"{x['market_net_cost_eur']:,.2f} | {x['market_surcharge_eur']:,.2f} | "
                 f"{_f(x['market_avg_price_paid_eur_per_kwh'], 4)} | {x['contracts']:,} |")
    L.append(f"| change | {_p(ch['market_paid_eur'])} | {_p(ch['market_received_eur'])} | "
             f"{_p(ch['market_net_cost_eur'])} | {_p(ch['market_surcharge_eur'])} | | |")
    L += ["", "## Daily PAR", "",
          "| Day | Date | Recommendations | PAR without | PAR with | Change | Optimal PAR | Penalised hours (with) |",
          "|---:|---|---|---:|---:|---:|---:|---:|"]
    for row in s["per_day"]:
        L.append(f"| {row['day']} | {row['date']} | {'yes' if row['recommendations'] else 'no'} | "
                 f"{_f(row['par_without'])} | {_f(row['par_with'])} | {_p(row['change_pct'])} | "
                 f"{_f(row['optimal_par'])} | {row['penalised_hours_with']} |")
    L += ["", "Also in `daily_par.csv`.", "", "## Figures", "",
          f"![Daily PAR per scenario (cf. Fig. 5)]({PLOTS['box_par']})", "",
          f"![Average hourly consumption without recommendations (cf. Fig. 6)]({PLOTS['hourly_without']})", "",
          f"![Average hourly consumption with recommendations (cf. Fig. 7)]({PLOTS['hourly_with']})", "",
          f"![Daily PAR of both scenarios (cf. Fig. 8)]({PLOTS['daily_par']})", ""]
    cfg = s["config"] or {}
    L += ["## Configuration", "", "| Setting | Value |", "|---|---|",
          f"| dataset | {s['dataset']} |", f"| participants | {s['participants']} |",
          f"| days | {n} |"]
    for key in ("seed", "mode"):
        L.append(f"| {key} | {cfg.get(key, 'n/a')} |")
    for key, value in cfg.items():
        if key in ("seed", "mode", "participants", "days", "dataset"):
            continue
        text = value if isinstance(value, (str, int, float, bool)) or value is None else json.dumps(value)
        L.append(f"| {key} | {str(text).replace('|', '/')} |")
    L.append(f"| runtime | {s['seconds']:.1f} s |" if s["seconds"] is not None else "| runtime | n/a |")
    L.append("")
    return "\n".join(L)


def write_report(result: SimulationResult, folder: Path) -> Path:
    """Write summary.md, summary.json, daily_par.csv and the four PNGs into
    `folder`; returns the path of summary.md."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = summary(result)
    write_plots(result, folder)
    (folder / "summary.json").write_text(json.dumps(s, indent=2, allow_nan=False) + "\n")
    _write_csv(s["per_day"], folder / "daily_par.csv")
    md = folder / "summary.md"
    md.write_text(_markdown(s))
    return md


def main(argv: Sequence[str] | None = None) -> int:
    """Redo a report from a saved run: ``python -m sawgrid.clients.simulation.report RESULTS [--out DIR]``."""
    ap = argparse.ArgumentParser(prog="python -m sawgrid.clients.simulation.report",
                                 description="Write the report of a saved simulation run (results.json + results.npz).")
    ap.add_argument("results", type=Path, help="folder holding results.json and results.npz")
    ap.add_argument("--out", type=Path, default=None, help="report folder (default: the results folder)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    result = SimulationResult.load(args.results)
    md = write_report(result, args.out or args.results)
    if args.json:
        print(json.dumps(summary(result), indent=2, allow_nan=False))
    else:
        print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
