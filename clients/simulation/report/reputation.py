"""The report's settlement section: how contracts ended, the malicious
participants, their Q-scores, and what reputation kept from being lost.

Input is `SimulationResult.reputation` (runner.collect_reputation: tallies per
run and scenario, computed from the contracts on chain by
clients/simulation/settlement.py) and `SimulationResult.trajectories` (every
participant's Q-score after each simulated hour, as read from chain).

**"Without reputation"**, the comparison the section makes, is defined as:

1. *paid at match, same contracts*: the contracts of this run, with their
   money moved when they matched (no escrow, nothing released against the
   meters): every buyer pays the contract's total whatever is delivered, and
   a buyer on credit was to pay later and never does. What this loses minus
   what the chain's settlement lost is what the escrow kept (money only: it
   moves no energy);
2. *the baseline run* (with malicious participants, unless --no-baseline):
   the same experiment (data, behaviour, honest keys) run again on later
   chain days with eligibility disabled (min_score 0, credit_score 0), so
   nobody is ever refused or loses credit, its contracts counted as paid at
   match. It adds what excluding the attackers kept: the energy they would
   have sold and not delivered, and the trades they would have defaulted on.

"Kept" is (1)'s or (2)'s loss minus the loss as settled here. Losses are
those of honest buyers, honest sellers and the system operator; a
defaulter's unpaid debt, left on its credit line to be recovered off-chain,
is shown beside them, not subtracted.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sawgrid.clients.sdk import reputation as sdk
from sawgrid.clients.simulation.results import SimulationResult, WITH, WITHOUT
from sawgrid.processors.market.units import HOURS_PER_DAY, WH_PER_KWH

PLOTS = {"qscore": "qscore.png"}
REPUTATION_RUN = "with reputation"
BASELINE_RUN = "baseline (eligibility disabled)"
UEUR = 1_000_000
PPM = 1_000_000
ROLE_COLOURS = {"malicious seller": "#D55E00", "malicious buyer": "#CC79A7"}
HONEST_COLOUR = "#0072B2"
LINE_STYLES = ["-", "--", ":", "-."]


def _eur(ueur) -> float:
    return int(ueur) / UEUR


def _kwh(wh) -> float:
    return int(wh) / WH_PER_KWH


def _comparison(r: dict, b: dict | None) -> dict:
    settled = r["losses_settled"]["total_ueur"]
    at_match = r["losses_pay_at_match"]["total_ueur"]
    out = {
        "lost_as_settled_eur": _eur(settled),
        "lost_paid_at_match_same_contracts_eur": _eur(at_match),
        "kept_by_escrow_eur": _eur(at_match - settled),
        "debt_left_eur": _eur(r["losses_settled"]["debt_ueur"]),
        "undelivered_kwh": _kwh(r["undelivered"]["total_wh"]),
        "undelivered_to_honest_buyers_kwh": _kwh(r["undelivered"]["to_honest_buyers_wh"]),
        "baseline_lost_eur": None, "kept_vs_baseline_eur": None, "baseline_undelivered_kwh": None,
        "energy_kept_kwh": None,
    }
    if b is not None:
        lost = b["losses_pay_at_match"]["total_ueur"]
        out.update(baseline_lost_eur=_eur(lost), kept_vs_baseline_eur=_eur(lost - settled),
                   baseline_undelivered_kwh=_kwh(b["undelivered"]["total_wh"]),
                   energy_kept_kwh=_kwh(b["undelivered"]["total_wh"] - r["undelivered"]["total_wh"]))
    return out


def reputation_summary(result: SimulationResult) -> dict | None:
    """The section's numbers, JSON-serialisable; None for a run without settlement."""
    rep = result.reputation
    if not rep:
        return None
    runs = rep["runs"]
    main = runs[REPUTATION_RUN]
    base = runs.get(BASELINE_RUN)
    scenarios = {}
    for name in (WITHOUT, WITH):
        r = main["scenarios"][name]
        b = base["scenarios"][name] if base else None
        scenarios[name] = {
            "outcomes": r["outcomes"], "declined": r["declined"],
            "comparison": _comparison(r, b),
            "malicious": r["malicious"],
            "baseline_malicious": b["malicious"] if b else None,
            "baseline_outcomes": b["outcomes"] if b else None,
        }
    malicious = bool(rep["malicious_sellers"] or rep["malicious_buyers"])
    declined = sum(scenarios[n]["outcomes"]["declined"] for n in scenarios)
    attack = None
    if malicious:
        key = "kept_vs_baseline_eur" if base else "kept_by_escrow_eur"
        attack = {
            "declined": declined, "baseline": base is not None,
            "money_kept_eur": sum(scenarios[n]["comparison"][key] for n in scenarios),
            "money_kept_by_escrow_eur": sum(scenarios[n]["comparison"]["kept_by_escrow_eur"] for n in scenarios),
            "energy_kept_kwh": sum(scenarios[n]["comparison"]["energy_kept_kwh"] or 0.0 for n in scenarios),
        }
    return {
        "malicious_sellers": rep["malicious_sellers"], "malicious_buyers": rep["malicious_buyers"],
        "settings": main["settings"], "baseline_settings": base["settings"] if base else None,
        "scenarios": scenarios, "attack": attack, "trajectories": _trajectory_summary(result),
        "plots": dict(PLOTS) if result.trajectories else {},
    }


