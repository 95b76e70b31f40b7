"""The report's figures (matplotlib, PNG at 150 dpi): the paper's Figures 5 to 8.

* ``box_par.png`` (Figure 5): daily PAR per scenario;
* ``hourly_without.png`` (Figure 6) and ``hourly_with.png`` (Figure 7): the
  average hourly consumption of each scenario, the other one outlined;
* ``daily_par.png`` (Figure 8): daily PAR of both scenarios and the optimal
  schedule's ceiling.

matplotlib is imported only when a figure is drawn, with the non-interactive
Agg canvas, and its INFO logs are kept quiet (:mod:`sawgrid.clients.simulation.logs`).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Sequence

import numpy as np

from sawgrid.clients.simulation.logs import quiet_third_party_logs
from sawgrid.clients.simulation.report.stats import DAYS_WITHOUT_RECOMMENDATIONS, daily_par, optimal_par_by_day
from sawgrid.clients.simulation.results import SimulationResult, ScenarioResult, WITH, WITHOUT
from sawgrid.processors.market.units import HOURS_PER_DAY, WH_PER_KWH

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
    loads = scenario.hourly_load_wh / WH_PER_KWH            # kWh
    mean = loads.mean(axis=0)
    other_mean = other.hourly_load_wh.mean(axis=0) / WH_PER_KWH
    fig = _figure(8.0, 4.6)
    ax = fig.add_subplot()
    hours = np.arange(HOURS_PER_DAY)
    colour = COLOURS[scenario.name]
    ax.bar(hours, mean, width=0.8, align="edge", color=colour, alpha=0.85,
           label=f"{scenario.name}")
    ax.step(np.append(hours, HOURS_PER_DAY), np.append(other_mean, other_mean[-1]), where="post",
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
    ax.set_xlim(0, HOURS_PER_DAY)
    ax.set_ylim(0, ymax)
    ax.set_xticks(range(0, HOURS_PER_DAY + 1, 2), [f"{h:02d}:00" for h in range(0, HOURS_PER_DAY + 1, 2)], fontsize=9)
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
    ceiling = optimal_par_by_day(result)
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
    quiet_third_party_logs()            # matplotlib's first figure on a machine logs its font cache at INFO
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / v for k, v in PLOTS.items()}
    _plot_box(result, paths["box_par"])
    top = max(float(result.without.hourly_load_wh.mean(axis=0).max()),
              float(result.with_.hourly_load_wh.mean(axis=0).max())) / WH_PER_KWH
    ymax = top * 1.22 if top > 0 else 1.0                   # room for the peak label; same for Figs 6 and 7
    _plot_hourly(result, result.without, result.with_, ymax, paths["hourly_without"], 6)
    _plot_hourly(result, result.with_, result.without, ymax, paths["hourly_with"], 7)
    _plot_daily(result, paths["daily_par"])
    return paths

