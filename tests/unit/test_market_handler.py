"""sawgrid-market handler rules, on the in-process ledger (the same handler a
validator drives; inputs/outputs enforced like devnet).

The reputation family's records the market reads (Config, Score, Pool) are
written straight into the ledger's state here, as the reputation handler
would leave them."""
from __future__ import annotations

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk import market as m
from sawgrid.processors.inprocess import InProcessLedger
from sawgrid.processors.market import addresses as addr
from sawgrid.processors.market.book import assemble
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.processors.market.units import trade_amounts
from sawgrid.processors.reputation import addresses as rep
from sawgrid.processors.reputation.settings import DEFAULTS, PPM
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

DAY, HOUR = 20_000, 7
FEE = 10_000  # µEUR/kWh


def new_signer():
    return keys.signer_for(keys.new_private_key())


class Market:
    """An initialised market with an operator and helpers to act and read."""

    def __init__(self) -> None:
        self.ledger = InProcessLedger([MarketHandler()])
        self.op = new_signer()
        self.ok(self.op, m.init(FEE))

    def pk(self, signer) -> str:
        return signer.get_public_key().as_hex()

    def run(self, signer, *payloads):
        return self.ledger.apply_transactions([m.market_transaction(signer, p) for p in payloads])

    def ok(self, signer, *payloads):
        result = self.run(signer, *payloads)
        assert result.valid, result.invalid_message
        return result

    def fails(self, signer, payload, match: str):
        before = dict(self.ledger.state)
        result = self.run(signer, payload)
        assert not result.valid
        assert match in result.invalid_message, result.invalid_message
        assert self.ledger.state == before  # nothing changed
        return result.invalid_message

    def participant(self, name: str, funds: int = 10_000_000):
        s = new_signer()
        self.ok(s, m.register(name))
        self.ok(self.op, m.approve(self.pk(s)), *([m.fund(self.pk(s), funds)] if funds else []))
        return s

    def read(self, address: str, cls):
        raw = self.ledger.get(address)
        return cls.FromString(raw) if raw is not None else None

    def wallet(self, signer_or_pk) -> pb.Wallet:
        pk = signer_or_pk if isinstance(signer_or_pk, str) else self.pk(signer_or_pk)
        return self.read(addr.wallet_address(pk), pb.Wallet)

    def book(self, day=DAY, hour=HOUR) -> pb.Book:
        """The hour's head with every resting entry of its pages, in priority order."""
        head = self.read(addr.book_address(day, hour), pb.Book)
        pages = [pb.Book.FromString(v) for a, v in self.ledger.items(addr.book_prefix(day, hour)).items()
                 if a != addr.book_address(day, hour)]
        return assemble(head, pages)

    def contracts(self) -> list[pb.Contract]:
        """Every contract, in creation order."""
        found = [pb.Contract.FromString(v) for v in self.ledger.items(addr.contracts_prefix()).values()]
        return sorted(found, key=lambda c: addr.parse_order_id(c.id))

    def order(self, signer, side, kwh_wh: int, price: int, hour=HOUR, grid=False, **options) -> str:
        result = self.ok(signer, m.place_order(side, DAY, hour, kwh_wh, price, grid, **options))
        return result.receipt_data[0].decode()

    # -- the reputation family's records, as its handler would write them ----------
    def put_score(self, signer_or_pk, score: int, first_day: int = 0, settled: int = 0, faults: int = 0) -> None:
        pk = signer_or_pk if isinstance(signer_or_pk, str) else self.pk(signer_or_pk)
        self.ledger.state[rep.score_address(pk)] = rpb.Score(
            public_key=pk, score=score, first_day=first_day, settled=settled, faults=faults).SerializeToString()

    def put_pool(self, entries: dict[str, int]) -> None:
        snapshot = [rpb.PoolEntry(public_key=k, score=v) for k, v in sorted(entries.items(), key=lambda e: (-e[1], e[0]))]
        self.ledger.state[rep.pool_address()] = rpb.Pool(volunteers=sorted(entries), snapshot=snapshot).SerializeToString()

    def put_settings(self, **changes) -> rpb.Settings:
        settings = rpb.Settings()
        settings.CopyFrom(DEFAULTS)
        for name, value in changes.items():
            setattr(settings, name, value)
        self.ledger.state[rep.config_address()] = rpb.Config(settings=settings).SerializeToString()
        return settings

    def position(self, signer_or_pk, hour=HOUR) -> pb.Position | None:
        pk = signer_or_pk if isinstance(signer_or_pk, str) else self.pk(signer_or_pk)
        return self.read(addr.position_address(DAY, hour, pk), pb.Position)


