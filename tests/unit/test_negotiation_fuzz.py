"""Fuzzing the negotiation handler (hypothesis): garbage, mutated and hostile payloads.

Against sessions in each phase (KEYS, TERMS, REVEAL, LINES, CHECK; built with real keys by
test_negotiation_handler's World), every generated transaction must

* leave `NegotiationHandler.apply` only as `InvalidTransaction` (called directly: anything else
  escaping fails the test), having written nothing before failing;
* through `InProcessLedger`: be reported, never raise; an invalid one leaves state byte-for-byte
  unchanged, with a message naming a field; a valid one leaves a Session that parses and whose
  iteration did not go back.

Transactions declare the inputs/outputs `addresses.access()` derives, or the whole of the two
namespaces the family touches.
"""
from __future__ import annotations

from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from fuzzing import apply_directly, mutated
from sawgrid.clients.sdk import negotiation as neg
from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import addresses as market
from sawgrid.processors.negotiation import addresses as addr
from sawgrid.processors.negotiation.handler import NegotiationHandler
from sawgrid.protos import negotiation_pb2 as pb
from test_negotiation_handler import SESSION, World, pk

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NAMESPACES = [addr.NEGOTIATION.namespace, market.MARKET.namespace]
HANDLER = NegotiationHandler()


def _phases() -> tuple[dict[str, dict[str, bytes]], World]:
    w = World()
    states = {}
    w.open()
    states["keys"] = dict(w.ledger.ledger.state)
    w.publish()
    states["terms"] = dict(w.ledger.ledger.state)
    w.terms(w.s, 1, 1_000_000, (5, 6))
    w.terms(w.b, 1, -1_000_000, (7, 8))
    states["reveal"] = dict(w.ledger.ledger.state)
    w.reveal(w.s, 1, 0)
    w.reveal(w.b, 1, 1)
    states["lines"] = dict(w.ledger.ledger.state)
    w.line_step(1, 1_000_000, False)
    states["check"] = dict(w.ledger.ledger.state)
    return states, w


STATES, WORLD = _phases()
SIGNERS = [pk(WORLD.s), pk(WORLD.b), pk(WORLD.lm), pk(WORLD.op), "02" + "0" * 64]
N_S, N_B, N_LM = (WORLD.keys[pk(x)].n for x in (WORLD.s, WORLD.b, WORLD.lm))
CIPHERTEXTS = [neg.encrypt(WORLD.keys[pk(WORLD.s)].public, 3), neg.encrypt(WORLD.keys[pk(WORLD.lm)].public, 7),
               1, N_S, N_S * N_S, N_S * N_S - 1, N_LM * N_LM + 1, 2**1100]
