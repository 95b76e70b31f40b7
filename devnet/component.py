"""Devnet's component endpoint: the validator side of Sawtooth's ZMQ protocol.

One ROUTER socket (e.g. tcp://127.0.0.1:4004), owned by one thread, speaks
`validator_pb2.Message` frames with:

* transaction processors — TP_REGISTER / TP_UNREGISTER, TP_PROCESS request and
  response, the TP_STATE_GET/SET/DELETE, TP_RECEIPT_ADD_DATA and TP_EVENT_ADD
  context calls, and PING;
* event subscribers — CLIENT_EVENTS_SUBSCRIBE / UNSUBSCRIBE / GET (handled by
  `devnet.events.EventHub`).

Other threads send through `send()` (a per-thread inproc PUSH socket feeding
the socket thread), so the ROUTER socket is never touched concurrently.
A processor that stops answering pings, or whose connection is gone
(ROUTER_MANDATORY makes sending to it fail), is dropped and its in-flight
requests fail with `ProcessorGone`, so the block publisher retries them when
a processor of that family registers again.

A peer that is merely slow (its queue at ZMQ's high-water mark, EAGAIN — an
event subscriber catching up on thousands of blocks) is not gone: what it
cannot take yet waits in a per-peer backlog, in order, and is retried every
turn; only a peer whose backlog reaches MAX_BACKLOG messages is dropped.

Any peer can connect and send anything, so no message may stop the socket
thread. Every handler runs guarded: a request whose content does not decode
(or whose handling fails) is answered with the error status its response
type has, as a validator would: TpRegister/TpUnregister/TpReceiptAddData/
TpEventAdd `ERROR`, TpStateGet/Set/Delete `AUTHORIZATION_ERROR` (their only
error status; the SDK turns it into an invalid transaction),
ClientEventsUnsubscribe/Get `INTERNAL_ERROR` and ClientEventsSubscribe
`INVALID_FILTER` (the only one it has besides UNKNOWN_BLOCK). A message
that is not a `Message`, a type devnet does not serve, and a response
nobody is waiting for (unknown correlation id) are logged and dropped. The
socket loop itself catches and logs whatever escapes, and `stop()` fails
every in-flight request so that nothing waits on a processor after it.
"""
from __future__ import annotations

import collections
import concurrent.futures
import itertools
import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import zmq

from sawgrid.devnet.context import ExecutionContext
from sawgrid.protos.sawtooth import Message, client_event_pb2, network_pb2, processor_pb2, state_context_pb2

LOG = logging.getLogger("sawgrid.devnet.component")

PROTOCOL_VERSION = 1  # highest TpRegisterRequest feature we support (header styles)
PING_INTERVAL = 1.0  # seconds of silence before a processor is pinged
PING_TIMEOUT = 10.0  # seconds of silence after which it is dropped
# Messages that may wait for one slow peer (e.g. an event subscriber's catch-up,
# one message per block) before it is dropped as not keeping up; it can
# subscribe again from its last known block.
MAX_BACKLOG = 100_000
BACKLOG_RETRY_MS = 5  # poll timeout while something waits for a slow peer
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)  # ints: `int & zmq.POLLIN` runs the enum's Python __rand__


class ProcessorGone(Exception):
    """The processor handling a request disconnected or unregistered."""


@dataclass
class Processor:
    identity: bytes
    family: str
    version: str
    namespaces: tuple[str, ...]
    raw_header: bool


@dataclass
class Connection:
    identity: bytes
    last_seen: float
    in_flight: dict[bytes, concurrent.futures.Future] = field(default_factory=dict)
    pinged: bool = False


