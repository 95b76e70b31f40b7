"""Who may trade, and on what terms, given a Q-score (README.md, "Eligibility").

Pure functions of a participant's Score record (None when it has none) and the
on-chain Settings; integers only (ppm, day numbers). The market calls them for
every order; the reputation handler may use them too.

* **score_of**: the record's score, or `initial_score` without a record;
* **newcomer grace**: a participant without a record, or with no fault yet
  and either no `first_day` yet (no settled contract: its clock has not
  started) or fewer than `grace_days` days from `first_day` to the order's
  delivery day, is a newcomer;
* **refusal**: an order is refused when the score is below `min_score`,
  unless its owner is a newcomer;
* **credit**: buying on credit needs a score of at least `credit_score`.

Processors have no clock: "days since first_day" is counted to the delivery
day of the order being placed.
"""
from __future__ import annotations

from sawgrid.protos import reputation_pb2 as rpb


def score_of(record: rpb.Score | None, settings: rpb.Settings) -> int:
    """The participant's Q-score in ppm (a newcomer without a record: initial_score)."""
    return settings.initial_score if record is None else record.score


def grace_started(record: rpb.Score | None) -> bool:
    """Whether the newcomer clock runs: it starts at the first settled contract."""
    return record is not None and (record.settled > 0 or record.first_day > 0)


def is_newcomer(record: rpb.Score | None, settings: rpb.Settings, day: int) -> bool:
    """In the grace period for an order delivered on `day`."""
    if record is None:
        return True
    if record.faults:
        return False
    if not grace_started(record):
        return True
    return day - record.first_day < settings.grace_days


def refusal(record: rpb.Score | None, settings: rpb.Settings, day: int) -> str | None:
    """Why an order for delivery day `day` is refused, or None if it may trade."""
    score = score_of(record, settings)
    if score >= settings.min_score or is_newcomer(record, settings, day):
        return None
    if record.faults:
        why = f"{record.faults} fault(s) on record"
    else:
        why = f"the newcomer grace of {settings.grace_days} days from day {record.first_day} is over"
    return f"Q-score {score} ppm is below the minimum {settings.min_score} ppm ({why})"


def may_buy_on_credit(score: int, settings: rpb.Settings) -> bool:
    return score >= settings.credit_score
