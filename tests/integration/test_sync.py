"""`sawgrid sync` against a real devnet child, into SQLite and a real
PostgreSQL server; `sawgrid statement` read back from the mirror."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from sawgrid.clients.sdk import market
from sawgrid.clients.sync import models as m
from sawgrid.clients.sync.database import make_engine
from sawgrid.processors.market import addresses
from sawgrid.protos import market_pb2 as pb

from sync_support import DAY, Market, SyncProcess, assert_mirror_matches_chain, chain_contracts, wait_synced

NAMES = ["sel1", "sel2", "buy1", "buy2"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def trading(devnet):
    mk = Market.open(devnet.url, devnet.key_dir)
    mk.onboard(*NAMES)
    mk.day_setup(DAY, NAMES[2:])
    mk.day_setup(DAY + 1, NAMES[2:])
    return mk


def test_mirror_follows_the_chain_and_restarts_without_gap(devnet, trading, db_url, tmp_path):
    sync = SyncProcess(devnet.url, devnet.component, db_url, tmp_path / "sync.log").start()
    try:
        trading.trade_round(DAY, range(17, 20), NAMES)
        wait_synced(db_url, trading.rest, sync=sync)
        counts = assert_mirror_matches_chain(db_url, trading.rest)
        assert counts["contracts"] > 0 and counts["wallets"] == len(NAMES) + 1
        sync.wait_log("behind", timeout=10)            # the lag line
        assert sync.stop() == 0                          # SIGTERM: exit 0
        # trading goes on while the sync is down; a restart catches up from its last blocks
        trading.order("buy1", DAY, 20, 800, 0.20)
        trading.offer("sel2", DAY, 20, 300, 0.05)
        mark = len(sync.log())
        sync.start()
        wait_synced(db_url, trading.rest, sync=sync)
        assert "from block" in sync.log()[mark:] and "from block genesis" not in sync.log()[mark:]
        counts = assert_mirror_matches_chain(db_url, trading.rest)
        _typed_tables_match(db_url, trading)
    finally:
        sync.stop()
    assert "Traceback" not in sync.log()


def _typed_tables_match(db_url: str, mk: Market) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            def current(model):
                return conn.execute(select(model).where(model.end_block.is_(None))).all()

            resting = {(o.order_id, o.owner, o.side, o.remaining) for o in current(m.Order)}
            on_chain = set()
            for hour in range(17, 21):
                b = market.MarketReader(mk.rest).book(DAY, hour)  # head and pages
                on_chain |= {(o.id, o.owner, pb.Side.Name(o.side), o.remaining) for o in (*b.offers, *b.orders)}
            assert resting == on_chain
            penalties = {(p.day, p.hour): p.multiplier for p in current(m.Penalty)}
            assert penalties[(DAY, 19)] == 1300 and len(penalties) == 48
            recs = current(m.Recommendation)
            assert {r.public_key for r in recs} == {mk.pk("buy1"), mk.pk("buy2")} and len(recs) == 96
            assert {p.public_key: p.status for p in current(m.Participant)}[mk.pk("sel1")] == "APPROVED"
            # a balance history: every version of buy1's wallet, oldest first
            history = conn.execute(select(m.Wallet.balance).where(m.Wallet.public_key == mk.pk("buy1"))
                                   .order_by(m.Wallet.start_block)).scalars().all()
            assert history[:2] == [0, 100 * market.MICRO] and len(history) > 3   # registered, funded, trades
            assert conn.execute(select(func.count()).select_from(m.Book)
                                .where(m.Book.end_block.is_(None), m.Book.closed)).scalar() == 3
    finally:
        engine.dispose()


def test_statement_equals_the_chain(make_devnet, db_url, tmp_path):
    """Contracts settled by meter readings (one seller short: DECLINED with a
    partial payment), and some still pending; the statement's numbers are
    computed again from the REST API's contract records."""
    day = market.today() - 10            # chain time runs from its midnight (devnet --clock-file)
    clock = tmp_path / "clock"
    clock.write_text(str(day * 86400))
    net = make_devnet(extra=("--clock-file", str(clock)))
    mk = Market.open(net.url, net.key_dir)
    mk.onboard(*NAMES)
    for d in (day, day + 1):
        mk.day_setup(d, NAMES[2:])
    mk.trade_round(day, range(18, 20), NAMES)
    mk.trade_round(day + 1, range(8, 9), NAMES)          # never read: pending
    clock.write_text(str(day * 86400 + 21 * 3600))       # both hours are over...
    mk.onboard("tick")                                   # ...once a block carries the new time
    for hour in (18, 19):
        hour_contracts = [c for c in chain_contracts(mk.rest).values() if (c.day, c.hour) == (day, hour)]
        for name in NAMES:
            pk = mk.pk(name)
            sold = sum(c.energy for c in hour_contracts if c.seller == pk)
            bought = sum(c.energy for c in hour_contracts if c.buyer == pk)
            if sold or bought:
                short = name == "sel1" and hour == 19
                mk.reading(name, day, hour, delivered_wh=sold // 2 if short else sold, received_wh=bought)
    stages = {pb.Stage.Name(c.stage) for c in chain_contracts(mk.rest).values()}
    assert {"SETTLED", "DECLINED", "PREPARED"} <= stages, stages
    sync = SyncProcess(net.url, net.component, db_url, tmp_path / "sync.log").start()
    try:
        wait_synced(db_url, mk.rest, sync=sync)
    finally:
        assert sync.stop() == 0
    contracts = chain_contracts(mk.rest).values()
    for name in ("buy1", "sel1", "sel2"):
        pk = mk.pk(name)
        out = _cli("--key-dir", str(net.key_dir), "statement", "--key", pk, "--db", db_url, "--json")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        expected = _expected(contracts, pk)
        assert doc["total"] == expected["total"]
        assert {d["day"]: {k: v for k, v in d.items() if k != "day"} for d in doc["days"]} == expected["days"]
        assert doc["pending"] == expected["pending"] and doc["pending"]
        # one day only
        out = _cli("statement", "--key", pk, "--db", db_url, "--json", "--from", market.day_text(day + 1),
                   "--to", market.day_text(day + 1))
        one_day = json.loads(out.stdout)
        assert one_day["days"] == [] and {p["day"] for p in one_day["pending"]} == {market.day_text(day + 1)}
    assert _expected(contracts, mk.pk("sel1"))["total"]["earned"] > 0
    text = _cli("statement", "--key", mk.pk("buy1"), "--db", db_url)
    assert text.returncode == 0 and "total" in text.stdout and "pending" in text.stdout, text.stderr


def _expected(contracts, pk: str) -> dict:
    """The statement computed independently from the REST API's contract
    records: settled at match (no stage), settled or declined (the paid
    amounts), or pending (in settlement)."""
    days: dict[str, dict] = {}
    pending = []
    for c in sorted(contracts, key=lambda c: (c.day, c.hour, c.id)):
        if pk not in (c.buyer, c.seller):
            continue
        if c.stage not in (pb.STAGE_UNSET, pb.SETTLED, pb.DECLINED):
            pending.append({"contract_id": c.id, "day": market.day_text(c.day), "hour": c.hour,
                            "side": "bought" if c.buyer == pk else "sold", "energy": c.energy, "total": c.total,
                            "stage": pb.Stage.Name(c.stage), "escrow": c.escrow})
            continue
        at_match = c.stage == pb.STAGE_UNSET
        energy = c.energy if at_match else c.delivered
        d = days.setdefault(market.day_text(c.day), dict.fromkeys(
            ("contracts", "bought_wh", "sold_wh", "spent", "earned", "fees", "penalties"), 0))
        d["contracts"] += 1
        if c.buyer == pk:
            d["bought_wh"] += energy
            d["spent"] += c.base if at_match else c.paid_base - c.guarantee
            d["fees"] += c.wire_fee if at_match else c.paid_wire_fee
            d["penalties"] += c.surcharge if at_match else c.paid_surcharge
        if c.seller == pk:
            d["sold_wh"] += energy
            d["earned"] += c.base if at_match else c.paid_base
    for d in days.values():
        d["net"] = d["earned"] - d["spent"] - d["fees"] - d["penalties"]
    total = {k: sum(d[k] for d in days.values()) for k in
             ("contracts", "bought_wh", "sold_wh", "spent", "earned", "fees", "penalties", "net")}
    assert total["contracts"] + len(pending) > 0
    return {"days": days, "total": total, "pending": pending}


@pytest.mark.parametrize("args, message", [
    (["sync", "--db", "mysql://x@y/z"], "--db: 'mysql' is not supported"),
    (["sync", "--db", "not a url"], "--db: not a database URL"),
    (["sync", "--db", "sqlite:////nonexistent/folder/m.db"], "--db: folder /nonexistent/folder does not exist"),
    (["sync", "--component", "localhost:4004"], "--component: expected tcp://HOST:PORT"),
    (["statement", "--key", "02" + "ab" * 32, "--db", "sqlite:///{tmp}/none.db"], "--db: no mirror at"),
    (["statement", "--key", "02" + "ab" * 32, "--db", "sqlite:///{tmp}/other.db"], "is not a Sawgrid mirror"),
    (["statement", "--key", "nobody-such", "--db", "sqlite:///{tmp}/empty.db"], "is neither a public key"),
    (["statement", "--key", "02" + "ab" * 32, "--from", "2026-02-30"], "--from: expected a date"),
    (["statement", "--key", "02" + "ab" * 32, "--from", "2026-03-02", "--to", "2026-03-01"], "is after --to"),
])
def test_bad_input_is_one_line(args, message, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE t (x)").connection.close()
    out = _cli("--key-dir", str(tmp_path / "keys"), *args)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stderr.startswith("sawgrid: error: ") and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr


def test_help_has_an_example():
    for command in ("sync", "statement"):
        out = _cli(command, "--help")
        assert out.returncode == 0 and "example:" in out.stdout and f"sawgrid {command} " in out.stdout
