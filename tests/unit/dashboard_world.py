"""What the dashboard's unit tests share: the handlers in-process as the
ledger (roles come from its market state) and an SQLite mirror written with
the sync's own schema, holding a few contracts of two members."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert

from sawgrid.clients.dashboard.app import create_app
from sawgrid.clients.dashboard.config import DashboardConfig
from sawgrid.clients.dashboard.signin import sign
from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sync import models as m
from sawgrid.clients.sync.database import open_database

DAY = 20_500


def contract(cid: str, seller: str, buyer: str, hour: int, energy: int, price: int, stage: str = "STAGE_UNSET",
             **extra) -> dict:
    base = energy * price // 1000
    row = dict(contract_id=cid, day=DAY, hour=hour, seller=seller, buyer=buyer, energy=energy, price=price,
               penalty=1000, base=base, surcharge=0, wire_fee=energy * 10, total=base + energy * 10, grid=False,
               buy_order="b", sell_order="s", stage=stage, cluster=[], leader="", escrow=0, credit=0, quorum=0,
               delivered=0, paid_base=0, paid_surcharge=0, paid_wire_fee=0, refunded=0, guarantee=0,
               declined_at="", cause="", cause_detail="", address="a" * 70, start_block=1)
    row.update(extra)
    return row


@dataclass
class World:
    ledger: InProcessClient
    operator: object
    alice: object
    bob: object
    stranger: object
    db_url: str

    def pk(self, signer) -> str:
        return signer.get_public_key().as_hex()

    def app(self, **config):
        cfg = DashboardConfig(db_url=self.db_url, rest_url="http://127.0.0.1:1", **config)
        app = create_app(cfg, ledger=self.ledger)
        app.testing = True
        return app


def make_world(tmp_path: Path) -> World:
    ledger = InProcessClient()
    operator, alice, bob, stranger = (keys.signer_for(keys.new_private_key()) for _ in range(4))
    market.submit(ledger, operator, [market.init(wire_fee=10_000)])
    for name, signer in (("alice", alice), ("bob", bob)):
        market.submit(ledger, signer, [market.register(name)])
    market.submit(ledger, operator, [market.approve(alice.get_public_key().as_hex())])  # bob stays pending
    url = f"sqlite:///{tmp_path / 'mirror.sqlite'}"
    db = open_database(url)
    a, b = alice.get_public_key().as_hex(), bob.get_public_key().as_hex()
    with db.engine.begin() as conn:
        conn.execute(insert(m.Block), [{"block_num": n, "block_id": f"{n:064x}", "previous_block_id": "0",
                                        "state_root_hash": "0" * 64, "changes": 0} for n in range(3)])
        conn.execute(insert(m.Participant), [
            dict(public_key=a, name="alice", status="APPROVED", address="p" * 70, start_block=1),
            dict(public_key=b, name="bob", status="PENDING", address="q" * 70, start_block=1)])
        conn.execute(insert(m.Contract), [
            contract(f"{DAY}/10/1", a, b, 10, 1500, 200_000),
            contract(f"{DAY}/11/2", b, a, 11, 800, 150_000),
            contract(f"{DAY}/12/3", a, b, 12, 1000, 100_000, stage="DECLINED", delivered=400, paid_base=40_000,
                     paid_wire_fee=4_000, cause="SHORT", guarantee=0),
            contract(f"{DAY}/13/4", a, b, 13, 500, 100_000, stage="PREPARED"),
        ])
        conn.execute(insert(m.Recommendation), [dict(public_key=a, day=DAY, hour=h, energy=100 * h,
                                                     address="r" * 70, start_block=1) for h in range(24)])
        conn.execute(insert(m.ReputationScore), [
            dict(public_key=a, score=800_000, first_day=DAY, settled=1, faults=0, validated=0, missed=0,
                 address="s" * 70, start_block=1, end_block=2),
            dict(public_key=a, score=850_000, first_day=DAY, settled=2, faults=0, validated=0, missed=0,
                 address="s" * 70, start_block=2, end_block=None)])
    db.engine.dispose()
    return World(ledger, operator, alice, bob, stranger, url)


def sign_in(client, signer, world: World | None = None):
    """Sign `signer` in through the JSON challenge and POST /login; the response."""
    challenge = client.get("/login/challenge").get_json()["challenge"]
    csrf = csrf_of(client)
    return client.post("/login", data={"challenge": challenge, "public_key": signer.get_public_key().as_hex(),
                                       "signature": sign(signer, challenge), "csrf_token": csrf})


def csrf_of(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    marker = 'name="csrf_token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]
