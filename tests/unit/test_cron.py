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


@pytest.mark.parametrize("bad", ["", "0 23 * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"])
def test_bad_expressions_are_refused(bad):
    with pytest.raises(CronError):
        Cron.parse(bad)
