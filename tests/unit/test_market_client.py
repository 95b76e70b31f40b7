"""clients/sdk/market.py without a ledger: unit conversions, payload builders and
the transactions they make, receipts and state decoding over a fake REST
client, and the CLI's table formatter."""
from __future__ import annotations

import base64
import hashlib
from decimal import Decimal

import pytest

from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.cli.market import format_table, key_name
from sawgrid.processors.market import addresses, units
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.sawtooth import TransactionHeader

PK = "02" + "ab" * 32
OTHER = "03" + "cd" * 32


# ------------------------------------------------------------------ conversions
@pytest.mark.parametrize("value, expected", [
    ("1.5", 1_500_000),
    ("100", 100_000_000),
    (3, 3_000_000),
    (0.1, 100_000),                  # the float's repr, not its binary expansion
    (Decimal("0.25"), 250_000),
    ("0", 0),
    (" 2.000001 ", 2_000_001),
    ("0.0000005", 0),                # half-even: ties go to the even µEUR
    ("0.0000015", 2),
    ("0.0000025", 2),
    ("0.00000051", 1),
    ("1e-6", 1),
])
def test_eur_to_ueur_rounds_half_even(value, expected):
    assert market.eur_to_ueur(value) == expected


@pytest.mark.parametrize("value, fragment", [
    ("-1", "must not be negative"),
    ("-0.000001", "must not be negative"),
    ("nan", "finite"),
    ("Infinity", "finite"),
    ("abc", "not a number"),
    ("", "not a number"),
    ("1,5", "not a number"),
    (True, "expected a number"),
    (str(units.MAX_FUND), "at most"),   # µEUR given as EUR: far above the limit
    ("1e400", "at most"),
])
def test_bad_amounts_name_the_option(value, fragment):
    with pytest.raises(SawgridError) as err:
        market.eur_to_ueur(value, "--amount")
    assert str(err.value).startswith("--amount: ") and fragment in str(err.value)


def test_price_and_energy_conversions():
    assert market.price_to_ueur_per_kwh("0.25") == 250_000
    assert market.price_to_ueur_per_kwh("1000") == units.MAX_PRICE
    with pytest.raises(SawgridError, match="^--price: at most 1000 EUR/kWh"):
        market.price_to_ueur_per_kwh("1000.000001", "--price")
    assert market.kwh_to_wh("1.5") == 1500
    assert market.kwh_to_wh("0.0005") == 0 and market.kwh_to_wh("0.0015") == 2
    assert market.kwh_to_wh("1000000") == units.MAX_ENERGY_WH
    with pytest.raises(SawgridError, match="^--kwh: must not be negative"):
        market.kwh_to_wh("-2", "--kwh")


def test_display_is_exact():
    assert market.format_price(250_000) == "0.2500 EUR/kWh"
    assert market.format_price(123_456, unit=False) == "0.123456"
    assert market.format_price(0) == "0.0000 EUR/kWh"
    assert market.format_eur(1_500_000) == "1.50 EUR"
    assert market.format_eur(1) == "0.000001 EUR"
    assert market.format_eur(12_345_678_901) == "12345.678901 EUR"
    assert market.format_kwh(1500) == "1.500 kWh" and market.format_kwh(1, unit=False) == "0.001"
    assert market.format_eur(315_000, unit=False, places=6) == "0.315000"
    assert market.format_multiplier(1250) == "1.250x"


def test_days_and_hours():
    day = market.parse_day("2026-01-05")
    assert day == units.day_number(units.day_date(day)) == 20458
    assert market.day_text(day) == "2026-01-05"
    assert market.parse_day("20458") == 20458
    assert market.parse_day("today") == market.today()
    assert market.parse_day("Tomorrow") == market.today() + 1
    for bad in ("2026-13-01", "next week", "", "-5", str(units.MAX_DAY + 1)):
        with pytest.raises(SawgridError, match="^--day: "):
            market.parse_day(bad)
    assert market.parse_hour("0") == 0 and market.parse_hour("23") == 23
    for bad in ("24", "-1", "x", ""):
        with pytest.raises(SawgridError, match=r"^--hour: expected an hour 0\.\.23"):
            market.parse_hour(bad)


