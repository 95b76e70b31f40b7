"""What market transactions declare, judged by devnet's own conflict rule
(`devnet.scheduler.Access`, Sawtooth's parallel scheduler's rule): orders for
different delivery hours never conflict unless the same participant's wallet
is declared by both, and nothing an order declares is another participant's
wallet.

(That the handler stays inside what `access()` declares is checked by the
fuzz and property tests, which build every transaction from `access()`.)
"""
from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sawgrid.devnet.scheduler import Access
from sawgrid.processors.market import addresses as addr
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.sawtooth import TransactionHeader
from budget import examples

DAY = 20_000
SIGNERS = ["02" + hashlib.sha256(str(i).encode()).hexdigest() for i in range(4)]
WALLETS = addr.MARKET.prefix(addr.WALLET)


def access_of(payload: pb.MarketPayload, signer: str) -> Access:
    inputs, outputs = addr.access(payload, signer)
    return Access.of([TransactionHeader(inputs=inputs, outputs=outputs)])


def order(side, day, hour, on_credit=False) -> pb.MarketPayload:
    return pb.MarketPayload(place_order=pb.PlaceOrder(side=side, day=day, hour=hour, energy=1, price=1,
                                                      on_credit=on_credit and side == pb.BUY))


def cancel(day, hour, seq) -> pb.MarketPayload:
    return pb.MarketPayload(cancel=pb.Cancel(order_id=f"{day}/{hour}/{seq}"))


hours = st.tuples(st.integers(DAY, DAY + 2), st.integers(0, 23))
trading = st.one_of(
    st.builds(lambda side, h, credit: ("order", side, h, order(side, *h, credit)),
              st.sampled_from([pb.BUY, pb.SELL]), hours, st.booleans()),
    st.builds(lambda h, seq: ("cancel", None, h, cancel(*h, seq)), hours, st.integers(1, 99)),
)


def declares_wallet(kind: str, side) -> bool:
    return kind == "cancel" or side == pb.BUY


@settings(max_examples=examples(1000), deadline=None)
@given(a=trading, b=trading, signer_a=st.sampled_from(SIGNERS), signer_b=st.sampled_from(SIGNERS))
def test_no_cross_hour_overlap(a, b, signer_a, signer_b):
    (kind_a, side_a, hour_a, payload_a), (kind_b, side_b, hour_b, payload_b) = a, b
    conflict = access_of(payload_a, signer_a).conflicts_with(access_of(payload_b, signer_b))
    if hour_a == hour_b:
        assert conflict  # the hour's book
    else:
        same_wallet = signer_a == signer_b and declares_wallet(kind_a, side_a) and declares_wallet(kind_b, side_b)
        assert conflict == same_wallet, (a, b)


@settings(max_examples=examples(500), deadline=None)
@given(a=trading, signer=st.sampled_from(SIGNERS))
def test_an_order_declares_only_its_own_wallet(a, signer):
    kind, side, (day, hour), payload = a
    inputs, outputs = addr.access(payload, signer)
    wallets = {p for p in inputs + outputs if p.startswith(WALLETS)}
    assert wallets == ({addr.wallet_address(signer)} if declares_wallet(kind, side) else set())
    hour_prefixes = (addr.contracts_prefix(day, hour), addr.positions_prefix(day, hour),
                     addr.book_prefix(day, hour), addr.book_index_prefix(day, hour))
    assert all(len(p) == 70 or p in hour_prefixes
               for p in outputs)  # no kind-wide prefix: one hour's book, index, contracts and positions at most


@settings(max_examples=examples(300), deadline=None)
@given(h=hours, other=hours, side=st.sampled_from([pb.BUY, pb.SELL]), signer=st.sampled_from(SIGNERS))
def test_gate_closure_conflicts_with_its_hour_and_with_wallets(h, other, side, signer):
    close = access_of(pb.MarketPayload(close_hour=pb.CloseHour(day=h[0], hour=h[1])), SIGNERS[0])
    conflict = close.conflicts_with(access_of(order(side, *other), signer))
    assert conflict == (h == other or side == pb.BUY)  # it returns locks: any wallet; a SELL has none


def test_setup_transactions_touch_no_book():
    pk = SIGNERS[1]
    for payload in (pb.MarketPayload(fund=pb.Fund(public_key=pk, amount=1)),
                    pb.MarketPayload(set_role=pb.SetRole(day=DAY, role=pb.SELLER))):
        assert not access_of(payload, SIGNERS[0]).conflicts_with(access_of(order(pb.SELL, DAY, 3), pk))
