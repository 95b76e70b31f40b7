"""devnet's test-only fault injection (devnet/faults.py): the spec, and the
bookkeeping the ledger and the REST API consult. The end-to-end behaviour is
in tests/integration/test_devnet_faults.py and test_rest_api.py."""
from __future__ import annotations

import hashlib

import pytest

from sawgrid.devnet.faults import (
    DEFAULT_HOLD_ROUNDS,
    DROP_PATHS,
    Faults,
    InvalidFaults,
    RequestFaults,
)
from sawgrid.devnet.ledger_api import INVALID, BatchStatus, InvalidTxn


def batch_id(i: int) -> str:
    return hashlib.sha512(b"batch%d" % i).hexdigest()


# --------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------
def test_spec_parses_every_field():
    assert Faults.parse("invalid=0.3,seed=7,burst429=5,drop=3,hold=4") == Faults(
        invalid=0.3, hold=4, seed=7, burst429=5, drop=3)
    assert Faults.parse(" invalid = 1 , ") == Faults(invalid=1.0)
    assert Faults.parse("seed=-3") == Faults(seed=-3)


def test_spec_defaults_inject_nothing():
    assert Faults.parse("") == Faults()
    assert Faults().hold == DEFAULT_HOLD_ROUNDS
    assert not Faults() and not Faults.parse("seed=9,hold=5")
    assert Faults(invalid=0.1) and Faults(burst429=1) and Faults(drop=1)


def test_spec_prints_as_it_parses():
    faults = Faults(invalid=0.25, hold=3, seed=1, burst429=2, drop=6)
    assert Faults.parse(str(faults)) == faults


@pytest.mark.parametrize("spec, message", [
    ("bogus=1", "unknown fault 'bogus' (known: invalid, hold, seed, burst429, drop)"),
    ("invalid", "fault 'invalid' needs a value: invalid=..."),
    ("invalid=1.5", "fault 'invalid' is a probability between 0 and 1, not '1.5'"),
    ("invalid=-0.1", "fault 'invalid' is a probability between 0 and 1, not '-0.1'"),
    ("invalid=nan", "fault 'invalid' is a probability between 0 and 1, not 'nan'"),
    ("invalid=lots", "fault 'invalid' is a probability between 0 and 1, not 'lots'"),
    ("hold=0", "fault 'hold' is a whole number >= 1, not '0'"),
    ("drop=-1", "fault 'drop' is a whole number >= 0, not '-1'"),
    ("burst429=2.5", "fault 'burst429' is a whole number, not '2.5'"),
    ("seed=x", "fault 'seed' is a whole number, not 'x'"),
])
def test_spec_errors_are_one_line(spec, message):
    with pytest.raises(ValueError) as info:
        Faults.parse(spec)
    assert str(info.value) == message


# --------------------------------------------------------------------------
# The ledger's side: false INVALIDs
# --------------------------------------------------------------------------
def test_each_batch_is_considered_once():
    always = InvalidFaults(Faults(invalid=1.0))
    assert always.choose(batch_id(1)) is True
    assert always.choose(batch_id(1)) is False  # already decided
    never = InvalidFaults(Faults(invalid=0.0))
    assert not any(never.choose(batch_id(i)) for i in range(100))


def test_choice_follows_the_seed():
    def chosen(seed: int) -> list[int]:
        faults = InvalidFaults(Faults(invalid=0.5, seed=seed))
        return [i for i in range(200) if faults.choose(batch_id(i))]

    assert chosen(7) == chosen(7)
    assert chosen(7) != chosen(8)
    assert 50 < len(chosen(7)) < 150  # about half, for a probability of 0.5


def test_a_failed_batch_is_held_for_hold_rounds_and_stays_invalid_until_forgotten():
    faults = InvalidFaults(Faults(invalid=1.0, hold=2))
    bid, why = batch_id(1), InvalidTxn("ab" * 64, "no such participant")
    assert faults.status(bid) is None and not faults.held(bid)
    assert faults.fail(bid, why) == BatchStatus(bid, INVALID, (why,))
    held = []
    for _ in range(4):
        faults.new_round()
        held.append(faults.held(bid))
    assert held == [True, False, False, False]  # the round it failed in, then one more
    assert faults.status(bid) == BatchStatus(bid, INVALID, (why,))  # re-runs, still INVALID
    faults.forget(bid)  # committed
    assert faults.status(bid) is None
    assert faults.choose(bid) is True  # forgotten: a re-submission is decided afresh


def test_hold_counts_rounds_from_the_failure():
    faults = InvalidFaults(Faults(invalid=1.0, hold=3))
    bid = batch_id(2)
    faults.fail(bid, InvalidTxn("cd" * 64, "x"))
    rounds_held = 0
    while True:
        faults.new_round()
        if not faults.held(bid):
            break
        rounds_held += 1
    assert rounds_held == 3 - 1  # `hold` rounds including the one it failed in


# --------------------------------------------------------------------------
# The REST API's side: 429 bursts and dropped connections
# --------------------------------------------------------------------------
def test_queue_full_answers_exactly_the_first_n():
    faults = RequestFaults(Faults(burst429=3))
    assert [faults.queue_full() for _ in range(6)] == [True, True, True, False, False, False]
    assert not RequestFaults(Faults()).queue_full()


def test_drops_only_batch_paths_never_two_in_a_row():
    faults = RequestFaults(Faults(drop=3))
    assert not faults.drop("/blocks") and not faults.drop("/state/" + "0" * 70)
    decisions = [faults.drop("/batches" if i % 2 else "/batch_statuses") for i in range(10)]
    assert decisions == [True, False, True, False, True, False, False, False, False, False]
    assert DROP_PATHS == {"/batches", "/batch_statuses"}


def test_no_drops_without_the_fault():
    faults = RequestFaults(Faults(burst429=1))
    assert not any(faults.drop("/batches") for _ in range(5))
