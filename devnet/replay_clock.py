"""A replay clock for the injected BlockInfo timestamps (experiments only).

`sawgrid simulate` replays a past week: its meters read, and its cluster
members attest, each delivery hour right after it ends, and the operator
expires what is left after the settlement window. All of that is checked
against the chain's time (BlockInfo), never the wall clock. A validator
stamps BlockInfo with its wall clock, so on devnet a replay of 2024 would find
every deadline long passed. With `sawgrid devnet --clock-file PATH` (hidden
from `--help`, like `--faults`) devnet stamps each injected BlockInfo with the
seconds written in PATH instead, and the experiment moves that clock forward
as it replays the hours.

This is what a validator whose system clock is set back would do, and the
block_info rules allow it: a timestamp may lag the processors' clocks (only
one more than `sync_tolerance` ahead of them is refused) and must never
decrease. So the clock never goes backwards: a value below the last one read
(or a file that cannot be read, mid-write) reads as the last one.
"""
from __future__ import annotations

from pathlib import Path


class FileClock:
    """`clock()` -> the seconds in `path` (a decimal number), never decreasing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._last = self._read()
        if self._last is None:
            raise ValueError(f"--clock-file: {self.path} must hold a number of seconds since 1970")

    def _read(self) -> float | None:
        try:
            value = float(self.path.read_text().strip())
        except (OSError, ValueError):
            return None
        return value if value >= 0 else None

    def __call__(self) -> float:
        value = self._read()
        if value is not None and value > self._last:
            self._last = value
        return self._last


def write(path: Path, seconds: float) -> None:
    """Set the clock: replace `path` atomically (a reader never sees half a number)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{seconds:.0f}\n")
    temporary.replace(path)
