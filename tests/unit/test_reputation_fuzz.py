"""Fuzzing the reputation handler (hypothesis): garbage, mutated and hostile payloads.

Against a market with contracts in every stage (open with a cluster and some
votes, open on credit without a cluster, a grid contract, one already
settled), readings already on chain, and chain time before the hour's end,
inside the settlement window or past the deadline, every generated
transaction must

* leave `ReputationHandler.apply` only as `InvalidTransaction` (called
  directly with an in-process context: anything else escaping fails the
  test), having written nothing and emitted no event before failing, and
* through `InProcessLedger`: be reported valid or invalid, never raise; an
  invalid one leaves state byte-for-byte unchanged; a valid one conserves
  money (Σ balance + locked over wallets).

Transactions declare either what `access.access()` derives from state (so a
handler reaching outside it shows up as an AuthorizationException escaping
`apply`) or both namespaces and the clock (so nothing hides an unwanted write).
"""
from __future__ import annotations

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from budget import examples
from fuzzing import apply_directly, mutated
from reputation_world import DEADLINE, HOUR, DAY, HOUR_END, World, attest, reading, rep_payload
from reputation_world import settings as rep_settings
from sawgrid.processors.block_info import addresses as bia
from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.market import units as u
from sawgrid.processors.reputation import addresses as raddr
from sawgrid.processors.reputation.access import access
from sawgrid.processors.reputation.handler import ReputationHandler
from sawgrid.processors.reputation.payload import MAX_EXPIRE, MAX_VERDICTS
from sawgrid.protos import reputation_pb2 as rpb

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def build() -> tuple[dict[str, dict[str, bytes]], dict[str, str], list[str]]:
    """Base states by chain time, the cast's keys, and the contract ids."""
    w = World()
    cast = {"op": w.op, "seller": w.participant("seller"), "buyer": w.participant("buyer")}
    members = [w.participant(f"member{i}", 0) for i in range(4)]
    cast.update({f"member{i}": pk for i, pk in enumerate(members)})
    cast["outsider"] = w.participant("outsider")
    s, b = cast["seller"], cast["buyer"]
    open_ = w.add_contract(s, b, cluster=tuple(members))
    credit = w.add_contract(s, b, credit=True, energy=500)
    grid = w.add_contract(w.op, b, grid=True, energy=300, price=300_000)
    done = w.add_contract(s, b, cluster=tuple(members), energy=200)
    other_hour = w.add_contract(s, b, hour=HOUR + 1, energy=100)
    w.at(HOUR_END + 10)
    w.ok(s, reading(delivered=1_500))
    w.ok(members[0], attest((open_, 1_000, True)))
    for m in members[:3]:
        w.ok(m, attest((done, 200, True)))
    for m in members[:3]:
        w.ok(m, rep_payload("volunteer"))
    base = dict(w.ledger.state)
    states = {}
    for name, when in (("early", HOUR_END - 5), ("window", HOUR_END + 100), ("late", DEADLINE + 1)):
        w.ledger.state = dict(base)
        w.at(when)
        states[name] = dict(w.ledger.state)
    states["no-clock"] = {a: v for a, v in base.items() if not a.startswith(bia.NAMESPACE)}
    return states, cast, [open_, credit, grid, done, other_hour]


STATES, CAST, CONTRACTS = build()
SIGNERS = sorted(CAST.values())
HANDLER = ReputationHandler()


def money(state: dict[str, bytes]) -> int:
    from sawgrid.protos import market_pb2 as pb
    prefix = maddr.MARKET.prefix(maddr.WALLET)
    return sum(pb.Wallet.FromString(v).balance + pb.Wallet.FromString(v).locked
               for a, v in state.items() if a.startswith(prefix))


def txn(raw: bytes, signer: str, io: str, state: dict[str, bytes]):
    inputs = [raddr.REPUTATION.namespace, maddr.MARKET.namespace, bia.NAMESPACE]
    outputs = [raddr.REPUTATION.namespace, maddr.MARKET.namespace]
    if io == "access":
        try:
            inputs, outputs = access(rpb.ReputationPayload.FromString(raw), signer, state.get)
        except (DecodeError, ValueError):
            pass  # a client could not build it: grant the namespaces
    return unsigned_transaction(raddr.REPUTATION.name, "1.0", raw, inputs, outputs, signer)