def test_hourly_prices():
    assert market.parse_hourly_prices("0.3", "--sell") == [300_000] * 24
    listed = ",".join(str(h / 100) for h in range(24))
    assert market.parse_hourly_prices(listed, "--buy") == [h * 10_000 for h in range(24)]
    with pytest.raises(SawgridError, match="^--buy: give one price or 24"):
        market.parse_hourly_prices("0.1,0.2", "--buy")
    with pytest.raises(SawgridError, match=r"^--buy \(hour 1\): must not be negative"):
        market.parse_hourly_prices("0.1,-0.2" + ",0.1" * 22, "--buy")


def test_roles_keys_and_order_ids():
    assert market.parse_role("Seller") == pb.SELLER and market.role_name(pb.BUYER) == "buyer"
    assert market.role_name(pb.ROLE_UNSET) == "both"
    with pytest.raises(SawgridError, match="role: expected one of buyer, seller, both"):
        market.parse_role("trader")
    assert market.is_public_key(PK) and not market.is_public_key("alice") and not market.is_public_key(PK[:-1])
    assert market.check_order_id("20458/10/3") == "20458/10/3"
    with pytest.raises(SawgridError, match="DAY/HOUR/SEQ"):
        market.check_order_id("20458-10-3")


# ------------------------------------------------------------------ builders
def all_payloads() -> list[pb.MarketPayload]:
    """One payload of every action."""
    return [
        market.init(wire_fee=10_000),
        market.add_operator(PK),
        market.remove_operator(PK),
        market.set_wire_fee(5_000),
        market.register("alice"),
        market.approve(PK),
        market.set_role(20458, pb.SELLER),
        market.fund(PK, 1_000_000),
        market.set_grid_prices(20458, [100_000] * 24, [300_000] * 24),
        market.place_order(pb.BUY, 20458, 10, 1500, 250_000, grid_fallback=True),
        market.place_order(pb.BUY, 20458, 11, 1500, 250_000, on_credit=True, min_counterparty_score=900_000),
        market.place_order(pb.SELL, 20458, 10, 1500, 250_000),
        market.cancel("20458/10/3"),
        market.close_hour(20458, 10),
        market.set_penalties(20458, [1000] * 24),
        market.set_recommendations(20458, {PK: [100] * 24, OTHER: [0] * 24}),
    ]


def test_builders_cover_every_action():
    actions = {p.WhichOneof("action") for p in all_payloads()}
    assert actions == {f.name for f in pb.MarketPayload.DESCRIPTOR.oneofs_by_name["action"].fields}


@pytest.mark.parametrize("payload", all_payloads(), ids=lambda p: p.WhichOneof("action"))
def test_transaction_declares_access(signer, payload):
    txn = market.market_transaction(signer, payload)
    header = TransactionHeader.FromString(txn.header)
    signer_key = signer.get_public_key().as_hex()
    inputs, outputs = addresses.access(payload, signer_key)
    assert list(header.inputs) == inputs and list(header.outputs) == outputs
    assert (header.family_name, header.family_version) == (addresses.MARKET.name, addresses.MARKET.versions[0])
    assert header.signer_public_key == header.batcher_public_key == signer_key
    assert txn.payload == payload.SerializeToString(deterministic=True)
    assert header.payload_sha512 == hashlib.sha512(txn.payload).hexdigest()
    assert pb.MarketPayload.FromString(txn.payload) == payload


def test_builder_fields():
    order = market.place_order(pb.SELL, 20458, 7, 2000, 200_000).place_order
    assert (order.side, order.day, order.hour, order.energy, order.price, order.grid_fallback) == \
        (pb.SELL, 20458, 7, 2000, 200_000, False)
    assert (order.on_credit, order.min_counterparty_score) == (False, 0)
    order = market.place_order(pb.BUY, 20458, 7, 2000, 200_000, True, on_credit=True,
                               min_counterparty_score=1_200_000).place_order
    assert (order.grid_fallback, order.on_credit, order.min_counterparty_score) == (True, True, 1_200_000)
    recs = market.set_recommendations(1, {PK: [1] * 24}).set_recommendations
    assert recs.recommendations[0].public_key == PK and list(recs.recommendations[0].schedule) == [1] * 24


def test_transaction_refuses_an_underivable_payload(signer):
    with pytest.raises(ValueError):
        market.market_transaction(signer, market.cancel("not-an-id"))
    with pytest.raises(ValueError):
        market.market_transaction(signer, pb.MarketPayload())


