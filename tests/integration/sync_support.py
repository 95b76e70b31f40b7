"""What the ledger-sync tests and the sync benchmark share: trading on a real
devnet, `sawgrid sync` as a child process, and the comparison of the mirror
with the chain as the REST API tells it."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.clients.sync import models as m
from sawgrid.clients.sync.database import make_engine
from sawgrid.devnet.server import die_with_parent, stop_child
from sawgrid.processors.market import addresses
from sawgrid.protos import market_pb2 as pb

DAY = market.today() + 30      # a delivery day in the future whenever the tests run
KWH = 1000
EUR = market.MICRO


@dataclass
class Market:
    """Participants on one devnet, and helpers that trade in their name."""

    rest: RestClient
    operator: object
    signers: dict[str, object] = field(default_factory=dict)

    @classmethod
    def open(cls, url: str, key_dir: Path) -> "Market":
        return cls(RestClient(url), keys.load_signer("operator", key_dir))

    def pk(self, name: str) -> str:
        return self.signers[name].get_public_key().as_hex()

    def onboard(self, *names: str, eur: int = 100) -> None:
        for name in names:
            self.signers[name] = keys.signer_for(keys.new_private_key())
            market.submit(self.rest, self.signers[name], market.register(name))
        market.submit(self.rest, self.operator, [market.approve(self.pk(n)) for n in names] +
                      [market.fund(self.pk(n), eur * EUR) for n in names])

    def offer(self, name: str, day: int, hour: int, wh: int, price_eur_kwh: float, wait: bool = True) -> None:
        market.submit(self.rest, self.signers[name],
                      market.place_order(pb.SELL, day, hour, wh, int(price_eur_kwh * EUR)), wait=wait)

    def order(self, name: str, day: int, hour: int, wh: int, price_eur_kwh: float, wait: bool = True,
              grid_fallback: bool = False) -> None:
        market.submit(self.rest, self.signers[name],
                      market.place_order(pb.BUY, day, hour, wh, int(price_eur_kwh * EUR), grid_fallback), wait=wait)

    def reading(self, name: str, day: int, hour: int, delivered_wh: int = 0, received_wh: int = 0) -> None:
        """A meter's reading for an hour (sawgrid-reputation): a contract
        without a cluster settles in the reading that completes its evidence."""
        from sawgrid.processors.reputation.access import access
        from sawgrid.processors.reputation.addresses import REPUTATION
        from sawgrid.protos import reputation_pb2 as rpb
        from sawgrid.protos.envelopes import make_batch, make_transaction

        signer = self.signers[name]
        payload = rpb.ReputationPayload(reading=rpb.SubmitReading(
            day=day, hour=hour, delivered_wh=delivered_wh, received_wh=received_wh))
        inputs, outputs = access(payload, self.pk(name), self.rest.state)
        txn = make_transaction(signer, REPUTATION.name, REPUTATION.versions[0],
                               payload.SerializeToString(deterministic=True), inputs, outputs)
        self.rest.submit_and_wait([make_batch(signer, [txn])], timeout=60)

    def day_setup(self, day: int, buyers: list[str]) -> None:
        """Grid prices, recommendations and (last: they make the day final) penalties."""
        market.submit(self.rest, self.operator, [
            market.set_grid_prices(day, [80_000] * 24, [300_000] * 24),
            market.set_recommendations(day, {self.pk(b): [100 + h for h in range(24)] for b in buyers}),
            market.set_penalties(day, [1000] * 18 + [1200, 1300, 1200] + [1000] * 3)])

    def trade_round(self, day: int, hours: range, names: list[str]) -> None:
        """Offers and orders in every hour: some match at once, some rest, some
        fall back to the grid at gate closure."""
        sellers, buyers = names[: len(names) // 2], names[len(names) // 2:]
        for hour in hours:
            for i, s in enumerate(sellers):
                self.offer(s, day, hour, 500 + 100 * i, 0.10 + 0.01 * i)
            for i, b in enumerate(buyers):
                self.order(b, day, hour, 700 + 150 * i, 0.12 + 0.02 * i, grid_fallback=(i % 2 == 0))
        market.submit(self.rest, self.operator, [market.close_hour(day, h) for h in hours])


# --------------------------------------------------------------------------- the sync as a child
class SyncProcess:
    """`sawgrid sync` as a child process (SIGTERM when the starting thread dies)."""

    def __init__(self, url: str, component: str, db: str, log_path: Path, extra: tuple[str, ...] = ()) -> None:
        self.cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", url, "sync", "--component", component,
                    "--db", db, "--log-interval", "1", *extra]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "SyncProcess":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent())
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float = 60, after: int = 0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log()[after:]:
            assert self.proc is not None and self.proc.poll() is None, f"sync exited:\n{self.log()[-3000:]}"
            assert time.monotonic() < deadline, f"no {text!r} in the sync's log:\n{self.log()[-3000:]}"
            time.sleep(0.1)

    def stop(self, timeout: float = 15) -> int:
        return stop_child(self.proc, timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- mirror vs chain
def chain_head(rest: RestClient) -> tuple[int, str]:
    block = next(iter(rest.blocks(limit=1)))
    return int(block["header"]["block_num"]), block["header_signature"]


def mirror_head(db: str) -> tuple[int, str] | None:
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(m.Block.block_num, m.Block.block_id)
                               .order_by(m.Block.block_num.desc()).limit(1)).first()
            return (row[0], row[1]) if row else None
    except Exception:   # not created yet, or the server is down
        return None
    finally:
        engine.dispose()


def wait_synced(db: str, rest: RestClient, timeout: float = 90, sync: SyncProcess | None = None) -> tuple[int, str]:
    """Until the mirror's head is the chain's head; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        head = chain_head(rest)
        if mirror_head(db) == head:
            return head
        if sync is not None:
            assert sync.proc.poll() is None, f"sync exited:\n{sync.log()[-3000:]}"
        assert time.monotonic() < deadline, (f"mirror at {mirror_head(db)}, chain at {head}"
                                             + (f"\n{sync.log()[-3000:]}" if sync else ""))
        time.sleep(0.2)


