"""Ledger sync throughput into SQLite and PostgreSQL, against the chain's commit rate.

    python bench/sync_bench.py [--participants 20] [--batches 1500] [--clients 4] [--json]

Starts `sawgrid devnet --processors` and a throw-away PostgreSQL server
(tests/integration/pg_server.py, fsync on as in production), then for each
database in turn:

* live — the sync (in this process, `SyncService`) follows the chain while
  `--clients` threads submit `--batches` market batches (offers and orders
  over a day's hours, pre-signed, which match, rest and settle). Reported:
  the chain's commit rate (blocks/s and batches/s from the first POST to the
  last commit), the sync's largest lag in blocks, and how long after the
  last commit the mirror reached the head;
* small blocks — then `--small-blocks` one-transaction kv batches, one at a
  time (one block each), with both databases' syncs following live: the
  chain's block rate and each sync's largest lag;
* catch-up — at the end, an empty mirror (schema created) of each database
  syncs the whole chain from genesis: blocks/s and rows/s written.

Everything (devnet, its processors, PostgreSQL, the load and the sync) shares
the same machine, so the figures are relative to each other.

    python bench/sync_bench.py --simulate [--participants 103] [--days 7] [--json]

instead runs `sawgrid simulate` (full stack: its own devnet and its
`sawgrid sync` child into OUT/mirror.sqlite) and reads the sync's lag lines
from OUT/sync.log (one per second: the mirror's block, the chain head from
REST, blocks behind, rows written): blocks behind the head over the run
(max, median, 90th percentile), rows/s while trading, and the machine's load
average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import pg_server  # noqa: E402

from sawgrid.clients.sdk import keys, market  # noqa: E402
from sawgrid.clients.sdk.devnet_process import DevnetProcess  # noqa: E402
from sawgrid.clients.sdk.rest import RestClient  # noqa: E402
from sawgrid.clients.sync.database import open_database  # noqa: E402
from sawgrid.clients.sync.service import SyncConfig, SyncService  # noqa: E402
from sawgrid.protos import market_pb2 as pb  # noqa: E402

DAY = market.today() + 60


def chain_head(rest: RestClient) -> int:
    return int(next(iter(rest.blocks(limit=1)))["header"]["block_num"])


def onboard(rest: RestClient, operator, n: int) -> list:
    signers = [keys.signer_for(keys.new_private_key()) for _ in range(n)]
    for s in signers:
        market.submit(rest, s, market.register("bench"), wait=False)
    time.sleep(1)
    market.submit(rest, operator, [market.approve(s.get_public_key().as_hex()) for s in signers] +
                  [market.fund(s.get_public_key().as_hex(), 10**6 * market.MICRO) for s in signers])
    return signers


def load_batches(signers: list, count: int, day: int) -> list:
    """Pre-signed market batches: half the participants sell, half buy, over 24 hours."""
    from sawgrid.protos.envelopes import make_batch

    batches = []
    for i in range(count):
        signer = signers[i % len(signers)]
        sell = (i % len(signers)) < len(signers) // 2
        payload = market.place_order(pb.SELL if sell else pb.BUY, day, (i // len(signers)) % 24,
                                     400 + 10 * (i % 7), (90_000 + 5_000 * (i % 5)) if sell else 160_000)
        batches.append(make_batch(signer, [market.market_transaction(signer, payload)]))
    return batches


def post_all(url: str, batches: list, clients: int) -> tuple[float, list[str]]:
    """POST from `clients` threads; returns (seconds until all committed, batch ids)."""
    chunks = [batches[i::clients] for i in range(clients)]
    ids = [b.header_signature for b in batches]
    start = time.monotonic()

    def post(chunk):
        client = RestClient(url)
        for batch in chunk:
            client.submit([batch])

    threads = [threading.Thread(target=post, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rest = RestClient(url)
    for i in range(0, len(ids), 100):
        rest.wait(ids[i:i + 100], timeout=300)
    return time.monotonic() - start, ids


class InProcessSync:
    def __init__(self, db: str, net: DevnetProcess) -> None:
        self.stop = threading.Event()
        self.max_lag = 0
        self.service = SyncService(SyncConfig(db_url=db, component=net.component, rest_url=None,
                                              log_interval=3600), stop=self.stop)
        self.thread = threading.Thread(target=self.service.run, name="bench-sync", daemon=True)

    def start(self) -> "InProcessSync":
        self.thread.start()
        return self

    def head(self) -> int:
        return -1 if self.service.progress.head is None else self.service.progress.head

    def wait_head(self, target: int, timeout: float = 600) -> float:
        start = time.monotonic()
        while self.head() < target:
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"sync stuck at {self.head()} of {target}")
            time.sleep(0.01)
        return time.monotonic() - start

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)


def run_db(name: str, make_db, net: DevnetProcess, operator, args) -> dict:
    rest = RestClient(net.url)
    live = InProcessSync(make_db(), net).start()
    live.wait_head(chain_head(rest))
    signers = onboard(rest, operator, args.participants)
    day = DAY + len(name)            # a fresh day per database: its books start empty
    market.submit(rest, operator, [market.set_grid_prices(day, [80_000] * 24, [300_000] * 24)])
    batches = load_batches(signers, args.batches, day)
    first = chain_head(rest)
    done = threading.Event()

    def watch():
        while not done.is_set():
            live.max_lag = max(live.max_lag, chain_head(rest) - live.head())
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    seconds, _ = post_all(net.url, batches, args.clients)
    last = chain_head(rest)
    after = live.wait_head(last)
    done.set()
    watcher.join()
    live.close()
    blocks = last - first
    return {"database": name, "chain_blocks": blocks, "chain_batches": len(batches),
            "chain_blocks_per_s": round(blocks / seconds, 1), "chain_batches_per_s": round(len(batches) / seconds, 1),
            "live_max_lag_blocks": live.max_lag, "live_caught_up_after_s": round(after, 2)}


def small_blocks(count: int, databases: dict, net: DevnetProcess) -> dict:
    """`count` one-transaction kv batches, one at a time: one block each. Both
    databases' syncs follow live; the chain's block rate and each one's lag."""
    from sawgrid.clients.sdk.kv import kv_batch

    rest = RestClient(net.url)
    syncs = {name: InProcessSync(make_db(), net).start() for name, make_db in databases.items()}
    for sync in syncs.values():
        sync.wait_head(chain_head(rest))
    signer = keys.signer_for(keys.new_private_key())
    batches = [kv_batch(signer, f"bench-{i}", b"x" * 32) for i in range(count)]
    first, start = chain_head(rest), time.monotonic()
    lags = dict.fromkeys(syncs, 0)
    for batch in batches:
        rest.submit_and_wait([batch], timeout=60)
        head = chain_head(rest)
        for name, sync in syncs.items():
            lags[name] = max(lags[name], head - sync.head())
    seconds = time.monotonic() - start
    last = chain_head(rest)
    after = {name: round(sync.wait_head(last), 2) for name, sync in syncs.items()}
    for sync in syncs.values():
        sync.close()
    return {"blocks": last - first, "chain_blocks_per_s": round((last - first) / seconds, 1),
            "live_max_lag_blocks": lags, "live_caught_up_after_s": after}


