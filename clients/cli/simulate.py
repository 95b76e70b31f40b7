"""`sawgrid simulate`: the paper's one-week experiment, with a report."""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sawgrid.clients.cli.support import command
from sawgrid.clients.sdk.errors import SawgridError

DEFAULT_OUT = Path("results")
MIRROR_FILE = "mirror.sqlite"   # the ledger sync's SQLite mirror, in the results folder
SYNC_LOG = "sync.log"           # its log: a lag line per second (bench/sync_bench.py --simulate reads it)
SYNC_CATCH_UP = 600.0           # seconds the mirror may take to reach the chain's head at the end
# Recommendations need two days of history, so day 3 is the first with any.
MIN_DAYS = 3
LOG = logging.getLogger("sawgrid.simulate")


def _dataset(args):
    from sawgrid.clients.simulation import data

    if args.csv:
        dataset = data.load_csv(args.csv)
        if args.paper_preparation:
            dataset = data.paper_preparation(dataset, participants=args.participants, seed=args.seed)
        return dataset
    return data.synthetic(n=args.participants, days=args.days, seed=args.seed)


class MirrorSync:
    """The ledger sync of a full-stack run: a `sawgrid sync` child process
    following devnet's event stream into `OUT/mirror.sqlite`, and the
    report's statistics read back from that mirror once it has caught up
    with the chain (`rows`, the runner's `mirror`).

    A child process, not a thread: the simulation keeps its own interpreter
    busy signing and submitting, and a sync thread would share its GIL (each
    slowing the other); the child is the very `sawgrid sync` that runs in
    production, and its lag lines are what the bench reads. It stops with
    its parent as devnet does: SIGTERM from `stop()` (the `with` block's end,
    also on Ctrl-C, which reaches it directly as well), and PR_SET_PDEATHSIG
    when the thread that started it dies, however the parent ends."""

    def __init__(self, db_path: Path, rest_url: str, component: str, log_path: Path) -> None:
        self.db_path = db_path
        self.db_url = f"sqlite:///{db_path}"
        self.rest_url = rest_url
        self.component = component
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.synced_at: int | None = None   # the block the mirror had caught up with when read

    def command(self) -> list[str]:
        return [sys.executable, "-m", "sawgrid.clients.cli", "--url", self.rest_url, "sync",
                "--component", self.component, "--db", self.db_url, "--log-interval", "1"]

    def __enter__(self) -> "MirrorSync":
        from sawgrid.devnet.server import die_with_parent

        for suffix in ("", "-wal", "-shm", "-journal"):   # a rerun mirrors its own chain from genesis
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        self.log_path.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent())
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 15) -> int:
        from sawgrid.devnet.server import stop_child

        return stop_child(self.proc, timeout=timeout)

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise SawgridError(f"the ledger sync exited with code {self.proc.returncode}; log: {self.log_path}")

    def wait_synced(self, timeout: float = SYNC_CATCH_UP) -> int:
        """Until the mirror's newest block is the chain's head; its number."""
        from sqlalchemy import select
        from sqlalchemy.exc import DBAPIError

        from sawgrid.clients.sdk.rest import RestClient
        from sawgrid.clients.sync import models as m
        from sawgrid.clients.sync.database import make_engine

        rest = RestClient(self.rest_url)
        engine = make_engine(self.db_url)
        deadline = time.monotonic() + timeout
        mirror = None
        try:
            while True:
                newest = next(iter(rest.blocks(limit=1)))
                chain = (int(newest["header"]["block_num"]), newest["header_signature"])
                try:
                    with engine.connect() as conn:
                        mirror = conn.execute(select(m.Block.block_num, m.Block.block_id)
                                              .order_by(m.Block.block_num.desc()).limit(1)).first()
                except DBAPIError:   # the schema is not created yet
                    mirror = None
                if mirror is not None and tuple(mirror) == chain:
                    self.synced_at = chain[0]
                    return chain[0]
                self._check_alive()
                if time.monotonic() > deadline:
                    raise SawgridError(f"the ledger mirror did not catch up with the chain within {timeout:.0f} s "
                                       f"(mirror at block {mirror[0] if mirror else 'none'}, chain at {chain[0]}); "
                                       f"log: {self.log_path}")
                time.sleep(0.2)
        finally:
            engine.dispose()

    def rows(self, days: list[int]) -> dict[int, list]:
        """The mirror's contracts of `days` (each in its newest version), once it has caught up."""
        from sqlalchemy import and_, func, select
        from sqlalchemy.orm import Session

        from sawgrid.clients.sync import models as m
        from sawgrid.clients.sync.database import make_engine

        self.wait_synced()
        engine = make_engine(self.db_url)
        try:
            wanted = m.Contract.day.in_(days)
            newest = (select(m.Contract.contract_id, func.max(m.Contract.start_block).label("start_block"))
                      .where(wanted).group_by(m.Contract.contract_id).subquery())
            query = select(m.Contract).join(newest, and_(m.Contract.contract_id == newest.c.contract_id,
                                                         m.Contract.start_block == newest.c.start_block))
            out: dict[int, list] = {day: [] for day in days}
            with Session(engine) as session:
                for row in session.execute(query).scalars():
                    out[row.day].append(row)
                session.expunge_all()
            return out
        finally:
            engine.dispose()