def chain_contracts(rest: RestClient) -> dict[str, pb.Contract]:
    return {c.id: c for c in (pb.Contract.FromString(data)
                              for _, data in rest.state_prefix(addresses.contracts_prefix()))}


def chain_wallets(rest: RestClient) -> dict[str, pb.Wallet]:
    return {w.public_key: w for w in (pb.Wallet.FromString(data)
                                      for _, data in rest.state_prefix(addresses.MARKET.prefix(addresses.WALLET)))}


def assert_mirror_matches_chain(db: str, rest: RestClient) -> dict[str, int]:
    """The mirror at the chain's head holds exactly the chain's blocks, state
    entries, contracts and wallets: nothing lost, nothing doubled. Returns counts."""
    head_num, head_id = wait_synced(db, rest, timeout=5)
    engine = make_engine(db)
    try:
        with engine.connect() as conn:
            blocks = conn.execute(select(m.Block.block_num, m.Block.block_id).order_by(m.Block.block_num)).all()
            assert [b[0] for b in blocks] == list(range(head_num + 1)), "blocks missing or doubled"
            chain_ids = [b["header_signature"] for b in rest.blocks()][::-1]
            assert [b[1] for b in blocks] == chain_ids
            contracts = {r.contract_id: r for r in conn.execute(
                select(m.Contract).where(m.Contract.end_block.is_(None)))}
            wallets = {r.public_key: r for r in conn.execute(select(m.Wallet).where(m.Wallet.end_block.is_(None)))}
            entries = {address: family for address, family in conn.execute(
                select(m.StateEntry.address, m.StateEntry.family).where(m.StateEntry.end_block.is_(None)))}
            versions = conn.execute(select(func.count()).select_from(m.StateEntry)).scalar()
        on_chain = chain_contracts(rest)
        assert set(contracts) == set(on_chain)
        for cid, c in on_chain.items():
            row = contracts[cid]
            assert (row.buyer, row.seller, row.energy, row.base, row.surcharge, row.wire_fee, row.total, row.stage) \
                == (c.buyer, c.seller, c.energy, c.base, c.surcharge, c.wire_fee, c.total,
                    pb.Stage.Name(c.stage)), cid
        on_chain_wallets = chain_wallets(rest)
        assert {k: (w.balance, w.locked, w.credit_used) for k, w in wallets.items()} == \
            {k: (w.balance, w.locked, w.credit_used) for k, w in on_chain_wallets.items()}
        from sawgrid.clients.sync.deltas import namespaces

        leaves = {a for ns in namespaces() for a, _ in rest.state_prefix(ns)}
        assert set(entries) == leaves
        return {"blocks": len(blocks), "contracts": len(contracts), "wallets": len(wallets),
                "entries": len(entries), "versions": versions}
    finally:
        engine.dispose()
