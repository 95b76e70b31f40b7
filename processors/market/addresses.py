"""Where the market keeps its records, and what each action may touch.

    namespace(6) | kind(2) | key(62)

| kind | record | key / scope |
|---|---|---|
| 00 | Config (operators, system operator, wire fee) | fixed |
| 01 | Participant | public key |
| 02 | DayRole | public key / day |
| 03 | Wallet | public key |
| 04 | GridPrices | scope: day (8 hex) |
| 05 | Penalties | scope: day |
| 06 | RecommendationRecord | scope: day, key: public key |
| 07 | Book: the hour's head, and its pages of resting entries | scope: day + hour (10 hex) |
| 08 | Contract | scope: day + hour, key: contract id |
| 09 | HourIndex (the hour's contract ids) | scope: day + hour |
| 0a | Position (a participant's contracts in an hour) | scope: day + hour, key: public key |
| 0b | RecommendationIndex (who has a recommendation) | scope: day |
| 0c | BookIndex: the hour's price index (radix nodes, price levels, where each resting entry is) | scope: day + hour |

A processor cannot list addresses, so an hour's book is a tree of records
whose addresses follow from what the head says (book.py): the head names the
best price of each side, a price names its level, a level its pages. An order
reads a bounded number of them (the head, the levels and pages it trades
with, the radix path of a price it rests at or empties), whatever the size of
the book; it declares the hour's book and index prefixes, since which of
their records it touches depends on the book. Who a trade is with cannot be known when the transaction is signed (the
counterparties are whoever rests in the book then), so an order declares the
hour's prefixes for what a trade writes about them: contracts, positions
(and the hour's index). It never declares another participant's wallet: a
match moves no money between wallets (the buyer's stays locked in its own
wallet as the contract's escrow), so orders for different delivery hours do
not conflict, and orders of different participants in one hour conflict only
through that hour's book records. A BUY declares its owner's wallet (its lock); a SELL
declares none. Orders also read the reputation family's Config, their
owner's Score and the Pool (eligibility, the cluster draw).

`close_hour` still declares the wallet kind prefix: gate closure returns the
locks of every resting BUY order and moves the system operator's money.

`access()` is the one place that decides inputs and outputs, used by clients
to build transactions and by tests to check the processor never reaches
outside them.
"""
from __future__ import annotations

import functools

from sawgrid.processors.addressing import Family
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import market_pb2 as pb

MARKET = Family("sawgrid-market")

# Event types the family emits (see README.md, "Records and events").
CONTRACT_EVENT = "sawgrid-market/contract"
HOUR_CLOSED_EVENT = "sawgrid-market/hour-closed"

CONFIG = "00"
PARTICIPANT = "01"
ROLE = "02"
WALLET = "03"
GRID_PRICES = "04"
PENALTIES = "05"
RECOMMENDATION = "06"
BOOK = "07"
CONTRACT = "08"
HOUR_INDEX = "09"
POSITION = "0a"
RECOMMENDATION_INDEX = "0b"
BOOK_INDEX = "0c"


def day_scope(day: int) -> str:
    return f"{day:08x}"


def hour_scope(day: int, hour: int) -> str:
    return f"{day:08x}{hour:02x}"


def config_address() -> str:
    return MARKET.address(CONFIG, "config")


def participant_address(public_key: str) -> str:
    return MARKET.address(PARTICIPANT, public_key)


def role_address(public_key: str, day: int) -> str:
    return MARKET.address(ROLE, public_key, day)


@functools.lru_cache(maxsize=1 << 16)
def wallet_address(public_key: str) -> str:
    """Memoized, like `position_address`: settlement declares the parties' and
    the operator's wallets of every contract it may close."""
    return MARKET.address(WALLET, public_key)


def grid_prices_address(day: int) -> str:
    return MARKET.scoped_address(GRID_PRICES, day_scope(day), "grid")


def penalties_address(day: int) -> str:
    return MARKET.scoped_address(PENALTIES, day_scope(day), "penalties")


def recommendation_address(day: int, public_key: str) -> str:
    return MARKET.scoped_address(RECOMMENDATION, day_scope(day), public_key)


def book_address(day: int, hour: int) -> str:
    return MARKET.scoped_address(BOOK, hour_scope(day, hour), "book")


def book_prefix(day: int, hour: int) -> str:
    """Every Book record of one hour: its head and its pages."""
    return MARKET.prefix(BOOK) + hour_scope(day, hour)


def page_address(day: int, hour: int, side: int, price: int, number: int) -> str:
    """Page `number` of the price level `price` of one side of an hour's book."""
    return MARKET.scoped_address(BOOK, hour_scope(day, hour), "page", side, price, number)


def book_index_prefix(day: int, hour: int) -> str:
    """Every BookIndex record of one hour (its price index)."""
    return MARKET.prefix(BOOK_INDEX) + hour_scope(day, hour)


def node_address(day: int, hour: int, side: int, depth: int, prefix: int) -> str:
    """A node of one side's radix tree over prices."""
    return MARKET.scoped_address(BOOK_INDEX, hour_scope(day, hour), "node", side, depth, prefix)


def level_address(day: int, hour: int, side: int, price: int) -> str:
    """The price level `price` of one side."""
    return MARKET.scoped_address(BOOK_INDEX, hour_scope(day, hour), "level", side, price)


