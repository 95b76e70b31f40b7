"""300 participants trade one day's two delivery hours through devnet and in
process (what `--fast` runs): the same seed gives the same books, the same
contracts and the same wallets.

Each participant's key and orders follow from the seed: a third sell, the
rest buy, in both hours, at prices drawn from a few levels (so that a level
holds a dozen or more entries and orders trade across levels with partial
fills; pages of a level are tests/unit/test_market_book.py's), some with
grid fallback. The books are
compared before gate closure (every resting entry, in priority order, with
its remaining energy and lock), then every contract of the day (gate closure
adds the grid trades) and every wallet. State roots are not compared: the
ledgers differ in their BlockInfo records.

Cost: devnet start plus about 1,000 one-transaction batches: 25 s on the
2-core machine under heavy load (load average ~15); the in-process half
takes a few seconds. (The whole `sawgrid simulate` at 300 participants, with
settlement, does not fit CI: bench/README.md, `sawgrid simulate`.)
"""
from __future__ import annotations

import hashlib
import random

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.envelopes import make_batch

N = 300
SEED = 18
DAY = 20_000
HOURS = (10, 11)
GRID_BUY, GRID_SELL = 100_000, 120_000         # µEUR/kWh: some resting entries' limits reach them
LEVELS = [100_000, 120_000, 150_000, 180_000, 200_000, 250_000]
CHUNK = 100                                    # batches per POST


def private_key(name: str):
    return keys.private_key_from_hex(hashlib.sha256(f"{SEED}/{name}".encode()).hexdigest())


def signer(name: str):
    return keys.signer_for(private_key(name))


def pk(s) -> str:
    return s.get_public_key().as_hex()


def orders(participants) -> list[tuple[object, pb.MarketPayload]]:
    """The seeded flow: (signer, place_order payload), in submission order."""
    rng = random.Random(SEED)
    flow = []
    for hour in HOURS:
        for i, s in enumerate(participants):
            side = pb.SELL if i % 3 == 0 else pb.BUY
            price = rng.choice(LEVELS) if rng.random() < 0.8 else rng.randint(90_000, 260_000)
            flow.append((s, market.place_order(side, DAY, hour, rng.randint(100, 3_000), price,
                                               grid_fallback=rng.random() < 0.3)))
    return flow


def submit(ledger, batches) -> None:
    for start in range(0, len(batches), CHUNK):
        ledger.submit_and_wait(batches[start:start + CHUNK], timeout=300)


def batch(s, *payloads):
    return make_batch(s, [market.market_transaction(s, p) for p in payloads])


def trade(ledger, operator, participants, initialise: bool) -> dict:
    if initialise:  # devnet's genesis did this with the same operator key
        submit(ledger, [batch(operator, market.init(0))])
    submit(ledger, [batch(operator, market.set_wire_fee(10_000), market.fund(pk(operator), 10**12),
                          market.set_grid_prices(DAY, [GRID_BUY] * 24, [GRID_SELL] * 24))])
    submit(ledger, [batch(s, market.register(f"p{i}")) for i, s in enumerate(participants)])
    for start in range(0, N, 50):
        group = participants[start:start + 50]
        submit(ledger, [batch(operator, *[market.approve(pk(s)) for s in group],
                              *[market.fund(pk(s), 10**10) for s in group])])
    submit(ledger, [batch(s, payload) for s, payload in orders(participants)])
    reader = market.MarketReader(ledger)
    books = {hour: market.book_json(DAY, hour, reader.book(DAY, hour)) for hour in HOURS}
    submit(ledger, [batch(operator, market.close_hour(DAY, hour)) for hour in HOURS])
    return {"books": books,
            "contracts": [market.contract_json(c) for c in reader.contracts(DAY)],
            "wallets": [market.wallet_json(reader.wallet(pk(s))) for s in participants]}


def test_devnet_and_in_process_trade_300_participants_alike(make_devnet, tmp_path):
    operator = signer("operator")
    participants = [signer(f"p{i}") for i in range(N)]
    keys.save("operator", private_key("operator"), tmp_path / "keys", force=True)  # devnet's genesis operator
    net = make_devnet(processors=True)
    full = trade(RestClient(net.url), operator, participants, initialise=False)
    fast = trade(InProcessClient(), operator, participants, initialise=True)
    deep = max(len(b["offers"]) + len(b["orders"]) for b in full["books"].values())
    assert deep > 64, f"the books should be deep, the deepest holds {deep} entries"
    assert len({o["price_ueur_per_kwh"] for b in full["books"].values() for o in b["orders"]}) > 5
    assert full["books"] == fast["books"]
    assert any(c["grid"] for c in full["contracts"]) and any(not c["grid"] for c in full["contracts"])
    assert len(full["contracts"]) > N / 2
    assert full["contracts"] == fast["contracts"]
    assert full["wallets"] == fast["wallets"]
