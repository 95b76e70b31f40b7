"""The report's text: the summary dict, summary.md, summary.json and daily_par.csv.

:func:`write_report` writes, into one folder:

* ``summary.md``   -- headline, Table 1 (statistics), Table 2 (costs), per-day
                      PAR, the figures, an interpretation generated from the
                      numbers, and the run's configuration;
* ``summary.json`` -- :func:`summary` (what ``--json`` prints);
* ``daily_par.csv`` -- one row per day;
* the four figures of :mod:`.plots`.

:func:`main` redoes the report of a saved run
(``python -m sawgrid.clients.simulation.report RESULTS``).
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from sawgrid.clients.simulation.report import reputation as settlement_section
from sawgrid.clients.simulation.report.plots import PLOTS, hourly_days, hourly_days_span, write_plots
from sawgrid.clients.simulation.report.stats import (
    DAYS_WITHOUT_RECOMMENDATIONS, DEFAULT_FLAT_PRICE_UEUR_PER_KWH, PAPER, UEUR_PER_EUR, costs, daily_par,
    daily_peak_to_average, finite_or_none, mean_or_none, optimal_par_by_day, pct_change, statistics,
)
from sawgrid.clients.simulation.results import SimulationResult, WITH, WITHOUT
from sawgrid.processors.market.units import NO_PENALTY, WH_PER_KWH
from sawgrid.processors.reputation.payload import MAX_VOLUNTEERS

# --------------------------------------------------------------------------- summary

def _per_day(result: SimulationResult) -> list[dict]:
    pw, pr = daily_par(result.without), daily_par(result.with_)
    tw, tr = daily_peak_to_average(result.without), daily_peak_to_average(result.with_)
    lw, lr = result.without.hourly_load_wh, result.with_.hourly_load_wh
    ceiling = optimal_par_by_day(result)
    rows = []
    for d, label in enumerate(result.with_.days):
        pen = result.with_.penalties[d] if d < len(result.with_.penalties) else []
        rows.append({
            "day": d + 1,
            "date": str(label),
            "recommendations": d >= DAYS_WITHOUT_RECOMMENDATIONS,
            "par_without": pw[d],
            "par_with": pr[d],
            "change_pct": pct_change(pr[d], pw[d]),
            "optimal_par": ceiling[d],
            "peak_to_average_without": tw[d],
            "peak_to_average_with": tr[d],
            "load_without_kwh": int(lw[d].sum()) / WH_PER_KWH,
            "load_with_kwh": int(lr[d].sum()) / WH_PER_KWH,
            "peak_without_kwh": int(lw[d].max()) / WH_PER_KWH,
            "peak_with_kwh": int(lr[d].max()) / WH_PER_KWH,
            "penalised_hours_with": int(sum(1 for m in pen if m > NO_PENALTY)),
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
    w, r = cost["without"], cost["with"]
    parts.append(
        f"At the market's actual prices (P2P and grid prices, penalties, fees) the net cost went from "
        f"{_eur(w['market_net_cost_eur'])} to {_eur(r['market_net_cost_eur'])} "
        f"({_p(head['cost_change_pct_market'])}; the paper reports {PAPER['cost_change_pct']:+.1f} %), "
        f"with penalty surcharges of {_eur(w['market_surcharge_eur'])} and {_eur(r['market_surcharge_eur'])}.")
    if cost["same_daily_energy"]:
        parts.append(
            f"At a flat {cost['flat_price_eur_per_kwh']:.2f} EUR/kWh the net cost is the same in both "
            f"scenarios ({_p(head['cost_change_pct'])}) by construction: every participant buys and sells "
            f"the same energy each day in both (the paper's own requirement), so only the market prices "
            f"can change the cost (the paper's Table 2 nevertheless lists different bought and sold "
            f"totals for its two scenarios).")
    else:
        parts.append(f"At a flat {cost['flat_price_eur_per_kwh']:.2f} EUR/kWh the net cost changed by "
                     f"{_p(head['cost_change_pct'])}, because the scenarios bought or sold different "
                     f"daily energy.")
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


# --------------------------------------------------------------------------- configuration

#: what older runs' results.json called the settings whose unit is now in the name
LEGACY_CONFIG_KEYS = {
    "grid_buy": "grid_buy_ueur_per_kwh", "grid_sell": "grid_sell_ueur_per_kwh",
    "flat_price": "flat_price_ueur_per_kwh", "participant_funds": "participant_funds_ueur",
    "operator_funds": "operator_funds_ueur", "first_recommended_day": "first_recommended_day_index",
}


def config_with_units(config: dict | None) -> dict:
    """A run's configuration with unit-suffixed keys (money stays in µEUR, as on chain),
    whether it comes from this version's runner or from an older saved run."""
    return {LEGACY_CONFIG_KEYS.get(k, k): v for k, v in (config or {}).items()}


