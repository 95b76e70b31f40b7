"""Progress of a `sawgrid simulate` run, on stderr: a tqdm bar on a terminal, plain lines elsewhere.

On a terminal (the stream is a TTY) each scenario gets a tqdm bar with one
step per simulated hour, the hour being traded as its note, and the
elapsed time; phases (setup, reading the contracts back) are lines above it.

Off a terminal (output to a file, a pipe, a CI log) a bar's carriage
returns would make the log unreadable and show nothing until the end, so
there is no bar: one line per phase and one per simulated day, each
written and flushed as it happens, stamped with the time since the start::

    [    0.0 s] setup: 103 participants, 2 scenarios x 7 days
    [    3.1 s] without recommendations: trading 7 days
    [   14.9 s] without recommendations: day 1/7 (2024-02-12) done in 11.8 s
    ...

A large run's day takes minutes (10,000 participants: eleven), so off a
terminal an hour also gets a line when HOUR_LINE_SECONDS have passed since
the last line::

    [  352.6 s] without recommendations: hour 2/72 (2024-02-12 01:00) done

No estimate of the time left, in either mode. The work per simulated hour
is not uniform: days 1-2 have no recommendations; from day 3 on the
scenario with recommendations reads every participant's recommendation and
runs the PAR engine each day, the ledger grows as contracts accumulate, and
reading back solves an optimal schedule per day. A linear extrapolation
(elapsed / fraction done) therefore runs ahead of reality: at 20 % of a
5,000-participant run it said 561 s left of what took 25 minutes. An
estimate from measured per-phase cost cannot be had either, since the
costliest days (the with scenario's, from day 3) have not been measured
when most of the run is still ahead. So both displays show only facts: the
elapsed time, and off a terminal how long each day took.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from tqdm import tqdm

__all__ = ["Progress"]

#: tqdm's default format without {remaining} and {rate_fmt} (see the module docstring)
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} h [{elapsed}{postfix}]"


#: off a terminal, an hour's line once this long has passed without a line
HOUR_LINE_SECONDS = 30.0


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):       # no isatty, or a closed stream
        return False


class Progress:
    """What a simulation run is doing, for a person watching or a log.

    Parameters:
        enabled: False shows nothing; True or None show progress (None is
            the runner's "automatic": a bar or lines, by the stream).
        stream: where to write (default: ``sys.stderr`` at construction).
        interactive: force the terminal bar (True) or the plain lines
            (False); default: whether `stream` is a TTY.
        clock: seconds, monotonic (a test passes a fake one).

    A run calls :meth:`phase` for each phase, and per scenario
    :meth:`begin`, :meth:`hour` for every simulated hour, :meth:`day` at
    the end of every simulated day and :meth:`end`.
    """

    def __init__(self, enabled: bool | None = None, *, stream: TextIO | None = None,
                 interactive: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled is not False
        self.stream = sys.stderr if stream is None else stream
        self.interactive = _is_terminal(self.stream) if interactive is None else bool(interactive)
        self._clock = clock
        self._started = clock()
        self._bar: tqdm | None = None
        self._label = ""
        self._days = 0
        self._scenario_started = self._day_started = self._last_line = self._started
        self._hours = self._hours_done = 0

    def elapsed(self) -> float:
        """Seconds since this Progress was made."""
        return self._clock() - self._started

    def phase(self, text: str) -> None:
        """A phase starts (setup, reading back, ...): one line in either mode."""
        self._line(text)

    def begin(self, label: str, days: int, hours_per_day: int) -> None:
        """A scenario of `days` simulated days of `hours_per_day` hours starts."""
        self.end()
        self._label, self._days = label, days
        self._hours, self._hours_done = days * hours_per_day, 0
        self._scenario_started = self._day_started = self._clock()
        if not self.enabled:
            return
        if self.interactive:
            self._bar = tqdm(total=days * hours_per_day, desc=label, unit="h", file=self.stream,
                             bar_format=BAR_FORMAT, dynamic_ncols=True, leave=True)
        else:
            self._line(f"{label}: trading {days} day{'s' if days != 1 else ''}")

    def hour(self, note: str = "") -> None:
        """One simulated hour is done; `note` (e.g. the hour traded) shows on the bar."""
        self._hours_done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(1)
        elif self.enabled and self._clock() - self._last_line >= HOUR_LINE_SECONDS:
            self._line(f"{self._label}: hour {self._hours_done}/{self._hours}{f' ({note})' if note else ''} done")

    def note(self, text: str) -> None:
        """What the scenario is doing now, between hours (e.g. the PAR engine's run); bar only."""
        if self._bar is not None:
            self._bar.set_postfix_str(text)

    def day(self, index: int, date: str) -> None:
        """Simulated day `index` (0-based), dated `date`, is done: a line off a terminal."""
        now = self._clock()
        took, self._day_started = now - self._day_started, now
        if not self.interactive:
            self._line(f"{self._label}: day {index + 1}/{self._days} ({date}) done in {took:.1f} s")

    def end(self) -> None:
        """The current scenario (if any) is done: its bar is closed, and one line."""
        if not self._label:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        took = self._clock() - self._scenario_started
        self._line(f"{self._label}: {self._days} day{'s' if self._days != 1 else ''} done in {took:.1f} s")
        self._label = ""

    def _line(self, text: str) -> None:
        if not self.enabled:
            return
        self._last_line = now = self._clock()
        line = f"[{now - self._started:7.1f} s] {text}"
        if self._bar is not None:
            self._bar.write(line, file=self.stream)        # above the bar, which is redrawn below
        else:
            self.stream.write(line + "\n")
            self.stream.flush()
