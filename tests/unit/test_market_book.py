"""The paged book (processors/market/book.py) against the single sorted list
it replaced, and deep books.

* **Same trades as the list.** Random flows (hypothesis) of orders across
  prices that share and split radix branches, cancels and gate closures, with
  pages of 1..3 entries so that nearly every level spans several pages, go
  through `InProcessLedger`. A reference model keeps each side as one list in
  priority order (offers ascending (price, seq), orders descending price then
  ascending seq) and trades exactly as the old `matching.match` did, skipping
  its owner's own entries and entries either owner's Q-score minimum refuses.
  After every step the contracts each order made (which resting entries, how
  much, at what price, in what order), the resting entries read back from the
  pages, and the head's best prices and counts equal the model's; the price
  index is consistent (every level reachable from the radix root, its entry
  count right, every order ref pointing at its entry's page); a closed hour
  keeps nothing but its head.
* **Deep books.** Thousands of resting entries on many levels and pages: a
  sweep trades across pages and levels in price-time order with a partial
  fill at the end; more than the old 5,000-entry cap rests; a cancel and gate
  closure on a deep book leave it consistent; and an order reads the same
  number of addresses against a book of 10 entries per side as against one of
  2,000 (2,000 prices per side).
"""
from __future__ import annotations

import bisect
import hashlib
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sawgrid.processors.inprocess import InProcessContext, InProcessLedger, unsigned_transaction
from sawgrid.processors.market import addresses as addr
from sawgrid.processors.market import book
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.processors.market.matching import acceptable
from sawgrid.processors.reputation import addresses as rep
from sawgrid.processors.reputation import eligibility
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb
from budget import examples

DAY = 20_000
HOURS = (0, 1)
# prices in one radix leaf, in neighbouring leaves, and far apart (every depth of the tree)
PRICES = [1, 2, 255, 256, 257, 65_535, 65_536, 200_000, 200_001, 16_777_216, 10**9]


def key(name: str) -> str:
    return "02" + hashlib.sha256(name.encode()).hexdigest()


OP, ALICE, BOB, CAROL, DAVE = (key(n) for n in ("op", "alice", "bob", "carol", "dave"))
TRADERS = [ALICE, BOB, CAROL, DAVE]
DAVE_SCORE = rpb.Score(public_key=DAVE, score=1_500_000, settled=9, first_day=DAY - 20)
SCORES = {pk: eligibility.score_of(DAVE_SCORE if pk == DAVE else None, DEFAULTS) for pk in TRADERS}


def payload(action: str, **fields) -> pb.MarketPayload:
    message = pb.MarketPayload()
    getattr(message, action).CopyFrom(type(getattr(message, action))(**fields))
    return message


