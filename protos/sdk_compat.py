"""Compatibility layer: Sawtooth's Python SDK 1.2.5 on Python 3.11 and protobuf 6.

This is the one place where Sawgrid adapts the archived ``sawtooth-sdk==1.2.5``
(final release; Sawtooth is archived, nobody will fix it). ``install()`` must run
before anything imports ``sawtooth_sdk.protobuf`` or ``sawtooth_sdk.processor``;
``sawgrid.processors`` and ``sawgrid.protos.sawtooth`` call it on import.

What is wrong with SDK 1.2.5 on Python 3.11
-------------------------------------------
1. Its generated ``sawtooth_sdk/protobuf/*_pb2.py`` modules are pre-3.20 protoc
   output: they build descriptors directly (``_descriptor.FileDescriptor(...)``,
   ``Descriptor(...)``), which protobuf >= 4 forbids ("Descriptors cannot be
   created directly"). The only protobuf that accepts them is 3.20.x, and
   protobuf 3.20.3 has no C extension wheel for Python 3.11: it would run the
   pure-Python implementation, several times slower at (de)serialising the
   validator messages that every transaction makes several round trips of.
   We want protobuf 6 with its ``upb`` C backend instead (our own protos are
   generated for it too), so we keep protobuf 6 and rebuild the SDK's modules.
2. ``sawtooth_sdk/messaging/stream.py`` (the ZMQ connection to the validator
   used by ``TransactionProcessor``) is written with ``@asyncio.coroutine``,
   ``asyncio.Task.all_tasks`` and ``asyncio.Queue(loop=...)``, all removed by
   Python 3.11, so ``sawtooth_sdk.processor.core`` cannot even be imported.

What ``install()`` does (and nothing else)
------------------------------------------
1. Puts a ``sys.meta_path`` finder in front of the import system for modules
   named ``sawtooth_sdk.protobuf.<name>_pb2``. It finds the SDK's own source
   file, reads the ``serialized_pb=_b('...')`` literal with ``ast`` (the file
   is never executed; the literal is a ``str`` that ``_b`` encodes as latin-1),
   imports the modules that file depends on, and builds the module the way
   modern protoc output does: ``descriptor_pool.Default().AddSerializedFile``
   and ``google.protobuf.internal.builder``. Message classes, enums (top-level
   and nested, e.g. ``Message.TP_PROCESS_REQUEST``,
   ``TpProcessResponse.OK``) and the ``_UPPERCASE`` descriptors are all there.
2. Registers a replacement for ``sawtooth_sdk.messaging.stream`` (``Stream``
   and ``RECONNECT_EVENT``, the names ``processor.core`` uses) written with
   plain threads and synchronous pyzmq; see ``Stream``.

The rest of the SDK (``TransactionProcessor``, ``Context``, handlers,
``messaging.future``) is used unchanged. In particular we never call
``TransactionProcessor.set_header_style`` (it would make 1.0/1.1 validators
refuse the processor).
"""
from __future__ import annotations

import ast
import collections
import concurrent.futures
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import secrets
import sys
import threading
import types

import zmq
from zmq.utils.monitor import recv_monitor_message

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.internal import builder

from sawtooth_sdk.messaging.exceptions import ValidatorConnectionError

__all__ = ["install", "Stream", "RECONNECT_EVENT"]

LOGGER = logging.getLogger(__name__)

_PB2_PACKAGE = "sawtooth_sdk.protobuf"
_STREAM_MODULE = "sawtooth_sdk.messaging.stream"

_install_lock = threading.Lock()
_installed = False


