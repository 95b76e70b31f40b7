"""sawgrid-reputation handler rules, on the in-process ledger (inputs/outputs
enforced as on devnet, declared by `access()` from committed state).

Most contracts here are hand-built PREPARED records (what the market's match
writes) and chain time is written into state as BlockInfo records; the last
section drives real flows instead: orders through the market handler, chain
time from the BlockInfo the in-process ledger injects before every batch."""
from __future__ import annotations

import pytest

from reputation_world import (DAY, DEADLINE, FEE, GRID_BUY, HOUR, HOUR_END, World, attest, expire, key, pay,
                              reading, rep_payload, settings)
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.market.units import trade_amounts
from sawgrid.processors.reputation import addresses as raddr
from sawgrid.processors.reputation import genesis, qscore, settle
from sawgrid.processors.reputation.access import access
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

UP, DOWN = DEFAULTS.x_success, DEFAULTS.x_failure
P1 = 1_000_000


@pytest.fixture
def w() -> World:
    return World()


def trio(w: World, m: int = 4, **contract):
    """A seller, a buyer, m members and a contract between them with that cluster."""
    s, b = w.participant("seller"), w.participant("buyer")
    members = [w.participant(f"member{i}", 0) for i in range(m)]
    return s, b, members, w.add_contract(s, b, cluster=tuple(members), **contract)


# ------------------------------------------------------------------ settings and pool
def test_configure_needs_a_market_operator(w):
    stranger = w.participant("stranger")
    w.fails(stranger, rep_payload("configure", settings=settings(tolerance=20)), "signer: not a market operator")
    w.ok(w.op, rep_payload("configure", settings=settings(tolerance=20)))
    assert w.read(raddr.config_address(), rpb.Config).settings.tolerance == 20


@pytest.mark.parametrize("change, field", [
    (dict(x_success=1_000_000), "configure.settings.x_success"),
    (dict(x_failure=1_000_000), "configure.settings.x_failure"),
    (dict(score_floor=0), "configure.settings.score_floor"),
    (dict(initial_score=10), "configure.settings.initial_score"),
    (dict(tolerance=1001), "configure.settings.tolerance"),
    (dict(settle_window=0), "configure.settings.settle_window"),
    (dict(cluster_size=32), "configure.settings.cluster_size"),
])
def test_configure_checks_every_setting(w, change, field):
    w.fails(w.op, rep_payload("configure", settings=settings(**change)), field)


def test_configure_without_settings(w):
    w.fails(w.op, rep_payload("configure"), "configure.settings: missing")


def test_genesis_writes_the_defaults_once_the_market_has_its_operator():
    w = World()
    w.ledger.state.pop(raddr.config_address())
    (step,) = genesis.genesis_steps()
    assert step.needed(w.ledger.get)
    (spec,) = step.transactions(w.op)
    from sawgrid.processors.inprocess import unsigned_transaction
    result = w.ledger.apply(unsigned_transaction(raddr.REPUTATION.name, "1.0", spec.payload, spec.inputs,
                                                 spec.outputs, w.op))
    assert result.valid, result.invalid_message
    assert w.read(raddr.config_address(), rpb.Config).settings == DEFAULTS
    assert not step.needed(w.ledger.get)


def test_volunteer_withdraw_refresh(w):
    a, b = w.participant("a"), w.participant("b")
    pending = key("pending")
    w.market(pending, "register", name="pending")
    w.fails(pending, rep_payload("volunteer"), "signer: not an approved market participant")
    w.ok(a, rep_payload("volunteer"))
    w.fails(a, rep_payload("volunteer"), "volunteer: already in the validator pool")
    w.ok(b, rep_payload("volunteer"))
    assert list(w.pool().volunteers) == sorted([a, b]) and not w.pool().snapshot
    w.fails(a, rep_payload("refresh_pool"), "signer: not a market operator")
    w.ledger.state[raddr.score_address(b)] = rpb.Score(public_key=b, score=2 * P1).SerializeToString()
    w.ok(w.op, rep_payload("refresh_pool"))
    assert [(e.public_key, e.score) for e in w.pool().snapshot] == [(b, 2 * P1), (a, P1)]
    w.ok(b, rep_payload("withdraw"))
    assert list(w.pool().volunteers) == [a] and [e.public_key for e in w.pool().snapshot] == [a]
    w.fails(b, rep_payload("withdraw"), "withdraw: not in the validator pool")


