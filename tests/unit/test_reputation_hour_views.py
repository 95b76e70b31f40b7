"""What `reputation.Hour` derives once per hour (each contract's honest verdict,
each member's seats) and what a `StateView` remembers of access() (each
contract's release) give the same answers as deriving them afresh for every
member, every transaction: same owed contracts, same verdicts, same
declared inputs and outputs."""
from __future__ import annotations

import pytest

from sawgrid.clients.sdk import market, reputation
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.processors.reputation import settle
from sawgrid.processors.reputation.access import access
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb

from ledger_helpers import Clock, named_signer, pk

DAY, HOUR = 19_765, 10
SELLERS, BUYERS, MEMBERS = ("s1", "s2", "s3"), ("b1", "b2", "b3", "b4"), ("m1", "m2", "m3", "m4", "m5", "m6")


@pytest.fixture
def hour_traded():
    """Three sellers, four buyers (one on credit) and six volunteers, clusters
    of three: the first member sits on some of the hour's contracts, not all."""
    clock = Clock(DAY * 86_400)
    ledger = InProcessClient(clock=clock)
    # fixed keys: each cluster is drawn from the contract's id, seller and buyer, so with
    # random keys the first member sat on every contract about once in 64 runs
    signers = {name: named_signer(name) for name in ("op", *SELLERS, *BUYERS, *MEMBERS)}
    op = signers["op"]
    market.submit(ledger, op, market.init(10_000))
    for name, s in signers.items():
        if name != "op":
            market.submit(ledger, s, market.register(name))
    work = [market.fund(pk(op), 10**10), market.set_grid_prices(DAY, [100_000] * 24, [300_000] * 24)]
    work += [step for name, s in signers.items() if name != "op"
             for step in (market.approve(pk(s)), market.fund(pk(s), 10**8))]
    market.submit(ledger, op, work)
    reputation.submit(ledger, op, reputation.configure(reputation.settings_with(
        cluster_size=3, credit_score=DEFAULTS.initial_score)))
    for name in MEMBERS:
        reputation.submit(ledger, signers[name], reputation.volunteer())
    reputation.submit(ledger, op, reputation.refresh_pool())
    for i, name in enumerate(SELLERS):
        market.submit(ledger, signers[name], market.place_order(pb.SELL, DAY, HOUR, 700 + 100 * i, 100_000))
    for i, name in enumerate(BUYERS):
        market.submit(ledger, signers[name], market.place_order(pb.BUY, DAY, HOUR, 400 + 150 * i, 300_000,
                                                                on_credit=name == "b2"))
    market.submit(ledger, op, market.close_hour(DAY, HOUR))
    return ledger, signers, clock


def _read(ledger, signers, clock, skip=()):
    clock.t = settle.hour_end(DAY, HOUR)
    hour = reputation.Hour(ledger, DAY, HOUR)
    by_key = {pk(s): s for s in signers.values()}
    for key in hour.parties():
        if key not in skip:
            reputation.submit(ledger, by_key[key], reputation.reading(DAY, HOUR, *hour.honest_reading(key)),
                              read=hour.read)


def _owed_by_scanning(hour: reputation.Hour, member: str) -> list[tuple[str, reputation.Verdict | None]]:
    """Every contract of the hour looked at for this member, its verdict from the allocations."""
    out = []
    for c in hour.contracts.values():
        if member not in c.cluster or c.stage == pb.STAGE_UNSET:
            continue
        settlement = hour.settlements.get(c.id)
        if settlement is not None and any(v.member == member for v in settlement.votes):
            continue
        seller, buyer = hour.allocation(c, c.seller, True), hour.allocation(c, c.buyer, False)
        out.append((c.id, None if seller is None or buyer is None
                    else reputation.Verdict(c.id, min(seller, buyer), c.credit == 0)))
    return out


@pytest.mark.parametrize("missing", [False, True])
def test_owed_verdicts_and_members_are_what_scanning_every_contract_gives(hour_traded, missing):
    ledger, signers, clock = hour_traded
    _read(ledger, signers, clock, skip={pk(signers["b3"])} if missing else set())
    hour = reputation.Hour(ledger, DAY, HOUR)
    everyone = [pk(s) for s in signers.values()]
    assert hour.members() == sorted({m for c in hour.contracts.values() for m in c.cluster})
    assert 0 < len(hour.seats(hour.members()[0])) < len(hour.contracts)   # a member sits on some, not all
    for _ in range(2):   # asked again: the same answers from what the hour derived once
        for key in everyone:
            assert [(o.contract.id, o.verdict) for o in hour.owed(key)] == _owed_by_scanning(hour, key)
            assert hour.verdicts(key) == [v for _, v in _owed_by_scanning(hour, key) if v is not None]
    if missing:
        assert any(v is None for key in hour.members() for _, v in _owed_by_scanning(hour, key))


def test_a_verdict_for_a_contract_that_is_not_the_hours_own_record_is_its_own(hour_traded):
    ledger, signers, clock = hour_traded
    _read(ledger, signers, clock)
    hour = reputation.Hour(ledger, DAY, HOUR)
    contract = next(iter(hour.contracts.values()))
    honest, _ = hour.honest_verdict(contract)
    other = pb.Contract()
    other.CopyFrom(contract)
    other.credit = 1
    assert hour.honest_verdict(other)[0].paid is False and honest.paid == (contract.credit == 0)
    assert hour.honest_verdict(contract)[0] == honest


def test_a_views_remembered_releases_declare_what_access_derives_afresh(hour_traded):
    ledger, signers, clock = hour_traded
    _read(ledger, signers, clock)
    hour = reputation.Hour(ledger, DAY, HOUR)
    fresh = reputation.StateView(ledger)
    declared = 0
    for member in hour.members():
        for payload in reputation.attest_payloads(hour.verdicts(member)):
            assert reputation.declared(payload, member, hour.read) == access(payload, member, fresh)
            declared += 1
    assert declared and hour.read.closes    # the view kept each contract's release for the next member
    # and the transactions built from it are accepted and settle every contract
    by_key = {pk(s): s for s in signers.values()}
    for member in hour.members():
        reputation.submit(ledger, by_key[member], reputation.attest_payloads(hour.verdicts(member)), read=hour.read)
    after = reputation.Hour(ledger, DAY, HOUR)
    assert all(c.stage in settle.FINAL_STAGES for c in after.contracts.values())
