"""The system operator's settlement duties as one client-library call
(`reputation.settle_round`), shared by `sawgrid operator settle` and the PAR
engine's nightly run, which settles before it archives."""
from __future__ import annotations

import pytest

from sawgrid.clients.sdk import archive, keys, market, reputation
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.par_engine.engine import Engine, EngineConfig
from sawgrid.processors.reputation import settle
from sawgrid.protos import market_pb2 as pb
from test_reputation_client import DAY, HOUR, net, pk, read_all  # noqa: F401 (net is a fixture)


def _credit_contract_left_for_expire(ledger, signers, clock) -> str:
    """b1 buys 0.7 kWh from the grid on credit and never pays; the meters read."""
    market.submit(ledger, signers["b1"], market.place_order(pb.BUY, DAY, HOUR, 700, 300_000, grid_fallback=True,
                                                            on_credit=True))
    market.submit(ledger, signers["op"], [market.close_hour(DAY, h) for h in range(24)])
    read_all(ledger, signers, clock)
    [cid] = reputation.Hour(ledger, DAY, HOUR).contracts
    return cid


def at(ledger, signers, clock, t: int) -> None:
    """The chain's time is its newest BlockInfo's: one block (a pool refresh) at `t`."""
    clock.t = t
    reputation.submit(ledger, signers["op"], reputation.refresh_pool())


def test_a_round_expires_what_is_due_and_refreshes_the_pool(net):
    ledger, signers, clock = net
    cid = _credit_contract_left_for_expire(ledger, signers, clock)
    reader = reputation.ReputationReader(ledger)
    deadline = settle.deadline(DAY, HOUR, reader.settings())

    at(ledger, signers, clock, deadline)   # not past it yet
    doc = reputation.settle_round(ledger, signers["op"])
    assert doc == {"chain_time": deadline, "expired": [], "refreshed_pool": True}
    assert reputation.ReputationReader(ledger).contract(cid).stage == pb.EXECUTION

    at(ledger, signers, clock, deadline + 1)
    doc = reputation.settle_round(ledger, signers["op"], refresh=False)
    assert doc == {"chain_time": deadline + 1, "expired": [cid], "refreshed_pool": False}
    contract = reputation.ReputationReader(ledger).contract(cid)   # a reader sees the state it first read
    assert (contract.stage, contract.cause) == (pb.DECLINED, pb.BUYER_DEFAULT)
    assert reputation.settle_round(ledger, signers["op"])["expired"] == []   # nothing twice
    assert reputation.default_settle_days(reader.settings()) == -(-reader.settings().settle_window // 86_400) + 2


def test_a_window_of_zero_days_looks_at_the_chain_day_only(net):
    ledger, signers, clock = net
    cid = _credit_contract_left_for_expire(ledger, signers, clock)
    at(ledger, signers, clock, (DAY + 2) * 86_400)   # two days on: the contract is due, but not on the chain's day
    assert reputation.settle_round(ledger, signers["op"], days=0)["expired"] == []
    assert reputation.settle_round(ledger, signers["op"], days=2)["expired"] == [cid]
    with pytest.raises(reputation.SawgridError, match="days: at least 0"):
        reputation.settle_round(ledger, signers["op"], days=-1)


def test_no_chain_time_is_its_own_error():
    with pytest.raises(reputation.NoChainTime, match="no time yet"):
        reputation.settle_round(InProcessClient(), keys.signer_for(keys.new_private_key()))


def test_the_engine_settles_before_it_archives(net):
    """The day's leftover blocks its archive until it is expired; one engine run
    past the deadline does both, in that order."""
    ledger, signers, clock = net
    cid = _credit_contract_left_for_expire(ledger, signers, clock)
    deadline = settle.deadline(DAY, HOUR, reputation.ReputationReader(ledger).settings())
    engine = Engine(ledger, signers["op"], EngineConfig())

    at(ledger, signers, clock, deadline)
    report = engine.run(DAY)
    assert report.settle == {"status": "done", "expired": 0, "refreshed_pool": True, "chain_time": deadline}
    assert [o["status"] for o in report.archive] == ["not finished"]

    at(ledger, signers, clock, deadline + 1)
    report = engine.run(DAY)   # day + 1 is issued already; settling and archiving still run
    assert report.status == "already issued"
    assert report.settle["expired"] == 1
    assert [(o["status"], o["contracts"]) for o in report.archive] == [("archived", 1)]
    assert archive.verify_day(ledger, DAY).ok
    assert reputation.ReputationReader(ledger).contract(cid).stage == pb.DECLINED


def test_the_engine_can_leave_settlement_to_others(net):
    ledger, signers, clock = net
    _credit_contract_left_for_expire(ledger, signers, clock)
    at(ledger, signers, clock, settle.deadline(DAY, HOUR, reputation.ReputationReader(ledger).settings()) + 1)
    report = Engine(ledger, signers["op"], EngineConfig(settle=False)).run(DAY)
    assert report.settle is None
    assert [o["status"] for o in report.archive] == ["not finished"]
    dry = Engine(ledger, signers["op"], EngineConfig()).run(DAY, dry_run=True)   # a dry run writes nothing
    assert (dry.status, dry.settle, dry.archive) == ("already issued", None, [])


def test_a_refused_round_is_reported_not_raised(net):
    """Signed by a key that is not the system operator: the run's own result stands."""
    ledger, signers, clock = net
    _credit_contract_left_for_expire(ledger, signers, clock)
    at(ledger, signers, clock, settle.deadline(DAY, HOUR, reputation.ReputationReader(ledger).settings()) + 1)
    report = Engine(ledger, signers["s1"], EngineConfig(archive=False)).settle()
    assert report["status"] == "error" and report["reason"]
