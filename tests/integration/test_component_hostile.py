"""Hostile input on devnet's component endpoint, against a real
`sawgrid devnet --processors` over a ZMQ DEALER socket: content that does not
decode for every message type devnet accepts, message types it does not
serve, frames that are no `Message`, calls out of order (state calls for
contexts that do not exist, responses nobody asked for) and oversized
content. Every request still gets exactly one answer, and afterwards devnet
keeps committing batches and stops on SIGTERM.

Bounded: a fixed number of generated examples per test, a bounded wait for
each answer, and a deadline for each whole test (SIGALRM)."""
from __future__ import annotations

import secrets
import signal

import pytest
import zmq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deadline import deadline_fixture
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.protos.sawtooth import (
    Message,
    client_event_pb2,
    network_pb2,
    processor_pb2,
    state_context_pb2,
)

TEST_DEADLINE = 240  # seconds for a whole test, devnet start and stop included
ANSWER_WAIT = 10_000  # ms to wait for the answer to one request
STOP_BOUND = 30  # seconds devnet may take to stop on SIGTERM
EXAMPLES = 150
SETTINGS = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# request type -> its response type, for every request devnet serves
REQUESTS = {
    Message.TP_REGISTER_REQUEST: Message.TP_REGISTER_RESPONSE,
    Message.TP_UNREGISTER_REQUEST: Message.TP_UNREGISTER_RESPONSE,
    Message.TP_STATE_GET_REQUEST: Message.TP_STATE_GET_RESPONSE,
    Message.TP_STATE_SET_REQUEST: Message.TP_STATE_SET_RESPONSE,
    Message.TP_STATE_DELETE_REQUEST: Message.TP_STATE_DELETE_RESPONSE,
    Message.TP_RECEIPT_ADD_DATA_REQUEST: Message.TP_RECEIPT_ADD_DATA_RESPONSE,
    Message.TP_EVENT_ADD_REQUEST: Message.TP_EVENT_ADD_RESPONSE,
    Message.PING_REQUEST: Message.PING_RESPONSE,
    Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST: Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE,
    Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST: Message.CLIENT_EVENTS_UNSUBSCRIBE_RESPONSE,
    Message.CLIENT_EVENTS_GET_REQUEST: Message.CLIENT_EVENTS_GET_RESPONSE,
}
# accepted without an answer: responses to what devnet sent
RESPONSES = (Message.TP_PROCESS_RESPONSE, Message.PING_RESPONSE)
ACCEPTED = sorted(REQUESTS) + list(RESPONSES)
NOT_SERVED = sorted(set(Message.MessageType.values()) - set(ACCEPTED))
# what a request that cannot be handled is answered with (devnet/component.py)
REFUSED = {
    Message.TP_REGISTER_REQUEST: (processor_pb2.TpRegisterResponse, processor_pb2.TpRegisterResponse.ERROR),
    Message.TP_UNREGISTER_REQUEST: (processor_pb2.TpUnregisterResponse, processor_pb2.TpUnregisterResponse.ERROR),
    Message.TP_STATE_GET_REQUEST: (state_context_pb2.TpStateGetResponse,
                                   state_context_pb2.TpStateGetResponse.AUTHORIZATION_ERROR),
    Message.TP_STATE_SET_REQUEST: (state_context_pb2.TpStateSetResponse,
                                   state_context_pb2.TpStateSetResponse.AUTHORIZATION_ERROR),
    Message.TP_STATE_DELETE_REQUEST: (state_context_pb2.TpStateDeleteResponse,
                                      state_context_pb2.TpStateDeleteResponse.AUTHORIZATION_ERROR),
    Message.TP_RECEIPT_ADD_DATA_REQUEST: (state_context_pb2.TpReceiptAddDataResponse,
                                          state_context_pb2.TpReceiptAddDataResponse.ERROR),
    Message.TP_EVENT_ADD_REQUEST: (state_context_pb2.TpEventAddResponse, state_context_pb2.TpEventAddResponse.ERROR),
    Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST: (client_event_pb2.ClientEventsSubscribeResponse,
                                              client_event_pb2.ClientEventsSubscribeResponse.INVALID_FILTER),
    Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST: (client_event_pb2.ClientEventsUnsubscribeResponse,
                                                client_event_pb2.ClientEventsUnsubscribeResponse.INTERNAL_ERROR),
    Message.CLIENT_EVENTS_GET_REQUEST: (client_event_pb2.ClientEventsGetResponse,
                                        client_event_pb2.ClientEventsGetResponse.INTERNAL_ERROR),
}
UNDECODABLE = b"\xff\xff\xff\xff\x0f"  # a field with wire type 7: no protobuf message parses it


