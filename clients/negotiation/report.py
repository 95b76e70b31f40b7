"""The negotiation report (issue 17, item 6): what `sawgrid negotiate --out DIR` writes.

Into DIR: `convergence.png` (price and power mismatch per iteration), `report.md` (the trade
table beside Li et al.'s trades table, each agent's power, line flows and prices, social welfare
against the centralised optimum, the timings it is given) and `report.json` (the same data, for
scripts). It formats; it computes nothing but sums and the welfare gap. The timings are measured
by whoever ran the negotiation (the encrypted mechanism's encryption, decryption and proofs) and
passed in as `Timing` rows.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .agents import PAPER_AGENTS, PAPER_TRADES
from .algorithm import Result
from .cases import Case
from .optimum import Optimum

PLOT = "convergence.png"
MARKDOWN = "report.md"
DATA = "report.json"
LOG_FLOOR = 1e-12  # a mismatch of exactly zero is drawn here on the log axis


@dataclass(frozen=True)
class Timing:
    """Time spent in one kind of operation at one key size (e.g. 2048-bit decryptions)."""

    keysize: int  # bits
    operation: str  # "encrypt", "decrypt", "prove", "verify", ...
    count: int
    seconds: float  # total over the `count` operations

    @property
    def mean_ms(self) -> float:
        return 1000.0 * self.seconds / self.count if self.count else 0.0


@dataclass(frozen=True)
class ReportFiles:
    """Where the report went."""

    markdown: Path
    data: Path
    plot: Path


def welfare_gap_percent(result: Result, best: Optimum) -> float:
    """(optimum - ours) / |optimum| in %: positive when the negotiation left welfare behind."""
    return 100.0 * (best.welfare - result.welfare) / abs(best.welfare)


def paper_welfare() -> float:
    """Social welfare (USD) of the paper's trades table under the paper's agent table."""
    totals = {agent.name: 0.0 for agent in PAPER_AGENTS}
    for (seller, buyer), (quantity, _price) in PAPER_TRADES.items():
        totals[seller] += quantity
        totals[buyer] -= quantity
    return -sum(agent.cost(totals[agent.name]) for agent in PAPER_AGENTS)


def is_paper_market(case: Case) -> bool:
    """True when the case's agents are the paper's, so its trades table can stand beside ours."""
    return tuple(case.agents) == PAPER_AGENTS


def report_data(
    case: Case, result: Result, best: Optimum | None = None, timings: Sequence[Timing] = ()
) -> dict[str, Any]:
    """Everything the report shows, as plain JSON-able data."""
    paper = is_paper_market(case)
    trades = []
    for (seller, buyer), quantity in sorted(result.trades.items()):
        row: dict[str, Any] = {
            "seller": seller,
            "buyer": buyer,
            "kw": quantity,
            "usd_per_kw": result.prices[(seller, buyer)],
        }
        if paper and (seller, buyer) in PAPER_TRADES:
            row["paper_kw"], row["paper_usd_per_kw"] = PAPER_TRADES[(seller, buyer)]
        trades.append(row)
    agents = [
        {
            "name": agent.name,
            "bus": agent.bus,
            "kind": agent.kind,
            "kw": result.powers[agent.name],
            "optimum_kw": None if best is None else best.powers[agent.name],
        }
        for agent in case.agents
    ]
    lines = [
        {
            "line": line,
            "flow_kw": flow,
            "limit_kw": case.line_limits.get(line),
            "usd_per_kw": result.line_prices.get(line),
        }
        for line, flow in result.line_flows.items()
    ]
    welfare: dict[str, Any] = {"usd": result.welfare}
    if best is not None:
        welfare["optimum_usd"] = best.welfare
        welfare["gap_percent"] = welfare_gap_percent(result, best)
    if paper:
        welfare["paper_table_usd"] = paper_welfare()
    supply = sum(result.trades.values())
    return {
        "case": case.name,
        "description": case.description,
        "converged": result.converged,
        "iterations": result.iterations,
        "traded_kw": supply,
        "paper_traded_kw": sum(q for q, _ in PAPER_TRADES.values()) if paper else None,
        "trades": trades,
        "agents": agents,
        "lines": lines,
        "welfare": welfare,
        "timings": [
            {"keysize": t.keysize, "operation": t.operation, "count": t.count,
             "seconds": t.seconds, "mean_ms": t.mean_ms}
            for t in timings
        ],
        "convergence": {
            "price_mismatch_usd_per_kw": list(result.price_mismatch),
            "power_mismatch_kw": list(result.power_mismatch),
        },
    }


def write_report(
    directory: Path,
    case: Case,
    result: Result,
    best: Optimum | None = None,
    timings: Sequence[Timing] = (),
) -> ReportFiles:
    """Write convergence.png, report.md and report.json into `directory` (created if missing)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = report_data(case, result, best, timings)
    files = ReportFiles(directory / MARKDOWN, directory / DATA, directory / PLOT)
    plot_convergence(result, files.plot)
    files.markdown.write_text(render_markdown(data), encoding="utf-8")
    files.data.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return files


