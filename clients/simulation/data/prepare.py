"""The paper's preparation (Section 5.1) of a long series into one-week participants.

:func:`paper_preparation` turns the paper's one-year, single-entity series
into its experiment's input: keep one source (wind) scaled to 35 %, hours by
SUM, winter split into weeks, one week per participant with a date
correction, gaps and missing participants filled with generated similar
days, 103 participants of exactly 7 days. :func:`season_similarity` measures
how alike the weeks of each season are (the paper picked winter by it).
"""
from __future__ import annotations

import datetime as dt
import math
from types import MappingProxyType
from typing import Mapping

import numpy as np

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.simulation.data.model import Dataset, Participant
from sawgrid.clients.simulation.data.noise import lognormal
from sawgrid.clients.simulation.data.paper_csv import load_csv
from sawgrid.processors.market.units import HOURS_PER_DAY

__all__ = ["paper_preparation", "season_similarity", "SEASONS"]

#: meteorological seasons (northern hemisphere) used by paper_preparation
SEASONS: Mapping[str, tuple[int, ...]] = MappingProxyType({
    "winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11),
})


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _season_weeks(ds: Dataset, months: tuple[int, ...]) -> dict[tuple[int, dt.date], list[int]]:
    """(participant, Monday) -> the dataset day indexes of that ISO week that fall in the season."""
    weeks: dict[tuple[int, dt.date], list[int]] = {}
    days_in = [d for d in range(ds.days()) if ds.date(d).month in months]
    for i in range(ds.n):
        for d in days_in:
            weeks.setdefault((i, _monday(ds.date(d))), []).append(d)
    return weeks


def season_similarity(dataset: Dataset) -> dict[str, float]:
    """How alike the complete weeks of each season are (paper, Section 5.1).

    Per participant and season, the Pearson correlation of every pair of its
    complete Monday-to-Sunday weeks, hour by hour, for consumption and for
    production (a constant series has none); the mean over all those pairs.
    Seasons without two complete weeks of one participant are left out.
    """
    out: dict[str, float] = {}
    for season, months in SEASONS.items():
        weeks: dict[int, list[slice]] = {}
        for (i, _monday_), day_idx in _season_weeks(dataset, months).items():
            if len(day_idx) == 7:
                weeks.setdefault(i, []).append(slice(day_idx[0] * HOURS_PER_DAY, (day_idx[-1] + 1) * HOURS_PER_DAY))
        values: list[np.ndarray] = []
        for i, slices in weeks.items():
            if len(slices) < 2:
                continue
            for arr in (dataset.consumption, dataset.production):
                m = np.stack([arr[i, s] for s in slices]).astype(float)
                keep = m.std(axis=1) > 0
                if keep.sum() >= 2:
                    c = np.corrcoef(m[keep])
                    values.append(c[np.triu_indices(len(c), 1)])
        if values:
            out[season] = float(np.concatenate(values).mean())
    return out


