"""A market that runs by itself: `sawgrid operator clock` on a fast simulated
clock and 10 `sawgrid meter` agents (separate processes) trade 3 days on
devnet, and their contracts are those of `sawgrid simulate` over the same
data and seed; a meter and the clock killed mid-day (SIGKILL) and restarted
lose and duplicate nothing; SIGTERM stops every agent cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sawgrid.clients.sdk import keys, reputation
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.market import MarketReader
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.clients.simulation import data
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.runner import SimConfig, Simulation, private_key_for, signer_for, start_time
from sawgrid.devnet.server import die_with_parent
from sawgrid.processors.market.addresses import role_address
from sawgrid.processors.market.units import day_date, day_number
from sawgrid.processors.reputation.settings import DAY_SECONDS, HOUR_SECONDS
from sawgrid.protos import market_pb2 as pb

pytestmark = pytest.mark.integration

SEED, N, DAYS = 5, 10, 3
#: simulated seconds per real second: a day lasts 48 s, the time the 10 meters have to take their
#: turns (20 commits) between the clock issuing a day and that day's gate, on a loaded machine too
SPEED = int(os.environ.get("SAWGRID_METER_TEST_SPEED", "1800"))
LEAD = 12 * HOUR_SECONDS   # the clock's default gate: noon the day before
WAIT = 30 * 60   # real seconds the whole run may take, at most


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sawgrid.clients.cli", *args]


class Fleet:
    """The clock and the meters as child processes, with their logs."""

    def __init__(self, tmp: Path, url: str, names: list[str]) -> None:
        self.tmp, self.url, self.names = tmp, url, names
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start(self, who: str, args: list[str]) -> None:
        log = self.logs.setdefault(who, self.tmp / f"{who}.log")
        with open(log, "ab") as out:
            self.procs[who] = subprocess.Popen(_cli("--url", self.url, "--key-dir", str(self.tmp / "keys"), *args),
                                               stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())

    def clock(self, start: int, issue_from: int) -> None:
        self.start("clock", ["--key", "operator", "operator", "clock", "--clock", f"sim:{start}:{SPEED}",
                             "--clock-file", str(self.tmp / "clock"), "--state", str(self.tmp / "clock.json"),
                             "--issue-from", day_date(issue_from).isoformat(), "--poll", "0.05"])

    def meter(self, i: int) -> None:
        self.start(f"meter{i}", ["--key", self.names[i], "meter", "--source", f"synthetic:{SEED}:{i}",
                                 "--participants", str(N), "--days", str(DAYS), "--turn", f"{i}/{N}",
                                 "--state", str(self.tmp / f"meter{i}.json"), "--poll", "0.2"])

    def kill(self, who: str) -> None:
        self.procs[who].send_signal(signal.SIGKILL)
        self.procs[who].wait(10)

    def check_alive(self) -> None:
        for who, proc in self.procs.items():
            assert proc.poll() is None, f"{who} exited with {proc.returncode}:\n{self.logs[who].read_text()[-3000:]}"

    def terminate(self) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for who, proc in self.procs.items():
            try:
                codes[who] = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[who] = proc.wait()
        return codes


def _trades(contracts, first_day: int) -> list[tuple]:
    """What a contract traded, its day as an index from `first_day`."""
    return [(c.day - first_day, c.hour, c.id.split("/")[2], c.seller, c.buyer, c.energy, c.price, c.penalty,
             c.base, c.surcharge, c.wire_fee, c.total, c.grid) for c in contracts]


def _reference(dataset):
    """`sawgrid simulate --fast` over the same data and seed: its scenario "with recommendations"."""
    clock = ReplayClock(start_time(dataset))
    rest = InProcessClient(clock=clock)
    sim = Simulation(dataset, SimConfig(seed=SEED), rest, signer_for(SEED, "operator"), signed=False,
                     mode="fast", progress=False, clock=clock)
    sim.run()
    reader = MarketReader(rest)
    first = sim.chain_day(1, 0)
    return _trades([c for d in range(DAYS) for c in reader.contracts(day=first + d)], first)


def _wait_until(predicate, fleet: Fleet, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        fleet.check_alive()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_clock_and_ten_meters_trade_as_simulate_does_through_kills(make_devnet, tmp_path):
    dataset = data.synthetic(n=N, days=DAYS, seed=SEED)
    base = day_number(dataset.start)
    names = [p.name for p in dataset.participants]
    keys.save("operator", private_key_for(SEED, "operator"), tmp_path / "keys", force=True)
    for name in names:
        keys.save(name, private_key_for(SEED, name), tmp_path / "keys", force=True)
    start = base * DAY_SECONDS - DAY_SECONDS - LEAD + 60   # just after the gate before the first day's: it is issued
    setup_clock = ReplayClock(start, tmp_path / "clock")
    net = make_devnet(processors=True, extra=("--clock-file", str(tmp_path / "clock")))
    rest = RestClient(net.url)
    # the operator's setup, as simulate does it: participants approved and funded, grid prices, the
    # experiment's reputation settings, everyone in the validator pool
    Simulation(dataset, SimConfig(seed=SEED), rest, signer_for(SEED, "operator"), signed=True, mode="setup",
               progress=False, clock=setup_clock).setup()
    reader = MarketReader(rest)
    fleet = Fleet(tmp_path, net.url, names)

    def chain_at(seconds: int):
        return lambda: (reputation.chain_time(rest) or 0) >= seconds

    def traded(i: int, day: int):   # meter i's day-ahead orders of `day` are on chain (its BOTH mark)
        address = role_address(keys.public_key_of(names[i], tmp_path / "keys"), day)
        return lambda: (raw := rest.state(address)) is not None and pb.DayRole.FromString(raw).role == pb.BOTH

    try:
        for i in range(N):
            fleet.meter(i)
        # the meters are up (their data loaded) before the clock starts the first day's gate
        _wait_until(lambda: all(f"turn {i}/{N}" in fleet.logs[f"meter{i}"].read_text() for i in range(N)),
                    fleet, "the meters to start", timeout=600)
        fleet.clock(start, issue_from=base + 2)
        # a meter killed mid-day 2 (it has placed day 3, and has readings to do) and back 2 s later
        _wait_until(chain_at((base + 1) * DAY_SECONDS + 6 * HOUR_SECONDS), fleet, "day 2, 06:00")
        _wait_until(traded(3, base + 2), fleet, "meter 3's orders for day 3")
        fleet.kill("meter3")
        time.sleep(2)
        fleet.meter(3)
        # the clock killed mid-day 3 and restarted: it resumes from its state and the chain's time
        _wait_until(chain_at((base + 2) * DAY_SECONDS + 14 * HOUR_SECONDS), fleet, "day 3, 14:00")
        fleet.kill("clock")
        time.sleep(2)
        fleet.clock(start, issue_from=base + 2)

        def all_settled() -> bool:
            # the last day's deadline (a day after its last hour) passed, and the clock's next gate
            # expired what had no validation cluster to attest it
            if not chain_at((base + DAYS + 1) * DAY_SECONDS + 13 * HOUR_SECONDS)():
                return False
            contracts = [c for d in range(DAYS) for c in reader.contracts(day=base + d)]
            return bool(contracts) and all(c.stage == pb.SETTLED for c in contracts)

        _wait_until(all_settled, fleet, "every contract of the 3 days settled")
    finally:
        codes = fleet.terminate()
    assert codes == {who: 0 for who in codes}, codes          # SIGTERM: a clean stop, exit 0
    for who, log in fleet.logs.items():
        assert log.read_text().rstrip().endswith("stopped"), (who, log.read_text()[-500:])

    contracts = [c for d in range(DAYS) for c in reader.contracts(day=base + d)]
    ours = _trades(contracts, base)
    assert ours == _reference(dataset)
    assert {c.stage for c in contracts} == {pb.SETTLED}
    # one offer or order per meter, side and hour at most (an order placed twice would also show above)
    for d in range(DAYS):
        for h in range(24):
            book = reader.book(base + d, h)
            assert book is not None and book.closed
    for who, log in fleet.logs.items():
        assert "Traceback" not in log.read_text(), who
    # the restarted meter did not place day 3 again: one offers and one orders line per day it traded
    placed = [line for line in fleet.logs["meter3"].read_text().splitlines() if "placed" in line]
    days = [line.split(": placed")[0].split()[-1] for line in placed]
    assert len(days) == 2 * len(set(days)), placed
