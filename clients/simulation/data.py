"""Input data of `sawgrid simulate`: hourly consumption and production per participant.

Everything here is a :class:`Dataset`: ``n`` participants, whole days from a
first day ``start``, hourly **Wh** as ``int64`` arrays of shape ``(n, days*24)``.
Hours are UTC: hour ``h`` of day ``d`` is ``[start+d h:00Z, start+d h+1:00Z)``.

Three ways to get one:

:func:`load_csv` -- the paper's format (Section 5.1): one CSV row per 15 minutes
    with total consumption and production per source, aggregated to hours by SUM.
    Schema::

        timestamp,consumption,production_pv,production_wind[,participant][,kind][,...]
        2024-01-08T00:00:00Z,0.250,0.000,1.125

    * ``timestamp``: ISO 8601, the *start* of the 15-minute interval; without an
      offset it is UTC, with one (``Z``, ``+01:00``) it is converted to UTC.
      Rows must be on 15-minute boundaries, contiguous (no gaps, no repeats)
      and cover whole days (00:00 to 23:45).
    * ``consumption``: kWh consumed in that 15 minutes (>= 0).
    * ``production_<source>``: kWh produced by ``<source>`` (``pv``, ``wind``,
      ``hydro``, ...) in that 15 minutes (>= 0). A plain ``production`` column is
      used only when there is no ``production_<source>`` column (its source is
      called ``total``).
    * ``participant`` (optional): which participant the row belongs to; rows of
      several participants may be interleaved. Without it the file is one
      participant named after the file (``shop-12.csv`` -> ``shop-12``).
    * ``kind`` (optional): ``household``, ``business``, ... (constant per
      participant; ``unknown`` without the column).
    * Any other column (weather, ...) is ignored, as the paper drops them.

    A path is either one such file or a directory of them (``*.csv``, one
    participant per file unless the file has a ``participant`` column).
    Hourly value = round(1000 * sum of the four kWh values) Wh.

:func:`synthetic` -- a deterministic stand-in built from real profiles shipped
    in PyPI packages (the ``data`` extra: demandlib, pvlib, windpowerlib), for
    when the paper's measurements are not at hand (they are not published).

:func:`paper_preparation` -- the paper's own preparation of its one-year,
    single-entity series: keep one source (wind) scaled to 35 %, hours by SUM,
    winter split into weeks, one week per participant with a date correction,
    gaps and missing participants filled with generated similar days, 103
    participants of exactly 7 days.

:func:`to_csv` writes a Dataset back in the paper's format (each hour split
into four equal 15-minute rows, Wh exact), so `load_csv(to_csv(ds))` == ds.

Synthetic data
--------------
Site and clock: weather is the DWD test reference year TRY2010 region 13
(station Mühldorf, 48.28 N 12.50 E, 405 m; hourly, 10 m wind speed, direct and
diffuse horizontal irradiance), shipped inside demandlib. It is the closest
shipped weather to the paper's setting (Bratislava, 48.15 N 17.1 E); the
weather files shipped inside pvlib are US sites (Greensboro NC 36 N, Sand Point
AK 55 N, Miami). Load profiles and weather are local standard time (CET, UTC+1),
so solar noon is about 11:20 UTC and the 18-20 h evening peak is 17-19 UTC.
Public holidays are Slovakia's (days off), treated as Sundays. The weather
year is a typical one without a year: any date maps to its month and day.
The default week, 12-18 February 2024 (:data:`DEFAULT_START`), is a winter
week with about as much sold as the paper's relative to bought energy.

* consumption: BDEW standard load profiles at 15 minutes, shipped inside
  demandlib: households the BDEW 2025 profile ``H25`` (via ``demandlib.bdew.H25``,
  dynamic), businesses one of ``G0``..``G6`` and farms one of ``L0``..``L2``
  (the 1999 profiles from demandlib's ``selp_series.csv``, looked up by season
  and day type as BDEW prescribes; demandlib's own ``ElecSlp`` turns all
  warnings into errors process-wide and then trips over pandas >= 3.1's
  deprecations, so it is not called). Scaled to an annual consumption drawn
  log-uniformly from the range of the participant's kind.
* PV: pvlib (solar position, Hay-Davies transposition, Faiman cell
  temperature, PVWatts DC and inverter) on the weather file; tilt 15-45 deg,
  azimuth 135-225 deg, DC losses 8-18 %, sized so that the typical year's yield
  is the kind's fraction of the annual consumption.
* wind: a share of a community turbine from windpowerlib's bundled oedb turbine
  library (power curves of Enercon E-53/800 at 73 m, E-82/2300 at 108 m,
  E-115/3000 at 135 m), 10 m wind speed of the same weather file taken to hub
  height with the logarithmic profile (roughness 0.1 m), sized like PV.
* jitter per participant (seeded): consumption shifted by -60..+60 minutes in
  15-minute steps, times a day factor and a 15-minute factor (log-normal,
  mean 1); PV times an hourly cloud factor; wind shifted by -1..+1 h, times an
  hourly factor. Every participant gets its own ``numpy`` Generator spawned
  from the seed, so the same seed gives identical arrays.

Mix (counts by largest remainder, so ``n=103`` is 72 / 21 / 10; which members
of a kind get PV or wind is drawn from the seed):

==========  =====  ==========  ===================  ===============  ===============
kind        share  profile     annual consumption   PV               wind share
==========  =====  ==========  ===================  ===============  ===============
household   70 %   H25         1.5 - 6 MWh          35 %, 0.5-1.2 x  5 %, 0.5-1.5 x
business    20 %   G0 - G6     10 - 250 MWh         50 %, 0.2-0.8 x  15 %, 0.5-2 x
farm        10 %   L0 - L2     15 - 80 MWh          50 %, 0.3-1.0 x  60 %, 1-3 x
==========  =====  ==========  ===================  ===============  ===============

("35 %, 0.5-1.2 x": 35 % of households have PV whose typical-year yield is
0.5 to 1.2 times their annual consumption; at least 1 kW.) The scale is a
village's, not the paper's: its industrial and shopping-centre participants
bought about 32 MWh each in the week, ours about 0.35 MWh. In a winter week a
participant consumes about 0.8-1.5 times 7/365 of its annual consumption (BDEW
winter profiles are above the yearly mean; day and 15-minute noise widen it).
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np

from sawgrid.clients.sdk.errors import SawgridError

__all__ = [
    "Participant", "Dataset", "synthetic", "load_csv", "to_csv", "paper_preparation",
    "season_similarity", "SEASONS", "MIX", "SITE", "DEFAULT_START", "DATA_EXTRA_MESSAGE",
]

DATA_EXTRA_MESSAGE = "the synthetic dataset needs the 'data' extra: pip install -e '.[data]'"

HOURS_PER_DAY = 24
QUARTERS_PER_HOUR = 4
_QUARTER = dt.timedelta(minutes=15)

#: meteorological seasons (northern hemisphere) used by paper_preparation
SEASONS: Mapping[str, tuple[int, ...]] = MappingProxyType({
    "winter": (12, 1, 2), "spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11),
})


# --------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Participant:
    """One microgrid participant. The sizing fields are set by :func:`synthetic` only."""
    name: str
    kind: str                       # "household" | "business" | "farm" | "unknown" | ...
    has_pv: bool = False
    has_wind: bool = False
    profile: str | None = None      # load profile, e.g. "H25", "G4", "L1"
    annual_kwh: float | None = None
    pv_kwp: float | None = None
    wind_kw: float | None = None    # share of a community turbine, kW of its capacity


def _wh_array(value, what: str, shape: tuple[int, int] | None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise SawgridError(f"{what} must be a 2-D array (participants x hours), got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise SawgridError(f"{what} must hold integer Wh, got dtype {arr.dtype}")
    if shape is not None and arr.shape != shape:
        raise SawgridError(f"{what} has shape {arr.shape}, expected {shape}")
    if arr.size and arr.min() < 0:
        i, h = np.unravel_index(int(np.argmin(arr)), arr.shape)
        raise SawgridError(f"{what} is negative for participant {i} at hour {h}: {arr[i, h]} Wh")
    out = np.array(arr, dtype=np.int64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Dataset:
    """Hourly Wh per participant over whole days; arrays are read-only copies."""
    start: dt.date                               # first day (UTC)
    participants: tuple[Participant, ...]
    consumption: np.ndarray                      # (n, days*24) int64 Wh
    production: np.ndarray                       # (n, days*24) int64 Wh
    source: str                                  # where it came from, e.g. "synthetic seed=7 ..."
    #: production per source ("pv", "wind", ...) when known; they sum to `production`
    production_by_source: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.start, dt.datetime) or not isinstance(self.start, dt.date):
            raise SawgridError(f"start must be a datetime.date, got {self.start!r}")
        parts = tuple(self.participants)
        if not parts:
            raise SawgridError("a dataset needs at least one participant")
        names = [p.name for p in parts]
        if len(set(names)) != len(names):
            dup = sorted({x for x in names if names.count(x) > 1})
            raise SawgridError(f"participant names must be unique: {', '.join(dup)}")
        cons = _wh_array(self.consumption, "consumption", None)
        if cons.shape[0] != len(parts):
            raise SawgridError(f"consumption has {cons.shape[0]} rows for {len(parts)} participants")
        if cons.shape[1] == 0 or cons.shape[1] % HOURS_PER_DAY:
            raise SawgridError(f"consumption must cover whole days: {cons.shape[1]} hours")
        prod = _wh_array(self.production, "production", cons.shape)
        by_source = {str(k): _wh_array(v, f"production of {k!r}", cons.shape)
                     for k, v in dict(self.production_by_source).items()}
        if by_source and not np.array_equal(sum(by_source.values()), prod):
            raise SawgridError("production is not the sum of production_by_source")
        object.__setattr__(self, "participants", parts)
        object.__setattr__(self, "consumption", cons)
        object.__setattr__(self, "production", prod)
        object.__setattr__(self, "production_by_source", MappingProxyType(by_source))

    @property
    def n(self) -> int:
        return len(self.participants)

    def days(self) -> int:
        return self.consumption.shape[1] // HOURS_PER_DAY

    def date(self, d: int) -> dt.date:
        return self.start + dt.timedelta(days=self._day_index(d))

    def _day_index(self, d: int) -> int:
        if not 0 <= d < self.days():
            raise IndexError(f"day {d} is outside 0..{self.days() - 1}")
        return d

    def day(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(consumption, production) of day `d` (0-based), each (n, 24) Wh."""
        s = slice(self._day_index(d) * HOURS_PER_DAY, (d + 1) * HOURS_PER_DAY)
        return self.consumption[:, s], self.production[:, s]

    def net(self) -> np.ndarray:
        """consumption - production, (n, hours) Wh; positive = needs to buy."""
        return self.consumption - self.production

    def participant_index(self, name: str) -> int:
        for i, p in enumerate(self.participants):
            if p.name == name:
                return i
        raise KeyError(name)