big = st.one_of(st.sampled_from(CIPHERTEXTS), st.integers(1, 2**1030)).map(
    lambda v: v.to_bytes((v.bit_length() + 7) // 8, "big"))
raw_bytes = st.one_of(big, st.binary(max_size=80))
values = st.one_of(st.sampled_from([0, 1, -1, 5, 12, 2**62, -2**62, 2**63 - 1, -2**63]),
                   st.integers(-2**63, 2**63 - 1))
small = st.one_of(st.integers(0, 4), st.integers(0, 2**32 - 1))
session = st.sampled_from([SESSION, "other", "", "T1", "x" * 65])
proofs = st.builds(pb.Proof, a=raw_bytes, z=raw_bytes)
revealed = st.builds(pb.Revealed, pair=small, value=values, proof=proofs)
agents = st.builds(pb.AgentSpec, public_key=st.sampled_from(SIGNERS + ["zz"]), kind=st.integers(0, 3),
                   capacity=values)
ACTIONS = {
    "open": st.builds(pb.Open, session=session, line_manager=st.sampled_from(SIGNERS), day=small, hour=small,
                      agents=st.lists(agents, max_size=3),
                      pairs=st.lists(st.builds(pb.PairSpec, owner=small, peer=small, price=values), max_size=3),
                      line_limits=st.lists(st.integers(0, 2**64 - 1), max_size=2), max_iterations=small,
                      eps_power=st.integers(0, 2**64 - 1), eps_price=st.integers(0, 2**64 - 1), scale=small),
    "publish_key": st.builds(pb.PublishKey, session=session, n=raw_bytes),
    "submit_terms": st.builds(pb.SubmitTerms, session=session, iteration=small,
                              quantities=st.lists(raw_bytes, max_size=3),
                              terms=st.lists(st.builds(pb.EncryptedTerm, pair=small, ciphertext=raw_bytes),
                                             max_size=3)),
    "reveal": st.builds(pb.Reveal, session=session, iteration=small, sums=st.lists(revealed, max_size=3)),
    "set_line_prices": st.builds(pb.SetLinePrices, session=session, iteration=small,
                                 flows=st.lists(values, max_size=2), upper=st.lists(values, max_size=2),
                                 lower=st.lists(values, max_size=2), power_mismatch=st.integers(0, 2**64 - 1),
                                 trade_change=st.integers(0, 2**64 - 1), finals=st.lists(revealed, max_size=5)),
    "close_iteration": st.builds(pb.CloseIteration, session=session, iteration=small, converged=st.booleans()),
}


@st.composite
def payloads(draw) -> pb.NegotiationPayload:
    action = draw(st.sampled_from(sorted(ACTIONS) + ["<none>"]))
    message = pb.NegotiationPayload()
    if action != "<none>":
        getattr(message, action).CopyFrom(draw(ACTIONS[action]))
    return message


def txn_for(raw: bytes, signer: str, io: str, state: dict[str, bytes]):
    inputs = outputs = NAMESPACES
    if io == "access":
        try:
            payload = pb.NegotiationPayload.FromString(raw)
            action = payload.WhichOneof("action")
            data = state.get(addr.session_address(getattr(payload, action).session)) if action else None
            record = pb.Session.FromString(data) if data else None
            inputs, outputs = addr.access(payload, signer, record)
        except (DecodeError, ValueError, AttributeError):
            pass
    return unsigned_transaction(addr.NEGOTIATION.name, "1.0", raw, inputs, outputs, signer)


def check(raw: bytes, signer: str, io: str, phase: str) -> bool:
    state = STATES[phase]
    txn = txn_for(raw, signer, io, state)
    direct_valid, context = apply_directly(HANDLER, txn, state.get, f"phase={phase} signer={signer[:8]} "
                                                                    f"io={io} payload={raw!r}")
    ledger = InProcessLedger([HANDLER], state=state)
    result = ledger.apply(txn)
    assert result.valid == direct_valid, "the handler is not deterministic"
    if not result.valid:
        assert result.invalid_message and ":" in result.invalid_message
        assert ledger.state == state
        return False
    before = pb.Session.FromString(state[addr.session_address(SESSION)]) if phase != "none" else None
    data = ledger.state.get(addr.session_address(SESSION))
    if data is not None and before is not None:
        assert pb.Session.FromString(data).iteration >= before.iteration
    return True


phases = st.sampled_from(sorted(STATES))
signers = st.sampled_from(SIGNERS)
io_modes = st.sampled_from(["access", "namespaces"])


@settings(max_examples=examples(400), **SETTINGS)
@given(raw=st.binary(max_size=64), signer=signers, phase=phases)
def test_random_bytes(raw, signer, phase):
    check(raw, signer, "namespaces", phase)


@settings(max_examples=examples(400), **SETTINGS)
@given(raw=mutated(payloads()), signer=signers, io=io_modes, phase=phases)
def test_mutated_payload_bytes(raw, signer, io, phase):
    check(raw, signer, io, phase)


@settings(max_examples=examples(600), **SETTINGS)
@given(message=payloads(), signer=signers, io=io_modes, phase=phases)
def test_structured_payloads(message, signer, io, phase):
    check(message.SerializeToString(), signer, io, phase)


def test_a_valid_step_passes_the_same_check():
    """The check accepts what the protocol allows: the operator closing iteration 1."""
    payload = neg.close_iteration(SESSION, 1, False)
    assert check(payload.SerializeToString(), pk(WORLD.op), "access", "check")
    assert not check(neg.close_iteration(SESSION, 1, True).SerializeToString(), pk(WORLD.op), "access", "check")
