"""Client side of sawgrid-market: payload builders, signing, state readers,
and the one place where user-facing units become the ledger's integers.

    from sawgrid.clients.sdk import market
    payload = market.place_order(pb.BUY, day, 10, market.kwh_to_wh("1.5"),
                                 market.price_to_ueur_per_kwh("0.25"))
    [txn_id] = market.submit(rest, signer, [payload])     # one atomic batch
    placed = market.MarketReceipt.fetch(rest, txn_id)      # order id, contracts
    market.MarketReader(rest).wallet(public_key)

On the ledger everything is an integer (see processors/market/units.py): Wh,
µEUR, µEUR/kWh, permille, and days since 1970-01-01. Users speak kWh, EUR,
EUR/kWh and ISO dates; the converters below are the only bridge, and they
raise `SawgridError` naming the option at fault.
"""
from __future__ import annotations

import base64
import datetime as _dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypeVar

from google.protobuf.message import DecodeError, Message
from sawtooth_signing import Signer

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import SUBMIT_TIMEOUT, LedgerClient, submit_transactions
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.protos.envelopes import make_transaction
from sawgrid.processors.addressing import is_public_key as _is_public_key
from sawgrid.processors.market import addresses, units
from sawgrid.processors.market.book import assemble as assemble_book
from sawgrid.processors.market.addresses import MARKET
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.sawtooth import Transaction

DEFAULT_TIMEOUT = SUBMIT_TIMEOUT  # seconds to wait for a batch to commit
MICRO = 1_000_000           # µEUR per EUR (and µEUR/kWh per EUR/kWh)
CONTRACT_EVENT = addresses.CONTRACT_EVENT
HOUR_CLOSED_EVENT = addresses.HOUR_CLOSED_EVENT

ROLES: dict[str, int] = {"buyer": pb.BUYER, "seller": pb.SELLER, "both": pb.BOTH}
SIDES: dict[int, str] = {pb.BUY: "buy", pb.SELL: "sell"}
ROLE_NAMES: dict[int, str] = {v: k for k, v in ROLES.items()}
STATUSES: dict[int, str] = {pb.PENDING: "pending", pb.APPROVED: "approved"}
STAGES: dict[int, str] = {pb.PREPARED: "prepared", pb.EXECUTION: "execution", pb.FINAL: "final",
                          pb.SETTLED: "settled", pb.DECLINED: "declined"}


M = TypeVar("M", bound=Message)


