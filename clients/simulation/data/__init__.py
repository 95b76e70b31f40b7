"""Input data of `sawgrid simulate`: hourly consumption and production per participant.

Everything here is a :class:`Dataset` (:mod:`.model`): ``n`` participants,
whole days from a first day ``start``, hourly **Wh** as ``int64`` arrays of
shape ``(n, days*24)``. Hours are UTC: hour ``h`` of day ``d`` is
``[start+d h:00Z, start+d h+1:00Z)``.

Three ways to get one:

:func:`load_csv` (:mod:`.paper_csv`) -- the paper's format (Section 5.1): one
    CSV row per 15 minutes with total consumption and production per source,
    aggregated to hours by SUM; :func:`to_csv` writes a Dataset back in it, so
    ``load_csv(to_csv(ds))`` == ds.

:func:`synthetic` (:mod:`.synthesis`) -- a deterministic stand-in built from
    real profiles shipped in PyPI packages (the ``data`` extra: demandlib,
    pvlib, windpowerlib), for when the paper's measurements are not at hand
    (they are not published).

:func:`paper_preparation` (:mod:`.prepare`) -- the paper's own preparation of
    its one-year, single-entity series: keep one source (wind) scaled to 35 %,
    hours by SUM, winter split into weeks, one week per participant with a date
    correction, gaps and missing participants filled with generated similar
    days, 103 participants of exactly 7 days.

Each submodule's docstring documents its part in full.
"""
from __future__ import annotations

from sawgrid.clients.simulation.data.model import Dataset, Participant
from sawgrid.clients.simulation.data.paper_csv import load_csv, to_csv
from sawgrid.clients.simulation.data.prepare import SEASONS, paper_preparation, season_similarity
from sawgrid.clients.simulation.data.synthesis import (
    DATA_EXTRA_MESSAGE, DEFAULT_START, MIX, SITE, synthetic,
)

__all__ = [
    "Participant", "Dataset", "synthetic", "load_csv", "to_csv", "paper_preparation",
    "season_similarity", "SEASONS", "MIX", "SITE", "DEFAULT_START", "DATA_EXTRA_MESSAGE",
]
