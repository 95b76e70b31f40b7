"""The market clock's time: real (this machine's UTC clock) or simulated.

`--clock sim:START:SPEED` runs from START (an ISO date or date-time, UTC, or
seconds since 1970) SPEED times faster than real time: `sim:2024-02-11T23:00:00:3600`
turns an hour into a second. The simulated time reaches the chain through
devnet's `--clock-file` (devnet/replay_clock.py: devnet stamps each block's
BlockInfo with the seconds in that file), which `SimTime` rewrites as it goes;
the processors and the meters see only chain time, so they follow the hours
the clock closes. A restarted simulated clock resumes from the later of
START and the time it had reached (`resume_from`): it never goes back.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.devnet.replay_clock import write

REAL = "real"
SIM = "sim"


class RealTime:
    """Seconds since 1970 by this machine's clock."""
    description = "real time (UTC)"

    def now(self) -> int:
        return int(time.time())


@dataclass
class SimTime:
    """START + SPEED × the real seconds since the clock (re)started."""
    start: int
    speed: float
    path: Path | None = None        # devnet's --clock-file, rewritten as time moves
    resume_from: int = 0
    _base: int = field(init=False)
    _t0: float = field(init=False)
    _written: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._base = max(int(self.start), int(self.resume_from))
        self._t0 = time.monotonic()

    @property
    def description(self) -> str:
        return (f"simulated from {dt.datetime.fromtimestamp(self._base, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC, "
                f"x{self.speed:g}")

    def now(self) -> int:
        seconds = self._base + int((time.monotonic() - self._t0) * self.speed)
        if self.path is not None and seconds != self._written:
            write(self.path, seconds)
            self._written = seconds
        return seconds


def _instant(text: str) -> int:
    if text.isdigit():
        return int(text)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SawgridError(f"--clock: START must be an ISO date or date-time (UTC) or seconds, got {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return int(value.timestamp())


def parse_clock(text: str, path: Path | None = None, resume_from: int = 0) -> RealTime | SimTime:
    """'real' or 'sim:START:SPEED' (START may contain colons: SPEED is after the last one)."""
    if text == REAL:
        return RealTime()
    kind, _, rest = text.partition(":")
    start, _, speed = rest.rpartition(":")
    if kind != SIM or not start or not speed:
        raise SawgridError(f"--clock: expected 'real' or 'sim:START:SPEED', got {text!r}")
    try:
        factor = float(speed)
    except ValueError:
        raise SawgridError(f"--clock: SPEED must be a number, got {speed!r}") from None
    if not 0 < factor <= 1_000_000:
        raise SawgridError(f"--clock: SPEED must be in (0, 1000000], got {speed}")
    return SimTime(_instant(start), factor, path, resume_from)