def catch_up(result: dict, make_db, net: DevnetProcess) -> None:
    """An empty mirror (schema already created) syncs the whole chain."""
    rest = RestClient(net.url)
    db = make_db()
    open_database(db).engine.dispose()
    catch = InProcessSync(db, net)
    head = chain_head(rest)
    start = time.monotonic()
    catch.start()
    catch.wait_head(head)
    elapsed = time.monotonic() - start
    p = catch.service.progress
    catch.close()
    result.update({"catch_up_blocks": p.blocks, "catch_up_rows": p.rows, "catch_up_s": round(elapsed, 2),
                   "catch_up_blocks_per_s": round(p.blocks / elapsed, 1),
                   "catch_up_rows_per_s": round(p.rows / elapsed, 1)})


LAG_LINE = re.compile(r"sync: block (\d+); chain head (\d+), (\d+) behind; last (\d+) s: (\d+) blocks, (\d+) rows")


def lag_of_log(text: str) -> dict:
    """The sync's lag lines: blocks behind over the run, rows/s. Samples before
    the first block and after the last block written (the idle tail while
    the report is written) are left out."""
    samples = [tuple(int(g) for g in m.groups()) for m in LAG_LINE.finditer(text)]
    while samples and samples[-1][4] == 0 and samples[-1][2] == 0:
        samples.pop()
    if not samples:
        return {"samples": 0}
    behind = [s[2] for s in samples]
    seconds = sum(s[3] for s in samples)
    rows = sum(s[5] for s in samples)
    return {"samples": len(samples), "blocks": samples[-1][0], "max_behind": max(behind),
            "median_behind": statistics.median(behind),
            "p90_behind": sorted(behind)[int(0.9 * (len(behind) - 1))],
            "rows": rows, "seconds": seconds, "rows_per_s": round(rows / seconds, 1) if seconds else None,
            "peak_rows_per_s": max(s[5] / s[3] for s in samples if s[3])}


