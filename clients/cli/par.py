"""`sawgrid par run | serve`: the PAR engine from the command line."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from sawgrid.clients.sdk import keys
from sawgrid.clients.cli.support import Session, command, group, host_port, refusal, with_global_options
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.market import parse_day
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.par_engine.recommend import ALGORITHMS
from sawgrid.processors.market.units import NO_PENALTY

OPERATOR_KEY = "operator"
DEFAULT_API = ("127.0.0.1", 8090)
LOG = logging.getLogger("sawgrid.par_engine")


def _engine(args: argparse.Namespace):
    from sawgrid.par_engine.engine import Engine, EngineConfig

    overrides = dict(algorithm=args.algorithm, threshold=args.threshold, flexibility=args.flexibility,
                     time_budget=args.time_budget, cron=getattr(args, "cron", None))
    if args.config:
        config = EngineConfig.from_toml(args.config, **overrides)
    else:
        config = EngineConfig(**{k: v for k, v in overrides.items() if v is not None})
    session = Session(args)
    signer = keys.load_signer(args.key or OPERATOR_KEY, args.key_dir)
    return Engine(session.rest, signer, config)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _report_text(report) -> str:
    penalised = [(h, p) for h, p in enumerate(report.penalties) if p != NO_PENALTY]
    head = f"{report.status}: {report.target_day} from the trades of {report.day}"
    if not any(report.totals_wh):
        # No purchases: PAR and V(S) of an empty day are no measurement.
        return "\n".join([f"{head} (no trades)", "no trades that day: no penalties, no recommendations",
                          f"took {report.seconds:.2f} s"])
    lines = [
        f"{head} ({_plural(report.participants, 'buyer')})",
        f"PAR (avg/max) {report.par:.3f}   max/avg {report.peak_to_average:.3f}   "
        f"V(S) {report.balance:.1f} (load balance, 100 = flat)",
        "penalties: " + (", ".join(f"{h:02d}h x{p / NO_PENALTY:.3f}" for h, p in penalised) if penalised else "none"),
    ]
    if report.recommended_par is not None:
        line = f"recommended schedules ({report.algorithm}): PAR {report.recommended_par:.3f}"
        if report.optimal_par is not None:
            line += f", optimum {report.optimal_par:.3f}, peak {100 * report.gap_to_optimal:+.1f}% vs optimal"
        lines.append(line)
    lines.append(f"took {report.seconds:.2f} s")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        report = engine.run(parse_day(args.day), dry_run=args.dry_run)
    except BatchInvalid as err:  # e.g. a key that is not an operator: one line, like every refusal
        raise SawgridError(refusal(err, raw=args.json)) from None
    return Session(args).emit(report.to_json(), lambda: _report_text(report))


def _serve(args: argparse.Namespace) -> int:
    from sawgrid.par_engine.cron import Cron, CronError
    from sawgrid.par_engine.service import ApiServer, create_app, serve

    engine = _engine(args)
    try:
        cron = Cron.parse(engine.config.cron)
    except CronError as err:
        raise SawgridError(f"cron: {err}") from None
    host, port = args.api
    try:
        api = ApiServer(create_app(engine), host, port).start()
    except OSError as err:
        raise SawgridError(f"cannot serve the API on {host}:{port}: {err.strerror}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    LOG.info("PAR engine: API %s, cron %r, REST %s", api.url, cron.expression, engine.rest.url)
    try:
        serve(engine, cron, stop)
    finally:
        api.stop()
    return 0


def _engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with a [par] table (threshold, algorithm, "
                        "flexibility, time_budget, cron); options given here win")
    parser.add_argument("--algorithm", choices=list(ALGORITHMS), help="recommendation algorithm (default: optimal)")
    parser.add_argument("--threshold", help="PAR (avg/max) at or above which nothing is penalised (default: 0.85)")
    parser.add_argument("--flexibility", type=float,
                        help="share of each hour's purchase a recommendation may move (default: 0.5)")
    parser.add_argument("--time-budget", type=float, help="seconds for the astar search (default: 2)")


def add_parsers(subparsers) -> None:
    commands = group(subparsers, "par", "the PAR engine: penalties and recommended schedules")
    p = command(commands, "run", _run, "issue the next day's penalties and recommendations once",
                "Read the trades of --day, measure its PAR, and write the penalties and recommended "
                "purchase schedules for the following day as one batch signed by an operator key "
                "(--key, default 'operator'). A day that is already issued is reported, not issued again.",
                "sawgrid par run --day 2026-01-05            # issues 2026-01-06\n"
                "  sawgrid par run --day 2026-01-05 --algorithm astar --dry-run --json")
    p.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the day whose trades are read")
    p.add_argument("--dry-run", action="store_true", help="compute and print, write nothing")
    _engine_options(p)
    p = command(commands, "serve", _serve, "run the engine on a cron schedule, with a read-only API",
                "Run the engine at every time the cron expression names (UTC; each run issues tomorrow "
                "from today's trades) and serve a read-only JSON API: /health, /runs/last, /par/DAY, "
                "/penalties/DAY, /recommendations/DAY/PUBKEY.",
                "sawgrid par serve --cron '0 23 * * *' --api 127.0.0.1:8090")
    p.add_argument("--cron", help="five-field cron expression, UTC (default: '0 23 * * *' or the config's)")
    p.add_argument("--api", type=host_port, default=DEFAULT_API, metavar="HOST:PORT",
                   help="where the read-only API listens (default: 127.0.0.1:8090)")
    _engine_options(p)
    with_global_options(commands)
