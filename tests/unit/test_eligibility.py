"""Who may trade given a Q-score (processors/reputation/eligibility.py), by hand-worked cases.

With the defaults: initial_score 1.0, min_score 0.5, grace_days 7, credit_score 1.2.
"""
from __future__ import annotations

import pytest

from sawgrid.processors.reputation import eligibility
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import reputation_pb2 as rpb

DAY = 20_000


def score(value: int, first_day: int = 0, settled: int = 0, faults: int = 0) -> rpb.Score:
    return rpb.Score(public_key="k", score=value, first_day=first_day, settled=settled, faults=faults)


@pytest.mark.parametrize("record, day, refused", [
    (None, DAY, False),                                             # no record: a newcomer at 1.0
    (score(900_000, DAY - 30, settled=5), DAY, False),              # above min_score
    (score(500_000, DAY - 30, settled=5), DAY, False),              # exactly min_score
    (score(499_999, DAY - 30, settled=5), DAY, True),               # below, grace long over
    (score(400_000, DAY - 6, settled=2), DAY, False),               # below, day 6 of 7 of the grace
    (score(400_000, DAY - 7, settled=2), DAY, True),                # below, the grace's 7 days are over
    (score(400_000, DAY - 6, settled=2, faults=1), DAY, True),      # a fault ends the grace
    (score(400_000), DAY, False),                                    # no settled contract yet: clock not started
    (score(400_000, faults=1), DAY, True),                          # ... unless it already failed one
    (score(400_000, DAY + 3, settled=1), DAY, False),               # an order for a day before its first_day
])
def test_refusal(record, day, refused):
    reason = eligibility.refusal(record, DEFAULTS, day)
    assert (reason is not None) == refused
    if refused:
        assert reason.startswith(f"Q-score {record.score} ppm is below the minimum 500000 ppm (")


def test_reasons_say_why():
    assert "1 fault(s) on record" in eligibility.refusal(score(1_000, DAY - 1, 1, faults=1), DEFAULTS, DAY)
    assert f"grace of 7 days from day {DAY - 9} is over" in eligibility.refusal(score(1_000, DAY - 9, 1), DEFAULTS, DAY)


def test_score_of_and_credit():
    assert eligibility.score_of(None, DEFAULTS) == 1_000_000
    assert eligibility.score_of(score(1_234), DEFAULTS) == 1_234
    assert not eligibility.may_buy_on_credit(1_199_999, DEFAULTS)
    assert eligibility.may_buy_on_credit(1_200_000, DEFAULTS)
    assert not eligibility.may_buy_on_credit(eligibility.score_of(None, DEFAULTS), DEFAULTS)  # newcomers: no credit