def paper_preparation(data, *, source: str = "wind", scale: float = 0.35, season: str = "winter",
                      participants: int | None = 103, seed: int = 0, start: dt.date | None = None) -> Dataset:
    """The paper's preparation (Section 5.1) of a long series into one-week participants.

    1. other attributes (weather, ...) are dropped -- :func:`load_csv` ignores them;
    2. one source of production is kept (``source``, the paper's wind) and
       scaled to ``scale`` (35 %) of its values; the others are dropped;
    3. 15-minute rows are summed to hours (``load_csv``);
    4. the days of ``season`` (meteorological; ``"most-similar"`` picks the
       season whose weeks are most alike, see :func:`season_similarity` -- the
       paper found winter) are split into ISO weeks (Monday to Sunday), each
       week becomes one participant (named ``<participant>-<year>W<week>``);
    5. date correction: every week is moved by whole weeks onto one simulated
       week starting ``start`` (default: the Monday of the first such week), so
       weekdays stay weekdays;
    6. missing days of incomplete weeks are filled, and participants are added
       (``generated-NNN``) until there are ``participants`` of them, from
       generated days similar to the real ones: a real day of the same weekday
       (of the same participant where possible) times day and hour noise
       (log-normal, sigma 0.10 and 0.05), seeded by ``seed``. With more real
       weeks than ``participants`` the most complete ones are kept.
       ``participants=None`` keeps exactly the real weeks.

    ``data`` is a :class:`Dataset` with ``production_by_source`` or a CSV
    path/directory for :func:`load_csv` (then the source is selected and scaled
    before the hourly SUM, at the CSV's precision, as in the paper; from a
    Dataset the hourly Wh are scaled and rounded, which can differ by 1 Wh).
    Input participants other than the paper's single entity are split the
    same way, week by week.

    The paper does not say how seasons are bounded, how weeks are cut, how
    similarity was measured or how the similar data were generated; the
    choices above are ours. Consumption is not scaled (the paper scales the
    production only: "reduced them to 35 %").
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
        raise SawgridError(f"scale must be a finite number >= 0, got {scale!r}")
    if participants is not None and (not isinstance(participants, int) or participants < 1):
        raise SawgridError(f"participants must be a positive integer or None, got {participants!r}")
    if start is not None and (isinstance(start, dt.datetime) or not isinstance(start, dt.date)
                              or start.weekday() != 0):
        raise SawgridError(f"start must be a Monday (datetime.date) so weekdays stay weekdays, got {start!r}")
    src = source.strip().lower()
    src = src[len("production_"):] if src.startswith("production_") else src
    if isinstance(data, Dataset):
        by = data.production_by_source
        if src not in by:
            have = ", ".join(sorted(by)) or "none: only total production is known"
            raise SawgridError(f"the dataset has no {src!r} production to keep (sources: {have})")
        kept = np.rint(by[src] * float(scale)).astype(np.int64)
        ds = Dataset(start=data.start, participants=data.participants, consumption=data.consumption,
                     production=kept, source=data.source, production_by_source={src: kept})
    else:
        ds = load_csv(data, source_column=src, scale=float(scale))
        if src not in ds.production_by_source:          # a plain 'production' column is source 'total'
            raise SawgridError(f"{data}: no {src!r} production to keep")

    if season == "most-similar":
        scores = season_similarity(ds)
        if not scores:
            raise SawgridError("no season has two complete weeks to compare")
        season = max(scores, key=lambda s: (scores[s], s == "winter"))
    if season not in SEASONS:
        raise SawgridError(f"unknown season {season!r} (choose {', '.join(SEASONS)} or most-similar)")
    weeks = _season_weeks(ds, SEASONS[season])
    if not weeks:
        raise SawgridError(f"the data ({ds.start}..{ds.date(ds.days() - 1)}) has no {season} day")

    keys = sorted(weeks, key=lambda k: (k[0], k[1]))
    if participants is not None and len(keys) > participants:
        best = sorted(keys, key=lambda k: (-len(weeks[k]), k[1], k[0]))[:participants]
        keys = [k for k in keys if k in set(best)]
    target = start if start is not None else min(m for _i, m in keys)
    n_out = len(keys) if participants is None else participants

    # pools of real season days, by participant and weekday: (participant, day index)
    pool: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for (i, _m), day_idx in weeks.items():
        for d in day_idx:
            pool.setdefault(i, {}).setdefault(ds.date(d).weekday(), []).append((i, d))
    everyone = [c for p in pool.values() for v in p.values() for c in v]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5A36]))

    def similar_day(i: int, weekday: int) -> tuple[np.ndarray, np.ndarray]:
        """A real season day like participant i's `weekday`, with noise."""
        mine = pool.get(i, {})
        weekend = weekday >= 5
        candidates = (mine.get(weekday)                                           # same weekday
                      or [c for w, v in mine.items() if (w >= 5) == weekend for c in v]  # same day type
                      or [c for v in mine.values() for c in v]                    # any own day
                      or [c for c in everyone if ds.date(c[1]).weekday() == weekday]
                      or everyone)
        owner, d = candidates[int(rng.integers(len(candidates)))]
        s = slice(d * HOURS_PER_DAY, (d + 1) * HOURS_PER_DAY)
        out = []
        for arr in (ds.consumption, ds.production):
            v = arr[owner, s] * lognormal(rng, 0.10, 1) * lognormal(rng, 0.05, HOURS_PER_DAY)
            out.append(np.rint(v).astype(np.int64))
        return out[0], out[1]

    week_h = 7 * HOURS_PER_DAY
    cons = np.zeros((n_out, week_h), dtype=np.int64)
    prod = np.zeros((n_out, week_h), dtype=np.int64)
    people: list[Participant] = []
    filled = 0
    for row, (i, monday) in enumerate(keys):
        real = {ds.date(d).weekday(): d for d in weeks[(i, monday)]}
        for wd in range(7):
            h = slice(wd * HOURS_PER_DAY, (wd + 1) * HOURS_PER_DAY)
            if wd in real:
                s = slice(real[wd] * HOURS_PER_DAY, (real[wd] + 1) * HOURS_PER_DAY)
                cons[row, h], prod[row, h] = ds.consumption[i, s], ds.production[i, s]
            else:
                cons[row, h], prod[row, h] = similar_day(i, wd)
                filled += 1
        iso = monday.isocalendar()
        base = ds.participants[i]
        people.append(Participant(name=f"{base.name}-{iso[0]}W{iso[1]:02d}", kind=base.kind,
                                  has_pv=bool(src == "pv" and prod[row].any()),
                                  has_wind=bool(src == "wind" and prod[row].any()), profile=base.profile))
    templates = sorted(pool)
    for g in range(n_out - len(keys)):
        row = len(keys) + g
        i = templates[int(rng.integers(len(templates)))]
        for wd in range(7):
            h = slice(wd * HOURS_PER_DAY, (wd + 1) * HOURS_PER_DAY)
            cons[row, h], prod[row, h] = similar_day(i, wd)
        base = ds.participants[i]
        people.append(Participant(name=f"generated-{g + 1:03d}", kind=base.kind,
                                  has_pv=bool(src == "pv" and prod[row].any()),
                                  has_wind=bool(src == "wind" and prod[row].any()), profile=base.profile))
    note = (f"{ds.source}; paper preparation: {src} x{float(scale):g}, {season} weeks -> {len(keys)} real "
            f"({filled} days filled) + {n_out - len(keys)} generated, moved to the week of {target.isoformat()}")
    return Dataset(start=target, participants=tuple(people), consumption=cons, production=prod,
                   source=note, production_by_source={src: prod})