def _terminated(signum, frame) -> None:
    """SIGTERM ends the run as Ctrl-C does: the `with` blocks stop the sync and
    devnet, and the throw-away ledger is removed."""
    raise SystemExit(128 + signum)


def _run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from sawgrid.clients.sdk import keys
    from sawgrid.clients.simulation.report import summary, write_report
    from sawgrid.clients.simulation.replay import ReplayClock
    from sawgrid.clients.simulation.runner import SimConfig, Simulation, private_key_for, signer_for, start_time

    if args.participants < 1:
        raise SawgridError(f"--participants: at least 1, got {args.participants}")
    if args.days < MIN_DAYS:
        raise SawgridError(f"--days: at least {MIN_DAYS}, got {args.days} (the PAR engine recommends from day 3 "
                           f"on, after two days of history, so shorter runs compare nothing)")
    if not args.url_given and os.environ.get("SAWGRID_URL"):
        LOG.info("ignoring $SAWGRID_URL: simulate runs on its own devnet unless --url is given on the command line")
    if args.malicious_sellers < 0 or args.malicious_buyers < 0:
        raise SawgridError("--malicious-sellers and --malicious-buyers must not be negative")
    malicious = args.malicious_sellers or args.malicious_buyers
    if malicious and args.url_given:
        raise SawgridError("--malicious-sellers/--malicious-buyers need settlement, which needs a chain clock the run "
                           "can move (--fast, or its own devnet); a network's clock (--url) cannot replay past days")
    config = SimConfig(seed=args.seed, algorithm=args.algorithm, flexibility=args.flexibility,
                       threshold=args.threshold, malicious_sellers=args.malicious_sellers,
                       malicious_buyers=args.malicious_buyers, settlement=not args.url_given,
                       enrollment=not args.url_given, baseline=not args.no_baseline)
    dataset = _dataset(args)
    attack = f"-ms{args.malicious_sellers}-mb{args.malicious_buyers}" if malicious else ""
    out = args.out or DEFAULT_OUT / f"seed{args.seed}-n{dataset.n}-d{dataset.days()}{attack}{'-fast' if args.fast else ''}"
    progress = None  # on stderr, with --json too: stdout carries only the JSON
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    if args.fast:
        from sawgrid.clients.sdk.ledger import InProcessClient

        # The chain's state on disk, not in a dict (processors/disk_state.py): a
        # town's week is millions of records. Thrown away at the end.
        clock = ReplayClock(start_time(dataset))
        with InProcessClient.on_disk(clock=clock, prefix="sawgrid-simulate-fast-") as client:
            sim = Simulation(dataset, config, client, signer_for(args.seed, "operator"),
                             signed=False, mode="fast", progress=progress, clock=clock)
            result = sim.run()
    elif args.url_given:
        from sawgrid.clients.sdk.rest import RestClient

        operator = keys.load_signer(args.key or "operator", args.key_dir)
        sim = Simulation(dataset, config, RestClient(args.url), operator, signed=True,
                         mode=f"network {args.url}", progress=progress)
        result = sim.run()
    else:
        from sawgrid.clients.sdk.rest import RestClient
        from sawgrid.clients.sdk.devnet_process import DevnetProcess

        kept = out / "chain"
        if kept.exists():  # a previous --keep-chain run's ledger: a rerun starts afresh
            shutil.rmtree(kept)
        # The throw-away ledger (hundreds of MB for a week) lives outside the
        # results unless --keep-chain asks for it, and is removed at the end.
        chain = kept if args.keep_chain else Path(tempfile.mkdtemp(prefix="sawgrid-simulate-"))
        keys.save("operator", private_key_for(args.seed, "operator"), out / "keys", force=True)
        try:
            chain.mkdir(parents=True, exist_ok=True)
            # devnet stamps its blocks with the replay's clock (devnet --clock-file): settlement's chain time
            clock = ReplayClock(start_time(dataset), chain / "clock")
            out.mkdir(parents=True, exist_ok=True)
            with DevnetProcess(data_dir=chain / "data", key_dir=out / "keys", log_path=out / "devnet.log",
                               extra=("--clock-file", str(chain / "clock"))) as net, \
                    MirrorSync(out / MIRROR_FILE, net.url, net.component, out / SYNC_LOG) as mirror:
                sim = Simulation(dataset, config, RestClient(net.url), signer_for(args.seed, "operator"),
                                 signed=True, mode="full stack (devnet)", progress=progress, clock=clock,
                                 mirror=mirror.rows)
                result = sim.run()
                result.extra["mirror"] = {"file": MIRROR_FILE, "block": mirror.synced_at, "log": SYNC_LOG}
        finally:
            if not args.keep_chain:
                shutil.rmtree(chain, ignore_errors=True)
    result.save(out)
    path = write_report(result, out)
    doc = summary(result)
    if args.json:
        print(json.dumps({**doc, "report": str(path), "folder": str(out)}, indent=2))
    else:
        h = doc["headline"]
        print(f"PAR (avg/max), mean of {dataset.days()} days: without {h['par_without']:.3f}, "
              f"with {h['par_with']:.3f} ({h['par_change_pct']:+.1f} %; paper: +15 %)")
        print(f"net cost at market prices: without {h['cost_without_market_eur']:.2f} EUR, with "
              f"{h['cost_with_market_eur']:.2f} EUR ({h['cost_change_pct_market']:+.1f} %; paper: -6.5 %)")
        rep = doc.get("reputation")
        if rep and rep.get("attack"):
            a = rep["attack"]
            print(f"reputation: {a['declined']} contract(s) declined; vs the baseline without reputation it kept "
                  f"{a['money_kept_eur']:.2f} EUR and {a['energy_kept_kwh']:.3f} kWh from being lost")
        print(f"report: {path}")
        if (out / MIRROR_FILE).exists():   # full stack: the run's ledger mirror, for the web dashboard
            print(f"dashboard: sawgrid dashboard --db sqlite:///{(out / MIRROR_FILE).resolve()}")
    return 0


