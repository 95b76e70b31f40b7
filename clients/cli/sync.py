"""`sawgrid sync` (the ledger's SQL mirror) and `sawgrid statement` (read from it)."""
from __future__ import annotations

import argparse
import logging
import signal
from pathlib import Path

from sawgrid.clients.cli.support import EUR_PLACES, command, format_table
from sawgrid.clients.sdk.errors import SawgridError

DEFAULT_DB = "sqlite:///sawgrid-mirror.db"
DEFAULT_COMPONENT = "tcp://127.0.0.1:4004"
LOG = logging.getLogger("sawgrid.sync")


def add_parsers(subparsers) -> None:
    p = command(
        subparsers, "sync", _sync, "mirror the ledger into an SQL database (SQLite or PostgreSQL)",
        "Subscribe to the validator's event stream (block commits and Sawgrid's state changes) and "
        "write a relational mirror: blocks, every Sawgrid state record as JSON (state_entries) and "
        "typed tables (participants, wallets, orders, contracts, penalties, recommendations, "
        "reputation). Each block is written in one transaction; after a restart the sync catches up "
        "from the blocks the database holds, a fork is rolled back to the common block, and while "
        "the database or the validator is down it waits and retries. The schema is created or "
        "upgraded on start. Logs one line per --log-interval: the mirror's block and how far it "
        "is behind the chain head (from --url's REST API). Stops on SIGINT/SIGTERM (exit 0).",
        "sawgrid sync --url http://127.0.0.1:8008 --component tcp://127.0.0.1:4004 --db sqlite:///mirror.db\n"
        "  sawgrid sync --component tcp://validator-0:4004 --db postgresql://sawgrid:secret@db:5432/sawgrid",
    )
    _db_option(p)
    p.add_argument("--component", default=DEFAULT_COMPONENT, metavar="tcp://HOST:PORT",
                   help="the validator's component endpoint, where events are served (default: %(default)s)")
    p.add_argument("--log-interval", type=_positive, default=10.0, metavar="SECONDS",
                   help="seconds between lag lines (default: %(default)s)")
    p.add_argument("--test-pause-in-block", type=_positive, default=None, help=argparse.SUPPRESS)

    p = command(
        subparsers, "statement", _statement, "a participant's statement, from the SQL mirror",
        "Energy bought and sold, what was spent and earned, the wire fees and penalty surcharges "
        "paid, and the net, per delivery day and in total, as the mirror written by `sawgrid sync` "
        "has them. Settled and declined contracts count with the amounts settled; contracts still "
        "in settlement are listed as pending. --key names the participant: a key name in the key "
        "directory or a public key in hex.",
        "sawgrid statement --key alice --from 2026-03-01 --to 2026-03-07 --db sqlite:///mirror.db",
    )
    _db_option(p)
    p.add_argument("--from", dest="from_day", metavar="YYYY-MM-DD", help="first delivery day (default: the first)")
    p.add_argument("--to", dest="to_day", metavar="YYYY-MM-DD", help="last delivery day (default: the last)")


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, metavar="URL",
                        help="the mirror: sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME "
                        "(default: %(default)s)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


def _checked_db(text: str, exists: bool = False) -> str:
    """--db as a URL; an SQLite file's folder must exist (and with `exists`, the file)."""
    from sawgrid.clients.sync.database import database_url

    url = database_url(text)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database).expanduser().resolve()
        if not path.parent.is_dir():
            raise SawgridError(f"--db: folder {path.parent} does not exist")
        if exists and not path.is_file():
            raise SawgridError(f"--db: no mirror at {path} (write one with `sawgrid sync --db ...`)")
    return url.render_as_string(hide_password=False)