def _trajectory_summary(result: SimulationResult) -> dict:
    roles = (result.reputation or {}).get("roles") or []
    runs = (result.reputation or {}).get("runs") or {}
    min_score = runs.get(REPUTATION_RUN, {}).get("settings", {}).get("min_score_ppm", 0)
    out = {}
    for key, name in (("0-0", WITHOUT), ("0-1", WITH)):
        scores = result.trajectories.get(key)
        if scores is None or not len(roles):
            continue
        final = np.asarray(scores)[:, -1]
        honest = [int(final[i]) for i, role in enumerate(roles) if role == "honest"]
        lowest = [int(np.asarray(scores)[i].min()) for i, role in enumerate(roles) if role == "honest"]
        out[name] = {
            "honest_final_median_ppm": int(np.median(honest)) if honest else None,
            "honest_final_min_ppm": min(honest) if honest else None,
            "honest_lowest_ppm": min(lowest) if lowest else None,
            "honest_below_min_score": sum(1 for x in lowest if x < min_score),
        }
    return out


# --------------------------------------------------------------------------- figure

def qscore_figure(result: SimulationResult):
    """Q-score after each simulated hour: honest participants as a median and a
    10-90 % band (and their minimum), each malicious participant as a line
    ending where it was excluded; the min_score and credit_score lines."""
    from sawgrid.clients.simulation.report.plots import _figure, _style

    rep = result.reputation
    roles = rep["roles"]
    settings = rep["runs"][REPUTATION_RUN]["settings"]
    names = result.participants
    keys = [k for k in ("0-0", "0-1") if k in result.trajectories]
    fig = _figure(8.0, 3.2 * max(1, len(keys)))
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        scenario = WITHOUT if key.endswith("-0") else WITH
        scores = np.asarray(result.trajectories[key], dtype=float) / PPM
        hours = np.arange(1, scores.shape[1] + 1)
        honest = [i for i, role in enumerate(roles) if role == "honest"]
        if honest:
            h = scores[honest]
            ax.fill_between(hours, np.percentile(h, 10, axis=0), np.percentile(h, 90, axis=0),
                            color=HONEST_COLOUR, alpha=0.18, linewidth=0, label="honest: 10-90 %")
            ax.plot(hours, np.median(h, axis=0), color=HONEST_COLOUR, linewidth=1.6, label="honest: median")
            ax.plot(hours, h.min(axis=0), color=HONEST_COLOUR, linewidth=0.8, linestyle=":", label="honest: lowest")
        seen: dict[str, int] = {}
        for i, role in enumerate(roles):
            if role == "honest":
                continue
            style = LINE_STYLES[seen.get(role, 0) % len(LINE_STYLES)]   # tell participants of one role apart
            seen[role] = seen.get(role, 0) + 1
            ax.plot(hours, scores[i], color=ROLE_COLOURS.get(role, "#555555"), linewidth=1.3, linestyle=style,
                    label=f"{names[i]} ({role})")
        ax.axhline(settings["min_score_ppm"] / PPM, color="#333333", linestyle="--", linewidth=0.9,
                   label=f"min_score {sdk.format_score(settings['min_score_ppm'])}")
        if settings["credit_score_ppm"] != settings["min_score_ppm"]:
            ax.axhline(settings["credit_score_ppm"] / PPM, color="#777777", linestyle="-.", linewidth=0.9,
                       label=f"credit_score {sdk.format_score(settings['credit_score_ppm'])}")
        ax.set_yscale("log")
        ax.set_xlim(0.5, scores.shape[1] + 0.5)
        days = scores.shape[1] // HOURS_PER_DAY
        ax.set_xticks([d * HOURS_PER_DAY + 1 for d in range(days)], [f"day {d + 1}" for d in range(days)])
        ax.set_ylabel("Q-score (log)")
        ax.set_title(f"Q-scores after each hour, {scenario}", fontsize=10)
        _style(ax)
        ax.legend(fontsize=7, loc="best", ncol=2)
    return fig