class Market:
    """A funded market in process: four traders (dave with a high Q-score)."""

    def __init__(self, traders=TRADERS) -> None:
        self.ledger = InProcessLedger([MarketHandler()])
        self.ledger.state[rep.score_address(DAVE)] = DAVE_SCORE.SerializeToString(deterministic=True)
        self.must(payload("init", wire_fee=0), OP)
        for i, pk in enumerate(traders):
            self.must(payload("register", name=f"t{i}"), pk)
            self.must(payload("approve", public_key=pk), OP)
            self.must(payload("fund", public_key=pk, amount=10**14), OP)

    def submit(self, message: pb.MarketPayload, signer: str):
        inputs, outputs = addr.access(message, signer)
        return self.ledger.apply(unsigned_transaction(addr.MARKET.name, "1.0", message.SerializeToString(),
                                                      inputs, outputs, signer))

    def must(self, message: pb.MarketPayload, signer: str):
        result = self.submit(message, signer)
        assert result.valid, (str(message), result.invalid_message)
        return result

    def order(self, signer, side, hour, energy, price, min_score=0):
        """(order id, [(resting id, energy, price)] in execution order)."""
        result = self.must(payload("place_order", side=side, day=DAY, hour=hour, energy=energy, price=price,
                                   min_counterparty_score=min_score), signer)
        contracts = [pb.Contract.FromString(e.data) for e in result.events
                     if e.event_type == addr.CONTRACT_EVENT]
        fills = [(c.sell_order if side == pb.BUY else c.buy_order, c.energy, c.price) for c in contracts]
        return result.receipt_data[0].decode(), fills

    def head(self, hour) -> pb.Book | None:
        raw = self.ledger.get(addr.book_address(DAY, hour))
        return pb.Book.FromString(raw) if raw else None

    def book(self, hour) -> pb.Book:
        head_address = addr.book_address(DAY, hour)
        items = self.ledger.items(addr.book_prefix(DAY, hour))
        pages = [pb.Book.FromString(v) for a, v in items.items() if a != head_address]
        return book.assemble(self.head(hour), pages) or pb.Book()

    def index(self, hour) -> list[pb.BookIndex]:
        return [pb.BookIndex.FromString(v) for v in self.ledger.items(addr.book_index_prefix(DAY, hour)).values()]

    def check_index(self, hour) -> None:
        """The price index agrees with the pages: levels, counts, refs, radix paths."""
        records = self.index(hour)
        pages = {a: pb.Book.FromString(v) for a, v in self.ledger.items(addr.book_prefix(DAY, hour)).items()
                 if a != addr.book_address(DAY, hour)}
        for side in (pb.SELL, pb.BUY):
            levels = {r.level.price: r.level for r in records if r.WhichOneof("record") == "level"
                      and r.level.side == side}
            nodes = {(r.node.depth, r.node.prefix): list(r.node.children) for r in records
                     if r.WhichOneof("record") == "node" and r.node.side == side}
            frontier = [0] if (0, 0) in nodes else []  # an empty side has no root
            for depth in range(book.DEPTH):
                nxt = []
                for prefix in frontier:
                    children = nodes.pop((depth, prefix))
                    assert children and children == sorted(set(children))
                    nxt += [(prefix << book.DIGIT_BITS) | c for c in children]
                frontier = nxt
            reachable = set(frontier)
            assert not nodes, f"radix nodes no price reaches: {nodes}"
            assert reachable == set(levels)
            for price, level in levels.items():
                mine = [p for p in pages.values() if p.page.side == side and p.page.price == price]
                assert all(level.first_page <= p.page.number <= level.last_page for p in mine)
                assert all(0 < len(book.entries_of(p, side)) <= book.PAGE_SIZE for p in mine)
                assert level.entries == sum(len(book.entries_of(p, side)) for p in mine) > 0
        where = {o.id: (p.page.side, p.page.price, p.page.number)
                 for p in pages.values() for o in book.entries_of(p, p.page.side)}
        refs = {r.ref.id: (r.ref.side, r.ref.price, r.ref.page) for r in records if r.WhichOneof("record") == "ref"}
        assert refs == where


class Reference:
    """The old book: one list per side in priority order."""

    def __init__(self) -> None:
        self.sides = {(h, s): [] for h in HOURS for s in (pb.SELL, pb.BUY)}
        self.closed: set[int] = set()

    @staticmethod
    def priority(order: pb.Order):
        return (order.price if order.side == pb.SELL else -order.price, order.seq)

    def place(self, hour: int, order: pb.Order) -> list[tuple[str, int, int]]:
        side = self.sides[(hour, pb.SELL if order.side == pb.BUY else pb.BUY)]
        fills, index = [], 0
        while order.remaining and index < len(side):
            resting = side[index]
            if not (resting.price <= order.price if order.side == pb.BUY else resting.price >= order.price):
                break
            if not acceptable(order, resting):
                index += 1
                continue
            energy = min(order.remaining, resting.remaining)
            order.remaining -= energy
            resting.remaining -= energy
            fills.append((resting.id, energy, resting.price))
            if resting.remaining == 0:
                del side[index]
            else:
                index += 1
        if order.remaining:
            mine = self.sides[(hour, order.side)]
            keys = [self.priority(o) for o in mine]
            mine.insert(bisect.bisect_right(keys, self.priority(order)), order)
        return fills

    def resting(self, hour: int, side: int) -> list[tuple[str, int]]:
        return [(o.id, o.remaining) for o in self.sides[(hour, side)]]


