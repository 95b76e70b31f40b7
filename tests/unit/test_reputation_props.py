"""Properties of settlement over random flows (hypothesis).

Each example trades through the market handler (orders on three hours, on
credit or not, with grid fallback, and gate closure), then lets chain time
run past the hours and through their deadlines while random readings (some
missing, some short), payments, attestations (honest, lying or absent
members) and `expire`s arrive, and finally expires everything that is due.
After every transaction, valid or not:

* money is conserved: Σ(balance + locked) over wallets = Σ funded;
* Σ locked = the resting BUY orders' money locks + the escrows of unsettled
  contracts; a final contract holds no escrow;
* Σ credit_used = the resting orders' credit + what contracts still owe;
* no contract is paid twice: once final, a contract record never changes,
  and its payout + refund never exceed what it held;
* an invalid transaction leaves state byte-identical;

and once every deadline has passed and been expired, no escrow is left and
every cluster member of every contract has been judged.
"""
from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings as hsettings
from hypothesis import strategies as st

from budget import examples
from reputation_world import DAY, World, attest, expire, pay, reading, rep_payload, settings
from sawgrid.processors.inprocess import Entry
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.reputation import addresses as raddr
from sawgrid.processors.reputation import settle
from sawgrid.processors.reputation.state import ReputationState
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

HOURS = (0, 1, 2)
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class _ReadOnly:
    """Enough of a Context for ReputationState to read committed state."""

    def __init__(self, state):
        self.state = state

    def get_state(self, addresses):
        return [Entry(a, self.state[a]) for a in addresses if self.state.get(a)]


def honest_verdict(w: World, contract: pb.Contract) -> tuple[int, bool]:
    st_ = ReputationState(_ReadOnly(w.ledger.state))
    operator = st_.config().system_operator
    seller = settle.allocation(st_, contract, contract.seller, True, operator) or 0
    buyer = settle.allocation(st_, contract, contract.buyer, False, operator) or 0
    return min(seller, buyer), contract.credit == 0


class Ledger:
    def __init__(self, w: World, funded: int) -> None:
        self.w = w
        self.funded = funded
        self.final: dict[str, bytes] = {}
        self.held: dict[str, int] = {}   # escrow + credit of an open contract (a payment moves one into the other)
        self.owed: dict[str, int] = {}   # its credit, when last seen open

    def check(self) -> None:
        w = self.w
        wallets = w.wallets()
        assert sum(x.balance + x.locked for x in wallets) == self.funded, "money not conserved"
        resting_money = resting_credit = 0
        for raw in w.ledger.items(maddr.MARKET.prefix(maddr.BOOK)).values():
            book = pb.Book.FromString(raw)
            for order in book.orders:
                resting_money += order.locked - order.credit
                resting_credit += order.credit
        escrow = owed = 0
        for address, raw in w.ledger.items(maddr.contracts_prefix()).items():
            c = pb.Contract.FromString(raw)
            owed += c.credit
            if c.stage in settle.FINAL_STAGES:
                assert c.escrow == 0, f"{c.id}: final with escrow"
                out = c.paid_base - c.guarantee + c.paid_surcharge + c.paid_wire_fee + c.refunded
                assert out <= self.held[c.id], f"{c.id}: released {out} µEUR, it held {self.held[c.id]}"
                if not self.owed.get(c.id):  # paid into escrow before: all of it is paid out or refunded
                    assert out == self.held[c.id], f"{c.id}: released {out} µEUR of {self.held[c.id]}"
                if c.id in self.final:
                    assert self.final[c.id] == raw, f"{c.id} changed after it was final (paid twice?)"
                self.final[c.id] = raw
            else:
                assert self.held.setdefault(c.id, c.escrow + c.credit) == c.escrow + c.credit
                self.owed[c.id] = c.credit
                escrow += c.escrow
        assert sum(x.locked for x in wallets) == resting_money + escrow, "locked ≠ resting locks + escrows"
        assert sum(x.credit_used for x in wallets) == resting_credit + owed, "credit_used ≠ resting + owed"

    def rep(self, signer: str, payload) -> bool:
        before = dict(self.w.ledger.state)
        result = self.w.run(signer, payload)
        if not result.valid:
            assert self.w.ledger.state == before, result.invalid_message
        self.check()
        return result.valid