class FakeRest:
    """Just enough of RestClient: state, prefix queries, receipts, batches."""

    def __init__(self, state=None, receipts=None):
        self.state_store: dict[str, bytes] = state or {}
        self.receipt_store: dict[str, dict] = receipts or {}
        self.submitted: list = []
        self.waited = None

    def state(self, address):
        return self.state_store.get(address)

    def state_prefix(self, prefix):
        return sorted((a, d) for a, d in self.state_store.items() if a.startswith(prefix))

    def receipts(self, ids):
        return [self.receipt_store[i] for i in ids]

    def submit_and_wait(self, batches, timeout):
        self.submitted.append(list(batches))
        self.waited = timeout

    def submit(self, batches):
        self.submitted.append(list(batches))


def test_submit_signs_one_atomic_batch(signer):
    rest = FakeRest()
    payloads = [market.register("alice"), market.set_role(20458, pb.BUYER)]
    ids = market.submit(rest, signer, payloads, timeout=5)
    [[batch]] = rest.submitted
    assert [t.header_signature for t in batch.transactions] == ids and len(ids) == 2
    assert rest.waited == 5
    market.submit(rest, signer, market.register("bob"), wait=False)
    assert len(rest.submitted) == 2 and len(rest.submitted[1][0].transactions) == 1
    with pytest.raises(ValueError):
        market.submit(rest, signer, [])


def contract(day: int, hour: int, seq: int, buyer: str = PK, seller: str = OTHER) -> pb.Contract:
    return pb.Contract(id=f"{day}/{hour}/{seq}", day=day, hour=hour, buyer=buyer, seller=seller,
                       energy=1000, price=200_000, base=200_000, total=200_000)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_receipt_gives_order_id_contracts_and_events():
    c2, c10 = contract(20458, 10, 2), contract(20458, 10, 10)
    doc = {
        "id": "t1", "data": [b64(b"20458/10/11")],
        "state_changes": [
            {"address": addresses.contract_address(20458, 10, c10.id), "value": b64(c10.SerializeToString()),
             "type": "SET"},
            {"address": addresses.contract_address(20458, 10, c2.id), "value": b64(c2.SerializeToString()),
             "type": "SET"},
            {"address": addresses.wallet_address(PK), "value": b64(pb.Wallet().SerializeToString()), "type": "SET"},
        ],
        "events": [{"event_type": market.HOUR_CLOSED_EVENT,
                    "attributes": [{"key": "expired", "value": "2"}]}],
    }
    rest = FakeRest(receipts={"t1": doc, "t2": {"id": "t2"}})
    receipt = market.MarketReceipt.fetch(rest, "t1")
    assert receipt.order_id == "20458/10/11" == market.order_id_from_receipt(rest, "t1")
    assert [c.id for c in receipt.contracts] == [c2.id, c10.id]   # by seq, not by text
    assert receipt.traded_wh == 2000
    assert receipt.events_of(market.HOUR_CLOSED_EVENT)[0].attributes == {"expired": "2"}
    with pytest.raises(SawgridError, match="returned no order id"):
        market.order_id_from_receipt(rest, "t2")


def test_reader_decodes_and_filters():
    day = 20458
    contracts = [contract(day, 10, 12), contract(day, 10, 3, buyer=OTHER, seller="02" + "ee" * 32),
                 contract(day, 9, 5), contract(day + 1, 0, 1)]
    state = {addresses.contract_address(c.day, c.hour, c.id): c.SerializeToString() for c in contracts}
    state[addresses.participant_address(PK)] = pb.Participant(public_key=PK, name="zed").SerializeToString()
    state[addresses.participant_address(OTHER)] = pb.Participant(public_key=OTHER, name="amy").SerializeToString()
    state[addresses.wallet_address(PK)] = pb.Wallet(public_key=PK, balance=7).SerializeToString()
    state[addresses.role_address(PK, day)] = pb.DayRole(public_key=PK, day=day, role=pb.SELLER).SerializeToString()
    reader = market.MarketReader(FakeRest(state))
    assert [c.id for c in reader.contracts()] == ["20458/9/5", "20458/10/3", "20458/10/12", "20459/0/1"]
    assert [c.id for c in reader.contracts(day)] == ["20458/9/5", "20458/10/3", "20458/10/12"]
    assert [c.id for c in reader.contracts(day, 10)] == ["20458/10/3", "20458/10/12"]
    assert [c.id for c in reader.contracts(day, 10, participant=PK)] == ["20458/10/12"]
    assert [p.name for p in reader.participants()] == ["amy", "zed"]
    assert reader.wallet(PK).balance == 7 and reader.wallet(OTHER) is None
    assert reader.role(PK, day) == pb.SELLER and reader.role(PK, day + 1) == pb.BOTH
    assert reader.config() is None and reader.book(day, 10) is None and reader.grid_prices(day) is None
    assert reader.penalties(day) is None and reader.recommendation(day, PK) is None
    assert reader.recommendations(day) == []
    assert reader.hour_index(day, 10) is None and reader.position(day, 10, PK) is None
    assert reader.recommendation_index(day) is None


