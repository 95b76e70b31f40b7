"""`sawgrid operator clock`: the market clock (clients/clock)."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from sawgrid.clients.cli.support import Session, add_global_options, command, group
from sawgrid.clients.sdk.errors import SawgridError

LOG = logging.getLogger("sawgrid.clock")
OPERATOR_KEY = "operator"


def _run(args: argparse.Namespace) -> int:
    from sawgrid.clients.clock.market_clock import ClockConfig, MarketClock
    from sawgrid.clients.clock.timebase import SimTime, parse_clock
    from sawgrid.clients.sdk import keys, market, reputation
    from sawgrid.par_engine.engine import Engine, EngineConfig

    if args.clock_file and not args.clock.startswith("sim:"):
        raise SawgridError("--clock-file needs a simulated clock (--clock sim:START:SPEED)")
    session = Session(args)
    signer = keys.load_signer(args.key or OPERATOR_KEY, args.key_dir)
    timebase = parse_clock(args.clock, args.clock_file)     # a bad --clock is refused before anything else
    if isinstance(timebase, SimTime):   # a restarted simulated clock goes on from where the chain is
        timebase = parse_clock(args.clock, args.clock_file, reputation.chain_time(session.rest) or 0)
    prices = None
    if args.grid_buy is not None or args.grid_sell is not None:
        if args.grid_buy is None or args.grid_sell is None:
            raise SawgridError("--grid-buy and --grid-sell go together")
        prices = (market.parse_hourly_prices(args.grid_buy, "--grid-buy"),
                  market.parse_hourly_prices(args.grid_sell, "--grid-sell"))
    config = ClockConfig(issue_from=market.parse_day(args.issue_from, "--issue-from") if args.issue_from else None,
                         grid_prices=prices, gate_lead=round(args.gate_lead * 3600), poll=args.poll)
    engine = Engine(session.rest, signer, EngineConfig(algorithm=args.algorithm))
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    clock = MarketClock(session.rest, signer, engine, timebase, config, args.state, stop)
    LOG.info("market clock: %s, REST %s%s", timebase.description, session.rest.url,
             f", state {args.state}" if args.state else "")
    if isinstance(timebase, SimTime) and args.clock_file is None:
        LOG.warning("simulated clock without --clock-file: the chain keeps its own time")
    clock.run()
    LOG.info("market clock: stopped")
    return 0


def _operator_group(subparsers) -> argparse._SubParsersAction:
    """The `operator` group the market's CLI builds (or a new one)."""
    parser = subparsers.choices.get("operator")
    if parser is None:
        return group(subparsers, "operator", "operator actions")
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def add_parsers(subparsers) -> None:
    p = command(_operator_group(subparsers), "clock", _run, "the market clock: close hours on time, end days",
                "At each delivery day's gate closure (--gate-lead hours before it starts) close each of its 24 "
                "delivery hours, then publish the next day's grid prices (with --grid-buy/--grid-sell, for days "
                "that have none) and run the PAR engine on the closed day: settlement duties, the next day's "
                "penalties and recommendations (which open it for the meters' day-ahead orders), the archive. On real "
                "time (UTC), or on a simulated clock --clock sim:START:SPEED shared with the meters through the "
                "chain (with devnet's --clock-file). Runs until SIGTERM; --state keeps the next gate, so a "
                "restart neither skips nor repeats an hour.",
                "sawgrid --key operator operator clock --grid-buy 0.10 --grid-sell 0.30\n"
                "  sawgrid operator clock --clock sim:2024-02-11T23:00:00:600 --clock-file chain/clock",
                uses_key=True)
    p.add_argument("--clock", default="real", metavar="real|sim:START:SPEED",
                   help="real time (default) or simulated from START (ISO date-time, UTC) at SPEED x")
    p.add_argument("--clock-file", type=Path, metavar="FILE",
                   help="devnet's --clock-file: where the simulated time goes (devnet stamps blocks with it)")
    p.add_argument("--state", type=Path, metavar="FILE", help="progress file (the next gate)")
    p.add_argument("--gate-lead", type=float, default=12.0, metavar="HOURS",
                   help="how long before a delivery day starts its gate closes (default: 12, noon the day before)")
    p.add_argument("--issue-from", metavar="YYYY-MM-DD",
                   help="first day the PAR engine issues; earlier days trade without penalties or recommendations")
    p.add_argument("--grid-buy", metavar="EUR/KWH", help="grid buying price(s) to publish for days without prices")
    p.add_argument("--grid-sell", metavar="EUR/KWH", help="grid selling price(s) to publish for days without prices")
    p.add_argument("--algorithm", default="optimal", choices=["optimal", "astar"], help="the PAR engine's")
    p.add_argument("--poll", type=float, default=0.2, metavar="S", help="seconds between looks at the time")
    add_global_options(p, defaults=False)