def _sync(args: argparse.Namespace) -> int:
    from sawgrid.clients.sync.service import SyncConfig, SyncService

    if not args.component.startswith(("tcp://", "ipc://")):
        raise SawgridError(f"--component: expected tcp://HOST:PORT, got {args.component!r}")
    config = SyncConfig(db_url=_checked_db(args.db), component=args.component, rest_url=args.url,
                        log_interval=args.log_interval, pause_in_block=args.test_pause_in_block)
    try:
        service = SyncService(config)
    except ValueError as err:
        raise SawgridError(f"--url: {err}") from None
    stop = service.stop
    received: list[int] = []

    def on_signal(signum, frame) -> None:
        received.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)   # the loop notices within half a second and exits 0
    service.run()
    if received:
        LOG.info("sync stopped (%s)", signal.Signals(received[0]).name)
    return 0


def _statement(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import DBAPIError

    from sawgrid.clients.cli.support import Session
    from sawgrid.clients.sdk import market
    from sawgrid.clients.sync import statement
    from sawgrid.clients.sync.database import make_engine, schema_revision

    s = Session(args)
    public_key = s.public_key_arg(args.key)
    from_day = None if args.from_day is None else market.parse_day(args.from_day, "--from")
    to_day = None if args.to_day is None else market.parse_day(args.to_day, "--to")
    if from_day is not None and to_day is not None and from_day > to_day:
        raise SawgridError(f"--from {args.from_day} is after --to {args.to_day}")
    url = _checked_db(args.db, exists=True)
    engine = make_engine(url)
    try:
        if schema_revision(engine) is None:
            raise SawgridError(f"--db: {args.db} is not a Sawgrid mirror (run `sawgrid sync --db ...` first)")
        st = statement.read(engine, public_key, from_day, to_day)
    except DBAPIError as err:
        raise SawgridError(f"--db: cannot read the mirror: {str(err.orig).strip().splitlines()[0]}") from None
    finally:
        engine.dispose()
    return s.emit(_statement_json(st), lambda: _statement_text(st))


def _statement_json(st) -> dict:
    from sawgrid.clients.sdk import market

    return {
        "public_key": st.public_key,
        "from": None if st.from_day is None else market.day_text(st.from_day),
        "to": None if st.to_day is None else market.day_text(st.to_day),
        "block_num": st.block_num,
        "units": {"energy": "Wh", "money": "µEUR"},
        "days": [{"day": market.day_text(day), **t.as_json()} for day, t in sorted(st.days.items())],
        "total": st.total.as_json(),
        "pending": [{"contract_id": p.contract_id, "day": market.day_text(p.day), "hour": p.hour,
                     "side": p.side, "energy": p.energy, "total": p.total, "stage": p.stage,
                     "escrow": p.escrow} for p in st.pending],
    }


def _statement_text(st) -> str:
    from sawgrid.clients.sdk import market

    def eur(value: int) -> str:
        sign = "-" if value < 0 else ""
        return sign + market.format_eur(abs(value), unit=False, places=EUR_PLACES)

    def row(label: str, t) -> list[str]:
        return [label, str(t.contracts), market.format_kwh(t.bought_wh, unit=False),
                market.format_kwh(t.sold_wh, unit=False), eur(t.spent), eur(t.earned), eur(t.fees),
                eur(t.penalties), eur(t.net)]

    head = "empty mirror" if st.block_num is None else f"mirror at block {st.block_num}"
    lines = [f"statement of {st.public_key} ({head})"]
    if not st.days and not st.pending:
        lines.append("no contracts")
        return "\n".join(lines)
    rows = [row(market.day_text(day), t) for day, t in sorted(st.days.items())]
    rows.append(row("total", st.total))
    lines.append(format_table(["day", "contracts", "bought kWh", "sold kWh", "spent EUR", "earned EUR",
                               "fees EUR", "penalties EUR", "net EUR"], rows, "lrrrrrrrr"))
    if st.pending:
        lines.append(f"\npending ({len(st.pending)}: in settlement, not counted above)")
        lines.append(format_table(
            ["contract", "day", "hour", "side", "kWh", "total EUR", "stage", "escrow EUR"],
            [[p.contract_id, market.day_text(p.day), str(p.hour), p.side, market.format_kwh(p.energy, unit=False),
              eur(p.total), p.stage, eur(p.escrow)] for p in st.pending], "llrlrrlr"))
    return "\n".join(lines)
