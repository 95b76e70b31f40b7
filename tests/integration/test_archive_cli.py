"""`sawgrid archive ...` end to end: the CLI as a subprocess against a devnet
child running every Sawgrid processor (its genesis makes key `operator` the
market's operator and writes the archive Config).

Tamper detection: `archive verify` runs against a REST proxy that doctors one
answer of the real devnet (the archive record, or a contract as of the
archiving block); it must then exit 1 with a one-line reason.

Contracts become final (SETTLED/DECLINED) through the reputation family's
settlement: the last test settles one by the meters' readings and expires
another, then archives, prunes and verifies from the chain's history.
"""
from __future__ import annotations

import base64
import http.server
import json
import subprocess
import sys
import threading
import urllib.request
from typing import Callable

import pytest

from sawgrid.clients.sdk import archive, keys, market, reputation
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.processors.archive import addresses as addr
from sawgrid.processors.archive import record as rec
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.market.units import day_date
from sawgrid.protos import archive_pb2 as pb
from sawgrid.protos import market_pb2 as mpb

BASE = market.today() - 40   # days in the past: the archive needs finished days


def iso(day: int) -> str:
    return day_date(day).isoformat()


class Cli:
    def __init__(self, url: str, key_dir) -> None:
        self.url, self.key_dir = url, key_dir

    def run(self, *args: str, key: str = "operator", url: str | None = None) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", url or self.url,
               "--key-dir", str(self.key_dir), "--key", key, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def ok(self, *args: str, **kw) -> str:
        result = self.run(*args, **kw)
        assert result.returncode == 0, f"sawgrid {' '.join(args)}: {result.stderr}"
        return result.stdout

    def json(self, *args: str, **kw):
        return json.loads(self.ok(*args, "--json", **kw))

    def fails(self, *args: str, **kw) -> str:
        result = self.run(*args, **kw)
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("sawgrid: error: ") and result.stderr.count("\n") == 1, result.stderr
        return result.stderr.strip()


class DoctoringProxy:
    """A REST proxy in this process: forwards every GET to devnet, and lets
    `doctor(path_and_query, document)` change the JSON answer first."""

    def __init__(self, target: str, doctor: Callable[[str, dict], dict]) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's name
                try:
                    with urllib.request.urlopen(target + self.path, timeout=30) as answer:
                        status, body = answer.status, answer.read()
                except urllib.error.HTTPError as err:
                    status, body = err.code, err.read()
                if status == 200:
                    body = json.dumps(doctor(self.path, json.loads(body))).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        proxy.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "DoctoringProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def close_day(rest: RestClient, operator, day: int) -> None:
    market.submit(rest, operator, [market.close_hour(day, h) for h in range(24)])


@pytest.fixture
def net(devnet):
    rest = RestClient(devnet.url)
    operator = keys.load_signer("operator", devnet.key_dir)
    return rest, operator, Cli(devnet.url, devnet.key_dir)