orders = st.tuples(st.just("order"), st.sampled_from(TRADERS), st.sampled_from([pb.BUY, pb.SELL]),
                   st.sampled_from(HOURS), st.integers(1, 3_000),
                   st.one_of(st.sampled_from(PRICES), st.integers(1, 300_000)),
                   st.sampled_from([0, 0, 0, 1_200_000]))
actions = st.one_of(orders, orders, orders, orders,
                    st.tuples(st.just("cancel"), st.integers(0, 10**6)),
                    st.tuples(st.just("close"), st.sampled_from(HOURS), st.integers(0, 9)))


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=st.lists(actions, min_size=1, max_size=60), page_size=st.integers(1, 3))
def test_the_paged_book_trades_as_the_sorted_list_did(flow, page_size):
    with mock.patch.object(book, "PAGE_SIZE", page_size):
        market, model = Market(), Reference()
        placed: list[tuple[str, str, int]] = []   # (id, owner, hour)
        for action in flow:
            if action[0] == "order":
                _, signer, side, hour, energy, price, min_score = action
                if hour in model.closed:
                    assert not market.submit(payload("place_order", side=side, day=DAY, hour=hour, energy=energy,
                                                     price=price), signer).valid
                    continue
                order_id, fills = market.order(signer, side, hour, energy, price, min_score)
                seq = addr.parse_order_id(order_id)[2]
                expected = model.place(hour, pb.Order(
                    id=order_id, owner=signer, side=side, price=price, remaining=energy, seq=seq,
                    owner_score=SCORES[signer], min_counterparty_score=min_score))
                assert fills == expected
                placed.append((order_id, signer, hour))
            elif action[0] == "cancel" and placed:
                order_id, owner, hour = placed[action[1] % len(placed)]
                resting = any(i == order_id for s in (pb.SELL, pb.BUY) for i, _ in model.resting(hour, s))
                result = market.submit(payload("cancel", order_id=order_id), owner)
                assert result.valid == (resting and hour not in model.closed), result.invalid_message
                if result.valid:
                    for s in (pb.SELL, pb.BUY):
                        model.sides[(hour, s)][:] = [o for o in model.sides[(hour, s)] if o.id != order_id]
            elif action[0] == "close" and action[2] == 0 and action[1] not in model.closed:
                hour = action[1]
                market.must(payload("close_hour", day=DAY, hour=hour), OP)
                model.closed.add(hour)
                for s in (pb.SELL, pb.BUY):
                    model.sides[(hour, s)].clear()
            for hour in HOURS:
                got = market.book(hour)
                assert [(o.id, o.remaining) for o in got.offers] == model.resting(hour, pb.SELL)
                assert [(o.id, o.remaining) for o in got.orders] == model.resting(hour, pb.BUY)
                head = market.head(hour)
                if head is not None:
                    assert (head.offers_resting, head.orders_resting) == (len(got.offers), len(got.orders))
                    assert not head.offers and not head.orders  # the head holds no entries
                    if got.offers:
                        assert head.best_offer == got.offers[0].price
                    if got.orders:
                        assert head.best_order == got.orders[0].price
                market.check_index(hour)
                if hour in model.closed:
                    assert list(market.ledger.items(addr.book_prefix(DAY, hour))) == [addr.book_address(DAY, hour)]
                    assert market.index(hour) == [] and head.closed


# -- deep books ---------------------------------------------------------------------------------

def sellers(n: int) -> list[str]:
    return [key(f"seller{i}") for i in range(n)]


@pytest.fixture(scope="module")
def deep():
    """3,000 resting offers from 30 sellers: 100 prices × 30 entries, plus 200
    at one price (7 pages of 32)."""
    names = sellers(30)
    market = Market([*TRADERS, *names])
    ids = {}
    for i in range(3_000):
        price = 100_000 + (i % 100) * 10
        ids[i] = market.order(names[i % 30], pb.SELL, 0, 100, price)[0]
    for i in range(200):
        ids[3_000 + i] = market.order(names[i % 30], pb.SELL, 0, 100, 99_000)[0]
    return market, ids


