"""Fuzzing the market handler (hypothesis): garbage, mutated and hostile payloads.

Against a pre-populated market (an operator, three approved funded
participants, one pending one, the day's grid prices and penalties, resting
orders in hours 0 and 1; in the reputation family's records, a validator pool,
a Q-score that may buy on credit and one too low to trade), every generated
transaction must

* leave `MarketHandler.apply` only as `InvalidTransaction` (called directly
  with an in-process context: anything else escaping fails the test), having
  written nothing and emitted no event before failing, and
* when applied through `InProcessLedger`: be reported valid or invalid, never
  raise; an invalid one leaves state byte-for-byte unchanged; a valid one
  conserves money (Σ balance + locked grows only by what a `fund` mints).

Transactions declare either the inputs/outputs `addresses.access()` derives
(so a handler reaching outside them shows up as an AuthorizationException
escaping `apply`) or the whole of the market's and the reputation family's
namespaces (orders read the reputation records; so nothing hides an unwanted
write, and a write outside the market's namespace fails the test).
The example budgets keep the module at roughly 15-20 s.
"""
from __future__ import annotations

import hashlib

import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import units as u
from sawgrid.processors.market.addresses import MARKET, WALLET, access
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.processors.reputation import addresses as rep
from sawgrid.processors.reputation.addresses import REPUTATION
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb
from budget import examples
from fuzzing import apply_directly, mutated


DAY = 20_000  # 2024-10-04
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def key(name: str) -> str:
    """A well-formed compressed public key (no private key needed: nothing is signed)."""
    return "02" + hashlib.sha256(name.encode()).hexdigest()


OP, ALICE, BOB, CAROL, DAVE, STRANGER = (key(n) for n in ("op", "alice", "bob", "carol", "dave", "stranger"))
SIGNERS = [OP, ALICE, BOB, CAROL, DAVE, STRANGER]


def payload(action: str, **fields) -> pb.MarketPayload:
    message = pb.MarketPayload()
    getattr(message, action).SetInParent()
    getattr(message, action).MergeFrom(type(getattr(message, action))(**fields))
    return message


def market_txn(raw: bytes, signer: str, io: str = "access"):
    """A transaction for `raw`; io='access' derives inputs/outputs like a client, 'namespace' grants all."""
    inputs = outputs = [MARKET.namespace, REPUTATION.namespace]
    if io == "access":
        try:
            inputs, outputs = access(pb.MarketPayload.FromString(raw), signer)
        except (DecodeError, ValueError):
            pass  # no derivable addresses: a client could not build it; grant the namespace
    return unsigned_transaction(MARKET.name, "1.0", raw, inputs, outputs, signer)


def money(state: dict[str, bytes]) -> int:
    prefix = MARKET.prefix(WALLET)
    total = 0
    for address, data in state.items():
        if address.startswith(prefix):
            wallet = pb.Wallet.FromString(data)
            total += wallet.balance + wallet.locked
    return total


