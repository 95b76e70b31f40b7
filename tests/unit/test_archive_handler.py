"""sawgrid-archive handler rules on the in-process ledger.

Settlement (processors/reputation) is what makes contracts final; these tests
do not depend on it: they write a day's market records (closed books, SETTLED
and DECLINED contracts, hour indexes, positions, recommendations, readings and
settlements) straight into the ledger's state, then run the archive's
transactions through the handler with the inputs/outputs a client declares.
Every expected number below is worked out by hand from the contracts, not by
the code under test.
"""
from __future__ import annotations

import hashlib

import pytest

from sawgrid.clients.sdk import archive as sdk
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.processors.archive import addresses as addr
from sawgrid.processors.archive.handler import ArchiveHandler
from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import addresses as market
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import archive_pb2 as pb
from sawgrid.protos import market_pb2 as mpb
from sawgrid.protos import reputation_pb2 as rpb

DAY = 20_000
HOURS = range(24)


def key(name: str) -> str:
    return "02" + hashlib.sha256(name.encode()).hexdigest()


OP, ALICE, BOB, CAROL, DAVE = (key(n) for n in ("op", "alice", "bob", "carol", "dave"))


def contract(hour: int, seq: int, seller: str, buyer: str, energy: int, price: int, *, delivered: int,
             paid_base: int, paid_surcharge: int = 0, paid_wire_fee: int = 0, refunded: int = 0,
             guarantee: int = 0, grid: bool = False, stage=mpb.SETTLED, penalty: int = 1000,
             day: int = DAY) -> mpb.Contract:
    return mpb.Contract(id=f"{day}/{hour}/{seq}", day=day, hour=hour, seller=seller, buyer=buyer, energy=energy,
                        price=price, penalty=penalty, grid=grid, stage=stage, delivered=delivered,
                        paid_base=paid_base, paid_surcharge=paid_surcharge, paid_wire_fee=paid_wire_fee,
                        refunded=refunded, guarantee=guarantee)


def the_day_contracts(day: int = DAY) -> list[mpb.Contract]:
    """Five contracts in two hours (the canonical order: hour, then creation order)."""
    return [
        # 07h: bob -> alice P2P, 2 kWh at 0.20, fee 0.01/kWh: 400,000 + 20,000
        contract(7, 3, BOB, ALICE, 2000, 200_000, delivered=2000, paid_base=400_000, paid_wire_fee=20_000, day=day),
        # 07h: the grid sells carol 1 kWh at 0.30, penalty 1.5x: 300,000 + 150,000
        contract(7, 5, OP, CAROL, 1000, 300_000, delivered=1000, paid_base=300_000, paid_surcharge=150_000,
                 grid=True, penalty=1500, day=day),
        # 18h: bob -> carol, 3 kWh contracted, 1.5 delivered (declined, shortfall), paid pro rata
        contract(18, 2, BOB, CAROL, 3000, 200_000, delivered=1500, paid_base=300_000, paid_surcharge=60_000,
                 paid_wire_fee=15_000, refunded=375_000, stage=mpb.DECLINED, penalty=1200, day=day),
        # 18h: alice sells 0.5 kWh to the grid at 0.10
        contract(18, 4, ALICE, OP, 500, 100_000, delivered=500, paid_base=50_000, grid=True, day=day),
        # 18h: bob -> alice, alice defaults; the operator's guarantee pays bob 1 kWh at the grid buy price
        contract(18, 6, BOB, ALICE, 1000, 250_000, delivered=1000, paid_base=100_000, guarantee=100_000,
                 stage=mpb.DECLINED, day=day),
    ]


RECOMMENDED = {
    ALICE: {7: 1000, 12: 1000, 18: 1000},  # bought 2000 at 7, 1000 at 18 -> min 1000+0+1000 = 2000 of 3000
    CAROL: {7: 500, 18: 2000},             # bought 1000 at 7, 1500 at 18 -> min 500+1500 = 2000 of 2500
    DAVE: {0: 100},                        # bought nothing -> 0 of 100
}
PENALTIES = [1500 if h == 7 else 1200 if h == 18 else 1000 for h in HOURS]