def add_parser(subparsers) -> None:
    p = command(subparsers, "simulate", _run, "run the paper's one-week experiment and write a report",
                "Simulate a week of trading by N smart-meter clients in two scenarios (without and with "
                "the PAR engine's recommendations), through a fresh devnet with Sawgrid's processors "
                "(default), an existing network (--url, only when typed on the command line; $SAWGRID_URL is ignored here) or the handlers in process (--fast). "
                "Every contract is settled against the meters (readings after each hour, attestations by "
                "its validation cluster, expire after the deadline); --malicious-sellers/--malicious-buyers "
                "add the paper's two attacks and a baseline run without reputation to compare with "
                "(it doubles the run time; --no-baseline skips it). Writes a "
                "report (markdown, PNG plots, statistics, costs, settlement) into --out.",
                "sawgrid simulate                         # 103 participants, 7 days, seed 0\n"
                "  sawgrid simulate --fast --participants 1000 --json\n"
                "  sawgrid simulate --fast --malicious-sellers 2 --malicious-buyers 2\n"
                "  sawgrid simulate --csv meters/ --paper-preparation")
    p.add_argument("--participants", type=int, default=103, help="number of participants (default: 103)")
    p.add_argument("--days", type=int, default=7, help="simulated days (default: 7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data and the keys (default: 0)")
    p.add_argument("--csv", type=Path, help="meter data in the paper's 15-minute CSV format (file or folder)")
    p.add_argument("--paper-preparation", action="store_true",
                   help="with --csv: the paper's preparation (one source at 35 %%, winter weeks, 103 participants)")
    p.add_argument("--fast", action="store_true", help="run the same handlers in process (no devnet, no signatures)")
    p.add_argument("--out", type=Path, help="results folder (default: results/seedS-nN-dD)")
    p.add_argument("--keep-chain", action="store_true",
                   help="keep the run's devnet ledger in OUT/chain (default: a temporary folder, removed at the end)")
    p.add_argument("--algorithm", choices=["optimal", "astar"], default="optimal",
                   help="the PAR engine's algorithm (default: optimal, which is deterministic)")
    p.add_argument("--flexibility", type=float, default=0.5, help="share of each hour a recommendation may move")
    p.add_argument("--threshold", default="0.85", help="PAR at or above which no penalties (default: 0.85)")
    p.add_argument("--malicious-sellers", type=int, default=0, metavar="N",
                   help="the N participants with the most surplus sell but never deliver (their meters read 0 Wh)")
    p.add_argument("--malicious-buyers", type=int, default=0, metavar="N",
                   help="N of the others with the largest shortfall buy on credit whenever allowed and never pay")
    p.add_argument("--no-baseline", action="store_true",
                   help="with malicious participants, skip the second run with eligibility disabled that the "
                        "report compares against")