# ------------------------------------------------------------------ the honest path
def test_settled_by_quorum_pays_and_scores(w):
    s, b, members, cid = trio(w)
    base, surcharge, fee, total = trade_amounts(1_000, 200_000, 1000, FEE)
    op_before, money = w.wallet(w.op).balance, w.money()
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    assert w.contract(cid).stage == pb.EXECUTION
    w.ok(b, reading(received=1_000))
    for m in members[:2]:
        w.ok(m, attest((cid, 1_000, True)))
    assert w.contract(cid).stage == pb.EXECUTION and w.wallet(s).balance == 100_000_000
    result = w.ok(members[2], attest((cid, 1_000, True)))  # completes the quorum of 3: FINAL, in this transaction
    c = w.contract(cid)
    assert (c.stage, c.delivered, c.escrow, c.paid_base, c.paid_wire_fee, c.refunded) == \
        (pb.SETTLED, 1_000, 0, base, fee, 0)
    assert w.wallet(s).balance == 100_000_000 + base
    assert w.wallet(b).locked == 0 and w.wallet(b).balance == 100_000_000 - total
    assert w.wallet(w.op).balance == op_before + surcharge + fee
    assert w.money() == money
    assert [e.event_type for e in result.events] == [settle.OUTCOME_EVENT]
    # the parties x⁵, the voters x (the leader x³); the fourth member is not judged yet
    assert w.score(s).score == w.score(b).score == 1_051_010 and w.score(s).first_day == DAY
    leader = w.contract(cid).leader
    for m in members[:3]:
        assert w.score(m).score == (1_030_301 if m == leader else 1_010_000) and w.score(m).validated == 1
    assert w.score(members[3]) is None
    qot = w.settlement(cid).qot
    # a late attestation (before the deadline) is judged on arrival, with the quorum
    w.ok(members[3], attest((cid, 1_000, True)))
    late = w.score(members[3]).score
    assert late == (1_030_301 if members[3] == leader else 1_010_000)
    assert w.settlement(cid).qot == qot + late
    w.at(DEADLINE + 1).fails(w.op, expire(cid), "expire.contract_ids[0]: nothing left to expire")