# ------------------------------------------------------------------------ CSV import

@dataclass
class _Series:
    """15-minute rows of one participant while reading."""
    file: Path
    first_line: int
    kind: str | None
    times: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    consumption: list = field(default_factory=list)
    production: list = field(default_factory=list)   # one list of per-source values per row


def _source_name(col: str) -> str:
    return col[len("production_"):] if col.startswith("production_") else col


def _parse_time(text: str, where: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise SawgridError(f"{where}: column 'timestamp': bad timestamp {text!r} "
                           "(expected ISO 8601, e.g. 2024-01-08T00:15:00Z)") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if t.minute % 15 or t.second or t.microsecond:
        raise SawgridError(f"{where}: column 'timestamp': {text.strip()} is not on a 15-minute boundary")
    return t


def _parse_kwh(text: str, where: str, col: str) -> float:
    s = text.strip()
    if not s:
        raise SawgridError(f"{where}: column '{col}': missing value")
    try:
        v = float(s)
    except ValueError:
        raise SawgridError(f"{where}: column '{col}': not a number: {s!r}") from None
    if not math.isfinite(v):
        raise SawgridError(f"{where}: column '{col}': not a finite number: {s!r}")
    if v < 0:
        raise SawgridError(f"{where}: column '{col}': negative value {s} (kWh must be >= 0)")
    return v


def _read_file(path: Path, source_column: str | None, series: dict[str, _Series]) -> list[str]:
    """Read one CSV file into `series` (by participant name); returns its source names."""
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise SawgridError(f"{path}: cannot read: {err.strerror or err}") from None
    with fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise SawgridError(f"{path}: empty file (expected a header line: "
                               "timestamp,consumption,production_<source>,...)")
        cols = [h.strip().lower() for h in header]
        seen: set[str] = set()
        for c in cols:
            if c and c in seen:
                raise SawgridError(f"{path}:1: column '{c}' appears twice")
            seen.add(c)
        for need in ("timestamp", "consumption"):
            if need not in cols:
                raise SawgridError(f"{path}:1: missing column '{need}' (header: {', '.join(cols)})")
        prod_cols = [c for c in cols if c.startswith("production_") and len(c) > len("production_")]
        if not prod_cols and "production" in cols:
            prod_cols = ["production"]
        if not prod_cols:
            raise SawgridError(f"{path}:1: missing column 'production_<source>' (e.g. production_wind) "
                               f"or 'production' (header: {', '.join(cols)})")
        if source_column is not None:
            want = source_column.strip().lower()
            want = want if want.startswith("production") else f"production_{want}"
            if want == "production_total":
                want = "production"
            if want not in prod_cols:
                have = ", ".join(_source_label(c) for c in prod_cols)
                raise SawgridError(f"{path}:1: no column '{want}' to keep (sources: {have})")
            prod_cols = [want]
        i_time, i_cons = cols.index("timestamp"), cols.index("consumption")
        i_prod = [cols.index(c) for c in prod_cols]
        i_part = cols.index("participant") if "participant" in cols else None
        i_kind = cols.index("kind") if "kind" in cols else None
        needed = max([i_time, i_cons, *i_prod] + [i for i in (i_part, i_kind) if i is not None])
        default_name = path.stem
        own: dict[str, _Series] = {}
        for lineno, row in enumerate(reader, start=2):
            if not row or not any(x.strip() for x in row):
                continue
            where = f"{path}:{lineno}"
            if len(row) <= needed:
                raise SawgridError(f"{where}: {len(row)} fields, expected {len(cols)} as in the header")
            name = default_name
            if i_part is not None:
                name = row[i_part].strip()
                if not name:
                    raise SawgridError(f"{where}: column 'participant': missing value")
            kind = row[i_kind].strip() if i_kind is not None else None
            s = own.get(name)
            if s is None:
                if name in series:
                    raise SawgridError(f"{where}: participant {name!r} already appears in {series[name].file}")
                s = own[name] = series[name] = _Series(path, lineno, kind)
            elif kind != s.kind:
                raise SawgridError(f"{where}: column 'kind': {kind!r} differs from {s.kind!r} "
                                   f"on line {s.first_line} for participant {name!r}")
            t = _parse_time(row[i_time], where)
            if s.times:
                expected = s.times[-1] + _QUARTER
                if t != expected:
                    what = "gap" if t > expected else ("repeated timestamp" if t == s.times[-1] else "out of order")
                    raise SawgridError(f"{where}: column 'timestamp': {what} in {name!r}: "
                                       f"expected {expected:%Y-%m-%d %H:%M}, got {t:%Y-%m-%d %H:%M} "
                                       f"(line {s.lines[-1]} was {s.times[-1]:%Y-%m-%d %H:%M})")
            elif t.hour or t.minute:
                raise SawgridError(f"{where}: column 'timestamp': {name!r} starts at {t:%Y-%m-%d %H:%M}; "
                                   "whole days of 15-minute rows are needed (start at 00:00 UTC)")
            s.times.append(t)
            s.lines.append(lineno)
            s.consumption.append(_parse_kwh(row[i_cons], where, "consumption"))
            s.production.append([_parse_kwh(row[i], where, c) for i, c in zip(i_prod, prod_cols)])
        if not own:
            raise SawgridError(f"{path}: no data rows after the header")
        for name, s in own.items():
            last = s.times[-1]
            if (last.hour, last.minute) != (23, 45):
                raise SawgridError(f"{path}:{s.lines[-1]}: column 'timestamp': {name!r} ends at "
                                   f"{last:%Y-%m-%d %H:%M}; whole days are needed (end at 23:45 UTC)")
    return [_source_label(c) for c in prod_cols]


def _source_label(col: str) -> str:
    return "total" if col == "production" else _source_name(col)


def _csv_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise SawgridError(f"{path}: no *.csv files in this directory")
        return files
    if not path.exists():
        raise SawgridError(f"{path}: no such file or directory")
    return [path]


def _to_wh(kwh: np.ndarray) -> np.ndarray:
    """(..., rows) kWh per 15 minutes -> (..., hours) Wh int64 by SUM over each hour."""
    hourly = kwh.reshape(*kwh.shape[:-1], -1, QUARTERS_PER_HOUR).sum(axis=-1)
    return np.rint(hourly * 1000.0).astype(np.int64)


def load_csv(path_or_dir, *, source_column: str | None = None, scale: float = 1.0,
             start: dt.date | None = None, days: int | None = None) -> Dataset:
    """Read the paper's 15-minute CSV format (see the module docstring) into hourly Wh.

    source_column: keep only this production source ("wind" or "production_wind");
        default: all ``production_<source>`` columns.
    scale: factor applied to production (the paper keeps 35 %: ``scale=0.35``),
        before rounding to Wh.
    start, days: the window to keep (whole UTC days); default: the days all
        participants have in common.
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
        raise SawgridError(f"scale must be a finite number >= 0, got {scale!r}")
    if days is not None and (not isinstance(days, int) or days < 1):
        raise SawgridError(f"days must be a positive integer, got {days!r}")
    root = Path(path_or_dir)
    series: dict[str, _Series] = {}
    sources: list[str] | None = None
    files = _csv_files(root)
    for f in files:
        got = _read_file(f, source_column, series)
        if sources is None:
            sources = got
        elif got != sources:
            raise SawgridError(f"{f}:1: production columns ({', '.join(got)}) differ from "
                               f"{files[0].name} ({', '.join(sources)})")
    assert sources is not None
    first = {n: s.times[0].date() for n, s in series.items()}
    end = {n: s.times[-1].date() + dt.timedelta(days=1) for n, s in series.items()}
    w0 = start if start is not None else max(first.values())
    w1 = w0 + dt.timedelta(days=days) if days is not None else min(end.values())
    if w1 <= w0:
        raise SawgridError(f"{root}: the participants have no day in common "
                           f"(latest first day {max(first.values())}, earliest last day "
                           f"{min(end.values()) - dt.timedelta(days=1)})")
    for n, s in series.items():
        if first[n] > w0 or end[n] < w1:
            raise SawgridError(f"{s.file}:{s.first_line}: participant {n!r} has "
                               f"{first[n]}..{end[n] - dt.timedelta(days=1)}, which does not cover "
                               f"{w0}..{w1 - dt.timedelta(days=1)}")
    participants, cons_rows, prod_rows = [], [], []
    q0s = {n: (w0 - first[n]).days * HOURS_PER_DAY * QUARTERS_PER_HOUR for n in series}
    nq = (w1 - w0).days * HOURS_PER_DAY * QUARTERS_PER_HOUR
    for n, s in series.items():
        q0 = q0s[n]
        cons_rows.append(np.asarray(s.consumption[q0:q0 + nq], dtype=float))
        prod_rows.append(np.asarray(s.production[q0:q0 + nq], dtype=float).T * scale)
    cons = _to_wh(np.stack(cons_rows))
    per_source = _to_wh(np.stack(prod_rows))                   # (n, k, hours)
    by_source = {src: per_source[:, k, :] for k, src in enumerate(sources)}
    for n, s in series.items():
        i = len(participants)
        participants.append(Participant(
            name=n, kind=s.kind or "unknown",
            has_pv=bool("pv" in by_source and by_source["pv"][i].any()),
            has_wind=bool("wind" in by_source and by_source["wind"][i].any())))
    return Dataset(start=w0, participants=tuple(participants), consumption=cons,
                   production=per_source.sum(axis=1), source=f"csv {root}",
                   production_by_source=by_source)


# ------------------------------------------------------------------------ CSV export

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _quarters(wh: np.ndarray) -> np.ndarray:
    """Split hourly Wh (int) into four 15-minute Wh ints that sum back exactly."""
    base, rest = np.divmod(wh, QUARTERS_PER_HOUR)
    q = np.repeat(base[..., None], QUARTERS_PER_HOUR, axis=-1)
    q += (np.arange(QUARTERS_PER_HOUR) < rest[..., None])
    return q.reshape(*wh.shape[:-1], -1)


def _kwh_text(wh: int) -> str:
    return f"{wh // 1000}.{wh % 1000:03d}"


def to_csv(dataset: Dataset, path) -> Path:
    """Write `dataset` in the paper's format; returns the path written.

    ``path`` ending in ``.csv``: one file with a ``participant`` column;
    otherwise a directory (created) with one ``<participant>.csv`` per participant.
    Each hour becomes four 15-minute rows of kWh with 3 decimals (Wh), split as
    evenly as Wh allow, so :func:`load_csv` reads back the same hourly Wh.
    """
    target = Path(path)
    single = target.suffix.lower() == ".csv"
    if not single:
        for p in dataset.participants:
            if not _SAFE_NAME.match(p.name):
                raise SawgridError(f"participant name {p.name!r} cannot be a file name; "
                                   "write one .csv file instead")
    sources = dict(dataset.production_by_source) or {"total": dataset.production}
    src_names = sorted(sources)
    prod_cols = ["production" if s == "total" else f"production_{s}" for s in src_names]
    n, hours = dataset.consumption.shape
    t0 = dt.datetime.combine(dataset.start, dt.time())
    stamps = [(t0 + i * _QUARTER).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(hours * QUARTERS_PER_HOUR)]
    cons_q = _quarters(dataset.consumption)
    prod_q = [_quarters(sources[s]) for s in src_names]

    def rows(i: int, with_name: bool):
        p = dataset.participants[i]
        lead = [p.name] if with_name else []
        cons_i = cons_q[i].tolist()
        prod_i = [pq[i].tolist() for pq in prod_q]
        for k, ts in enumerate(stamps):
            yield [ts, *lead, p.kind, _kwh_text(cons_i[k]), *(_kwh_text(v[k]) for v in prod_i)]

    try:
        if single:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(["timestamp", "participant", "kind", "consumption", *prod_cols])
                for i in range(n):
                    w.writerows(rows(i, True))
        else:
            target.mkdir(parents=True, exist_ok=True)
            for i, p in enumerate(dataset.participants):
                with (target / f"{p.name}.csv").open("w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh, lineterminator="\n")
                    w.writerow(["timestamp", "kind", "consumption", *prod_cols])
                    w.writerows(rows(i, False))
    except OSError as err:
        raise SawgridError(f"{target}: cannot write: {err.strerror or err}") from None
    return target


# -------------------------------------------------------------- synthetic: raw data

def _require_data_extra():
    """Import the heavy packages of the 'data' extra, or fail with one clear line."""
    import importlib
    try:
        for module in ("pandas", "demandlib.bdew", "pvlib", "windpowerlib"):
            importlib.import_module(module)
    except ImportError:
        raise SawgridError(DATA_EXTRA_MESSAGE) from None


#: Site of the weather file (DWD TRY2010 region 13, station Mühldorf) and the
#: clock of the weather file and the BDEW profiles (CET = UTC+1, no DST).
SITE = MappingProxyType({"name": "DWD TRY2010 region 13 (Mühldorf)", "latitude": 48.2833,
                         "longitude": 12.5, "altitude": 405.0, "utc_offset_hours": 1})
_LOCAL = dt.timedelta(hours=SITE["utc_offset_hours"])
_TZ = "Etc/GMT-1"                  # POSIX sign: UTC+1
_TURBINES = (("E-53/800", 73.0), ("E-82/2300", 108.0), ("E-115/3000", 135.0))
_ROUGHNESS_M = 0.1
_CLASSIC_PROFILES = ("g0", "g1", "g2", "g3", "g4", "g5", "g6", "l0", "l1", "l2")

#: kind -> (share, profiles, annual kWh range, PV share, PV yield/consumption,
#:          wind share, wind yield/consumption, consumption noise (day, 15 min))
MIX = MappingProxyType({
    "household": (0.70, ("H25",), (1_500.0, 6_000.0), 0.35, (0.5, 1.2), 0.05, (0.5, 1.5), (0.10, 0.30)),
    "business": (0.20, tuple(f"G{i}" for i in range(7)), (10_000.0, 250_000.0),
                 0.50, (0.2, 0.8), 0.15, (0.5, 2.0), (0.05, 0.10)),
    "farm": (0.10, ("L0", "L1", "L2"), (15_000.0, 80_000.0), 0.50, (0.3, 1.0), 0.60, (1.0, 3.0), (0.08, 0.15)),
})


def _weather_path() -> Path:
    import demandlib
    path = Path(demandlib.__file__).parent / "vdi" / "resources_weather" / "TRY2010_13_Jahr.dat"
    if not path.is_file():
        raise SawgridError(f"weather file missing from the demandlib package: {path}")
    return path


@functools.lru_cache(maxsize=1)
def _weather() -> dict[str, np.ndarray]:
    """The typical year: 8760 rows (day-of-year x HH 1..24 CET), columns as arrays."""
    lines = _weather_path().read_text(encoding="latin-1").splitlines()
    try:
        body = lines[next(i for i, line in enumerate(lines) if line.startswith("***")) + 1:]
        arr = np.array([line.split() for line in body if line.strip()], dtype=float)
    except (StopIteration, ValueError) as err:
        raise SawgridError(f"cannot parse the weather file {_weather_path()}: {err}") from None
    if arr.shape != (8760, 19):
        raise SawgridError(f"unexpected weather file layout {arr.shape} in {_weather_path()}")
    # RG IS MM DD HH N WR WG t p x RF W B D IK A E IL
    return {"wind10": arr[:, 7], "temp": arr[:, 8], "dhi": arr[:, 14], "ghi": arr[:, 13] + arr[:, 14]}


_CUM_DAYS = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])


@functools.lru_cache(maxsize=16)
def _site(first: dt.datetime, count: int):
    """Weather and sun at the hourly local instants first, first+1h, ... (CET, naive).

    The TRY value labelled hour HH of a day describes the hour centred on HH:00
    (its daily irradiance centroid is solar noon), so it is used as the value
    at instant HH:00; hour-long intervals are then the mean of their two ends.
    """
    import pandas as pd
    import pvlib
    times = pd.date_range(first, periods=count, freq="h")
    label = times - pd.Timedelta(hours=1)            # HH = label.hour + 1 on label's day
    month, day = np.asarray(label.month), np.asarray(label.day)
    doy = _CUM_DAYS[month - 1] + day - 1
    doy = np.where((month == 2) & (day == 29), 58, doy)   # the typical year has no 29 February
    rows = doy * HOURS_PER_DAY + np.asarray(label.hour)
    w = _weather()
    aware = times.tz_localize(_TZ)
    sun = pvlib.solarposition.get_solarposition(aware, SITE["latitude"], SITE["longitude"], SITE["altitude"])
    ghi, dhi = w["ghi"][rows], w["dhi"][rows]
    zenith = np.asarray(sun["zenith"])
    dni = np.nan_to_num(np.asarray(pvlib.irradiance.dni(ghi, dhi, zenith), dtype=float))
    return {
        "zenith": np.asarray(sun["apparent_zenith"]), "azimuth": np.asarray(sun["azimuth"]),
        "ghi": ghi, "dhi": dhi, "dni": dni, "temp": w["temp"][rows], "wind10": w["wind10"][rows],
        "dni_extra": np.asarray(pvlib.irradiance.get_extra_radiation(aware), dtype=float),
    }


def _pv_w(site, kwp: float, tilt: float, azimuth: float, derate: float) -> np.ndarray:
    """AC power (W) of a PV system at the site's instants (pvlib, PVWatts)."""
    import pvlib
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, site["zenith"], site["azimuth"], site["dni"], site["ghi"], site["dhi"],
        dni_extra=site["dni_extra"], albedo=0.2, model="haydavies")
    g = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)).clip(0)
    cell = pvlib.temperature.faiman(g, site["temp"], site["wind10"])
    dc = np.asarray(pvlib.pvsystem.pvwatts_dc(g, cell, kwp * 1000.0, -0.004), dtype=float) * derate
    ac = np.asarray(pvlib.inverter.pvwatts(dc, kwp * 1000.0), dtype=float)
    return np.nan_to_num(ac).clip(0)


