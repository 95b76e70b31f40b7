"""clients/sdk/reputation.py on the in-process ledger: builders declared by
access() from committed state, the honest meter and member, the readers, the
operator's expire list and the units."""
from __future__ import annotations

import pytest

from sawgrid.clients.sdk import keys, market, reputation
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.processors.reputation import settle
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb

from ledger_helpers import Clock, pk

DAY, HOUR = 19_765, 10


@pytest.fixture
def net():
    """A market with an operator, two sellers, two buyers and four volunteers in the pool."""
    clock = Clock(DAY * 86_400)
    ledger = InProcessClient(clock=clock)
    signers = {name: keys.signer_for(keys.new_private_key())
               for name in ("op", "s1", "s2", "b1", "b2", "m1", "m2", "m3", "m4")}
    op = signers["op"]
    market.submit(ledger, op, market.init(10_000))
    for name, s in signers.items():
        if name != "op":
            market.submit(ledger, s, market.register(name))
    work = [market.fund(op.get_public_key().as_hex(), 10**10),
            market.set_grid_prices(DAY, [100_000] * 24, [300_000] * 24)]
    for name, s in signers.items():
        if name != "op":
            pk = s.get_public_key().as_hex()
            work += [market.approve(pk), market.fund(pk, 10**8)]
    market.submit(ledger, op, work)
    reputation.submit(ledger, op, reputation.configure(reputation.settings_with(credit_score=DEFAULTS.initial_score)))
    for name in ("m1", "m2", "m3", "m4"):
        reputation.submit(ledger, signers[name], reputation.volunteer())
    reputation.submit(ledger, op, reputation.refresh_pool())
    return ledger, signers, clock


def trade(ledger, signers, on_credit=False):
    """s1 and s2 offer 1 kWh each; b1 buys 1.5 kWh (maybe on credit), b2 0.5 kWh."""
    for seller in ("s1", "s2"):
        market.submit(ledger, signers[seller], market.place_order(pb.SELL, DAY, HOUR, 1_000, 100_000))
    market.submit(ledger, signers["b1"], market.place_order(pb.BUY, DAY, HOUR, 1_500, 300_000, on_credit=on_credit))
    market.submit(ledger, signers["b2"], market.place_order(pb.BUY, DAY, HOUR, 500, 300_000))
    market.submit(ledger, signers["op"], market.close_hour(DAY, HOUR))


def read_all(ledger, signers, clock, zero=()):
    clock.t = settle.hour_end(DAY, HOUR)
    hour = reputation.Hour(ledger, DAY, HOUR)
    for key in hour.parties():
        delivered, received = hour.honest_reading(key)
        signer = next(s for s in signers.values() if pk(s) == key)
        if key in zero:
            delivered = 0
        reputation.submit(ledger, signer, reputation.reading(DAY, HOUR, delivered, received), read=hour.read)


def attest_all(ledger, signers):
    hour = reputation.Hour(ledger, DAY, HOUR)
    for member in hour.members():
        signer = next(s for s in signers.values() if pk(s) == member)
        reputation.submit(ledger, signer, reputation.attest_payloads(hour.verdicts(member)), read=hour.read)


def test_honest_readings_and_verdicts_settle_every_contract(net):
    ledger, signers, clock = net
    trade(ledger, signers)
    hour = reputation.Hour(ledger, DAY, HOUR)
    assert [c.energy for c in hour.contracts.values()] == [1_000, 500, 500]
    assert hour.honest_reading(pk(signers["s1"])) == (1_000, 0)
    assert hour.honest_reading(pk(signers["b1"])) == (0, 1_500)
    assert all(len(c.cluster) == 4 and c.quorum == 3 for c in hour.contracts.values())
    # before the readings an honest member can give no verdict, and says why
    owed = hour.owed(hour.members()[0])
    assert owed and all(o.verdict is None and "meter reading" in o.waiting for o in owed)
    read_all(ledger, signers, clock)
    attest_all(ledger, signers)
    reader = reputation.ReputationReader(ledger)
    for cid in hour.contracts:
        status = reputation.contract_status(reader, cid)
        assert status.stage == "settled" and status.contract.delivered == status.contract.energy
        doc = reputation.contract_status_json(status)
        assert doc["outcome"]["stage"] == "settled" and len(doc["votes"]) == 4
        assert doc["honest_verdict"] == {"delivered_wh": status.contract.energy, "paid": True}
    # every member attested: nothing owed, nothing to expire even after the deadline
    hour = reputation.Hour(ledger, DAY, HOUR)
    assert all(not hour.owed(m) for m in hour.members())
    assert reputation.due(ledger, DAY, settle.deadline(DAY, HOUR, DEFAULTS) + 1, reader.settings()) == []
    seller = reputation.standing(reader, pk(signers["s1"]), DAY)
    assert seller.record.settled == 1 and seller.refusal is None and seller.score > DEFAULTS.initial_score
    member = reader.score(pk(signers["m1"]))
    assert member.validated == 3


