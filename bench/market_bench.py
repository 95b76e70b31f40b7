"""The market processor's cost, as ratios to the trivial kv processor in the same run.

    python bench/market_bench.py [--orders 2000] [--participants 8] [--clients 4]
                                 [--repeat 1000] [--books 10,100,1000] [--skip-devnet] [--json]
                                 [--depths 10,100,1000,10000] [--rounds 3] [--only-depth | --skip-depth]

(a) devnet — orders per second through a real devnet child process
    (`DevnetProcess`) with the market and kv processors, same run:
    * pre-signed one-transaction batches: `--orders` market `place_order`s
      from `--participants` approved, funded participants, and as many kv SETs
      on distinct keys (signing is not measured);
    * market orders go in pairs (a SELL at 0.10 EUR/kWh and a BUY at 0.12
      EUR/kWh from two different participants) on distinct delivery hours, so
      each book stays small and every pair makes one contract;
    * each set is POSTed by `--clients` threads; the figure is batches
      COMMITTED per second from the first POST until the last commit.
    Distinct hours make market orders independent, or nearly: since a match
    moves no money between wallets (the buyer's stays locked in its own
    wallet as the contract's escrow), a place_order declares only its own
    wallet (a BUY; a SELL none) and its hour's book, contracts, index and
    positions, plus reads that no order writes. Two orders conflict when they
    share an hour (the pair itself) or a buyer's wallet (pairs p and p +
    `--participants` have the same buyer), so devnet's scheduler runs most of
    them side by side, as it runs kv SETs on distinct keys. (Until the
    escrow change every place_order declared the whole wallet kind prefix —
    a trade paid whoever rested in the book — so any two market
    transactions conflicted and ran one after another.) What bounds the
    ratio since then is work per order, not conflicts: context messages
    (a BUY matching one makes 5, in 3 waits, against kv's 1), new Merkle
    leaves (about 3.5 per order against 1) and apply() itself; see
    bench/README.md, "Where the market path's time went".

(b) apply() in process — `MarketHandler.apply` driven by `InProcessLedger`'s
    context (no validator, no ZMQ), `time.perf_counter` around the call only,
    `--repeat` times on the same unchanged state, median µs:
    * a BUY that matches exactly one offer, against a book of N resting offers;
    * a SELL that matches nothing and rests in such a book;
    * the kv handler's SET, the baseline of the ratios.
    The context calls counted are calls, not waits: against a validator the
    market handler awaits its set_state, first event and receipt data
    together (`processors.base.write_outcome`).
    An order reads and writes the head, the price levels and pages it trades
    with (processors/market/book.py), so its cost does not grow with the book.

(c) apply() against book depth, before and after, in one run: a BUY taking
    exactly the head offer of a book of 10, 100, 1,000 and 10,000 resting
    offers (`--depths`), at distinct prices (the level empties and the best
    price moves on: the paged book's dearest case) and all at one price (the
    level stays: how `sawgrid simulate`'s books look), timed in worker processes that alternate, `--rounds`
    pairs: "before" imports `sawgrid` from `git archive LEGACY_COMMIT` (the
    last commit with one Book record per hour) unpacked into a temporary
    folder and put first on PYTHONPATH, "after" this tree. The old book is
    written into state directly, as the old handler would have kept it (its
    cap of 5,000 entries per side refused 10,000, and building it order by
    order costs O(size^2)); the new one is built order by order. Each worker
    also times the kv SET, and the figures are medians over the rounds.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devnet_throughput import throughput  # noqa: E402

from sawgrid.clients.sdk import keys  # noqa: E402
from sawgrid.clients.sdk.kv import kv_batch  # noqa: E402
from sawgrid.clients.sdk.rest import RestClient  # noqa: E402
from sawgrid.protos.envelopes import make_batch, make_transaction  # noqa: E402
from sawgrid.clients.sdk.devnet_process import DevnetProcess  # noqa: E402
from sawgrid.processors.kv.addresses import KV, kv_address  # noqa: E402
from sawgrid.processors.inprocess import InProcessContext, InProcessLedger, unsigned_transaction  # noqa: E402
from sawgrid.processors.kv.handler import KvHandler  # noqa: E402
from sawgrid.processors.market.addresses import MARKET, access, config_address  # noqa: E402
from sawgrid.processors.market.handler import MarketHandler  # noqa: E402
from sawgrid.protos import market_pb2 as pb  # noqa: E402
from sawgrid.protos.kv_pb2 import KvPayload  # noqa: E402
from sawgrid.protos.sawtooth import TransactionHeader, processor_pb2  # noqa: E402

DAY = 20_000
SELL_PRICE, BUY_PRICE = 100_000, 120_000   # µEUR/kWh
ENERGY = 1_000                             # Wh per order


def payload(action: str, **fields) -> pb.MarketPayload:
    message = pb.MarketPayload()
    getattr(message, action).CopyFrom(type(getattr(message, action))(**fields))
    return message


# ---------------------------------------------------------------- (a) devnet

def market_batch(signer, message: pb.MarketPayload):
    pk = signer.get_public_key().as_hex()
    inputs, outputs = access(message, pk)
    txn = make_transaction(signer, MARKET.name, MARKET.versions[0], message.SerializeToString(), inputs, outputs)
    return make_batch(signer, [txn])


def setup_market(url: str, key_dir: Path, participants) -> None:
    """Register, approve and fund every participant (not measured). devnet's
    genesis made the `operator` key of its key directory the market's operator
    (a devnet without that genesis step gets an init here)."""
    client = RestClient(url)
    if client.state(config_address()) is None:
        operator = keys.signer_for(keys.new_private_key())
        client.submit_and_wait([market_batch(operator, payload("init", wire_fee=2_000))], timeout=120)
    else:
        operator = keys.load_signer("operator", key_dir)
    client.submit_and_wait([market_batch(s, payload("register", name=f"p{i}")) for i, s in enumerate(participants)],
                           timeout=120)
    pks = [s.get_public_key().as_hex() for s in participants]
    client.submit_and_wait([market_batch(operator, payload("approve", public_key=pk)) for pk in pks], timeout=120)
    client.submit_and_wait([market_batch(operator, payload("fund", public_key=pk, amount=10**12)) for pk in pks],
                           timeout=120)


def order_batches(participants, n: int) -> list:
    """n orders in SELL/BUY pairs, pair p on its own delivery hour, seller and buyer distinct."""
    batches = []
    for i in range(n):
        pair = i // 2
        day, hour = DAY + pair // 24, pair % 24
        if i % 2 == 0:
            signer, side, price = participants[pair % len(participants)], pb.SELL, SELL_PRICE
        else:
            signer, side, price = participants[(pair + 1) % len(participants)], pb.BUY, BUY_PRICE
        batches.append(market_batch(signer, payload("place_order", side=side, day=day, hour=hour,
                                                    energy=ENERGY, price=price)))
    return batches


def serve_processors(url: str) -> None:
    """`--serve URL`: the kv and market handlers in one TransactionProcessor
    (used when `sawgrid tp` does not serve the market family yet)."""
    from sawtooth_sdk.processor.core import TransactionProcessor

    processor = TransactionProcessor(url=url)
    processor.add_handler(KvHandler())
    processor.add_handler(MarketHandler())

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        processor.start()
    finally:
        processor.stop()


def devnet_run(n: int, participants_count: int, clients: int, progress: bool) -> dict:
    from sawgrid.processors.registry import names

    builtin = "market" in names()
    participants = [keys.signer_for(keys.new_private_key()) for _ in range(participants_count)]
    kv_signer = keys.signer_for(keys.new_private_key())
    kv_batches = [kv_batch(kv_signer, f"k{i}", b"v") for i in range(n)]
    orders = order_batches(participants, n)
    with tempfile.TemporaryDirectory() as tmp:
        net = DevnetProcess(data_dir=Path(tmp) / "data", key_dir=Path(tmp) / "keys", processors=builtin).start()
        child = None
        try:
            if not builtin:
                child = subprocess.Popen([sys.executable, __file__, "--serve", net.component])
            RestClient(net.url).submit_and_wait([kv_batch(kv_signer, "warm-up")], timeout=60)
            setup_market(net.url, net.key_dir, participants)
            kv = throughput(net.url, kv_batches, clients, progress)
            market = throughput(net.url, orders, clients, progress)
            contracts = sum(1 for _ in RestClient(net.url).state_prefix(MARKET.prefix("08")))
        finally:
            if child is not None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
            net.stop()
    return {
        "processors": "devnet --processors" if builtin else "bench child process (market not in sawgrid tp yet)",
        "kv": kv,
        "market": market,
        "contracts": contracts,
        "market_to_kv": round(market["committed_per_second"] / kv["committed_per_second"], 3),
    }


# ---------------------------------------------------------------- (b) apply()

class CountingContext(InProcessContext):
    """Counts context calls: each is one request/response round trip to a validator."""

    calls = 0

    def get_state(self, *a, **k):
        self.calls += 1
        return super().get_state(*a, **k)

    def set_state(self, *a, **k):
        self.calls += 1
        return super().set_state(*a, **k)

    def delete_state(self, *a, **k):
        self.calls += 1
        return super().delete_state(*a, **k)

    def add_event(self, *a, **k):
        self.calls += 1
        return super().add_event(*a, **k)

    def add_receipt_data(self, *a, **k):
        self.calls += 1
        return super().add_receipt_data(*a, **k)


class Case:
    """One transaction to time: handler.apply(request) on a fixed state."""

    def __init__(self, handler, txn, state: dict) -> None:
        self.handler, self.state = handler, state
        self.header = TransactionHeader.FromString(txn.header)
        self.request = processor_pb2.TpProcessRequest(header=self.header, payload=txn.payload,
                                                      signature=txn.header_signature)
        check = CountingContext(self.header.inputs, self.header.outputs, state.get)
        handler.apply(self.request, check)  # raises if the transaction is not valid here
        self.calls = check.calls
        self.times: list[float] = []

    def once(self) -> None:
        context = InProcessContext(self.header.inputs, self.header.outputs, self.state.get)
        start = time.perf_counter()
        self.handler.apply(self.request, context)
        self.times.append(time.perf_counter() - start)

    @property
    def median_us(self) -> float:
        return statistics.median(self.times) * 1e6


def time_cases(cases: list[Case], repeat: int) -> None:
    """`repeat` rounds, each calling every case once (interleaved, so that a
    busy machine or a clock change affects all cases alike); GC off meanwhile."""
    for case in cases:  # warm-up
        for _ in range(10):
            case.once()
        case.times.clear()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            for case in cases:
                case.once()
    finally:
        gc.enable()


def key(i: int | str) -> str:
    import hashlib
    return "02" + hashlib.sha256(str(i).encode()).hexdigest()


class Book:
    """An in-process market whose hour-0 book holds `size` resting offers."""

    def __init__(self, handler: MarketHandler, size: int, sellers: int = 10) -> None:
        self.handler = handler
        self.ledger = InProcessLedger([handler])
        self.operator, self.buyer = key("operator"), key("buyer")
        self.sellers = [key(f"seller{i}") for i in range(sellers)]
        self.must(payload("init", wire_fee=2_000), self.operator)
        for pk in [self.buyer, *self.sellers]:
            self.must(payload("register", name="x"), pk)
            self.must(payload("approve", public_key=pk), self.operator)
            self.must(payload("fund", public_key=pk, amount=10**12), self.operator)
        for i in range(size):  # prices 0.100000.. EUR/kWh rising, so the head is the cheapest
            self.must(payload("place_order", side=pb.SELL, day=DAY, hour=0, energy=ENERGY,
                              price=SELL_PRICE + i), self.sellers[i % sellers])

    def txn(self, message: pb.MarketPayload, signer: str):
        inputs, outputs = access(message, signer)
        return unsigned_transaction(MARKET.name, "1.0", message.SerializeToString(), inputs, outputs, signer)

    def must(self, message: pb.MarketPayload, signer: str) -> None:
        result = self.ledger.apply(self.txn(message, signer))
        assert result.valid, result.invalid_message

    def buy_matching_one(self):
        """Takes exactly the head offer (same energy, limit between the first and second offer's price)."""
        return self.txn(payload("place_order", side=pb.BUY, day=DAY, hour=0, energy=ENERGY, price=SELL_PRICE),
                        self.buyer)

    def sell_resting(self):
        """Crosses nothing (no bids in the book) and rests in the middle of the offers."""
        return self.txn(payload("place_order", side=pb.SELL, day=DAY, hour=0, energy=ENERGY,
                                price=SELL_PRICE + len(self.sellers) // 2), self.buyer)


def apply_run(sizes: list[int], repeat: int) -> dict:
    kv_body = KvPayload(action=KvPayload.SET, key="bench", value=b"v").SerializeToString()
    kv = Case(KvHandler(), unsigned_transaction(KV.name, "1.0", kv_body, [kv_address("bench")],
                                                [kv_address("bench")], key("kv")), {})
    handler = MarketHandler()
    books = {size: Book(handler, size) for size in sizes}
    buys = {size: Case(handler, b.buy_matching_one(), b.ledger.state) for size, b in books.items()}
    sells = {size: Case(handler, b.sell_resting(), b.ledger.state) for size, b in books.items()}
    time_cases([kv, *buys.values(), *sells.values()], repeat)
    rows = []
    for size, book in books.items():
        state = book.ledger.state
        book_bytes = max(len(v) for a, v in state.items()  # the largest record an order rewrites
                         if a.startswith((MARKET.prefix("07"), MARKET.prefix("0c"))))
        buy_us, sell_us = buys[size].median_us, sells[size].median_us
        rows.append({
            "resting_offers": size,
            "book_bytes": book_bytes,
            "buy_matching_one_us": round(buy_us, 1),
            "buy_to_kv": round(buy_us / kv.median_us, 1),
            "sell_resting_us": round(sell_us, 1),
            "sell_to_kv": round(sell_us / kv.median_us, 1),
        })
    return {"repeat": repeat, "kv_set_us": round(kv.median_us, 1), "books": rows,
            "context_calls": {"kv_set": kv.calls, "buy_matching_one": buys[sizes[0]].calls,
                              "sell_resting": sells[sizes[0]].calls}}


# ---------------------------------------------------------------- (c) apply() against book depth, before and after

LEGACY_COMMIT = "b61f9d6"   # the last commit with one Book record per hour (before processors/market/book.py)
DEPTHS = "10,100,1000,10000"


def depth_case(handler, size: int, direct: bool, one_price: bool = False) -> tuple[Case, int]:
    """A BUY taking exactly the head offer of a book with `size` resting offers
    (10 sellers) at distinct prices (the head's level empties, the best price
    moves on), or with `one_price` all at one price (the level stays: what
    `sawgrid simulate`'s books look like). `direct`: the old layout's Book record is
    written into state as the old handler would have kept it (its
    MAX_BOOK_ORDERS = 5,000 refused a 10,000-entry side, and building a big
    book order by order costs O(size²) there); otherwise the offers are
    placed one by one. Returns the case and the largest book record's bytes."""
    from sawgrid.processors.market.addresses import book_address
    from sawgrid.processors.reputation import eligibility
    from sawgrid.processors.reputation.settings import DEFAULTS

    market = Book(handler, 0)
    if direct:
        score = eligibility.score_of(None, DEFAULTS)
        offers = [pb.Order(id=f"{DAY}/0/{i + 1}", owner=market.sellers[i % len(market.sellers)], side=pb.SELL,
                           price=SELL_PRICE + (0 if one_price else i), energy=ENERGY, remaining=ENERGY, seq=i + 1,
                           owner_score=score)
                  for i in range(size)]
        book = pb.Book(day=DAY, hour=0, next_seq=size + 1, offers=offers)
        market.ledger.state[book_address(DAY, 0)] = book.SerializeToString(deterministic=True)
    else:
        for i in range(size):
            market.must(payload("place_order", side=pb.SELL, day=DAY, hour=0, energy=ENERGY,
                                price=SELL_PRICE + (0 if one_price else i)), market.sellers[i % len(market.sellers)])
    largest = max(len(v) for a, v in market.ledger.state.items()
                  if a.startswith((MARKET.prefix("07"), MARKET.prefix("0c"))))
    return Case(handler, market.buy_matching_one(), market.ledger.state), largest


def depth_worker(sizes: list[int], repeat: int, direct: bool) -> dict:
    """One side of (c), in whatever `sawgrid` this process imports."""
    import sawgrid.processors.market.handler as module
    kv_body = KvPayload(action=KvPayload.SET, key="bench", value=b"v").SerializeToString()
    kv = Case(KvHandler(), unsigned_transaction(KV.name, "1.0", kv_body, [kv_address("bench")],
                                                [kv_address("bench")], key("kv")), {})
    handler = MarketHandler()
    cases = {size: depth_case(handler, size, direct) for size in sizes}
    level = {size: depth_case(handler, size, direct, one_price=True)[0] for size in sizes}
    time_cases([kv, *(c for c, _ in cases.values()), *level.values()], repeat)
    return {"handler": module.__file__, "kv_set_us": kv.median_us,
            "depths": {str(size): {"buy_us": case.median_us, "buy_one_price_us": level[size].median_us,
                                   "largest_record_bytes": largest}
                       for size, (case, largest) in cases.items()}}


def legacy_tree(commit: str, into: Path) -> Path:
    """`git archive` of `commit` unpacked as `into/sawgrid`: put `into` first
    on PYTHONPATH and `import sawgrid` is that commit's code (read only; the
    working tree and the repository are not touched)."""
    root = Path(__file__).resolve().parent.parent
    target = into / "sawgrid"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", commit], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return into


def depth_run(sizes: list[int], repeat: int, rounds: int, legacy: str, progress: bool) -> dict:
    """Before (the legacy commit) and after (this tree), in one run: `rounds`
    alternating pairs of worker processes, each timing every depth."""
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory(prefix="sawgrid-legacy-") as tmp:
        legacy_path = legacy_tree(legacy, Path(tmp))
        for r in range(rounds):
            for name in ("before", "after"):
                env = dict(os.environ)
                argv = [sys.executable, __file__, "--depth-worker", ",".join(map(str, sizes)),
                        "--repeat", str(repeat)]
                if name == "before":
                    env["PYTHONPATH"] = str(legacy_path) + os.pathsep + env.get("PYTHONPATH", "")
                    argv.append("--direct")
                out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True).stdout
                runs[name].append(json.loads(out))
                if progress:
                    print(f"  round {r + 1}/{rounds}: {name} measured", file=sys.stderr)
    rows = []
    for size in sizes:
        row = {"resting_offers": size}
        for name in ("before", "after"):
            us = [run["depths"][str(size)]["buy_us"] for run in runs[name]]
            one = [run["depths"][str(size)]["buy_one_price_us"] for run in runs[name]]
            kv = [run["kv_set_us"] for run in runs[name]]
            row[f"{name}_us"] = round(statistics.median(us), 1)
            row[f"{name}_us_range"] = [round(min(us), 1), round(max(us), 1)]
            row[f"{name}_to_kv"] = round(statistics.median(u / k for u, k in zip(us, kv)), 1)
            row[f"{name}_one_price_us"] = round(statistics.median(one), 1)
            row[f"{name}_one_price_us_range"] = [round(min(one), 1), round(max(one), 1)]
            row[f"{name}_largest_record_bytes"] = runs[name][0]["depths"][str(size)]["largest_record_bytes"]
        rows.append(row)
    first, first_one = rows[0]["after_us"], rows[0]["after_one_price_us"]
    for row in rows:  # the curve's flatness: each depth against the shallowest, after
        row["after_vs_shallowest"] = round(row["after_us"] / first, 2)
        row["after_one_price_vs_shallowest"] = round(row["after_one_price_us"] / first_one, 2)
    return {"legacy_commit": legacy, "rounds": rounds, "repeat": repeat, "rows": rows,
            "handlers": {name: runs[name][0]["handler"] for name in runs}}


# ---------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000, help="market orders (and kv batches) on devnet")
    parser.add_argument("--participants", type=int, default=8)
    parser.add_argument("--clients", type=int, default=4, help="concurrent POSTing threads")
    parser.add_argument("--repeat", type=int, default=1000, help="apply() calls per measurement")
    parser.add_argument("--books", default="10,100,1000", help="(b) resting offers in the book, comma-separated")
    parser.add_argument("--skip-devnet", action="store_true", help="only the in-process apply() measurements")
    parser.add_argument("--skip-apply", action="store_true", help="only the devnet measurements")
    parser.add_argument("--depths", default=DEPTHS,
                        help=f"(c) resting offers for the before/after depth curve (default {DEPTHS})")
    parser.add_argument("--rounds", type=int, default=3, help="(c) alternating before/after pairs")
    parser.add_argument("--legacy", default=LEGACY_COMMIT, help="(c) the commit measured as 'before'")
    parser.add_argument("--skip-depth", action="store_true", help="skip (c), the before/after depth curve")
    parser.add_argument("--only-depth", action="store_true", help="only (c)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--depth-worker", metavar="SIZES", help=argparse.SUPPRESS)
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_processors(args.serve)
        return 0
    if args.depth_worker:
        print(json.dumps(depth_worker([int(s) for s in args.depth_worker.split(",")], args.repeat, args.direct)))
        return 0
    if args.only_depth:
        args.skip_apply = args.skip_devnet = True
    if args.participants < 2:
        parser.error("--participants must be at least 2 (nobody trades with themselves)")
    result: dict = {"cpus": os.cpu_count()}
    if not args.skip_apply:
        result["apply"] = apply_run([int(s) for s in args.books.split(",")], args.repeat)
    if not args.skip_depth:
        result["depth"] = depth_run([int(s) for s in args.depths.split(",")], args.repeat, args.rounds,
                                    args.legacy, progress=not args.json)
    if not args.skip_devnet:
        result["devnet"] = devnet_run(args.orders, args.participants, args.clients, progress=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if "apply" in result:
        a = result["apply"]
        print(f"apply() in process, median of {a['repeat']} calls; kv SET: {a['kv_set_us']} µs")
        print(f"{'resting offers':>14} {'book bytes':>10} {'BUY matching one':>22} {'SELL resting':>22}")
        for row in a["books"]:
            print(f"{row['resting_offers']:>14} {row['book_bytes']:>10} "
                  f"{row['buy_matching_one_us']:>10} µs ({row['buy_to_kv']:>5}x kv) "
                  f"{row['sell_resting_us']:>10} µs ({row['sell_to_kv']:>5}x kv)")
        c = a["context_calls"]
        print(f"context calls (validator round trips) per apply: kv SET {c['kv_set']}, "
              f"BUY matching one {c['buy_matching_one']}, SELL resting {c['sell_resting']}")
    if "depth" in result:
        d = result["depth"]
        print(f"(c) BUY matching one offer vs book depth, before ({d['legacy_commit']}) and after, "
              f"median of {d['rounds']} rounds x {d['repeat']} calls")
        print(f"{'resting offers':>14} {'before':>22} {'after':>22} {'after / shallowest':>18}"
              f" {'one price: before':>18} {'after':>10} {'/ shallowest':>12}")
        for row in d["rows"]:
            print(f"{row['resting_offers']:>14} {row['before_us']:>10} µs ({row['before_to_kv']:>5}x kv) "
                  f"{row['after_us']:>10} µs ({row['after_to_kv']:>5}x kv) {row['after_vs_shallowest']:>18}"
                  f" {row['before_one_price_us']:>15} µs {row['after_one_price_us']:>7} µs"
                  f" {row['after_one_price_vs_shallowest']:>12}")
    if "devnet" in result:
        d = result["devnet"]
        print(f"devnet ({d['processors']}), {args.clients} clients, one transaction per batch:")
        for name in ("kv", "market"):
            t = d[name]
            print(f"  {name:>6}: {t['committed_per_second']:>7} committed/s "
                  f"({t['committed']}/{t['batches']} in {t['total_seconds']} s)")
        print(f"  market/kv = {d['market_to_kv']}; {d['contracts']} contracts written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