class ComponentServer:
    """The ROUTER endpoint. Start with `start()`, stop with `stop()`."""

    def __init__(self, endpoint: str, contexts: Callable[[str], ExecutionContext | None]) -> None:
        self.endpoint = endpoint
        self._contexts = contexts
        self._zmq = zmq.Context.instance()
        self._outbox_addr = f"inproc://devnet-outbox-{secrets.token_hex(4)}"
        self._local = threading.local()
        self._outq: queue.SimpleQueue = queue.SimpleQueue()
        self._backlog: dict[bytes, collections.deque] = {}  # socket thread only
        self._socket_thread_id: int | None = None
        self._lock = threading.Lock()
        self._processors: dict[tuple[str, str], list[Processor]] = {}
        self._connections: dict[bytes, Connection] = {}
        self._round_robin = itertools.count()
        self._registered = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._bind_error: Exception | None = None
        self.client_handler: Callable[[bytes, Message], None] | None = None
        self.on_disconnect: Callable[[bytes], None] | None = None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="devnet-component", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._bind_error is not None:
            raise self._bind_error

    def stop(self) -> None:
        """Stop the socket thread; every request still waiting for a processor
        fails with ProcessorGone (so no executor thread waits for its timeout)."""
        self._stop.set()  # the socket thread polls with a short timeout
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            pending = [f for conn in self._connections.values() for f in conn.in_flight.values()]
            for conn in self._connections.values():
                conn.in_flight.clear()
        for future in pending:
            if not future.done():
                future.set_exception(ProcessorGone("devnet is stopping"))

    # -- used by other threads --------------------------------------------
    def send(self, identity: bytes, message_type: int, content: bytes, correlation_id: bytes | None = None) -> None:
        """Queue one message for `identity` (thread-safe, order-preserving).

        All senders share one FIFO, so messages leave in the order `send` was
        called; e.g. a subscribe response always precedes the events after it.
        """
        message = Message(
            message_type=message_type,
            correlation_id=(correlation_id or secrets.token_hex(16).encode()).decode(),
            content=content,
        )
        self._outq.put((identity, message.SerializeToString()))
        if threading.get_ident() != self._socket_thread_id:
            push = getattr(self._local, "push", None)
            if push is None:
                push = self._zmq.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 0)
                push.connect(self._outbox_addr)
                self._local.push = push
            try:
                push.send(b"", zmq.NOBLOCK)  # wake the socket thread
            except zmq.Again:  # wake-ups already queued (or the socket thread is gone)
                pass

    def processor_for(self, family: str, version: str) -> Processor | None:
        """A registered processor for the family version (round-robin), or None."""
        with self._lock:
            candidates = self._processors.get((family, version))
            if not candidates:
                return None
            return candidates[next(self._round_robin) % len(candidates)]

    def wait_for_processor(self, family: str, version: str, timeout: float) -> bool:
        with self._registered:
            return self._registered.wait_for(lambda: bool(self._processors.get((family, version))), timeout)

    def registered(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(key for key, procs in self._processors.items() if procs)

    def process(self, processor: Processor, request: processor_pb2.TpProcessRequest) -> concurrent.futures.Future:
        """Send a TP_PROCESS_REQUEST; the future resolves to a TpProcessResponse
        or fails with ProcessorGone."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        correlation_id = secrets.token_hex(16).encode()
        with self._lock:
            conn = self._connections.get(processor.identity)
            if conn is None or self._stop.is_set():
                future.set_exception(ProcessorGone(processor.family if conn is None else "devnet is stopping"))
                return future
            conn.in_flight[correlation_id] = future
        if processor.raw_header:
            request.header_bytes = request.header.SerializeToString()
            request.ClearField("header")
        self.send(processor.identity, Message.TP_PROCESS_REQUEST, request.SerializeToString(), correlation_id)
        return future

    # -- socket thread -----------------------------------------------------
    def _run(self) -> None:
        self._socket_thread_id = threading.get_ident()
        router = self._zmq.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        pull = self._zmq.socket(zmq.PULL)
        pull.setsockopt(zmq.LINGER, 0)
        try:
            router.bind(self.endpoint)
            pull.bind(self._outbox_addr)
        except zmq.ZMQError as err:
            self._bind_error = OSError(f"cannot bind the component endpoint {self.endpoint}: {err}")
            self._ready.set()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(pull, zmq.POLLIN)
        last_sweep = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    last_sweep = self._turn(poller, router, pull, last_sweep)
                except Exception:  # never let one bad turn end the endpoint
                    LOG.exception("component endpoint: unexpected error (continuing)")
                    self._stop.wait(0.05)
        finally:
            router.close(0)
            pull.close(0)

    def _turn(self, poller: zmq.Poller, router: zmq.Socket, pull: zmq.Socket, last_sweep: float) -> float:
        """One turn of the socket loop; returns when the last ping sweep ran."""
        events = dict(poller.poll(BACKLOG_RETRY_MS if self._backlog else 200))
        self._retry_backlog(router)
        if pull in events:
            while pull.get(_EVENTS) & _POLLIN:  # wake-ups only; messages are in _outq
                pull.recv()
        self._flush(router)
        if router in events:
            while router.get(_EVENTS) & _POLLIN:
                frames = router.recv_multipart()
                if len(frames) >= 2:
                    self._on_message(router, frames[0], frames[-1])
            self._flush(router)
        now = time.monotonic()
        if now - last_sweep >= PING_INTERVAL:
            last_sweep = now
            self._sweep(router, now)
        return last_sweep

    def _flush(self, router: zmq.Socket) -> None:
        while True:
            try:
                identity, data = self._outq.get_nowait()
            except queue.Empty:
                return
            self._route(router, identity, data)

    def _route(self, router: zmq.Socket, identity: bytes, data: bytes) -> None:
        backlog = self._backlog.get(identity)
        if backlog is not None:  # behind what is already waiting, to keep the order
            if len(backlog) >= MAX_BACKLOG:
                self._drop(identity, f"too slow: {MAX_BACKLOG} messages waiting")
            else:
                backlog.append(data)
            return
        try:
            router.send_multipart([identity, data], zmq.NOBLOCK)
        except zmq.Again:  # the peer's queue is full: it is slow, not gone
            self._backlog[identity] = collections.deque([data])
        except zmq.ZMQError:  # EHOSTUNREACH: the peer is gone
            self._drop(identity, "connection gone")

    def _retry_backlog(self, router: zmq.Socket) -> None:
        for identity in list(self._backlog):
            backlog = self._backlog[identity]
            while backlog:
                try:
                    router.send_multipart([identity, backlog[0]], zmq.NOBLOCK)
                except zmq.Again:
                    break
                except zmq.ZMQError:
                    self._drop(identity, "connection gone")
                    break
                backlog.popleft()
            if not backlog:
                self._backlog.pop(identity, None)

    def _reply(self, router: zmq.Socket, identity: bytes, correlation_id: str, message_type: int, content: bytes) -> None:
        message = Message(message_type=message_type, correlation_id=correlation_id, content=content)
        self._route(router, identity, message.SerializeToString())

    def _sweep(self, router: zmq.Socket, now: float) -> None:
        with self._lock:
            conns = list(self._connections.values())
        for conn in conns:
            silent = now - conn.last_seen
            if silent > PING_TIMEOUT:
                self._drop(conn.identity, f"no answer for {silent:.0f}s")
            elif silent > PING_INTERVAL:
                ping = Message(
                    message_type=Message.PING_REQUEST,
                    correlation_id=secrets.token_hex(16),
                    content=network_pb2.PingRequest().SerializeToString(),
                )
                self._route(router, conn.identity, ping.SerializeToString())

    def _drop(self, identity: bytes, reason: str) -> None:
        self._backlog.pop(identity, None)
        with self._lock:
            conn = self._connections.pop(identity, None)
            families = []
            for key, procs in self._processors.items():
                kept = [p for p in procs if p.identity != identity]
                if len(kept) != len(procs):
                    families.append(key)
                self._processors[key] = kept
        if conn is not None:
            for future in conn.in_flight.values():
                if not future.done():
                    future.set_exception(ProcessorGone(reason))
            if families:
                LOG.warning("processor %s dropped (%s): %s", identity.hex()[:8], reason,
                            ", ".join(f"{f} {v}" for f, v in families))
        if reason.startswith("too slow"):
            LOG.warning("peer %s dropped (%s)", identity.hex()[:8], reason)
        if self.on_disconnect is not None:
            try:
                self.on_disconnect(identity)
            except Exception:
                LOG.exception("disconnect handler failed for %s", identity.hex()[:8])

    def _on_message(self, router: zmq.Socket, identity: bytes, data: bytes) -> None:
        try:
            message = Message.FromString(data)
        except Exception:
            LOG.warning("unparseable message (%d bytes) from %s dropped", len(data), identity.hex()[:8])
            return
        with self._lock:
            conn = self._connections.get(identity)
            if conn is not None:
                conn.last_seen = time.monotonic()
        mtype = message.message_type
        try:
            handler = _TP_HANDLERS.get(mtype)
            if handler is not None:
                handler(self, router, identity, message)
            elif mtype in _CLIENT_TYPES and self.client_handler is not None:
                self.client_handler(identity, message)
            elif mtype == Message.PING_RESPONSE:
                pass
            else:
                LOG.debug("dropped message type %s from %s: not served by devnet", mtype, identity.hex()[:8])
        except Exception as err:
            self._refuse(router, identity, message, err)

    def _refuse(self, router: zmq.Socket, identity: bytes, message: Message, err: Exception) -> None:
        """Answer a request that could not be handled with its error status (if it has one)."""
        name = _type_name(message.message_type)
        LOG.warning("bad %s from %s (%s: %s)", name, identity.hex()[:8], type(err).__name__, err)
        refusal = _ERROR_RESPONSES.get(message.message_type)
        if refusal is None:
            return
        reply_type, response = refusal
        try:
            self._reply(router, identity, message.correlation_id, reply_type, response.SerializeToString())
        except Exception:
            LOG.exception("could not answer a bad %s", name)

    # -- processor messages --------------------------------------------------
    def _on_register(self, router, identity, message) -> None:
        request = processor_pb2.TpRegisterRequest.FromString(message.content)
        response = processor_pb2.TpRegisterResponse(status=processor_pb2.TpRegisterResponse.OK)
        if request.protocol_version > PROTOCOL_VERSION:
            response.status = processor_pb2.TpRegisterResponse.ERROR
        response.protocol_version = min(request.protocol_version, PROTOCOL_VERSION)
        if response.status == processor_pb2.TpRegisterResponse.OK:
            processor = Processor(
                identity=identity,
                family=request.family,
                version=request.version,
                namespaces=tuple(request.namespaces),
                raw_header=request.request_header_style == processor_pb2.TpRegisterRequest.RAW,
            )
            with self._registered:
                self._connections.setdefault(identity, Connection(identity, time.monotonic()))
                procs = [p for p in self._processors.get((request.family, request.version), []) if p.identity != identity]
                self._processors[(request.family, request.version)] = procs + [processor]
                self._registered.notify_all()
            LOG.info("processor registered: %s %s (namespaces %s)", request.family, request.version,
                     ",".join(request.namespaces))
        self._reply(router, identity, message.correlation_id, Message.TP_REGISTER_RESPONSE, response.SerializeToString())

    def _on_unregister(self, router, identity, message) -> None:
        processor_pb2.TpUnregisterRequest.FromString(message.content)  # refused if it does not decode
        response = processor_pb2.TpUnregisterResponse(status=processor_pb2.TpUnregisterResponse.OK)
        self._reply(router, identity, message.correlation_id, Message.TP_UNREGISTER_RESPONSE, response.SerializeToString())
        self._drop(identity, "unregistered")

    def _on_process_response(self, router, identity, message) -> None:
        with self._lock:
            conn = self._connections.get(identity)
            future = conn.in_flight.pop(message.correlation_id.encode(), None) if conn else None
        if future is not None and not future.done():
            try:
                future.set_result(processor_pb2.TpProcessResponse.FromString(message.content))
            except Exception as err:  # unparseable response: treat as an internal error
                future.set_exception(ProcessorGone(f"bad TpProcessResponse: {err}"))

    def _on_ping(self, router, identity, message) -> None:
        self._reply(router, identity, message.correlation_id, Message.PING_RESPONSE,
                    network_pb2.PingResponse().SerializeToString())

    def _context_call(self, router, identity, message, request_type, response_type, reply_type, apply) -> None:
        request = request_type.FromString(message.content)
        context = self._contexts(request.context_id)
        response = response_type()
        if context is None:
            # Sawtooth answers an unknown context with an error status.
            response.status = getattr(response_type, "AUTHORIZATION_ERROR", getattr(response_type, "ERROR", 0))
        else:
            apply(context, request, response)
        self._reply(router, identity, message.correlation_id, reply_type, response.SerializeToString())

    def _on_get(self, router, identity, message) -> None:
        def apply(ctx, req, resp):
            if not all(ctx.may_read(a) for a in req.addresses):
                resp.status = resp.AUTHORIZATION_ERROR
                return
            for address in req.addresses:
                data = ctx.get(address)
                resp.entries.add(address=address, data=data or b"")
            resp.status = resp.OK
        self._context_call(router, identity, message, state_context_pb2.TpStateGetRequest,
                           state_context_pb2.TpStateGetResponse, Message.TP_STATE_GET_RESPONSE, apply)

    def _on_set(self, router, identity, message) -> None:
        def apply(ctx, req, resp):
            if not all(ctx.may_write(e.address) for e in req.entries):
                resp.status = resp.AUTHORIZATION_ERROR
                return
            for entry in req.entries:
                ctx.set(entry.address, entry.data)
                resp.addresses.append(entry.address)
            resp.status = resp.OK
        self._context_call(router, identity, message, state_context_pb2.TpStateSetRequest,
                           state_context_pb2.TpStateSetResponse, Message.TP_STATE_SET_RESPONSE, apply)

    def _on_delete(self, router, identity, message) -> None:
        def apply(ctx, req, resp):
            if not all(ctx.may_write(a) for a in req.addresses):
                resp.status = resp.AUTHORIZATION_ERROR
                return
            for address in req.addresses:
                if ctx.get(address) is not None:
                    ctx.delete(address)
                    resp.addresses.append(address)
            resp.status = resp.OK
        self._context_call(router, identity, message, state_context_pb2.TpStateDeleteRequest,
                           state_context_pb2.TpStateDeleteResponse, Message.TP_STATE_DELETE_RESPONSE, apply)

    def _on_receipt_data(self, router, identity, message) -> None:
        def apply(ctx, req, resp):
            ctx.receipt_data.append(req.data)
            resp.status = resp.OK
        self._context_call(router, identity, message, state_context_pb2.TpReceiptAddDataRequest,
                           state_context_pb2.TpReceiptAddDataResponse, Message.TP_RECEIPT_ADD_DATA_RESPONSE, apply)

    def _on_event(self, router, identity, message) -> None:
        def apply(ctx, req, resp):
            ctx.events.append(req.event)
            resp.status = resp.OK
        self._context_call(router, identity, message, state_context_pb2.TpEventAddRequest,
                           state_context_pb2.TpEventAddResponse, Message.TP_EVENT_ADD_RESPONSE, apply)


_TP_HANDLERS = {
    Message.TP_REGISTER_REQUEST: ComponentServer._on_register,
    Message.TP_UNREGISTER_REQUEST: ComponentServer._on_unregister,
    Message.TP_PROCESS_RESPONSE: ComponentServer._on_process_response,
    Message.TP_STATE_GET_REQUEST: ComponentServer._on_get,
    Message.TP_STATE_SET_REQUEST: ComponentServer._on_set,
    Message.TP_STATE_DELETE_REQUEST: ComponentServer._on_delete,
    Message.TP_RECEIPT_ADD_DATA_REQUEST: ComponentServer._on_receipt_data,
    Message.TP_EVENT_ADD_REQUEST: ComponentServer._on_event,
    Message.PING_REQUEST: ComponentServer._on_ping,
}
_CLIENT_TYPES = {
    Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST,
    Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST,
    Message.CLIENT_EVENTS_GET_REQUEST,
}

# What a request that cannot be handled is answered with (see the module docstring).
_ERROR_RESPONSES = {
    Message.TP_REGISTER_REQUEST: (
        Message.TP_REGISTER_RESPONSE,
        processor_pb2.TpRegisterResponse(status=processor_pb2.TpRegisterResponse.ERROR)),
    Message.TP_UNREGISTER_REQUEST: (
        Message.TP_UNREGISTER_RESPONSE,
        processor_pb2.TpUnregisterResponse(status=processor_pb2.TpUnregisterResponse.ERROR)),
    Message.TP_STATE_GET_REQUEST: (
        Message.TP_STATE_GET_RESPONSE,
        state_context_pb2.TpStateGetResponse(status=state_context_pb2.TpStateGetResponse.AUTHORIZATION_ERROR)),
    Message.TP_STATE_SET_REQUEST: (
        Message.TP_STATE_SET_RESPONSE,
        state_context_pb2.TpStateSetResponse(status=state_context_pb2.TpStateSetResponse.AUTHORIZATION_ERROR)),
    Message.TP_STATE_DELETE_REQUEST: (
        Message.TP_STATE_DELETE_RESPONSE,
        state_context_pb2.TpStateDeleteResponse(status=state_context_pb2.TpStateDeleteResponse.AUTHORIZATION_ERROR)),
    Message.TP_RECEIPT_ADD_DATA_REQUEST: (
        Message.TP_RECEIPT_ADD_DATA_RESPONSE,
        state_context_pb2.TpReceiptAddDataResponse(status=state_context_pb2.TpReceiptAddDataResponse.ERROR)),
    Message.TP_EVENT_ADD_REQUEST: (
        Message.TP_EVENT_ADD_RESPONSE,
        state_context_pb2.TpEventAddResponse(status=state_context_pb2.TpEventAddResponse.ERROR)),
    Message.CLIENT_EVENTS_SUBSCRIBE_REQUEST: (
        Message.CLIENT_EVENTS_SUBSCRIBE_RESPONSE,
        client_event_pb2.ClientEventsSubscribeResponse(
            status=client_event_pb2.ClientEventsSubscribeResponse.INVALID_FILTER,
            response_message="malformed ClientEventsSubscribeRequest")),
    Message.CLIENT_EVENTS_UNSUBSCRIBE_REQUEST: (
        Message.CLIENT_EVENTS_UNSUBSCRIBE_RESPONSE,
        client_event_pb2.ClientEventsUnsubscribeResponse(
            status=client_event_pb2.ClientEventsUnsubscribeResponse.INTERNAL_ERROR)),
    Message.CLIENT_EVENTS_GET_REQUEST: (
        Message.CLIENT_EVENTS_GET_RESPONSE,
        client_event_pb2.ClientEventsGetResponse(status=client_event_pb2.ClientEventsGetResponse.INTERNAL_ERROR)),
    Message.PING_REQUEST: (Message.PING_RESPONSE, network_pb2.PingResponse()),
}


def _type_name(message_type: int) -> str:
    try:
        return Message.MessageType.Name(message_type)
    except ValueError:
        return f"message type {message_type}"
