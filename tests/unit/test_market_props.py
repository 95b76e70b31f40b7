"""Properties of the market over random order flows (hypothesis, stateful).

Random sequences of place_order (BUY/SELL, two days × hours 0..2, crossing
prices, grid fallback), cancels of known and unknown ids, close_hour, fund and
wire-fee changes run through `InProcessLedger`. The second day has no grid
prices and gets penalties only if a rule publishes them. After every step,
reading the committed state (wallets, books, and contracts by their kind-08
prefix):

* money is conserved: Σ balance + locked over all wallets == Σ funded;
* each wallet's `locked` == Σ `locked` of its resting BUY orders, and each
  resting BUY order's lock covers its remainder at its limit;
* per order: Σ contract energy ≤ its energy, and remaining == energy − traded
  while it rests (fully traded once it left the book unless cancelled or
  expired) — so no offer is sold twice;
* contracts respect both limits (price ≤ the buy order's, ≥ the sell
  order's), their amounts add up, grid contracts carry no wire fee, and nobody
  trades with themselves;
* books are sorted by priority (offers ascending (price, seq), orders
  descending price then ascending seq) and never crossed between two owners.
"""
from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import units as u
from sawgrid.processors.market.addresses import BOOK, CONTRACT, MARKET, WALLET, access
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.protos import market_pb2 as pb
from budget import examples


DAY = 20_000
DAYS = [DAY, DAY + 1]          # DAY has grid prices and penalties; DAY + 1 has neither at first
GRID_BUY, GRID_SELL = 60_000, 250_000
PRICES = [40_000, 60_000, 100_000, 120_000, 150_000, 200_000, 250_000, 300_000]


energies = st.one_of(st.integers(1, 3_000), st.sampled_from([1, 999, 1_000, 1_001, 2_500]))
prices = st.one_of(st.sampled_from(PRICES), st.integers(1, 400_000))


def key(name: str) -> str:
    return "02" + hashlib.sha256(name.encode()).hexdigest()


OP, ALICE, BOB, CAROL = (key(n) for n in ("op", "alice", "bob", "carol"))
TRADERS = [ALICE, BOB, CAROL, OP]


def payload(action: str, **fields) -> pb.MarketPayload:
    message = pb.MarketPayload()
    getattr(message, action).CopyFrom(type(getattr(message, action))(**fields))
    return message