def build_market() -> tuple[dict[str, bytes], list[str]]:
    """Committed state of the pre-populated market, and the ids of its resting orders."""
    ledger = InProcessLedger([MarketHandler()])

    def must(p: pb.MarketPayload, signer: str):
        result = ledger.apply(market_txn(p.SerializeToString(), signer))
        assert result.valid, (p, result.invalid_message)
        return result

    must(payload("init", wire_fee=2_000), OP)
    for name, pk in (("alice", ALICE), ("bob", BOB), ("carol", CAROL), ("dave", DAVE)):
        must(payload("register", name=name), pk)
    for pk in (ALICE, BOB, CAROL):
        must(payload("approve", public_key=pk), OP)
        must(payload("fund", public_key=pk, amount=10**9), OP)
    must(payload("fund", public_key=OP, amount=10**8), OP)
    must(payload("set_grid_prices", day=DAY, buy=[50_000] * 24, sell=[300_000] * 24), OP)
    must(payload("set_penalties", day=DAY, multipliers=[1000, 1500] + [1000] * 22), OP)
    must(payload("set_role", day=DAY, role=pb.BUYER), CAROL)
    ids = []
    for side, hour, energy, price, pk in (
        (pb.SELL, 0, 5_000, 200_000, ALICE), (pb.SELL, 0, 3_000, 150_000, BOB),
        (pb.BUY, 0, 2_000, 100_000, CAROL), (pb.BUY, 1, 1_000, 90_000, ALICE),
        (pb.SELL, 1, 4_000, 120_000, BOB), (pb.BUY, 2, 7_000, 80_000, CAROL),
    ):
        result = must(payload("place_order", side=side, day=DAY, hour=hour, energy=energy, price=price), pk)
        ids.append(result.receipt_data[0].decode())
    # the reputation family's records, as its handler would leave them: bob may buy on credit,
    # carol's score is below the minimum past her grace (her resting orders stay), a pool of five
    for pk, score, faults in ((BOB, 1_500_000, 0), (CAROL, 300_000, 1)):
        ledger.state[rep.score_address(pk)] = rpb.Score(public_key=pk, score=score, first_day=DAY - 30, settled=4,
                                                        faults=faults).SerializeToString()
    entries = sorted([(key(f"v{i}"), 600_000 + 200_000 * i) for i in range(4)] + [(ALICE, 1_000_000)],
                     key=lambda e: (-e[1], e[0]))
    ledger.state[rep.pool_address()] = rpb.Pool(
        volunteers=sorted(k for k, _ in entries),
        snapshot=[rpb.PoolEntry(public_key=k, score=v) for k, v in entries]).SerializeToString()
    return dict(ledger.state), ids


BASE_STATE, RESTING_IDS = build_market()
BASE_MONEY = money(BASE_STATE)
HANDLER = MarketHandler()


# ------------------------------------------------------------------ strategies

U64_EDGES = [0, 1, 999, 1000, u.MAX_PRICE, u.MAX_PRICE + 1, u.MAX_ENERGY_WH + 1, u.MAX_FUND, u.MAX_FUND + 1,
             u.MAX_BALANCE, u.MAX_BALANCE + 1, 2**64 - 1]
U32_EDGES = [0, 1, 2, 3, 23, 24, DAY - 1, DAY, DAY + 1, u.MAX_DAY, u.MAX_DAY + 1, 2**31, 2**32 - 1]
u64 = st.one_of(st.sampled_from(U64_EDGES), st.integers(0, 10**6), st.integers(0, 2**64 - 1))
u32 = st.one_of(st.sampled_from(U32_EDGES), st.integers(0, 2**32 - 1))
day = st.one_of(st.just(DAY), u32)
hour = st.one_of(st.integers(0, 3), u32)
enum = st.one_of(st.integers(0, 4), st.integers(-(2**31), 2**31 - 1))
public_key = st.one_of(
    st.sampled_from(SIGNERS),
    st.just(""), st.text(max_size=80),
    st.text(alphabet="0123456789abcdef", min_size=66, max_size=66),
    st.sampled_from([OP.upper(), "04" + OP[2:], OP[:-1], OP + "0", " " + OP[1:]]),
)
text = st.one_of(st.text(max_size=80), st.just(""), st.just("x" * 64), st.just("x" * 65), st.just("\x00"),
                 st.just("é" * 64), st.just("x" * 100_000))
order_id = st.one_of(
    st.sampled_from(RESTING_IDS),
    st.builds(lambda d, h, s: f"{d}/{h}/{s}", day, hour, u64),
    st.builds(lambda d, h, s: f"{d}/{h}/{s}", st.just(DAY), st.integers(0, 3), st.integers(0, 12)),
    st.text(max_size=40), st.just(""), st.just("1/2"), st.just(f"{DAY}/0/-1"), st.just(f"{DAY}/0/1/2"),
    st.just(f"{DAY}/٣/1"),  # a non-ASCII digit
)
vec64 = st.one_of(st.lists(st.integers(0, 10**6), min_size=24, max_size=24),
                  st.lists(u64, min_size=24, max_size=24), st.lists(u64, max_size=30))
