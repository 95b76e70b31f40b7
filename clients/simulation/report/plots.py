"""The report's figures (matplotlib, PNG at 150 dpi): the paper's Figures 5 to 8.

* ``box_par.png`` (Figure 5): daily PAR per scenario;
* ``hourly_without.png`` (Figure 6) and ``hourly_with.png`` (Figure 7): the
  energy the microgrid bought in each hour of the day, mean over the days
  with recommendations in force (days 3 on, :func:`hourly_days`), the other
  scenario outlined;
* ``daily_par.png`` (Figure 8): daily PAR of both scenarios and the optimal
  schedule's ceiling.

matplotlib is imported only when a figure is drawn, with the non-interactive
Agg canvas, and its INFO logs are kept quiet (:mod:`sawgrid.clients.simulation.logs`).

Days 1-2 have no recommendations in either scenario, so they are the same in
both. The box plot keeps them, as the paper's Figure 5 does, but draws their
points hollow and grey. The hourly profiles leave them out of both scenarios:
averaged in, they would pull the "with" profile towards the "without" one by
2 days in 7. The paper's Figures 6-7 average its whole week. Each figure's
title says which days it shows.

``box_figure``, ``hourly_figure`` and ``daily_figure`` return the matplotlib
Figure; :func:`write_plots` saves them.
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


def _day_range(first: int, last: int) -> str:
    """'day 3', 'days 3-7' (1-based, inclusive)."""
    return f"day {first}" if first == last else f"days {first}-{last}"


def _one_day_of(first: int, last: int) -> str:
    """A legend label for one point: 'day 3', 'one of days 3-7'."""
    return f"day {first}" if first == last else f"one of days {first}-{last}"


def hourly_days(n_days: int) -> range:
    """The days (0-based) the hourly profiles average: those with recommendations
    in force (day 3 on), the same in both scenarios; all days when a run has none."""
    k = DAYS_WITHOUT_RECOMMENDATIONS
    return range(k, n_days) if n_days > k else range(n_days)


def hourly_days_span(n_days: int) -> str:
    """'days 3-7': which days the hourly profiles average, in short."""
    shown = hourly_days(n_days)
    return _day_range(shown[0] + 1, shown[-1] + 1) if len(shown) else "no days"


def hourly_days_text(labels: Sequence[str]) -> str:
    """Which days the hourly profiles average, for a title or caption:
    'days 3-7 (Wed 14 Feb - Sun 18 Feb) in both scenarios; days 1-2, before any recommendation, left out'."""
    shown = hourly_days(len(labels))
    if not len(shown):
        return "no days"
    first, last = shown[0], shown[-1]
    span = _day_label(labels[first]) if first == last else f"{_day_label(labels[first])} - {_day_label(labels[last])}"
    text = f"{_day_range(first + 1, last + 1)} ({span})"
    if first > 0:
        return f"{text} in both scenarios; {_day_range(1, first)}, before any recommendation, left out"
    return f"{text}: no recommendations yet on any of them"


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


# the box plot's points: one per day; days 1-2 (no recommendations, the same in both scenarios) hollow grey
POINT_MARKER = "o"
POINT_SIZE = 42                          # scatter s, points^2 (a legend marker's size is its square root)
POINT_EDGE = 0.6
EARLY_FACE, EARLY_EDGE, EARLY_EDGE_WIDTH = "white", "#777777", 1.3
MEAN_PROPS = dict(marker="D", markerfacecolor="white", markeredgecolor="black", markersize=6)
MEDIAN_PROPS = dict(color="black", linewidth=1.8)


def box_figure(result: SimulationResult):
    """Figure 5: each scenario's daily PAR, a box over all days (as the paper) and a point per day."""
    from matplotlib.lines import Line2D
    pw, pr = daily_par(result.without), daily_par(result.with_)
    n = len(pw)
    k = min(DAYS_WITHOUT_RECOMMENDATIONS, n)
    fig = _figure(7.5, 5.6)
    ax = fig.add_subplot()
    names = (WITHOUT, WITH)
    data = (pw, pr)
    box = ax.boxplot(data, positions=[1, 2], widths=0.5, patch_artist=True, showmeans=True,
                     meanprops=MEAN_PROPS, medianprops=MEDIAN_PROPS, showfliers=False)
    for patch, name in zip(box["boxes"], names):
        patch.set_facecolor(COLOURS[name])
        patch.set_alpha(0.35)
        patch.set_edgecolor(COLOURS[name])
    rng = np.random.default_rng(0)
    size = float(np.sqrt(POINT_SIZE))
    points = []                          # legend proxies, drawn as the points are
    for i, (name, values) in enumerate(zip(names, data), start=1):
        x = i + rng.uniform(-0.09, 0.09, len(values))
        if k:
            ax.scatter(x[:k], values[:k], marker=POINT_MARKER, facecolor=EARLY_FACE, edgecolor=EARLY_EDGE,
                       linewidth=EARLY_EDGE_WIDTH, s=POINT_SIZE, zorder=3)
        if n > k:
            ax.scatter(x[k:], values[k:], marker=POINT_MARKER, color=COLOURS[name], edgecolor="white",
                       linewidth=POINT_EDGE, s=POINT_SIZE, zorder=4)
            points.append(Line2D([], [], linestyle="", marker=POINT_MARKER, markersize=size,
                                 markerfacecolor=COLOURS[name], markeredgecolor="white",
                                 markeredgewidth=POINT_EDGE, label=f"{_one_day_of(k + 1, n)}, {name}"))
    if k:
        points.append(Line2D([], [], linestyle="", marker=POINT_MARKER, markersize=size,
                             markerfacecolor=EARLY_FACE, markeredgecolor=EARLY_EDGE,
                             markeredgewidth=EARLY_EDGE_WIDTH,
                             label=f"{_one_day_of(1, k)}: no recommendations yet (same in both)"))
    # points in the first column, the boxes' median and mean in the second
    handles = points + [Line2D([], [], label="median of the box", **MEDIAN_PROPS),
                        Line2D([], [], linestyle="", label="mean", **MEAN_PROPS)]
    ax.set_xticks([1, 2], [f"{WITHOUT}\n(n = {_days(n)})", f"{WITH}\n(n = {_days(n)})"])
    ax.set_ylabel("daily PAR = avg / max of hourly load\n(higher is better, 1.0 = flat)")
    if n > k and k:
        shown = (f"all {_days(n)}, as in the paper; hollow: {_day_range(1, k)}, no recommendations "
                 f"in either scenario")
    else:
        shown = f"all {_days(n)}" + ("; no recommendations yet on any of them" if k else "")
    ax.set_title(f"Daily PAR per scenario (cf. paper Fig. 5)\n{shown}", fontsize=11)
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8.5, frameon=False,
               columnspacing=1.5)
    if n:
        _pad_ylim(ax, pw + pr)
    _style(ax)
    ax.grid(False, axis="x")
    return fig


