"""sawgrid-enrollment on the in-process ledger: the protocol of seed 001,
section II.A (eq. 1, conditions 1 and 2), the certificates up to the CA root,
the sealed evidence and its handover, eq. 2's verification case, and each of
the issue's attacks refused with the condition it failed and nothing changed."""
from __future__ import annotations

import pytest
from cryptography.x509.oid import NameOID

from enrollment_world import SLOT, START, World, csr_with_subject, hex_key, new_signer
from sawgrid.clients.sdk import certificates, enrollment
from sawgrid.processors.enrollment.settings import leader, slot_at
from sawgrid.processors.reputation.settings import DEFAULTS as REP
from sawgrid.protos import enrollment_pb2 as epb
from sawgrid.protos import market_pb2 as pb


@pytest.fixture
def w() -> World:
    return World()


def approve_one(w: World, applicant) -> epb.Block:
    """The leader of the current slot proposes `applicant` accepted; everyone countersigns."""
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant)])
    w.submit(signer, payload)
    return w.countersign_all(slot)


# ------------------------------------------------------------------ the bootstrap
def test_the_first_verifiers_are_certified_by_the_root_and_form_the_set(w):
    vs = w.set
    assert sorted(vs.members) == list(vs.members) == sorted(w.by_key)
    assert vs.quorum == 3 and vs.slot_seconds == SLOT and vs.t0 >= START
    for key in vs.members:
        assert w.reader.market.participant(key).status == pb.APPROVED
        certificates.verify_chain(w.reader.chain(key))
        assert w.reader.certificate(key).issuer == hex_key(w.op)


def test_certify_needs_the_ca_key(w):
    stranger = new_signer()
    from sawgrid.clients.sdk import market
    market.submit(w.ledger, stranger, market.register("x"))
    cert = certificates.issue_for_key(w.op, w.root, hex_key(stranger), w.now(), 10)
    w.refused(stranger, enrollment.certify(cert), "signer: not the CA")


def test_a_certificate_not_chained_to_the_root_is_refused(w):
    other_ca = new_signer()
    fake_root = certificates.ca_root(other_ca, w.now())
    target = new_signer()
    from sawgrid.clients.sdk import market
    market.submit(w.ledger, target, market.register("t"))
    cert = certificates.issue_for_key(other_ca, fake_root, hex_key(target), w.now(), 10)
    w.refused(w.op, enrollment.certify(cert), "certify.certificate: not chained to the CA root")


# ------------------------------------------------------------------ the happy path
def test_a_quorum_approves_the_member_as_participant_approve_does(w):
    applicant, _ = w.applicant()
    key = hex_key(applicant)
    assert w.reader.market.participant(key).status == pb.PENDING
    assert w.reader.market.participant(key).name == enrollment.pseudonym(key)   # no name on chain
    block = approve_one(w, applicant)
    assert block.status == epb.FINAL and len(block.signatures) == 3
    assert w.reader.request(key).status == epb.APPROVED
    assert w.reader.market.participant(key).status == pb.APPROVED
    chain = w.reader.chain(key)
    assert len(chain) == 3                    # member <- leader <- CA root
    certificates.verify_chain(chain)
    assert w.reader.certificate(key).issuer == block.leader


def test_no_plain_text_identity_on_chain(w):
    applicant, evidence = w.applicant(serial="SM-SECRET-4711")
    approve_one(w, applicant)
    everything = b"".join(w.ledger.ledger.state.values())
    for secret in (b"SM-SECRET-4711", b"Ada Household", b"Grid Lane"):
        assert secret not in everything


def test_eq2_verification_case_scores_the_leader_cubed_and_peers_once(w):
    applicant, _ = w.applicant()
    block = approve_one(w, applicant)
    from sawgrid.clients.sdk.reputation import ReputationReader
    rep = ReputationReader(w.ledger)
    x = REP.x_success
    leader_score = rep.score(block.leader).score
    assert leader_score == REP.initial_score * x // 10**6 * x // 10**6 * x // 10**6
    for s in block.signatures:
        if s.verifier != block.leader:
            assert rep.score(s.verifier).score == REP.initial_score * x // 10**6
            assert rep.score(s.verifier).validated == 1
    assert block.qot == sum(rep.score(s.verifier).score for s in block.signatures)


