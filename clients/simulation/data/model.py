"""The :class:`Dataset` every source of simulation input produces.

``n`` participants, whole days from a first day ``start``, hourly **Wh** as
``int64`` arrays of shape ``(n, days*24)``. Hours are UTC: hour ``h`` of day
``d`` is ``[start+d h:00Z, start+d h+1:00Z)``. Arrays are validated and stored
as read-only copies.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors.market.units import HOURS_PER_DAY

__all__ = ["Participant", "Dataset", "QUARTERS_PER_HOUR", "QUARTER"]

QUARTERS_PER_HOUR = 4
#: one row of the paper's 15-minute data
QUARTER = dt.timedelta(minutes=15)


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
        """Number of participants."""
        return len(self.participants)

    def days(self) -> int:
        """Number of whole days covered."""
        return self.consumption.shape[1] // HOURS_PER_DAY

    def date(self, d: int) -> dt.date:
        """The calendar date (UTC) of day `d` (0-based); IndexError outside the dataset."""
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
        """Row of the participant called `name`; KeyError if there is none."""
        for i, p in enumerate(self.participants):
            if p.name == name:
                return i
        raise KeyError(name)
