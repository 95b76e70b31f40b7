"""`sawgrid meter`: a household's smart-meter agent, long-running (clients/meter)."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import threading
from pathlib import Path

from sawgrid.clients.cli.support import Session, command, key_name
from sawgrid.clients.sdk.errors import SawgridError

LOG = logging.getLogger("sawgrid.meter")
SYNTHETIC_START = "2024-02-12"   # the synthetic generator's default first day (simulate's)


def _index(text: str, what: str) -> int:
    if not text.isdigit():
        raise SawgridError(f"--source: {what} must be a whole number, got {text!r}")
    return int(text)


def _loaders(args: argparse.Namespace) -> dict:
    """csv: and synthetic: sources, from the experiment's data module (a layer above the meter)."""
    from sawgrid.clients.meter.sources import ArraySource
    from sawgrid.processors.market.units import day_number

    def synthetic(rest: str) -> ArraySource:
        from sawgrid.clients.simulation import data

        seed, _, index = rest.partition(":")
        seed, index = _index(seed, "SEED"), _index(index, "INDEX")
        if index >= args.participants:
            raise SawgridError(f"--source synthetic:{rest}: INDEX must be below --participants {args.participants}")
        start = dt.date.fromisoformat(args.start)
        dataset = data.synthetic(n=args.participants, days=args.days, seed=seed, start=start)
        return ArraySource(f"synthetic:{rest} ({dataset.participants[index].name})", dataset.consumption[index],
                           dataset.production[index], day_number(start), repeat=True)

    def csv(rest: str) -> ArraySource:
        from sawgrid.clients.simulation import data

        dataset = data.load_csv(Path(rest))
        try:
            index = dataset.participant_index(args.participant) if args.participant else 0
        except KeyError:
            raise SawgridError(f"--participant: no meter called {args.participant!r} in {rest}") from None
        return ArraySource(f"csv:{rest} ({dataset.participants[index].name})", dataset.consumption[index],
                           dataset.production[index], day_number(dataset.start), repeat=True)

    return {"synthetic": synthetic, "csv": csv}


def _turn(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    rank, _, of = text.partition("/")
    if not (rank.isdigit() and of.isdigit()) or not int(rank) < int(of):
        raise SawgridError(f"--turn: expected R/N with 0 <= R < N, e.g. 3/10, got {text!r}")
    return int(rank), int(of)


def _run(args: argparse.Namespace) -> int:
    from sawgrid.clients.meter.agent import AgentConfig, MeterAgent
    from sawgrid.clients.meter.household import Household
    from sawgrid.clients.meter.sources import parse_source
    from sawgrid.clients.meter.state import AgentState

    for option, value in (("--poll", args.poll), ("--turn-timeout", args.turn_timeout)):
        if value <= 0:
            raise SawgridError(f"{option}: must be positive, got {value:g}")
    if args.participants < 1 or not 1 <= args.days <= 366:
        raise SawgridError("--participants must be at least 1 and --days within 1..366")
    config = AgentConfig(name=args.name or "", turn=_turn(args.turn), turn_timeout=args.turn_timeout,
                         poll=args.poll, volunteer=args.volunteer)
    session = Session(args)
    source = parse_source(args.source, _loaders(args))
    public_key = session.public_key
    from sawgrid.clients.sdk import keys

    key_dir = Path(args.key_dir) if args.key_dir else keys.default_key_dir()
    state_path = args.state or key_dir / f"{Path(key_name(args)).stem}.meter.json"
    state = AgentState(state_path, public_key)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    from sawgrid.clients.sdk.rest import RestClient

    agent = MeterAgent(session.rest, session.signer, Household(public_key, source), state, config, stop,
                       settle_rest=RestClient(session.rest.url))   # settlement's own connection (its thread)
    LOG.info("meter %s: source %s, REST %s, state %s%s", public_key[:10], source.name, session.rest.url, state_path,
             f", turn {args.turn}" if args.turn else "")
    code = agent.run(once=args.once)
    LOG.info("meter %s: stopped", public_key[:10])
    if code and args.once:
        raise SawgridError("the cycle did not finish (see the log line above); run it again")
    return code


def add_parser(subparsers) -> None:
    p = command(subparsers, "meter", _run, "run a household's smart-meter agent (long-running)",
                "Trade one household's coming days on its own: before each day's gate (once the day's "
                "penalties are issued) read the day's grid prices and the PAR engine's recommendation and "
                "place the day-ahead offers and orders the paper's rules give; after each delivery hour, "
                "submit the meter's reading, and attest the contracts whose validation cluster the key sits "
                "in. Time is the chain's: on a simulated market clock the meter follows the hours the clock "
                "closes. Progress is kept in --state, so a restart never places an order twice; SIGTERM stops "
                "it cleanly. SOURCE is csv:FILE (the paper's 15-minute CSV), synthetic:SEED:INDEX (household "
                "INDEX of `sawgrid simulate --participants N --days D --seed SEED`), cmd:PROGRAM (answers "
                "'plan DATE' and 'read DATE HOUR' in JSON) or an http(s):// endpoint (GET URL/plan/DATE, "
                "URL/reading/DATE/HOUR); csv and synthetic data repeat after their last day.",
                "sawgrid --key alice meter --source synthetic:0:7 --url http://127.0.0.1:8008\n"
                "  sawgrid --key bob meter --source csv:meters/bob.csv --once      # one cycle, for cron\n"
                "  sawgrid --key carol meter --source 'cmd:/usr/local/bin/read-meter --port /dev/ttyUSB0'",
                uses_key=True)
    p.add_argument("--source", required=True, metavar="SOURCE", help="where the meter's numbers come from (above)")
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="progress file (default: KEY_DIR/KEY.meter.json)")
    p.add_argument("--name", help="display name to register under (default: meter-<key start>)")
    p.add_argument("--once", action="store_true", help="run one cycle and exit (for cron)")
    p.add_argument("--poll", type=float, default=1.0, metavar="S", help="seconds between cycles (default: 1)")
    p.add_argument("--volunteer", action="store_true", help="join the validator pool (attest others' contracts)")
    p.add_argument("--turn", metavar="R/N", help="take turn R (0-based) of N meters at each day-ahead gate, so "
                   "that a day's contracts do not depend on which meter is quickest (see clients/meter/agent.py)")
    p.add_argument("--turn-timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the meters before this one's turn (default: 30)")
    p.add_argument("--participants", type=int, default=103, metavar="N",
                   help="synthetic: the size of the generated microgrid (default: 103, as simulate's)")
    p.add_argument("--days", type=int, default=7, metavar="D",
                   help="synthetic: days generated before they repeat (default: 7)")
    p.add_argument("--start", default=SYNTHETIC_START, metavar="YYYY-MM-DD",
                   help=f"synthetic: the first generated day (default: {SYNTHETIC_START})")
    p.add_argument("--participant", metavar="NAME", help="csv: which meter of the file (default: the first)")
