"""Sawtooth's event subscription service, as devnet serves it on the component endpoint.

Per committed block a subscriber receives one CLIENT_EVENTS message carrying
an EventList with, as far as its subscriptions ask for them:

* `sawtooth/block-commit` — attributes block_id, block_num, state_root_hash,
  previous_block_id;
* `sawtooth/state-delta` — one `address` attribute per changed address, data a
  serialized StateChangeList of the block's changes (last change per address);
* the custom events transaction processors added with `context.add_event`.

A subscribe request may name `last_known_block_ids`: devnet then first sends
the events of every block after the most recent of them that is on the chain
(the catch-up a ledger-sync needs after a restart); when none of them is on
the chain the answer is UNKNOWN_BLOCK. The all-zeros id means "from genesis".

Subscribers are untrusted peers: a request that does not decode raises to
the component endpoint, which answers it with an error status; a failure
while sending one subscriber its events is logged and costs that subscriber
only, never the block publisher that calls `block_committed`.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Callable, Sequence

from sawgrid.devnet.store import Store
from sawgrid.protos.sawtooth import (
    Block,
    BlockHeader,
    Event,
    EventFilter,
    EventList,
    Message,
    StateChangeList,
    TransactionReceipt,
    client_event_pb2,
)

LOG = logging.getLogger("sawgrid.devnet.events")

BLOCK_COMMIT = "sawtooth/block-commit"
STATE_DELTA = "sawtooth/state-delta"
NULL_BLOCK_ID = "0000000000000000"

Send = Callable[[bytes, int, bytes, "bytes | None"], None]


class InvalidFilter(ValueError):
    pass


@dataclass(frozen=True)
class _Filter:
    key: str
    kind: int
    match: str
    regex: re.Pattern | None

    def passes(self, event: Event) -> bool:
        values = [attr.value for attr in event.attributes if attr.key == self.key]
        if not values:
            return False
        if self.kind == EventFilter.SIMPLE_ANY:
            return any(v == self.match for v in values)
        if self.kind == EventFilter.SIMPLE_ALL:
            return all(v == self.match for v in values)
        if self.kind == EventFilter.REGEX_ANY:
            return any(self.regex.match(v) for v in values)
        return all(self.regex.match(v) for v in values)  # REGEX_ALL


@dataclass(frozen=True)
class Subscription:
    event_type: str
    filters: tuple[_Filter, ...]

    def matches(self, event: Event) -> bool:
        return event.event_type == self.event_type and all(f.passes(event) for f in self.filters)


def parse_subscriptions(messages: Sequence) -> list[Subscription]:
    """Protobuf EventSubscriptions → Subscriptions; InvalidFilter on a bad filter."""
    subs = []
    for sub in messages:
        filters = []
        for f in sub.filters:
            if f.filter_type not in (EventFilter.SIMPLE_ANY, EventFilter.SIMPLE_ALL,
                                     EventFilter.REGEX_ANY, EventFilter.REGEX_ALL):
                raise InvalidFilter(f"filter on {f.key!r}: filter_type is not set")
            regex = None
            if f.filter_type in (EventFilter.REGEX_ANY, EventFilter.REGEX_ALL):
                try:
                    regex = re.compile(f.match_string)
                except re.error as err:
                    raise InvalidFilter(f"filter on {f.key!r}: bad regex {f.match_string!r}: {err}") from None
            filters.append(_Filter(f.key, f.filter_type, f.match_string, regex))
        subs.append(Subscription(sub.event_type, tuple(filters)))
    return subs


def block_events(block: Block, receipts: Sequence[TransactionReceipt]) -> list[Event]:
    """Every event a block produces, in Sawtooth's order."""
    header = BlockHeader.FromString(block.header)
    events = [
        Event(
            event_type=BLOCK_COMMIT,
            attributes=[
                Event.Attribute(key="block_id", value=block.header_signature),
                Event.Attribute(key="block_num", value=str(header.block_num)),
                Event.Attribute(key="state_root_hash", value=header.state_root_hash),
                Event.Attribute(key="previous_block_id", value=header.previous_block_id),
            ],
        )
    ]
    for receipt in receipts:
        events.extend(receipt.events)
    latest: dict[str, object] = {}
    for receipt in receipts:
        for change in receipt.state_changes:
            latest[change.address] = change
    if latest:
        changes = [latest[address] for address in sorted(latest)]
        events.append(
            Event(
                event_type=STATE_DELTA,
                attributes=[Event.Attribute(key="address", value=c.address) for c in changes],
                data=StateChangeList(state_changes=changes).SerializeToString(),
            )
        )
    return events