@hsettings(max_examples=examples(150), **SETTINGS)
@given(data=st.data())
def test_random_flows_conserve_money_and_settle_everything(data):
    draw = data.draw
    rep_settings = settings(credit_score=0, credit_limit=5_000_000,
                            cluster_size=draw(st.sampled_from([0, 1, 3, 4])),
                            tolerance=draw(st.sampled_from([0, 20, 500])),
                            settle_window=14_400)
    w = World(rep_settings)
    funded = 10**9
    volunteers = [w.participant(f"v{i}", 0) for i in range(5)]
    traders = [w.participant(f"t{i}", 3_000_000) for i in range(4)]
    funded += 4 * 3_000_000
    for v in volunteers:
        w.ok(v, rep_payload("volunteer"))
    w.ok(w.op, rep_payload("refresh_pool"))
    ledger = Ledger(w, funded)
    ledger.check()

    # -- trading, before any of the hours is over
    w.at(settle.hour_end(DAY, 0) - 3_600)
    for _ in range(draw(st.integers(1, 10))):
        side = draw(st.sampled_from([pb.BUY, pb.SELL]))
        price = draw(st.integers(150_000, 320_000) if side == pb.BUY else st.integers(30_000, 250_000))
        try:
            w.order(draw(st.sampled_from(traders)), side, draw(st.integers(1, 3_000)), price,
                    hour=draw(st.sampled_from(HOURS)),
                    grid_fallback=draw(st.booleans()), on_credit=side == pb.BUY and draw(st.booleans()))
        except AssertionError:
            pass  # refused (funds, credit line): state is unchanged
        ledger.check()
    for hour in HOURS:
        if draw(st.booleans()):
            w.market(w.op, "close_hour", day=DAY, hour=hour)
            ledger.check()

    # -- execution: each meter reads (or not), buyers on credit pay (or not), members attest
    # (honestly once both readings are in, or lying, or never), at random chain times from the
    # first hour's end to past the last deadline; a few operator expires arrive meanwhile
    contracts = w.contracts()
    last = settle.deadline(DAY, max(HOURS), rep_settings) + 1
    hour_of = {c.id: c.hour for c in contracts}
    meters = sorted({(k, c.hour) for c in contracts for k in (c.seller, c.buyer) if k != w.op})
    plan = [("reading", meter) for meter in meters if draw(st.integers(0, 6))]
    plan += [("reading", (draw(st.sampled_from(traders)), draw(st.sampled_from(HOURS))))]  # maybe a stranger's
    plan += [("pay", c.id) for c in contracts if c.credit and draw(st.integers(0, 3))]
    plan += [("attest", (c.id, m)) for c in contracts for m in c.cluster for _ in range(draw(st.integers(0, 2)))]
    plan += [("expire", c.id) for c in contracts if not draw(st.integers(0, 4))]
    # chain time of each step: from its hour's end to a little past its deadline (a few miss it)
    timed = sorted((settle.hour_end(DAY, what[1] if kind == "reading" else hour_of[what if kind != "attest" else what[0]])
                    + draw(st.integers(0, rep_settings.settle_window + 600)), i, (kind, what))
                   for i, (kind, what) in enumerate(plan))
    for when, _, (kind, what) in timed:
        w.at(when)
        if kind == "reading":
            trader, hour = what
            position = w.read(maddr.position_address(DAY, hour, trader), pb.Position) or pb.Position()
            sold = sum(w.contract(i).energy for i in position.sold)
            bought = sum(w.contract(i).energy for i in position.bought)
            share = draw(st.sampled_from([1000] * 6 + [990, 600, 0]))  # permille of the honest figure
            ledger.rep(trader, reading(hour=hour, delivered=sold * share // 1000, received=bought * share // 1000))
        elif kind == "pay":
            c = w.contract(what)
            ledger.rep(c.buyer, pay(c.id))
        elif kind == "expire":
            ledger.rep(w.op, expire(what))
        else:
            contract_id, member = what
            c = w.contract(contract_id)
            if not draw(st.integers(0, 4)):  # a liar, or a member attesting before the evidence is in
                ledger.rep(member, attest((c.id, draw(st.integers(0, c.energy)), draw(st.booleans()))))
            elif all(w.read(raddr.reading_address(DAY, c.hour, k), rpb.Reading) is not None
                     for k in (c.seller, c.buyer) if not (c.grid and k == w.op)):
                delivered, paid = honest_verdict(w, c)  # an honest member waits for both readings
                ledger.rep(member, attest((c.id, delivered, paid)))

    # -- every deadline has passed: the operator expires what is left
    w.at(last)
    for c in w.contracts():
        if settle.needs_expire(c, w.settlement(c.id), rep_settings, last):
            assert ledger.rep(w.op, expire(c.id)), c.id
    for c in w.contracts():
        assert c.stage in settle.FINAL_STAGES and c.escrow == 0
        event(f"{pb.Stage.Name(c.stage)} {pb.DeclineCause.Name(c.cause)} cluster={len(c.cluster)} "
              f"credit={'yes' if c.credit or c.guarantee else 'no'}")
        assert not settle.unjudged(c, w.settlement(c.id)) if c.cluster else True
        assert not settle.needs_expire(c, w.settlement(c.id), rep_settings, last)
        assert not ledger.rep(w.op, expire(c.id))  # nothing is paid (or judged) twice
    for hour in HOURS:
        book = w.read(maddr.book_address(DAY, hour), pb.Book)
        if book is None or not book.closed:
            continue
        assert not book.orders
    resting = sum(o.locked - o.credit for raw in w.ledger.items(maddr.MARKET.prefix(maddr.BOOK)).values()
                  for o in pb.Book.FromString(raw).orders)
    assert sum(x.locked for x in w.wallets()) == resting
