"""The gateway's intrusion detector (clients/gateway/ids.py), on its own: the
class the dashboard reuses for failed sign-ins."""
from __future__ import annotations

import datetime
import json
import logging

from sawgrid.clients.gateway.ids import FAILED_SIGN_INS, INVALID_BATCHES, UNKNOWN_FAMILY, Detector, Thresholds

KEY_A = "02" + "a" * 64
KEY_B = "03" + "b" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def detector(clock: Clock, **thresholds) -> Detector:
    wall = lambda: datetime.datetime(2026, 12, 1, 14, 5, 9, 123000, tzinfo=datetime.timezone.utc)  # noqa: E731
    return Detector(Thresholds(**thresholds), clock=clock, wall=wall)


def test_a_burst_of_invalid_batches_from_one_key_raises_one_alert_about_that_key():
    det = detector(Clock(), invalid_key=3, invalid_client=100)
    assert det.invalid_batch("10.0.0.1", KEY_A, "b1") == []
    assert det.invalid_batch("10.0.0.1", KEY_B, "b2") == []  # another key counts apart
    assert det.invalid_batch("10.0.0.1", KEY_A, "b3") == []
    [alert] = det.invalid_batch("10.0.0.1", KEY_A, "b4" * 20)
    assert (alert.kind, alert.subject, alert.key, alert.client) == (INVALID_BATCHES, "key", KEY_A, "10.0.0.1")
    assert "3 INVALID batches from one key" in alert.detail and "b4b4b4" in alert.detail
    assert det.alerts() == [{"time": "2026-12-01T14:05:09.123Z", "kind": INVALID_BATCHES, "client": "10.0.0.1",
                             "key": KEY_A, "detail": alert.detail}]
    # the count starts again: two more are no new alert
    assert det.invalid_batch("10.0.0.1", KEY_A) == [] and det.invalid_batch("10.0.0.1", KEY_A) == []
    assert det.counts() == {INVALID_BATCHES: 1, UNKNOWN_FAMILY: 0, FAILED_SIGN_INS: 0}


def test_only_invalid_batches_inside_the_window_count():
    clock = Clock()
    det = detector(clock, invalid_key=3, invalid_window=10)
    det.invalid_batch("c", KEY_A)
    det.invalid_batch("c", KEY_A)
    clock.now += 10.5
    assert det.invalid_batch("c", KEY_A) == []  # the first two have left the window
    assert len(det.invalid_batch("c", KEY_A) + det.invalid_batch("c", KEY_A)) == 1


def test_many_keys_from_one_address_raise_an_alert_about_the_address():
    det = detector(Clock(), invalid_key=100, invalid_client=4)
    raised = [a for i in range(4) for a in det.invalid_batch("10.0.0.9", f"02{i:064x}")]
    assert [(a.subject, a.client) for a in raised] == [("client", "10.0.0.9")]


def test_an_unknown_family_alerts_once_per_key_and_family_per_window():
    clock = Clock()
    det = detector(clock, invalid_window=30)
    first = det.unknown_family("c", KEY_A, "xo")
    assert first is not None and first.kind == UNKNOWN_FAMILY and "'xo'" in first.detail
    assert det.unknown_family("c", KEY_A, "xo") is None
    assert det.unknown_family("c", KEY_A, "intkey") is not None
    assert det.unknown_family("c", KEY_B, "xo") is not None
    clock.now += 31
    assert det.unknown_family("c", KEY_A, "xo") is not None
    assert det.counts()[UNKNOWN_FAMILY] == 4


def test_repeated_failed_sign_ins_alert_by_address_and_by_key():
    det = detector(Clock(), sign_ins=3)
    assert det.failed_sign_in("10.0.0.5", KEY_A, "bad signature") == []
    assert det.failed_sign_in("10.0.0.6", KEY_A) == []
    raised = det.failed_sign_in("10.0.0.5", KEY_A, "bad signature")
    assert [a.subject for a in raised] == ["key"]  # three for the key, two from the address
    assert [a.subject for a in det.failed_sign_in("10.0.0.5", None)] == ["client"]
    assert all(a.kind == FAILED_SIGN_INS for a in raised)


def test_listeners_hear_every_alert_and_each_is_one_json_log_line(caplog):
    det = detector(Clock(), invalid_key=1)
    heard = []
    det.on_alert(heard.append)
    with caplog.at_level(logging.WARNING, logger="sawgrid.gateway.ids"):
        det.invalid_batch("c", KEY_A, "b")
    assert [a.key for a in heard] == [KEY_A]
    [record] = [r for r in caplog.records if r.name == "sawgrid.gateway.ids"]
    assert json.loads(record.getMessage())["alert"]["key"] == KEY_A


def test_the_kept_alerts_are_bounded_newest_last():
    det = Detector(Thresholds(invalid_key=1), max_alerts=3)
    for i in range(5):
        det.invalid_batch("c", f"02{i:064x}")
    assert [a["key"] for a in det.alerts()] == [f"02{i:064x}" for i in (2, 3, 4)]
    assert det.counts()[INVALID_BATCHES] == 5
