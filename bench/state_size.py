"""State size after a simulated month, with and without the archive's pruning.

    python bench/state_size.py [--participants 103] [--days 30] [--seed 0] [--retention 7] [--json]

Runs the paper's experiment ("with recommendations" scenario: the meters'
trading, gate closure, the PAR engine after each day) on the in-process
ledger (`sawgrid simulate --fast`'s code path) for `--days` days, twice:

* **without pruning**: every day is archived by the PAR engine's nightly run,
  nothing is deleted;
* **with pruning**: the same, and after each engine run every archived day
  older than the retention is pruned (`prune_day`).

The figure is the state's size: the sum of the sizes of all state entries
(bytes of each value; each address is 70 hex characters more) and their
count, at the end and after each day, broken down by family and record kind.

Settlement is the simulation's own (meters read after each hour, cluster
members attest, the operator expires leftovers), so the reputation records
are the real ones. Contracts are archived only once SETTLED or DECLINED; a
contract the simulation has not settled by the time the engine runs (none,
since it settles every hour) would be settled here by a stand-in, straight in
the ledger's state, as a full delivery: stage SETTLED, delivered = energy,
paid_* = the contract's amounts, with one Reading per party and hour and one
Settlement per contract. The report counts how many it settled.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from sawgrid.clients.sdk import archive
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.simulation import data
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.runner import SimConfig, Simulation, signer_for, start_time
from sawgrid.processors import registry
from sawgrid.processors.archive.record import FINAL_STAGES
from sawgrid.processors.market import addresses as market
from sawgrid.processors.market.units import HOURS_PER_DAY
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import market_pb2 as mpb
from sawgrid.protos import reputation_pb2 as rpb

ADDRESS_BYTES = 70


@dataclass
class Size:
    entries: int
    value_bytes: int

    @property
    def with_addresses(self) -> int:
        return self.value_bytes + self.entries * ADDRESS_BYTES


def measure(state: dict[str, bytes]) -> tuple[Size, dict[str, Size]]:
    total = Size(len(state), sum(len(v) for v in state.values()))
    count: Counter = Counter()
    size: Counter = Counter()
    for address, value in state.items():
        found = registry.record_kind(address)
        name = f"{found[0].short}/{found[1].name}" if found else address[:8]
        count[name] += 1
        size[name] += len(value)
    return total, {k: Size(count[k], size[k]) for k in sorted(size, key=lambda k: -size[k])}


def settle_stand_in(state: dict[str, bytes], day: int) -> int:
    """Settle the day's contracts that are not final yet, in place (see the module docstring)."""
    settled = 0
    for hour in range(HOURS_PER_DAY):
        raw = state.get(market.hour_index_address(day, hour))
        if raw is None:
            continue
        for contract_id in mpb.HourIndex.FromString(raw).contracts:
            address = market.contract_address(day, hour, contract_id)
            c = mpb.Contract.FromString(state[address])
            if c.stage in FINAL_STAGES:
                continue
            c.stage, c.delivered, c.escrow, c.credit = mpb.SETTLED, c.energy, 0, 0
            c.paid_base, c.paid_surcharge, c.paid_wire_fee = c.base, c.surcharge, c.wire_fee
            state[address] = c.SerializeToString(deterministic=True)
            votes = [rpb.Vote(member=m, delivered_wh=c.energy, paid=True) for m in c.cluster]
            state[reputation.settlement_address(day, hour, c.id)] = rpb.Settlement(
                contract_id=c.id, votes=votes, final=True, qot=3_000_000,
                timestamp=(day * 24 + hour + 2) * 3600).SerializeToString(deterministic=True)
            for party, delivered, received in ((c.seller, c.energy, 0), (c.buyer, 0, c.energy)):
                key = reputation.reading_address(day, hour, party)
                reading = rpb.Reading.FromString(state[key]) if key in state else rpb.Reading(
                    public_key=party, day=day, hour=hour, timestamp=(day * 24 + hour + 1) * 3600)
                reading.delivered_wh += delivered
                reading.received_wh += received
                state[key] = reading.SerializeToString(deterministic=True)
            settled += 1
    return settled