vec_penalty = st.one_of(st.lists(st.integers(1000, 3000), min_size=24, max_size=24),
                        st.lists(st.integers(900, 3100), min_size=24, max_size=24),
                        st.just([1000, 1500] + [1000] * 22),  # the vector in force: a no-op
                        st.lists(u32, max_size=30))
recommendation = st.builds(pb.Recommendation, public_key=public_key, schedule=vec64)

ACTIONS = {
    "init": st.builds(pb.Init, wire_fee=u64),
    "add_operator": st.builds(pb.AddOperator, public_key=public_key),
    "remove_operator": st.builds(pb.RemoveOperator, public_key=public_key),
    "set_wire_fee": st.builds(pb.SetWireFee, wire_fee=u64),
    "register": st.builds(pb.Register, name=text),
    "approve": st.builds(pb.Approve, public_key=public_key),
    "set_role": st.builds(pb.SetRole, day=day, role=enum),
    "fund": st.builds(pb.Fund, public_key=public_key, amount=u64),
    "set_grid_prices": st.builds(pb.SetGridPrices, day=day, buy=vec64, sell=vec64),
    "place_order": st.builds(pb.PlaceOrder, side=enum, day=day, hour=hour,
                             energy=st.one_of(st.integers(1, 20_000), u64),
                             price=st.one_of(st.integers(1, 400_000), u64), grid_fallback=st.booleans(),
                             on_credit=st.booleans(), min_counterparty_score=u64),
    "cancel": st.builds(pb.Cancel, order_id=order_id),
    "close_hour": st.builds(pb.CloseHour, day=day, hour=hour),
    "set_penalties": st.builds(pb.SetPenalties, day=day, multipliers=vec_penalty),
    "set_recommendations": st.builds(pb.SetRecommendations, day=day,
                                     recommendations=st.lists(recommendation, max_size=4)),
}


@st.composite
def market_payloads(draw) -> pb.MarketPayload:
    action = draw(st.sampled_from(sorted(ACTIONS) + ["<none>"]))
    message = pb.MarketPayload()
    if action != "<none>":
        getattr(message, action).CopyFrom(draw(ACTIONS[action]))
    return message


OPERATOR_ACTIONS = {"add_operator", "remove_operator", "set_wire_fee", "approve", "fund", "set_grid_prices",
                    "close_hour", "set_penalties", "set_recommendations"}
