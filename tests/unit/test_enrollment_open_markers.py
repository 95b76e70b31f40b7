"""The open-request and open-block markers (processors/enrollment/addresses.py,
kinds 05 and 06): a verifier agent lists them at every step instead of every
request and block ever made, so each must be on chain exactly while its
record is open, through every way a request or a block leaves that state."""
from __future__ import annotations

import pytest

from enrollment_world import World, hex_key
from sawgrid.clients.sdk import enrollment
from sawgrid.processors.enrollment import addresses as eaddr
from sawgrid.protos import enrollment_pb2 as epb


@pytest.fixture
def w() -> World:
    return World()


def open_lists_match_the_records(w: World) -> tuple[list[str], list[int]]:
    """pending() and open_blocks() are exactly the PENDING requests and the
    PROPOSED blocks, in the full lists' order, and no marker is left over;
    (pending applicants, open slots)."""
    pending = [r.applicant for r in w.reader.requests() if r.status == epb.PENDING]
    proposed = [b.slot for b in w.reader.blocks() if b.status == epb.PROPOSED]
    assert [r.applicant for r in w.reader.pending()] == pending
    assert [b.slot for b in w.reader.open_blocks()] == proposed
    assert len(list(w.ledger.state_prefix(eaddr.open_requests_prefix()))) == len(pending)
    assert len(list(w.ledger.state_prefix(eaddr.open_blocks_prefix()))) == len(proposed)
    return pending, proposed


def test_a_request_is_open_from_its_request_to_the_final_block_that_decides_it(w):
    first, _ = w.applicant(serial="SM-1")
    second, _ = w.applicant(serial="SM-2")
    assert open_lists_match_the_records(w) == (sorted([hex_key(first), hex_key(second)],
                                                      key=eaddr.request_address), [])
    slot = w.slot()
    signer, payload = w.propose([w.decision(first)])
    w.submit(signer, payload)
    pending, proposed = open_lists_match_the_records(w)
    assert len(pending) == 2 and proposed == [slot]   # in a block, still open until it is final
    assert w.countersign_all(slot).status == epb.FINAL
    assert open_lists_match_the_records(w) == ([hex_key(second)], [])


def test_a_rejected_block_closes_and_its_requests_stay_open(w):
    applicant, _ = w.applicant()
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant)])
    w.submit(signer, payload)
    assert w.countersign_all(slot, agree=False, reason="the evidence does not open").status == epb.REJECTED
    assert open_lists_match_the_records(w) == ([hex_key(applicant)], [])


def test_a_superseded_block_closes_and_a_declined_request_reopens_when_requested_again(w):
    applicant, _ = w.applicant()
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant)])
    w.submit(signer, payload)                     # never countersigned
    w.to_slot(slot + 2)
    later = w.slot()
    signer, payload = w.propose([w.decision(applicant, accept=False, reason="the meter is not registered")])
    w.submit(signer, payload)
    assert w.reader.block(slot).status == epb.SUPERSEDED
    assert open_lists_match_the_records(w) == ([hex_key(applicant)], [later])
    assert w.countersign_all(later).status == epb.FINAL
    assert w.reader.request(hex_key(applicant)).status == epb.DECLINED
    assert open_lists_match_the_records(w) == ([], [])
    evidence = enrollment.Evidence.from_identity({"meter_serial": "SM-1b"})
    w.submit(applicant, enrollment.request(applicant, evidence, w.set.members))
    assert open_lists_match_the_records(w) == ([hex_key(applicant)], [])


def test_open_blocks_of_one_set_leave_out_the_blocks_of_others(w):
    applicant, _ = w.applicant()
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant)])
    w.submit(signer, payload)
    set_id = w.set.set_id
    assert [b.slot for b in w.reader.open_blocks(set_id)] == [slot]
    assert w.reader.open_blocks(set_id + 1) == []