def order_ref_address(day: int, hour: int, seq: int) -> str:
    """Where the resting entry with sequence number `seq` is."""
    return MARKET.scoped_address(BOOK_INDEX, hour_scope(day, hour), "ref", seq)


@functools.lru_cache(maxsize=1 << 18)
def contract_address(day: int, hour: int, contract_id: str) -> str:
    """Memoized: settlement derives an hour's contract addresses again and
    again (processors/reputation/access.py), about 1.9 million calls in a
    300-participant, one-day `simulate --fast`."""
    return MARKET.scoped_address(CONTRACT, hour_scope(day, hour), contract_id)


def hour_index_address(day: int, hour: int) -> str:
    return MARKET.scoped_address(HOUR_INDEX, hour_scope(day, hour), "index")


@functools.lru_cache(maxsize=1 << 16)
def position_address(day: int, hour: int, public_key: str) -> str:
    """Memoized, like `contract_address`: every reading, attestation and close
    of an hour's contract derives its parties' Positions again (access.py,
    settle.allocation, the client's Hour); 270,000 calls in a 100-participant,
    three-day `simulate --fast`."""
    return MARKET.scoped_address(POSITION, hour_scope(day, hour), public_key)


def positions_prefix(day: int, hour: int) -> str:
    return MARKET.prefix(POSITION) + hour_scope(day, hour)


def recommendation_index_address(day: int) -> str:
    return MARKET.scoped_address(RECOMMENDATION_INDEX, day_scope(day), "index")


def contracts_prefix(day: int | None = None, hour: int | None = None) -> str:
    """Prefix for a REST query of contracts: all, one day's, or one hour's."""
    if day is None:
        return MARKET.prefix(CONTRACT)
    return MARKET.prefix(CONTRACT) + (day_scope(day) if hour is None else hour_scope(day, hour))


def recommendations_prefix(day: int) -> str:
    return MARKET.prefix(RECOMMENDATION) + day_scope(day)


def hour_outputs(day: int, hour: int) -> list[str]:
    """What a trade in one delivery hour writes: its book (head and pages), its
    price index, its contracts, its index and its participants' positions
    (all scoped to that hour)."""
    return [book_prefix(day, hour), book_index_prefix(day, hour), contracts_prefix(day, hour),
            hour_index_address(day, hour), positions_prefix(day, hour)]


def parse_order_id(order_id: str) -> tuple[int, int, int]:
    """'<day>/<hour>/<seq>' -> (day, hour, seq); ValueError if malformed."""
    parts = order_id.split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"order id must look like DAY/HOUR/SEQ, got {order_id!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def access(payload: pb.MarketPayload, signer: str) -> tuple[list[str], list[str]]:
    """(inputs, outputs) the transaction for `payload` signed by `signer` needs.

    Raises ValueError for a payload whose addresses cannot be derived (no
    action, malformed order id); the processor rejects such payloads too.
    """
    action = payload.WhichOneof("action")
    config = config_address()
    if action == "init":
        touched = [config, participant_address(signer), wallet_address(signer)]
        return touched, touched
    if action == "add_operator":
        pk = payload.add_operator.public_key
        touched = [config, participant_address(pk), wallet_address(pk)]
        return touched, touched
    if action in ("remove_operator", "set_wire_fee"):
        return [config], [config]
    if action == "register":
        touched = [participant_address(signer), wallet_address(signer)]
        return touched, touched
    if action == "approve":
        pk = payload.approve.public_key
        return [config, participant_address(pk)], [participant_address(pk)]
    if action == "set_role":
        role = role_address(signer, payload.set_role.day)
        return [participant_address(signer), role], [role]
    if action == "fund":
        pk = payload.fund.public_key
        return [config, participant_address(pk), wallet_address(pk)], [wallet_address(pk)]
    if action == "set_grid_prices":
        grid = grid_prices_address(payload.set_grid_prices.day)
        return [config, grid], [grid]
    if action == "place_order":
        o = payload.place_order
        hour = hour_outputs(o.day, o.hour)
        own = [wallet_address(signer)] if o.side == pb.BUY else []  # a SELL's wallet is not touched
        inputs = [config, participant_address(signer), role_address(signer, o.day), penalties_address(o.day),
                  *own, *hour, reputation.config_address(), reputation.score_address(signer),
                  reputation.pool_address()]
        return inputs, [*own, *hour]
    if action == "cancel":
        day, hour, _ = parse_order_id(payload.cancel.order_id)
        touched = [book_prefix(day, hour), book_index_prefix(day, hour), wallet_address(signer)]
        return touched, touched
    if action == "close_hour":
        c = payload.close_hour
        wallets = MARKET.prefix(WALLET)
        hour = hour_outputs(c.day, c.hour)
        return [config, grid_prices_address(c.day), wallets, *hour], [wallets, *hour]
    if action == "set_penalties":
        pen = penalties_address(payload.set_penalties.day)
        return [config, pen], [pen]
    if action == "set_recommendations":
        r = payload.set_recommendations
        recs = [recommendation_address(r.day, rec.public_key) for rec in r.recommendations]
        parts = [participant_address(rec.public_key) for rec in r.recommendations]
        index = recommendation_index_address(r.day)
        return [config, penalties_address(r.day), *recs, *parts, index], [*recs, index]
    raise ValueError("payload has no action")
