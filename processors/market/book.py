"""The order book of one delivery hour, kept as many small records, so that
an order's cost does not grow with the size of the book.

A processor reads only addresses it can name (no prefix scans), so every
record of the book is named by one it has already read:

* the **head** (`book_address(day, hour)`, a `Book` without entries): closed,
  next_seq, and per side the best price and how many entries rest;
* a **price level** per side and price with resting entries (`BookLevel`,
  `level_address`): its pages `first_page..last_page` and its entry count;
* **pages** (`page_address(day, hour, side, price, number)`, a `Book` whose
  `offers` or `orders` hold up to `PAGE_SIZE` entries of that level, in time
  order). A new entry has the hour's highest seq, so it always joins the
  level's last page (or opens the next one): time priority costs nothing;
* a **radix tree over prices** per side (`BookNode`, `node_address`):
  `DEPTH` levels of `DIGIT_BITS`-bit digits, each node listing its non-empty
  children. It answers "the next price after p" by reading at most
  2 × DEPTH nodes, when a level empties and the best price moves on, and
  gains (or loses) at most DEPTH nodes when a price level appears (or goes);
* an **order ref** per resting entry (`OrderRef`, `order_ref_address(seq)`):
  where a cancel finds it, since an order id names no price.

So an arriving order reads the head, then the best level and its first page,
and further pages and levels only as far as it trades (or skips entries it
may not trade with). Priority is unchanged: offers ascending (price, seq),
orders descending price then ascending seq, fills at the resting entry's
price, `matching.acceptable` deciding who may trade (no self-trade, Q-score
minimums). Closing the hour visits every record of its book once (it returns
every resting BUY's lock anyway) and deletes them all but the head.

Pure state logic: no money. The handler turns the fills into contracts and
wallet movements.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from sawgrid.processors.market import units as u
from sawgrid.processors.market.matching import acceptable
from sawgrid.processors.market.state import ADDR, MarketState
from sawgrid.protos import market_pb2 as pb

PAGE_SIZE = 32        # entries per page: small enough to re-serialize cheaply, large enough for few reads
DIGIT_BITS = 8        # bits of the price per radix node: a node lists up to 256 children
DEPTH = 4             # radix levels: DEPTH × DIGIT_BITS bits cover every price up to MAX_PRICE
_MASK = (1 << DIGIT_BITS) - 1
assert u.MAX_PRICE < 1 << (DIGIT_BITS * DEPTH), "the price radix must cover MAX_PRICE"

_ASCENDING = {pb.SELL: True, pb.BUY: False}   # offers: cheapest first; orders: highest first


@dataclass
class Fill:
    resting: pb.Order        # a snapshot of the resting entry after this fill (remaining may be 0)
    energy: int              # Wh
    price: int               # µEUR/kWh: the resting entry's price
    entry: pb.Order | None   # the entry as it rests on its page, None once it left the book


def _digit(price: int, depth: int) -> int:
    return (price >> (DIGIT_BITS * (DEPTH - 1 - depth))) & _MASK


def _prefix(price: int, depth: int) -> int:
    """The price's top `depth` digits: which node at `depth` holds its digit."""
    return price >> (DIGIT_BITS * (DEPTH - depth))


def entries_of(page: pb.Book, side: int):
    return page.offers if side == pb.SELL else page.orders


def ahead(side: int, price: int, other: int) -> bool:
    """Whether a level at `price` trades before one at `other` on `side`."""
    return price < other if _ASCENDING[side] else price > other


def crosses(incoming: pb.Order, price: int) -> bool:
    """Whether an arriving order trades with resting entries at `price`."""
    return price <= incoming.price if incoming.side == pb.BUY else price >= incoming.price