@pytest.fixture
def mk() -> Market:
    return Market()


def test_init_only_once(mk):
    mk.fails(new_signer(), m.init(0), "already initialised")
    config = mk.read(addr.config_address(), pb.Config)
    assert list(config.operators) == [mk.pk(mk.op)] and config.system_operator == mk.pk(mk.op)


def test_registration_needs_approval_before_trading(mk):
    alice = new_signer()
    mk.ok(alice, m.register("alice"))
    mk.fails(alice, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000), "not approved yet")
    mk.fails(alice, m.approve(mk.pk(alice)), "not an operator")
    mk.ok(mk.op, m.approve(mk.pk(alice)))
    mk.fails(mk.op, m.approve(mk.pk(alice)), "already approved")
    mk.fails(alice, m.register("again"), "already registered")


def test_a_trade_puts_the_buyers_money_in_escrow(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob", funds=0)
    offer = mk.order(bob, pb.SELL, 2000, 200_000)
    mk.order(alice, pb.BUY, 1500, 250_000)
    (contract,) = mk.contracts()
    base, surcharge, fee, total = trade_amounts(1500, 200_000, 1000, FEE)
    assert (contract.energy, contract.price, contract.base, contract.wire_fee, contract.total) == \
        (1500, 200_000, base, fee, total)
    assert contract.seller == mk.pk(bob) and contract.buyer == mk.pk(alice) and contract.sell_order == offer
    assert (contract.stage, contract.escrow, contract.credit) == (pb.PREPARED, total, 0)
    # the buyer's money stays in its own wallet, held for the contract; nothing reaches the seller yet
    assert (mk.wallet(alice).balance, mk.wallet(alice).locked) == (10_000_000 - total, total)
    assert (mk.wallet(bob).balance, mk.wallet(bob).locked) == (0, 0)
    assert (mk.wallet(mk.op).balance, mk.wallet(mk.op).locked) == (0, 0)
    (rest,) = mk.book().offers
    assert rest.id == offer and rest.remaining == 500


def test_price_then_time_priority_and_partial_fills(mk):
    alice, bob, carol = mk.participant("alice"), mk.participant("bob"), mk.participant("carol")
    late_cheap = None
    first = mk.order(bob, pb.SELL, 1000, 210_000)
    second = mk.order(carol, pb.SELL, 1000, 210_000)
    late_cheap = mk.order(carol, pb.SELL, 500, 150_000)
    mk.order(alice, pb.BUY, 2000, 220_000)
    sold = [(c.sell_order, c.energy, c.price) for c in sorted(mk.contracts(), key=lambda c: int(c.id.split("/")[2]))]
    assert sold == [(late_cheap, 500, 150_000), (first, 1000, 210_000), (second, 500, 210_000)]
    assert [(o.id, o.remaining) for o in mk.book().offers] == [(second, 500)]


def test_arriving_offer_trades_at_the_order_limit_and_trims_locks(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    buy = mk.order(alice, pb.BUY, 3000, 250_000)
    *_, lock = trade_amounts(3000, 250_000, 1000, FEE)
    assert mk.wallet(alice).locked == lock
    mk.order(bob, pb.SELL, 1000, 100_000)
    (contract,) = mk.contracts()
    assert contract.price == 250_000 and contract.buy_order == buy
    (resting,) = mk.book().orders
    *_, needed = trade_amounts(2000, 250_000, 1000, FEE)
    assert resting.remaining == 2000 and resting.locked == needed
    # alice's wallet is not part of bob's transaction: what her remainder no longer needs
    # (the trade's total and any rounding the whole lock held) is the contract's escrow
    assert contract.escrow == lock - needed >= contract.total
    assert mk.wallet(alice).locked == lock == resting.locked + contract.escrow


def test_rounding_a_resting_lock_held_goes_into_the_escrow(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.ok(mk.op, m.set_penalties(DAY, [1000] * HOUR + [1333] + [1000] * (23 - HOUR)))
    mk.order(alice, pb.BUY, 3, 333_333)          # every part of its cost rounds
    for _ in range(3):
        mk.order(bob, pb.SELL, 1, 1)               # three fills of 1 Wh at alice's limit
    *_, lock = trade_amounts(3, 333_333, 1333, FEE)
    *_, one = trade_amounts(1, 333_333, 1333, FEE)
    contracts = mk.contracts()
    assert [c.total for c in contracts] == [one] * 3 and 3 * one < lock
    assert sum(c.escrow for c in contracts) == lock and all(c.escrow >= c.total for c in contracts)
    assert any(c.escrow > c.total for c in contracts)  # each fill trims the order to what its remainder needs
    assert mk.book().orders == [] and mk.wallet(alice).locked == lock


def test_no_trade_with_yourself(mk):
    alice = mk.participant("alice")
    mk.order(alice, pb.SELL, 1000, 100_000)
    mk.order(alice, pb.BUY, 1000, 200_000)
    assert mk.contracts() == []
    assert len(mk.book().offers) == 1 and len(mk.book().orders) == 1


def test_grid_fallback_settles_with_the_operator_at_gate_closure(mk):
    alice, bob, carol = mk.participant("alice"), mk.participant("bob", funds=0), mk.participant("carol")
    mk.ok(mk.op, m.set_grid_prices(DAY, [100_000] * 24, [300_000] * 24), m.fund(mk.pk(mk.op), 5_000_000))
    too_cheap = mk.order(alice, pb.BUY, 1000, 50_000, grid=True)    # below bob's offer and the grid's 0.30
    wants = mk.order(alice, pb.BUY, 1500, 350_000, grid=True)
    surplus = mk.order(bob, pb.SELL, 2000, 90_000, grid=True)       # P2P first: fills alice's best order
    assert [(c.buy_order, c.sell_order, c.energy) for c in mk.contracts()] == [(wants, surplus, 1500)]
    mk.order(carol, pb.SELL, 700, 400_000, grid=True)               # grid buys at 0.10 < its limit
    result = mk.ok(mk.op, m.close_hour(DAY, HOUR))
    grid = [c for c in mk.contracts() if c.grid]
    assert [(c.buyer, c.seller, c.energy, c.price, c.wire_fee) for c in grid] == [
        (mk.pk(mk.op), mk.pk(bob), 500, 100_000, 0),                # bob's rest goes to the grid
    ]  # alice's cheap order and carol's dear offer are outside the grid price: they expire
    closed = [e for e in result.events if e.event_type == "sawgrid-market/hour-closed"][0]
    assert {a.key: a.value for a in closed.attributes}["expired"] == "2"
    (p2p,) = [c for c in mk.contracts() if not c.grid]
    assert mk.wallet(alice).locked == p2p.escrow                      # her expired order's lock returned
    assert (mk.wallet(bob).balance, mk.wallet(bob).locked) == (0, 0)  # paid at settlement, not now
    (bought,) = grid
    base = trade_amounts(500, 100_000, 1000, 0)[0]
    assert (bought.escrow, bought.total, list(bought.cluster), bought.quorum) == (base, base, [], 0)
    assert (mk.wallet(mk.op).balance, mk.wallet(mk.op).locked) == (5_000_000 - base, base)  # the operator's escrow
    assert too_cheap not in {c.buy_order for c in mk.contracts()}


def test_grid_fallback_buy_at_closure_pays_grid_price_and_penalty(mk):
    alice = mk.participant("alice")
    mk.ok(mk.op, m.set_grid_prices(DAY, [100_000] * 24, [300_000] * 24),
          m.set_penalties(DAY, [1000] * HOUR + [1200] + [1000] * (23 - HOUR)))
    mk.order(alice, pb.BUY, 1000, 300_000, grid=True)
    mk.ok(mk.op, m.close_hour(DAY, HOUR))
    (c,) = mk.contracts()
    base, surcharge, _, total = trade_amounts(1000, 300_000, 1200, 0)
    assert (c.seller, c.price, c.penalty, c.total, c.escrow) == (mk.pk(mk.op), 300_000, 1200, total, total)
    assert (mk.wallet(alice).balance, mk.wallet(alice).locked) == (10_000_000 - total, total)


def test_penalty_surcharge_is_part_of_the_escrow(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.ok(mk.op, m.set_penalties(DAY, [1000] * HOUR + [1500] + [1000] * (23 - HOUR)))
    op_before = mk.wallet(mk.op).balance
    mk.order(bob, pb.SELL, 1000, 200_000)
    mk.order(alice, pb.BUY, 1000, 200_000)
    (contract,) = mk.contracts()
    base, surcharge, fee, total = trade_amounts(1000, 200_000, 1500, FEE)
    assert (contract.penalty, contract.surcharge, contract.total) == (1500, surcharge, total) and surcharge == base // 2
    assert contract.escrow == total                      # the surcharge is paid out at settlement
    assert mk.wallet(mk.op).balance == op_before


def test_penalties_are_written_once_per_day(mk):
    vector = [1000] * 12 + [1200] * 12
    mk.ok(mk.op, m.set_penalties(DAY, vector))
    mk.ok(mk.op, m.set_penalties(DAY, vector))  # same again: harmless (idempotent re-run)
    mk.fails(mk.op, m.set_penalties(DAY, [1000] * 24), "already set")
    mk.fails(mk.op, m.set_penalties(DAY + 1, [999] + [1000] * 23), "set_penalties.multipliers[0]")


def test_insufficient_funds_changes_nothing(mk):
    alice = mk.participant("alice", funds=100)
    mk.fails(alice, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000), "insufficient funds")


def test_cancel_by_owner_returns_the_lock(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    buy = mk.order(alice, pb.BUY, 1000, 200_000)
    mk.fails(bob, m.cancel(buy), "not your order")
    mk.ok(alice, m.cancel(buy))
    assert mk.wallet(alice).locked == 0 and mk.wallet(alice).balance == 10_000_000
    mk.fails(alice, m.cancel(buy), "no such resting order")


def test_closing_an_hour_expires_orders_and_refuses_more(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.order(alice, pb.BUY, 1000, 200_000)
    mk.order(bob, pb.SELL, 1000, 300_000)
    result = mk.ok(mk.op, m.close_hour(DAY, HOUR))
    assert [e.event_type for e in result.events] == ["sawgrid-market/hour-closed"]
    assert mk.wallet(alice).locked == 0 and mk.wallet(alice).balance == 10_000_000
    assert mk.book().closed and not mk.book().orders and not mk.book().offers
    mk.fails(alice, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000), "is closed")
    mk.fails(mk.op, m.close_hour(DAY, HOUR), "already closed")


def test_role_for_the_day_limits_the_side(mk):
    alice = mk.participant("alice")
    mk.ok(alice, m.set_role(DAY, pb.SELLER))
    mk.fails(alice, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000), "role for day")
    mk.order(alice, pb.SELL, 1000, 200_000)
    mk.ok(alice, m.place_order(pb.BUY, DAY + 1, HOUR, 1000, 200_000))  # another day: BOTH


def test_operator_set_changes_only_by_operators(mk):
    newcomer = new_signer()
    mk.fails(newcomer, m.add_operator(mk.pk(newcomer)), "not an operator")
    mk.ok(mk.op, m.add_operator(mk.pk(newcomer)))
    mk.ok(newcomer, m.set_wire_fee(5))
    mk.fails(newcomer, m.remove_operator(mk.pk(mk.op)), "system operator cannot be removed")
    mk.ok(mk.op, m.remove_operator(mk.pk(newcomer)))
    mk.fails(newcomer, m.set_wire_fee(6), "not an operator")


def test_recommendations_need_registered_participants(mk):
    alice = mk.participant("alice")
    stranger = new_signer()
    schedule = [100] * 24
    mk.fails(mk.op, m.set_recommendations(DAY, {mk.pk(alice): schedule, mk.pk(stranger): schedule}), "not registered")
    mk.ok(mk.op, m.set_recommendations(DAY, {mk.pk(alice): schedule}))
    record = mk.read(addr.recommendation_address(DAY, mk.pk(alice)), pb.RecommendationRecord)
    assert list(record.schedule) == schedule


def test_recommendations_are_final_once_the_day_is_issued(mk):
    alice = mk.participant("alice")
    issue = [m.set_recommendations(DAY, {mk.pk(alice): [10] * 24}), m.set_penalties(DAY, [1000] * 24)]
    mk.ok(mk.op, *issue)  # the engine's atomic batch
    mk.fails(mk.op, m.set_recommendations(DAY, {mk.pk(alice): [20] * 24}), "already issued")
    assert not mk.run(mk.op, *issue).valid  # re-issuing the day as a whole is refused too


@pytest.mark.parametrize("payload, field", [
    (pb.MarketPayload(place_order=pb.PlaceOrder(side=pb.BUY, day=DAY, hour=24, energy=1, price=1)), "place_order.hour"),
    (pb.MarketPayload(place_order=pb.PlaceOrder(side=pb.BUY, day=DAY, hour=1, energy=0, price=1)), "place_order.energy"),
    (pb.MarketPayload(place_order=pb.PlaceOrder(day=DAY, hour=1, energy=1, price=1)), "place_order.side"),
    (pb.MarketPayload(place_order=pb.PlaceOrder(side=pb.SELL, day=DAY, hour=1, energy=2**40, price=1)), "place_order.energy"),
    (pb.MarketPayload(fund=pb.Fund(public_key="02" + "ab" * 32, amount=0)), "fund.amount"),
    (pb.MarketPayload(set_grid_prices=pb.SetGridPrices(day=DAY, buy=[1] * 23, sell=[1] * 24)), "set_grid_prices.buy"),
    (pb.MarketPayload(approve=pb.Approve(public_key="nope")), "approve.public_key"),
])
def test_bad_fields_are_named(mk, payload, field):
    alice = mk.participant("alice")
    mk.fails(alice, payload, field)


def test_garbage_payload_is_invalid_not_a_crash(mk):
    from sawgrid.protos.envelopes import make_transaction

    signer = new_signer()
    everything = [addr.MARKET.namespace]
    for raw in (b"\xff\xff\xff", b"", pb.MarketPayload().SerializeToString()):
        txn = make_transaction(signer, addr.MARKET.name, "1.0", raw, everything, everything)
        result = mk.ledger.apply(txn)
        assert not result.valid and result.invalid_message.startswith("payload")


# -- who may do what ---------------------------------------------------------------------

OPERATOR_ONLY = {  # action -> payload, given the market, an approved participant and a pending one
    "add_operator": lambda mk, alice, pending: m.add_operator(mk.pk(pending)),
    "remove_operator": lambda mk, alice, pending: m.remove_operator(mk.pk(mk.deputy)),
    "set_wire_fee": lambda mk, alice, pending: m.set_wire_fee(1),
    "approve": lambda mk, alice, pending: m.approve(mk.pk(pending)),
    "fund": lambda mk, alice, pending: m.fund(mk.pk(alice), 1_000_000),
    "set_grid_prices": lambda mk, alice, pending: m.set_grid_prices(DAY, [1] * 24, [2] * 24),
    "set_penalties": lambda mk, alice, pending: m.set_penalties(DAY, [1500] * 24),
    "set_recommendations": lambda mk, alice, pending: m.set_recommendations(DAY, {mk.pk(alice): [10] * 24}),
    "close_hour": lambda mk, alice, pending: m.close_hour(DAY, HOUR),
}


@pytest.mark.parametrize("who", ["participant", "pending", "stranger"])
@pytest.mark.parametrize("action", sorted(OPERATOR_ONLY))
def test_operator_only_actions(mk, action, who):
    mk.deputy = new_signer()
    mk.ok(mk.op, m.add_operator(mk.pk(mk.deputy)))
    alice = mk.participant("alice")
    pending = new_signer()
    mk.ok(pending, m.register("pending"))
    actor = {"participant": alice, "pending": pending, "stranger": new_signer()}[who]
    payload = OPERATOR_ONLY[action](mk, alice, pending)
    mk.fails(actor, payload, "not an operator")
    mk.ok(mk.op, payload)  # the same payload from an operator is fine


def test_a_participant_cannot_fund_itself(mk):
    alice = mk.participant("alice", funds=0)
    mk.fails(alice, m.fund(mk.pk(alice), 10**9), "not an operator")
    assert mk.wallet(alice).balance == 0


def test_only_operators_remove_operators(mk):
    deputy, alice = new_signer(), mk.participant("alice")
    mk.ok(mk.op, m.add_operator(mk.pk(deputy)))
    mk.fails(alice, m.remove_operator(mk.pk(deputy)), "not an operator")
    mk.ok(deputy, m.set_wire_fee(7))  # still an operator
    mk.ok(mk.op, m.remove_operator(mk.pk(deputy)))
    mk.fails(deputy, m.approve(mk.pk(alice)), "not an operator")  # a removed operator has no rights left


def test_an_added_operator_is_an_approved_participant(mk):
    deputy = new_signer()  # never registered
    mk.ok(mk.op, m.add_operator(mk.pk(deputy)))
    participant = mk.read(addr.participant_address(mk.pk(deputy)), pb.Participant)
    assert participant.status == pb.APPROVED
    mk.order(deputy, pb.SELL, 1000, 200_000)  # may trade
    mk.ok(deputy, m.set_role(DAY + 1, pb.SELLER))


def test_setting_a_role_needs_approval(mk):
    pending, stranger = new_signer(), new_signer()
    mk.ok(pending, m.register("pending"))
    mk.fails(pending, m.set_role(DAY, pb.SELLER), "not approved yet")
    mk.fails(stranger, m.set_role(DAY, pb.SELLER), "not registered")
    mk.ok(mk.op, m.approve(mk.pk(pending)))
    mk.ok(pending, m.set_role(DAY, pb.SELLER))
    role = mk.read(addr.role_address(mk.pk(pending), DAY), pb.DayRole)
    assert (role.public_key, role.role) == (mk.pk(pending), pb.SELLER)


def test_unregistered_keys_cannot_trade(mk):
    stranger = new_signer()
    mk.fails(stranger, m.place_order(pb.SELL, DAY, HOUR, 1000, 200_000), "not registered")
    mk.fails(stranger, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000), "not registered")


@pytest.mark.parametrize("role, may_buy, may_sell", [
    (None, True, True),
    (pb.BOTH, True, True),
    (pb.BUYER, True, False),
    (pb.SELLER, False, True),
], ids=["no role", "BOTH", "BUYER", "SELLER"])
def test_the_days_role_decides_the_sides(mk, role, may_buy, may_sell):
    alice = mk.participant("alice")
    if role is not None:
        mk.ok(alice, m.set_role(DAY, role))
    for side, allowed in ((pb.BUY, may_buy), (pb.SELL, may_sell)):
        order = m.place_order(side, DAY, HOUR + side, 1000, 200_000)  # separate hours: no self-matching
        if allowed:
            mk.ok(alice, order)
        else:
            mk.fails(alice, order, f"your role for day {DAY} is {pb.Role.Name(role)}")


# -- settlement's preparation: escrow, cluster, indexes --------------------------------------

def test_a_match_draws_the_cluster_from_the_pool(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    volunteers = {k: 1_000_000 + 10_000 * i for i, k in enumerate("02" + f"{i:02x}" * 32 for i in range(6))}
    mk.put_pool({**volunteers, mk.pk(alice): 3_000_000, mk.pk(bob): 2_000_000, "02" + "ff" * 32: 400_000})
    mk.order(bob, pb.SELL, 1000, 200_000)
    mk.order(alice, pb.BUY, 1000, 200_000)
    (c,) = mk.contracts()
    from sawgrid.processors.reputation import cluster
    expected = cluster.draw(rpb.Pool.FromString(mk.ledger.get(rep.pool_address())).snapshot, c.id, c.seller,
                            c.buyer, DEFAULTS.min_score, DEFAULTS.cluster_size)
    assert (tuple(c.cluster), c.leader, c.quorum) == (expected.cluster, expected.leader, expected.quorum)
    assert len(c.cluster) == 4 and c.quorum == 3 and c.leader in c.cluster
    assert set(c.cluster) <= set(volunteers)  # never the parties, never below min_score
    assert list(c.cluster) == sorted(c.cluster)


def test_the_reputation_settings_on_chain_apply(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.put_pool({"02" + f"{i:02x}" * 32: 1_000_000 for i in range(6)})
    mk.put_settings(cluster_size=7)
    mk.order(bob, pb.SELL, 1000, 200_000)
    mk.order(alice, pb.BUY, 1000, 200_000)
    (c,) = mk.contracts()
    assert (len(c.cluster), c.quorum) == (6, 5)  # a smaller pool: all six serve, quorum of six


def test_no_pool_no_cluster_and_grid_contracts_have_none(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.order(bob, pb.SELL, 1000, 200_000)
    mk.order(alice, pb.BUY, 1000, 200_000)
    (c,) = mk.contracts()
    assert (list(c.cluster), c.leader, c.quorum) == ([], "", 0)
    mk.put_pool({"02" + f"{i:02x}" * 32: 1_000_000 for i in range(6)})
    mk.ok(mk.op, m.set_grid_prices(DAY, [100_000] * 24, [300_000] * 24))
    mk.order(alice, pb.BUY, 1000, 300_000, grid=True)
    mk.ok(mk.op, m.close_hour(DAY, HOUR))
    grid = [c for c in mk.contracts() if c.grid]
    assert [(list(c.cluster), c.leader, c.quorum, c.stage) for c in grid] == [([], "", 0, pb.PREPARED)]


def test_the_hour_index_and_positions_list_contracts_in_creation_order(mk):
    alice, bob, carol = mk.participant("alice"), mk.participant("bob"), mk.participant("carol")
    mk.ok(mk.op, m.set_grid_prices(DAY, [100_000] * 24, [300_000] * 24), m.fund(mk.pk(mk.op), 5_000_000))
    mk.order(bob, pb.SELL, 1000, 80_000)
    mk.order(carol, pb.SELL, 1000, 90_000, grid=True)  # the grid buys at 0.10
    mk.order(alice, pb.BUY, 1500, 200_000)             # bob's 1000 and 500 of carol's
    mk.order(bob, pb.BUY, 200, 200_000)                # 200 more of carol's
    mk.ok(mk.op, m.close_hour(DAY, HOUR))              # carol's last 300 to the grid (operator buys)
    ids = [c.id for c in mk.contracts()]
    first, second, third, grid = ids
    index = mk.read(addr.hour_index_address(DAY, HOUR), pb.HourIndex)
    assert list(index.contracts) == ids
    pos = {name: mk.position(s) for name, s in (("alice", alice), ("bob", bob), ("carol", carol), ("op", mk.op))}
    assert (list(pos["alice"].sold), list(pos["alice"].bought)) == ([], [first, second])
    assert (list(pos["bob"].sold), list(pos["bob"].bought)) == ([first], [third])
    assert (list(pos["carol"].sold), list(pos["carol"].bought)) == ([second, third, grid], [])
    assert (list(pos["op"].sold), list(pos["op"].bought)) == ([], [grid])
    assert mk.position(alice, hour=HOUR + 1) is None


def test_recommendation_index_keeps_sorted_unique_keys(mk):
    alice, bob, carol = mk.participant("alice"), mk.participant("bob"), mk.participant("carol")
    mk.ok(mk.op, m.set_recommendations(DAY, {mk.pk(bob): [1] * 24, mk.pk(alice): [2] * 24}))
    mk.ok(mk.op, m.set_recommendations(DAY, {mk.pk(carol): [1] * 24, mk.pk(bob): [3] * 24}))  # a revision
    index = mk.read(addr.recommendation_index_address(DAY), pb.RecommendationIndex)
    assert list(index.public_keys) == sorted({mk.pk(alice), mk.pk(bob), mk.pk(carol)})
    assert mk.read(addr.recommendation_index_address(DAY + 1), pb.RecommendationIndex) is None


# -- credit ------------------------------------------------------------------------------

def test_buying_on_credit_needs_the_credit_score(mk):
    alice = mk.participant("alice")
    mk.fails(alice, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000, on_credit=True),
             "place_order.on_credit: buying on credit needs a Q-score of 1200000 ppm, yours is 1000000 ppm")
    mk.fails(alice, m.place_order(pb.SELL, DAY, HOUR, 1000, 200_000, on_credit=True),
             "place_order.on_credit: only a BUY order can be on credit")


def test_an_order_on_credit_holds_the_credit_line_and_its_contracts_owe(mk):
    alice, bob = mk.participant("alice", funds=0), mk.participant("bob")
    mk.put_score(alice, 1_300_000, first_day=DAY - 30, settled=6)
    buy = mk.order(alice, pb.BUY, 3000, 250_000, on_credit=True)   # no money at all: the line pays
    *_, lock = trade_amounts(3000, 250_000, 1000, FEE)
    wallet = mk.wallet(alice)
    assert (wallet.balance, wallet.locked, wallet.credit_used) == (0, 0, lock)
    (order,) = mk.book().orders
    assert (order.locked, order.credit, order.owner_score) == (lock, lock, 1_300_000)
    mk.order(bob, pb.SELL, 1000, 100_000)                           # fills 1000 at alice's limit
    (c,) = mk.contracts()
    *_, needed = trade_amounts(2000, 250_000, 1000, FEE)
    assert (c.escrow, c.credit, c.buy_order) == (0, lock - needed, buy) and c.credit >= c.total
    (order,) = mk.book().orders
    assert order.locked == order.credit == needed
    assert mk.wallet(alice).credit_used == lock                     # still held: owed by the contract
    mk.ok(alice, m.cancel(buy))                                     # the rest of the line returns
    assert (mk.wallet(alice).credit_used, mk.wallet(alice).locked) == (c.credit, 0)


def test_an_arriving_buy_on_credit_owes_each_total_and_returns_the_rest(mk):
    alice, bob = mk.participant("alice", funds=0), mk.participant("bob")
    mk.put_score(alice, 1_200_000, first_day=DAY - 30, settled=6)
    mk.order(bob, pb.SELL, 1000, 100_000)
    mk.order(alice, pb.BUY, 1000, 250_000, on_credit=True)          # trades at bob's price
    (c,) = mk.contracts()
    assert (c.escrow, c.credit) == (0, c.total)
    assert mk.wallet(alice).credit_used == c.total and mk.book().orders == []


def test_the_credit_line_is_a_limit(mk):
    alice = mk.participant("alice")
    mk.put_score(alice, 2_000_000, first_day=DAY - 30, settled=9)
    mk.put_settings(credit_limit=1_000_000)
    *_, lock = trade_amounts(3000, 250_000, 1000, FEE)
    mk.order(alice, pb.BUY, 3000, 250_000, on_credit=True)
    mk.fails(alice, m.place_order(pb.BUY, DAY, HOUR, 3000, 250_000, on_credit=True),
             f"place_order.on_credit: the order needs {lock} µEUR of credit, {1_000_000 - lock} µEUR of the "
             f"1000000 µEUR credit line is free")
    mk.order(alice, pb.BUY, 3000, 250_000)                          # from the balance, as ever


# -- eligibility and counterparty scores ------------------------------------------------------

def test_a_low_score_after_the_grace_cannot_trade(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.put_score(alice, 400_000, first_day=DAY - 3, settled=1)
    mk.order(alice, pb.SELL, 1000, 200_000)                         # day 3 of the grace
    mk.put_score(alice, 400_000, first_day=DAY - 7, settled=1)
    mk.fails(alice, m.place_order(pb.SELL, DAY, HOUR, 1000, 200_000),
             "signer: Q-score 400000 ppm is below the minimum 500000 ppm (the newcomer grace of 7 days")
    mk.put_score(bob, 499_999, first_day=DAY - 1, settled=1, faults=1)
    mk.fails(bob, m.place_order(pb.BUY, DAY, HOUR, 1000, 200_000), "(1 fault(s) on record)")
    mk.put_score(bob, 500_000, first_day=DAY - 100, settled=1, faults=3)
    mk.order(bob, pb.BUY, 1000, 100_000)                            # at min_score: fine


def test_orders_record_their_owners_score(mk):
    alice, bob = mk.participant("alice"), mk.participant("bob")
    mk.put_score(alice, 1_700_000, first_day=DAY - 30, settled=20)
    mk.order(alice, pb.SELL, 1000, 200_000, min_counterparty_score=900_000)
    mk.order(bob, pb.BUY, 1000, 100_000)                            # no record: the initial score
    (offer,), (order,) = mk.book().offers, mk.book().orders
    assert (offer.owner_score, offer.min_counterparty_score) == (1_700_000, 900_000)
    assert (order.owner_score, order.min_counterparty_score) == (DEFAULTS.initial_score, 0)


def test_matching_honours_the_minimum_counterparty_score_both_ways(mk):
    alice, bob, carol = mk.participant("alice"), mk.participant("bob"), mk.participant("carol")
    mk.put_score(bob, 800_000, first_day=DAY - 30, settled=3)
    mk.put_score(carol, 1_500_000, first_day=DAY - 30, settled=9)
    cheap = mk.order(bob, pb.SELL, 1000, 100_000)                   # bob: 0.8
    dear = mk.order(carol, pb.SELL, 1000, 150_000)                  # carol: 1.5
    mk.order(alice, pb.BUY, 1000, 200_000, min_counterparty_score=1_000_000)
    (c,) = mk.contracts()
    assert c.sell_order == dear                                      # bob's cheaper offer was skipped
    picky = mk.order(carol, pb.BUY, 500, 200_000, min_counterparty_score=0)
    assert [c.sell_order for c in mk.contracts()][1:] == [cheap]     # carol takes bob's offer
    # a resting order that demands more than the newcomer's 1.0 is not matched with it
    mk.order(carol, pb.BUY, 500, 300_000, min_counterparty_score=1_200_000, hour=HOUR + 1)
    mk.order(alice, pb.SELL, 500, 100_000, hour=HOUR + 1)
    assert len(mk.contracts()) == 2
    assert len(mk.book(hour=HOUR + 1).orders) == 1 and len(mk.book(hour=HOUR + 1).offers) == 1
    assert picky


@pytest.mark.parametrize("value, ok", [(0, True), (10**12, True), (10**12 + 1, False)])
def test_min_counterparty_score_is_bounded(mk, value, ok):
    alice = mk.participant("alice")
    payload = m.place_order(pb.SELL, DAY, HOUR, 1000, 200_000, min_counterparty_score=value)
    if ok:
        mk.ok(alice, payload)
    else:
        mk.fails(alice, payload, "place_order.min_counterparty_score: must be 0..1000000000000 ppm")


# -- what each transaction declares --------------------------------------------------------------

def test_orders_declare_no_other_wallet(mk):
    pk = "02" + "ab" * 32
    buy_in, buy_out = addr.access(m.place_order(pb.BUY, DAY, HOUR, 1, 1), pk)
    sell_in, sell_out = addr.access(m.place_order(pb.SELL, DAY, HOUR, 1, 1), pk)
    wallets = addr.MARKET.prefix(addr.WALLET)
    assert [a for a in buy_in + buy_out if a.startswith(wallets)] == [addr.wallet_address(pk)] * 2
    assert [a for a in sell_in + sell_out if a.startswith(wallets)] == []   # a SELL's wallet is not touched
    assert set(sell_out) == set(buy_out) - {addr.wallet_address(pk)} == {
        addr.book_prefix(DAY, HOUR), addr.book_index_prefix(DAY, HOUR), addr.contracts_prefix(DAY, HOUR),
        addr.hour_index_address(DAY, HOUR), addr.positions_prefix(DAY, HOUR)}
    assert {rep.config_address(), rep.score_address(pk), rep.pool_address()} <= set(sell_in)
    assert addr.access(m.cancel(f"{DAY}/{HOUR}/3"), pk) == (
        [addr.book_prefix(DAY, HOUR), addr.book_index_prefix(DAY, HOUR), addr.wallet_address(pk)],) * 2
