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

The parts:

* :mod:`.stats` -- daily PAR, Table 1 (Shapiro-Wilk, Levene, paired t-test,
  Wilcoxon, as the paper chains them) and Table 2 (costs);
* :mod:`.plots` -- the four matplotlib figures;
* :mod:`.text`  -- the summary dict, markdown, JSON and CSV, and :func:`main`
  (``python -m sawgrid.clients.simulation.report RESULTS``).
"""
from __future__ import annotations

from sawgrid.clients.simulation.report.plots import PLOTS, write_plots
from sawgrid.clients.simulation.report.stats import (
    ALPHA, DAYS_WITHOUT_RECOMMENDATIONS, DEFAULT_FLAT_PRICE_UEUR_PER_KWH, PAPER, costs, daily_par,
    pct_change, statistics,
)
from sawgrid.clients.simulation.report.text import main, summary, write_report

__all__ = [
    "ALPHA", "DAYS_WITHOUT_RECOMMENDATIONS", "DEFAULT_FLAT_PRICE_UEUR_PER_KWH", "PAPER", "PLOTS",
    "costs", "daily_par", "main", "pct_change", "statistics", "summary", "write_plots", "write_report",
]
