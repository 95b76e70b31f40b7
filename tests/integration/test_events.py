"""Sawtooth event subscriptions on devnet's component endpoint, spoken the way
a ledger-sync written for Sawtooth speaks them (raw ZMQ DEALER + protobuf)."""
from __future__ import annotations

import secrets

import pytest
import zmq

from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.devnet.events import block_events, parse_subscriptions
from sawgrid.processors.block_info.addresses import NAMESPACE as BLOCK_INFO_NAMESPACE
from sawgrid.processors.kv.addresses import KV, kv_address

from sawgrid.protos.sawtooth import (
    Block,
    BlockHeader,
    Event,
    EventFilter,
    EventList,
    EventSubscription,
    Message,
    StateChange,
    StateChangeList,
    TransactionReceipt,
    client_event_pb2,
)

KV_DELTAS = EventSubscription(
    event_type="sawtooth/state-delta",
    filters=[EventFilter(key="address", match_string=KV.namespace + ".*", filter_type=EventFilter.REGEX_ANY)],
)
BLOCK_COMMITS = EventSubscription(event_type="sawtooth/block-commit")


class Subscriber:
    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def request(self, mtype: int, content: bytes) -> Message:
        cid = secrets.token_hex(8)
        self.sock.send_multipart([Message(message_type=mtype, correlation_id=cid, content=content).SerializeToString()])
        while True:
            msg = self.next(timeout=10)
            if msg.correlation_id == cid:
                return msg

    def next(self, timeout: float = 10) -> Message:
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError("no message from devnet")
        return Message.FromString(self.sock.recv_multipart()[-1])

    def events(self, timeout: float = 10) -> list[Event]:
        while True:
            msg = self.next(timeout)
            if msg.message_type == Message.CLIENT_EVENTS:
                return list(EventList.FromString(msg.content).events)

    def subscribe(self, subs, last_known=()) -> client_event_pb2.ClientEventsSubscribeResponse:
        req = client_event_pb2.ClientEventsSubscribeRequest(subscriptions=subs, last_known_block_ids=list(last_known))
        reply = self.request(Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST, req.SerializeToString())
        assert reply.message_type == Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE
        return client_event_pb2.ClientEventsSubscribeResponse.FromString(reply.content)

    def close(self) -> None:
        self.sock.close(0)


def _attrs(event: Event) -> dict[str, str]:
    return {a.key: a.value for a in event.attributes}


def test_live_block_commit_and_state_delta(devnet, signer):
    sub = Subscriber(devnet.component)
    try:
        assert sub.subscribe([BLOCK_COMMITS, KV_DELTAS]).status == client_event_pb2.ClientEventsSubscribeResponse.OK
        client = RestClient(devnet.url)
        client.submit_and_wait([kv_batch(signer, "evt", b"42")], timeout=30)
        events = sub.events()
        commit = next(e for e in events if e.event_type == "sawtooth/block-commit")
        assert _attrs(commit)["block_id"] == client.head_id()
        delta = next(e for e in events if e.event_type == "sawtooth/state-delta")
        changes = StateChangeList.FromString(delta.data).state_changes
        # as on a validator, the event carries the whole block's changes (the
        # filter chooses events, not changes): here the BlockInfo record too
        assert [(c.address, c.value) for c in changes if c.address.startswith(KV.namespace)] == [
            (kv_address("evt"), b"42")]
        assert {c.address[:6] for c in changes} <= {KV.namespace, BLOCK_INFO_NAMESPACE}
    finally:
        sub.close()


def test_catch_up_from_last_known_block(devnet, signer):
    client = RestClient(devnet.url)
    genesis_id = list(client.blocks())[-1]["header_signature"]
    for i in range(3):
        client.submit_and_wait([kv_batch(signer, f"c{i}")], timeout=30)
    head = client.head_id()
    sub = Subscriber(devnet.component)
    try:
        assert sub.subscribe([BLOCK_COMMITS], last_known=[genesis_id]).status == \
            client_event_pb2.ClientEventsSubscribeResponse.OK
        seen = []
        while not seen or seen[-1] != head:
            (event,) = sub.events()
            seen.append(_attrs(event)["block_id"])
        nums = [int(client.block(b)["header"]["block_num"]) for b in seen]
        assert nums == list(range(1, nums[-1] + 1))  # every block after genesis, in order
    finally:
        sub.close()


def test_unknown_block_and_bad_filter_are_refused(devnet):
    sub = Subscriber(devnet.component)
    try:
        R = client_event_pb2.ClientEventsSubscribeResponse
        assert sub.subscribe([BLOCK_COMMITS], last_known=["ab" * 64]).status == R.UNKNOWN_BLOCK
        bad = EventSubscription(event_type="x", filters=[EventFilter(key="a", match_string="(", filter_type=EventFilter.REGEX_ANY)])
        assert sub.subscribe([bad]).status == R.INVALID_FILTER
    finally:
        sub.close()


def test_block_events_carry_custom_events_and_squashed_deltas():
    header = BlockHeader(block_num=7, previous_block_id="p", state_root_hash="r")
    block = Block(header=header.SerializeToString(), header_signature="b")
    a, b = "aa" * 35, "bb" * 35
    receipts = [
        TransactionReceipt(transaction_id="t1", state_changes=[StateChange(address=a, value=b"1", type=StateChange.SET)],
                           events=[Event(event_type="market/contract", attributes=[Event.Attribute(key="buyer", value="bob")])]),
        TransactionReceipt(transaction_id="t2", state_changes=[StateChange(address=a, value=b"2", type=StateChange.SET),
                                                               StateChange(address=b, type=StateChange.DELETE)]),
    ]
    events = block_events(block, receipts)
    assert [e.event_type for e in events] == ["sawtooth/block-commit", "market/contract", "sawtooth/state-delta"]
    assert _attrs(events[0]) == {"block_id": "b", "block_num": "7", "state_root_hash": "r", "previous_block_id": "p"}
    changes = StateChangeList.FromString(events[2].data).state_changes
    assert [(c.address, c.value, c.type) for c in changes] == [(a, b"2", StateChange.SET), (b, b"", StateChange.DELETE)]
    subs = parse_subscriptions([EventSubscription(event_type="market/contract", filters=[
        EventFilter(key="buyer", match_string="bob", filter_type=EventFilter.SIMPLE_ANY)])])
    assert [e.event_type for e in events if subs[0].matches(e)] == ["market/contract"]
    subs = parse_subscriptions([EventSubscription(event_type="market/contract", filters=[
        EventFilter(key="buyer", match_string="alice", filter_type=EventFilter.SIMPLE_ANY)])])
    assert not any(subs[0].matches(e) for e in events)
