"""Where a meter agent's numbers come from: a day's hourly consumption and
production (what it plans to trade) and, after a delivery hour, what the meter
measured (what it reads for settlement).

A source is anything with the two methods of :class:`Source`. This module
has the sources that need nothing but the standard library:

* :class:`ArraySource`: hourly Wh arrays from the first day they cover, e.g.
  the paper's 15-minute CSV or a synthetic household (both built by the CLI
  from `clients.simulation.data`, which sits above this layer, and by the
  experiment from its dataset). A replayed household has no meter of its own:
  it consumes as it traded, so its reading is what it traded (`reading` is
  None), as the experiment's honest meters read. With `repeat`, days past the
  end start again from the first (a week of data trades every week).
* :class:`CommandSource` (`cmd:PROGRAM ARGS...`): runs `PROGRAM ARGS plan
  YYYY-MM-DD`, which prints `{"consumption_wh": [24 ints], "production_wh":
  [24 ints]}`, and `PROGRAM ARGS read YYYY-MM-DD H`, which prints
  `{"exported_wh": N, "imported_wh": N}`.
* :class:`HttpSource` (`http://...`): GET `URL/plan/YYYY-MM-DD` and
  `URL/reading/YYYY-MM-DD/H` answering the same JSON (urllib: one GET each,
  no session to keep).

Either may answer "nothing" (exit 3, HTTP 404): the day is skipped, or the
hour is read as traded. Anything else that fails is a `SourceError`: the agent
logs it and tries again in its next cycle.
"""
from __future__ import annotations

import json
import shlex
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors.market.units import HOURS_PER_DAY, day_date

COMMAND_TIMEOUT = 30.0   # seconds a cmd: source may take to answer
HTTP_TIMEOUT = 10.0
NOTHING_EXIT = 3         # a cmd: source's "no data for that day or hour"

Day = tuple[list[int], list[int]]   # (consumption_wh[24], production_wh[24])


class SourceError(SawgridError):
    """A source that failed to answer (the agent retries in its next cycle)."""


class Source(Protocol):
    name: str

    def day(self, day: int) -> Day | None:
        """The delivery day's hourly consumption and production, Wh (None: no data)."""

    def reading(self, day: int, hour: int) -> tuple[int, int] | None:
        """(exported_wh, imported_wh) measured in the hour; None: as traded."""


@dataclass(frozen=True)
class ArraySource:
    """Hourly Wh arrays that start on `start_day` (a ledger day number)."""
    name: str
    consumption_wh: np.ndarray
    production_wh: np.ndarray
    start_day: int
    repeat: bool = False

    def __post_init__(self) -> None:
        c, p = np.asarray(self.consumption_wh), np.asarray(self.production_wh)
        if c.shape != p.shape or c.ndim != 1 or not c.size or c.size % HOURS_PER_DAY:
            raise SawgridError(f"{self.name}: consumption and production must cover the same whole days")

    @property
    def days(self) -> int:
        return len(self.consumption_wh) // HOURS_PER_DAY

    def day(self, day: int) -> Day | None:
        d = day - self.start_day
        if self.repeat:
            d %= self.days
        if not 0 <= d < self.days:
            return None
        hours = slice(d * HOURS_PER_DAY, (d + 1) * HOURS_PER_DAY)
        return ([int(x) for x in self.consumption_wh[hours]], [int(x) for x in self.production_wh[hours]])

    def reading(self, day: int, hour: int) -> tuple[int, int] | None:
        return None


def _hours(doc: object, key: str, where: str) -> list[int]:
    values = doc.get(key) if isinstance(doc, dict) else None
    if (not isinstance(values, list) or len(values) != HOURS_PER_DAY
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)):
        raise SourceError(f"{where}: {key!r} must be {HOURS_PER_DAY} whole, non-negative Wh")
    return values


def _plan(doc: object, where: str) -> Day:
    return _hours(doc, "consumption_wh", where), _hours(doc, "production_wh", where)


def _reading(doc: object, where: str) -> tuple[int, int]:
    out = []
    for key in ("exported_wh", "imported_wh"):
        value = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SourceError(f"{where}: {key!r} must be whole, non-negative Wh")
        out.append(value)
    return out[0], out[1]


def _json(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceError(f"{where}: not JSON ({err.msg})") from None


@dataclass(frozen=True)
class CommandSource:
    """A program that answers `plan DATE` and `read DATE HOUR` with JSON on stdout."""
    argv: tuple[str, ...]

    @property
    def name(self) -> str:
        return "cmd:" + shlex.join(self.argv)

    def _ask(self, *args: str) -> object | None:
        where = f"{self.name} {' '.join(args)}"
        try:
            done = subprocess.run([*self.argv, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except OSError as err:
            raise SourceError(f"{where}: cannot run: {err.strerror}") from None
        except subprocess.TimeoutExpired:
            raise SourceError(f"{where}: no answer within {COMMAND_TIMEOUT:.0f} s") from None
        if done.returncode == NOTHING_EXIT:
            return None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            raise SourceError(f"{where}: exit {done.returncode}" + (f": {last}" if last else ""))
        return _json(done.stdout, where)

    def day(self, day: int) -> Day | None:
        doc = self._ask("plan", day_date(day).isoformat())
        return None if doc is None else _plan(doc, f"{self.name} plan")

    def reading(self, day: int, hour: int) -> tuple[int, int] | None:
        doc = self._ask("read", day_date(day).isoformat(), str(hour))
        return None if doc is None else _reading(doc, f"{self.name} read")


@dataclass(frozen=True)
class HttpSource:
    """An HTTP endpoint: GET URL/plan/DATE and URL/reading/DATE/HOUR."""
    url: str

    @property
    def name(self) -> str:
        return self.url

    def _get(self, path: str) -> object | None:
        where = f"{self.url.rstrip('/')}/{path}"
        try:
            with urllib.request.urlopen(where, timeout=HTTP_TIMEOUT) as answer:
                return _json(answer.read().decode("utf-8", "replace"), where)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise SourceError(f"{where}: HTTP {err.code}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise SourceError(f"{where}: unreachable ({reason})") from None

    def day(self, day: int) -> Day | None:
        doc = self._get(f"plan/{day_date(day).isoformat()}")
        return None if doc is None else _plan(doc, self.url)

    def reading(self, day: int, hour: int) -> tuple[int, int] | None:
        doc = self._get(f"reading/{day_date(day).isoformat()}/{hour}")
        return None if doc is None else _reading(doc, self.url)


Loader = Callable[[str], Source]


def parse_source(spec: str, loaders: Mapping[str, Loader] | None = None) -> Source:
    """`cmd:PROGRAM ARGS...`, `http(s)://...`, or `KIND:REST` for a loader the
    caller gives (the CLI's `csv:` and `synthetic:`); SawgridError otherwise."""
    kind, sep, rest = spec.partition(":")
    loaders = dict(loaders or {})
    if kind in ("http", "https") and sep:
        return HttpSource(spec)
    if kind == "cmd" and rest.strip():
        return CommandSource(tuple(shlex.split(rest)))
    if kind in loaders and sep:
        return loaders[kind](rest)
    kinds = ", ".join([*(f"{k}:..." for k in loaders), "cmd:PROGRAM", "http://HOST/PATH"])
    raise SawgridError(f"--source: expected one of {kinds}, got {spec!r}")


def check_hours(values: Sequence[int], what: str) -> list[int]:
    """24 whole Wh (for tests and callers building sources by hand)."""
    return _hours({what: list(values)}, what, what)
