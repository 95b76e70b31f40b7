"""The market clock (`sawgrid operator clock`): the operator's side of a
market that runs by itself.

**One gate per delivery day.** At day D's gate closure, `gate_lead` seconds
before D starts (default 12 h: noon the day before, as on Europe's day-ahead
markets), it closes each of D's 24 delivery hours (resting offers and orders
trade with the grid or expire) and ends the day's trading: it publishes the
grid prices of D + 1 when it is given prices and that day has none, then
runs the PAR engine on D's trades (par_engine.Engine.run: settlement duties,
D + 1's penalties and recommendations, the archive of finished days). So D + 1
is issued a whole day before its own gate, and the meters have that day to
place it. (Hourly gates would leave them one hour: the engine needs a day's
trades complete before it can issue the next, and the paper's
recommendations are for a whole day. The contracts are the same either way:
each hour's book matches in the order its orders arrive, and closing moves
only the remainders to the grid.)

Days before `issue_from` are issued without penalties or recommendations (a
network's first days, or the paper's experiment, have no history yet): an
all-1.0 penalty record, which is also what tells the meters that the day is
open for their day-ahead orders.

Progress is on chain (closed books, issued days) and in an optional state
file (the next gate), so a restarted clock loses and repeats nothing:
closing a closed hour and issuing an issued day are both skipped.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sawtooth_signing import Signer

from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.reputation import format_time as reputation_time
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.sdk.rest import BatchInvalid, RestError
from sawgrid.par_engine.engine import Engine
from sawgrid.processors.market.units import HOURS_PER_DAY, NO_PENALTY, day_date
from sawgrid.processors.reputation.settings import DAY_SECONDS, HOUR_SECONDS

LOG = logging.getLogger("sawgrid.clock")
STATE_VERSION = 2
DEFAULT_GATE_LEAD = 12 * HOUR_SECONDS


@dataclass
class ClockConfig:
    issue_from: int | None = None                              # first day the PAR engine issues
    grid_prices: tuple[Sequence[int], Sequence[int]] | None = None   # (buy, sell) µEUR/kWh × 24 for days without
    gate_lead: int = DEFAULT_GATE_LEAD                         # seconds before a day starts that its gate closes
    poll: float = 0.2                                          # real seconds between looks at the time
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.gate_lead <= DAY_SECONDS:
            raise SawgridError(f"--gate-lead: 0..24 hours, got {self.gate_lead / HOUR_SECONDS:g}")


def gate(day: int, lead: int = DEFAULT_GATE_LEAD) -> int:
    """Chain second at which delivery day `day` closes: `lead` seconds before it starts."""
    return day * DAY_SECONDS - lead


def _day_text(day: int) -> str:
    return day_date(day).isoformat()


class MarketClock:
    """Closes hours on time and ends days, against `rest`, signed by an operator."""

    def __init__(self, rest, signer: Signer, engine: Engine, timebase, config: ClockConfig | None = None,
                 state_path: Path | None = None, stop: threading.Event | None = None) -> None:
        self.rest = rest
        self.reader = MarketReader(rest)
        self.signer = signer
        self.engine = engine
        self.time = timebase
        self.config = config or ClockConfig()
        self.state_path = Path(state_path) if state_path is not None else None
        self.stop = stop or threading.Event()
        self.next_day: int | None = None      # the next day whose gate closes
        self.late_seconds: list[int] = []     # how late (chain seconds) each day's gate was closed
        self._load()

    # -- state ------------------------------------------------------------------------
    def _load(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            return
        try:
            doc = json.loads(self.state_path.read_text())
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"not version {STATE_VERSION}")
            self.next_day = int(doc["next_day"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise SawgridError(f"--state: {self.state_path} is not a clock state file ({err})") from None

    def _save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        temporary.write_text(json.dumps({"version": STATE_VERSION, "next_day": self.next_day}))
        os.replace(temporary, self.state_path)

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> int:
        failures = 0
        while not self.stop.is_set():
            wait = self.config.poll
            try:
                self.step()
                failures = 0
            except RestError as err:
                wait = min(self.config.max_backoff, self.config.poll * 2 ** failures * 5)
                failures += 1
                LOG.warning("%s; retrying in %.1f s", err, wait)
            self.stop.wait(wait)
        return 0

    def step(self) -> int:
        """Close every day whose gate has passed, then issue the day after it; how many days closed."""
        now = self.time.now()
        lead = self.config.gate_lead
        if self.next_day is None:
            self.next_day = (now + lead) // DAY_SECONDS + 1
            LOG.info("clock: %s; first gate %s (for %s)", self.time.description,
                     reputation_time(gate(self.next_day, lead)), _day_text(self.next_day))
            self.end_day(self.next_day - 1)     # the day it will close first is issued now
            self._save()
        closed = 0
        while gate(self.next_day, lead) <= now and not self.stop.is_set():
            day = self.next_day
            self.close_day(day, now)
            self.end_day(day)
            self.next_day = day + 1
            self._save()
            closed += 1
        return closed

    # -- actions ----------------------------------------------------------------------
    def close_day(self, day: int, now: int) -> None:
        """Gate closure: close each of the day's hours that is still open (one batch)."""
        books = {h: self.reader.book(day, h) for h in range(HOURS_PER_DAY)}
        open_hours = [h for h, book in books.items() if book is None or not book.closed]
        if not open_hours:
            LOG.info("%s was already closed", _day_text(day))
            return
        try:
            market.submit(self.rest, self.signer, [market.close_hour(day, h) for h in open_hours])
        except BatchInvalid:     # a run before a restart closed some of them meanwhile: one by one
            for h in open_hours:
                book = self.reader.book(day, h)
                if book is None or not book.closed:
                    market.submit(self.rest, self.signer, [market.close_hour(day, h)])
        late = max(0, now - gate(day, self.config.gate_lead))
        self.late_seconds.append(late)
        resting = sum(len(b.offers) + len(b.orders) for b in books.values() if b is not None)
        LOG.info("closed %s: %d hour(s), %d offer(s) and order(s) resting went to the grid or expired (%s)",
                 _day_text(day), len(open_hours), resting,
                 "on time" if late < HOUR_SECONDS else f"{late // 60} min late")

    def end_day(self, day: int) -> None:
        """After the day's gate: the next day's grid prices (if given), then the engine issues it."""
        target = day + 1
        if self.config.grid_prices is not None and self.reader.grid_prices(target) is None:
            buy, sell = self.config.grid_prices
            market.submit(self.rest, self.signer, [market.set_grid_prices(target, buy, sell)])
            LOG.info("published the grid prices of %s", _day_text(target))
        if self.config.issue_from is not None and target < self.config.issue_from:
            if self.reader.penalties(target) is None:
                market.submit(self.rest, self.signer, [market.set_penalties(target, [NO_PENALTY] * HOURS_PER_DAY)])
            self.engine.settle()
            self.engine.archive(day)
            LOG.info("issued %s without penalties or recommendations (before --issue-from)", _day_text(target))
            return
        report = self.engine.run(day)
        LOG.info("PAR engine: %s %s from %s (%d buyer(s), PAR %s)", report.status, report.target_day, report.day,
                 report.participants, f"{report.par:.3f}" if report.par is not None else "-")