def _decimal(x: float, digits: int) -> str:
    """At least `digits` decimals, more only when needed (0.10, 0.123456)."""
    text = f"{x:,.6f}".rstrip("0")
    return text if len(text.split(".")[1]) >= digits else f"{x:,.{digits}f}"


def _ueur_per_kwh(v) -> str:
    return f"{_decimal(int(v) / UEUR_PER_EUR, 2)} EUR/kWh"


def _ueur(v) -> str:
    return f"{_decimal(int(v) / UEUR_PER_EUR, 2)} EUR"


def _share(v) -> str:
    return f"{float(v) * 100:g} %"


#: the configuration table of summary.md: key -> (setting, value in the user's unit, what it is)
CONFIG_ROWS = {
    "seed": ("seed", str, "of the synthetic data and of every key"),
    "mode": ("mode", str, "the ledger the run traded on"),
    "grid_buy_ueur_per_kwh": ("grid_buy", _ueur_per_kwh,
                              "the system operator pays for surplus; every offer asks this"),
    "grid_sell_ueur_per_kwh": ("grid_sell", _ueur_per_kwh,
                               "the system operator charges; every order accepts up to this"),
    "flat_price_ueur_per_kwh": ("flat_price", _ueur_per_kwh, "of the flat-price cost table (the paper's)"),
    "algorithm": ("algorithm", str, "the PAR engine's"),
    "flexibility": ("flexibility", _share, "of each hour's purchase a recommendation may move"),
    "threshold": ("threshold", lambda v: f"PAR {v}", "daily PAR (avg/max) at or above which no penalties"),
    "spread_limit_wh": ("spread_limit", lambda v: f"{int(v):,} Wh per hour",
                        "the most a follower spreads over fewer than 6 recommended hours"),
    "first_recommended_day_index": ("first_recommended_day", lambda v: f"day {int(v) + 1}",
                                    "the days before have no recommendations or penalties"),
    "participant_funds_ueur": ("participant_funds", _ueur, "each participant's, never the constraint"),
    "operator_funds_ueur": ("operator_funds", _ueur, "the system operator's, to buy all surplus"),
    "malicious_sellers": ("malicious_sellers", str, "sell but never deliver (meters read 0 Wh)"),
    "malicious_buyers": ("malicious_buyers", str, "buy on credit whenever allowed, never pay"),
    "settlement": ("settlement", lambda v: "yes" if v else "no (a network's clock cannot be replayed)",
                   "readings, attestations and expire after each hour and day"),
    "baseline": ("baseline", lambda v: "yes" if v else "no",
                 "with malicious participants, a second run with eligibility disabled to compare with"),
    "enrollment": ("enrollment", lambda v: "protocol" if v else "operator approval (a network's clock cannot be "
                   "replayed)", "how the participants joined: the first verifiers enroll the others"),
    "validator_pool": ("validator_pool", lambda v: f"{int(v):,} volunteers",
                       f"the clusters are drawn from: every participant, up to the pool's cap of {MAX_VOLUNTEERS:,}"),
}


def config_rows(s: dict) -> list[tuple[str, str, str]]:
    """(setting, value with its unit, meaning) for each line of the configuration table."""
    cfg = s["config"] or {}
    n = len(s["days"])
    span = f" ({s['days'][0]} to {s['days'][-1]})" if s["days"] else ""
    rows = [("dataset", str(s["dataset"]), ""), ("participants", f"{s['participants']:,}", ""),
            ("days", f"{n}{span}", "simulated in each scenario")]
    for key, (name, fmt, meaning) in CONFIG_ROWS.items():
        if key in cfg:
            value = cfg[key]
            rows.append((name, "n/a" if value is None else fmt(value), meaning))
        elif key in ("seed", "mode"):
            rows.append((name, "n/a", meaning))
    for key, value in cfg.items():                   # anything else, as recorded
        if key in CONFIG_ROWS or key in ("participants", "days", "dataset"):
            continue
        text = value if isinstance(value, (str, int, float, bool)) or value is None else json.dumps(value)
        rows.append((key, str(text), ""))
    rows.append(("runtime", f"{s['seconds']:.1f} s" if s["seconds"] is not None else "n/a",
                 "both scenarios, set-up and read-back"))
    return rows


