import datetime as dt

import pytest

from sawgrid.par_engine.cron import Cron, CronError

UTC = dt.timezone.utc


def at(*args):
    return dt.datetime(*args, tzinfo=UTC)


def test_daily_at_23():
    cron = Cron.parse("0 23 * * *")
    assert cron.next_after(at(2026, 1, 5, 10, 0)) == at(2026, 1, 5, 23, 0)
    assert cron.next_after(at(2026, 1, 5, 23, 0)) == at(2026, 1, 6, 23, 0)  # strictly after


def test_steps_lists_ranges_and_weekdays():
    assert Cron.parse("*/15 * * * *").next_after(at(2026, 1, 5, 10, 7)) == at(2026, 1, 5, 10, 15)
    assert Cron.parse("30 8,20 * * *").next_after(at(2026, 1, 5, 9, 0)) == at(2026, 1, 5, 20, 30)
    # 2026-01-05 is a Monday; "1-5" weekdays; Saturday -> next Monday
    assert Cron.parse("0 6 * * 1-5").next_after(at(2026, 1, 10, 12, 0)) == at(2026, 1, 12, 6, 0)
    assert Cron.parse("0 0 1 * *").next_after(at(2026, 1, 5, 0, 0)) == at(2026, 2, 1, 0, 0)
    assert Cron.parse("0 0 * * 7").next_after(at(2026, 1, 5, 0, 0)) == at(2026, 1, 11, 0, 0)  # Sunday


def test_both_day_fields_restricted_fire_on_either():
    # the 1st of the month OR a Monday (classic cron); 2026-01-05 is a Monday
    cron = Cron.parse("0 0 1 * 1")
    fired, moment = [], at(2026, 1, 5, 0, 0)
    for _ in range(4):
        moment = cron.next_after(moment)
        fired.append(moment.date().isoformat())
    assert fired == ["2026-01-12", "2026-01-19", "2026-01-26", "2026-02-01"]


@pytest.mark.parametrize("bad", ["", "0 23 * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "a * * * *",
                                 "0 0 31 2 *", "0 0 * * * *"])
def test_bad_expressions_are_refused(bad):
    with pytest.raises(CronError):
        Cron.parse(bad)