def test_a_late_vote_against_the_quorum_is_missed(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    for m in members[:3]:
        w.ok(m, attest((cid, 1_000, True)))
    w.ok(members[3], attest((cid, 10, True)))
    expected = qscore.member(P1, DOWN, members[3] == w.contract(cid).leader, DEFAULTS)
    assert w.score(members[3]).score == expected and w.score(members[3]).missed == 1


def test_absent_members_are_judged_by_expire(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END)
    for m in members[:3]:
        w.ok(m, attest((cid, 1_000, True)))
    w.at(DEADLINE).fails(w.op, expire(cid), "expire.contract_ids[0]: not due")
    w.at(DEADLINE + 1).fails(members[3], attest((cid, 1_000, True)), "attest.verdicts[0].contract_id: the deadline")
    w.ok(w.op, expire(cid))
    absent = members[3]
    assert w.score(absent).missed == 1
    assert w.score(absent).score == qscore.member(P1, DOWN, absent == w.contract(cid).leader, DEFAULTS)
    votes = w.settlement(cid).votes
    assert votes[-1].member == absent and votes[-1].absent
    w.fails(w.op, expire(cid), "nothing left to expire")


# ------------------------------------------------------------------ the paper's attacks (section III)
def test_malicious_seller_caught_by_condition_1(w):
    s, b, members, cid = trio(w)
    total = w.contract(cid).total
    w.at(HOUR_END)
    w.ok(s, reading(delivered=0))
    w.ok(b, reading(received=0))
    for m in members[:3]:
        w.ok(m, attest((cid, 0, True)))
    c = w.contract(cid)
    assert (c.stage, c.declined_at, c.cause) == (pb.DECLINED, pb.EXECUTION, pb.SELLER_SHORTFALL)
    assert "seller delivered 0 of 1000 Wh" in c.cause_detail
    assert c.refunded == total and c.paid_base == 0
    assert w.wallet(b).balance == 100_000_000 and w.wallet(b).locked == 0
    assert w.wallet(s).balance == 100_000_000
    assert w.score(s).score == 590_490 and w.score(s).faults == 1
    assert w.score(b) is None  # the honest party is not touched
    leader = c.leader
    for m in members[:3]:
        assert w.score(m).score == (729_000 if m == leader else 900_000)
    assert w.settlement(cid).qot == sum(w.score(m).score for m in members[:3]) + 590_490


def test_malicious_buyer_on_credit_caught_by_condition_2_seller_gets_the_guarantee(w):
    s, b, members, cid = trio(w, credit=True)
    c = w.contract(cid)
    assert c.credit == c.total and w.wallet(b).credit_used == c.total and c.escrow == 0
    op_before, money = w.wallet(w.op).balance, w.money()
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    for m in members[:3]:
        w.ok(m, attest((cid, 1_000, False)))
    c = w.contract(cid)
    assert (c.stage, c.declined_at, c.cause) == (pb.DECLINED, pb.EXECUTION, pb.BUYER_DEFAULT)
    guarantee = 1_000 * GRID_BUY // 1000
    assert c.guarantee == c.paid_base == guarantee
    assert w.wallet(s).balance == 100_000_000 + guarantee
    assert w.wallet(w.op).balance == op_before - guarantee
    # the debt stays on the credit line, for the energy delivered
    assert c.credit == c.total and w.wallet(b).credit_used == c.total
    assert w.wallet(b).balance == 100_000_000 and w.wallet(b).locked == 0
    assert w.score(b).score == 590_490 and w.score(b).faults == 1 and w.score(s) is None
    assert w.money() == money
    w.fails(b, pay(cid), "pay.contract_id: already DECLINED")


def test_buyer_on_credit_who_never_pays_defaults_on_the_timeout_path(w):
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b, credit=True, energy=2_000)   # no cluster: readings alone
    w.at(HOUR_END)
    w.ok(s, reading(delivered=2_000))
    w.ok(b, reading(received=2_000))
    assert w.contract(cid).stage == pb.EXECUTION  # waits for the payment
    w.at(DEADLINE + 1).fails(b, pay(cid), "pay.contract_id: the deadline passed")
    w.ok(w.op, expire(cid))
    c = w.contract(cid)
    assert (c.stage, c.cause, c.guarantee) == (pb.DECLINED, pb.BUYER_DEFAULT, 2_000 * GRID_BUY // 1000)
    assert w.score(b).faults == 1


def test_buyer_on_credit_who_pays_settles(w):
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b, credit=True)
    total = w.contract(cid).total
    w.at(HOUR_END - 100)
    w.fails(s, pay(cid), "pay.contract_id: not your contract")
    w.ok(b, pay(cid))  # before the hour ends: allowed, the contract stays PREPARED
    c = w.contract(cid)
    assert (c.stage, c.credit, c.escrow) == (pb.PREPARED, 0, total)
    assert w.wallet(b).credit_used == 0 and w.wallet(b).locked == total
    w.fails(b, pay(cid), "pay.contract_id: nothing is owed")
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))  # completes the readings of a contract without a cluster
    assert w.contract(cid).stage == pb.SETTLED


def test_seller_and_buyer_both_failing_are_both_at_fault(w):
    s, b, members, cid = trio(w, credit=True)
    held = w.contract(cid).credit
    w.at(HOUR_END)
    w.ok(s, reading(delivered=0))
    w.ok(b, reading(received=0))
    for m in members[:3]:
        w.ok(m, attest((cid, 0, False)))
    c = w.contract(cid)
    assert (c.cause, c.guarantee, c.credit) == (pb.SELLER_SHORTFALL, 0, 0)  # nothing delivered: no debt
    assert "seller delivered 0" in c.cause_detail and "buyer did not pay" in c.cause_detail
    assert w.wallet(b).credit_used == 0 and held > 0
    assert w.score(s).faults == 1 and w.score(b).faults == 1


