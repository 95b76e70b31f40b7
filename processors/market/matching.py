"""The order book of one delivery hour: price-time priority, partial fills.

Pure functions over a `Book` message; no state access, no money. The handler
turns the fills into contracts and wallet movements.

* offers (SELL) rest ascending by (price, seq): the cheapest, then oldest, first;
* orders (BUY) rest descending by price, then ascending seq.
An arriving order trades against the head of the opposite side while the
prices cross, at the resting entry's price, skipping its owner's own entries
and entries the two owners' Q-scores rule out (`acceptable`).
"""
from __future__ import annotations

from dataclasses import dataclass

from sawgrid.protos import market_pb2 as pb


@dataclass
class Fill:
    resting: pb.Order  # the resting entry after this fill (remaining may be 0)
    energy: int        # Wh
    price: int         # µEUR/kWh: the resting entry's price


def crosses(incoming: pb.Order, resting: pb.Order) -> bool:
    if incoming.side == pb.BUY:
        return resting.price <= incoming.price
    return resting.price >= incoming.price


def acceptable(incoming: pb.Order, resting: pb.Order) -> bool:
    """Whether the two owners may trade: not the same owner, and each one's
    Q-score (as recorded on its order when placed) at least the other's
    `min_counterparty_score`."""
    return (resting.owner != incoming.owner
            and resting.owner_score >= incoming.min_counterparty_score
            and incoming.owner_score >= resting.min_counterparty_score)


def match(book: pb.Book, incoming: pb.Order) -> list[Fill]:
    """Trade `incoming` against the book. Mutates both: `incoming.remaining`
    and the resting entries' `remaining` go down; fully filled resting entries
    leave the book. Returns the fills in execution order."""
    side = book.offers if incoming.side == pb.BUY else book.orders
    fills: list[Fill] = []
    index = 0
    while incoming.remaining and index < len(side):
        resting = side[index]
        if not crosses(incoming, resting):
            break
        if not acceptable(incoming, resting):  # yourself, or a Q-score either side refuses
            index += 1
            continue
        energy = min(incoming.remaining, resting.remaining)
        incoming.remaining -= energy
        resting.remaining -= energy
        snapshot = pb.Order()
        snapshot.CopyFrom(resting)
        fills.append(Fill(snapshot, energy, resting.price))
        if resting.remaining == 0:
            del side[index]
        else:
            index += 1
    return fills


def rest(book: pb.Book, order: pb.Order) -> None:
    """Insert `order` behind every entry with equal or better price (binary search)."""
    if order.side == pb.SELL:
        side, key = book.offers, order.price            # ascending price
        ahead = lambda other: other.price <= key          # noqa: E731
    else:
        side, key = book.orders, order.price            # descending price
        ahead = lambda other: other.price >= key          # noqa: E731
    low, high = 0, len(side)
    while low < high:  # first index whose entry is not ahead of the new order
        mid = (low + high) // 2
        if ahead(side[mid]):
            low = mid + 1
        else:
            high = mid
    side.insert(low, order)


def find(book: pb.Book, order_id: str) -> tuple[object, int] | None:
    """(side list, index) of a resting entry, or None."""
    for side in (book.offers, book.orders):
        for i, entry in enumerate(side):
            if entry.id == order_id:
                return side, i
    return None