@dataclass
class Run:
    prune: bool
    retention: int
    days: list[dict] = field(default_factory=list)
    stood_in: int = 0      # contracts this bench settled itself
    archived: int = 0
    pruned: int = 0


class NightlyRun:
    """Stands in for the simulation's PAR engine: settle what is due, run the
    real engine (which issues the next day and archives finished days), prune."""

    def __init__(self, sim: Simulation, client: InProcessClient, run: Run) -> None:
        self.sim, self.client, self.run_ = sim, client, run
        self.engine = sim.engine
        self.settled_through = sim.chain_day(1, 0) - 1
        self.pruned_through = None

    def run(self, day: int, dry_run: bool = False):
        for d in range(self.settled_through + 1, day + 1):
            self.run_.stood_in += settle_stand_in(self.client.ledger.state, d)
        self.settled_through = day
        report = self.engine.run(day)
        self.after(day)
        return report

    def finish(self, day: int) -> None:
        """After the last day (the simulation runs no engine for it)."""
        for d in range(self.settled_through + 1, day + 1):
            self.run_.stood_in += settle_stand_in(self.client.ledger.state, d)
        self.engine.archive(day)
        self.after(day)

    def after(self, day: int) -> None:
        reader = archive.ArchiveReader(self.client)
        if self.run_.prune:
            through = archive.prunable_through(reader.head(), self.run_.retention)
            first = self.sim.chain_day(1, 0) if self.pruned_through is None else self.pruned_through + 1
            if through is not None and through >= first:
                archive.submit(self.client, self.sim.operator, [archive.prune_day(d) for d in range(first, through + 1)])
                self.run_.pruned += through + 1 - first
                self.pruned_through = through
        head = reader.head()
        self.run_.archived = head.days if head else 0
        total, _ = measure(self.client.ledger.state)
        self.run_.days.append({"day": day, "entries": total.entries, "value_bytes": total.value_bytes,
                               "archived": self.run_.archived})


def simulate(dataset, prune: bool, retention: int, seed: int) -> tuple[Run, dict]:
    clock = ReplayClock(start_time(dataset))
    client = InProcessClient(clock=clock)
    operator = signer_for(seed, "operator")
    sim = Simulation(dataset, SimConfig(seed=seed), client, operator, signed=False, mode="fast", progress=False,
                     clock=clock)
    run = Run(prune, retention)
    sim.setup()
    if prune:
        archive.submit(client, operator, archive.configure(retention))
    nightly = NightlyRun(sim, client, run)
    sim.engine = nightly
    started = time.perf_counter()
    sim.run_scenario(1)
    nightly.finish(sim.chain_day(1, dataset.days() - 1))
    total, kinds = measure(client.ledger.state)
    return run, {"seconds": round(time.perf_counter() - started, 1), "entries": total.entries,
                 "value_bytes": total.value_bytes, "bytes_with_addresses": total.with_addresses,
                 "by_kind": {k: {"entries": s.entries, "value_bytes": s.value_bytes} for k, s in kinds.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=103)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--retention", type=int, default=7, help="days kept unpruned (default: 7, the genesis default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dataset = data.synthetic(n=args.participants, days=args.days, seed=args.seed)
    results = {}
    for prune in (False, True):
        run, end = simulate(dataset, prune, args.retention, args.seed)
        results["with pruning" if prune else "without pruning"] = {
            **end, "archived_days": run.archived, "pruned_days": run.pruned, "contracts_settled_by_stand_in": run.stood_in,
            "per_day": run.days}
    doc = {"participants": args.participants, "days": args.days, "seed": args.seed, "retention_days": args.retention,
           "results": results}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{args.participants} participants, {args.days} days, retention {args.retention} days")
    for name, r in results.items():
        print(f"\n{name}: {r['entries']:,} entries, {r['value_bytes']:,} bytes of values "
              f"({r['bytes_with_addresses']:,} with addresses); {r['archived_days']} days archived, "
              f"{r['pruned_days']} pruned; {r['contracts_settled_by_stand_in']:,} contracts settled by the "
              f"stand-in; {r['seconds']} s")
        for kind, s in list(r["by_kind"].items())[:12]:
            print(f"  {kind:32} {s['entries']:>8,} entries {s['value_bytes']:>12,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
