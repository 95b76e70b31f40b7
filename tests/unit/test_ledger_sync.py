"""The ledger sync in process: the applier fed synthetic blocks (a branch
switch among them), the stream's splitting, decoding, the migrations and the
statement's rules. Databases are SQLite files in tmp_path."""
from __future__ import annotations

import hashlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sync import models as m
from sawgrid.clients.sync import statement
from sawgrid.clients.sync.applier import Applier, Gap
from sawgrid.clients.sync.database import Database, database_url, open_database
from sawgrid.clients.sync.deltas import Change, decode, typed_rows
from sawgrid.clients.sync.subscriber import BlockEvents, split_blocks
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.processors.market import addresses as addr
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.sawtooth import Event, StateChange, StateChangeList

ALICE, BOB = "02" + "a" * 64, "03" + "b" * 64


def _id(label: str) -> str:
    return hashlib.sha512(label.encode()).hexdigest()


def wallet(pk: str, balance: int) -> Change:
    return Change(addr.wallet_address(pk), pb.Wallet(public_key=pk, balance=balance).SerializeToString())


def contract(cid: str, energy: int, stage: int = pb.STAGE_UNSET) -> Change:
    day, hour, _ = cid.split("/")
    c = pb.Contract(id=cid, day=int(day), hour=int(hour), seller=ALICE, buyer=BOB, energy=energy,
                    price=100_000, base=energy * 100, total=energy * 100, stage=stage, cluster=[ALICE])
    return Change(addr.contract_address(int(day), int(hour), cid), c.SerializeToString())


def book(day: int, hour: int, *orders: tuple[str, str, int]) -> Change:
    b = pb.Book(day=day, hour=hour, next_seq=len(orders) + 1, offers=[
        pb.Order(id=oid, owner=owner, side=pb.SELL, energy=wh, remaining=wh) for oid, owner, wh in orders])
    return Change(addr.book_address(day, hour), b.SerializeToString())


class Chain:
    """Blocks with ids derived from a branch label, each following the one before."""

    def __init__(self, label: str, parent: BlockEvents | None = None) -> None:
        self.label = label
        self.last = parent

    def block(self, *changes: Change) -> BlockEvents:
        num = 0 if self.last is None else self.last.block_num + 1
        block = BlockEvents(num, _id(f"{self.label}/{num}"),
                            "0000000000000000" if self.last is None else self.last.block_id, "root", changes)
        self.last = block
        return block


@pytest.fixture
def db(tmp_path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 'mirror.db'}")
    yield database
    database.engine.dispose()


def snapshot(db: Database) -> dict:
    """Every table's rows, without surrogate ids: what two mirrors of the same chain share."""
    out = {}
    with db.engine.connect() as conn:
        for table in (m.Block, *m.VERSIONED):
            cols = [c for c in table.__table__.columns if c.name not in ("id", "synced_at")]
            out[table.__tablename__] = sorted(tuple(str(v) for v in row) for row in conn.execute(select(*cols)))
    return out


def test_a_branch_switch_rolls_back_to_the_common_block(db, tmp_path):
    trunk = Chain("a")
    common = [trunk.block(wallet(ALICE, 100)),
              trunk.block(wallet(BOB, 50), book(20000, 18, ("20000/18/1", ALICE, 500))),
              trunk.block(contract("20000/18/2", 300), book(20000, 18, ("20000/18/1", ALICE, 200)))]
    old = [trunk.block(wallet(ALICE, 130), contract("20000/18/2", 300, pb.SETTLED)),
           trunk.block(wallet(BOB, 20), book(20000, 18))]
    applier = Applier(db)
    done = applier.apply(common + old)
    assert (done.appended, done.rolled_back) == (5, 0)
    with db.engine.connect() as conn:
        assert conn.execute(select(m.Wallet.balance).where(m.Wallet.public_key == ALICE,
                                                           m.Wallet.end_block.is_(None))).scalar() == 130
        assert conn.execute(select(m.Order).where(m.Order.end_block.is_(None))).all() == []

    # The validator switches to a branch that forks after block 2 (as Sawtooth
    # sends it: the new branch's blocks from the common ancestor on).
    branch = Chain("b", common[-1])
    new = [branch.block(wallet(ALICE, 90)),
           branch.block(contract("20000/18/3", 100), book(20000, 18, ("20000/18/1", ALICE, 100))),
           branch.block(wallet(BOB, 45))]
    done = applier.apply(new)
    assert (done.appended, done.rolled_back) == (3, 2)

    fresh = open_database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        Applier(fresh).apply(common + new)
        assert snapshot(db) == snapshot(fresh)   # as if the old branch had never been seen
    finally:
        fresh.engine.dispose()
    with db.engine.connect() as conn:
        stages = dict(conn.execute(select(m.Contract.contract_id, m.Contract.stage)
                                   .where(m.Contract.end_block.is_(None))).all())
        assert stages == {"20000/18/2": "STAGE_UNSET", "20000/18/3": "STAGE_UNSET"}
        resting = conn.execute(select(m.Order.order_id, m.Order.remaining).where(m.Order.end_block.is_(None))).all()
        assert [tuple(r) for r in resting] == [("20000/18/1", 100)]