def test_a_seller_reading_zero_declines_and_refunds(net):
    ledger, signers, clock = net
    trade(ledger, signers)
    read_all(ledger, signers, clock, zero=(pk(signers["s1"]),))
    attest_all(ledger, signers)
    reader = reputation.ReputationReader(ledger)
    hour = reputation.Hour(ledger, DAY, HOUR)
    mine = [c for c in hour.contracts.values() if c.seller == pk(signers["s1"])]
    assert mine and all((c.stage, c.cause, c.declined_at) == (pb.DECLINED, pb.SELLER_SHORTFALL, pb.EXECUTION)
                        for c in mine)
    assert reader.score(pk(signers["s1"])).faults == len(mine)
    assert reader.wallet(pk(signers["b1"])).locked == 0


def test_a_buyer_on_credit_who_does_not_pay_is_attested_unpaid(net):
    ledger, signers, clock = net
    trade(ledger, signers, on_credit=True)
    read_all(ledger, signers, clock)
    hour = reputation.Hour(ledger, DAY, HOUR)
    owed = {o.contract.id: o.verdict for o in hour.owed(hour.members()[0])}
    credit = [c for c in hour.contracts.values() if c.buyer == pk(signers["b1"])]
    assert all(owed[c.id].paid is False for c in credit if c.id in owed)
    attest_all(ledger, signers)
    hour = reputation.Hour(ledger, DAY, HOUR)
    assert all(hour.contracts[c.id].cause == pb.BUYER_DEFAULT for c in credit)


def test_grid_contract_on_credit_is_left_for_expire(net):
    ledger, signers, clock = net
    market.submit(ledger, signers["b1"], market.place_order(pb.BUY, DAY, HOUR, 700, 300_000, grid_fallback=True,
                                                            on_credit=True))
    market.submit(ledger, signers["op"], market.close_hour(DAY, HOUR))
    read_all(ledger, signers, clock)
    reader = reputation.ReputationReader(ledger)
    settings = reader.settings()
    [cid] = reputation.Hour(ledger, DAY, HOUR).contracts
    assert reputation.due(ledger, DAY, settle.deadline(DAY, HOUR, settings), settings) == []
    late = settle.deadline(DAY, HOUR, settings) + 1
    assert reputation.due(ledger, DAY, late, settings) == [cid]
    assert reputation.due(ledger, DAY, late, settings, hour=HOUR) == [cid]
    clock.t = late
    reputation.submit(ledger, signers["op"], reputation.expire_payloads([cid]))
    assert reader.contract(cid).cause == pb.BUYER_DEFAULT


def test_refusals_carry_the_processors_reason(net):
    ledger, signers, clock = net
    with pytest.raises(BatchInvalid) as err:
        reputation.submit(ledger, signers["s1"], reputation.reading(DAY, HOUR, 1, 0))
    assert "is not over until chain time" in " ".join(err.value.messages)
    clock.t = settle.hour_end(DAY, HOUR)
    with pytest.raises(BatchInvalid) as err:
        reputation.submit(ledger, signers["s1"], reputation.reading(DAY, HOUR, 1, 0))
    assert "not a party to any contract" in " ".join(err.value.messages)
    with pytest.raises(BatchInvalid):
        reputation.submit(ledger, signers["m1"], reputation.volunteer())  # already in the pool
    text = reputation.explain("signer: Q-score 348678 ppm is below the minimum 500000 ppm; "
                              "the deadline for 19765/10 passed at chain time 1707782400 (now 1707782401)")
    assert text == ("signer: Q-score 0.348678 is below the minimum 0.50; the deadline for 2024-02-12 10:00 "
                    "passed at 2024-02-13 00:00:00 UTC (now 2024-02-13 00:00:01 UTC)")


def test_units_and_settings():
    assert reputation.score_to_ppm("1.2") == 1_200_000
    assert reputation.score_to_ppm("0.5904905") == 590_490          # half-even
    assert reputation.format_score(1_051_010) == "1.05101"
    assert reputation.format_score(1_000_000) == "1.00"
    assert reputation.format_score(3_163) == "0.003163"
    for bad in ("x", "-1", "nan", True):
        with pytest.raises(SawgridError):
            reputation.score_to_ppm(bad, "--min-score")
    s = reputation.settings_with(min_score=0, credit_score=0)
    assert (s.min_score, s.credit_score, s.cluster_size) == (0, 0, DEFAULTS.cluster_size)
    with pytest.raises(SawgridError, match="--tolerance"):
        reputation.settings_with(tolerance=1001)
    with pytest.raises(SawgridError, match=r"--initial-score: must be 0.001..1000.00, got 0.00001"):
        reputation.settings_with(initial_score=10)
    spec = {s.name: s for s in reputation.SETTINGS}
    assert reputation.parse_setting(spec["credit_limit"], "12.5") == 12_500_000
    assert reputation.parse_setting(spec["settle_window"], "3600") == 3600
    with pytest.raises(SawgridError, match="--settle-window: expected a whole number"):
        reputation.parse_setting(spec["settle_window"], "1h")
    assert len(reputation.attest_payloads([reputation.Verdict(f"1/1/{i}", 0, True) for i in range(65)])) == 2