def test_guarantee_needs_grid_prices_and_is_capped_by_the_operators_balance():
    w = World(operator_funds=20_000)
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b, credit=True)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    w.at(DEADLINE + 1).ok(w.op, expire(cid))
    c = w.contract(cid)
    assert (c.cause, c.guarantee) == (pb.BUYER_DEFAULT, 20_000)  # 50_000 due, 20_000 held
    assert w.wallet(w.op).balance == 0
    other = w.add_contract(s, b, credit=True, day=DAY + 1)
    w.at(settle.hour_end(DAY + 1, HOUR))
    w.ok(s, reading(day=DAY + 1, delivered=1_000))
    w.ok(b, reading(day=DAY + 1, received=1_000))
    w.at(settle.deadline(DAY + 1, HOUR, DEFAULTS) + 1).ok(w.op, expire(other))
    assert w.contract(other).cause == pb.BUYER_DEFAULT and w.contract(other).guarantee == 0  # no prices that day


def test_an_escrow_short_of_the_payout_fails_condition_4(w):
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b, extra_escrow=-1)  # inconsistent on purpose: one µEUR short
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    c = w.contract(cid)
    assert (c.stage, c.declined_at, c.cause, c.paid_base, c.refunded) == \
        (pb.DECLINED, pb.FINAL, pb.RELEASE_MISMATCH, 0, c.total - 1)
    assert w.score(s) is None and w.score(b) is None  # nobody's fault


def test_pay_needs_the_money(w):
    s, b = w.participant("seller"), w.participant("buyer", funds=0)
    cid = w.add_contract(s, b, credit=True)
    w.at(HOUR_END)
    w.fails(b, pay(cid), "wallet: insufficient funds")


def test_cluster_attesting_more_than_the_buyer_metered_fails_condition_3(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=400))
    for m in members[:3]:
        w.ok(m, attest((cid, 1_000, True)))
    c = w.contract(cid)
    assert (c.stage, c.declined_at, c.cause) == (pb.DECLINED, pb.FINAL, pb.RELEASE_MISMATCH)
    assert c.paid_base == c.base  # the quorum's delivery is paid; the buyer's meter is at fault
    assert w.score(b).faults == 1 and w.score(s) is None


# ------------------------------------------------------------------ partial delivery
def test_partial_delivery_beyond_the_tolerance_pays_pro_rata_and_declines(w):
    s, b, members, cid = trio(w)
    c = w.contract(cid)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=600))
    w.ok(b, reading(received=600))
    for m in members[:3]:
        w.ok(m, attest((cid, 600, True)))
    c = w.contract(cid)
    base, surcharge, _, _ = trade_amounts(600, 200_000, 1000, 0)
    fee = c.wire_fee * 600 // 1000
    assert (c.stage, c.cause, c.delivered) == (pb.DECLINED, pb.SELLER_SHORTFALL, 600)
    assert (c.paid_base, c.paid_wire_fee, c.refunded) == (base, fee, c.total - base - surcharge - fee)
    assert w.wallet(s).balance == 100_000_000 + base
    assert w.wallet(b).balance == 100_000_000 - base - surcharge - fee


def test_partial_delivery_within_the_tolerance_settles():
    w = World(settings(tolerance=20))  # 2 %
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=980))
    w.ok(b, reading(received=990))
    c = w.contract(cid)
    assert (c.stage, c.delivered, c.paid_base) == (pb.SETTLED, 980, 980 * 200_000 // 1000)
    assert w.score(s).settled == 1


def test_readings_are_allocated_in_creation_order(w):
    s, b = w.participant("seller"), w.participant("buyer")
    first = w.add_contract(s, b, energy=500)
    second = w.add_contract(s, b, energy=700)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=900))  # 500 to the first, 400 to the second
    w.ok(b, reading(received=2_000))
    assert w.contract(first).delivered == 500 and w.contract(first).stage == pb.SETTLED
    assert w.contract(second).delivered == 400 and w.contract(second).cause == pb.SELLER_SHORTFALL