def test_archive_verify_show_prune_on_devnet(net):
    rest, operator, cli = net
    config = cli.json("archive", "config")
    assert config == {"newest_day": None, "digest": None, "days": 0, "retention_days": 7,
                      "prunable_through": None}  # devnet's genesis wrote the default

    # a day with an open hour is refused, naming the hour
    market.submit(rest, operator, [market.close_hour(BASE, h) for h in range(23)])
    error = cli.fails("archive", "day", "--day", iso(BASE))
    assert error == (f"sawgrid: error: refused: archive_day.day: hour {iso(BASE)} 23:00 is not closed: "
                     f"a day is archived once all 24 hours are closed")
    market.submit(rest, operator, market.close_hour(BASE, 23))

    first = cli.json("archive", "day", "--day", iso(BASE))
    assert first["day"] == iso(BASE) and first["contracts"] == 0 and first["par_ppm"] == 1_000_000
    assert first["previous_digest"] is None
    close_day(rest, operator, BASE + 1)
    second = cli.json("archive", "day", "--day", iso(BASE + 1))
    assert second["previous_digest"] == first["digest"] and second["previous_day"] == iso(BASE)
    assert cli.json("archive", "show", "--day", iso(BASE + 1), "--chain") == second

    # out of order, or again (the other refusals: tests/unit/test_archive_handler.py)
    assert "days are archived in increasing order" in cli.fails("archive", "day", "--day", iso(BASE - 1))
    assert "is already archived" in cli.fails("archive", "day", "--day", iso(BASE + 1))

    # verify: exit 0, and the block it found holds the archive transaction
    verified = cli.json("archive", "verify", "--day", iso(BASE))
    assert verified["verified"] is True and verified["reason"] == "" and verified["block_num"] > 0
    assert verified["digest"] == first["digest"]
    walked = [int(b["header"]["block_num"]) for b in rest.blocks()
              if any(first["transaction_id"] in batch["header"]["transaction_ids"] for batch in b["batches"])]
    assert walked == [verified["block_num"]]  # the bisection found the block the walk finds
    assert cli.ok("archive", "verify", "--day", iso(BASE + 1)).startswith(f"{iso(BASE + 1)}: verified: 0 contract(s)")
    assert cli.fails("archive", "verify", "--day", iso(BASE + 9)) == \
        f"sawgrid: error: {iso(BASE + 9)} does not verify: day {iso(BASE + 9)} is not archived"

    # pruning: too early with the retention of 7, allowed after the operator sets 1
    error = cli.fails("archive", "prune", "--day", iso(BASE))
    assert f"prune_day.day: day {iso(BASE)} is within the retention of 7 days" in error
    assert cli.json("archive", "config", "--retention-days", "1")["prunable_through"] == iso(BASE)
    assert cli.json("archive", "prune", "--day", iso(BASE)) == {"day": iso(BASE), "pruned": True}
    assert "is not archived" in cli.fails("archive", "prune", "--day", iso(BASE + 3))
    assert cli.json("archive", "verify", "--day", iso(BASE))["verified"] is True


def test_show_reads_the_sql_mirror(net, devnet, tmp_path):
    from sync_support import SyncProcess, wait_synced

    rest, operator, cli = net
    close_day(rest, operator, BASE)
    archive.submit(rest, operator, archive.archive_day(BASE))
    db = f"sqlite:///{tmp_path / 'mirror.db'}"
    sync = SyncProcess(devnet.url, devnet.component, db, tmp_path / "sync.log").start()
    try:
        wait_synced(db, rest, sync=sync)
        shown = cli.json("archive", "show", "--day", iso(BASE), "--db", db)
        assert shown == cli.json("archive", "show", "--day", iso(BASE), "--chain")
        assert shown["digest"] == archive.ArchiveReader(rest).day(BASE).digest
        assert "is not archived in the mirror" in cli.fails("archive", "show", "--day", iso(BASE + 1), "--db", db)
    finally:
        assert sync.stop() == 0


def test_verify_detects_a_doctored_record(net):
    rest, operator, cli = net
    close_day(rest, operator, BASE)
    archive.submit(rest, operator, archive.archive_day(BASE))
    close_day(rest, operator, BASE + 1)
    archive.submit(rest, operator, archive.archive_day(BASE + 1))
    first_block = archive.verify_day(rest, BASE).block_num
    record_path = f"/state/{addr.day_address(BASE)}"

    def altered(path: str, doc: dict) -> dict:
        if path.startswith(record_path):
            record = pb.DayArchive.FromString(base64.b64decode(doc["data"]))
            record.par_ppm -= 1
            doc["data"] = base64.b64encode(record.SerializeToString()).decode()
        return doc

    with DoctoringProxy(rest.url, altered) as proxy:
        error = cli.fails("archive", "verify", "--day", iso(BASE), url=proxy.url)
        assert error == (f"sawgrid: error: {iso(BASE)} does not verify: the archive record of day {iso(BASE)} "
                         f"does not match its own digest (the record was altered)")
        # verifying the next day looks at its predecessor too
        error = cli.fails("archive", "verify", "--day", iso(BASE + 1), url=proxy.url)
        assert error.endswith(f"the archive record of the previous archived day {iso(BASE)} does not match its "
                              f"own digest (the record was altered)")

    def rehashed(path: str, doc: dict) -> dict:
        if path.startswith(record_path):
            record = pb.DayArchive.FromString(base64.b64decode(doc["data"]))
            record.par_ppm -= 1
            record.digest = ""
            record.digest = rec.record_digest(record)
            doc["data"] = base64.b64encode(record.SerializeToString()).decode()
        return doc

    with DoctoringProxy(rest.url, rehashed) as proxy:
        # altered and re-hashed: recomputing from the chain's records gives it away, and so does the link
        error = cli.fails("archive", "verify", "--day", iso(BASE), url=proxy.url)
        assert error.endswith("record field par_ppm differs from what the chain's records at block "
                              f"{first_block} give"), error
        error = cli.fails("archive", "verify", "--day", iso(BASE + 1), url=proxy.url)
        assert "hash chain broken: the record links to" in error
    assert cli.json("archive", "verify", "--day", iso(BASE))["verified"] is True  # the chain itself is fine