def plot_convergence(result: Result, path: Path) -> None:
    """Price mismatch (USD/kW) and power mismatch (kW) per iteration, log scale, as a PNG."""
    figure = Figure(figsize=(8, 6), dpi=100)
    FigureCanvasAgg(figure)
    iterations = range(1, len(result.price_mismatch) + 1)
    for index, (values, label, unit) in enumerate((
        (result.price_mismatch, "price mismatch", "USD/kW"),
        (result.power_mismatch, "power mismatch", "kW"),
    )):
        axes = figure.add_subplot(2, 1, index + 1)
        axes.semilogy(list(iterations), [max(v, LOG_FLOOR) for v in values])
        axes.set_ylabel(f"{label} ({unit})")
        axes.grid(True, which="both", alpha=0.3)
    axes.set_xlabel("iteration")
    figure.suptitle(f"{result.case}: {'converged' if result.converged else 'stopped'} after "
                    f"{result.iterations} iterations")
    figure.savefig(path, format="png")


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown, from report_data's output."""
    out = [f"# Negotiation report: {data['case']}", ""]
    if data["description"]:
        out += [data["description"], ""]
    state = "converged" if data["converged"] else "did NOT converge"
    out += [f"The negotiation {state} after {data['iterations']} iterations; "
            f"{data['traded_kw']:.2f} kW traded.", "", f"![convergence]({PLOT})", ""]

    paper = data["paper_traded_kw"] is not None
    out += ["## Trades", ""]
    if paper:
        out += ["Beside Li et al. 2022's trades table (kW / USD per kW). Pair trades are not "
                "unique at the optimum: compare per-agent totals and prices. Why ours differ "
                "from the paper's: processors/negotiation/METHOD.md, \"Against the paper's "
                "trades table\".", "",
                "| seller | buyer | ours kW | ours USD/kW | paper kW | paper USD/kW |",
                "|---|---|---:|---:|---:|---:|"]
    else:
        out += ["| seller | buyer | kW | USD/kW |", "|---|---|---:|---:|"]
    for row in data["trades"]:
        cells = [row["seller"], row["buyer"], f"{row['kw']:.2f}", f"{row['usd_per_kw']:.3f}"]
        if paper:
            cells += [f"{row['paper_kw']:.2f}", f"{row['paper_usd_per_kw']:.2f}"]
        out.append("| " + " | ".join(cells) + " |")
    total = ["**total**", "", f"**{data['traded_kw']:.2f}**", ""]
    if paper:
        total += [f"**{data['paper_traded_kw']:.2f}**", ""]
    out += ["| " + " | ".join(total) + " |", ""]

    out += ["## Agents", "", "| agent | bus | kind | kW | optimum kW |", "|---|---:|---|---:|---:|"]
    for agent in data["agents"]:
        optimum = "" if agent["optimum_kw"] is None else f"{agent['optimum_kw']:.3f}"
        out.append(f"| {agent['name']} | {agent['bus']} | {agent['kind']} | {agent['kw']:.3f} | {optimum} |")
    out.append("")

    out += ["## Lines", "", "Flows of the recorded trades (positive from the first bus to the "
            "second); limits and prices where the case limits a line.", "",
            "| line | flow kW | limit kW | line price USD/kW |", "|---|---:|---:|---:|"]
    for line in data["lines"]:
        limit = "" if line["limit_kw"] is None else f"{line['limit_kw']:.2f}"
        price = "" if line["usd_per_kw"] is None else f"{line['usd_per_kw']:.3f}"
        out.append(f"| {line['line']} | {line['flow_kw']:.3f} | {limit} | {price} |")
    out.append("")

    welfare = data["welfare"]
    out += ["## Social welfare", "", f"- negotiated: {welfare['usd']:.4f} USD"]
    if "optimum_usd" in welfare:
        out += [f"- centralised optimum (HiGHS): {welfare['optimum_usd']:.4f} USD",
                f"- gap: {welfare['gap_percent']:.4f} %"]
    if "paper_table_usd" in welfare:
        out.append(f"- the paper's trades table, under its agent table: {welfare['paper_table_usd']:.4f} USD")
    out.append("")

    out += ["## Time in encryption, decryption and proofs", ""]
    if data["timings"]:
        out += ["| key bits | operation | count | total s | mean ms |", "|---:|---|---:|---:|---:|"]
        for t in data["timings"]:
            out.append(f"| {t['keysize']} | {t['operation']} | {t['count']} | "
                       f"{t['seconds']:.3f} | {t['mean_ms']:.3f} |")
    else:
        out.append("Not measured in this run (plain negotiation, no encryption).")
    out.append("")
    return "\n".join(out)