registered = st.sampled_from([OP, ALICE, BOB, CAROL, DAVE])
VALID = {  # a valid (or nearly: e.g. approving an approved key) message per action
    "init": st.builds(pb.Init, wire_fee=st.integers(0, 10_000)),
    "add_operator": st.builds(pb.AddOperator, public_key=st.sampled_from([ALICE, DAVE, STRANGER])),
    "remove_operator": st.builds(pb.RemoveOperator, public_key=st.sampled_from(SIGNERS)),
    "set_wire_fee": st.builds(pb.SetWireFee, wire_fee=st.integers(0, 10_000)),
    "register": st.builds(pb.Register, name=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=64)),
    "approve": st.builds(pb.Approve, public_key=registered),
    "set_role": st.builds(pb.SetRole, day=st.integers(DAY, DAY + 1), role=st.sampled_from([1, 2, 3])),
    "fund": st.builds(pb.Fund, public_key=registered, amount=st.integers(1, 10**9)),
    "set_grid_prices": st.builds(pb.SetGridPrices, day=st.integers(DAY, DAY + 2),
                                 buy=st.lists(st.integers(0, 400_000), min_size=24, max_size=24),
                                 sell=st.lists(st.integers(0, 400_000), min_size=24, max_size=24)),
    "place_order": st.builds(pb.PlaceOrder, side=st.sampled_from([pb.BUY, pb.SELL]), day=st.just(DAY),
                             hour=st.integers(0, 2), energy=st.integers(1, 20_000),
                             price=st.integers(1, 400_000), grid_fallback=st.booleans(),
                             on_credit=st.booleans(), min_counterparty_score=st.sampled_from([0, 900_000, 2_000_000])),
    "cancel": st.builds(pb.Cancel, order_id=st.sampled_from(RESTING_IDS)),
    "close_hour": st.builds(pb.CloseHour, day=st.just(DAY), hour=st.integers(0, 3)),
    "set_penalties": st.builds(pb.SetPenalties, day=st.integers(DAY, DAY + 1),
                               multipliers=st.lists(st.integers(1000, 3000), min_size=24, max_size=24)),
    "set_recommendations": st.builds(
        pb.SetRecommendations, day=st.just(DAY),
        recommendations=st.lists(st.builds(pb.Recommendation, public_key=registered,
                                           schedule=st.lists(st.integers(0, 10_000), min_size=24, max_size=24)),
                                 min_size=1, max_size=3, unique_by=lambda r: r.public_key)),
}
HOSTILE = {  # by field: what replaces a valid value
    "public_key": public_key, "order_id": order_id, "name": text, "day": u32, "hour": u32,
    "side": enum, "role": enum, "grid_fallback": st.booleans(), "on_credit": st.booleans(),
    "buy": vec64, "sell": vec64, "multipliers": vec_penalty,
    "recommendations": st.lists(recommendation, max_size=4),
}


@st.composite
def near_valid(draw) -> tuple[pb.MarketPayload, str]:
    """A valid payload with at most one field made hostile, and a signer who is
    mostly the one the action wants (an operator, or a participant)."""
    action = draw(st.sampled_from(sorted(VALID)))
    message = draw(VALID[action])
    fields = [f.name for f in message.DESCRIPTOR.fields]
    if draw(st.integers(0, 2)):  # two times in three: mutate one field
        name = draw(st.sampled_from(fields))
        value = draw(HOSTILE.get(name, u64))
        message.ClearField(name)
        field = getattr(message, name) if name in ("buy", "sell", "multipliers", "recommendations") else None
        if field is not None:
            field.extend(value)
        else:
            setattr(message, name, value)
    payload_ = pb.MarketPayload()
    getattr(payload_, action).CopyFrom(message)
    if action == "register":
        natural = STRANGER
    else:
        natural = OP if action in OPERATOR_ACTIONS else draw(st.sampled_from([ALICE, BOB, CAROL]))
    signer = draw(st.one_of(st.just(natural), st.just(natural), st.sampled_from(SIGNERS)))
    return payload_, signer


def mutated_bytes():
    """A serialized payload, then byte flips, insertions, deletions and truncation."""
    return mutated(market_payloads())


# ------------------------------------------------------------------ the property

def check(raw: bytes, signer: str, io: str) -> None:
    txn = market_txn(raw, signer, io)
    # 1. the handler itself: nothing but InvalidTransaction leaves apply(), and
    # "the handler decides everything before it writes anything" (README)
    direct_valid, context = apply_directly(HANDLER, txn, BASE_STATE.get,
                                           f"signer={signer} io={io} payload={raw!r} ({_describe(raw)})")

    # 2. through the ledger: reported, never raised; invalid => state unchanged
    ledger = InProcessLedger([HANDLER], state=BASE_STATE)
    result = ledger.apply(txn)
    assert result.valid == direct_valid, "the handler is not deterministic"
    if not result.valid:
        assert result.invalid_message
        assert ledger.state == BASE_STATE, f"invalid transaction changed state: {_describe(raw)}"
    else:
        assert result.writes == context.writes
        assert all(a.startswith(MARKET.namespace) for a in result.writes), "the market wrote outside its namespace"
        parsed = pb.MarketPayload.FromString(raw)
        minted = parsed.fund.amount if parsed.WhichOneof("action") == "fund" else 0
        assert money(ledger.state) == BASE_MONEY + minted, f"money not conserved by {_describe(raw)}"