class Chain:
    """A ledger running the archive handler over market records written directly."""

    def __init__(self) -> None:
        self.ledger = InProcessLedger([ArchiveHandler()])
        self.put(market.config_address(), mpb.Config(operators=sorted([OP, DAVE]), system_operator=OP))

    def put(self, address: str, message) -> None:
        self.ledger.state[address] = message.SerializeToString(deterministic=True)

    def get(self, address: str, cls):
        raw = self.ledger.get(address)
        return None if raw is None else cls.FromString(raw)

    def write_day(self, day: int, contracts=(), *, closed=HOURS, books=HOURS, recommended=None,
                  penalties=None, grid=True, readings=True) -> None:
        for h in books:
            self.put(market.book_address(day, h), mpb.Book(day=day, hour=h, closed=h in closed, next_seq=10))
        per_hour: dict[int, list[mpb.Contract]] = {}
        for c in contracts:
            per_hour.setdefault(c.hour, []).append(c)
            self.put(market.contract_address(day, c.hour, c.id), c)
            if readings:
                self.put(reputation.settlement_address(day, c.hour, c.id), rpb.Settlement(contract_id=c.id, final=True))
        for h, found in per_hour.items():
            self.put(market.hour_index_address(day, h), mpb.HourIndex(day=day, hour=h, contracts=[c.id for c in found]))
            for pk in sorted({c.seller for c in found} | {c.buyer for c in found}):
                self.put(market.position_address(day, h, pk), mpb.Position(
                    public_key=pk, day=day, hour=h, sold=[c.id for c in found if c.seller == pk],
                    bought=[c.id for c in found if c.buyer == pk]))
                if readings:
                    self.put(reputation.reading_address(day, h, pk), rpb.Reading(public_key=pk, day=day, hour=h))
        if recommended:
            self.put(market.recommendation_index_address(day),
                     mpb.RecommendationIndex(day=day, public_keys=sorted(recommended)))
            for pk, schedule in recommended.items():
                self.put(market.recommendation_address(day, pk), mpb.RecommendationRecord(
                    public_key=pk, day=day, schedule=[schedule.get(h, 0) for h in HOURS]))
        if penalties is not None:
            self.put(market.penalties_address(day), mpb.Penalties(day=day, multipliers=penalties))
        if grid:
            self.put(market.grid_prices_address(day), mpb.GridPrices(day=day, buy=[100_000] * 24, sell=[300_000] * 24))

    def empty_day(self, day: int) -> None:
        """A day whose 24 hours were closed without a trade."""
        self.write_day(day, grid=False)

    def run(self, payload: pb.ArchivePayload, signer: str = OP):
        try:
            inputs, outputs = addr.access(payload, signer)
        except ValueError:  # no action: no client could derive its addresses
            inputs = outputs = [addr.ARCHIVE.namespace]
        txn = unsigned_transaction(addr.ARCHIVE.name, "1.0", payload.SerializeToString(), inputs, outputs, signer)
        return self.ledger.apply(txn), txn.header_signature

    def ok(self, payload: pb.ArchivePayload, signer: str = OP) -> str:
        result, txn_id = self.run(payload, signer)
        assert result.valid, result.invalid_message
        return txn_id

    def refused(self, payload: pb.ArchivePayload, message: str, signer: str = OP) -> str:
        before = dict(self.ledger.state)
        result, _ = self.run(payload, signer)
        assert not result.valid
        assert result.invalid_message == message, result.invalid_message
        assert self.ledger.state == before  # byte-identical: nothing written or deleted
        return result.invalid_message

    def record(self, day: int) -> pb.DayArchive | None:
        return self.get(addr.day_address(day), pb.DayArchive)

    def head(self) -> pb.ArchiveHead | None:
        return self.get(addr.head_address(), pb.ArchiveHead)


@pytest.fixture
def chain() -> Chain:
    c = Chain()
    c.write_day(DAY, the_day_contracts(), recommended=RECOMMENDED, penalties=PENALTIES)
    return c


def framed_sha512(blobs) -> str:
    h = hashlib.sha512()
    for blob in blobs:
        h.update(len(blob).to_bytes(8, "big") + blob)
    return h.hexdigest()


def participant(record: pb.DayArchive, pk: str) -> pb.ParticipantDay:
    (found,) = [p for p in record.participants if p.public_key == pk]
    return found


# ------------------------------------------------------------------ the record