@functools.lru_cache(maxsize=None)
def _turbine_curve(turbine: str) -> tuple[np.ndarray, np.ndarray, float]:
    from windpowerlib import WindTurbine
    hub = dict(_TURBINES)[turbine]
    t = WindTurbine(hub_height=hub, turbine_type=turbine)        # windpowerlib's bundled oedb library
    if t.power_curve is None or not t.nominal_power:
        raise SawgridError(f"windpowerlib has no power curve for {turbine}")
    return (np.asarray(t.power_curve["wind_speed"], dtype=float),
            np.asarray(t.power_curve["value"], dtype=float), float(t.nominal_power))


def _wind_w_per_kw(site, turbine: str) -> np.ndarray:
    """Power (W) per kW of turbine capacity at the site's instants (windpowerlib)."""
    from windpowerlib import power_output, wind_speed
    speeds, values, nominal = _turbine_curve(turbine)
    v = wind_speed.logarithmic_profile(site["wind10"], 10.0, dict(_TURBINES)[turbine], _ROUGHNESS_M)
    p = np.asarray(power_output.power_curve(np.asarray(v, dtype=float), speeds, values), dtype=float)
    return np.nan_to_num(p).clip(0) / nominal * 1000.0


@functools.lru_cache(maxsize=1)
def _yields() -> dict[str, float]:
    """Typical-year kWh per kW: PV (south, 30 deg, 13 % losses) and each turbine."""
    site = _site(dt.datetime(2023, 1, 1, 0), 8760 + 1)
    out = {"pv": float(_intervals(_pv_w(site, 1.0, 30.0, 180.0, 0.87)).sum() / 1000.0)}
    for turbine, _hub in _TURBINES:
        out[turbine] = float(_intervals(_wind_w_per_kw(site, turbine)).sum() / 1000.0)
    return out