def _describe(raw: bytes) -> str:
    try:
        return str(pb.MarketPayload.FromString(raw)).replace("\n", " ")
    except DecodeError:
        return "<not a MarketPayload>"


signers = st.sampled_from(SIGNERS)
io_modes = st.sampled_from(["access", "namespace"])


def test_base_market_is_as_described():
    assert len(RESTING_IDS) == 6 and BASE_MONEY == 3 * 10**9 + 10**8


@settings(max_examples=examples(1000), **SETTINGS)
@given(raw=st.binary(max_size=300), signer=signers)
def test_random_bytes(raw, signer):
    check(raw, signer, "namespace")


@settings(max_examples=examples(400), **SETTINGS)
@given(raw=mutated_bytes(), signer=signers, io=io_modes)
def test_mutated_payload_bytes(raw, signer, io):
    check(raw, signer, io)


@settings(max_examples=examples(800), **SETTINGS)
@given(message=market_payloads(), signer=signers, io=io_modes)
def test_structured_payloads(message, signer, io):
    """Any action, every field drawn from hostile ranges."""
    check(message.SerializeToString(), signer, io)


@settings(max_examples=examples(1000), **SETTINGS)
@given(case=near_valid(), io=io_modes)
def test_mutations_of_valid_payloads(case, io):
    """A valid payload with one field replaced, so the checks past decoding get exercised."""
    message, signer = case
    check(message.SerializeToString(), signer, io)


@settings(max_examples=examples(600), **SETTINGS)
@given(data=st.data())
def test_plausible_orders_and_cancels(data):
    """Mostly-valid trading, so the matching and money paths (not just the field checks) get fuzzed."""
    signer = data.draw(st.sampled_from([ALICE, BOB, CAROL, OP, DAVE]))
    if data.draw(st.booleans()):
        side = data.draw(st.sampled_from([pb.BUY, pb.SELL]))
        message = payload("place_order", side=side, day=DAY,
                          hour=data.draw(st.integers(0, 2)), energy=data.draw(st.integers(1, 10_000)),
                          price=data.draw(st.integers(1, 400_000)), grid_fallback=data.draw(st.booleans()),
                          on_credit=side == pb.BUY and data.draw(st.booleans()),
                          min_counterparty_score=data.draw(st.sampled_from([0, 0, 900_000, 1_200_000])))
    else:
        message = payload("cancel", order_id=data.draw(order_id))
    check(message.SerializeToString(), signer, "access")


@pytest.mark.parametrize("message", ids=lambda m: m.WhichOneof("action"), argvalues=[
    payload("set_recommendations", day=DAY, recommendations=[
        pb.Recommendation(public_key=key(str(i)), schedule=[1] * 24) for i in range(u.MAX_RECOMMENDATIONS + 1)]),
    payload("register", name="x" * 1_000_000),
    payload("set_grid_prices", day=DAY, buy=[1] * 10_000, sell=[1] * 24),
    payload("place_order", side=pb.BUY, day=DAY, hour=0, energy=u.MAX_ENERGY_WH, price=u.MAX_PRICE),
    payload("place_order", side=pb.SELL, day=DAY, hour=0, energy=u.MAX_ENERGY_WH, price=1, grid_fallback=True),
    payload("fund", public_key=ALICE, amount=u.MAX_FUND),
])
@pytest.mark.parametrize("signer", [OP, ALICE, STRANGER], ids=["operator", "participant", "stranger"])
def test_oversized_and_extreme_payloads(message, signer):
    check(message.SerializeToString(), signer, "access")