def simulate(args) -> dict:
    """One full-stack `sawgrid simulate`, and its sync's lag."""
    out = Path(tempfile.mkdtemp(prefix="sawgrid-sync-bench-simulate-"))
    load_before = os.getloadavg()
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", "simulate", "--participants",
                          str(args.participants), "--days", str(args.days), "--out", str(out), "--json"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"simulate failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}")
    doc = json.loads(run.stdout)
    return {"participants": args.participants, "days": args.days, "wall_s": round(time.monotonic() - started, 1),
            "simulation_s": doc["seconds"], "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "statistics_from": doc["config"].get("statistics_from"),
            "archived_days": doc["archive"]["archived"], "verified_days": doc["archive"]["verified"],
            **lag_of_log((out / "sync.log").read_text()), "folder": str(out)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--simulate", action="store_true",
                        help="measure the sync's lag during a full-stack `sawgrid simulate` instead")
    parser.add_argument("--days", type=int, default=7, help="with --simulate: simulated days")
    parser.add_argument("--participants", type=int, default=None, help="default: 20 (103 with --simulate)")
    parser.add_argument("--batches", type=int, default=1500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--small-blocks", type=int, default=1000,
                        help="then this many one-transaction blocks, one at a time (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.simulate:
        args.participants = args.participants or 103
        r = simulate(args)
        if args.json:
            print(json.dumps(r, indent=2))
        else:
            print(f"simulate n={r['participants']} d={r['days']}: {r['simulation_s']} s; sync behind the head over "
                  f"{r['samples']} one-second samples: max {r['max_behind']}, median {r['median_behind']}, p90 "
                  f"{r['p90_behind']} blocks; {r['rows']} rows in {r['seconds']} s = {r['rows_per_s']} rows/s "
                  f"(peak {r['peak_rows_per_s']:.0f}); load average {r['load_average_before']} -> "
                  f"{r['load_average_after']}")
        return 0
    args.participants = args.participants or 20
    work = Path(tempfile.mkdtemp(prefix="sawgrid-sync-bench-"))
    bin_dir = pg_server.find_bin()
    if bin_dir is None:
        sys.exit("PostgreSQL's binaries are needed (apt-get install postgresql)")
    server = pg_server.PgServer(bin_dir, fsync=True).start()
    results = []
    try:
        with DevnetProcess(data_dir=work / "data", key_dir=work / "keys", log_path=work / "devnet.log") as net:
            operator = keys.load_signer("operator", work / "keys")
            counter = iter(range(1000))
            databases = {"sqlite": lambda: f"sqlite:///{work}/mirror-{next(counter)}.db",
                         "postgresql": lambda: server.create_database(f"bench_{secrets.token_hex(4)}")}
            for name, make_db in databases.items():
                results.append(run_db(name, make_db, net, operator, args))
            small = small_blocks(args.small_blocks, databases, net) if args.small_blocks else None
            for result in results:        # both on the same, final chain
                catch_up(result, databases[result["database"]], net)
    finally:
        server.stop()
    if args.json:
        print(json.dumps({"market_load": results, "small_blocks": small}, indent=2))
    else:
        if small:
            print(f"small blocks: chain {small['chain_blocks_per_s']} blocks/s ({small['blocks']} blocks); "
                  f"live lag max {small['live_max_lag_blocks']}, head after {small['live_caught_up_after_s']} s")
        for r in results:
            print(f"{r['database']:>10}: chain {r['chain_blocks_per_s']} blocks/s ({r['chain_batches_per_s']} "
                  f"batches/s, {r['chain_blocks']} blocks); live lag max {r['live_max_lag_blocks']} blocks, "
                  f"head {r['live_caught_up_after_s']} s after the last commit; catch-up "
                  f"{r['catch_up_blocks_per_s']} blocks/s, {r['catch_up_rows_per_s']} rows/s "
                  f"({r['catch_up_blocks']} blocks, {r['catch_up_rows']} rows in {r['catch_up_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