def install() -> None:
    """Install the compatibility layer. Idempotent; a no-op after the first call.

    Raises ImportError if an SDK ``*_pb2`` module was imported before this
    layer was installed (it would be broken or built differently).
    """
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        early = sorted(
            name for name, module in sys.modules.items()
            if _is_sdk_pb2(name) and module is not None
            and not isinstance(getattr(module, "__loader__", None), _Pb2Loader))
        if early:
            raise ImportError(
                f"{', '.join(early)} imported before sawgrid.protos.sdk_compat."
                "install(); import sawgrid.processors (or sawgrid.protos.sawtooth) "
                "before any sawtooth_sdk.protobuf / sawtooth_sdk.processor module")
        if not any(isinstance(f, _Pb2Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Pb2Finder())
        _bind_sdk_names()
        _register_stream_module()
        _installed = True


# --------------------------------------------------------------------------
# 1. Rebuilding the SDK's generated protobuf modules
# --------------------------------------------------------------------------

def _is_sdk_pb2(fullname: str) -> bool:
    package, _, leaf = fullname.rpartition(".")
    return package == _PB2_PACKAGE and leaf.endswith("_pb2")


def _module_for_proto(proto_path: str) -> str:
    """'sawtooth_sdk/protobuf/transaction.proto' -> 'sawtooth_sdk.protobuf.transaction_pb2'."""
    return proto_path[: -len(".proto")].replace("/", ".") + "_pb2"


def _serialized_file(source: bytes, filename: str) -> bytes:
    """The ``serialized_pb=_b('...')`` argument of the file's FileDescriptor call."""
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "FileDescriptor"):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if (keyword.arg == "serialized_pb" and isinstance(value, ast.Call)
                    and len(value.args) == 1 and isinstance(value.args[0], ast.Constant)
                    and isinstance(value.args[0].value, str)):
                return value.args[0].value.encode("latin-1")
    raise ImportError(f"{filename}: no FileDescriptor(serialized_pb=_b('...')) literal found")


class _Pb2Loader(importlib.abc.Loader):
    """Builds an SDK ``*_pb2`` module from its serialized descriptor (modern gencode style)."""

    def create_module(self, spec):
        return None  # default module object

    def exec_module(self, module):
        filename = module.__spec__.origin
        with open(filename, "rb") as source:
            data = _serialized_file(source.read(), filename)
        for dependency in descriptor_pb2.FileDescriptorProto.FromString(data).dependency:
            importlib.import_module(_module_for_proto(dependency))
        namespace = module.__dict__
        namespace["DESCRIPTOR"] = descriptor_pool.Default().AddSerializedFile(data)
        builder.BuildMessageAndEnumDescriptors(namespace["DESCRIPTOR"], namespace)
        builder.BuildTopDescriptorsAndMessages(namespace["DESCRIPTOR"], module.__name__, namespace)


class _Pb2Finder(importlib.abc.MetaPathFinder):
    """Routes ``sawtooth_sdk.protobuf.*_pb2`` imports to ``_Pb2Loader``."""

    _loader = _Pb2Loader()

    def find_spec(self, fullname, path, target=None):
        if not _is_sdk_pb2(fullname):
            return None
        found = importlib.machinery.PathFinder.find_spec(fullname, path)
        if found is None:
            return None
        if not (found.origin or "").endswith(".py"):
            raise ImportError(f"{fullname}: sdk_compat needs the SDK's .py source, found "
                              f"{found.origin!r}", name=fullname)
        return importlib.util.spec_from_file_location(fullname, found.origin,
                                                      loader=self._loader)


# --------------------------------------------------------------------------
# 2. Replacement for sawtooth_sdk.messaging.stream
# --------------------------------------------------------------------------

# Plain ints: `int & zmq.POLLIN` goes through the enum's Python-level __rand__.
_EVENTS, _POLLIN = int(zmq.EVENTS), int(zmq.POLLIN)

#: Put on the receive queue after the connection to the validator came back;
#: ``TransactionProcessor`` then registers its handlers again.
RECONNECT_EVENT = -1

# SDK names the stream needs; they import validator_pb2, so they are bound by
# install() once the finder is in place.
_Message = _Future = _FutureResult = _FutureError = None


def _bind_sdk_names():
    global _Message, _Future, _FutureResult, _FutureError
    from sawtooth_sdk.messaging import future
    from sawtooth_sdk.protobuf.validator_pb2 import Message
    _Message = Message
    _Future, _FutureResult, _FutureError = future.Future, future.FutureResult, future.FutureError


def _register_stream_module():
    existing = sys.modules.get(_STREAM_MODULE)
    if existing is not None:
        if getattr(existing, "Stream", None) is not Stream:
            LOGGER.warning("%s was imported before sdk_compat.install(); leaving it as is",
                           _STREAM_MODULE)
        return
    module = types.ModuleType(_STREAM_MODULE, "Sawgrid's replacement for the SDK's stream "
                              "module (see sawgrid.protos.sdk_compat).")
    module.__package__ = _STREAM_MODULE.rpartition(".")[0]
    module.Stream = Stream
    module.RECONNECT_EVENT = RECONNECT_EVENT
    module.ValidatorConnectionError = ValidatorConnectionError
    sys.modules[_STREAM_MODULE] = module
    setattr(importlib.import_module(module.__package__), "stream", module)