def check(raw: bytes, signer: str, io: str, when: str) -> None:
    base = STATES[when]
    transaction = txn(raw, signer, io, base)
    direct_valid, context = apply_directly(HANDLER, transaction, base.get,
                                           f"signer={signer} io={io} when={when} payload={raw!r} ({_describe(raw)})")

    ledger = InProcessLedger([HANDLER], state=base)
    result = ledger.apply(transaction)
    assert result.valid == direct_valid, "the handler is not deterministic"
    if currently_in_test_context():
        event(f"{'valid' if result.valid else 'invalid'} ({when})")
    if not result.valid:
        assert result.invalid_message
        assert ledger.state == base, f"invalid transaction changed state: {_describe(raw)}"
    else:
        assert result.writes == context.writes
        assert money(ledger.state) == money(base), f"money not conserved by {_describe(raw)}"


def _describe(raw: bytes) -> str:
    try:
        return str(rpb.ReputationPayload.FromString(raw)).replace("\n", " ")
    except DecodeError:
        return "<not a ReputationPayload>"


# ------------------------------------------------------------------ strategies
U64_EDGES = [0, 1, 99, 100, 200, 500, 1000, 1001, u.MAX_ENERGY_WH, u.MAX_ENERGY_WH + 1, 10**12, 10**12 + 1,
             2**63 - 1, 2**64 - 1]
U32_EDGES = [0, 1, 23, 24, 1000, HOUR, HOUR + 1, DAY, DAY + 1, u.MAX_DAY, u.MAX_DAY + 1, 2**31, 2**32 - 1]
u64 = st.one_of(st.sampled_from(U64_EDGES), st.integers(0, 10**6), st.integers(0, 2**64 - 1))
u32 = st.one_of(st.sampled_from(U32_EDGES), st.integers(0, 2**32 - 1))
contract_id = st.one_of(
    st.sampled_from(CONTRACTS),
    st.builds(lambda d, h, s: f"{d}/{h}/{s}", st.one_of(st.just(DAY), u32), st.one_of(st.just(HOUR), u32), u64),
    st.text(max_size=50), st.just(""), st.just("1/2"), st.just(f"{DAY}/{HOUR}/-1"), st.just(f"{DAY}/{HOUR}/1/2"),
    st.just(f"{DAY}/٣/1"), st.just(f"0{CONTRACTS[0]}"), st.just(CONTRACTS[0] + " "), st.just("9" * 100 + "/1/1"),
)
verdict = st.builds(rpb.Verdict, contract_id=contract_id, delivered_wh=u64, paid=st.booleans())
settings_message = st.one_of(
    st.just(rep_settings()),
    st.builds(rpb.Settings, initial_score=u64, x_success=u64, x_failure=u64, min_score=u64, grace_days=u32,
              score_floor=u64, score_cap=u64, cluster_size=u32, credit_score=u64, credit_limit=u64,
              settle_window=u32, tolerance=u32),
)
ACTIONS = {
    "configure": st.one_of(st.builds(rpb.Configure, settings=settings_message), st.just(rpb.Configure())),
    "volunteer": st.just(rpb.Volunteer()),
    "withdraw": st.just(rpb.Withdraw()),
    "refresh_pool": st.just(rpb.RefreshPool()),
    "reading": st.builds(rpb.SubmitReading, day=st.one_of(st.just(DAY), u32), hour=st.one_of(st.just(HOUR), u32),
                         delivered_wh=u64, received_wh=u64),
    "attest": st.builds(rpb.Attest, verdicts=st.lists(verdict, max_size=4)),
    "pay": st.builds(rpb.Pay, contract_id=contract_id),
    "expire": st.builds(rpb.Expire, contract_ids=st.lists(contract_id, max_size=4)),
}


@st.composite
def payloads(draw) -> rpb.ReputationPayload:
    action = draw(st.sampled_from(sorted(ACTIONS) + ["<none>"]))
    message = rpb.ReputationPayload()
    if action != "<none>":
        getattr(message, action).CopyFrom(draw(ACTIONS[action]))
    return message


