"""devnet's component endpoint in process: no message, however malformed,
stops its socket thread, and a malformed request gets its error status.

(The same against a real `sawgrid devnet --processors`, with generated input:
tests/integration/test_component_hostile.py.)"""
from __future__ import annotations

import concurrent.futures
import threading

import pytest
import zmq

from sawgrid.clients.sdk.devnet_process import free_port
from sawgrid.devnet.component import ComponentServer, ProcessorGone
from sawgrid.devnet.events import EventHub
from sawgrid.devnet.store import Store
from sawgrid.protos.sawtooth import (
    Message,
    client_event_pb2,
    network_pb2,
    processor_pb2,
    state_context_pb2,
)

TIMEOUT_MS = 5000
GARBAGE = b"\xff\xff\xff\x0f not protobuf"

# request type -> (response type, response class, the status a malformed request gets)
REFUSALS = {
    Message.TP_REGISTER_REQUEST: (Message.TP_REGISTER_RESPONSE, processor_pb2.TpRegisterResponse,
                                  processor_pb2.TpRegisterResponse.ERROR),
    Message.TP_UNREGISTER_REQUEST: (Message.TP_UNREGISTER_RESPONSE, processor_pb2.TpUnregisterResponse,
                                    processor_pb2.TpUnregisterResponse.ERROR),
    Message.TP_STATE_GET_REQUEST: (Message.TP_STATE_GET_RESPONSE, state_context_pb2.TpStateGetResponse,
                                   state_context_pb2.TpStateGetResponse.AUTHORIZATION_ERROR),
    Message.TP_STATE_SET_REQUEST: (Message.TP_STATE_SET_RESPONSE, state_context_pb2.TpStateSetResponse,
                                   state_context_pb2.TpStateSetResponse.AUTHORIZATION_ERROR),
    Message.TP_STATE_DELETE_REQUEST: (Message.TP_STATE_DELETE_RESPONSE, state_context_pb2.TpStateDeleteResponse,
                                      state_context_pb2.TpStateDeleteResponse.AUTHORIZATION_ERROR),
    Message.TP_RECEIPT_ADD_DATA_REQUEST: (Message.TP_RECEIPT_ADD_DATA_RESPONSE,
                                          state_context_pb2.TpReceiptAddDataResponse,
                                          state_context_pb2.TpReceiptAddDataResponse.ERROR),
    Message.TP_EVENT_ADD_REQUEST: (Message.TP_EVENT_ADD_RESPONSE, state_context_pb2.TpEventAddResponse,
                                   state_context_pb2.TpEventAddResponse.ERROR),
    Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST: (Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE,
                                              client_event_pb2.ClientEventsSubscribeResponse,
                                              client_event_pb2.ClientEventsSubscribeResponse.INVALID_FILTER),
    Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST: (Message.CLIENT_EVENTS_UNSUBSCRIBE_RESPONSE,
                                                client_event_pb2.ClientEventsUnsubscribeResponse,
                                                client_event_pb2.ClientEventsUnsubscribeResponse.INTERNAL_ERROR),
    Message.CLIENT_EVENTS_GET_REQUEST: (Message.CLIENT_EVENTS_GET_RESPONSE,
                                        client_event_pb2.ClientEventsGetResponse,
                                        client_event_pb2.ClientEventsGetResponse.INTERNAL_ERROR),
}


@pytest.fixture
def endpoint(tmp_path):
    server = ComponentServer(f"tcp://127.0.0.1:{free_port()}", lambda context_id: None)
    store = Store(tmp_path / "data")
    events = EventHub(store, server.send)
    server.client_handler = events.handle
    server.on_disconnect = events.drop
    server.start()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(server.endpoint)
    yield server, sock
    sock.close(0)
    ctx.term()
    server.stop()
    store.close()


def _ask(sock, message_type, content, correlation_id="c1"):
    sock.send(Message(message_type=message_type, correlation_id=correlation_id, content=content)
              .SerializeToString())
    assert sock.poll(TIMEOUT_MS), f"no answer to {Message.MessageType.Name(message_type)}"
    return Message.FromString(sock.recv())


def _registers(sock):
    request = processor_pb2.TpRegisterRequest(family="f", version="1.0", namespaces=["abcdef"])
    reply = _ask(sock, Message.TP_REGISTER_REQUEST, request.SerializeToString(), "reg")
    return processor_pb2.TpRegisterResponse.FromString(reply.content).status == processor_pb2.TpRegisterResponse.OK