_deadline = deadline_fixture(TEST_DEADLINE)


class Peer:
    """A DEALER connected to devnet's component endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def send(self, message_type: int, content: bytes, correlation_id: str | None = None) -> str:
        correlation_id = correlation_id or secrets.token_hex(8)
        self.sock.send(Message(message_type=message_type, correlation_id=correlation_id,
                               content=content).SerializeToString())
        return correlation_id

    def answer(self, correlation_id: str) -> Message:
        """The message answering `correlation_id`; events and pings on the way are skipped."""
        while self.sock.poll(ANSWER_WAIT):
            message = Message.FromString(self.sock.recv())
            if message.correlation_id == correlation_id:
                return message
            assert message.message_type in (Message.CLIENT_EVENTS, Message.PING_REQUEST,
                                            Message.TP_PROCESS_REQUEST), message
        raise AssertionError(f"no answer to {correlation_id} within {ANSWER_WAIT} ms")

    def ask(self, message_type: int, content: bytes) -> Message:
        answer = self.answer(self.send(message_type, content))
        assert answer.message_type == REQUESTS[message_type], answer
        return answer

    def quiet(self, wait_ms: int = 100) -> list[Message]:
        """What arrives within `wait_ms`, apart from events and pings."""
        got = []
        while self.sock.poll(wait_ms):
            message = Message.FromString(self.sock.recv())
            if message.message_type not in (Message.CLIENT_EVENTS, Message.PING_REQUEST):
                got.append(message)
        return got

    def close(self) -> None:
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def net(make_devnet):
    return make_devnet(processors=True)


@pytest.fixture
def peer(net):
    p = Peer(net.component)
    yield p
    p.close()


def _still_serves_then_stops(net, signer, tag: str) -> None:
    client = RestClient(net.url)
    batches = [kv_batch(signer, f"{tag}-{i}", b"v%d" % i) for i in range(3)]
    statuses = client.submit_and_wait(batches, timeout=30)
    assert {s["status"] for s in statuses.values()} == {"COMMITTED"}
    assert client.state(kv_address(f"{tag}-2")) == b"v2"
    assert net.stop(signal.SIGTERM, timeout=STOP_BOUND) == 0
    log = net.log()
    assert "devnet stopped" in log
    assert "Traceback" not in log, log[log.index("Traceback") - 500:][:3000]


def test_undecodable_content_for_every_accepted_type(net, peer, signer):
    @settings(max_examples=EXAMPLES, **SETTINGS)
    @given(message_type=st.sampled_from(ACCEPTED), content=st.binary(max_size=256))
    @example(message_type=Message.TP_REGISTER_REQUEST, content=UNDECODABLE)
    @example(message_type=Message.TP_STATE_GET_REQUEST, content=UNDECODABLE)
    @example(message_type=Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST, content=UNDECODABLE)
    def hostile(message_type, content):
        correlation_id = peer.send(message_type, content)
        if message_type in REQUESTS:  # answered, decodable or not
            assert peer.answer(correlation_id).message_type == REQUESTS[message_type]

    hostile()
    for message_type, (response_type, status) in REFUSED.items():
        answer = peer.ask(message_type, UNDECODABLE)
        assert response_type.FromString(answer.content).status == status, Message.MessageType.Name(message_type)
    _still_serves_then_stops(net, signer, "undecodable")


def test_types_devnet_does_not_serve_and_frames_that_are_no_message(net, peer, signer):
    @settings(max_examples=EXAMPLES, **SETTINGS)
    @given(message_type=st.one_of(st.sampled_from(NOT_SERVED), st.integers(0, 2**31 - 1)),
           content=st.binary(max_size=256), raw=st.binary(max_size=256),
           extra_frames=st.lists(st.binary(max_size=16), max_size=3))
    def hostile(message_type, content, raw, extra_frames):
        if message_type not in ACCEPTED:
            peer.send(message_type, content)
        peer.sock.send(raw)  # most likely not a Message at all
        peer.sock.send_multipart([*extra_frames, raw])

    hostile()
    # none of that was answered; a ping still is
    assert peer.ask(Message.PING_REQUEST, network_pb2.PingRequest().SerializeToString())
    _still_serves_then_stops(net, signer, "not-served")


def test_messages_out_of_order(net, peer, signer):
    address = st.text("0123456789abcdef", min_size=70, max_size=70)
    context_calls = st.one_of(
        st.builds(lambda c, a: (Message.TP_STATE_GET_REQUEST,
                                state_context_pb2.TpStateGetRequest(context_id=c, addresses=a)),
                  st.text(max_size=40), st.lists(address, max_size=3)),
        st.builds(lambda c, a, d: (Message.TP_STATE_SET_REQUEST, state_context_pb2.TpStateSetRequest(
                      context_id=c, entries=[state_context_pb2.TpStateEntry(address=x, data=d) for x in a])),
                  st.text(max_size=40), st.lists(address, max_size=3), st.binary(max_size=64)),
        st.builds(lambda c, a: (Message.TP_STATE_DELETE_REQUEST,
                                state_context_pb2.TpStateDeleteRequest(context_id=c, addresses=a)),
                  st.text(max_size=40), st.lists(address, max_size=3)),
        st.builds(lambda c, d: (Message.TP_RECEIPT_ADD_DATA_REQUEST,
                                state_context_pb2.TpReceiptAddDataRequest(context_id=c, data=d)),
                  st.text(max_size=40), st.binary(max_size=64)),
        st.builds(lambda c: (Message.TP_EVENT_ADD_REQUEST, state_context_pb2.TpEventAddRequest(context_id=c)),
                  st.text(max_size=40)),
    )

    @settings(max_examples=EXAMPLES, **SETTINGS)
    @given(call=context_calls, stray=st.sampled_from(RESPONSES), stray_content=st.binary(max_size=64),
           unknown_id=st.text(max_size=40))
    def hostile(call, stray, stray_content, unknown_id):
        # a state call for a context that does not exist (no transaction is running for it)
        message_type, request = call
        response_type, refused = REFUSED[message_type]
        assert response_type.FromString(peer.ask(message_type, request.SerializeToString()).content).status == refused
        # a response nobody waits for (unknown correlation id): dropped
        peer.send(stray, stray_content, unknown_id or "unknown")

    hostile()
    # unsubscribing and unregistering without having subscribed or registered
    answer = peer.ask(Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST, b"")
    assert client_event_pb2.ClientEventsUnsubscribeResponse.FromString(answer.content).status == \
        client_event_pb2.ClientEventsUnsubscribeResponse.OK
    answer = peer.ask(Message.TP_UNREGISTER_REQUEST, b"")
    assert processor_pb2.TpUnregisterResponse.FromString(answer.content).status == \
        processor_pb2.TpUnregisterResponse.OK
    assert [m for m in peer.quiet() if m.message_type != Message.TP_PROCESS_REQUEST] == []
    _still_serves_then_stops(net, signer, "out-of-order")


@pytest.mark.parametrize("size", [1 << 20, 8 << 20])
def test_oversized_content(net, peer, signer, size):
    blob = UNDECODABLE + secrets.token_bytes(size)
    for message_type in (Message.TP_REGISTER_REQUEST, Message.TP_STATE_SET_REQUEST,
                         Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST):
        response_type, refused = REFUSED[message_type]
        assert response_type.FromString(peer.ask(message_type, blob).content).status == refused
    peer.send(Message.TP_PROCESS_RESPONSE, blob)
    peer.sock.send(blob)  # not a Message
    assert peer.ask(Message.PING_REQUEST, b"")
    _still_serves_then_stops(net, signer, f"oversized-{size}")
