"""Meter agents against devnet: how many one machine runs with every day's
orders in before its gate and the clock's gates on time (agents per core),
and the latency from a meter's orders to its contracts.

    python bench/meter_bench.py [--agents 5,10,20] [--speed 1800] [--days 2] [--json]

For each count N: a fresh devnet (`--clock-file`), the operator's setup of N
synthetic households as `sawgrid simulate` does it, `sawgrid operator clock`
on a simulated clock at --speed, and N `sawgrid meter` child processes (no
--turn: each places as soon as a day is issued, as in a deployment), for
--days delivery days. Reported per N:

* `days_in_time`: delivery days for which every meter's offers and orders
  were on chain before the day's gate (each meter's role marks, read from
  the chain);
* `gate_late_s_max`: how late (simulated seconds) the clock closed a gate
  (its log);
* `order_to_contract_s`: median and 95th percentile of the seconds from a
  meter building its orders batch to that batch committing, which is when
  the orders match the resting offers and their contracts exist (what
  grid fallback leaves waits for the gate by design);
* `agents_per_core`: the largest N with every day in time and every gate on
  time, divided by the cores (`os.cpu_count()`), with the load average seen.

The simulated day is --speed times shorter than a real one (1800: 48 s), so
a count that keeps up here has 1800 times the margin in real time; the
figure to read is where it stops keeping up at a given speed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sawgrid.clients.sdk import keys, reputation
from sawgrid.clients.sdk.devnet_process import DevnetProcess
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.clients.simulation import data
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.runner import SimConfig, Simulation, private_key_for, signer_for
from sawgrid.devnet.server import die_with_parent
from sawgrid.processors.market.addresses import role_address
from sawgrid.processors.market.units import day_number
from sawgrid.processors.reputation.settings import DAY_SECONDS, HOUR_SECONDS
from sawgrid.protos import market_pb2 as pb

SEED = 0
LEAD = 12 * HOUR_SECONDS
COMMITTED = re.compile(r"placed \d+ orders .*committed in ([0-9.]+) s")
LATE = re.compile(r"closed \S+: .*\((on time|(\d+) min late)\)")


def _cli(tmp: Path, url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "sawgrid.clients.cli", "--url", url, "--key-dir", str(tmp / "keys"), *args]


def run(n: int, speed: int, days: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="meter-bench-") as name:
        tmp = Path(name)
        dataset = data.synthetic(n=n, days=days, seed=SEED)
        base = day_number(dataset.start)
        keys.save("operator", private_key_for(SEED, "operator"), tmp / "keys", force=True)
        for p in dataset.participants:
            keys.save(p.name, private_key_for(SEED, p.name), tmp / "keys", force=True)
        start = base * DAY_SECONDS - DAY_SECONDS - LEAD + 60
        clock_file = tmp / "clock"
        setup = ReplayClock(start, clock_file)
        procs: list[subprocess.Popen] = []
        with DevnetProcess(data_dir=tmp / "data", key_dir=tmp / "keys", log_path=tmp / "devnet.log",
                           extra=("--clock-file", str(clock_file))) as net:
            rest = RestClient(net.url)
            Simulation(dataset, SimConfig(seed=SEED), rest, signer_for(SEED, "operator"), signed=True,
                       mode="setup", progress=False, clock=setup).setup()
            try:
                for i, p in enumerate(dataset.participants):
                    with open(tmp / f"meter{i}.log", "wb") as log:
                        procs.append(subprocess.Popen(
                            _cli(tmp, net.url, "--key", p.name, "meter", "--source", f"synthetic:{SEED}:{i}",
                                 "--participants", str(n), "--days", str(days), "--state",
                                 str(tmp / f"meter{i}.json"), "--poll", "0.2"),
                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()))
                deadline = time.monotonic() + 600
                while not all("stopped" in (tmp / f"meter{i}.log").read_text() or
                              "source synthetic" in (tmp / f"meter{i}.log").read_text() for i in range(n)):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the meters did not start within 600 s")
                    time.sleep(0.5)
                with open(tmp / "clock.log", "wb") as log:
                    procs.append(subprocess.Popen(
                        _cli(tmp, net.url, "--key", "operator", "operator", "clock", "--clock",
                             f"sim:{start}:{speed}", "--clock-file", str(clock_file), "--issue-from",
                             dataset.start.isoformat(), "--poll", "0.05"),
                        stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()))
                load = []
                end = base * DAY_SECONDS + (days - 1) * DAY_SECONDS - LEAD + HOUR_SECONDS  # after the last gate
                while (reputation.chain_time(rest) or 0) < end:
                    load.append(os.getloadavg()[0])
                    time.sleep(1)
                in_time = 0
                for d in range(days):
                    marks = [rest.state(role_address(keys.public_key_of(p.name, tmp / "keys"), base + d))
                             for p in dataset.participants]
                    in_time += all(m is not None and pb.DayRole.FromString(m).role == pb.BOTH for m in marks)
            finally:
                for proc in procs:
                    proc.send_signal(signal.SIGTERM)
                for proc in procs:
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            latencies = [float(m.group(1)) for i in range(n)
                         for m in COMMITTED.finditer((tmp / f"meter{i}.log").read_text())]
            late = [0 if m.group(1) == "on time" else int(m.group(2)) * 60
                    for m in LATE.finditer((tmp / "clock.log").read_text())]
        ordered = sorted(latencies)
        return {"agents": n, "speed": speed, "days": days, "days_in_time": in_time,
                "gate_late_s_max": max(late) if late else None,
                "order_to_contract_s": {"median": round(statistics.median(ordered), 3) if ordered else None,
                                        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3) if ordered else None,
                                        "batches": len(ordered)},
                "load_avg_max": round(max(load), 1) if load else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", default="5,10,20", help="meter counts to try (comma-separated)")
    parser.add_argument("--speed", type=int, default=1800, help="simulated seconds per real second")
    parser.add_argument("--days", type=int, default=2, help="delivery days per count")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [run(int(n), args.speed, args.days) for n in args.agents.split(",")]
    kept = [r["agents"] for r in rows if r["days_in_time"] == r["days"] and (r["gate_late_s_max"] or 0) < HOUR_SECONDS]
    doc = {"cores": os.cpu_count(), "rows": rows,
           "agents_per_core": round(max(kept) / os.cpu_count(), 1) if kept else 0}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for r in rows:
            print(f"{r['agents']:4d} agents at x{r['speed']}: {r['days_in_time']}/{r['days']} days in time, gates late "
                  f"<= {r['gate_late_s_max']} s, order->contract median {r['order_to_contract_s']['median']} s "
                  f"p95 {r['order_to_contract_s']['p95']} s, load <= {r['load_avg_max']}")
        print(f"agents per core (all in time): {doc['agents_per_core']} ({doc['cores']} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