# --------------------------------------------------------------------------
# Units: user-facing text <-> ledger integers
# --------------------------------------------------------------------------
def _non_negative(value: str | int | float | Decimal, option: str) -> Decimal:
    """`value` as a finite, non-negative Decimal (floats via their repr, so
    0.1 stays 0.1); SawgridError naming `option` otherwise."""
    if isinstance(value, bool):
        raise SawgridError(f"{option}: expected a number, got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise SawgridError(f"{option}: not a number: {value!r}") from None
    if not number.is_finite():
        raise SawgridError(f"{option}: must be a finite number, got {value!r}")
    if number < 0:
        raise SawgridError(f"{option}: must not be negative, got {value}")
    return number


def _scaled(value: str | int | float | Decimal, scale: int, option: str, unit: str, maximum: int) -> int:
    """`value` × `scale`, rounded half-even to a whole number, at most `maximum`."""
    number = _non_negative(value, option) * scale
    if number > maximum:
        raise SawgridError(f"{option}: at most {_decimal_text(maximum, scale)} {unit}, got {value}")
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def eur_to_ueur(value: str | int | float | Decimal, option: str = "amount",
                maximum: int = units.MAX_FUND) -> int:
    """EUR -> whole µEUR, rounded half-even: '1.5' -> 1500000."""
    return _scaled(value, MICRO, option, "EUR", maximum)


def price_to_ueur_per_kwh(value: str | int | float | Decimal, option: str = "price") -> int:
    """EUR/kWh -> whole µEUR/kWh, rounded half-even: '0.25' -> 250000."""
    return _scaled(value, MICRO, option, "EUR/kWh", units.MAX_PRICE)


def kwh_to_wh(value: str | int | float | Decimal, option: str = "kwh") -> int:
    """kWh -> whole Wh, rounded half-even: '1.5' -> 1500."""
    return _scaled(value, units.WH_PER_KWH, option, "kWh", units.MAX_ENERGY_WH)


def _decimal_text(amount: int, scale: int, min_places: int = 0) -> str:
    """`amount / scale` exactly, with at least `min_places` decimals."""
    places = len(str(scale)) - 1
    whole, fraction = divmod(amount, scale)
    digits = f"{fraction:0{places}d}".rstrip("0") if places else ""
    digits = digits.ljust(min_places, "0")
    return f"{whole}.{digits}" if digits else str(whole)


def format_eur(ueur: int, unit: bool = True, places: int = 2) -> str:
    """1500000 -> '1.50 EUR' (exact: up to 6 decimals, at least `places`)."""
    return _decimal_text(ueur, MICRO, places) + (" EUR" if unit else "")


def format_price(ueur_per_kwh: int, unit: bool = True) -> str:
    """250000 -> '0.2500 EUR/kWh' (exact: up to 6 decimals, at least 4)."""
    return _decimal_text(ueur_per_kwh, MICRO, 4) + (" EUR/kWh" if unit else "")


def format_kwh(wh: int, unit: bool = True) -> str:
    """1500 -> '1.500 kWh'."""
    return _decimal_text(wh, units.WH_PER_KWH, 3) + (" kWh" if unit else "")


def format_multiplier(permille: int) -> str:
    """1250 -> '1.250x'."""
    return _decimal_text(permille, units.PERMILLE, 3) + "x"


def today() -> int:
    """Today's day number (UTC), by this machine's clock: for client-side
    checks only; processors never read a clock."""
    return units.day_number(_dt.datetime.now(_dt.timezone.utc).date())


_RELATIVE_DAYS = {"today": 0, "tomorrow": 1}


def parse_day(text: str, option: str = "--day") -> int:
    """ISO date, 'today', 'tomorrow' (UTC) or a plain day number -> day
    number, within 0..units.MAX_DAY."""
    if text.strip().lower() in _RELATIVE_DAYS:
        return today() + _RELATIVE_DAYS[text.strip().lower()]
    try:
        day = units.parse_day(text)
    except ValueError:
        raise SawgridError(f"{option}: expected a date like 2026-01-05 (or today, tomorrow), got {text!r}") from None
    if not 0 <= day <= units.MAX_DAY:
        raise SawgridError(f"{option}: day must be between 1970-01-01 and 9999-12-31, got {text!r}")
    return day


def day_text(day: int) -> str:
    """Day number -> ISO date: 20458 -> '2026-01-05'."""
    return units.day_date(day).isoformat()


_UNIT_FORMATS = {
    "µEUR/kWh": lambda v: format_price(v),
    "µEUR": lambda v: format_eur(v),
    "Wh": lambda v: format_kwh(v),
}
_RANGE_RE = re.compile(r"(\d+)\.\.(\d+) (µEUR/kWh|µEUR|Wh), got (\d+)")
_AMOUNT_RE = re.compile(r"(\d+) (µEUR/kWh|µEUR|Wh)\b")
_HOUR_RE = re.compile(r"(?<![/\d])(\d+)/(\d{1,2})\b(?!/)")
_DAY_RE = re.compile(r"\bday (\d+)\b")


def explain(message: str) -> str:
    """A processor's message in the user's units: ledger day numbers become
    dates, `D/H` an hour of a date, µEUR amounts EUR, µEUR/kWh prices
    EUR/kWh, Wh kWh. 'hour 20513/18 is closed' -> 'hour 2026-03-01 18:00 is
    closed'. The processor itself keeps the ledger's integers (they are what
    --json and logs show)."""
    def unit_range(m: re.Match) -> str:
        fmt = _UNIT_FORMATS[m.group(3)]
        return f"{fmt(int(m.group(1)))}..{fmt(int(m.group(2)))}, got {fmt(int(m.group(4)))}"

    def hour(m: re.Match) -> str:
        day, h = int(m.group(1)), int(m.group(2))
        if not (0 <= day <= units.MAX_DAY and h < units.HOURS_PER_DAY):
            return m.group(0)
        return f"{day_text(day)} {h:02d}:00"

    def day(m: re.Match) -> str:
        number = int(m.group(1))
        return f"day {day_text(number)}" if number <= units.MAX_DAY else m.group(0)

    text = _RANGE_RE.sub(unit_range, message)
    text = _AMOUNT_RE.sub(lambda m: _UNIT_FORMATS[m.group(2)](int(m.group(1))), text)
    text = _HOUR_RE.sub(hour, text)
    return _DAY_RE.sub(day, text)


def parse_hour(text: str, option: str = "--hour") -> int:
    """'0'..'23' -> int."""
    hour = text.strip()
    if not hour.isdigit() or int(hour) >= units.HOURS_PER_DAY:
        raise SawgridError(f"{option}: expected an hour 0..{units.HOURS_PER_DAY - 1}, got {text!r}")
    return int(hour)


def parse_hourly_prices(text: str, option: str) -> list[int]:
    """'0.25' (every hour) or 24 comma-separated EUR/kWh -> 24 µEUR/kWh."""
    parts = text.split(",")
    if len(parts) == 1:
        parts *= units.HOURS_PER_DAY
    if len(parts) != units.HOURS_PER_DAY:
        raise SawgridError(f"{option}: give one price or {units.HOURS_PER_DAY} comma-separated "
                           f"prices (EUR/kWh), got {len(parts)}")
    return [price_to_ueur_per_kwh(p, f"{option} (hour {h})") for h, p in enumerate(parts)]


def parse_role(text: str) -> int:
    """'buyer' | 'seller' | 'both' -> Role."""
    try:
        return ROLES[text.strip().lower()]
    except KeyError:
        raise SawgridError(f"role: expected one of {', '.join(ROLES)}, got {text!r}") from None


def role_name(role: int) -> str:
    """Role -> 'buyer' | 'seller' | 'both' (no record means both)."""
    return ROLE_NAMES.get(role, "both")


def is_public_key(text: str) -> bool:
    """True for a compressed secp256k1 public key in hex (66 chars)."""
    return _is_public_key(text)


def check_order_id(text: str) -> str:
    """The order id if it looks like DAY/HOUR/SEQ, else SawgridError."""
    try:
        addresses.parse_order_id(text)
    except ValueError as err:
        raise SawgridError(str(err)) from None
    return text


# --------------------------------------------------------------------------
# Payload builders (integers in ledger units; the processor checks ranges)
# --------------------------------------------------------------------------
def init(wire_fee: int = 0) -> pb.MarketPayload:
    """Genesis: the signer becomes the first operator and the system operator."""
    return pb.MarketPayload(init=pb.Init(wire_fee=wire_fee))


def add_operator(public_key: str) -> pb.MarketPayload:
    return pb.MarketPayload(add_operator=pb.AddOperator(public_key=public_key))


def remove_operator(public_key: str) -> pb.MarketPayload:
    return pb.MarketPayload(remove_operator=pb.RemoveOperator(public_key=public_key))


def set_wire_fee(wire_fee: int) -> pb.MarketPayload:
    """`wire_fee` in µEUR/kWh."""
    return pb.MarketPayload(set_wire_fee=pb.SetWireFee(wire_fee=wire_fee))


def register(name: str) -> pb.MarketPayload:
    """Register the signer's own key under a display name."""
    return pb.MarketPayload(register=pb.Register(name=name))


def approve(public_key: str) -> pb.MarketPayload:
    return pb.MarketPayload(approve=pb.Approve(public_key=public_key))


def set_role(day: int, role: int) -> pb.MarketPayload:
    """The signer's role (pb.BUYER/SELLER/BOTH) for one day."""
    return pb.MarketPayload(set_role=pb.SetRole(day=day, role=role))


def fund(public_key: str, amount: int) -> pb.MarketPayload:
    """Add `amount` µEUR to a wallet."""
    return pb.MarketPayload(fund=pb.Fund(public_key=public_key, amount=amount))


def set_grid_prices(day: int, buy: Sequence[int], sell: Sequence[int]) -> pb.MarketPayload:
    """24 µEUR/kWh prices each: the operator buys at `buy`, sells at `sell`."""
    return pb.MarketPayload(set_grid_prices=pb.SetGridPrices(day=day, buy=list(buy), sell=list(sell)))


def place_order(side: int, day: int, hour: int, energy: int, price: int,
                grid_fallback: bool = False, on_credit: bool = False,
                min_counterparty_score: int = 0) -> pb.MarketPayload:
    """A BUY order (price = max) or SELL offer (price = min): Wh, µEUR/kWh.

    `on_credit` (BUY): hold the cost against the credit line, not the balance
    (needs a Q-score of at least the reputation settings' credit_score);
    `min_counterparty_score` (ppm): trade only with owners whose Q-score is at
    least this."""
    return pb.MarketPayload(place_order=pb.PlaceOrder(
        side=side, day=day, hour=hour, energy=energy, price=price, grid_fallback=grid_fallback,
        on_credit=on_credit, min_counterparty_score=min_counterparty_score))


def cancel(order_id: str) -> pb.MarketPayload:
    return pb.MarketPayload(cancel=pb.Cancel(order_id=order_id))


def close_hour(day: int, hour: int) -> pb.MarketPayload:
    return pb.MarketPayload(close_hour=pb.CloseHour(day=day, hour=hour))


def set_penalties(day: int, multipliers: Sequence[int]) -> pb.MarketPayload:
    """24 permille multipliers for a day."""
    return pb.MarketPayload(set_penalties=pb.SetPenalties(day=day, multipliers=list(multipliers)))


def set_recommendations(day: int, schedules: Mapping[str, Sequence[int]]) -> pb.MarketPayload:
    """Per public key, a 24-hour purchase schedule in Wh."""
    recs = [pb.Recommendation(public_key=pk, schedule=list(s)) for pk, s in schedules.items()]
    return pb.MarketPayload(set_recommendations=pb.SetRecommendations(day=day, recommendations=recs))


# --------------------------------------------------------------------------
# Signing and submitting
# --------------------------------------------------------------------------
def market_transaction(signer: Signer, payload: pb.MarketPayload) -> Transaction:
    """A signed sawgrid-market transaction with the inputs/outputs that
    `addresses.access` declares for it (ValueError if it has no action or a
    malformed order id)."""
    inputs, outputs = addresses.access(payload, signer.get_public_key().as_hex())
    return make_transaction(signer, MARKET.name, MARKET.versions[0],
                            payload.SerializeToString(deterministic=True), inputs, outputs)


def submit(rest: LedgerClient, signer: Signer, payloads: pb.MarketPayload | Iterable[pb.MarketPayload],
           wait: bool = True, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Sign `payloads` as ONE batch (all or nothing) and submit it; with
    `wait`, return once committed. Returns the transaction ids, in order.
    Raises BatchInvalid (its message carries the processor's reason) or
    BatchTimeout."""
    if isinstance(payloads, pb.MarketPayload):
        payloads = [payloads]
    transactions = [market_transaction(signer, p) for p in payloads]
    return submit_transactions(rest, signer, transactions, wait=wait, timeout=timeout)


# --------------------------------------------------------------------------
# Receipts
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class MarketEvent:
    event_type: str
    attributes: dict[str, str]
    data: bytes


@dataclass(frozen=True)
class MarketReceipt:
    """What one committed market transaction returned and wrote."""

    transaction_id: str
    data: list[bytes]              # receipt data (place_order: its order id)
    contracts: list[pb.Contract]   # contracts the transaction wrote, by (day, hour, seq)
    events: list[MarketEvent]

    @classmethod
    def fetch(cls, rest: RestClient, transaction_id: str) -> MarketReceipt:
        """The receipt of a committed transaction (RestNotFound if none)."""
        doc = rest.receipts([transaction_id])[0]
        contract_prefix = addresses.contracts_prefix()
        contracts = [
            _decode(pb.Contract, base64.b64decode(change.get("value", "")), change["address"])
            for change in doc.get("state_changes", [])
            if change.get("type") == "SET" and change["address"].startswith(contract_prefix)
        ]
        events = [
            MarketEvent(e.get("event_type", ""), {a["key"]: a.get("value", "") for a in e.get("attributes", [])},
                        base64.b64decode(e.get("data", "")))
            for e in doc.get("events", [])
        ]
        return cls(transaction_id, [base64.b64decode(d) for d in doc.get("data", [])],
                   sorted(contracts, key=_contract_key), events)

    @property
    def order_id(self) -> str:
        """The order id a place_order transaction returned as receipt data."""
        if not self.data:
            raise SawgridError(f"transaction {self.transaction_id[:16]} returned no order id")
        return self.data[0].decode("utf-8")

    @property
    def traded_wh(self) -> int:
        """Energy the transaction's contracts moved, Wh."""
        return sum(c.energy for c in self.contracts)

    def events_of(self, event_type: str) -> list[MarketEvent]:
        return [e for e in self.events if e.event_type == event_type]


def order_id_from_receipt(rest: RestClient, transaction_id: str) -> str:
    """The id of the order a committed place_order transaction created."""
    return MarketReceipt.fetch(rest, transaction_id).order_id


# --------------------------------------------------------------------------
# Reading state
# --------------------------------------------------------------------------
def _decode(cls: type[M], data: bytes, address: str) -> M:
    try:
        return cls.FromString(data)
    except DecodeError:
        raise SawgridError(f"state at {address} is not a {cls.__name__}") from None


def _contract_key(contract: pb.Contract) -> tuple[int, int, int]:
    return addresses.parse_order_id(contract.id)


class MarketReader:
    """Decoded market records through the REST API; a missing record is None
    (an empty list for queries)."""

    def __init__(self, rest: LedgerClient) -> None:
        self.rest = rest

    def _one(self, cls: type[M], address: str) -> M | None:
        data = self.rest.state(address)
        return None if data is None else _decode(cls, data, address)

    def _all(self, cls: type[M], prefix: str) -> list[M]:
        return [_decode(cls, data, address) for address, data in self.rest.state_prefix(prefix)]

    def config(self) -> pb.Config | None:
        return self._one(pb.Config, addresses.config_address())

    def participant(self, public_key: str) -> pb.Participant | None:
        return self._one(pb.Participant, addresses.participant_address(public_key))

    def participants(self) -> list[pb.Participant]:
        """Every registered participant, by (name, public key)."""
        found = self._all(pb.Participant, MARKET.prefix(addresses.PARTICIPANT))
        return sorted(found, key=lambda p: (p.name, p.public_key))

    def role(self, public_key: str, day: int) -> int:
        """The participant's Role for `day` (BOTH when none was set)."""
        record = self._one(pb.DayRole, addresses.role_address(public_key, day))
        return record.role if record and record.role != pb.ROLE_UNSET else pb.BOTH

    def wallet(self, public_key: str) -> pb.Wallet | None:
        return self._one(pb.Wallet, addresses.wallet_address(public_key))

    def book(self, day: int, hour: int) -> pb.Book | None:
        """The hour's book as one Book: its head (closed, next_seq, the best
        prices) with every resting entry of its pages, offers and orders in
        priority order (one prefix query; processors/market/book.py). None
        when the hour has no book yet."""
        head_address = addresses.book_address(day, hour)
        head, pages = None, []
        for address, data in self.rest.state_prefix(addresses.book_prefix(day, hour)):
            record = _decode(pb.Book, data, address)
            if address == head_address:
                head = record
            else:
                pages.append(record)
        return assemble_book(head, pages)

    def book_head(self, day: int, hour: int) -> pb.Book | None:
        """Just the hour's head: closed, next_seq, and per side the best price
        and how many entries rest (one read, whatever the book's size)."""
        return self._one(pb.Book, addresses.book_address(day, hour))

    def hour_index(self, day: int, hour: int) -> pb.HourIndex | None:
        """The ids of an hour's contracts, in creation order."""
        return self._one(pb.HourIndex, addresses.hour_index_address(day, hour))

    def position(self, day: int, hour: int, public_key: str) -> pb.Position | None:
        """What a participant sold and bought in one hour (contract ids, creation order)."""
        return self._one(pb.Position, addresses.position_address(day, hour, public_key))

    def recommendation_index(self, day: int) -> pb.RecommendationIndex | None:
        """Who has a recommendation for a day."""
        return self._one(pb.RecommendationIndex, addresses.recommendation_index_address(day))

    def contracts(self, day: int | None = None, hour: int | None = None,
                  participant: str | None = None) -> list[pb.Contract]:
        """Contracts of everything / one day / one hour, optionally only those
        where `participant` is buyer or seller, by (day, hour, seq)."""
        if hour is not None and day is None:
            raise ValueError("contracts: an hour needs a day")
        found = self._all(pb.Contract, addresses.contracts_prefix(day, hour))
        if participant is not None:
            found = [c for c in found if participant in (c.buyer, c.seller)]
        return sorted(found, key=_contract_key)

    def day_contracts(self, day: int) -> Iterator[pb.Contract]:
        """The contracts of day `day` in (hour, seq) order, as `contracts(day=day)`,
        read an hour at a time: a town's day is hundreds of thousands of
        contracts, and a reader that keeps none of them needs only one hour's."""
        for hour in range(units.HOURS_PER_DAY):
            yield from self.contracts(day=day, hour=hour)

    def grid_prices(self, day: int) -> pb.GridPrices | None:
        return self._one(pb.GridPrices, addresses.grid_prices_address(day))

    def penalties(self, day: int) -> pb.Penalties | None:
        return self._one(pb.Penalties, addresses.penalties_address(day))

    def recommendation(self, day: int, public_key: str) -> pb.RecommendationRecord | None:
        return self._one(pb.RecommendationRecord, addresses.recommendation_address(day, public_key))

    def recommendations(self, day: int) -> list[pb.RecommendationRecord]:
        """The day's recommendations, by public key."""
        found = self._all(pb.RecommendationRecord, addresses.recommendations_prefix(day))
        return sorted(found, key=lambda r: r.public_key)


# --------------------------------------------------------------------------
# Machine-readable form: integers with unit-suffixed keys, days as ISO dates
# --------------------------------------------------------------------------
def participant_json(p: pb.Participant) -> dict[str, Any]:
    return {"public_key": p.public_key, "name": p.name, "status": STATUSES.get(p.status, "unset")}


def wallet_json(w: pb.Wallet) -> dict[str, Any]:
    return {"public_key": w.public_key, "balance_ueur": w.balance, "locked_ueur": w.locked,
            "credit_used_ueur": w.credit_used}


def config_json(c: pb.Config) -> dict[str, Any]:
    return {"operators": list(c.operators), "system_operator": c.system_operator,
            "wire_fee_ueur_per_kwh": c.wire_fee}


def order_json(o: pb.Order) -> dict[str, Any]:
    doc = {"id": o.id, "owner": o.owner, "side": SIDES.get(o.side, "unset"),
           "price_ueur_per_kwh": o.price, "energy_wh": o.energy, "remaining_wh": o.remaining, "seq": o.seq}
    if o.side == pb.BUY:
        doc.update(penalty_permille=o.penalty, locked_ueur=o.locked, wire_fee_ueur_per_kwh=o.wire_fee,
                   credit_ueur=o.credit)
    doc.update(owner_score_ppm=o.owner_score, min_counterparty_score_ppm=o.min_counterparty_score)
    return doc


def book_json(day: int, hour: int, book: pb.Book | None) -> dict[str, Any]:
    """A book as JSON; a book nobody has touched yet is open and empty."""
    book = book or pb.Book(day=day, hour=hour)
    return {"day": day_text(day), "hour": hour, "closed": book.closed,
            "offers": [order_json(o) for o in book.offers], "orders": [order_json(o) for o in book.orders]}


def contract_json(c: pb.Contract) -> dict[str, Any]:
    return {"id": c.id, "day": day_text(c.day), "hour": c.hour, "seller": c.seller, "buyer": c.buyer,
            "energy_wh": c.energy, "price_ueur_per_kwh": c.price, "penalty_permille": c.penalty,
            "base_ueur": c.base, "surcharge_ueur": c.surcharge, "wire_fee_ueur": c.wire_fee,
            "total_ueur": c.total, "grid": c.grid, "buy_order": c.buy_order, "sell_order": c.sell_order,
            "stage": STAGES.get(c.stage, "unset"), "escrow_ueur": c.escrow, "credit_ueur": c.credit,
            "cluster": list(c.cluster), "leader": c.leader, "quorum": c.quorum}


def grid_prices_json(g: pb.GridPrices) -> dict[str, Any]:
    return {"day": day_text(g.day), "buy_ueur_per_kwh": list(g.buy), "sell_ueur_per_kwh": list(g.sell)}
