"""The gateway's token buckets and its --limits syntax (clients/gateway/limits.py)."""
from __future__ import annotations

import pytest

from sawgrid.clients.gateway.limits import Buckets, Limits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    clock = Clock()
    buckets = Buckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # one token at 2/s is half a second away
    clock.now += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    clock.now += 100  # refills to the burst, never beyond
    assert [buckets.take("a") for _ in range(4)][-1] > 0


def test_subjects_have_buckets_of_their_own():
    buckets = Buckets(rate=1.0, burst=1, clock=Clock())
    assert buckets.take("alice") == 0.0
    assert buckets.take("alice") > 0
    assert buckets.take("bob") == 0.0


def test_take_all_takes_from_every_key_or_from_none():
    buckets = Buckets(rate=1.0, burst=1, clock=Clock())
    assert buckets.take("b") == 0.0  # b is empty now
    assert buckets.take_all(["a", "b"]) > 0
    assert buckets.take("a") == 0.0  # a's token was not spent by the refused request


def test_a_penalty_holds_a_subject_off_until_it_ends():
    clock = Clock()
    buckets = Buckets(rate=100.0, burst=100, clock=clock)
    buckets.penalize("k", 60)
    assert buckets.take("k") == pytest.approx(60)
    assert buckets.held_off("k") == pytest.approx(60)
    assert buckets.take("other") == 0.0
    clock.now += 60
    assert buckets.take("k") == 0.0 and buckets.held_off("k") == 0.0


def test_the_table_is_bounded_and_forgets_the_longest_idle_first():
    buckets = Buckets(rate=1.0, burst=1, clock=Clock(), max_subjects=2)
    for subject in ("a", "b", "c"):
        buckets.take(subject)
    assert len(buckets) == 2
    assert buckets.take("a") == 0.0  # forgotten: a full bucket again
    assert buckets.take("c") > 0


def test_limits_parse_sets_what_is_named_and_keeps_the_rest():
    limits = Limits.parse("client=10/30, key=5, body=2048, invalid-key=3, penalty=5")
    assert (limits.client_rate, limits.client_burst) == (10, 30)
    assert (limits.key_rate, limits.key_burst) == (5, 10)  # burst defaults to twice the rate
    assert limits.body == 2048 and isinstance(limits.body, int)
    assert limits.invalid_key == 3 and limits.penalty == 5
    assert limits.invalid_client == Limits().invalid_client
    assert Limits.parse("") == Limits()


@pytest.mark.parametrize("spec, says", [
    ("client", "NAME=VALUE"), ("speed=3", "NAME=VALUE"), ("client=fast", "not a number"),
    ("client=-1", "positive"), ("body=1.5", "whole number"), ("body=1/2", "one number"),
    ("client=nan", "positive"), ("key=0.2/0.5", "burst must be at least 1"),
])
def test_limits_parse_refuses_bad_specs_naming_the_part(spec, says):
    with pytest.raises(ValueError, match=says):
        Limits.parse(spec)