def write_plots(result: SimulationResult, folder: Path) -> dict[str, Path]:
    if not result.reputation or not result.trajectories:
        return {}
    from sawgrid.clients.simulation.report.plots import _save

    path = Path(folder) / PLOTS["qscore"]
    _save(qscore_figure(result), path)
    return {"qscore": path}


# --------------------------------------------------------------------------- markdown

def _f(x, digits=2) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _when(w: dict | None) -> str:
    return "never" if w is None else f"day {w['day']} ({w['date']}) {w['hour']:02d}:00"


SETTING_ROWS = [(s.name, s) for s in sdk.SETTINGS]


def _settings_value(doc: dict, spec: sdk.SettingSpec) -> str:
    unit = {"score": "_ppm", "factor": "_ppm", "eur": "_ueur", "seconds": "_s", "permille": "_permille"}.get(spec.kind, "")
    return sdk.setting_text(spec, doc[spec.name + unit])


def markdown(s: dict) -> list[str]:
    """The section's lines (summary.md)."""
    L = ["## Settlement and reputation", ""]
    L += ["Every contract was settled in the reputation family's three stages (processors/reputation/README.md): "
          "after each hour the chain's clock moved to the hour's end, every party's meter submitted its reading "
          "(one transaction per meter), then every member of each contract's validation cluster attested what "
          "the readings on chain say (delivered = the lesser of the two parties' allocations; paid = nothing "
          "owed on credit). After each day the system operator expired what the day before left (its deadline "
          "had passed) and refreshed the validator pool, which every participant joined at setup.", ""]
    if s["malicious_sellers"] or s["malicious_buyers"]:
        L += [f"Malicious sellers (the participants with the most surplus; they sell but their meters read 0 Wh): "
              f"{', '.join(s['malicious_sellers']) or 'none'}. Malicious buyers (the largest shortfall among the "
              f"others; they buy on credit whenever the chain lets them and never pay): "
              f"{', '.join(s['malicious_buyers']) or 'none'}. Both read their imports and attest honestly. Each "
              f"scenario (and the baseline run) gives them a fresh key, so each starts with their reputation "
              f"unspoiled.", ""]
    L += ["Settings (configured by the operator at setup; the defaults but **credit_score lowered to the initial "
          "score**, so that a newcomer may buy on credit at all: with the default 1.2 a buyer needs about four "
          "settled trades first, which one that only defaults never has)"
          + (", and the baseline run's, with eligibility disabled:" if s["baseline_settings"] else ":"), ""]
    header = "| Setting | This run |" + (" Baseline |" if s["baseline_settings"] else "")
    L += [header, "|---|---|" + ("---|" if s["baseline_settings"] else "")]
    for name, spec in SETTING_ROWS:
        row = f"| {name} | {_settings_value(s['settings'], spec)} |"
        if s["baseline_settings"]:
            row += f" {_settings_value(s['baseline_settings'], spec)} |"
        L.append(row)
    L += ["", "### How the contracts ended", "",
          "| Scenario | Settled | Declined | Still open | Declined by stage and cause |", "|---|---:|---:|---:|---|"]
    for name, sc in s["scenarios"].items():
        o = sc["outcomes"]
        causes = "; ".join(f"{d['contracts']} at {d['stage']}: {d['cause'].replace('_', ' ')} "
                           f"({_f(_kwh(d['energy_wh']), 3)} kWh contracted, {_f(_kwh(d['delivered_wh']), 3)} delivered)"
                           for d in sc["declined"]) or "none"
        L.append(f"| {name} | {o['settled']:,} | {o['declined']:,} | {o['open']:,} | {causes} |")
    L += ["", "A contract declines at EXECUTION when the cluster's quorum finds the seller delivered short "
          "(condition 1, seller shortfall) or the buyer's money not in escrow (condition 2, buyer default); at "
          "FINAL when the release would not match the buyer's meter (conditions 3/4).", ""]
    if s["malicious_sellers"] or s["malicious_buyers"]:
        L += ["### The malicious participants", "",
              "| Scenario | Participant | Role | Trades | Faults | Refused from | Trades before | Credit ended "
              "| Final Q-score | Baseline trades |",
              "|---|---|---|---:|---:|---|---:|---|---:|---:|"]
        for name, sc in s["scenarios"].items():
            base = {m["index"]: m for m in (sc["baseline_malicious"] or [])}
            for m in sc["malicious"]:
                excluded = m["excluded"]
                refused = _when(excluded) + (f": {sdk.explain(excluded['reason'])}" if excluded else "")
                ended = m["credit_ended"]
                credit = "n/a" if m["role"] != "malicious buyer" else (
                    _when(ended) + (f" ({ended['reason']})" if ended else "")
                    if ended else ("with its exclusion" if excluded else "never"))
                b = base.get(m["index"])
                L.append(f"| {name} | {m['name']} | {m['role']} | {m['trades']:,} | {m['faults']:,} | "
                         f"{refused.replace('|', '/')} | {m['trades_before_excluded'] if excluded else 'n/a'} | "
                         f"{credit} | {sdk.format_score(m['final_score_ppm']) if m['final_score_ppm'] is not None else 'n/a'} | "
                         f"{b['trades'] if b else 'n/a'} |")
        back = sorted({m["name"] for sc in s["scenarios"].values() for m in sc["malicious"]
                       if m["excluded"] and m["trades"] > (m["trades_before_excluded"] or 0)})
        L += ["", "*Trades* are the contracts it was a party to; *refused from* is the first hour the market "
              "would not take its order (its Q-score below min_score with a fault on record), *trades before* "
              "how many contracts it had concluded by then. Contracts of one order in one hour settle together, "
              "so several faults may land at once. A buyer's grid contracts have no cluster and, bought on "
              "credit, settle only when it pays or at the operator's expire after the deadline (24 h): until "
              "then its default is not on record."
              + ("" if not back else
                 f" Refused does not mean gone: {', '.join(back)} traded again later, having climbed back above "
                 f"min_score as a cluster member (every seat it validates with the quorum on a settled contract "
                 f"multiplies its score by x_success, the leader's by x_success^3), and faulted again."), ""]
    L += ["### What reputation kept from being lost", "",
          "| Scenario | Lost, as settled | Lost if paid at match (same contracts) | Kept by escrow "
          "| Lost without reputation (baseline) | Kept vs baseline | Debt left on credit lines "
          "| Energy not delivered | Baseline | Energy kept |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, sc in s["scenarios"].items():
        c = sc["comparison"]
        L.append(f"| {name} | {_f(c['lost_as_settled_eur'])} EUR | {_f(c['lost_paid_at_match_same_contracts_eur'])} EUR "
                 f"| {_f(c['kept_by_escrow_eur'])} EUR | "
                 + (f"{_f(c['baseline_lost_eur'])} EUR" if c["baseline_lost_eur"] is not None else "n/a")
                 + f" | " + (f"{_f(c['kept_vs_baseline_eur'])} EUR" if c["kept_vs_baseline_eur"] is not None else "n/a")
                 + f" | {_f(c['debt_left_eur'])} EUR | {_f(c['undelivered_kwh'], 3)} kWh | "
                 + (f"{_f(c['baseline_undelivered_kwh'], 3)} kWh" if c["baseline_undelivered_kwh"] is not None else "n/a")
                 + " | " + (f"{_f(c['energy_kept_kwh'], 3)} kWh" if c["energy_kept_kwh"] is not None else "n/a") + " |")
    L += ["", "**\"Without reputation\" is defined two ways.** (1) *Paid at match, same contracts*: this run's "
          "contracts with their money moved when they matched, as a market without settlement would: a buyer "
          "pays the total whatever is delivered; a buyer on credit was to pay later and never does, so its "
          "seller loses the base and the operator its surcharge and fee. Kept by escrow = that loss minus the "
          "loss as settled; it is money only, escrow moves no energy. (2) *The baseline run*: the same "
          "experiment (data, behaviour, honest keys) run again on later chain days with eligibility disabled "
          "(min_score 0, credit_score 0: nobody is refused or loses credit; only the credit line bounds a "
          "defaulter), its contracts counted as paid at match. It also shows what excluding the attackers kept: "
          "the energy they would have sold and not delivered, and the credit they would have defaulted on. "
          "Losses are those of honest buyers, honest sellers and the system operator, who pays a defaulting "
          "buyer's seller the delivered energy at the grid buy price (its guarantee); the defaulter's unpaid "
          "debt stays on its credit line, to be recovered off-chain, and is shown apart.", ""]
    t = s["trajectories"]
    if s["plots"]:
        parts = []
        for name, x in t.items():
            parts.append(f"{name}: median {sdk.format_score(x['honest_final_median_ppm'])}, lowest at the end "
                         f"{sdk.format_score(x['honest_final_min_ppm'])}, lowest at any hour "
                         f"{sdk.format_score(x['honest_lowest_ppm'])}" if x["honest_final_median_ppm"] is not None else name)
        below = {name: x["honest_below_min_score"] for name, x in t.items() if x.get("honest_below_min_score")}
        L += ["### Q-scores", "",
              "Honest participants' final Q-scores (" + "; ".join(parts) + "). They keep their keys from one "
              "scenario to the next, so their scores carry over (the second panel starts where the first "
              "ended); the malicious participants start afresh. Honest members of a declined contract's "
              "cluster take its x_failure too (eq. 2: every validator of a failed transaction is multiplied by "
              "|x|, the leader by |x|^3), which is why the lowest honest score dips when attackers trade"
              + ("." if not below else
                 ": " + ", ".join(f"{n} honest participant(s) fell below min_score at some hour in the scenario "
                                  f"{name}" for name, n in below.items())
                 + "; with no fault on record they are never refused, but the snapshot gives them no cluster "
                   "seat until they recover."), "",
              f"![Q-scores of honest and malicious participants after each hour]({s['plots']['qscore']})", ""]
    return L


def _kwh_text(wh) -> str:
    return f"{_kwh(wh):,.3f} kWh"
