"""The validator's event stream, as the mirror reads it.

A raw ZMQ DEALER on the validator's component endpoint (tcp://HOST:4004)
sends one CLIENT_EVENTS_SUBSCRIBE_REQUEST for

* `sawtooth/block-commit`: every block, so the mirror knows every block id;
* `sawtooth/state-delta`, filtered to the addresses of Sawgrid's families
  (namespaces from the registry, `deltas.address_regex()`);

with `last_known_block_ids`, so the validator first sends the blocks after the
most recent of them that is on its chain (the catch-up after a restart). A
Sawtooth validator sends a whole catch-up in one EventList and devnet one
message per block: `split_blocks` cuts either at the block-commit events.
The state-delta event carries every change of the block (the filter only
decides whether it is sent), so changes outside Sawgrid's namespaces are
dropped here.

The stream is lost when the validator goes away: the socket monitor sees the
disconnect (ZMTP heartbeats find a peer that stopped answering), and
`receive` raises `StreamLost`. The caller then subscribes again on a new
socket from what its database holds. PINGs from the validator are answered,
as Sawtooth's validator drops silent connections.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Sequence

import zmq
from zmq.utils.monitor import recv_monitor_message

from sawgrid.clients.sync.deltas import Change, address_regex, is_ours
from sawgrid.protos.sawtooth import (
    Event,
    EventFilter,
    EventList,
    EventSubscription,
    Message,
    StateChange,
    StateChangeList,
    client_event_pb2,
    network_pb2,
)

LOG = logging.getLogger("sawgrid.sync.subscriber")

BLOCK_COMMIT = "sawtooth/block-commit"
STATE_DELTA = "sawtooth/state-delta"
NULL_BLOCK_ID = "0000000000000000"   # "from genesis", in last_known_block_ids
ANSWER_TIMEOUT = 10.0   # seconds for the validator to answer a subscription
HEARTBEAT_MS = 2_000    # ZMTP PING every 2 s of silence...
HEARTBEAT_TIMEOUT_MS = 10_000   # ...and the connection is closed after 10 s without an answer

_R = client_event_pb2.ClientEventsSubscribeResponse


class StreamLost(Exception):
    """The validator went away or did not answer; subscribe again."""


class UnknownBlocks(Exception):
    """None of the last known block ids is on the validator's chain."""


class SubscriptionRefused(Exception):
    """The validator refused the subscription itself (not retryable)."""


@dataclass(frozen=True)
class BlockEvents:
    """One block as the stream tells it: its ids and Sawgrid's state changes."""

    block_num: int
    block_id: str
    previous_block_id: str
    state_root_hash: str
    changes: tuple[Change, ...]


def subscriptions() -> list[EventSubscription]:
    return [
        EventSubscription(event_type=BLOCK_COMMIT),
        EventSubscription(event_type=STATE_DELTA, filters=[EventFilter(
            key="address", match_string=address_regex(), filter_type=EventFilter.REGEX_ANY)]),
    ]


def split_blocks(events: Sequence[Event]) -> list[BlockEvents]:
    """The blocks in one EventList, in order. Events before the first
    block-commit (none are expected) are ignored with a warning."""
    blocks: list[BlockEvents] = []
    current: dict[str, str] | None = None
    changes: dict[str, Change] = {}

    def close() -> None:
        if current is not None:
            blocks.append(BlockEvents(int(current["block_num"]), current["block_id"],
                                      current.get("previous_block_id", ""), current.get("state_root_hash", ""),
                                      tuple(changes[a] for a in sorted(changes))))

    for event in events:
        if event.event_type == BLOCK_COMMIT:
            close()
            current = {a.key: a.value for a in event.attributes}
            changes = {}
        elif event.event_type == STATE_DELTA:
            if current is None:
                LOG.warning("a state-delta event before any block-commit event: ignored")
                continue
            for change in StateChangeList.FromString(event.data).state_changes:
                if is_ours(change.address):
                    value = change.value if change.type == StateChange.SET else None
                    changes[change.address] = Change(change.address, value)
    close()
    return blocks


