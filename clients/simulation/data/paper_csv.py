"""The paper's 15-minute CSV format (Section 5.1): :func:`load_csv` and :func:`to_csv`.

One CSV row per 15 minutes with total consumption and production per source,
aggregated to hours by SUM. Schema::

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

:func:`to_csv` writes a Dataset back in this format (each hour split into four
equal 15-minute rows, Wh exact), so ``load_csv(to_csv(ds))`` == ds.

(The module is not called ``csv`` so that it does not shadow the standard
library's :mod:`csv`, which it uses.)
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.simulation.data.model import QUARTER, QUARTERS_PER_HOUR, Dataset, Participant
from sawgrid.processors.market.units import HOURS_PER_DAY, WH_PER_KWH

__all__ = ["load_csv", "to_csv"]


# ------------------------------------------------------------------------ import

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
                expected = s.times[-1] + QUARTER
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
    return np.rint(hourly * WH_PER_KWH).astype(np.int64)


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


# ------------------------------------------------------------------------ export

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _quarters(wh: np.ndarray) -> np.ndarray:
    """Split hourly Wh (int) into four 15-minute Wh ints that sum back exactly."""
    base, rest = np.divmod(wh, QUARTERS_PER_HOUR)
    q = np.repeat(base[..., None], QUARTERS_PER_HOUR, axis=-1)
    q += (np.arange(QUARTERS_PER_HOUR) < rest[..., None])
    return q.reshape(*wh.shape[:-1], -1)


def _kwh_text(wh: int) -> str:
    return f"{wh // WH_PER_KWH}.{wh % WH_PER_KWH:03d}"


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
    stamps = [(t0 + i * QUARTER).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(hours * QUARTERS_PER_HOUR)]
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

