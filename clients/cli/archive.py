"""`sawgrid archive day|prune|verify|show|config`: the archive from the command line.

    sawgrid --key operator archive day --day 2026-01-05      # archive a finished day
    sawgrid --key operator archive prune --day 2025-12-20    # delete an old archived day's records
    sawgrid archive verify --day 2026-01-05 --url http://node:8008 [--json]
    sawgrid archive show --day 2026-01-05 [--json]
    sawgrid archive config [--retention-days N]

`show` reads the SQL mirror that `sawgrid sync` writes (--db, as `sawgrid
statement` does), or with --chain the REST API's state; the record is the
same either way. `verify` always reads the chain: it exits 0 only when the
chain's history gives the record's numbers and digests, and 1 with a
one-line reason otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys

from sawgrid.clients.cli.sync import DEFAULT_DB
from sawgrid.clients.cli.support import (
    EUR_PLACES, Session, command, format_table, group, refusal, with_global_options,
)
from sawgrid.clients.sdk import archive, market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.protos import archive_pb2 as pb

PPM = 1_000_000


def _submit(s: Session, payload: pb.ArchivePayload) -> list[str]:
    try:
        return archive.submit(s.rest, s.signer, payload)
    except BatchInvalid as err:
        raise SawgridError(refusal(err, raw=s.args.json)) from None


def _summary(r: pb.DayArchive) -> list[tuple[str, str]]:
    previous = (f"{market.day_text(r.previous_day)} ({r.previous_digest[:16]}…)" if r.previous_digest
                else "none (first archived day)")
    penalised = [f"{h:02d}h {market.format_multiplier(p)}" for h, p in enumerate(r.penalties) if p != 1000]
    return [
        ("day", market.day_text(r.day)),
        ("contracts", f"{r.contracts} ({r.settled} settled, {r.declined} declined), "
                      f"{market.format_kwh(r.contracted_wh)} contracted, {market.format_kwh(sum(r.traded_wh))} delivered"),
        ("load (S)", market.format_kwh(sum(r.load_wh))),
        ("PAR (avg/max)", f"{r.par_ppm / PPM:.6f}"),
        ("penalties", ", ".join(penalised) if penalised else ("none" if r.penalties_set else "none set")),
        ("recommendations", f"{r.recommendations}, followed {r.followed_permille / 10:.1f} %"
                            if r.recommendations else "none"),
        ("digest", r.digest),
        ("contracts digest", r.contracts_digest),
        ("previous", previous),
    ]


def _participants_table(s: Session, r: pb.DayArchive) -> str:
    def eur(v: int) -> str:
        return market.format_eur(v, unit=False, places=EUR_PLACES)

    rows = [(s.label(p.public_key),
             market.format_kwh(p.bought_p2p_wh, unit=False), market.format_kwh(p.bought_grid_wh, unit=False),
             market.format_kwh(p.sold_p2p_wh, unit=False), market.format_kwh(p.sold_grid_wh, unit=False),
             eur(p.paid_base + p.paid_wire_fee + p.paid_surcharge),
             eur(p.received_base + p.received_wire_fee + p.received_surcharge),
             f"{p.followed_permille / 10:.1f}" if p.recommended else "")
            for p in r.participants]
    headers = ("PARTICIPANT", "BOUGHT P2P kWh", "GRID kWh", "SOLD P2P kWh", "GRID kWh", "PAID EUR",
               "RECEIVED EUR", "FOLLOWED %")
    return format_table(headers, rows, align="lrrrrrrr") if rows else "(no participants)"


def _record_text(s: Session, r: pb.DayArchive) -> str:
    return format_table(None, _summary(r)) + "\n" + _participants_table(s, r)


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def _day(args: argparse.Namespace) -> int:
    s = Session(args)
    day = market.parse_day(args.day)
    _submit(s, archive.archive_day(day))
    record = archive.ArchiveReader(s.rest).day(day)
    if record is None:
        raise SawgridError(f"day {market.day_text(day)}: committed, but no archive record is on chain")
    return s.emit(archive.record_json(record), lambda: f"archived {market.day_text(day)}\n" + _record_text(s, record))


def _prune(args: argparse.Namespace) -> int:
    s = Session(args)
    day = market.parse_day(args.day)
    _submit(s, archive.prune_day(day))
    return s.emit({"day": market.day_text(day), "pruned": True},
                  f"pruned {market.day_text(day)}: its books are closed and empty, its contracts, indexes, "
                  f"positions, recommendations, readings and settlements deleted; the archive record stays")


def _verify(args: argparse.Namespace) -> int:
    s = Session(args)
    day = market.parse_day(args.day)
    result = archive.verify_day(s.rest, day)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    elif result.ok:
        where = f" as of block {result.block_num}" if result.block_num is not None else ""
        print(f"{market.day_text(day)}: verified: {result.contracts} contract(s){where} give the archive record "
              f"(digest {result.digest[:16]}…, contracts digest {result.contracts_digest[:16]}…)")
    if not result.ok:
        reason = result.reason if args.json else market.explain(result.reason)
        print(f"sawgrid: error: {market.day_text(day)} does not verify: {reason}", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace) -> int:
    s = Session(args)
    day = market.parse_day(args.day)
    if args.chain:
        record, where = archive.ArchiveReader(s.rest).day(day), "on chain"
    else:
        record, where = _mirror_record(args.db, day), f"in the mirror {args.db}"
    if record is None:
        raise SawgridError(f"{market.day_text(day)} is not archived {where} (an operator archives it with: "
                           f"sawgrid archive day --day {market.day_text(day)})")
    return s.emit(archive.record_json(record), lambda: _record_text(s, record))


def _mirror_record(db: str, day: int) -> pb.DayArchive | None:
    """The day's current DayArchive as the mirror's archive tables hold it
    (clients/sync/models.py: one column per record field)."""
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from pathlib import Path

    from sawgrid.clients.sync import models as m
    from sawgrid.clients.sync.database import database_url, make_engine, schema_revision

    url = database_url(db)
    if url.get_backend_name() == "sqlite" and not Path(url.database).expanduser().exists():
        raise SawgridError(f"--db: no mirror at {url.database} (write one with `sawgrid sync --db ...`, "
                           f"or read the chain with --chain)")
    engine = make_engine(url)
    try:
        if schema_revision(engine) is None:
            raise SawgridError(f"--db: {db} is not a Sawgrid mirror (run `sawgrid sync --db ...` first, "
                               f"or read the chain with --chain)")
        with engine.connect() as conn:
            row = conn.execute(select(m.ArchiveDay).where(m.ArchiveDay.day == day,
                                                          m.ArchiveDay.end_block.is_(None))).first()
            if row is None:
                return None
            people = conn.execute(select(m.ArchiveParticipantDay).where(
                m.ArchiveParticipantDay.day == day, m.ArchiveParticipantDay.end_block.is_(None))
                .order_by(m.ArchiveParticipantDay.public_key)).all()
    except DBAPIError as err:
        raise SawgridError(f"--db: cannot read the mirror: {str(err.orig).strip().splitlines()[0]}") from None
    finally:
        engine.dispose()
    record = pb.DayArchive(**{f.name: getattr(row, f.name) for f in pb.DayArchive.DESCRIPTOR.fields
                              if f.name != "participants"})
    record.participants.extend(
        pb.ParticipantDay(**{f.name: getattr(p, f.name) for f in pb.ParticipantDay.DESCRIPTOR.fields})
        for p in people)
    return record


def _config(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = archive.ArchiveReader(s.rest)
    if args.retention_days is not None:
        _submit(s, archive.configure(args.retention_days))
    retention, head = reader.retention_days(), reader.head()
    doc = archive.head_json(head, retention)
    through = archive.prunable_through(head, retention)
    doc["prunable_through"] = market.day_text(through) if through is not None else None

    def text() -> str:
        rows = [("retention", f"{retention} day(s)"),
                ("newest archived day", market.day_text(head.day) if head else "none"),
                ("archived days", str(head.days if head else 0)),
                ("may be pruned", f"days up to {market.day_text(through)}" if through is not None else "none yet")]
        return format_table(None, rows)

    return s.emit(doc, text)


def add_parsers(subparsers) -> None:
    commands = group(subparsers, "archive", "the archive: day records, their verification, pruning")
    p = command(commands, "day", _day, "archive a finished day (operator)",
                "Archive a delivery day once its 24 hours are closed and every contract is settled or "
                "declined: the processor computes the day's record (energy and money per participant, "
                "hourly totals, PAR, penalties, recommendations and a digest over every contract) and "
                "links it to the previous archived day's digest. Days are archived in increasing order.",
                "sawgrid --key operator archive day --day 2026-01-05", uses_key=True)
    p.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the delivery day")
    p = command(commands, "prune", _prune, "delete an archived day's bulky records (operator)",
                "Delete an archived day's contracts, hour indexes, positions, recommendations, meter "
                "readings and settlements (its books stay, closed and empty). Allowed once the day is "
                "older than the retention, counted back from the newest archived day; the archive "
                "record stays, and the chain's history still holds everything.",
                "sawgrid --key operator archive prune --day 2025-12-20", uses_key=True)
    p.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the archived day")
    p = command(commands, "verify", _verify, "check an archive record against the chain's history",
                "Recompute a day's archive record from the market's records as they were in the block that "
                "archived it (REST /state with head=BLOCK) and compare digests and numbers; also check the "
                "record's own digest and its link to the previous archived day. Exit 0 only if all agree.",
                "sawgrid archive verify --day 2026-01-05 --url http://127.0.0.1:8008 --json")
    p.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the archived day")
    p = command(commands, "show", _show, "show an archived day (from the SQL mirror, or --chain)",
                "Show a day's archive record: totals, PAR, penalties, recommendations, digests, and per "
                "participant the energy bought and sold (P2P and grid) and the money paid and received. "
                "Read from the SQL mirror `sawgrid sync` writes (--db), or with --chain from the REST "
                "API's state.",
                "sawgrid archive show --day 2026-01-05 --db sqlite:///mirror.db --json\n"
                "  sawgrid archive show --day 2026-01-05 --chain")
    p.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="the archived day")
    p.add_argument("--db", default=DEFAULT_DB, metavar="URL",
                   help="the mirror: sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME "
                        "(default: %(default)s)")
    p.add_argument("--chain", action="store_true", help="read the REST API's state instead of the mirror")
    p = command(commands, "config", _config, "show (or, as an operator, set) the retention",
                "Show the archive's retention and its newest archived day; with --retention-days, set the "
                "retention first (operator).",
                "sawgrid --key operator archive config --retention-days 14")
    p.add_argument("--retention-days", type=int, metavar="N",
                   help="archived days kept unpruned, counted back from the newest (1..36500)")
    with_global_options(commands)