def test_reader_of_the_settlement_records():
    day = 20458
    state = {
        addresses.hour_index_address(day, 10): pb.HourIndex(day=day, hour=10, contracts=["a", "b"]).SerializeToString(),
        addresses.position_address(day, 10, PK): pb.Position(public_key=PK, day=day, hour=10,
                                                             sold=["a"], bought=["b"]).SerializeToString(),
        addresses.recommendation_index_address(day): pb.RecommendationIndex(
            day=day, public_keys=[PK, OTHER]).SerializeToString(),
    }
    reader = market.MarketReader(FakeRest(state))
    assert list(reader.hour_index(day, 10).contracts) == ["a", "b"]
    position = reader.position(day, 10, PK)
    assert (list(position.sold), list(position.bought)) == (["a"], ["b"])
    assert reader.position(day, 10, OTHER) is None and reader.hour_index(day, 11) is None
    assert list(reader.recommendation_index(day).public_keys) == [PK, OTHER]
    with pytest.raises(ValueError):
        reader.contracts(hour=3)


def test_reader_reports_undecodable_state():
    reader = market.MarketReader(FakeRest({addresses.config_address(): b"\xff\xff"}))
    with pytest.raises(SawgridError, match="is not a Config"):
        reader.config()


def test_json_forms_use_unit_suffixed_integers():
    doc = market.contract_json(contract(20458, 10, 2))
    assert doc["day"] == "2026-01-05" and doc["energy_wh"] == 1000 and doc["price_ueur_per_kwh"] == 200_000
    assert doc["total_ueur"] == 200_000
    prepared = pb.Contract(id="1/2/3", stage=pb.PREPARED, escrow=7, credit=0, cluster=[PK, OTHER], leader=OTHER,
                           quorum=2)
    doc = market.contract_json(prepared)
    assert (doc["stage"], doc["escrow_ueur"], doc["credit_ueur"], doc["cluster"], doc["leader"], doc["quorum"]) == \
        ("prepared", 7, 0, [PK, OTHER], OTHER, 2)
    assert market.contract_json(pb.Contract())["stage"] == "unset"
    assert market.wallet_json(pb.Wallet(public_key=PK, balance=1, locked=2, credit_used=3)) == \
        {"public_key": PK, "balance_ueur": 1, "locked_ueur": 2, "credit_used_ueur": 3}
    empty = market.book_json(20458, 3, None)
    assert empty == {"day": "2026-01-05", "hour": 3, "closed": False, "offers": [], "orders": []}
    buy = market.order_json(pb.Order(id="1/2/3", side=pb.BUY, price=5, locked=9, penalty=1000, credit=9,
                                     owner_score=1_500_000, min_counterparty_score=800_000))
    assert buy["side"] == "buy" and buy["locked_ueur"] == 9 and buy["penalty_permille"] == 1000
    assert (buy["credit_ueur"], buy["owner_score_ppm"], buy["min_counterparty_score_ppm"]) == (9, 1_500_000, 800_000)
    assert "locked_ueur" not in market.order_json(pb.Order(side=pb.SELL))


# ------------------------------------------------------------------ tables
def test_table_aligns_columns():
    text = format_table(("NAME", "kWh"), [("alice", "1.500"), ("bo", "12.000")], align="lr")
    assert text.splitlines() == [
        "NAME      kWh",
        "alice   1.500",
        "bo     12.000",
    ]


def test_table_without_headers_strips_trailing_space():
    assert format_table(None, [("a", ""), ("long key", "v")]) == "a\nlong key  v"
    assert format_table(None, []) == ""
    assert format_table(("X",), []) == "X"


def test_table_refuses_ragged_rows():
    with pytest.raises(ValueError):
        format_table(("A", "B"), [("only one",)])


def test_key_defaults_to_env_then_default(monkeypatch):
    import argparse

    monkeypatch.delenv("SAWGRID_KEY", raising=False)
    assert key_name(argparse.Namespace(key=None)) == "default"
    monkeypatch.setenv("SAWGRID_KEY", "alice")
    assert key_name(argparse.Namespace(key=None)) == "alice"
    assert key_name(argparse.Namespace(key="bob")) == "bob"