class Stream:
    """A connection to the validator: the API ``TransactionProcessor`` and ``Context`` use.

    One daemon I/O thread owns the DEALER socket (fixed identity ``zmq_id``) and
    its monitor socket. Other threads never touch them: ``send``/``send_back``
    serialise the message, append it to an outbox under a lock and, when the
    outbox was empty, poke the I/O thread through an inproc PAIR socket, so a
    message goes out within microseconds without any polling delay.

    The I/O thread routes incoming messages: a reply (its ``correlation_id``
    is one we sent) resolves the ``Future`` returned by ``send``; anything
    else (TP_PROCESS_REQUEST, PING_REQUEST, ...) goes to ``receive()``.

    Connection loss is seen on the socket monitor. EVENT_DISCONNECTED: the
    stream becomes not ready, every outstanding ``send`` future is resolved
    with ``FutureError()`` (its ``.content`` raises ValidatorConnectionError),
    unsent and unreceived messages of the old connection are dropped. The
    DEALER reconnects by itself; on the next EVENT_CONNECTED the stream is
    ready again and ``RECONNECT_EVENT`` is queued for ``receive()`` so the
    processor re-registers. Before the first disconnect the stream counts as
    ready, so a processor started before its validator queues its
    registration until the validator appears (as the SDK did). Messages zmq
    had already accepted but not yet written when the link dropped may still
    reach the validator after the reconnect; replies to them carry unknown
    correlation ids and are ignored on both sides.
    """

    _RECV_BATCH = 256  # incoming messages handled per loop turn before sending

    def __init__(self, url):
        install()
        self._url = url
        self._zmq_id = secrets.token_hex(8).encode()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._ready.set()
        self._closed = False
        self._futures = {}                       # correlation_id -> sdk Future
        self._outbox = collections.deque()       # serialized messages for the I/O thread
        self._inbox = collections.deque()        # received messages nobody asked for yet
        self._waiters = collections.deque()      # receive() futures waiting for a message

        self._ctx = zmq.Context()
        try:
            self._sock = self._ctx.socket(zmq.DEALER)
            self._sock.linger = 0
            self._sock.identity = self._zmq_id
            self._monitor = self._sock.get_monitor_socket(
                zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
            wake_addr = f"inproc://sawgrid-stream-wake-{secrets.token_hex(8)}"
            self._wake_rx = self._ctx.socket(zmq.PAIR)
            self._wake_rx.linger = 0
            self._wake_rx.bind(wake_addr)
            self._wake_tx = self._ctx.socket(zmq.PAIR)
            self._wake_tx.linger = 0
            self._wake_tx.connect(wake_addr)
            self._sock.connect(url)
        except Exception:
            self._ctx.destroy(linger=0)
            raise
        self._thread = threading.Thread(target=self._run, name="sawtooth-stream", daemon=True)
        self._thread.start()

    # ---- public API (that of sawtooth_sdk.messaging.stream.Stream) ----

    @property
    def url(self):
        return self._url

    @property
    def zmq_id(self):
        return self._zmq_id

    def send(self, message_type, content):
        """Send a request; returns a ``sawtooth_sdk.messaging.future.Future`` for its reply.

        Raises ValidatorConnectionError while the connection is down.
        """
        correlation_id = secrets.token_hex(16)
        future = _Future(correlation_id, request_type=message_type)
        data = _Message(message_type=message_type, correlation_id=correlation_id,
                        content=content).SerializeToString()
        with self._lock:
            self._check_ready_locked()
            self._futures[correlation_id] = future
            self._post_locked(data)
        return future

    def send_back(self, message_type, correlation_id, content):
        """Answer a message received from the validator (same correlation id)."""
        data = _Message(message_type=message_type, correlation_id=correlation_id,
                        content=content).SerializeToString()
        with self._lock:
            self._check_ready_locked()
            self._post_locked(data)

    def receive(self):
        """A ``concurrent.futures.Future`` for the next message that is not a reply
        (a ``validator_pb2.Message``, or ``RECONNECT_EVENT`` after a reconnect)."""
        future = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                # A RuntimeError makes TransactionProcessor.start() return.
                raise RuntimeError(f"stream to {self._url} is closed")
            if self._inbox:
                item = self._inbox.popleft()
            else:
                self._waiters.append(future)
                return future
        future.set_result(item)
        return future

    def wait_for_ready(self):
        """Block until the connection is up (immediately, unless it was lost)."""
        self._ready.wait()

    def is_ready(self):
        return self._ready.is_set()

    def close(self):
        """Stop the I/O thread and close the sockets (linger 0). Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._wake_locked()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    # ---- internals; *_locked methods are called with self._lock held ----

    def _check_ready_locked(self):
        if self._closed or not self._ready.is_set():
            raise ValidatorConnectionError()

    def _post_locked(self, data):
        self._outbox.append(data)
        if len(self._outbox) == 1:  # otherwise a wake-up is already pending
            self._wake_locked()

    def _wake_locked(self):
        try:
            self._wake_tx.send(b"", zmq.NOBLOCK)
        except zmq.Again:  # queue full of wake-ups: the I/O thread will wake anyway
            pass

    def _run(self):
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._wake_rx, zmq.POLLIN)
        backlog = collections.deque()  # taken from the outbox, not yet accepted by zmq
        try:
            while not self._closed:
                events = dict(poller.poll(1000))
                if self._wake_rx in events:
                    self._drain(self._wake_rx)
                    with self._lock:
                        backlog.extend(self._outbox)
                        self._outbox.clear()
                if self._monitor in events:
                    self._on_monitor_events(backlog)
                if events.get(self._sock, 0) & zmq.POLLIN:
                    self._on_incoming()
                while backlog:
                    try:
                        self._sock.send(backlog[0], zmq.NOBLOCK)
                    except zmq.Again:  # high-water mark: wait for POLLOUT
                        break
                    backlog.popleft()
                poller.modify(self._sock, zmq.POLLIN | (zmq.POLLOUT if backlog else 0))
        except Exception:  # pylint: disable=broad-except
            LOGGER.exception("stream I/O thread for %s failed", self._url)
        finally:
            self._shutdown()

    @staticmethod
    def _drain(socket):
        # Polling EVENTS instead of recv()ing until zmq.Again: an exception per
        # wake-up was a measurable share of a processor's CPU time.
        try:
            while socket.get(_EVENTS) & _POLLIN:
                socket.recv(zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _on_monitor_events(self, backlog):
        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)["event"]
            except zmq.Again:
                return
            if event == zmq.EVENT_DISCONNECTED and self._ready.is_set():
                LOGGER.warning("lost the connection to the validator at %s", self._url)
                backlog.clear()
                self._lose_connection()
            elif event == zmq.EVENT_CONNECTED and not self._ready.is_set():
                LOGGER.info("reconnected to the validator at %s", self._url)
                with self._lock:
                    self._ready.set()
                    waiter = self._pop_waiter_locked()
                    if waiter is None:
                        self._inbox.append(RECONNECT_EVENT)
                if waiter is not None:
                    waiter.set_result(RECONNECT_EVENT)

    def _lose_connection(self):
        with self._lock:
            self._ready.clear()
            failed = list(self._futures.values())
            self._futures.clear()
            self._outbox.clear()
            self._inbox.clear()
        for future in failed:
            future.set_result(_FutureError())

    def _on_incoming(self):
        sock = self._sock
        for _ in range(self._RECV_BATCH):
            if not sock.get(_EVENTS) & _POLLIN:  # rather than a zmq.Again per turn (see _drain)
                return
            try:
                data = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            message = _Message()
            message.ParseFromString(data)
            with self._lock:
                future = self._futures.pop(message.correlation_id, None)
                waiter = None
                if future is None:
                    waiter = self._pop_waiter_locked()
                    if waiter is None:
                        self._inbox.append(message)
            if future is not None:
                future.set_result(_FutureResult(message_type=message.message_type,
                                                content=message.content))
            elif waiter is not None:
                waiter.set_result(message)

    def _pop_waiter_locked(self):
        """The oldest receive() future still wanting a result (marked running), or None."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.set_running_or_notify_cancel():
                return waiter
        return None

    def _shutdown(self):
        with self._lock:
            self._closed = True
            self._ready.clear()
            failed = list(self._futures.values())
            self._futures.clear()
            waiters = list(self._waiters)
            self._waiters.clear()
            self._outbox.clear()
            self._inbox.clear()
            self._wake_tx.close()  # senders check _closed under the lock first
        for future in failed:
            future.set_result(_FutureError())
        for waiter in waiters:
            waiter.cancel()
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        for socket in (self._monitor, self._wake_rx, self._sock):
            socket.close(linger=0)
        self._ctx.term()