class MarketFlow(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = InProcessLedger([MarketHandler()])
        self.funded = 0
        self.orders: dict[str, tuple[str, int, int, int]] = {}   # id -> (owner, side, energy, limit)
        self.gone: set[str] = set()                              # cancelled or expired
        self.closed: set[tuple[int, int]] = set()
        self.must(payload("init", wire_fee=2_000), OP)
        for name, pk in (("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
            self.must(payload("register", name=name), pk)
            self.must(payload("approve", public_key=pk), OP)
        for pk, amount in ((ALICE, 10**8), (BOB, 10**8), (CAROL, 2 * 10**7), (OP, 10**7)):
            self.fund_wallet(pk, amount)
        self.must(payload("set_grid_prices", day=DAY, buy=[GRID_BUY] * 24, sell=[GRID_SELL] * 24), OP)
        self.must(payload("set_penalties", day=DAY, multipliers=[1000, 1500, 1200] + [1000] * 21), OP)

    # -------------------------------------------------------------- plumbing
    def submit(self, message: pb.MarketPayload, signer: str):
        inputs, outputs = access(message, signer)
        txn = unsigned_transaction(MARKET.name, "1.0", message.SerializeToString(), inputs, outputs, signer)
        return self.ledger.apply(txn)

    def must(self, message: pb.MarketPayload, signer: str):
        result = self.submit(message, signer)
        assert result.valid, (str(message), result.invalid_message)
        return result

    def fund_wallet(self, pk: str, amount: int) -> None:
        self.must(payload("fund", public_key=pk, amount=amount), OP)
        self.funded += amount

    def records(self, kind: str, message_type):
        return [message_type.FromString(data) for data in self.ledger.items(MARKET.prefix(kind)).values()]

    def resting(self):
        for book in self.records(BOOK, pb.Book):
            yield from book.offers
            yield from book.orders

    # -------------------------------------------------------------- rules
    @rule(signer=st.sampled_from(TRADERS), side=st.sampled_from([pb.BUY, pb.SELL]),
          day=st.sampled_from(DAYS), hour=st.integers(0, 2), energy=energies, price=prices,
          grid_fallback=st.booleans())
    def place_order(self, signer, side, day, hour, energy, price, grid_fallback):
        message = payload("place_order", side=side, day=day, hour=hour, energy=energy, price=price,
                          grid_fallback=grid_fallback)
        contracts_before = len(self.ledger.items(MARKET.prefix(CONTRACT)))
        result = self.submit(message, signer)
        if (day, hour) in self.closed:
            assert not result.valid, "an order was taken by a closed hour"
        if not result.valid:
            assert result.invalid_message.startswith(("wallet: insufficient funds", "place_order")), \
                result.invalid_message
            return
        order_id = result.receipt_data[0].decode()
        assert order_id.startswith(f"{day}/{hour}/") and order_id not in self.orders
        self.orders[order_id] = (signer, side, energy, price)
        new_contracts = len(self.ledger.items(MARKET.prefix(CONTRACT))) - contracts_before
        events = [e for e in result.events if e.event_type == "sawgrid-market/contract"]
        assert len(events) == new_contracts

    # two more rules that place orders, so that most steps trade, mostly in two busy hours
    @rule(signer=st.sampled_from(TRADERS), hour=st.integers(0, 1), energy=energies, price=prices,
          grid_fallback=st.booleans())
    def buy(self, signer, hour, energy, price, grid_fallback):
        self.place_order(signer, pb.BUY, DAY, hour, energy, price, grid_fallback)

    @rule(signer=st.sampled_from(TRADERS), hour=st.integers(0, 1), energy=energies, price=prices,
          grid_fallback=st.booleans())
    def sell(self, signer, hour, energy, price, grid_fallback):
        self.place_order(signer, pb.SELL, DAY, hour, energy, price, grid_fallback)

    @rule(data=st.data())
    def cancel(self, data):
        known = sorted(self.orders)
        order_id = data.draw(st.one_of(st.sampled_from(known), st.just(f"{DAY}/0/999")) if known
                             else st.just(f"{DAY}/1/1"))
        owner = self.orders.get(order_id, (ALICE,))[0]
        signer = data.draw(st.one_of(st.just(owner), st.sampled_from(TRADERS)))
        resting_ids = {o.id for o in self.resting()}
        result = self.submit(payload("cancel", order_id=order_id), signer)
        assert result.valid == (order_id in resting_ids and signer == owner), result.invalid_message
        if result.valid:
            self.gone.add(order_id)

    @rule(day=st.sampled_from(DAYS), hour=st.integers(0, 2))
    def close_hour(self, day, hour):
        if len(self.closed) >= 4 and (day, hour) not in self.closed:
            return  # keep two hours open for trading
        resting_ids = {o.id for o in self.resting() if o.id.startswith(f"{day}/{hour}/")}
        result = self.submit(payload("close_hour", day=day, hour=hour), OP)
        assert result.valid == ((day, hour) not in self.closed), result.invalid_message
        if result.valid:
            self.closed.add((day, hour))
            self.gone |= resting_ids
            # gate closure: grid-fallback remainders become grid contracts, the rest expires
            grid = [pb.Contract.FromString(e.data) for e in result.events if e.event_type == "sawgrid-market/contract"]
            assert all(c.grid and c.day == day and c.hour == hour for c in grid)
            filled = {c.buy_order for c in grid} | {c.sell_order for c in grid}
            assert filled - {""} <= resting_ids
            (closed,) = [e for e in result.events if e.event_type == "sawgrid-market/hour-closed"]
            expired = dict((a.key, a.value) for a in closed.attributes)["expired"]
            assert expired == str(len(resting_ids - filled))

    @rule(pk=st.sampled_from(TRADERS), amount=st.integers(1, 2 * 10**6))
    def fund(self, pk, amount):
        self.fund_wallet(pk, amount)

    @rule(fee=st.integers(0, 5_000))
    def set_wire_fee(self, fee):
        self.must(payload("set_wire_fee", wire_fee=fee), OP)

    @rule(multipliers=st.lists(st.integers(1000, 3000), min_size=24, max_size=24))
    def set_penalties_tomorrow(self, multipliers):
        self.submit(payload("set_penalties", day=DAY + 1, multipliers=multipliers), OP)  # once only

    def teardown(self):
        # what the flows exercised (pytest --hypothesis-show-statistics)
        contracts = self.records(CONTRACT, pb.Contract)
        event(f"contracts: {min(len(contracts) // 5 * 5, 20)}+")
        event(f"orders placed: {min(len(self.orders) // 5 * 5, 20)}+")
        event(f"grid contracts: {'yes' if any(c.grid for c in contracts) else 'no'}")
        event(f"partial fills: {'yes' if any(o.remaining < o.energy for o in self.resting()) else 'no'}")

    # -------------------------------------------------------------- invariants
    @invariant()
    def money_is_conserved(self):
        wallets = self.records(WALLET, pb.Wallet)
        assert sum(w.balance + w.locked for w in wallets) == self.funded

    @invariant()
    def locks_match_resting_buy_orders(self):
        locked: dict[str, int] = {}
        for order in self.resting():
            if order.side == pb.BUY:
                locked[order.owner] = locked.get(order.owner, 0) + order.locked
                *_, needed = u.trade_amounts(order.remaining, order.price, order.penalty, order.wire_fee)
                assert order.locked >= needed, f"{order.id}: lock {order.locked} < {needed} for its remainder"
            else:
                assert order.locked == 0
        for wallet in self.records(WALLET, pb.Wallet):
            assert wallet.locked == locked.get(wallet.public_key, 0), wallet.public_key

    @invariant()
    def contracts_are_sound(self):
        traded: dict[str, int] = {}
        ids = set()
        for c in self.records(CONTRACT, pb.Contract):
            assert c.id not in ids
            ids.add(c.id)
            assert c.buyer != c.seller, f"self-trade in {c.id}"
            assert c.energy > 0
            assert c.base == c.energy * c.price // u.WH_PER_KWH
            assert c.surcharge == c.base * (c.penalty - u.PERMILLE) // u.PERMILLE
            assert c.total == c.base + c.surcharge + c.wire_fee
            if c.grid:
                assert c.wire_fee == 0
                assert OP in (c.buyer, c.seller) and "" in (c.buy_order, c.sell_order)
                assert c.price == (GRID_SELL if c.buy_order else GRID_BUY)
            else:
                assert c.buy_order and c.sell_order
            for order_id, side in ((c.buy_order, pb.BUY), (c.sell_order, pb.SELL)):
                if not order_id:
                    continue
                owner, order_side, energy, limit = self.orders[order_id]
                assert order_side == side
                assert owner == (c.buyer if side == pb.BUY else c.seller)
                if side == pb.BUY:
                    assert c.price <= limit, f"{c.id} at {c.price} above buy limit {limit}"
                else:
                    assert c.price >= limit, f"{c.id} at {c.price} below sell limit {limit}"
                traded[order_id] = traded.get(order_id, 0) + c.energy
        resting = {o.id: o for o in self.resting()}
        for order_id, (owner, side, energy, limit) in self.orders.items():
            done = traded.get(order_id, 0)
            assert done <= energy, f"{order_id}: traded {done} Wh of {energy}"
            if order_id in resting:
                entry = resting[order_id]
                assert (entry.owner, entry.side, entry.energy, entry.price) == (owner, side, energy, limit)
                assert entry.remaining == energy - done > 0
            elif order_id not in self.gone:
                assert done == energy, f"{order_id} left the book with {energy - done} Wh untraded"

    @invariant()
    def books_are_sorted_and_uncrossed(self):
        for book in self.records(BOOK, pb.Book):
            offers = [(o.price, o.seq) for o in book.offers]
            orders = [(-o.price, o.seq) for o in book.orders]
            assert offers == sorted(offers) and orders == sorted(orders)
            assert all(o.side == pb.SELL for o in book.offers) and all(o.side == pb.BUY for o in book.orders)
            if book.closed:
                assert not book.offers and not book.orders
            for order in book.orders:
                for offer in book.offers:
                    if offer.price <= order.price:
                        assert offer.owner == order.owner, f"book {book.day}/{book.hour} crossed: {order.id} {offer.id}"
            seqs = [o.seq for o in (*book.offers, *book.orders)]
            assert len(set(seqs)) == len(seqs) and all(s < book.next_seq for s in seqs)


MarketFlow.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestMarketFlow = MarketFlow.TestCase