def test_the_set_changes_after_an_enrollment_and_the_slots_go_on(w):
    applicant, _ = w.applicant(volunteer=True)
    before = w.set
    w.t += 3
    slot = w.slot()
    approve_one(w, applicant)
    after = w.set
    assert after.set_id == before.set_id + 1
    assert after.t0 == before.t0 and slot_at(w.now(), after.t0, after.slot_seconds) == slot
    assert hex_key(applicant) in after.volunteers
    assert after.seed_block and after.seed_block != before.seed_block


def test_a_new_slot_length_starts_the_slots_again():
    w = World()
    w.submit(w.op, enrollment.configure(enrollment.settings_with(slot_seconds=30, set_size=3)))
    applicant, _ = w.applicant()
    w.t += 3
    approve_one(w, applicant)
    assert w.set.slot_seconds == 30 and w.set.t0 == w.now()


def test_the_leader_rotates_by_eq1(w):
    vs = w.set
    leaders = [leader(vs.members, i) for i in range(6)]
    assert leaders == [vs.members[i % 3] for i in range(6)]
    # the leader of slot 1 may propose in slot 1, the leader of slot 0 may not
    applicant, _ = w.applicant()
    w.to_slot(1)
    w.refused(w.leader_of(0), enrollment.propose(vs.set_id, 1, [w.decision(applicant, w.leader_of(0))]),
              "condition 1: not the leader of slot 1")
    signer, payload = w.propose([w.decision(applicant)])
    assert hex_key(signer) == vs.members[1]
    w.submit(signer, payload)


def test_a_declined_request_records_its_reason(w):
    applicant, _ = w.applicant()
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant, accept=False, reason="the meter is not registered")])
    w.submit(signer, payload)
    w.countersign_all(slot)
    record = w.reader.request(hex_key(applicant))
    assert record.status == epb.DECLINED and record.reason == "the meter is not registered"
    assert w.reader.market.participant(hex_key(applicant)).status == pb.PENDING
    assert w.reader.certificate(hex_key(applicant)) is None


def test_disagreeing_verifiers_reject_a_block_and_the_request_stays_pending(w):
    applicant, _ = w.applicant()
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant)])
    w.submit(signer, payload)
    block = w.reader.block(slot)
    peer = next(m for m in w.members() if m is not signer)
    w.submit(peer, enrollment.countersign(block, False, "the evidence does not open"))
    assert w.reader.block(slot).status == epb.REJECTED   # 3 members, quorum 3: one no is enough
    assert w.reader.request(hex_key(applicant)).status == epb.PENDING
    from sawgrid.clients.sdk.reputation import ReputationReader
    assert ReputationReader(w.ledger).score(block.leader).score < REP.initial_score


def test_handover_reseals_pending_evidence_for_the_new_set(w):
    first, _ = w.applicant(serial="SM-1", volunteer=True)
    second, evidence = w.applicant(serial="SM-2")
    old = list(w.set.members)
    approve_one(w, first)                  # the set changes; the second request is still sealed for the old one
    new = w.set
    assert [e.recipient for e in w.reader.request(hex_key(second)).request.envelopes] == old
    holder = w.by_key[old[0]]
    w.refused(new_signer(), enrollment.handover(hex_key(second), evidence, new.members), "signer: holds no envelope")
    w.submit(holder, enrollment.handover(hex_key(second), evidence, new.members))
    record = w.reader.request(hex_key(second))
    assert [e.recipient for e in record.request.envelopes] == list(new.members)
    w.refused(holder, enrollment.handover(hex_key(second), evidence, new.members), "already sealed")


# ------------------------------------------------------------------ the attacks (issue item 8)
def test_attack_a_block_from_a_non_leader(w):
    applicant, _ = w.applicant()
    slot = w.slot()
    impostor = next(m for m in w.members() if hex_key(m) != leader(w.set.members, slot))
    w.refused(impostor, enrollment.propose(w.set.set_id, slot, [w.decision(applicant, impostor)]),
              f"condition 1: not the leader of slot {slot}")
    outsider = new_signer()
    w.refused(outsider, enrollment.propose(w.set.set_id, slot, [w.decision(applicant)]),
              "condition 1: the signer is not in the verifier set")


