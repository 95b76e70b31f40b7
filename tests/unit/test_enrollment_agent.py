"""The verifier agent and the enrollment driver, in process: households
enrolled through the protocol (leaders by eq. 1, countersigns, handover),
the agent's decisions, and a restart that never signs twice."""
from __future__ import annotations

import json

from enrollment_world import World, hex_key, new_signer
from sawgrid.clients.sdk import certificates, enrollment
from sawgrid.clients.verifier.agent import Verifier, evaluate
from sawgrid.clients.verifier.drive import enroll_all
from sawgrid.clients.verifier.journal import Journal
from sawgrid.protos import enrollment_pb2 as epb
from sawgrid.protos import market_pb2 as pb


def agents(w: World, **kw) -> list[Verifier]:
    return [Verifier(w.ledger, s, clock=lambda: w.t, margin=0, **kw) for s in w.first]


def households(n: int, volunteer: bool = False, serial: str = "SM-{}"):
    return [(new_signer(), enrollment.Evidence.from_identity({"meter_serial": serial.format(i)}), volunteer)
            for i in range(n)]


def tick(w: World):
    def advance():
        w.t += 1
    return advance


def test_households_enroll_one_after_another_and_the_leader_rotates():
    w = World()
    verifiers = agents(w)
    leaders = []
    for i in range(3):
        meter = households(1, volunteer=False, serial=f"SM-{i}")
        run = enroll_all(w.ledger, meter, verifiers, tick(w), lambda: w.t)
        assert run.approved == [hex_key(meter[0][0])] and run.declined == {}
        assert run.final_blocks == 1
        assert w.reader.market.participant(run.approved[0]).status == pb.APPROVED
        certificates.verify_chain(w.reader.chain(run.approved[0]))
        block = [b for b in w.reader.blocks() if b.status == epb.FINAL][-1]
        leaders.append((block.set_id, block.slot, block.leader))
        w.t += 5
    # each block's leader is eq. 1's for its slot over the set it was made in, and the role passed on
    assert len({l for _, _, l in leaders}) >= 2, leaders


def test_new_members_who_volunteer_join_the_set_and_lead_later():
    w = World()
    verifiers = agents(w)
    meters = households(4, volunteer=True)
    run = enroll_all(w.ledger, meters[:2], verifiers, tick(w), lambda: w.t)
    assert len(run.approved) == 2
    verifiers += [Verifier(w.ledger, s, clock=lambda: w.t, margin=0) for s, _, _ in meters[:2]]
    run = enroll_all(w.ledger, meters[2:], verifiers, tick(w), lambda: w.t)
    assert len(run.approved) == 2
    for key in run.approved:
        assert len(w.reader.chain(key)) >= 3


def test_requests_sealed_for_an_old_set_are_handed_over_and_decided():
    w = World()
    verifiers = agents(w)
    first = households(1, volunteer=True, serial="SM-first")
    second = households(1, serial="SM-second")
    enrollment.enroll(w.ledger, *second[0][:2])          # sealed for set 1
    run = enroll_all(w.ledger, first, verifiers, tick(w), lambda: w.t)   # approves first: the set changes
    assert run.approved == [hex_key(first[0][0])]
    verifiers.append(Verifier(w.ledger, first[0][0], clock=lambda: w.t, margin=0))
    record = w.reader.request(hex_key(second[0][0]))
    if record.status == epb.PENDING:
        run = enroll_all(w.ledger, [], verifiers, tick(w), lambda: w.t)
    record = w.reader.request(hex_key(second[0][0]))
    assert record.status == epb.APPROVED
    assert [e.recipient for e in record.request.envelopes] != []


def test_an_unknown_meter_is_declined_with_the_reason():
    w = World()
    verifiers = agents(w, known={"SM-0"})
    meters = households(2)
    run = enroll_all(w.ledger, meters, verifiers, tick(w), lambda: w.t)
    assert run.approved == [hex_key(meters[0][0])]
    assert run.declined == {hex_key(meters[1][0]): "the meter is not in the operator's register of installed meters"}