def test_an_honest_vote_on_a_declined_trade_never_costs_the_right_to_trade(w):
    """The cluster shares a declined trade's cost (eq. 2), but a member that voted
    with the quorum is not pushed below min_score by another's fault; a member
    that voted against it is not protected."""
    s, b, members, cid = trio(w)
    near = DEFAULTS.min_score + 20_000  # x 0.9 (0.729 as leader) would fall below the minimum
    for m in members:
        w._put(raddr.score_address(m), rpb.Score(public_key=m, score=near))
    liar = members[3]
    w.at(HOUR_END)
    w.ok(s, reading(delivered=0))
    w.ok(b, reading(received=0))
    for m in members[:3]:
        w.ok(m, attest((cid, 0, True)))
    w.ok(liar, attest((cid, 1_000, True)))  # after the quorum: judged against it
    assert w.contract(cid).cause == pb.SELLER_SHORTFALL
    for m in members[:3]:
        assert w.score(m).score == DEFAULTS.min_score and w.score(m).validated == 1
    leader = w.contract(cid).leader
    assert w.score(liar).score == qscore.member(near, DEFAULTS.x_failure, liar == leader, DEFAULTS) < DEFAULTS.min_score


# ------------------------------------------------------------------ quorum and faults in the cluster
def test_quorum_with_one_lying_and_one_absent_member():
    w = World(settings(cluster_size=7))  # m = 7, q = 5: tolerates two faulty members
    s, b = w.participant("seller"), w.participant("buyer")
    members = [w.participant(f"member{i}", 0) for i in range(7)]
    cid = w.add_contract(s, b, cluster=tuple(members))
    liar, absent, honest = members[0], members[1], members[2:]
    assert w.contract(cid).quorum == 5
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    w.ok(liar, attest((cid, 0, True)))
    for m in honest:
        w.ok(m, attest((cid, 1_000, True)))
    c = w.contract(cid)
    assert c.stage == pb.SETTLED and c.delivered == 1_000
    leader = c.leader
    assert w.score(liar).missed == 1 and w.score(liar).score == qscore.member(P1, DOWN, liar == leader, DEFAULTS)
    for m in honest:
        assert w.score(m).validated == 1 and w.score(m).score == qscore.member(P1, UP, m == leader, DEFAULTS)
    assert w.score(absent) is None
    w.at(DEADLINE + 1).ok(w.op, expire(cid))
    assert w.score(absent).missed == 1


def test_one_liar_and_one_absent_in_a_cluster_of_four_leave_it_to_the_readings(w):
    s, b, members, cid = trio(w)
    liar, absent, honest = members[0], members[1], members[2:]
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    w.ok(liar, attest((cid, 0, True)))
    for m in honest:
        w.ok(m, attest((cid, 1_000, True)))
    assert w.contract(cid).stage == pb.EXECUTION  # 2 of the 3 needed agree: no quorum
    w.at(DEADLINE + 1).ok(w.op, expire(cid))
    c = w.contract(cid)
    assert c.stage == pb.SETTLED and c.delivered == 1_000  # by the readings
    for m in honest:
        assert w.score(m).validated == 1
    assert w.score(liar).missed == 1 and w.score(absent).missed == 1


# ------------------------------------------------------------------ the timeout path
def test_expire_settles_on_readings_alone(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))  # the buyer never reads, nobody attests
    w.at(DEADLINE).fails(w.op, expire(cid), "expire.contract_ids[0]: not due")
    w.at(DEADLINE + 1)
    w.fails(s, expire(cid), "signer: not the system operator")
    w.ok(w.op, expire(cid))
    c = w.contract(cid)
    # the seller's reading stands; the buyer's meter confirms none of it: condition 3, the buyer at fault
    assert (c.stage, c.declined_at, c.cause, c.delivered) == (pb.DECLINED, pb.FINAL, pb.RELEASE_MISMATCH, 1_000)
    assert w.wallet(s).balance == 100_000_000 + c.base and c.escrow == 0
    assert w.score(b).faults == 1 and w.score(s) is None
    assert all(w.score(m).missed == 1 for m in members)
    w.fails(w.op, expire(cid), "nothing left to expire")