def test_the_record_holds_the_days_numbers(chain):
    txn_id = chain.ok(sdk.archive_day(DAY))
    r = chain.record(DAY)
    assert (r.day, r.contracts, r.settled, r.declined, r.contracted_wh) == (DAY, 5, 3, 2, 7500)
    assert r.transaction_id == txn_id and r.system_operator == OP
    traded = [0] * 24
    traded[7], traded[18] = 2000 + 1000, 1500 + 500 + 1000
    load = list(traded)
    load[18] -= 500  # what the system operator bought is not load
    assert list(r.traded_wh) == traded and list(r.load_wh) == load
    assert r.par_ppm == 5500 * 1_000_000 // (24 * 3000) == 76_388
    assert r.penalties_set and list(r.penalties) == PENALTIES
    assert r.grid_prices_set and list(r.grid_buy) == [100_000] * 24 and list(r.grid_sell) == [300_000] * 24
    assert [p.public_key for p in r.participants] == sorted([OP, ALICE, BOB, CAROL, DAVE])


def test_energy_and_money_per_participant(chain):
    chain.ok(sdk.archive_day(DAY))
    r = chain.record(DAY)

    def figures(pk):
        p = participant(r, pk)
        return dict(bought=(p.bought_p2p_wh, p.bought_grid_wh), sold=(p.sold_p2p_wh, p.sold_grid_wh),
                    paid=(p.paid_base, p.paid_wire_fee, p.paid_surcharge, p.paid_guarantee),
                    received=(p.received_base, p.received_wire_fee, p.received_surcharge),
                    contracts=(p.contracts, p.declined))

    # alice: bought 2 kWh + 1 kWh P2P (defaulted on the second: she paid nothing for it), sold 0.5 kWh to the grid
    assert figures(ALICE) == dict(bought=(3000, 0), sold=(0, 500), paid=(400_000, 20_000, 0, 0),
                                  received=(50_000, 0, 0), contracts=(3, 1))
    # bob: sold 2 + 1.5 + 1 kWh P2P; received 400,000 + 300,000 + the 100,000 guarantee
    assert figures(BOB) == dict(bought=(0, 0), sold=(4500, 0), paid=(0, 0, 0, 0),
                                received=(800_000, 0, 0), contracts=(3, 2))
    # carol: 1 kWh from the grid, 1.5 of 3 kWh P2P; the refund (375,000) is not paid
    assert figures(CAROL) == dict(bought=(1500, 1000), sold=(0, 0), paid=(600_000, 15_000, 210_000, 0),
                                  received=(0, 0, 0), contracts=(2, 1))
    # the system operator: sold 1 kWh, bought 0.5 kWh, paid one guarantee, took the fees and surcharges
    assert figures(OP) == dict(bought=(0, 500), sold=(0, 1000), paid=(50_000, 0, 0, 100_000),
                               received=(300_000, 35_000, 210_000), contracts=(2, 0))
    # dave only had a recommendation
    assert figures(DAVE) == dict(bought=(0, 0), sold=(0, 0), paid=(0, 0, 0, 0), received=(0, 0, 0),
                                 contracts=(0, 0))
    # money adds up: everything paid was received
    paid = sum(p.paid_base + p.paid_wire_fee + p.paid_surcharge + p.paid_guarantee for p in r.participants)
    received = sum(p.received_base + p.received_wire_fee + p.received_surcharge for p in r.participants)
    assert paid == received == 420_000 + 825_000 + 150_000


def test_recommendations_and_how_far_they_were_followed(chain):
    chain.ok(sdk.archive_day(DAY))
    r = chain.record(DAY)
    assert (r.recommendations, r.recommended_wh) == (3, 3000 + 2500 + 100)
    assert r.followed_permille == (2000 + 2000 + 0) * 1000 // 5600 == 714
    followed = {pk: (participant(r, pk).recommended, participant(r, pk).recommended_wh,
                     participant(r, pk).followed_permille) for pk in (ALICE, CAROL, DAVE, BOB)}
    assert followed == {ALICE: (True, 3000, 666), CAROL: (True, 2500, 800), DAVE: (True, 100, 0),
                        BOB: (False, 0, 0)}
    index = mpb.RecommendationIndex(day=DAY, public_keys=sorted(RECOMMENDED))
    records = [chain.ledger.get(market.recommendation_address(DAY, pk)) for pk in index.public_keys]
    assert r.recommendations_digest == framed_sha512(records)


def test_contracts_digest_covers_every_contract_in_canonical_order(chain):
    chain.ok(sdk.archive_day(DAY))
    expected = framed_sha512(c.SerializeToString(deterministic=True) for c in the_day_contracts())
    assert chain.record(DAY).contracts_digest == expected
    # the order is the hour's index (creation) order, not the order of ids or addresses
    shuffled = the_day_contracts()
    assert framed_sha512(c.SerializeToString(deterministic=True) for c in reversed(shuffled)) != expected