def summary(result: SimulationResult) -> dict:
    """Everything the report shows, JSON-serialisable (the ``--json`` output)."""
    pw, pr = daily_par(result.without), daily_par(result.with_)
    stats = statistics(result)
    config = config_with_units(result.config)
    cost = costs(result, int(config.get("flat_price_ueur_per_kwh", DEFAULT_FLAT_PRICE_UEUR_PER_KWH)))
    ceiling_by_day = optimal_par_by_day(result)
    ceiling = [c for c in ceiling_by_day if c is not None]
    with_on_ceiling = [pr[d] for d, c in enumerate(ceiling_by_day) if c is not None]
    k = DAYS_WITHOUT_RECOMMENDATIONS
    late_w, late_r = mean_or_none(pw[k:]), mean_or_none(pr[k:])
    head = {
        "par_without": mean_or_none(pw),
        "par_with": mean_or_none(pr),
        "par_change_pct": pct_change(mean_or_none(pr), mean_or_none(pw)),
        "par_without_from_day3": late_w,
        "par_with_from_day3": late_r,
        "par_change_pct_from_day3": pct_change(late_r, late_w),
        "paper_par_change_pct": PAPER["par_change_pct"],
        "cost_without_eur": cost["without"]["flat_net_cost_eur"],
        "cost_with_eur": cost["with"]["flat_net_cost_eur"],
        "cost_change_pct": cost["change_pct"]["flat_net_cost_eur"],
        "cost_without_market_eur": cost["without"]["market_net_cost_eur"],
        "cost_with_market_eur": cost["with"]["market_net_cost_eur"],
        "cost_change_pct_market": cost["change_pct"]["market_net_cost_eur"],
        "paper_cost_change_pct": PAPER["cost_change_pct"],
        "optimal_par_ceiling": mean_or_none(ceiling),
        "optimal_par_days": len(ceiling),
        "par_with_on_ceiling_days": mean_or_none(with_on_ceiling),
        "significant": stats["significant"],
        "test": stats["chosen_test"],
        "p_value": stats["tests"][stats["chosen_test"]]["p_value"],
    }
    out = {
        "headline": head,
        "config": config,
        "dataset": result.dataset,
        "participants": len(result.participants),
        "days": [str(d) for d in result.with_.days],
        "seconds": result.seconds,
        "per_day": _per_day(result),
        "statistics": stats,
        "costs": cost,
        "plots": dict(PLOTS),
        "interpretation": _interpretation(head, stats, cost),
        "reputation": settlement_section.reputation_summary(result),
        "archive": result.archive,
        "enrollment": result.enrollment,
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
        return finite_or_none(x)
    if isinstance(x, (str, type(None))):
        return x
    return str(x)


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
          f"| Net cost at market prices (P2P and grid prices, penalties, fees) | "
          f"{_eur(h['cost_without_market_eur'])} | {_eur(h['cost_with_market_eur'])} | "
          f"{_p(h['cost_change_pct_market'])} | {PAPER['cost_change_pct']:+.1f} % |",
          f"| Net cost at a flat {price:.2f} EUR/kWh"
          + (" (cannot change: same daily energy in both)" if c["same_daily_energy"] else "")
          + f" | {_eur(h['cost_without_eur'])} | {_eur(h['cost_with_eur'])} | {_p(h['cost_change_pct'])} | |",
          f"| Optimal PAR ceiling (mean over {h['optimal_par_days']} day(s) where known) | | "
          f"{_f(h['optimal_par_ceiling'])} | | |",
          "", "Negative cost = net profit. The paper's -6.5 % is set beside the market-price cost"
          + (", the one that can change: at a flat price the cost follows the energy bought and sold, "
             "which is the same each day in both scenarios." if c["same_daily_energy"] else "."), ""]
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
    L.append(f"| paper: change | | | {PAPER['cost_change_pct']:+.1f} % | | | |")
    L += ["", "## Daily PAR", "",
          "| Day | Date | Recommendations | PAR without | PAR with | Change | Optimal PAR | Penalised hours (with) |",
          "|---:|---|---|---:|---:|---:|---:|---:|"]
    for row in s["per_day"]:
        L.append(f"| {row['day']} | {row['date']} | {'yes' if row['recommendations'] else 'no'} | "
                 f"{_f(row['par_without'])} | {_f(row['par_with'])} | {_p(row['change_pct'])} | "
                 f"{_f(row['optimal_par'])} | {row['penalised_hours_with']} |")
    shown = hourly_days_span(n)
    k = min(DAYS_WITHOUT_RECOMMENDATIONS, n)
    if hourly_days(n).start > 0:
        about = (f"The box plot shows all {n} days, as the paper's Fig. 5 does; its hollow points are days "
                 f"1-{k}, before any recommendation, the same in both scenarios. The hourly profiles "
                 f"(energy bought per hour of the day) average {shown} in both scenarios, leaving out days "
                 f"1-{k}, so that they compare the scenarios where they differ; the paper's Figs. 6-7 "
                 f"average its whole week.")
    else:
        about = (f"No day of this run had recommendations: every figure shows all {n} day(s), the same "
                 f"in both scenarios.")
    L += ["", "Also in `daily_par.csv`.", "", "## Figures", "", about, "",
          f"![Daily PAR per scenario, all {n} days (cf. Fig. 5)]({PLOTS['box_par']})", "",
          f"![Energy bought per hour without recommendations, {shown} (cf. Fig. 6)]({PLOTS['hourly_without']})",
          "",
          f"![Energy bought per hour with recommendations, {shown} (cf. Fig. 7)]({PLOTS['hourly_with']})", "",
          f"![Daily PAR of both scenarios (cf. Fig. 8)]({PLOTS['daily_par']})", ""]
    if s.get("reputation"):
        L += settlement_section.markdown(s["reputation"])
    if s.get("archive"):
        L += _archive_markdown(s["archive"])
    if s.get("enrollment"):
        L += _enrollment_markdown(s["enrollment"])
    L += ["## Configuration", "", "| Setting | Value | |", "|---|---|---|"]
    L += [f"| {name} | {value.replace('|', '/')} | {meaning} |" for name, value, meaning in config_rows(s)]
    L.append("")
    return "\n".join(L)