def test_duplicates_are_skipped_and_a_gap_is_reported(db):
    chain = Chain("a")
    blocks = [chain.block(wallet(ALICE, n)) for n in range(4)]
    applier = Applier(db)
    applier.apply(blocks[:3])
    done = applier.apply(blocks[1:])          # a catch-up that repeats blocks 1 and 2
    assert (done.appended, done.skipped) == (1, 2)
    later = [chain.block(wallet(BOB, 1)), chain.block(wallet(BOB, 2))]
    with pytest.raises(Gap):
        applier.apply([later[1]])             # block 4 never arrived
    assert db.head().block_num == 3
    with pytest.raises(Gap):                  # a gap after good blocks: those commit first
        applier.apply([later[0], Chain("x", later[1]).block()])
    assert db.head().block_num == 4


def test_another_chain_replaces_the_mirror(db):
    Applier(db).apply([Chain("a").block(wallet(ALICE, 1)), ])
    other = Chain("other")
    done = Applier(db).apply([other.block(wallet(BOB, 2)), other.block()])
    assert (done.appended, done.rolled_back) == (2, 1)
    with db.engine.connect() as conn:
        assert conn.execute(select(m.Wallet.public_key).where(m.Wallet.end_block.is_(None))).scalars().all() == [BOB]


def test_a_block_that_fails_midway_leaves_nothing(db):
    chain = Chain("a")
    Applier(db).apply([chain.block(wallet(ALICE, 1))])

    def boom(block_num: int) -> None:
        raise RuntimeError("killed mid-block")

    with pytest.raises(RuntimeError):
        Applier(db, pause_before_commit=boom).apply([chain.block(wallet(ALICE, 2), contract("20000/1/1", 5))])
    assert db.head().block_num == 0
    with db.engine.connect() as conn:
        assert conn.execute(select(m.Contract)).all() == []
        assert conn.execute(select(m.Wallet.balance)).scalars().all() == [1]


def test_deleted_records_end_and_history_stays(db):
    chain = Chain("a")
    c = contract("20000/5/1", 10)
    Applier(db).apply([chain.block(c), chain.block(Change(c.address, None))])
    with db.engine.connect() as conn:
        rows = conn.execute(select(m.Contract.start_block, m.Contract.end_block)).all()
        assert [tuple(r) for r in rows] == [(0, 1)]
        assert conn.execute(select(m.StateEntry.end_block)).scalars().all() == [1]


def test_last_known_block_ids_reach_back(db):
    chain = Chain("a")
    blocks = [chain.block() for _ in range(100)]
    Applier(db).apply(blocks)
    ids = db.last_known_block_ids()
    nums = [next(b.block_num for b in blocks if b.block_id == i) for i in ids]
    assert nums[:15] == list(range(99, 84, -1)) and nums[-1] == 0 and nums == sorted(nums, reverse=True)


def test_split_blocks_cuts_a_catch_up_and_keeps_only_sawgrid_addresses():
    ours, theirs = addr.wallet_address(ALICE), "1cf126" + "0" * 64   # sawtooth_settings
    def commit(num: int) -> Event:
        return Event(event_type="sawtooth/block-commit", attributes=[
            Event.Attribute(key="block_id", value=f"b{num}"), Event.Attribute(key="block_num", value=str(num)),
            Event.Attribute(key="previous_block_id", value=f"b{num - 1}"),
            Event.Attribute(key="state_root_hash", value="r")])

    def delta(*changes: StateChange) -> Event:
        return Event(event_type="sawtooth/state-delta",
                     data=StateChangeList(state_changes=list(changes)).SerializeToString())

    events = [commit(5), delta(StateChange(address=ours, value=b"x", type=StateChange.SET),
                                StateChange(address=theirs, value=b"y", type=StateChange.SET)),
              commit(6), Event(event_type="sawgrid-market/contract"),
              commit(7), delta(StateChange(address=ours, type=StateChange.DELETE))]
    blocks = split_blocks(events)
    assert [(b.block_num, b.previous_block_id) for b in blocks] == [(5, "b4"), (6, "b5"), (7, "b6")]
    assert [b.changes for b in blocks] == [(Change(ours, b"x"),), (), (Change(ours, None),)]