def _intervals(instants: np.ndarray) -> np.ndarray:
    """Mean power over each hour between consecutive instants (trapezoid) = Wh per hour."""
    return (instants[:-1] + instants[1:]) / 2.0


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    return dt.date(year, month, (h + l_ - 7 * m + 33 * month + 19) % 32)


def _holidays(year: int) -> list[dt.date]:
    """Slovak public holidays that are days off."""
    fixed = [(1, 1), (1, 6), (5, 1), (5, 8), (7, 5), (8, 29), (9, 15), (11, 1), (12, 24), (12, 25), (12, 26)]
    easter = _easter(year)
    return sorted([dt.date(year, m, d) for m, d in fixed]
                  + [easter - dt.timedelta(days=2), easter + dt.timedelta(days=1)])


@functools.lru_cache(maxsize=1)
def _selp_table() -> dict[tuple[str, int], np.ndarray]:
    """demandlib's BDEW 1999 profiles: (period, weekday 1..7) -> (96, len(_CLASSIC_PROFILES))."""
    from demandlib.bdew import _profiles25
    path = Path(_profiles25._bdew_datapath) / "selp_series.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        idx = [header.index(p) for p in _CLASSIC_PROFILES]
        i_period, i_weekday = header.index("period"), header.index("weekday")
        table: dict[tuple[str, int], list] = {}
        for row in reader:
            table.setdefault((row[i_period], int(row[i_weekday])), []).append([float(row[i]) for i in idx])
    out = {k: np.asarray(v) for k, v in table.items()}
    if len(out) != 21 or any(v.shape != (96, len(idx)) for v in out.values()):
        raise SawgridError(f"unexpected layout of {path}")
    return out


