"""Properties of the market over random order flows (hypothesis, stateful).

Random sequences of place_order (BUY/SELL, two days × hours 0..2, crossing
prices, grid fallback, on credit, a minimum counterparty score), cancels of
known and unknown ids, close_hour, fund and wire-fee changes run through
`InProcessLedger`. The second day has no grid prices and gets penalties only
if a rule publishes them. Two more rules stand in for the reputation family:
they rewrite a trader's Score record and the Pool's snapshot in state (as its
handler's settlements and `refresh_pool` would). After every step, reading
the committed state (wallets, books, contracts, indexes, positions):

* money is conserved: Σ balance + locked over all wallets == Σ funded (a
  match moves no money; nothing settles here);
* each wallet's `locked` == Σ money locks of its resting BUY orders + Σ escrow
  of its unsettled contracts as buyer, and `credit_used` == Σ credit of its
  resting orders + Σ credit its contracts still owe, never above the credit
  line; each resting BUY order holds exactly what its remainder can cost;
* per order: Σ contract energy ≤ its energy, and remaining == energy − traded
  while it rests (fully traded once it left the book unless cancelled or
  expired) — so no offer is sold twice;
* contracts respect both limits (price ≤ the buy order's, ≥ the sell
  order's), their amounts add up, their escrow and credit cover the total (by
  at most a few µEUR of rounding more), grid contracts carry no wire fee and
  no cluster, nobody trades with themselves, and both owners' Q-scores met the
  other's minimum;
* every P2P contract's cluster is the draw of the pool snapshot in force
  when it was made, never contains its seller or buyer, and its quorum
  matches its size;
* an order from an owner below min_score outside the newcomer grace is
  refused, and so is one on credit below credit_score or beyond the line;
* the hour's index lists its contracts in creation order, and each
  participant's position lists what it sold and bought;
* books are sorted by priority (offers ascending (price, seq), orders
  descending price then ascending seq) and never crossed between two owners
  who may trade with each other.
"""
from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import units as u
from sawgrid.processors.market.addresses import (
    BOOK, CONTRACT, HOUR_INDEX, MARKET, POSITION, WALLET, access, parse_order_id,
)
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.processors.market.matching import acceptable
from sawgrid.processors.reputation import addresses as rep
from sawgrid.processors.reputation import cluster, eligibility
from sawgrid.processors.reputation.settings import DEFAULTS, quorum
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb
from budget import examples


DAY = 20_000
DAYS = [DAY, DAY + 1]          # DAY has grid prices and penalties; DAY + 1 has neither at first
GRID_BUY, GRID_SELL = 60_000, 250_000
PRICES = [40_000, 60_000, 100_000, 120_000, 150_000, 200_000, 250_000, 300_000]


energies = st.one_of(st.integers(1, 3_000), st.sampled_from([1, 999, 1_000, 1_001, 2_500]))
prices = st.one_of(st.sampled_from(PRICES), st.integers(1, 400_000))


def key(name: str) -> str:
    return "02" + hashlib.sha256(name.encode()).hexdigest()


OP, ALICE, BOB, CAROL, DAVE = (key(n) for n in ("op", "alice", "bob", "carol", "dave"))
TRADERS = [ALICE, BOB, CAROL, DAVE, OP]
VOLUNTEERS = [key(f"volunteer{i}") for i in range(6)]   # validators who do not trade here
SETTINGS = rpb.Settings()
SETTINGS.CopyFrom(DEFAULTS)
SETTINGS.credit_limit = 1_500_000   # 1.5 EUR, so that flows reach the line
UNSETTLED = (pb.PREPARED, pb.EXECUTION)