@pytest.mark.parametrize("request_type", sorted(REFUSALS), ids=Message.MessageType.Name)
def test_undecodable_request_gets_its_error_status_and_the_endpoint_lives(endpoint, request_type):
    server, sock = endpoint
    reply_type, response_type, status = REFUSALS[request_type]
    reply = _ask(sock, request_type, GARBAGE, "bad-1")
    assert (reply.message_type, reply.correlation_id) == (reply_type, "bad-1")
    assert response_type.FromString(reply.content).status == status
    assert server._thread.is_alive()
    assert _registers(sock)
    assert server.registered() == [("f", "1.0")]


def test_state_calls_for_an_unknown_context_are_refused(endpoint):
    _, sock = endpoint
    request = state_context_pb2.TpStateGetRequest(context_id="no-such-context", addresses=["ab" * 35])
    reply = _ask(sock, Message.TP_STATE_GET_REQUEST, request.SerializeToString())
    status = state_context_pb2.TpStateGetResponse.FromString(reply.content).status
    assert status == state_context_pb2.TpStateGetResponse.AUTHORIZATION_ERROR


def test_unparseable_frames_unknown_types_and_stray_responses_are_dropped(endpoint):
    server, sock = endpoint
    sock.send(GARBAGE)  # not a Message at all
    sock.send_multipart([b"", b"", GARBAGE])  # extra frames
    for message_type in (Message.CLIENT_BATCH_SUBMIT_REQUEST, Message.TP_PROCESS_RESPONSE,
                         Message.TP_REGISTER_RESPONSE, 9999):
        sock.send(Message(message_type=message_type, correlation_id="unknown-id",
                          content=GARBAGE).SerializeToString())
    ping = _ask(sock, Message.PING_REQUEST, network_pb2.PingRequest().SerializeToString(), "ping")
    assert (ping.message_type, ping.correlation_id) == (Message.PING_RESPONSE, "ping")
    assert not sock.poll(200), "a dropped message was answered"
    assert server._thread.is_alive()


def test_a_failing_client_handler_does_not_stop_the_endpoint(endpoint):
    server, sock = endpoint

    def broken(identity, message):
        raise RuntimeError("boom")

    server.client_handler = broken
    reply = _ask(sock, Message.CLIENT_EVENTS_GET_REQUEST, b"")
    status = client_event_pb2.ClientEventsGetResponse.FromString(reply.content).status
    assert status == client_event_pb2.ClientEventsGetResponse.INTERNAL_ERROR
    assert _registers(sock)


def test_stop_fails_requests_in_flight(endpoint):
    server, sock = endpoint
    assert _registers(sock)
    processor = server.processor_for("f", "1.0")
    future = server.process(processor, processor_pb2.TpProcessRequest(context_id="c"))
    assert sock.poll(TIMEOUT_MS)  # the request reached the "processor", which never answers
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    with pytest.raises(ProcessorGone):
        future.result(timeout=10)
    stopper.join(10)
    with pytest.raises(ProcessorGone):  # and nothing new is sent after stop
        server.process(processor, processor_pb2.TpProcessRequest(context_id="d")).result(timeout=0)
    assert isinstance(future.exception(), ProcessorGone)
    assert not isinstance(future.exception(), concurrent.futures.TimeoutError)


def test_a_slow_peer_gets_every_message_in_order(endpoint):
    """A peer that does not read for a while (an event subscriber during a long
    catch-up) fills ZMQ's queues; what does not fit waits instead of being
    lost, and the peer stays connected."""
    server, _ = endpoint
    ctx = zmq.Context()
    slow = ctx.socket(zmq.DEALER)
    slow.linger = 0
    slow.setsockopt(zmq.IDENTITY, b"slow-peer")
    slow.connect(server.endpoint)
    try:
        assert _registers(slow)  # the endpoint knows the peer now
        # beyond the default high-water marks (1,000 messages on each side) and
        # what the kernel's socket buffers hold
        total, pad = 4_000, b"x" * 16_000
        for i in range(total):
            server.send(b"slow-peer", Message.CLIENT_EVENTS, b"%d:" % i + pad)
        received = []
        while len(received) < total and slow.poll(TIMEOUT_MS):
            received.append(Message.FromString(slow.recv()).content.split(b":")[0])
        assert received == [b"%d" % i for i in range(total)]
        assert server.registered() == [("f", "1.0")]  # still connected
    finally:
        slow.close(0)
        ctx.term()