def test_records_that_do_not_decode_are_kept_raw():
    bad = decode(Change(addr.wallet_address(ALICE), b"\xff\xff\xff"))
    assert (bad.family, bad.kind) == ("market", "wallet") and bad.data["raw"] == "////" and "error" in bad.data
    assert typed_rows([bad]) == {m.Wallet: {bad.address: []}}       # its old typed rows end
    unknown = decode(Change(addr.MARKET.prefix("ff") + "0" * 62, b"\x01"))
    assert (unknown.family, unknown.kind, unknown.data) == ("market", "ff", {"raw": "AQ=="})
    kv = decode(Change(kv_address("k"), b"v"))
    assert (kv.family, kv.kind, kv.data) == ("kv", "entry", {"raw": "dg=="})
    w = decode(wallet(BOB, 7))
    assert w.data == {"public_key": BOB, "balance": 7, "locked": 0, "credit_used": 0}


def test_migrations_build_the_models_schema(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == []


def test_every_versioned_table_is_rolled_back():
    # rollback() walks m.VERSIONED: every table with start_block must be in it
    versioned = {t.__tablename__ for t in m.VERSIONED}
    assert versioned == {name for name, t in m.Base.metadata.tables.items() if "start_block" in t.c}


class Row:
    def __init__(self, **kw) -> None:
        base = dict(contract_id="20000/1/1", day=20000, hour=1, buyer=BOB, seller=ALICE, energy=1000, base=100,
                    surcharge=10, wire_fee=5, total=115, stage="STAGE_UNSET", delivered=0, paid_base=0,
                    paid_surcharge=0, paid_wire_fee=0, guarantee=0, escrow=0)
        self.__dict__.update({**base, **kw})


def test_statement_counts_settled_amounts_and_lists_pending():
    rows = [Row(contract_id="20000/1/1"),                                           # settled at match
            Row(contract_id="20000/2/1", hour=2, stage="SETTLED", delivered=800, paid_base=80,
                paid_surcharge=8, paid_wire_fee=4),                                 # partial delivery
            Row(contract_id="20001/3/1", day=20001, hour=3, stage="DECLINED", delivered=1000,
                paid_base=100, guarantee=100),                                      # buyer defaulted
            Row(contract_id="20001/4/1", day=20001, hour=4, stage="PREPARED", escrow=115)]
    bob = statement.build(rows, BOB)
    assert (bob.total.bought_wh, bob.total.spent, bob.total.fees, bob.total.penalties) == (2800, 180, 9, 18)
    assert bob.days[20001].spent == 0 and bob.total.net == -207
    assert [(p.contract_id, p.side, p.escrow) for p in bob.pending] == [("20001/4/1", "bought", 115)]
    alice = statement.build(rows, ALICE)
    assert (alice.total.sold_wh, alice.total.earned, alice.total.net) == (2800, 280, 280)
    assert alice.pending[0].side == "sold"


@pytest.mark.parametrize("url, message", [
    ("mysql://u@h/d", "not supported"), ("sqlite://", "give the SQLite database a file"), ("::", "not a database URL")])
def test_database_url_refusals(url, message):
    with pytest.raises(SawgridError, match=message):
        database_url(url)
    assert database_url("postgresql://u:p@h:5/d").drivername == "postgresql+psycopg"


def test_an_archived_day_fills_the_archive_tables(db):
    from sawgrid.processors.archive.addresses import day_address
    from sawgrid.protos import archive_pb2 as apb

    record = apb.DayArchive(day=20000, contracts=3, settled=2, declined=1, traded_wh=[10] * 24, par_ppm=800_000,
                            digest="d" * 128, participants=[
                                apb.ParticipantDay(public_key=ALICE, sold_p2p_wh=700, received_base=70),
                                apb.ParticipantDay(public_key=BOB, bought_p2p_wh=700, paid_base=70, declined=1)])
    chain = Chain("a")
    Applier(db).apply([chain.block(Change(day_address(20000), record.SerializeToString()))])
    with db.engine.connect() as conn:
        day = conn.execute(select(m.ArchiveDay)).one()
        assert (day.day, day.settled, day.par_ppm, day.traded_wh) == (20000, 2, 800_000, [10] * 24)
        people = conn.execute(select(m.ArchiveParticipantDay.public_key, m.ArchiveParticipantDay.paid_base)
                              .order_by(m.ArchiveParticipantDay.public_key)).all()
        assert [tuple(p) for p in people] == [(ALICE, 0), (BOB, 70)]
        entry = conn.execute(select(m.StateEntry.family, m.StateEntry.kind, m.StateEntry.data)).one()
        assert entry[:2] == ("archive", "day") and entry[2]["participants"][1]["declined"] == 1


def test_a_gap_reports_what_it_committed(db):
    chain = Chain("a")
    blocks = [chain.block(wallet(ALICE, n)) for n in range(3)]
    skipped = chain.block()
    with pytest.raises(Gap) as caught:
        Applier(db).apply([*blocks, chain.block()])
    assert (caught.value.applied.appended, caught.value.applied.head) == (3, 2) and skipped.block_num == 3
