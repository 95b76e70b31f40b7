"""The mirror's database: engine, schema upgrade, and the writes of one block.

`--db` takes an SQLAlchemy URL: `sqlite:///FILE` (embedded, the default) or
`postgresql://USER:PASSWORD@HOST:PORT/NAME` (production; the psycopg 3
driver is used whatever driver the URL names). The schema is Alembic's
(`migrations/`), upgraded to the newest revision by `open_database`.

`Writer` is one database transaction: the blocks appended in it, each with
its rows and its `blocks` row, commit together or not at all, so a crash
leaves the mirror at a block boundary (no gap, no duplicate). A fork is
rolled back in the same transaction as the first block of the new branch.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Iterator, Sequence

from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sync import deltas, models as m
from sawgrid.clients.sync.subscriber import BlockEvents

LOG = logging.getLogger("sawgrid.sync.database")
# Alembic narrates every step at INFO; the sync logs the upgrade in one line.
logging.getLogger("alembic").setLevel(logging.WARNING)

KNOWN_RECENT = 15      # most recent block ids sent as last_known_block_ids...
IN_CHUNK = 500         # addresses per `IN (...)` list


def database_url(text: str) -> URL:
    """A --db value as an SQLAlchemy URL; SawgridError for anything else."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise SawgridError(f"--db: not a database URL: {text!r} (e.g. sqlite:///mirror.db or "
                           f"postgresql://user:password@host:5432/sawgrid)") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise SawgridError("--db: give the SQLite database a file: sqlite:///FILE")
        return url.set(drivername="sqlite")
    raise SawgridError(f"--db: {backend!r} is not supported (use sqlite:///FILE or postgresql://...)")


def make_engine(url: str | URL) -> Engine:
    url = database_url(url) if isinstance(url, str) else url
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # every new SQLite connection
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")     # readers (statement) do not block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")   # durable across a crash of the process
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("sawgrid.clients.sync") / "migrations"))
    before = schema_revision(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    after = schema_revision(engine)
    if after != before:
        LOG.info("mirror schema upgraded: %s -> %s", before or "empty", after)


def schema_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@dataclass(frozen=True)
class Head:
    block_num: int
    block_id: str


class Database:
    """The mirror: reads outside a block's transaction, and `writer()` for one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def head(self) -> Head | None:
        with self.engine.connect() as conn:
            return _head(conn)

    def last_known_block_ids(self) -> list[str]:
        """For a subscription: the newest KNOWN_RECENT block ids, then older
        ones at doubling distances (so a deep fork still finds a common block)."""
        head = self.head()
        if head is None:
            return []
        nums = list(range(head.block_num, max(-1, head.block_num - KNOWN_RECENT), -1))
        step = KNOWN_RECENT
        while nums[-1] - step > 0:
            nums.append(nums[-1] - step)
            step *= 2
        if nums[-1] != 0:
            nums.append(0)
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.Block.block_num, m.Block.block_id).where(m.Block.block_num.in_(nums)))
            ids = {num: block_id for num, block_id in rows}
        return [ids[n] for n in nums if n in ids]

    @contextmanager
    def writer(self) -> Iterator["Writer"]:
        with self.engine.begin() as conn:
            yield Writer(conn)


class Writer:
    """The writes of one transaction (see the module docstring)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.rows = 0          # rows inserted so far

    def head(self) -> Head | None:
        return _head(self.conn)

    def block_id_at(self, block_num: int) -> str | None:
        return self.conn.execute(select(m.Block.block_id).where(m.Block.block_num == block_num)).scalar()

    def block_num_of(self, block_id: str) -> int | None:
        return self.conn.execute(select(m.Block.block_num).where(m.Block.block_id == block_id)).scalar()

    def rollback(self, to_block: int) -> int:
        """Forget every block after `to_block` (-1: all of them) and what they
        wrote; the versions they ended become current again. Returns how many
        blocks were dropped."""
        for table in m.VERSIONED:
            self.conn.execute(delete(table).where(table.start_block > to_block))
            self.conn.execute(update(table).where(table.end_block > to_block).values(end_block=None))
        return self.conn.execute(delete(m.Block).where(m.Block.block_num > to_block)).rowcount

    def append(self, block: BlockEvents) -> int:
        """Write one block: its row, its state entries and its typed rows.
        Returns the number of rows inserted."""
        num = block.block_num
        self.conn.execute(insert(m.Block), [{
            "block_num": num, "block_id": block.block_id, "previous_block_id": block.previous_block_id,
            "state_root_hash": block.state_root_hash, "changes": len(block.changes)}])
        if not block.changes:
            self.rows += 1
            return 1
        records = [deltas.decode(change) for change in block.changes]
        addresses = [r.address for r in records]
        _end_current(self.conn, m.StateEntry, addresses, num)
        entries = [{"address": r.address, "family": r.family, "kind": r.kind, "data": r.data, "start_block": num}
                   for r in records if r.data is not None]
        if entries:
            self.conn.execute(insert(m.StateEntry), entries)
        inserted = 1 + len(entries)
        for table, by_address in deltas.typed_rows(records).items():
            inserted += _replace(self.conn, table, by_address, num)
        self.rows += inserted
        return inserted


def _head(conn: Connection) -> Head | None:
    row = conn.execute(select(m.Block.block_num, m.Block.block_id)
                       .order_by(m.Block.block_num.desc()).limit(1)).first()
    return Head(row[0], row[1]) if row else None


def _chunks(items: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _end_current(conn: Connection, table: type[m.Versioned], addresses: Sequence[str], block_num: int) -> None:
    for chunk in _chunks(addresses):
        conn.execute(update(table).where(table.address.in_(chunk), table.end_block.is_(None))
                     .values(end_block=block_num))


def _replace(conn: Connection, table: type[m.Versioned], by_address: dict[str, list[dict]], block_num: int) -> int:
    """Make `by_address` the current rows of those addresses in `table`: rows
    that changed or vanished end at `block_num`, new or changed ones start
    there, unchanged ones stay as they are. Returns the rows inserted."""
    key_of = table.natural_key
    columns = [c.name for c in table.__table__.columns  # type: ignore[attr-defined]
               if c.name not in ("id", "address", "start_block", "end_block")]
    current: dict[tuple, tuple[int, tuple]] = {}
    addresses = list(by_address)
    for chunk in _chunks(addresses):
        query = select(table.id, *(getattr(table, c) for c in columns)).where(
            table.address.in_(chunk), table.end_block.is_(None))
        for row in conn.execute(query):
            values = dict(zip(columns, row[1:]))
            current[tuple(values[k] for k in key_of)] = (row[0], tuple(values[c] for c in columns))
    ended: list[int] = []
    new: list[dict] = []
    wanted: set[tuple] = set()
    for address, rows in by_address.items():
        for row in rows:
            key = tuple(row[k] for k in key_of)
            wanted.add(key)
            old = current.get(key)
            if old is not None and old[1] == tuple(row[c] for c in columns):
                continue
            if old is not None:
                ended.append(old[0])
            new.append({**row, "address": address, "start_block": block_num})
    ended.extend(row_id for key, (row_id, _) in current.items() if key not in wanted)
    for chunk in _chunks(ended):
        conn.execute(update(table).where(table.id.in_(chunk)).values(end_block=block_num))
    if new:
        conn.execute(insert(table), new)
    return len(new)


def open_database(url: str | URL) -> Database:
    """Connect, upgrade the schema, and return the mirror (raises the
    driver's OperationalError while the server is unreachable)."""
    engine = make_engine(url)
    upgrade(engine)
    return Database(engine)
