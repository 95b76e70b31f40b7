"""Who may trade with whom in the order book: pure rules over two orders.

* offers (SELL) rest ascending by (price, seq): the cheapest, then oldest, first;
* orders (BUY) rest descending by price, then ascending seq.
An arriving order trades against the head of the opposite side while the
prices cross, at the resting entry's price, skipping its owner's own entries
and entries the two owners' Q-scores rule out (`acceptable`). Where the
entries are kept, and how the head is found, is `book.py`.
"""
from __future__ import annotations

from sawgrid.protos import market_pb2 as pb


def acceptable(incoming: pb.Order, resting: pb.Order) -> bool:
    """Whether the two owners may trade: not the same owner, and each one's
    Q-score (as recorded on its order when placed) at least the other's
    `min_counterparty_score`."""
    return (resting.owner != incoming.owner
            and resting.owner_score >= incoming.min_counterparty_score
            and incoming.owner_score >= resting.min_counterparty_score)