def test_evaluate_refuses_evidence_that_does_not_match_its_commitment():
    w = World()
    meter, evidence = w.applicant()
    record = w.reader.request(hex_key(meter))
    me = w.first[0]
    assert evaluate(record, me, None).accept
    record.request.commitment = bytes(32)
    assert evaluate(record, me, None).reason == "the evidence does not match its commitment"
    assert evaluate(record, new_signer(), None).reason == "no evidence sealed for this verifier"


def test_a_restarted_verifier_does_not_sign_again(tmp_path):
    w = World(verifiers=4, set_size=4)
    meter, _ = w.applicant()
    state = tmp_path / "v.json"
    slot = w.slot()
    lead = w.leader_of(slot)
    # the leader journals its proposal, then "crashes" before submitting
    Journal(state).record_proposal(w.set.set_id, slot)
    restarted = Verifier(w.ledger, lead, journal=Journal(state), clock=lambda: w.t, margin=0)
    assert restarted.step() == []
    assert w.reader.block(slot) is None       # the slot is lost, never signed twice
    # a peer countersigns, restarts, and does not countersign again
    w.to_slot(slot + 1)
    lead = w.leader_of(slot + 1)
    Verifier(w.ledger, lead, clock=lambda: w.t, margin=0).step()
    block = w.reader.block(slot + 1)
    assert block is not None and block.status == epb.PROPOSED
    peer = next(s for s in w.members() if s is not lead)
    peer_state = tmp_path / "peer.json"
    first_run = Verifier(w.ledger, peer, journal=Journal(peer_state), clock=lambda: w.t, margin=0).step()
    assert any("agree" in line for line in first_run)
    assert json.loads(peer_state.read_text())["countersigned"] == [f"{block.set_id}/{block.slot}"]
    again = Verifier(w.ledger, peer, journal=Journal(peer_state), clock=lambda: w.t, margin=0).step()
    assert again == []
    signatures = w.reader.block(block.slot).signatures
    assert [s.verifier for s in signatures].count(hex_key(peer)) == 1


def test_a_journal_that_is_not_one_is_refused(tmp_path):
    bad = tmp_path / "v.json"
    bad.write_text("not json")
    import pytest
    from sawgrid.clients.sdk.errors import SawgridError
    with pytest.raises(SawgridError, match="not a verifier state file"):
        Journal(bad)


def test_enroll_all_reports_the_blocks_and_slots_a_cohort_took():
    """What `sawgrid simulate` reports: every meter of a cohort enrolled through
    the protocol, at most 16 decisions per block, one block per slot, the
    requests sealed for an earlier set handed over as the set changes."""
    from sawgrid.processors.enrollment.payload import MAX_DECISIONS
    w = World(verifiers=4, set_size=4)
    meters = households(40)
    run = enroll_all(w.ledger, meters, agents(w), tick(w), lambda: w.t)
    assert sorted(run.approved) == sorted(hex_key(s) for s, _, _ in meters) and run.declined == {}
    assert run.final_blocks == run.verification_blocks == -(-len(meters) // MAX_DECISIONS)
    assert run.slots >= run.final_blocks and run.sets == run.final_blocks
    assert run.ledger_blocks > len(meters)            # one request batch per meter, plus the verifiers'
    for key in run.approved:
        certificates.verify_chain(w.reader.chain(key))


def test_volunteering_newcomers_drawn_into_the_set_get_agents_of_their_own():
    w = World(verifiers=3, set_size=3)
    meters = households(20, volunteer=True)
    run = enroll_all(w.ledger, meters, agents(w), tick(w), lambda: w.t)
    assert len(run.approved) == 20 and run.declined == {}
    newcomers = {hex_key(s) for s, _, _ in meters}
    assert set(w.reader.verifier_set().volunteers) >= newcomers
    signers = {s.verifier for b in w.reader.blocks() if b.status == epb.FINAL for s in b.signatures}
    assert signers & newcomers, "a newcomer drawn into the set signed (its own agent ran)"