def test_expire_without_any_reading_blames_the_seller(w):
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b)
    w.at(DEADLINE + 1).ok(w.op, expire(cid))
    c = w.contract(cid)
    assert (c.cause, c.delivered, c.refunded) == (pb.SELLER_SHORTFALL, 0, c.total)
    assert w.wallet(b).balance == 100_000_000 and w.wallet(b).locked == 0


def test_expire_is_all_or_nothing(w):
    s, b = w.participant("seller"), w.participant("buyer")
    due = w.add_contract(s, b)
    later = w.add_contract(s, b, hour=HOUR + 1)
    w.at(DEADLINE + 1)
    w.fails(w.op, expire(due, later), "expire.contract_ids[1]: not due")
    w.ok(w.op, expire(due))


# ------------------------------------------------------------------ contracts without a cluster
def test_grid_sale_settles_on_the_buyers_reading(w):
    b = w.participant("buyer")
    cid = w.add_contract(w.op, b, grid=True, price=300_000)
    w.at(HOUR_END)
    result = w.ok(b, reading(received=1_000))
    c = w.contract(cid)
    assert c.stage == pb.SETTLED and c.paid_base == 300_000 and w.score(w.op) is None
    assert len(result.events) == 1


def test_a_grid_buyers_reading_declares_no_more_as_the_grid_serves_more_buyers(w):
    """The grid side reads no Position (settle.allocation), so a buyer's
    reading does not declare the operator's other grid sales of the hour:
    at 1,000 participants they made each reading's header ~60 KB."""
    def last_reading(buyers: int) -> tuple[str, int]:
        keys = [w.participant(f"grid-buyer-{buyers}-{i}") for i in range(buyers)]
        for b in keys:
            w.add_contract(w.op, b, grid=True, price=300_000)
        inputs, _ = access(reading(received=1_000), keys[-1], w.ledger.get)
        return keys[-1], len(inputs)

    assert last_reading(2)[1] == (found := last_reading(20))[1]
    last = found[0]
    w.at(HOUR_END)
    w.ok(last, reading(received=1_000))          # what it declared is all the handler reads
    assert {c.stage for c in w.contracts() if c.buyer == last} == {pb.SETTLED}


def test_grid_purchase_settles_on_the_sellers_reading(w):
    s = w.participant("seller")
    cid = w.add_contract(s, w.op, grid=True, price=GRID_BUY)
    w.at(HOUR_END).ok(s, reading(delivered=1_000))
    assert w.contract(cid).stage == pb.SETTLED and w.wallet(s).balance == 100_000_000 + GRID_BUY


def test_rounding_left_in_escrow_is_refunded(w):
    s, b = w.participant("seller"), w.participant("buyer")
    cid = w.add_contract(s, b, extra_escrow=3)
    w.at(HOUR_END)
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    c = w.contract(cid)
    assert c.stage == pb.SETTLED and c.refunded == 3 and w.wallet(b).locked == 0


# ------------------------------------------------------------------ item 9: bad inputs
def test_reading_before_the_hour_is_over(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END - 1).fails(s, reading(delivered=1_000), "reading.hour: the delivery hour 20000/7 is not over")


def test_reading_for_a_contract_one_is_not_party_to(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END).fails(members[0], reading(delivered=1_000), "reading.hour: you are not a party to any contract")


def test_second_reading(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END).ok(s, reading(delivered=1_000))
    w.fails(s, reading(delivered=1_000), "reading: already submitted for 20000/7")


def test_reading_after_the_deadline(w):
    s, b, members, cid = trio(w)
    w.at(DEADLINE + 1).fails(s, reading(delivered=1_000), "reading.hour: the deadline for 20000/7 passed")


def test_attestation_by_a_non_member(w):
    s, b, members, cid = trio(w)
    outsider = w.participant("outsider", 0)
    w.at(HOUR_END)
    w.fails(outsider, attest((cid, 1_000, True)),
            "attest.verdicts[0].contract_id: you are not a member of its validation cluster")
    # a party cannot vouch for its own contract either
    w.fails(s, attest((cid, 1_000, True)), "attest.verdicts[0].contract_id: you are not a member")