# Score records a trader may have (None: none, a newcomer); ppm, DAY-relative first days
SCORES = st.one_of(
    st.none(),
    st.builds(lambda score, age, settled, faults: rpb.Score(score=score, first_day=DAY - age if settled else 0,
                                                            settled=settled, faults=faults),
              score=st.sampled_from([1_000, 400_000, 500_000, 900_000, 1_000_000, 1_200_000, 2_000_000]),
              age=st.sampled_from([0, 6, 7, 30]), settled=st.sampled_from([0, 3]), faults=st.sampled_from([0, 0, 1])),
)
min_counterparty = st.sampled_from([0, 0, 0, 500_000, 1_000_000, 1_300_000])
credit = st.sampled_from([False, False, False, True])


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
        self.terms: dict[str, tuple[int, int]] = {}              # id -> (owner's score, min counterparty score)
        self.drawn: dict[str, cluster.Draw] = {}                 # contract id -> the draw from the pool then
        self.gone: set[str] = set()                              # cancelled or expired
        self.closed: set[tuple[int, int]] = set()
        self.scores: dict[str, rpb.Score | None] = {pk: None for pk in TRADERS}
        self.put_reputation(rep.config_address(), rpb.Config(settings=SETTINGS))
        self.put_reputation(rep.score_address(DAVE), self.score_record(DAVE, rpb.Score(score=1_500_000, settled=9,
                                                                                       first_day=DAY - 20)))
        self.pool(list(range(6)), {ALICE: 1_100_000, DAVE: 1_500_000})
        self.must(payload("init", wire_fee=2_000), OP)
        for name, pk in (("alice", ALICE), ("bob", BOB), ("carol", CAROL), ("dave", DAVE)):
            self.must(payload("register", name=name), pk)
            self.must(payload("approve", public_key=pk), OP)
        for pk, amount in ((ALICE, 10**8), (BOB, 10**8), (CAROL, 2 * 10**7), (DAVE, 10**6), (OP, 10**7)):
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

    # the reputation family's records, written as its handler would
    def put_reputation(self, address: str, record) -> None:
        self.ledger.state[address] = record.SerializeToString(deterministic=True)

    def score_record(self, pk: str, record: rpb.Score | None) -> rpb.Score | None:
        if record is not None:
            record.public_key = pk
        self.scores[pk] = record
        return record

    def pool(self, volunteers: list[int], traders: dict[str, int]) -> None:
        entries = {VOLUNTEERS[i]: 300_000 + 250_000 * i for i in volunteers} | traders
        snapshot = sorted(entries.items(), key=lambda e: (-e[1], e[0]))
        self.snapshot = [rpb.PoolEntry(public_key=k, score=v) for k, v in snapshot]
        self.put_reputation(rep.pool_address(), rpb.Pool(volunteers=sorted(entries), snapshot=self.snapshot))

    # -------------------------------------------------------------- rules
    @rule(signer=st.sampled_from(TRADERS), side=st.sampled_from([pb.BUY, pb.SELL]),
          day=st.sampled_from(DAYS), hour=st.integers(0, 2), energy=energies, price=prices,
          grid_fallback=st.booleans(), on_credit=credit, min_score=min_counterparty)
    def place_order(self, signer, side, day, hour, energy, price, grid_fallback, on_credit=False, min_score=0):
        message = payload("place_order", side=side, day=day, hour=hour, energy=energy, price=price,
                          grid_fallback=grid_fallback, on_credit=on_credit, min_counterparty_score=min_score)
        contracts_before = len(self.ledger.items(MARKET.prefix(CONTRACT)))
        result = self.submit(message, signer)
        record = self.scores[signer]
        score = eligibility.score_of(record, SETTINGS)
        if on_credit and side == pb.SELL:
            assert result.invalid_message.startswith("place_order.on_credit: only a BUY"), result.invalid_message
            return
        if (day, hour) in self.closed:
            assert not result.valid, "an order was taken by a closed hour"
        elif eligibility.refusal(record, SETTINGS, day) is not None:
            assert result.invalid_message.startswith("signer: Q-score"), result.invalid_message
            return
        elif on_credit and score < SETTINGS.credit_score:
            assert result.invalid_message.startswith("place_order.on_credit: buying on credit needs"), \
                result.invalid_message
            return
        if not result.valid:
            assert result.invalid_message.startswith(("wallet: insufficient funds", "place_order")), \
                result.invalid_message
            if result.invalid_message.startswith("place_order.on_credit"):
                assert on_credit and "credit line" in result.invalid_message
            return
        order_id = result.receipt_data[0].decode()
        assert order_id.startswith(f"{day}/{hour}/") and order_id not in self.orders
        self.orders[order_id] = (signer, side, energy, price)
        self.terms[order_id] = (score, min_score)
        new_contracts = len(self.ledger.items(MARKET.prefix(CONTRACT))) - contracts_before
        events = [e for e in result.events if e.event_type == "sawgrid-market/contract"]
        assert len(events) == new_contracts
        for e in events:
            c = pb.Contract.FromString(e.data)
            self.drawn[c.id] = cluster.draw(self.snapshot, c.id, c.seller, c.buyer, SETTINGS.min_score,
                                            SETTINGS.cluster_size)

    # two more rules that place orders, so that most steps trade, mostly in two busy hours
    @rule(signer=st.sampled_from(TRADERS), hour=st.integers(0, 1), energy=energies, price=prices,
          grid_fallback=st.booleans(), on_credit=credit, min_score=min_counterparty)
    def buy(self, signer, hour, energy, price, grid_fallback, on_credit, min_score):
        self.place_order(signer, pb.BUY, DAY, hour, energy, price, grid_fallback, on_credit, min_score)

    @rule(signer=st.sampled_from(TRADERS), hour=st.integers(0, 1), energy=energies, price=prices,
          grid_fallback=st.booleans(), min_score=min_counterparty)
    def sell(self, signer, hour, energy, price, grid_fallback, min_score):
        self.place_order(signer, pb.SELL, DAY, hour, energy, price, grid_fallback, False, min_score)

    # the reputation family, as seen by the market: scores change, the pool is re-snapshotted
    @rule(pk=st.sampled_from([ALICE, BOB, CAROL, OP]), record=SCORES)
    def score_changes(self, pk, record):
        record = self.score_record(pk, record)
        if record is None:
            self.ledger.state.pop(rep.score_address(pk), None)
        else:
            self.put_reputation(rep.score_address(pk), record)

    @rule(volunteers=st.lists(st.integers(0, 5), unique=True, max_size=6),
          traders=st.dictionaries(st.sampled_from(TRADERS), st.sampled_from([400_000, 1_000_000, 1_500_000]),
                                  max_size=3))
    def refresh_pool(self, volunteers, traders):
        self.pool(volunteers, traders)

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

    @rule(day=st.sampled_from(DAYS), hour=st.integers(0, 2), now=st.integers(0, 3))
    def close_hour(self, day, hour, now):
        if (day, hour) not in self.closed and (now or len(self.closed) >= 4):
            return  # keep two hours open for trading, and most hours open for most of a flow
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
    def locks_are_resting_orders_and_escrows(self):
        locked: dict[str, int] = {}
        credit: dict[str, int] = {}
        for order in self.resting():
            if order.side == pb.BUY:
                assert order.credit in (0, order.locked), f"{order.id}: part on credit"
                locked[order.owner] = locked.get(order.owner, 0) + order.locked - order.credit
                credit[order.owner] = credit.get(order.owner, 0) + order.credit
                *_, needed = u.trade_amounts(order.remaining, order.price, order.penalty, order.wire_fee)
                assert order.locked == needed, f"{order.id}: lock {order.locked} != {needed} for its remainder"
            else:
                assert order.locked == order.credit == 0
        for c in self.records(CONTRACT, pb.Contract):
            assert c.stage in UNSETTLED  # nothing settles in these flows
            locked[c.buyer] = locked.get(c.buyer, 0) + c.escrow
            credit[c.buyer] = credit.get(c.buyer, 0) + c.credit
        for wallet in self.records(WALLET, pb.Wallet):
            assert wallet.locked == locked.get(wallet.public_key, 0), wallet.public_key
            assert wallet.credit_used == credit.get(wallet.public_key, 0), wallet.public_key
            assert wallet.credit_used <= SETTINGS.credit_limit, wallet.public_key

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
            assert c.stage == pb.PREPARED and 0 <= c.escrow + c.credit - c.total <= 5, c  # rounding dust only
            assert c.credit == 0 or c.escrow == 0, c
            assert c.quorum == quorum(len(c.cluster))
            if c.grid:
                assert c.wire_fee == 0
                assert OP in (c.buyer, c.seller) and "" in (c.buy_order, c.sell_order)
                assert c.price == (GRID_SELL if c.buy_order else GRID_BUY)
                assert list(c.cluster) == [] and c.leader == ""
            else:
                assert c.buy_order and c.sell_order
                assert c.seller not in c.cluster and c.buyer not in c.cluster
                assert (tuple(c.cluster), c.leader, c.quorum) == \
                    (self.drawn[c.id].cluster, self.drawn[c.id].leader, self.drawn[c.id].quorum)
                assert len(c.cluster) <= SETTINGS.cluster_size and list(c.cluster) == sorted(set(c.cluster))
                assert (c.leader in c.cluster) == bool(c.cluster)
                (buy_score, buy_min), (sell_score, sell_min) = self.terms[c.buy_order], self.terms[c.sell_order]
                assert buy_score >= sell_min and sell_score >= buy_min, f"{c.id}: a Q-score below the other's minimum"
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
    def indexes_list_the_contracts(self):
        contracts = sorted(self.records(CONTRACT, pb.Contract), key=lambda c: parse_order_id(c.id))
        hours: dict[tuple[int, int], list[str]] = {}
        sold: dict[tuple[str, int, int], list[str]] = {}
        bought: dict[tuple[str, int, int], list[str]] = {}
        for c in contracts:
            hours.setdefault((c.day, c.hour), []).append(c.id)
            sold.setdefault((c.seller, c.day, c.hour), []).append(c.id)
            bought.setdefault((c.buyer, c.day, c.hour), []).append(c.id)
        indexes = {(i.day, i.hour): list(i.contracts) for i in self.records(HOUR_INDEX, pb.HourIndex)}
        assert indexes == hours
        positions = self.records(POSITION, pb.Position)
        assert {(p.public_key, p.day, p.hour): list(p.sold) for p in positions if p.sold} == sold
        assert {(p.public_key, p.day, p.hour): list(p.bought) for p in positions if p.bought} == bought

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
                        assert not acceptable(order, offer), f"book {book.day}/{book.hour} crossed: {order.id} {offer.id}"
            seqs = [o.seq for o in (*book.offers, *book.orders)]
            assert len(set(seqs)) == len(seqs) and all(s < book.next_seq for s in seqs)


MarketFlow.TestCase.settings = settings(
    max_examples=examples(150), stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestMarketFlow = MarketFlow.TestCase
