"""Five-field cron expressions ("minute hour day-of-month month day-of-week"),
the way the paper's Spring scheduler took them from configuration.

Supports `*`, numbers, lists (`1,15`), ranges (`1-5`) and steps (`*/15`,
`0-30/10`); day-of-week 0-7 with 0 and 7 both Sunday. As in classic cron,
when both day-of-month and day-of-week are restricted a day matching
either fires. Times are UTC.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class CronError(ValueError):
    pass


def _parse_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name}: bad step {step_text!r}")
            step = int(step_text)
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            if not (a.isdigit() and b.isdigit()):
                raise CronError(f"{name}: bad range {body!r}")
            start, end = int(a), int(b)
        elif body.isdigit():
            start = end = int(body)
            if step_text:
                end = high
        else:
            raise CronError(f"{name}: bad value {body!r}")
        if not low <= start <= end <= high:
            raise CronError(f"{name}: {body!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> "Cron":
        parts = expression.split()
        if len(parts) != 5:
            raise CronError(f"a cron expression has 5 fields (minute hour day month weekday), got {expression!r}")
        fields = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS)]
        weekdays = frozenset(d % 7 for d in fields[4])
        return cls(expression, fields[0], fields[1], fields[2], fields[3], weekdays,
                   parts[2] == "*", parts[4] == "*")

    def _day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first matching minute strictly after `moment` (UTC)."""
        start = (moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1))
        day = start.date()
        for _ in range(366 * 5):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=start.tzinfo)
                        if candidate >= start:
                            return candidate
            day += dt.timedelta(days=1)
        raise CronError(f"{self.expression!r} never fires")
