"""Meter agents and the market clock in process (no child processes): over
three days they make the contracts `sawgrid simulate` makes, a meter
restarted from its state file places nothing twice, and a REST API that is
down is retried with back-off."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from sawgrid.clients.clock.market_clock import ClockConfig, MarketClock, gate
from sawgrid.clients.meter.agent import AgentConfig, MeterAgent
from sawgrid.clients.meter.household import Household
from sawgrid.clients.meter.sources import ArraySource
from sawgrid.clients.meter.state import AgentState
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.sdk.rest import RestUnreachable
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.runner import SimConfig, Simulation, signer_for, start_time
from sawgrid.par_engine.engine import Engine
from sawgrid.processors.market.units import day_number
from sawgrid.processors.reputation.settings import DAY_SECONDS, HOUR_SECONDS
from sawgrid.protos import market_pb2 as pb
from test_scenarios import tiny_dataset

SEED = 1
STEP = 15 * 60   # simulated seconds between looks


class _Time:
    """The test's clock: the market clock's timebase and the in-process chain's clock."""
    description = "test time"

    def __init__(self, t: int) -> None:
        self.t = t

    def now(self) -> int:
        return self.t

    def __call__(self) -> float:
        return float(self.t)


def _trades(contracts, first: int) -> list[tuple]:
    return [(c.day - first, c.hour, c.id.split("/")[2], c.seller, c.buyer, c.energy, c.price, c.penalty, c.base,
             c.surcharge, c.wire_fee, c.total, c.grid) for c in contracts]


def _simulated(dataset) -> list[tuple]:
    clock = ReplayClock(start_time(dataset))
    rest = InProcessClient(clock=clock)
    sim = Simulation(dataset, SimConfig(seed=SEED), rest, signer_for(SEED, "operator"), signed=False, mode="fast",
                     progress=False, clock=clock)
    sim.run()
    first = sim.chain_day(1, 0)
    reader = MarketReader(rest)
    return _trades([c for d in range(dataset.days()) for c in reader.contracts(day=first + d)], first)


class _Market:
    """Setup as simulate does it, then the clock and one agent per participant, in process."""

    def __init__(self, dataset, tmp_path) -> None:
        self.data = dataset
        self.base = day_number(dataset.start)
        self.time = _Time(self.base * DAY_SECONDS - DAY_SECONDS - 12 * HOUR_SECONDS + 60)
        self.rest = InProcessClient(clock=self.time)
        operator = signer_for(SEED, "operator")
        setup = ReplayClock(self.time.t)
        Simulation(dataset, SimConfig(seed=SEED), self.rest, operator, signed=True, mode="setup",
                   progress=False, clock=setup).setup()
        self.clock = MarketClock(self.rest, operator, Engine(self.rest, operator), self.time,
                                 ClockConfig(issue_from=self.base + 2), tmp_path / "clock.json")
        self.tmp = tmp_path
        self.agents = [self.agent(i) for i in range(dataset.n)]

    def agent(self, i: int) -> MeterAgent:
        signer = signer_for(SEED, self.data.participants[i].name)
        pk = signer.get_public_key().as_hex()
        source = ArraySource("test", self.data.consumption[i], self.data.production[i], self.base)
        return MeterAgent(self.rest, signer, Household(pk, source), AgentState(self.tmp / f"m{i}.json", pk),
                          AgentConfig(poll=0.01))

    def run_until(self, t: int) -> None:
        while self.time.t < t:
            self.time.t += STEP
            self.clock.step()
            for agent in self.agents:
                agent.cycle()


def test_agents_and_the_clock_trade_as_simulate_does_and_a_restart_places_nothing_twice(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="sawgrid.meter")
    dataset = tiny_dataset()
    m = _Market(dataset, tmp_path)
    m.run_until((m.base + 1) * DAY_SECONDS + 10 * HOUR_SECONDS)
    # a restart mid-day: new agents and a new clock from the same state files
    m.agents = [m.agent(i) for i in range(dataset.n)]
    m.clock = MarketClock(m.rest, signer_for(SEED, "operator"), Engine(m.rest, signer_for(SEED, "operator")),
                          m.time, ClockConfig(issue_from=m.base + 2), tmp_path / "clock.json")
    assert m.clock.next_day == m.base + 2          # it goes on from its state, no gate twice
    # until the last day's deadline has passed and the clock's next gate expired what had no cluster
    m.run_until((m.base + 4) * DAY_SECONDS + 13 * HOUR_SECONDS)

    reader = MarketReader(m.rest)
    contracts = [c for d in range(dataset.days()) for c in reader.contracts(day=m.base + d)]
    assert _trades(contracts, m.base) == _simulated(dataset)
    assert {c.stage for c in contracts} == {pb.SETTLED}    # every meter read, every member attested
    placed = [r.getMessage() for r in caplog.records if ": placed " in r.getMessage()]
    # each agent placed each day's offers and orders once (its data covers days 1-3 only)
    assert len(placed) == 2 * dataset.n * dataset.days(), placed
    assert all(reader.book(m.base + d, h).closed for d in range(dataset.days()) for h in range(24))


class _Down:
    """A REST API that is not there."""
    url = "http://127.0.0.1:9"

    def state(self, address, head=None):
        raise RestUnreachable(self.url, "connection refused")


def test_an_unreachable_api_is_retried_with_back_off(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="sawgrid.meter")
    signer = signer_for(SEED, "x")
    pk = signer.get_public_key().as_hex()
    stop = threading.Event()
    waits: dict[str, list] = {}

    class _Stop(threading.Event):
        def wait(self, timeout=None):   # each loop (trading here, settlement in its thread) backs off alone
            mine = waits.setdefault(threading.current_thread().name, [])
            mine.append(timeout)
            if len(waits.get("MainThread", [])) == 4:
                stop.set()
            time.sleep(0.01)
            return False

        def set(self):
            stop.set()

        def is_set(self):
            return stop.is_set()

    dataset = tiny_dataset()
    agent = MeterAgent(_Down(), signer, Household(pk, ArraySource("t", dataset.consumption[0],
                                                                  dataset.production[0], 0)),
                       AgentState(None, pk), AgentConfig(poll=1.0, max_backoff=5.0), _Stop())
    assert agent.run() == 0
    assert waits["MainThread"] == [1.0, 2.0, 4.0, 5.0]
    assert waits["settlement"][0] == 1.0
    assert "cannot reach the Sawtooth REST API" in caplog.records[0].getMessage()
    assert MeterAgent(_Down(), signer, agent.household, AgentState(None, pk)).run(once=True) == 1


def test_a_day_gate_is_its_lead_before_the_day():
    assert gate(10) == 10 * DAY_SECONDS - 12 * HOUR_SECONDS
    assert gate(10, 0) == 10 * DAY_SECONDS
    with pytest.raises(Exception, match="gate-lead"):
        ClockConfig(gate_lead=DAY_SECONDS + 1)