@st.composite
def plausible(draw) -> tuple[rpb.ReputationPayload, str]:
    """Mostly valid actions by the signer they want, so the settlement paths get fuzzed."""
    ids = st.sampled_from(CONTRACTS)
    energy = st.one_of(st.sampled_from([0, 100, 200, 300, 500, 999, 1_000, 1_001]), st.integers(0, 2_000))
    choice = draw(st.sampled_from(["reading", "attest", "pay", "expire", "pool"]))
    if choice == "reading":
        message = reading(hour=draw(st.sampled_from([HOUR, HOUR + 1])), delivered=draw(energy), received=draw(energy))
        signer = draw(st.sampled_from([CAST["seller"], CAST["buyer"], CAST["outsider"]]))
    elif choice == "attest":
        message = attest(*[(draw(ids), draw(energy), draw(st.booleans())) for _ in range(draw(st.integers(1, 3)))])
        signer = draw(st.sampled_from([CAST[f"member{i}"] for i in range(4)] + [CAST["seller"]]))
    elif choice == "pay":
        message = rep_payload("pay", contract_id=draw(ids))
        signer = draw(st.sampled_from([CAST["buyer"], CAST["seller"]]))
    elif choice == "expire":
        message = rep_payload("expire", contract_ids=draw(st.lists(ids, min_size=1, max_size=3, unique=True)))
        signer = draw(st.sampled_from([CAST["op"], CAST["op"], CAST["buyer"]]))
    else:
        message = rep_payload(draw(st.sampled_from(["volunteer", "withdraw", "refresh_pool"])))
        signer = draw(st.sampled_from(SIGNERS))
    return message, signer


def mutated_bytes():
    """A serialized payload, then byte flips, insertions, deletions and truncation."""
    return mutated(payloads())


signers = st.sampled_from(SIGNERS)
io_modes = st.sampled_from(["access", "namespace"])
times = st.sampled_from(sorted(STATES))


def test_base_state_is_as_described():
    assert len(CONTRACTS) == 5 and set(STATES) == {"early", "window", "late", "no-clock"}


@settings(max_examples=examples(800), **SETTINGS)
@given(raw=st.binary(max_size=300), signer=signers, when=times)
def test_random_bytes(raw, signer, when):
    check(raw, signer, "namespace", when)


@settings(max_examples=examples(400), **SETTINGS)
@given(raw=mutated_bytes(), signer=signers, io=io_modes, when=times)
def test_mutated_payload_bytes(raw, signer, io, when):
    check(raw, signer, io, when)


@settings(max_examples=examples(800), **SETTINGS)
@given(message=payloads(), signer=signers, io=io_modes, when=times)
def test_structured_payloads(message, signer, io, when):
    check(message.SerializeToString(), signer, io, when)


@settings(max_examples=examples(1000), **SETTINGS)
@given(case=plausible(), io=io_modes, when=times)
def test_plausible_settlement_actions(case, io, when):
    message, signer = case
    check(message.SerializeToString(), signer, io, when)


@pytest.mark.parametrize("message", ids=lambda m: m.WhichOneof("action"), argvalues=[
    attest(*[(CONTRACTS[0], 1, True)] * (MAX_VERDICTS + 1)),
    rep_payload("expire", contract_ids=[f"{DAY}/{HOUR}/{i}" for i in range(MAX_EXPIRE + 1)]),
    rep_payload("expire", contract_ids=["x" * 1_000_000]),
    reading(delivered=2**64 - 1, received=2**64 - 1),
    rep_payload("configure", settings=rpb.Settings(score_cap=2**64 - 1, score_floor=2**64 - 1,
                                                   initial_score=2**64 - 1, x_success=2**64 - 1)),
])
@pytest.mark.parametrize("when", ["window", "late"])
def test_oversized_and_extreme_payloads(message, when):
    for signer in (CAST["op"], CAST["member0"], CAST["outsider"]):
        check(message.SerializeToString(), signer, "namespace", when)
