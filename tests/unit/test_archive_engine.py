"""The PAR engine's archive step, on the in-process ledger.

The engine archives finished days oldest first, from the day after the
newest archived one, and stops (logging why) at the first day that is not
finished: an hour still open, or a contract not SETTLED or DECLINED yet.
"""
from __future__ import annotations

import logging

import pytest

from sawgrid.clients.sdk import archive as sdk
from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.runner import SimConfig, Simulation, signer_for, start_time
from sawgrid.par_engine.engine import Engine, EngineConfig
from sawgrid.processors.market import addresses as market
from sawgrid.processors.market.units import day_date
from sawgrid.protos import market_pb2 as mpb
from test_archive_handler import Chain, the_day_contracts
from test_scenarios import tiny_dataset

DAY = 20_000


@pytest.fixture
def setup():
    """An in-process ledger with every family, market records written directly."""
    client = InProcessClient()
    signer = keys.signer_for(keys.new_private_key())
    chain = Chain()
    chain.ledger = client.ledger
    chain.put(market.config_address(), mpb.Config(operators=[signer.get_public_key().as_hex()],
                                                  system_operator=signer.get_public_key().as_hex()))
    return client, chain, Engine(client, signer, EngineConfig())


def iso(day: int) -> str:
    return day_date(day).isoformat()


def test_the_engine_archives_finished_days_in_order_and_stops_at_the_first_unfinished(setup, caplog):
    client, chain, engine = setup
    chain.write_day(DAY, the_day_contracts(DAY))
    # DAY + 1: nothing traded, nothing closed: passed over
    unsettled = the_day_contracts(DAY + 2)
    unsettled[2].stage = mpb.EXECUTION
    chain.write_day(DAY + 2, unsettled)
    chain.empty_day(DAY + 3)

    with caplog.at_level(logging.INFO, logger="sawgrid.par_engine"):
        outcomes = engine.archive(DAY + 3)
    assert [o["status"] for o in outcomes] == ["archived", "not finished"]
    assert outcomes[0]["day"] == iso(DAY) and outcomes[0]["contracts"] == 5
    assert outcomes[1] == {"day": iso(DAY + 2), "status": "not finished",
                           "reason": f"contract {DAY + 2}/18/2 is not final (stage EXECUTION)"}
    assert f"archive: {iso(DAY + 2)} not archived yet: contract {DAY + 2}/18/2 is not final" in caplog.text
    assert sdk.ArchiveReader(client).head().day == DAY

    # once the contract settles, the next run catches up: DAY + 2, then DAY + 3
    unsettled[2].stage = mpb.DECLINED
    chain.put(market.contract_address(DAY + 2, 18, unsettled[2].id), unsettled[2])
    assert [(o["day"], o["status"]) for o in engine.archive(DAY + 3)] == [
        (iso(DAY + 2), "archived"), (iso(DAY + 3), "archived")]
    assert engine.archive(DAY + 3) == []  # nothing left
    for day in (DAY, DAY + 2, DAY + 3):
        assert sdk.verify_day(client, day).ok


def test_an_open_hour_stops_the_step(setup):
    client, chain, engine = setup
    chain.write_day(DAY, closed=range(23))
    assert engine.archive(DAY) == [{"day": iso(DAY), "status": "not finished",
                                    "reason": f"hour {DAY}/23 is not closed"}]


def test_a_refusal_is_reported_not_raised(setup):
    client, chain, engine = setup
    chain.empty_day(DAY)
    stranger = Engine(client, keys.signer_for(keys.new_private_key()), EngineConfig())
    (outcome,) = stranger.archive(DAY)
    assert outcome["status"] == "error" and "signer: not an operator" in outcome["reason"]


def test_a_simulated_run_archives_every_day_the_engine_ran_for(caplog):
    """`sawgrid simulate --fast`'s code path, settlement included: the engine
    runs after each day from the second on (not after the last), and by then
    every contract of the day is settled or declined, so each run archives the
    days up to its own, scenario "without"'s last day included (in the first
    run of "with"); every record verifies."""
    dataset = tiny_dataset(days=4)
    clock = ReplayClock(start_time(dataset))
    client = InProcessClient(clock=clock)
    sim = Simulation(dataset, SimConfig(seed=1), client, signer_for(1, "operator"),
                     signed=False, mode="fast", progress=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="sawgrid.par_engine"):
        sim.run()
    last_engine_day = sim.chain_day(1, dataset.days() - 2)
    archived = [r.day for r in sdk.ArchiveReader(client).days()]
    assert archived[:len(range(sim.chain_day(0, 0), last_engine_day + 1))] == \
        list(range(sim.chain_day(0, 0), last_engine_day + 1))
    assert all(o["status"] == "archived" for o in sim.engine.last_report.archive)
    assert "not archived yet" not in caplog.text
    for day in archived:
        result = sdk.verify_day(client, day)
        assert result.ok, result.reason
        assert result.contracts > 0