def test_settled_days_archive_verify_after_pruning_and_detect_a_doctored_contract(net):
    """Real settlement: a contract of a day long past is expired (DECLINED, nothing
    delivered), one of a recent hour settles on both meters' readings (SETTLED)."""
    rest, operator, cli = net
    alice, bob = (keys.signer_for(keys.new_private_key()) for _ in range(2))
    pk = {s: s.get_public_key().as_hex() for s in (alice, bob)}
    for s, name in ((alice, "alice"), (bob, "bob")):
        market.submit(rest, s, market.register(name))
        market.submit(rest, operator, [market.approve(pk[s]), market.fund(pk[s], 100_000_000)])
    now = reputation.chain_time(rest)
    recent_day, recent_hour = divmod((now - 3 * 3600) // 3600, 24)  # over, and inside the settle window
    for day, hour in ((BASE, 10), (recent_day, recent_hour)):
        market.submit(rest, bob, market.place_order(mpb.SELL, day, hour, 2000, 100_000))
        market.submit(rest, alice, market.place_order(mpb.BUY, day, hour, 1500, 200_000))
        close_day(rest, operator, day)
    (old,) = market.MarketReader(rest).contracts(day=BASE)
    error = cli.fails("archive", "day", "--day", iso(BASE))
    assert f"refused: archive_day.day: contract {old.id} is not final (stage PREPARED)" in error

    settings = reputation.ReputationReader(rest).settings()
    reputation.submit(rest, operator, reputation.expire_payloads(reputation.due(rest, BASE, now, settings)))
    reputation.submit(rest, bob, reputation.reading(recent_day, recent_hour, delivered_wh=1500))
    reputation.submit(rest, alice, reputation.reading(recent_day, recent_hour, received_wh=1500))
    (old,) = market.MarketReader(rest).contracts(day=BASE)
    (new,) = market.MarketReader(rest).contracts(day=recent_day)
    assert (old.stage, new.stage) == (mpb.DECLINED, mpb.SETTLED)

    first = cli.json("archive", "day", "--day", iso(BASE))
    assert (first["contracts"], first["declined"], first["traded_wh"][10]) == (1, 1, 0)
    second = cli.json("archive", "day", "--day", iso(recent_day))
    assert (second["contracts"], second["settled"], second["previous_digest"]) == (1, 1, first["digest"])
    buyer = {p["public_key"]: p for p in second["participants"]}[pk[alice]]
    assert (buyer["bought_p2p_wh"], buyer["paid_base_ueur"], buyer["paid_wire_fee_ueur"]) == \
        (1500, new.paid_base, new.paid_wire_fee) == (1500, 150_000, new.wire_fee)
    assert cli.json("archive", "verify", "--day", iso(recent_day))["verified"] is True

    # prune the older day: its contract leaves the state, yet it verifies from the chain's history
    cli.ok("archive", "config", "--retention-days", "1")
    cli.ok("archive", "prune", "--day", iso(BASE))
    assert market.MarketReader(rest).contracts(day=BASE) == []
    verified = cli.json("archive", "verify", "--day", iso(BASE))
    assert verified["verified"] is True and verified["contracts"] == 1
    contract_prefix = maddr.contracts_prefix(BASE)

    def doctored(path: str, doc: dict) -> dict:
        if "head=" in path and contract_prefix in path:
            for entry in doc.get("data", []):
                c = mpb.Contract.FromString(base64.b64decode(entry["data"]))
                c.paid_base += 1
                entry["data"] = base64.b64encode(c.SerializeToString()).decode()
        return doc

    with DoctoringProxy(rest.url, doctored) as proxy:
        error = cli.fails("archive", "verify", "--day", iso(BASE), url=proxy.url)
    assert f"does not verify: contracts digest differs: the record says {first['contracts_digest'][:16]}" in error