class EventHub:
    """Subscribers by connection identity; thread-safe."""

    def __init__(self, store: Store, send: Send) -> None:
        self._store = store
        self._send = send
        self._subscribers: dict[bytes, list[Subscription]] = {}
        # Held while a block is broadcast and while a subscriber catches up,
        # so that no block is missed or sent twice around a subscription.
        self.lock = threading.RLock()

    def handle(self, identity: bytes, message: Message) -> None:
        """Entry point for CLIENT_EVENTS_* requests from the component socket."""
        if message.message_type == Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST:
            self._subscribe(identity, message)
        elif message.message_type == Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST:
            client_event_pb2.ClientEventsUnsubscribeRequest.FromString(message.content)  # refused if undecodable
            self.drop(identity)
            response = client_event_pb2.ClientEventsUnsubscribeResponse(
                status=client_event_pb2.ClientEventsUnsubscribeResponse.OK)
            self._reply(identity, message, Message.CLIENT_EVENTS_UNSUBSCRIBE_RESPONSE, response)
        elif message.message_type == Message.CLIENT_EVENTS_GET_REQUEST:
            self._get(identity, message)

    def drop(self, identity: bytes) -> None:
        with self.lock:
            self._subscribers.pop(identity, None)

    def block_committed(self, block: Block, receipts: Sequence[TransactionReceipt]) -> None:
        """Send the block's events to every subscriber that asks for them."""
        with self.lock:
            if not self._subscribers:
                return
            events = block_events(block, receipts)
            for identity, subs in list(self._subscribers.items()):
                try:
                    self._send_events(identity, subs, events)
                except Exception:
                    LOG.exception("events for subscriber %s failed; unsubscribed", identity.hex()[:8])
                    self._subscribers.pop(identity, None)

    # -- internals --------------------------------------------------------------
    def _reply(self, identity: bytes, request: Message, reply_type: int, response) -> None:
        self._send(identity, reply_type, response.SerializeToString(), request.correlation_id.encode())

    def _send_events(self, identity: bytes, subs: list[Subscription], events: list[Event]) -> None:
        chosen = [e for e in events if any(s.matches(e) for s in subs)]
        if chosen:
            self._send(identity, Message.CLIENT_EVENTS, EventList(events=chosen).SerializeToString(), None)

    def _events_of(self, block_num: int) -> list[Event]:
        block = self._store.block_by_num(block_num)
        receipts = [
            self._store.receipt(txn.header_signature) or TransactionReceipt()
            for batch in block.batches
            for txn in batch.transactions
        ]
        return block_events(block, receipts)

    def _subscribe(self, identity: bytes, message: Message) -> None:
        R = client_event_pb2.ClientEventsSubscribeResponse
        request = client_event_pb2.ClientEventsSubscribeRequest.FromString(message.content)
        try:
            subs = parse_subscriptions(request.subscriptions)
        except InvalidFilter as err:
            self._reply(identity, message, Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE,
                        R(status=R.INVALID_FILTER, response_message=str(err)))
            return
        with self.lock:
            start = None
            if request.last_known_block_ids:
                known = [-1 if bid == NULL_BLOCK_ID else self._store.block_num_of(bid)
                         for bid in request.last_known_block_ids]
                known = [num for num in known if num is not None]
                if not known:
                    self._reply(identity, message, Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE,
                                R(status=R.UNKNOWN_BLOCK, response_message="none of last_known_block_ids is on the chain"))
                    return
                start = max(known) + 1
            self._reply(identity, message, Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE, R(status=R.OK))
            if start is not None:
                for num in range(start, self._store.head_num() + 1):
                    self._send_events(identity, subs, self._events_of(num))
            self._subscribers[identity] = subs

    def _get(self, identity: bytes, message: Message) -> None:
        R = client_event_pb2.ClientEventsGetResponse
        request = client_event_pb2.ClientEventsGetRequest.FromString(message.content)
        try:
            subs = parse_subscriptions(request.subscriptions)
        except InvalidFilter:
            self._reply(identity, message, Message.CLIENT_EVENTS_GET_RESPONSE, R(status=R.INVALID_FILTER))
            return
        nums = [self._store.block_num_of(bid) for bid in request.block_ids]
        if any(num is None for num in nums):
            self._reply(identity, message, Message.CLIENT_EVENTS_GET_RESPONSE, R(status=R.UNKNOWN_BLOCK))
            return
        events = [e for num in nums for e in self._events_of(num) if any(s.matches(e) for s in subs)]
        self._reply(identity, message, Message.CLIENT_EVENTS_GET_RESPONSE, R(status=R.OK, events=events))