def _bdew_period(day: dt.date) -> str:
    md = (day.month, day.day)
    if md <= (3, 20) or md >= (11, 1):
        return "winter"
    if (5, 15) <= md <= (9, 14):
        return "summer"
    return "transition"


@functools.lru_cache(maxsize=8)
def _slp_year(year: int) -> dict[str, np.ndarray]:
    """Every load profile of a year as fractions of the annual energy per 15 minutes (local time)."""
    import warnings

    import pandas as pd
    from demandlib import bdew
    ndays = (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days
    holidays = set(_holidays(year))
    table = _selp_table()
    classic = np.empty((ndays * 96, len(_CLASSIC_PROFILES)))
    for d in range(ndays):
        day = dt.date(year, 1, 1) + dt.timedelta(days=d)
        weekday = 7 if day in holidays else day.isoweekday()
        classic[d * 96:(d + 1) * 96] = table[(_bdew_period(day), weekday)]
    classic /= classic.sum(axis=0)
    out = {p.upper(): np.ascontiguousarray(classic[:, k]) for k, p in enumerate(_CLASSIC_PROFILES)}
    index = pd.date_range(dt.datetime(year, 1, 1), periods=ndays * 96, freq="15min")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h25 = np.asarray(bdew.H25(index, holidays=sorted(holidays)), dtype=float)
    if h25.shape != (ndays * 96,) or not np.isfinite(h25).all():
        raise SawgridError("demandlib's H25 profile has an unexpected shape")
    out["H25"] = h25 / h25.sum()
    return out


def _slp_window(profile: str, first: dt.datetime, count: int) -> np.ndarray:
    """`count` quarter-hour fractions of `profile` from local time `first` (across years)."""
    parts, t, left = [], first, count
    while left:
        arr = _slp_year(t.year)[profile]
        off = int((t - dt.datetime(t.year, 1, 1)) / _QUARTER)
        take = min(left, len(arr) - off)
        parts.append(arr[off:off + take])
        t += take * _QUARTER
        left -= take
    return np.concatenate(parts)


# ------------------------------------------------------------ synthetic: participants

def _largest_remainder(n: int, shares: Iterable[float]) -> list[int]:
    shares = list(shares)
    raw = [n * s / sum(shares) for s in shares]
    counts = [int(math.floor(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _lognormal(rng: np.random.Generator, sigma: float, size) -> np.ndarray:
    """Multiplicative noise with mean 1."""
    return np.exp(rng.normal(-sigma * sigma / 2.0, sigma, size))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


#: a winter Monday; in the weather file the week 12-18 February has a sold/bought
#: ratio (0.63 with the default mix) close to the paper's (2.0 / 3.36 GWh = 0.60).
#: (Winter weeks range from almost no wind, 0.05, to 1.2.)
DEFAULT_START = dt.date(2024, 2, 12)


def synthetic(n: int = 103, days: int = 7, seed: int = 0, start: dt.date = DEFAULT_START) -> Dataset:
    """A deterministic dataset from real shipped profiles (see the module docstring).

    The same arguments always give identical arrays (cached in-process).
    Needs the 'data' extra (demandlib, pvlib, windpowerlib).
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SawgridError(f"n must be a positive integer, got {n!r}")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 366:
        raise SawgridError(f"days must be an integer in 1..366, got {days!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SawgridError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(start, dt.datetime) or not isinstance(start, dt.date):
        raise SawgridError(f"start must be a datetime.date, got {start!r}")
    _require_data_extra()
    import warnings
    with warnings.catch_warnings():      # pandas 3 deprecation chatter from pvlib / windpowerlib
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return _synthetic(n, days, seed, start)


@functools.lru_cache(maxsize=8)
def _synthetic(n: int, days: int, seed: int, start: dt.date) -> Dataset:
    hours = days * HOURS_PER_DAY
    # local instants from one hour before the first UTC hour's start to one hour after the last's end
    local0 = dt.datetime.combine(start, dt.time()) + _LOCAL
    site = _site(local0 - dt.timedelta(hours=1), hours + 3)
    yields = _yields()

    seq = np.random.SeedSequence(seed)
    mix_seq, *part_seqs = seq.spawn(n + 1)
    mix_rng = np.random.default_rng(mix_seq)
    kinds = list(MIX)
    counts = _largest_remainder(n, (MIX[k][0] for k in kinds))
    plan: list[tuple[str, int, bool, bool]] = []
    for kind, count in zip(kinds, counts):
        _share, _profiles, _annual, pv_share, _pv, wind_share, _wind, _noise = MIX[kind]
        n_pv, n_wind = (int(math.floor(count * s + 0.5)) for s in (pv_share, wind_share))
        pv_set = set(mix_rng.permutation(count)[:n_pv].tolist())
        wind_set = set(mix_rng.permutation(count)[:n_wind].tolist())
        plan += [(kind, k + 1, k in pv_set, k in wind_set) for k in range(count)]

    margin = QUARTERS_PER_HOUR                  # consumption shift of up to one hour either way
    nq = hours * QUARTERS_PER_HOUR
    participants, cons, pv, wind = [], np.zeros((n, hours)), np.zeros((n, hours)), np.zeros((n, hours))
    for i, ((kind, k, has_pv, has_wind), pseq) in enumerate(zip(plan, part_seqs)):
        rng = np.random.default_rng(pseq)
        _share, profiles, (lo, hi), _ps, pv_ratio, _ws, wind_ratio, (sd_day, sd_q) = MIX[kind]
        profile = profiles[int(rng.integers(len(profiles)))]
        annual = round(_log_uniform(rng, lo, hi), 1)
        shift = int(rng.integers(-margin, margin + 1))
        frac = _slp_window(profile, local0 - margin * _QUARTER, nq + 2 * margin)[margin + shift: margin + shift + nq]
        q = annual * 1000.0 * frac
        q *= np.repeat(_lognormal(rng, sd_day, days), HOURS_PER_DAY * QUARTERS_PER_HOUR)
        q *= _lognormal(rng, sd_q, nq)
        cons[i] = q.reshape(hours, QUARTERS_PER_HOUR).sum(axis=1)
        kwp = kw = None
        if has_pv:
            kwp = max(1.0, round(annual * rng.uniform(*pv_ratio) / yields["pv"], 1))
            tilt, azimuth, derate = rng.uniform(15, 45), rng.uniform(135, 225), rng.uniform(0.82, 0.92)
            power = _pv_w(site, kwp, tilt, azimuth, derate)[1:hours + 2]
            pv[i] = _intervals(power) * _lognormal(rng, 0.10, hours)
        if has_wind:
            turbine = _TURBINES[int(rng.integers(len(_TURBINES)))][0]
            kw = max(1.0, round(annual * rng.uniform(*wind_ratio) / yields[turbine], 1))
            s = int(rng.integers(-1, 2))
            power = _wind_w_per_kw(site, turbine)[1 + s: hours + 2 + s] * kw
            wind[i] = _intervals(power) * _lognormal(rng, 0.10, hours)
        participants.append(Participant(
            name=f"{kind}-{k:03d}", kind=kind, has_pv=has_pv, has_wind=has_wind,
            profile=profile, annual_kwh=annual, pv_kwp=kwp, wind_kw=kw))
    as_wh = lambda a: np.rint(a).astype(np.int64)  # noqa: E731
    by_source = {"pv": as_wh(pv), "wind": as_wh(wind)}
    return Dataset(start=start, participants=tuple(participants), consumption=as_wh(cons),
                   production=by_source["pv"] + by_source["wind"],
                   source=f"synthetic seed={seed} n={n} days={days} start={start.isoformat()}",
                   production_by_source=by_source)


# --------------------------------------------------------------- paper preparation

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
            v = arr[owner, s] * _lognormal(rng, 0.10, 1) * _lognormal(rng, 0.05, HOURS_PER_DAY)
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