def test_forged_attestations(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END)
    w.fails(members[0], attest((cid, 1_001, True)), "attest.verdicts[0].delivered_wh: more than the contract's 1000 Wh")
    w.fails(members[0], attest((f"{DAY}/{HOUR}/999999", 1, True)), "attest.verdicts[0].contract_id: no such contract")
    w.fails(members[0], attest((cid, 1, True), (cid, 1, True)), "attest.verdicts[1].contract_id: appears twice")
    w.fails(members[0], attest((f"{DAY}/{HOUR}/0{cid.rsplit('/', 1)[1]}", 1, True)),
            "attest.verdicts[0].contract_id: not a canonical contract id")
    # one bad verdict sinks the whole attestation
    other = w.add_contract(s, b)
    w.fails(members[0], attest((cid, 1_000, True), (other, 1_000, True)),
            "attest.verdicts[1].contract_id: you are not a member")


def test_replayed_attestation(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END)
    w.ok(members[0], attest((cid, 1_000, True)))
    w.fails(members[0], attest((cid, 1_000, True)), "attest.verdicts[0].contract_id: you already attested")
    for m in members[1:3]:
        w.ok(m, attest((cid, 1_000, True)))
    w.fails(members[1], attest((cid, 1_000, True)), "attest.verdicts[0].contract_id: you already attested")


def test_attestation_before_the_hour_is_over(w):
    s, b, members, cid = trio(w)
    w.at(HOUR_END - 1).fails(members[0], attest((cid, 1_000, True)), "attest.verdicts[0].contract_id: the delivery hour")


def test_without_chain_time_timed_actions_are_refused(w):
    s, b, members, cid = trio(w)
    w.fails(s, reading(delivered=1), "chain time unavailable")
    w.fails(members[0], attest((cid, 1, True)), "chain time unavailable")


@pytest.mark.parametrize("payload, field", [
    (reading(hour=24), "reading.hour: must be 0..23"),
    (reading(delivered=10**12 + 1), "reading.delivered_wh"),
    (attest(), "attest.verdicts: must be 1..64"),
    (attest(("7/1", 1, True)), "attest.verdicts[0].contract_id: order id must look like DAY/HOUR/SEQ"),
    (pay("x"), "pay.contract_id"),
    (expire(), "expire.contract_ids: must be 1..64"),
    (rpb.ReputationPayload(), "payload: no action set"),
])
def test_payload_checks_name_the_field(w, payload, field):
    signer = w.participant("someone")
    w.at(HOUR_END)
    try:
        txn = w.txn(signer, payload)
    except ValueError:
        from sawgrid.processors.inprocess import unsigned_transaction
        txn = unsigned_transaction(raddr.REPUTATION.name, "1.0", payload.SerializeToString(),
                                   [raddr.REPUTATION.namespace], [raddr.REPUTATION.namespace], signer)
    before = dict(w.ledger.state)
    result = w.ledger.apply(txn)
    assert not result.valid and field in result.invalid_message, result.invalid_message
    assert w.ledger.state == before


def test_garbage_payload(w):
    from sawgrid.processors.inprocess import unsigned_transaction
    txn = unsigned_transaction(raddr.REPUTATION.name, "1.0", b"\xff\xff", [raddr.REPUTATION.namespace],
                               [raddr.REPUTATION.namespace], w.op)
    assert "payload: not a ReputationPayload" in w.ledger.apply(txn).invalid_message


# ------------------------------------------------------------------ access
def test_access_declares_exact_addresses(w):
    s, b, members, cid = trio(w)
    inputs, outputs = access(attest((cid, 1_000, True)), members[0], w.ledger.get)
    assert maddr.MARKET.prefix(maddr.WALLET) not in inputs
    assert maddr.wallet_address(s) in outputs and maddr.wallet_address(b) in outputs
    assert maddr.wallet_address(w.op) in outputs
    assert all(raddr.score_address(m) in outputs for m in members)
    assert all(len(a) == 70 for a in outputs)


