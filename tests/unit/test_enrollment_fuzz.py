"""Fuzzing the enrollment handler (hypothesis): mutated and hostile payloads.

Against a chain with a verifier set of four, a pending request and an open
verification block (one countersign in), every generated transaction — a
valid payload with a few bytes flipped, inserted or cut, or a well-formed
message with hostile field values (wrong slots and sets, bad DER, short
digests, envelopes for strangers), signed by any of the cast — must leave
`EnrollmentHandler.apply` only as `InvalidTransaction`, having written
nothing (`fuzzing.apply_directly`), whether it declares what `access()`
derives or the three namespaces and the clock.
"""
from __future__ import annotations

from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from enrollment_world import World, hex_key, new_signer
from fuzzing import apply_directly, mutated
from sawgrid.clients.sdk import certificates, enrollment
from sawgrid.processors.block_info.clock import CLOCK_INPUTS
from sawgrid.processors.enrollment.access import access
from sawgrid.processors.enrollment.addresses import ENROLLMENT
from sawgrid.processors.enrollment.handler import EnrollmentHandler
from sawgrid.processors.inprocess import unsigned_transaction
from sawgrid.processors.market.addresses import MARKET
from sawgrid.processors.reputation.addresses import REPUTATION
from sawgrid.protos import enrollment_pb2 as epb

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BROAD = (ENROLLMENT.namespace, MARKET.namespace, REPUTATION.namespace, *CLOCK_INPUTS)


@lru_cache(maxsize=1)
def build():
    """(state, cast of public keys, valid payloads of every action)."""
    w = World(verifiers=4, set_size=4)
    pending, evidence = w.applicant(serial="SM-P")
    other, _ = w.applicant(serial="SM-O")
    slot = w.slot()
    signer, payload = w.propose([w.decision(other)])
    w.submit(signer, payload)
    block = w.reader.block(slot)
    peer = next(m for m in w.members() if m is not signer)
    w.to_slot(slot + 1)   # chain time (the BlockInfo before the countersign) is in the next slot
    w.submit(peer, enrollment.countersign(block, True))
    vs = w.set
    outsider = new_signer()
    from sawgrid.clients.sdk import market
    market.submit(w.ledger, outsider, market.register("outsider"))
    valid = [
        enrollment.configure(enrollment.settings_with()),
        enrollment.set_root(w.root),
        enrollment.certify(certificates.issue_for_key(w.op, w.root, hex_key(outsider), w.now(), 10)),
        enrollment.volunteer(),
        enrollment.request(outsider, enrollment.Evidence.from_identity({"meter_serial": "X"}), vs.members),
        enrollment.handover(hex_key(pending), evidence, vs.members),
        enrollment.propose(vs.set_id, slot, [w.decision(pending, signer)]),
        enrollment.propose(vs.set_id, slot + 1, [w.decision(pending, w.leader_of(slot + 1))]),
        enrollment.propose(vs.set_id, slot + 1, [w.decision(other, w.leader_of(slot + 1))]),
        enrollment.countersign(block, True),
        enrollment.countersign(block, False, "no"),
    ]
    cast = [hex_key(s) for s in (w.op, *w.first, pending, other, outsider)]
    return dict(w.ledger.ledger.state), cast, valid


def hostile():
    state, cast, valid = build()
    keys = st.sampled_from(cast)
    blobs = st.binary(max_size=80)
    envelope = st.builds(epb.Envelope, recipient=keys, ephemeral_key=blobs, nonce=blobs, ciphertext=blobs)
    small = st.integers(0, 2**64 - 1)
    return st.one_of(
        st.builds(lambda c: epb.EnrollmentPayload(set_root=epb.SetRoot(certificate=c)), blobs),
        st.builds(lambda c: epb.EnrollmentPayload(certify=epb.Certify(certificate=c)), blobs),
        st.builds(lambda csr, c, e, v: epb.EnrollmentPayload(request=epb.Request(
            csr=csr, commitment=c, envelopes=e, volunteer=v)), blobs, blobs, st.lists(envelope, max_size=5),
            st.booleans()),
        st.builds(lambda a, e: epb.EnrollmentPayload(handover=epb.Handover(applicant=a, envelopes=e)),
                  keys, st.lists(envelope, max_size=5)),
        st.builds(lambda s, sl, ds: epb.EnrollmentPayload(propose=epb.Propose(set_id=s, slot=sl, decisions=ds)),
                  small, small, st.lists(st.builds(epb.Decision, applicant=keys, commitment=blobs,
                                                   accept=st.booleans(), reason=st.text(max_size=5),
                                                   certificate=blobs), max_size=3)),
        st.builds(lambda s, sl, d, a, r: epb.EnrollmentPayload(countersign=epb.Countersign(
            set_id=s, slot=sl, digest=d, agree=a, reason=r)), small, small, blobs, st.booleans(),
            st.text(max_size=5)),
    )


def _check(raw: bytes, signer: str, broad: bool) -> None:
    state, _, _ = build()
    payload = epb.EnrollmentPayload()
    try:
        payload.ParseFromString(raw)
        inputs, outputs = (BROAD, BROAD) if broad else access(payload, signer, state.get)
    except Exception:  # noqa: BLE001 - undecodable or underivable: declare broadly
        inputs, outputs = BROAD, BROAD
    txn = unsigned_transaction(ENROLLMENT.name, "1.0", raw, list(inputs), list(outputs), signer)
    apply_directly(EnrollmentHandler(), txn, state.get, f"payload {raw!r} by {signer[:10]}")


@settings(max_examples=examples(300), **SETTINGS)
@given(data=st.data())
def test_mutated_payloads_only_ever_raise_invalid_transaction(data):
    _, cast, valid = build()
    raw = data.draw(mutated(st.sampled_from(valid)))
    _check(raw, data.draw(st.sampled_from(cast)), data.draw(st.booleans()))


@settings(max_examples=examples(300), **SETTINGS)
@given(data=st.data())
def test_hostile_payloads_only_ever_raise_invalid_transaction(data):
    _, cast, _ = build()
    payload = data.draw(hostile())
    _check(payload.SerializeToString(), data.draw(st.sampled_from(cast)), data.draw(st.booleans()))


def test_the_valid_payloads_of_the_fuzz_base_apply():
    """The base is worth fuzzing: its payloads reach deep into the handler
    (at least the pending request's propose by its leader is accepted)."""
    state, cast, valid = build()
    outcomes = []
    for payload in valid:
        for signer in cast:
            inputs, outputs = access(payload, signer, state.get)
            txn = unsigned_transaction(ENROLLMENT.name, "1.0", payload.SerializeToString(), inputs, outputs, signer)
            ok, _ = apply_directly(EnrollmentHandler(), txn, state.get, payload.WhichOneof("action"))
            outcomes.append((payload.WhichOneof("action"), ok))
    accepted = {action for action, ok in outcomes if ok}
    assert {"configure", "certify", "request", "propose", "countersign"} <= accepted, accepted