def test_empty_day(chain):
    chain.empty_day(DAY + 1)
    chain.ok(sdk.archive_day(DAY + 1))
    r = chain.record(DAY + 1)
    assert (r.contracts, r.par_ppm, r.recommendations, r.followed_permille) == (0, 1_000_000, 0, 1000)
    assert list(r.traded_wh) == [0] * 24 and list(r.penalties) == [1000] * 24 and not r.penalties_set
    assert not r.grid_prices_set and list(r.grid_buy) == [] and list(r.participants) == []
    assert r.contracts_digest == hashlib.sha512(b"").hexdigest()


# ------------------------------------------------------------------ the hash chain

def record_sha512(r: pb.DayArchive) -> str:
    copy = pb.DayArchive()
    copy.CopyFrom(r)
    copy.ClearField("digest")
    return hashlib.sha512(copy.SerializeToString(deterministic=True)).hexdigest()


def test_records_form_a_hash_chain(chain):
    chain.ok(sdk.archive_day(DAY))
    first = chain.record(DAY)
    assert first.previous_digest == "" and first.digest == record_sha512(first)
    assert chain.head() == pb.ArchiveHead(day=DAY, digest=first.digest, days=1)

    chain.empty_day(DAY + 1)
    chain.empty_day(DAY + 3)  # DAY + 2 had no trading at all: it is skipped
    chain.ok(sdk.archive_day(DAY + 1))
    chain.ok(sdk.archive_day(DAY + 3))
    second, third = chain.record(DAY + 1), chain.record(DAY + 3)
    assert (second.previous_day, second.previous_digest) == (DAY, first.digest)
    assert (third.previous_day, third.previous_digest) == (DAY + 1, second.digest)
    assert second.digest == record_sha512(second) and third.digest == record_sha512(third)
    assert chain.head() == pb.ArchiveHead(day=DAY + 3, digest=third.digest, days=3)
    # two empty days differ in their digest: the day and the chain link are in it
    assert second.digest != third.digest


def test_the_client_recomputes_the_same_record_and_detects_tampering(chain):
    client = InProcessClient()
    client.ledger = chain.ledger
    chain.ok(sdk.archive_day(DAY))
    assert sdk.verify_day(client, DAY).ok

    # a contract doctored after archiving
    c = the_day_contracts()[2]
    c.paid_base += 1
    address = market.contract_address(DAY, c.hour, c.id)
    original = chain.ledger.state[address]
    chain.put(address, c)
    result = sdk.verify_day(client, DAY)
    assert not result.ok and result.reason.startswith("contracts digest differs")
    chain.ledger.state[address] = original

    # an archive record doctored (digest left as it was)
    r = chain.record(DAY)
    r.participants[0].paid_base += 1
    original = chain.ledger.state[addr.day_address(DAY)]
    chain.put(addr.day_address(DAY), r)
    result = sdk.verify_day(client, DAY)
    assert not result.ok and "does not match its own digest" in result.reason
    # ... and doctored with a fresh digest: the recomputation still disagrees
    r.digest = record_sha512(r)
    chain.put(addr.day_address(DAY), r)
    result = sdk.verify_day(client, DAY)
    assert not result.ok and result.reason.startswith("record field participants differs"), result.reason
    chain.ledger.state[addr.day_address(DAY)] = original
    assert sdk.verify_day(client, DAY).ok

    # a contract on chain that no hour index lists
    extra = contract(9, 1, BOB, ALICE, 1, 1, delivered=1, paid_base=0)
    chain.put(market.contract_address(DAY, 9, extra.id), extra)
    result = sdk.verify_day(client, DAY)
    assert not result.ok and result.reason == f"contract {DAY}/9/1 is on chain at the current state but in no hour index"


def test_a_broken_chain_link_is_detected(chain):
    client = InProcessClient()
    client.ledger = chain.ledger
    chain.ok(sdk.archive_day(DAY))
    chain.empty_day(DAY + 1)
    chain.ok(sdk.archive_day(DAY + 1))
    r = chain.record(DAY)
    r.par_ppm += 1
    r.digest = record_sha512(r)  # a consistent but different record for DAY
    chain.put(addr.day_address(DAY), r)
    result = sdk.verify_day(client, DAY + 1)
    assert not result.ok and result.reason.startswith("hash chain broken")


# ------------------------------------------------------------------ refusals