def _pad_ylim(ax, values: Sequence[float]) -> None:
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.05)
    ax.set_ylim(max(0.0, lo - 0.15 * span), min(1.05, hi + 0.15 * span))


def hourly_profile_kwh(scenario: ScenarioResult) -> np.ndarray:
    """(24,) energy bought in each hour of the day, kWh, mean over :func:`hourly_days`."""
    loads = scenario.hourly_load_wh
    days = hourly_days(len(loads))
    if not len(days):
        return np.zeros(HOURS_PER_DAY)
    return loads[days.start:days.stop].mean(axis=0) / WH_PER_KWH


def hourly_figure(scenario: ScenarioResult, other: ScenarioResult, ymax: float, figure_no: int):
    """Figure 6 or 7: `scenario`'s energy bought per hour of the day (bars), `other`'s outlined."""
    from matplotlib.ticker import StrMethodFormatter
    mean = hourly_profile_kwh(scenario)
    other_mean = hourly_profile_kwh(other)
    fig = _figure(9.0, 5.0)
    ax = fig.add_subplot()
    hours = np.arange(HOURS_PER_DAY)
    colour = COLOURS[scenario.name]
    ax.bar(hours, mean, width=0.8, align="edge", color=colour, alpha=0.85,
           label=f"{scenario.name}")
    ax.step(np.append(hours, HOURS_PER_DAY), np.append(other_mean, other_mean[-1]), where="post",
            color=COLOURS[other.name], linewidth=1.6, linestyle="--", alpha=0.9,
            label=f"{other.name} (outline)")
    avg = float(mean.mean())
    peak_h = int(mean.argmax())
    if mean.max() > 0:
        shape = f"; PAR of this profile {avg / float(mean.max()):.3f}"
        # centred over the peak's bar, but kept inside the axes at either end of the day
        ha = "left" if peak_h < 2 else "right" if peak_h >= HOURS_PER_DAY - 2 else "center"
        ax.annotate(f"peak {mean[peak_h]:,.1f} kWh\n{peak_h:02d}:00-{peak_h + 1:02d}:00",
                    xy=(peak_h + 0.4, mean[peak_h]), xytext=(0, 8), textcoords="offset points",
                    ha=ha, va="bottom", fontsize=9, zorder=5,
                    bbox=dict(boxstyle="round,pad=0.25", facecolor="white", edgecolor="#bbbbbb", alpha=0.9))
    else:
        shape = "; no purchases"
    ax.axhline(avg, color="black", linewidth=1.2, linestyle=":", label=f"average hour: {avg:,.1f} kWh{shape}")
    ax.set_xlim(0, HOURS_PER_DAY)
    ax.set_ylim(0, ymax)
    ax.set_xticks(range(0, HOURS_PER_DAY + 1, 2), [f"{h:02d}:00" for h in range(0, HOURS_PER_DAY + 1, 2)], fontsize=9)
    if ymax >= 10:                                            # thousands separators, no decimals
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel("hour of day (UTC)")
    ax.set_ylabel(f"energy bought in the microgrid\n(kWh per hour, mean over {hourly_days_span(len(scenario.days))})")
    ax.set_title(f"Energy bought per hour, {scenario.name} (cf. paper Fig. {figure_no})\n"
                 f"mean over {hourly_days_text(scenario.days)}", fontsize=10.5)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i] != scenario.name, i))   # bars first
    fig.legend([handles[i] for i in order], [labels[i] for i in order],
               loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    _style(ax)
    ax.grid(False, axis="x")
    return fig


def daily_figure(result: SimulationResult):
    """Figure 8: the daily PAR of both scenarios, day by day, and the optimal schedule's."""
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
    return fig


def write_plots(result: SimulationResult, folder: Path) -> dict[str, Path]:
    """The four figures, PNG at 150 dpi; returns their paths by key."""
    quiet_third_party_logs()            # matplotlib's first figure on a machine logs its font cache at INFO
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / v for k, v in PLOTS.items()}
    _save(box_figure(result), paths["box_par"])
    top = max(float(hourly_profile_kwh(result.without).max()), float(hourly_profile_kwh(result.with_).max()))
    ymax = top * 1.22 if top > 0 else 1.0                   # room for the peak label; same for Figs 6 and 7
    _save(hourly_figure(result.without, result.with_, ymax, 6), paths["hourly_without"])
    _save(hourly_figure(result.with_, result.without, ymax, 7), paths["hourly_with"])
    _save(daily_figure(result), paths["daily_par"])
    return paths