class Subscriber:
    """One subscription on one socket: `subscribe`, then `receive` until it
    raises; `close` in the end. Not thread-safe."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._ctx = zmq.Context.instance()
        self._sock: zmq.Socket | None = None
        self._monitor: zmq.Socket | None = None
        self._early: list[Message] = []

    def subscribe(self, last_known_block_ids: Sequence[str], timeout: float = ANSWER_TIMEOUT) -> None:
        """Open a new socket and subscribe; the events follow via `receive`.
        Raises StreamLost (no answer in time), UnknownBlocks, SubscriptionRefused."""
        self.close()
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        # Read everything the validator sends as fast as it comes: a validator
        # drops a subscriber whose queue fills up (see the package README).
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        sock.setsockopt(zmq.RECONNECT_IVL, 200)
        self._monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECTED)
        sock.connect(self.endpoint)
        self._sock = sock
        request = client_event_pb2.ClientEventsSubscribeRequest(
            subscriptions=subscriptions(), last_known_block_ids=list(last_known_block_ids))
        correlation_id = secrets.token_hex(16)
        self._send(Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST, request.SerializeToString(), correlation_id)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000)):
                self.close()
                raise StreamLost(f"no answer to the subscription from {self.endpoint} within {timeout:.0f} s")
            message = Message.FromString(sock.recv_multipart()[-1])
            if message.correlation_id == correlation_id and \
                    message.message_type == Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE:
                break
            if message.message_type == Message.PING_REQUEST:
                self._pong(message)
            else:
                self._early.append(message)
        response = _R.FromString(message.content)
        if response.status == _R.OK:
            self._drain_monitor()
            return
        self.close()
        if response.status == _R.UNKNOWN_BLOCK:
            raise UnknownBlocks(response.response_message or "none of the last known blocks is on the chain")
        raise SubscriptionRefused(f"{_R.Status.Name(response.status)}: {response.response_message}")

    def receive(self, timeout: float) -> list[BlockEvents]:
        """The blocks that arrived within `timeout` seconds (maybe none).
        Raises StreamLost when the connection to the validator is gone."""
        if self._sock is None:
            raise StreamLost("not subscribed")
        blocks: list[BlockEvents] = []
        while self._early:
            blocks.extend(self._handle(self._early.pop(0)))
        if blocks:
            return blocks
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        ready = dict(poller.poll(int(timeout * 1000)))
        if self._monitor in ready:
            self._drain_monitor()
        while self._sock.get(zmq.EVENTS) & zmq.POLLIN:
            blocks.extend(self._handle(Message.FromString(self._sock.recv_multipart()[-1])))
            if len(blocks) >= 500:
                break
        return blocks

    def close(self) -> None:
        """Unsubscribe (best effort: the validator also forgets a subscriber
        whose connection closes) and close the socket."""
        if self._sock is not None:
            try:
                self._send(Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST,
                           client_event_pb2.ClientEventsUnsubscribeRequest().SerializeToString(),
                           secrets.token_hex(16), block=False)
            except zmq.ZMQError:
                pass
            self._sock.disable_monitor()
            self._sock.close(0)
            self._sock = None
        if self._monitor is not None:
            self._monitor.close(0)
            self._monitor = None
        self._early.clear()

    # -- internals ---------------------------------------------------------------
    def _handle(self, message: Message) -> list[BlockEvents]:
        if message.message_type == Message.CLIENT_EVENTS:
            return split_blocks(EventList.FromString(message.content).events)
        if message.message_type == Message.PING_REQUEST:
            self._pong(message)
        return []

    def _drain_monitor(self) -> None:
        assert self._monitor is not None
        while self._monitor.get(zmq.EVENTS) & zmq.POLLIN:
            event = recv_monitor_message(self._monitor)
            if event["event"] == zmq.EVENT_DISCONNECTED:
                raise StreamLost(f"the connection to {self.endpoint} was lost")

    def _pong(self, ping: Message) -> None:
        self._send(Message.PING_RESPONSE, network_pb2.PingResponse().SerializeToString(), ping.correlation_id,
                   block=False)

    def _send(self, message_type: int, content: bytes, correlation_id: str, block: bool = True) -> None:
        assert self._sock is not None
        data = Message(message_type=message_type, correlation_id=correlation_id, content=content)
        self._sock.send_multipart([data.SerializeToString()], 0 if block else zmq.NOBLOCK)