def test_refused_while_an_hour_is_open(chain):
    chain.write_day(DAY + 1, closed=range(23))
    chain.refused(sdk.archive_day(DAY + 1), f"archive_day.day: hour {DAY + 1}/23 is not closed: "
                                            f"a day is archived once all 24 hours are closed")
    chain.write_day(DAY + 2, books=range(12))  # hour 12 never had a book
    chain.refused(sdk.archive_day(DAY + 2), f"archive_day.day: hour {DAY + 2}/12 is not closed: "
                                            f"a day is archived once all 24 hours are closed")


def test_refused_while_a_contract_is_not_final_naming_the_first(chain):
    contracts = the_day_contracts(DAY + 1)
    contracts[1].stage = mpb.EXECUTION
    contracts[3].stage = mpb.PREPARED
    chain.write_day(DAY + 1, contracts)
    chain.refused(sdk.archive_day(DAY + 1), f"archive_day.day: contract {DAY + 1}/7/5 is not final (stage EXECUTION): "
                                            f"every contract of the day must be SETTLED or DECLINED")


def test_refused_for_a_day_already_archived_or_out_of_order(chain):
    chain.empty_day(DAY + 1)
    chain.empty_day(DAY + 2)
    chain.ok(sdk.archive_day(DAY + 2))
    chain.refused(sdk.archive_day(DAY + 2), f"archive_day.day: day {DAY + 2} is already archived")
    chain.refused(sdk.archive_day(DAY + 1), f"archive_day.day: days are archived in increasing order: the newest "
                                            f"archived day is {DAY + 2}, so only later days can be archived")
    chain.refused(sdk.archive_day(DAY), f"archive_day.day: days are archived in increasing order: the newest "
                                        f"archived day is {DAY + 2}, so only later days can be archived")


def test_refused_for_a_non_operator(chain):
    for payload in (sdk.archive_day(DAY), sdk.prune_day(DAY), sdk.configure(3)):
        chain.refused(payload, "signer: not an operator", signer=ALICE)
    chain.ok(sdk.archive_day(DAY), signer=DAVE)  # any operator, not only the system operator


def test_refused_for_a_missing_indexed_contract(chain):
    contracts = the_day_contracts(DAY + 1)
    chain.write_day(DAY + 1, contracts)
    del chain.ledger.state[market.contract_address(DAY + 1, 18, contracts[3].id)]
    chain.refused(sdk.archive_day(DAY + 1), f"archive_day.day: contract {DAY + 1}/18/4, listed in the index of "
                                            f"hour {DAY + 1}/18, is missing")


def test_payload_refusals():
    chain = Chain()
    chain.refused(sdk.archive_day(3_000_000), "archive_day.day: must be 0..2932896, got 3000000")
    chain.refused(sdk.configure(0), "configure.retention_days: must be 1..36500, got 0")
    chain.refused(pb.ArchivePayload(), "payload: no action set")


# ------------------------------------------------------------------ pruning

def archive_days(chain: Chain, first: int, last: int) -> None:
    for day in range(first, last + 1):
        if chain.get(market.book_address(day, 0), mpb.Book) is None:
            chain.empty_day(day)
        chain.ok(sdk.archive_day(day))


def test_prune_is_refused_within_the_retention_and_for_unarchived_days(chain):
    chain.refused(sdk.prune_day(DAY), f"prune_day.day: day {DAY} is not archived (archive it first; only archived "
                                      f"days are pruned)")
    archive_days(chain, DAY, DAY + 6)  # default retention 7: DAY is the 7th newest
    chain.refused(sdk.prune_day(DAY), f"prune_day.day: day {DAY} is within the retention of 7 days (the newest "
                                      f"archived day is {DAY + 6}: days up to {DAY - 1} may be pruned)")
    chain.refused(sdk.prune_day(DAY + 7), f"prune_day.day: day {DAY + 7} is not archived (archive it first; only "
                                          f"archived days are pruned)")


