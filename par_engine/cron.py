"""Five-field cron expressions ("minute hour day-of-month month day-of-week"),
the way the paper's Spring scheduler took them from configuration.

Parsing and "next time" come from croniter, a well-kept library, rather than
a parser of our own: `*`, numbers, lists (`1,15`), ranges (`1-5`), steps
(`*/15`, `0-30/10`) and names (`mon-fri`); day-of-week 0-7 with 0 and 7 both
Sunday; as in classic cron, when both day-of-month and day-of-week are
restricted a day matching either fires. Two things croniter allows are
narrowed here: exactly five fields (no seconds field), and an expression that
never fires (`0 0 31 2 *`) is refused when parsed rather than when due. A
reversed range wraps around (`50-10` is minutes 50-59 and 0-10), as croniter
defines it. Times are UTC.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from croniter import CroniterError, croniter

FIELDS = 5
# Far enough for any five-field expression that fires at all (Feb 29 on a
# Monday recurs within 28 years); the probe at parse time starts here.
_PROBE_START = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


class CronError(ValueError):
    """An expression that is not a valid five-field cron schedule."""


@dataclass(frozen=True)
class Cron:
    expression: str

    @classmethod
    def parse(cls, expression: str) -> "Cron":
        """A checked schedule; CronError with the reason otherwise."""
        if len(expression.split()) != FIELDS:
            raise CronError(f"a cron expression has 5 fields (minute hour day month weekday), got {expression!r}")
        if not croniter.is_valid(expression):
            raise CronError(f"not a valid cron expression: {expression!r}")
        cron = cls(expression)
        cron.next_after(_PROBE_START)  # raises for an expression that never fires
        return cron

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after `moment` (UTC if naive)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        try:
            return croniter(self.expression, moment).get_next(dt.datetime)
        except CroniterError as err:
            raise CronError(f"{self.expression!r} never fires ({err})") from None