class HourBook:
    """The book of one delivery hour, read and changed through a MarketState.

    Changes stay in memory until `flush()`, which the handler calls once it
    has decided everything."""

    def __init__(self, st: MarketState, day: int, hour: int) -> None:
        self.st = st
        self.day, self.hour = day, hour
        self.head: pb.Book = st.book(day, hour) or pb.Book(day=day, hour=hour, next_seq=1)
        self._put: dict[str, object] = {}      # address -> record to write (pages, index records)
        self._gone: set[str] = set()

    # -- the head's per-side figures ------------------------------------------------------
    def resting(self, side: int) -> int:
        """How many entries rest on `side`."""
        return self.head.offers_resting if side == pb.SELL else self.head.orders_resting

    def best(self, side: int) -> int | None:
        """The best price resting on `side`, or None when it is empty."""
        if not self.resting(side):
            return None
        return self.head.best_offer if side == pb.SELL else self.head.best_order

    def _count(self, side: int, delta: int) -> None:
        if side == pb.SELL:
            self.head.offers_resting += delta
        else:
            self.head.orders_resting += delta

    def _set_best(self, side: int, price: int | None) -> None:
        price = price or 0
        if side == pb.SELL:
            self.head.best_offer = price
        else:
            self.head.best_order = price

    # -- records ----------------------------------------------------------------------------
    def _write(self, address: str, record) -> None:
        self._put[address] = record
        self._gone.discard(address)

    def _delete(self, address: str) -> None:
        self._put.pop(address, None)
        self._gone.add(address)
        self.st.delete(address)

    def _index(self, address: str) -> pb.BookIndex | None:
        return None if address in self._gone else self.st.book_index(address)

    def _node(self, side: int, depth: int, prefix: int) -> pb.BookIndex | None:
        return self._index(ADDR.node_address(self.day, self.hour, side, depth, prefix))

    def _level(self, side: int, price: int) -> pb.BookIndex | None:
        return self._index(ADDR.level_address(self.day, self.hour, side, price))

    def _page(self, side: int, price: int, number: int) -> pb.Book | None:
        address = ADDR.page_address(self.day, self.hour, side, price, number)
        return None if address in self._gone else self.st.page(self.day, self.hour, side, price, number)

    def _path(self, side: int, price: int) -> list[str]:
        return [ADDR.node_address(self.day, self.hour, side, d, _prefix(price, d)) for d in range(DEPTH)]

    # -- the radix tree over prices ---------------------------------------------------------------
    def _insert_price(self, side: int, price: int) -> None:
        self.st.prefetch(self._path(side, price))
        for depth in range(DEPTH):
            address = ADDR.node_address(self.day, self.hour, side, depth, _prefix(price, depth))
            record = self._index(address) or pb.BookIndex(
                day=self.day, hour=self.hour, node=pb.BookNode(side=side, depth=depth, prefix=_prefix(price, depth)))
            children, digit = record.node.children, _digit(price, depth)
            at = bisect.bisect_left(children, digit)
            if at == len(children) or children[at] != digit:
                children.insert(at, digit)
                self._write(address, record)

    def _remove_price(self, side: int, price: int) -> None:
        for depth in reversed(range(DEPTH)):
            address = ADDR.node_address(self.day, self.hour, side, depth, _prefix(price, depth))
            record = self._index(address)
            children = record.node.children
            children.remove(_digit(price, depth))
            if children:
                self._write(address, record)
                return
            self._delete(address)

    def _next_price(self, side: int, price: int) -> int | None:
        """The next price after `price` in `side`'s priority order that has a
        level (`price` itself must have one), or None."""
        ascending = _ASCENDING[side]
        self.st.prefetch(self._path(side, price))
        for depth in reversed(range(DEPTH)):
            children = self._node(side, depth, _prefix(price, depth)).node.children
            digit = _digit(price, depth)
            at = bisect.bisect_right(children, digit) if ascending else bisect.bisect_left(children, digit) - 1
            if not 0 <= at < len(children):
                continue
            found = (_prefix(price, depth) << DIGIT_BITS) | children[at]
            for below in range(depth + 1, DEPTH):  # down to the first (or last) price under it
                children = self._node(side, below, found).node.children
                found = (found << DIGIT_BITS) | (children[0] if ascending else children[-1])
            return found
        return None

    def prices(self, side: int) -> list[int]:
        """Every price with resting entries on `side`, best first (reads the
        whole tree, a depth at a time: for gate closure)."""
        frontier = [0]
        for depth in range(DEPTH):
            addresses = [ADDR.node_address(self.day, self.hour, side, depth, p) for p in frontier]
            self.st.prefetch(addresses)
            frontier = [(p << DIGIT_BITS) | child for p, a in zip(frontier, addresses)
                        for child in (self._index(a).node.children if self._index(a) else ())]
        return frontier if _ASCENDING[side] else frontier[::-1]

    # -- levels ------------------------------------------------------------------------------------
    def _remove_level(self, side: int, price: int) -> None:
        """Drop an emptied level; if it was the best, the next one becomes best."""
        if self.best(side) == price:
            self._set_best(side, self._next_price(side, price) if self.resting(side) else None)
        self._remove_price(side, price)
        self._delete(ADDR.level_address(self.day, self.hour, side, price))

    def _leave(self, side: int, entry: pb.Order) -> None:
        """Bookkeeping for an entry that left its page (filled or cancelled)."""
        self._count(side, -1)
        self._delete(ADDR.order_ref_address(self.day, self.hour, entry.seq))

    # -- matching ----------------------------------------------------------------------------------
    def match(self, incoming: pb.Order) -> list[Fill]:
        """Trade `incoming` against the opposite side, best price first, then
        time; skip entries `acceptable` refuses. Mutates `incoming.remaining`
        and the resting entries; filled entries leave the book. Returns the
        fills in execution order."""
        side = pb.SELL if incoming.side == pb.BUY else pb.BUY
        fills: list[Fill] = []
        price = self.best(side)
        while incoming.remaining and price is not None and crosses(incoming, price):
            level = self._level(side, price)
            self._match_level(incoming, level, fills)
            after = self._next_price(side, price) if incoming.remaining else None
            if level.level.entries == 0:
                self._remove_level(side, price)
            else:
                self._write(ADDR.level_address(self.day, self.hour, side, price), level)
            price = after
        return fills

    def _match_level(self, incoming: pb.Order, record: pb.BookIndex, fills: list[Fill]) -> None:
        level = record.level
        side, price = level.side, level.price
        number = level.first_page
        while incoming.remaining and level.entries and number <= level.last_page:
            page = self._page(side, price, number)
            if page is not None:
                entries = entries_of(page, side)
                index, traded = 0, False
                while incoming.remaining and index < len(entries):
                    resting = entries[index]
                    if not acceptable(incoming, resting):  # yourself, or a Q-score either side refuses
                        index += 1
                        continue
                    traded = True
                    energy = min(incoming.remaining, resting.remaining)
                    incoming.remaining -= energy
                    resting.remaining -= energy
                    snapshot = pb.Order()
                    snapshot.CopyFrom(resting)
                    if resting.remaining == 0:
                        del entries[index]
                        level.entries -= 1
                        self._leave(side, resting)
                        fills.append(Fill(snapshot, energy, price, None))
                    else:
                        fills.append(Fill(snapshot, energy, price, resting))
                        index += 1
                if traded:
                    self._keep_page(page)
            if number == level.first_page and (page is None or not entries_of(page, side)):
                level.first_page += 1  # the front pages are gone: later orders start behind them
            number += 1

    def _keep_page(self, page: pb.Book) -> None:
        """Write a changed page, or delete it once it is empty."""
        address = ADDR.page_address(self.day, self.hour, page.page.side, page.page.price, page.page.number)
        if entries_of(page, page.page.side):
            self._write(address, page)
        else:
            self._delete(address)

    # -- resting, cancelling, closing ----------------------------------------------------------------
    def rest(self, order: pb.Order) -> None:
        """Put what is left of `order` behind every entry of its price or better."""
        side, price = order.side, order.price
        level_address = ADDR.level_address(self.day, self.hour, side, price)
        record = self._level(side, price)
        if record is None:
            self._insert_price(side, price)
            record = pb.BookIndex(day=self.day, hour=self.hour,
                                  level=pb.BookLevel(side=side, price=price, first_page=1, last_page=1))
        level = record.level
        page = self._page(side, price, level.last_page)
        if page is not None and len(entries_of(page, side)) >= PAGE_SIZE:
            level.last_page += 1
            page = None
        if page is None:
            page = pb.Book(day=self.day, hour=self.hour,
                           page=pb.BookPage(side=side, price=price, number=level.last_page))
        entries_of(page, side).append(order)
        level.entries += 1
        self._write(ADDR.page_address(self.day, self.hour, side, price, level.last_page), page)
        self._write(level_address, record)
        self._write(ADDR.order_ref_address(self.day, self.hour, order.seq), pb.BookIndex(
            day=self.day, hour=self.hour, ref=pb.OrderRef(id=order.id, side=side, price=price,
                                                         page=level.last_page)))
        best = self.best(side)
        self._count(side, 1)
        if best is None or ahead(side, price, best):
            self._set_best(side, price)

    def find(self, order_id: str, seq: int) -> pb.Order | None:
        """The resting entry with this id (and seq), or None."""
        ref = self._index(ADDR.order_ref_address(self.day, self.hour, seq))
        if ref is None or ref.ref.id != order_id:
            return None
        page = self._page(ref.ref.side, ref.ref.price, ref.ref.page)
        for entry in entries_of(page, ref.ref.side) if page is not None else ():
            if entry.id == order_id:
                return entry
        return None

    def remove(self, entry: pb.Order) -> None:
        """Take a resting entry (from `find`) out of the book."""
        side, price = entry.side, entry.price
        ref = self._index(ADDR.order_ref_address(self.day, self.hour, entry.seq)).ref
        record = self._level(side, price)
        level = record.level
        page = self._page(side, price, ref.page)
        entries = entries_of(page, side)
        for index, other in enumerate(entries):
            if other.id == entry.id:
                del entries[index]
                break
        level.entries -= 1
        self._leave(side, entry)
        self._keep_page(page)
        if not entries and ref.page == level.first_page:
            level.first_page += 1
        if level.entries == 0:
            self._remove_level(side, price)
        else:
            self._write(ADDR.level_address(self.day, self.hour, side, price), record)

    def close(self) -> list[pb.Order]:
        """Empty the book: every resting entry, orders (BUY) first then offers,
        each side in priority order; all records but the head are deleted."""
        out: list[pb.Order] = []
        for side in (pb.BUY, pb.SELL):
            prices = self.prices(side)
            levels = [ADDR.level_address(self.day, self.hour, side, p) for p in prices]
            self.st.prefetch(levels)
            pages = []
            for price, address in zip(prices, levels):
                level = self._index(address).level
                pages += [ADDR.page_address(self.day, self.hour, side, price, n)
                          for n in range(level.first_page, level.last_page + 1)]
            self.st.prefetch(pages)
            for price, address in zip(prices, levels):
                level = self._index(address).level
                for number in range(level.first_page, level.last_page + 1):
                    page = self._page(side, price, number)
                    if page is not None:
                        out += entries_of(page, side)
                        self._delete(ADDR.page_address(self.day, self.hour, side, price, number))
                self._delete(address)
            for price in prices:
                for depth in range(DEPTH):
                    address = ADDR.node_address(self.day, self.hour, side, depth, _prefix(price, depth))
                    if address not in self._gone:
                        self._delete(address)
            self._set_best(side, None)
        for entry in out:
            self._delete(ADDR.order_ref_address(self.day, self.hour, entry.seq))
        self.head.offers_resting = self.head.orders_resting = 0
        return out

    def flush(self) -> None:
        """Hand the head and every changed record to the state (pages carry the
        hour's next_seq as of now)."""
        for address, record in self._put.items():
            if isinstance(record, pb.Book):
                record.next_seq = self.head.next_seq
            self.st.put(address, record)
        self.st.put_book(self.head)


def assemble(head: pb.Book | None, pages: list[pb.Book]) -> pb.Book | None:
    """One Book with every resting entry in priority order, from an hour's head
    and its pages (what a client reads with a prefix query): the form the CLI,
    the JSON output and tests read."""
    if head is None and not pages:
        return None
    book = pb.Book()
    if head is not None:
        book.CopyFrom(head)
    for side in (pb.SELL, pb.BUY):
        mine = sorted((p for p in pages if p.page.side == side),
                      key=lambda p: (p.page.price if _ASCENDING[side] else -p.page.price, p.page.number))
        for page in mine:
            entries_of(book, side).extend(entries_of(page, side))
    return book