def test_prune_deletes_the_days_bulky_records_and_keeps_the_rest(chain):
    chain.write_day(DAY + 1, the_day_contracts(DAY + 1), recommended=RECOMMENDED)  # a neighbour that must stay
    archive_days(chain, DAY, DAY + 7)
    record_before = chain.ledger.state[addr.day_address(DAY)]
    neighbour = {a: v for a, v in chain.ledger.state.items() if f"{DAY + 1:08x}" in a[8:18]}
    kept_market = {a: chain.ledger.state[a] for a in (market.config_address(), market.penalties_address(DAY),
                                                      market.grid_prices_address(DAY))}
    chain.ok(sdk.prune_day(DAY))

    state = chain.ledger.state
    for c in the_day_contracts():
        assert market.contract_address(DAY, c.hour, c.id) not in state
        assert reputation.settlement_address(DAY, c.hour, c.id) not in state
        for pk in (c.buyer, c.seller):
            assert market.position_address(DAY, c.hour, pk) not in state
            assert reputation.reading_address(DAY, c.hour, pk) not in state
    for h in HOURS:
        assert market.hour_index_address(DAY, h) not in state
        # the book stays, closed and empty, so the hour cannot reopen nor ids repeat
        assert chain.get(market.book_address(DAY, h), mpb.Book) == mpb.Book(day=DAY, hour=h, closed=True, next_seq=10)
    assert market.recommendation_index_address(DAY) not in state
    assert all(market.recommendation_address(DAY, pk) not in state for pk in RECOMMENDED)
    # what stays: the archive record, the penalties, grid prices and config, and every other day
    assert state[addr.day_address(DAY)] == record_before
    assert all(state[a] == v for a, v in kept_market.items())
    assert {a: v for a, v in state.items() if f"{DAY + 1:08x}" in a[8:18]} == neighbour
    # nothing of the day is left under its prefixes but the books
    day_scope = f"{DAY:08x}"
    left = sorted(a[6:8] for a in state if a[8:16] == day_scope and not a.startswith(addr.ARCHIVE.namespace))
    assert left == [market.GRID_PRICES, market.PENALTIES] + [market.BOOK] * 24

    # pruning again changes nothing
    before = dict(state)
    chain.ok(sdk.prune_day(DAY))
    assert chain.ledger.state == before


def test_prune_follows_the_configured_retention(chain):
    archive_days(chain, DAY, DAY + 2)
    chain.refused(sdk.prune_day(DAY), f"prune_day.day: day {DAY} is within the retention of 7 days (the newest "
                                      f"archived day is {DAY + 2}: days up to {DAY - 5} may be pruned)")
    chain.ok(sdk.configure(2))
    assert chain.get(addr.config_address(), pb.Config) == pb.Config(retention_days=2)
    chain.refused(sdk.prune_day(DAY + 1), f"prune_day.day: day {DAY + 1} is within the retention of 2 days (the "
                                          f"newest archived day is {DAY + 2}: days up to {DAY} may be pruned)")
    chain.ok(sdk.prune_day(DAY))


def test_prune_refuses_when_the_contracts_no_longer_match_the_record(chain):
    archive_days(chain, DAY, DAY + 7)
    c = the_day_contracts()[0]
    c.delivered -= 1
    chain.put(market.contract_address(DAY, c.hour, c.id), c)
    chain.refused(sdk.prune_day(DAY), f"prune_day.day: the contracts of day {DAY} no longer match its archive "
                                      f"record; nothing pruned")


def test_archive_day_reads_exactly_the_addresses_it_names(chain):
    """No scan: every read is one of the records the market names for the day."""
    from sawgrid.processors.inprocess import InProcessContext
    from sawgrid.protos.sawtooth import TransactionHeader, processor_pb2

    payload = sdk.archive_day(DAY)
    inputs, outputs = addr.access(payload, OP)
    txn = unsigned_transaction(addr.ARCHIVE.name, "1.0", payload.SerializeToString(), inputs, outputs, OP)
    header = TransactionHeader.FromString(txn.header)
    read: list[str] = []

    class Recording(InProcessContext):
        def get_state(self, addresses, timeout=None):
            read.extend(addresses)
            return super().get_state(addresses, timeout)

    context = Recording(header.inputs, header.outputs, chain.ledger.state.get)
    ArchiveHandler().apply(processor_pb2.TpProcessRequest(header=header, payload=txn.payload,
                                                          signature=txn.header_signature), context)
    named = {market.config_address(), addr.head_address(), addr.day_address(DAY), market.penalties_address(DAY),
             market.grid_prices_address(DAY), market.recommendation_index_address(DAY),
             *addr.book_addresses(DAY), *addr.hour_index_addresses(DAY),
             *(market.contract_address(DAY, c.hour, c.id) for c in the_day_contracts()),
             *(market.recommendation_address(DAY, pk) for pk in RECOMMENDED)}
    assert set(read) == named and len(read) == len(named)  # each once
    assert set(context.writes) == {addr.head_address(), addr.day_address(DAY)}