def test_attack_the_right_leader_outside_its_slot(w):
    applicant, _ = w.applicant()
    w.to_slot(1)
    late = w.leader_of(0)
    w.t += SLOT * 3   # slot 4 now; the leader of slot 0 (and 3) is not in its slot 0
    w.refused(late, enrollment.propose(w.set.set_id, 0, [w.decision(applicant, late)]),
              "condition 1: outside slot 0")


def test_attack_a_second_block_in_one_slot(w):
    a, _ = w.applicant(serial="SM-A")
    b, _ = w.applicant(serial="SM-B")
    signer, payload = w.propose([w.decision(a)])
    w.submit(signer, payload)
    w.refused(signer, enrollment.propose(w.set.set_id, w.slot(), [w.decision(b)]),
              f"condition 2: slot {w.slot()} already has its block (by {hex_key(signer)})")


def test_attack_a_forged_certificate(w):
    applicant, _ = w.applicant()
    leader_signer = w.leader_of(w.slot())
    own = w.reader.certificate(hex_key(leader_signer)).certificate
    record = w.reader.request(hex_key(applicant))
    forger = new_signer()   # signs with its own key, names the leader as issuer
    forged = certificates.issue(forger, own, record.request.csr, w.now(), 10)
    signer, payload = w.propose([w.decision(applicant, certificate=forged)])
    w.refused(signer, payload, "forged: its signature does not verify against the leader's certificate")


def test_attack_a_certificate_not_chained_to_the_leaders(w):
    applicant, _ = w.applicant()
    record = w.reader.request(hex_key(applicant))
    rogue = new_signer()
    rogue_root = certificates.ca_root(rogue, w.now())
    cert = certificates.issue(rogue, rogue_root, record.request.csr, w.now(), 10)
    signer, payload = w.propose([w.decision(applicant, certificate=cert)])
    w.refused(signer, payload, "not chained to the leader's certificate")


def test_attack_a_replayed_request(w):
    applicant, evidence = w.applicant()
    payload = enrollment.request(applicant, evidence, w.set.members)
    w.refused(applicant, payload, "request: replayed: this key already has a pending request")
    approve_one(w, applicant)
    w.refused(applicant, enrollment.request(applicant, evidence, w.set.members), "signer: already an approved")


def test_attack_a_replayed_decision(w):
    applicant, _ = w.applicant()
    decision = w.decision(applicant)
    approve_one(w, applicant)
    w.to_slot(w.slot() + 1)
    signer, payload = w.propose([decision])
    w.refused(signer, payload, "no pending request of this key (replayed or decided)")


def test_attack_a_verifier_countersigning_twice():
    w = World(verifiers=4, set_size=4)   # quorum 3: the block stays open after one countersign
    applicant, _ = w.applicant()
    slot = w.slot()
    signer, payload = w.propose([w.decision(applicant)])
    w.submit(signer, payload)
    block = w.reader.block(slot)
    peer = next(m for m in w.members() if m is not signer)
    w.submit(peer, enrollment.countersign(block, True))
    w.refused(peer, enrollment.countersign(block, True), "countersigned twice")
    w.refused(signer, enrollment.countersign(block, True), "countersigned twice")


def test_attack_a_request_with_plain_text_identity(w):
    meter = new_signer()
    evidence = enrollment.Evidence.from_identity({"meter_serial": "SM-9"})
    payload = enrollment.request(meter, evidence, w.set.members)
    payload.request.csr = csr_with_subject(meter, [(NameOID.SERIAL_NUMBER, "SM-9"),
                                                   (NameOID.STREET_ADDRESS, "1 Grid Lane")])
    from sawgrid.clients.sdk import market
    register = market.market_transaction(meter, market.register(enrollment.pseudonym(hex_key(meter))))
    w.refused(meter, payload, "request.csr: subject carries plain-text identity (serialNumber, streetAddress)",
              before=[register])


def test_attack_evidence_sealed_for_someone_else(w):
    meter = new_signer()
    evidence = enrollment.Evidence.from_identity({"meter_serial": "SM-9"})
    payload = enrollment.request(meter, evidence, sorted([*w.set.members[:2], hex_key(new_signer())]))
    from sawgrid.clients.sdk import market
    register = market.market_transaction(meter, market.register(enrollment.pseudonym(hex_key(meter))))
    w.refused(meter, payload, "request.envelopes: must be sealed for exactly the current verifier set",
              before=[register])
