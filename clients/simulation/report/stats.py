"""Table 1 and Table 2 of a `sawgrid simulate` report: daily PAR, significance tests, costs.

PAR is the paper's: avg/max of a day's 24 hourly purchases of the whole
microgrid (:func:`sawgrid.par_engine.metrics.par`), 1.0 = flat, higher is better.

Statistics follow the paper's chain (Section 6): Shapiro-Wilk on each
scenario's daily PAR, Levene for equal variances; the paired t-test if both
are normal with equal variances, else the Wilcoxon signed-rank test. The
paper's Wilcoxon p-value (0.0431) is exactly what scipy's *normal
approximation* gives for 5 non-zero differences all in the same direction
(7 days, the first 2 identical); the exact test gives 0.0625 for the same data.
Both are reported; the decision uses the exact test.

The Wilcoxon call is pinned rather than left to scipy's default
(``method="auto"``), which changed between versions exactly when some daily
differences are 0, as days 1-2 always are: scipy < 1.13 switched to the
normal approximation (0.0431 for the paper's week: significant), later
versions run a permutation test (0.0625: not). Here zero differences are
dropped first (Wilcoxon's own convention, ``zero_method="wilcox"``, the
paper's "5 of 7 days"), so no scipy version sees a zero, and the p-value is
``method="exact"``: the exact null distribution of the signed-rank statistic
over the remaining days, two-sided, no continuity correction. It is exact
when no two non-zero differences tie in size (daily PAR differences are
floats, so they practically never do); with ties scipy's exact distribution
is that of untied ranks.

Costs follow the paper's Table 2 (flat 0.25 EUR/kWh, cost = bought - sold,
negative = profit) and, next to it, the market's actual prices.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from scipy import stats as st

from sawgrid.par_engine import metrics
from sawgrid.clients.simulation.results import SimulationResult, ScenarioResult, WITH, WITHOUT
from sawgrid.processors.market.units import HOURS_PER_DAY, WH_PER_KWH

ALPHA = 0.05
UEUR_PER_EUR = 1_000_000                       # money on chain is in micro-euros
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

# --------------------------------------------------------------------------- helpers

def pct_change(new: float | None, old: float | None) -> float | None:
    """Change from `old` to `new` in % of |old| (None when old is 0 or unknown)."""
    if new is None or old is None or old == 0:
        return None
    return (new - old) / abs(old) * 100.0


def mean_or_none(values: Sequence[float]) -> float | None:
    """The mean of `values`, or None when there are none."""
    return float(np.mean(values)) if len(values) else None


def finite_or_none(x: float) -> float | None:
    """`x` as a float, or None when it is NaN or infinite (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _ueur_to_eur(ueur) -> float:
    return int(ueur) / UEUR_PER_EUR


def optimal_par_by_day(result: SimulationResult) -> list[float | None]:
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


def daily_peak_to_average(scenario: ScenarioResult) -> list[float]:
    """The usual PAR (max/avg, higher is peakier) of each day's hourly load of the microgrid."""
    return [float(metrics.peak_to_average([int(v) for v in day])) for day in scenario.hourly_load_wh]


# --------------------------------------------------------------------------- statistics

def _test(name: str, h0: str, n: int | dict) -> dict:
    return {"test": name, "h0": h0, "n": n, "applicable": False, "statistic": None,
            "p_value": None, "reject_h0": None, "decision": "not applicable", "reason": None}


def _not_applicable(entry: dict, reason: str) -> dict:
    entry.update(applicable=False, decision="not applicable", reason=reason)
    return entry


def _decide(entry: dict, statistic, p_value, yes: str, no: str) -> dict:
    statistic, p_value = finite_or_none(statistic), finite_or_none(p_value)
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
    """The signed-rank test of b - a, zero differences dropped, exact p (see the module docstring)."""
    e = _test("Wilcoxon signed-rank test", "the daily PAR differences are symmetric about 0", len(a))
    d = b - a
    ranked = d[d != 0]                  # dropped here, so no scipy version's zero handling applies
    nonzero = int(len(ranked))
    e.update(nonzero_differences=nonzero, p_value_normal_approx=None,
             min_exact_p=(min(1.0, 2.0 / 2 ** nonzero) if nonzero else None))
    if nonzero == 0:
        return _not_applicable(e, "identical samples: every daily difference is 0, and the test "
                                  "drops zero differences, leaving nothing to rank")
    pinned = dict(zero_method="wilcox", correction=False, alternative="two-sided")
    r = _quiet(st.wilcoxon, ranked, method="exact", **pinned)
    _decide(e, r.statistic, r.pvalue, "PAR differs between scenarios (H0 rejected)",
            "no significant difference (H0 not rejected)")
    approx = _quiet(st.wilcoxon, ranked, method="approx", **pinned)   # what the paper's p-value matches
    e["p_value_normal_approx"] = finite_or_none(approx.pvalue)
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
    flat_bought = bought_wh * price / WH_PER_KWH / UEUR_PER_EUR
    flat_sold = sold_wh * price / WH_PER_KWH / UEUR_PER_EUR
    return {
        "bought_kwh": bought_wh / WH_PER_KWH,
        "sold_kwh": sold_wh / WH_PER_KWH,
        "flat_bought_eur": flat_bought,
        "flat_sold_eur": flat_sold,
        "flat_net_cost_eur": flat_bought - flat_sold,
        "market_paid_eur": paid,
        "market_received_eur": received,
        "market_net_cost_eur": paid - received,
        "market_surcharge_eur": _ueur_to_eur(s.surcharge_ueur),
        "market_avg_price_paid_eur_per_kwh": (paid / (bought_wh / WH_PER_KWH)) if bought_wh else None,
        "market_avg_price_received_eur_per_kwh": (received / (sold_wh / WH_PER_KWH)) if sold_wh else None,
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
    change = {k: pct_change(r[k], w[k]) for k in keys}
    same_energy = _same_daily_energy(result)
    return {
        "flat_price_eur_per_kwh": flat_price_ueur_per_kwh / UEUR_PER_EUR,
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
        if not np.array_equal(a.reshape(a.shape[0], -1, HOURS_PER_DAY).sum(axis=2),
                              b.reshape(b.shape[0], -1, HOURS_PER_DAY).sum(axis=2)):
            return False
    return True