def test_a_sweep_trades_across_pages_and_levels_in_price_time_order(deep):
    market, ids = deep
    before = market.book(0)
    assert len(before.offers) == 3_200 and before.offers[0].price == 99_000
    # 200 at 99,000 (7 pages), then 30 at each of 100,000 .. 100,030, and half of the next one
    order_id, fills = market.order(ALICE, pb.BUY, 0, 200 * 100 + 4 * 30 * 100 + 50, 100_040)
    assert [f[0] for f in fills] == [o.id for o in before.offers[:200 + 4 * 30 + 1]]
    assert [f[1] for f in fills] == [100] * (200 + 4 * 30) + [50]
    assert [f[2] for f in fills] == [o.price for o in before.offers[:321]]
    after = market.book(0)
    assert (after.offers[0].id, after.offers[0].remaining) == (before.offers[320].id, 50)
    assert [o.id for o in after.offers[1:]] == [o.id for o in before.offers[321:]]
    assert market.head(0).best_offer == 100_040 and market.head(0).offers_resting == 3_200 - 320
    assert not after.orders  # the BUY was filled: nothing of it rests
    market.check_index(0)


def test_a_cancel_deep_in_the_book_and_gate_closure(deep):
    market, ids = deep
    victim = market.book(0).offers[1_500]
    owner = victim.owner
    market.must(payload("cancel", order_id=victim.id), owner)
    assert victim.id not in {o.id for o in market.book(0).offers}
    market.check_index(0)
    resting = len(market.book(0).offers)
    result = market.must(payload("close_hour", day=DAY, hour=0), OP)
    (closed,) = [e for e in result.events if e.event_type == addr.HOUR_CLOSED_EVENT]
    assert dict((a.key, a.value) for a in closed.attributes)["expired"] == str(resting)
    assert list(market.ledger.items(addr.book_prefix(DAY, 0))) == [addr.book_address(DAY, 0)]
    assert market.index(0) == [] and market.head(0).closed


def test_more_than_the_old_cap_rests_in_one_hour():
    market = Market()
    for i in range(5_001):  # the old book refused the 5,001st entry of a side
        market.order(TRADERS[i % 2], pb.SELL, 1, 10, 50_000 + i % 700)
    assert market.head(1).offers_resting == 5_001
    market.check_index(1)


def reads_of(market: Market, message: pb.MarketPayload, signer: str) -> int:
    """How many addresses apply() reads for `message` (which must be valid)."""
    read: list[str] = []
    original = InProcessContext.get_state

    def counting(self, addresses, timeout=None):
        addresses = list(addresses)
        read.extend(addresses)
        return original(self, addresses, timeout)

    with mock.patch.object(InProcessContext, "get_state", counting):
        assert market.must(message, signer).valid
    return len(read)


@pytest.mark.parametrize("side", [pb.BUY, pb.SELL])
def test_an_order_reads_as_many_addresses_in_a_deep_book_as_in_a_shallow_one(side):
    counts = []
    for depth in (10, 2_000):
        market = Market()
        for i in range(depth):  # both sides deep, at distinct prices (many levels, many radix nodes)
            market.order(ALICE, pb.SELL, 0, 10, 200_000 + i)
            market.order(BOB, pb.BUY, 0, 10, 100_000 - i)
        price = 250_000 if side == pb.BUY else 50_000  # crosses the best entries of the other side
        trade = reads_of(market, payload("place_order", side=side, day=DAY, hour=0, energy=15, price=price), CAROL)
        rest = reads_of(market, payload("place_order", side=side, day=DAY, hour=0, energy=15,
                                        price=150_000 + (1 if side == pb.BUY else -1)), CAROL)
        counts.append((trade, rest))
    assert counts[0] == counts[1], counts