# ------------------------------------------------------------------ real flows: orders → readings → attestations
class Flow:
    """A World whose chain time comes from the BlockInfo injected before every batch, at `now`."""

    def __init__(self, **changes) -> None:
        self.now = HOUR_END - 2 * 3600
        self.world = World(settings(**changes), clock=lambda: self.now)

    def order(self, signer, side, energy, price, **extra) -> pb.Contract | None:
        made = self.world.order(signer, side, energy, price, **extra)
        return made[0] if made else None


def _volunteers(w: World, n: int) -> list[str]:
    members = [w.participant(f"volunteer{i}", 0) for i in range(n)]
    for pk in members:
        w.ok(pk, rep_payload("volunteer"))
    w.ok(w.op, rep_payload("refresh_pool"))
    return members


def test_flow_orders_readings_attestations_settle():
    f = Flow()
    w = f.world
    volunteers = _volunteers(w, 6)
    s, b = w.participant("seller"), w.participant("buyer")
    money = w.money()
    assert f.order(s, pb.SELL, 1_500, 180_000) is None
    c = f.order(b, pb.BUY, 1_000, 250_000)
    assert c.stage == pb.PREPARED and len(c.cluster) == 4 and c.quorum == 3 and set(c.cluster) <= set(volunteers)
    assert c.escrow == c.total and w.wallet(b).locked == c.total and w.wallet(s).balance == 100_000_000
    w.fails(s, reading(delivered=1_000), "reading.hour: the delivery hour 20000/7 is not over")
    f.now = HOUR_END + 60
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    outsider = next(v for v in volunteers if v not in c.cluster)
    w.fails(outsider, attest((c.id, 1_000, True)), "you are not a member of its validation cluster")
    for member in c.cluster[:3]:
        w.ok(member, attest((c.id, 1_000, True)))
    settled = w.contract(c.id)
    assert settled.stage == pb.SETTLED and w.wallet(s).balance == 100_000_000 + c.base
    assert w.wallet(b).locked == 0 and w.money() == money
    assert w.settlement(c.id).timestamp == HOUR_END + 60
    w.ok(c.cluster[3], attest((c.id, 1_000, True)))
    assert w.score(c.cluster[3]).validated == 1


def test_flow_buyer_on_credit_defaults_and_the_seller_gets_the_guarantee():
    f = Flow(credit_score=0)
    w = f.world
    _volunteers(w, 4)
    s, b = w.participant("seller"), w.participant("buyer", funds=0)
    f.order(s, pb.SELL, 1_000, 180_000)
    c = f.order(b, pb.BUY, 1_000, 250_000, on_credit=True)
    assert c.credit >= c.total and c.escrow == 0 and w.wallet(b).credit_used == c.credit
    f.now = HOUR_END
    w.ok(s, reading(delivered=1_000))
    w.ok(b, reading(received=1_000))
    for member in c.cluster[:3]:
        w.ok(member, attest((c.id, 1_000, False)))
    declined = w.contract(c.id)
    assert (declined.stage, declined.cause) == (pb.DECLINED, pb.BUYER_DEFAULT)
    assert w.wallet(s).balance == 100_000_000 + 1_000 * GRID_BUY // 1000 == 100_000_000 + declined.guarantee
    assert w.wallet(b).credit_used == declined.credit == declined.total  # the debt
    assert w.score(b).faults == 1


def test_flow_grid_fallback_and_expire():
    f = Flow()
    w = f.world
    s = w.participant("seller")
    f.order(s, pb.SELL, 800, 40_000, grid_fallback=True)
    w.market(w.op, "close_hour", day=DAY, hour=HOUR)
    (c,) = w.contracts()
    assert c.grid and c.buyer == w.op and c.quorum == 0 and w.wallet(w.op).locked == c.escrow
    f.now = DEADLINE + 1
    w.ok(w.op, expire(c.id))  # the seller never read: nothing moved, the operator's escrow returns
    c = w.contract(c.id)
    assert (c.stage, c.cause, c.refunded) == (pb.DECLINED, pb.SELLER_SHORTFALL, c.total)
    assert w.wallet(w.op).locked == 0 and w.score(s).faults == 1