def _enrollment_markdown(e: dict) -> list[str]:
    """The enrollment section: how the participants joined, in blocks and slots."""
    chain_time = f"{e['chain_seconds']} s" if e["chain_seconds"] < 120 else f"{e['chain_seconds'] / 60:.1f} min"
    return ["## Enrollment", "",
            f"Every participant joined through the enrollment protocol (sawgrid-enrollment), not by operator "
            f"approval. The operator's CA certified the first verifiers ({', '.join(e['first_verifiers'])}); "
            f"the {e['enrolled']} other identities sent join requests (a CSR and a commitment to the meter's "
            f"evidence, sealed for the verifier set) and were approved by verification blocks: in each "
            f"{e['slot_seconds']} s slot eq. 1's leader proposed one, the others countersigned, and a quorum "
            f"of the set of {e['set_size']} made it final.", "",
            "| Meters enrolled | Verification blocks (final) | Slots | Verifier sets | Ledger blocks | "
            "Chain time | Wall time |", "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {e['enrolled']} | {e['verification_blocks']} ({e['final_blocks']}) | {e['slots']} | "
            f"{e['verifier_sets']} | {e['ledger_blocks']} | {chain_time} | {e['wall_seconds']:.1f} s |", "",
            "Ledger blocks counts every block from the first join request to the last decision (BlockInfo "
            "numbers): one per request, proposal and countersignature. Only the first verifiers volunteer, "
            "so both modes draw the same sets (clients/simulation/enrollment.py says why).", ""]


def _archive_markdown(a: dict) -> list[str]:
    """The archive section: one row per simulated day and its record on chain."""
    days = a["days"]
    L = ["## Archive", "",
         f"The PAR engine's nightly run archives every finished day (sawgrid-archive: one immutable record per "
         f"day, linked into a hash chain) once the operator has expired what the day left; the run archives "
         f"its last day after the last expiry. {a['archived']} of {len(days)} day(s) archived, {a['verified']} "
         f"verified: `archive.verify_day` recomputes each record from the chain's records as of the block that "
         f"archived it (`sawgrid archive verify`). The record's digest covers the previous day's digest and the "
         f"archive transaction's id, so it differs from run to run; the contracts digest is the same for the "
         f"same contracts.", ""]
    if a.get("head"):
        L += [f"Newest archived day {a['head']['day']}, digest `{a['head']['digest'][:16]}…`, "
              f"{a['head']['days']} day(s) in the chain.", ""]
    L += ["| Run | Scenario | Day | Chain day | Contracts | Contracts digest | Record digest | Verified |",
          "|---|---|---:|---|---:|---|---|---|"]
    for e in days:
        verified = "yes" if e["verified"] else f"no: {e['reason']}".replace("|", "/")
        L.append(f"| {e['run']} | {e['scenario']} | {e['day']} | {e['chain_day']} | "
                 f"{'' if e['contracts'] is None else e['contracts']} | "
                 f"{'`' + e['contracts_digest'][:16] + '…`' if e['contracts_digest'] else ''} | "
                 f"{'`' + e['digest'][:16] + '…`' if e['digest'] else ''} | {verified} |")
    L.append("")
    return L


def write_report(result: SimulationResult, folder: Path) -> Path:
    """Write summary.md, summary.json, daily_par.csv and the four PNGs into
    `folder`; returns the path of summary.md."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    s = summary(result)
    write_plots(result, folder)
    settlement_section.write_plots(result, folder)
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
