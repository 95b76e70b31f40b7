"""Tests for sawgrid.protos.sdk_compat: the SDK 1.2.5 layer for Python 3.11 / protobuf 6.

(a) every SDK ``*_pb2`` module imports and works on the upb backend;
(b) our ``Stream`` against a bare ZMQ ROUTER (replies, requests, disconnect/reconnect);
(c) a real ``TransactionProcessor`` in a subprocess, driven from a ROUTER that plays the
    validator: registration, state get/set, InvalidTransaction, ping, re-registration
    after the "validator" goes away and comes back, and a clean SIGINT shutdown.

Every blocking receive has a timeout, so a broken layer fails instead of hanging.
"""
import hashlib
import importlib
import os
import pkgutil
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import zmq

from sawgrid.protos import sdk_compat

sdk_compat.install()

from google.protobuf.internal import api_implementation  # noqa: E402
import sawtooth_sdk.protobuf  # noqa: E402
from sawtooth_sdk.messaging.exceptions import ValidatorConnectionError  # noqa: E402
from sawtooth_sdk.protobuf.network_pb2 import PingRequest, PingResponse  # noqa: E402
from sawtooth_sdk.protobuf.processor_pb2 import (  # noqa: E402
    TpProcessRequest,
    TpProcessResponse,
    TpRegisterRequest,
    TpRegisterResponse,
    TpUnregisterResponse,
)
from sawtooth_sdk.protobuf.state_context_pb2 import (  # noqa: E402
    TpStateEntry,
    TpStateGetRequest,
    TpStateGetResponse,
    TpStateSetRequest,
    TpStateSetResponse,
)
from sawtooth_sdk.protobuf.transaction_pb2 import TransactionHeader  # noqa: E402
from sawtooth_sdk.protobuf.validator_pb2 import Message  # noqa: E402

FAMILY = "compat-test"
NAMESPACE = hashlib.sha512(FAMILY.encode()).hexdigest()[:6]
ADDRESS = NAMESPACE + hashlib.sha512(b"account-1").hexdigest()[:64]
TIMEOUT = 15.0  # seconds for any single expected message

SDK_PB2_MODULES = sorted(
    info.name for info in pkgutil.iter_modules(sawtooth_sdk.protobuf.__path__)
    if info.name.endswith("_pb2"))


# --------------------------------------------------------------------------
# (a) protobuf modules
# --------------------------------------------------------------------------

def test_protobuf_backend_is_upb():
    assert api_implementation.Type() == "upb"


def test_all_sdk_pb2_modules_found():
    assert len(SDK_PB2_MODULES) >= 26
    assert {"validator_pb2", "processor_pb2", "transaction_pb2", "batch_pb2"} <= set(SDK_PB2_MODULES)


@pytest.mark.parametrize("name", SDK_PB2_MODULES)
def test_sdk_pb2_module_imports_and_round_trips(name):
    module = importlib.import_module(f"sawtooth_sdk.protobuf.{name}")
    assert module.DESCRIPTOR.name == f"sawtooth_sdk/protobuf/{name[:-4]}.proto"
    assert module.DESCRIPTOR.message_types_by_name, name
    for message_name in module.DESCRIPTOR.message_types_by_name:
        cls = getattr(module, message_name)
        assert cls.__module__ == module.__name__
        assert cls.FromString(cls().SerializeToString()) == cls()
        # the old gencode's module-level descriptor names are kept
        assert getattr(module, "_" + message_name.upper()) is cls.DESCRIPTOR


def test_enums_and_nested_messages():
    assert Message.TP_PROCESS_REQUEST == 5
    assert Message.MessageType.Name(Message.PING_REQUEST) == "PING_REQUEST"
    assert TpProcessResponse.OK == 1
    assert TpProcessResponse.Status.Name(TpProcessResponse.INVALID_TRANSACTION) == \
        "INVALID_TRANSACTION"
    assert TpRegisterRequest.HEADER_STYLE_UNSET == 0

    header = TransactionHeader(family_name=FAMILY, family_version="1.0",
                               inputs=[ADDRESS], outputs=[ADDRESS], nonce="n1")
    request = TpProcessRequest(header=header, payload=b"\x00\xffdata",
                               signature="ab" * 64, context_id="ctx")
    wire = Message(message_type=Message.TP_PROCESS_REQUEST, correlation_id="c1",
                   content=request.SerializeToString()).SerializeToString()
    message = Message.FromString(wire)
    assert message.message_type == Message.TP_PROCESS_REQUEST
    parsed = TpProcessRequest.FromString(message.content)
    assert parsed == request
    assert parsed.header.inputs == [ADDRESS]
    assert parsed.payload == b"\x00\xffdata"


def test_sawgrid_protos_reexport():
    from sawgrid.protos import sawtooth
    assert sawtooth.Message is Message
    assert sawtooth.TransactionHeader is TransactionHeader


def test_install_is_idempotent():
    for _ in range(1000):
        sdk_compat.install()
    assert sum(isinstance(f, sdk_compat._Pb2Finder) for f in sys.meta_path) == 1
    assert sys.modules["sawtooth_sdk.messaging.stream"].Stream is sdk_compat.Stream


def test_processor_core_imports_with_our_stream():
    from sawtooth_sdk.processor import core
    assert core.Stream is sdk_compat.Stream
    assert core.RECONNECT_EVENT == sdk_compat.RECONNECT_EVENT == -1


def _run_python(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def test_fresh_interpreter_without_install_fails_and_with_install_works():
    # Proves the layer is what makes the difference (and that it loads in a clean process).
    without = _run_python("import sawtooth_sdk.protobuf.validator_pb2")
    assert without.returncode != 0
    with_layer = _run_python("""
        import sawgrid.processors
        from sawtooth_sdk.processor.core import TransactionProcessor
        from sawtooth_sdk.protobuf.validator_pb2 import Message
        print(Message.MessageType.Name(Message.TP_PROCESS_REQUEST))
    """)
    assert with_layer.returncode == 0, with_layer.stderr
    assert with_layer.stdout.strip() == "TP_PROCESS_REQUEST"


def test_pb2_imported_before_install_is_a_clear_error():
    result = _run_python("""
        import sys, types
        name = "sawtooth_sdk.protobuf.batch_pb2"
        sys.modules[name] = types.ModuleType(name)
        try:
            import sawgrid.processors
        except ImportError as error:
            print("ImportError:", error)
    """)
    assert result.returncode == 0, result.stderr
    assert "sawtooth_sdk.protobuf.batch_pb2 imported before" in result.stdout
    assert "install()" in result.stdout


# --------------------------------------------------------------------------
# A ROUTER socket that plays the validator
# --------------------------------------------------------------------------

class FakeValidator:
    """A ROUTER bound on 127.0.0.1 speaking validator_pb2.Message frames."""

    def __init__(self, ctx, endpoint="tcp://127.0.0.1:*"):
        self.sock = ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock.bind(endpoint)
                break
            except zmq.ZMQError as error:  # old listener still being torn down
                if error.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def recv(self, timeout=TIMEOUT):
        if not self.sock.poll(timeout * 1000, zmq.POLLIN):
            raise AssertionError(f"no message within {timeout}s")
        identity, data = self.sock.recv_multipart()
        return identity, Message.FromString(data)

    def expect(self, message_type, timeout=TIMEOUT):
        identity, message = self.recv(timeout)
        assert message.message_type == message_type, (
            f"expected {Message.MessageType.Name(message_type)}, got "
            f"{Message.MessageType.Name(message.message_type)}")
        return identity, message

    def send(self, identity, message_type, content, correlation_id):
        data = Message(message_type=message_type, correlation_id=correlation_id,
                       content=content).SerializeToString()
        self.sock.send_multipart([identity, data])

    def reply(self, identity, request, message_type, response):
        self.send(identity, message_type, response.SerializeToString(), request.correlation_id)

    def close(self):
        self.sock.close(linger=0)


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


# --------------------------------------------------------------------------
# (b) Stream against a ROUTER, in process
# --------------------------------------------------------------------------

def test_stream_send_receive_disconnect_reconnect(ctx):
    validator = FakeValidator(ctx)
    endpoint = validator.endpoint
    stream = sdk_compat.Stream(endpoint)
    try:
        assert stream.url == endpoint
        assert stream.is_ready()

        # request -> reply resolves the sdk Future
        future = stream.send(Message.PING_REQUEST, b"hello")
        identity, request = validator.expect(Message.PING_REQUEST)
        assert identity == stream.zmq_id
        assert request.content == b"hello" and request.correlation_id
        validator.send(identity, Message.PING_RESPONSE, b"pong", request.correlation_id)
        result = future.result(TIMEOUT)
        assert (result.message_type, result.content) == (Message.PING_RESPONSE, b"pong")

        # validator-initiated messages come out of receive(), answered with send_back
        pending = stream.receive()
        validator.send(identity, Message.TP_PROCESS_REQUEST, b"a", "v1")
        validator.send(identity, Message.TP_PROCESS_REQUEST, b"b", "v2")
        assert pending.result(TIMEOUT).correlation_id == "v1"
        assert stream.receive().result(TIMEOUT).correlation_id == "v2"
        stream.send_back(Message.TP_PROCESS_RESPONSE, "v2", b"done")
        _, back = validator.expect(Message.TP_PROCESS_RESPONSE)
        assert (back.correlation_id, back.content) == ("v2", b"done")

        # validator goes away: outstanding futures fail, sends are refused
        orphan = stream.send(Message.TP_STATE_GET_REQUEST, b"")
        validator.expect(Message.TP_STATE_GET_REQUEST)
        next_message = stream.receive()
        validator.close()
        failed = orphan.result(TIMEOUT)
        with pytest.raises(ValidatorConnectionError):
            failed.content  # noqa: B018
        assert not stream.is_ready()
        with pytest.raises(ValidatorConnectionError):
            stream.send(Message.PING_REQUEST, b"")
        with pytest.raises(ValidatorConnectionError):
            stream.send_back(Message.PING_RESPONSE, "x", b"")

        # ... and comes back on the same port: RECONNECT_EVENT, ready again
        validator = FakeValidator(ctx, endpoint)
        assert next_message.result(TIMEOUT) == sdk_compat.RECONNECT_EVENT
        stream.wait_for_ready()
        assert stream.is_ready()
        future = stream.send(Message.PING_REQUEST, b"again")
        identity, request = validator.expect(Message.PING_REQUEST)
        assert identity == stream.zmq_id
        validator.send(identity, Message.PING_RESPONSE, b"", request.correlation_id)
        assert future.result(TIMEOUT).message_type == Message.PING_RESPONSE
    finally:
        waiting = stream.receive()
        closer = threading.Thread(target=stream.close)
        closer.start()
        closer.join(TIMEOUT)  # bounds the wait only: close() must return, not hang
        validator.close()
    assert not closer.is_alive(), "Stream.close() did not return"
    assert not stream._thread.is_alive()
    assert waiting.cancelled()
    stream.close()  # idempotent
    with pytest.raises(ValidatorConnectionError):
        stream.send(Message.PING_REQUEST, b"")


def test_stream_many_round_trips(ctx):
    """Many request/reply round trips through the wake-up path: every reply
    resolves its own future, none is lost or crossed. (How fast: bench/.)"""
    validator = FakeValidator(ctx)
    stream = sdk_compat.Stream(validator.endpoint)
    try:
        for i in range(500):
            future = stream.send(Message.TP_STATE_GET_REQUEST, b"%d" % i)
            identity, request = validator.expect(Message.TP_STATE_GET_REQUEST)
            assert request.content == b"%d" % i
            validator.send(identity, Message.TP_STATE_GET_RESPONSE, request.content,
                           request.correlation_id)
            assert future.result(TIMEOUT).content == b"%d" % i
        # and many in flight at once, answered in reverse order
        futures = [stream.send(Message.TP_STATE_GET_REQUEST, b"%d" % i) for i in range(200)]
        requests = [validator.expect(Message.TP_STATE_GET_REQUEST) for _ in futures]
        for identity, request in reversed(requests):
            validator.send(identity, Message.TP_STATE_GET_RESPONSE, request.content,
                           request.correlation_id)
        assert [f.result(TIMEOUT).content for f in futures] == [b"%d" % i for i in range(200)]
    finally:
        stream.close()
        validator.close()


# --------------------------------------------------------------------------
# (c) a real TransactionProcessor in a subprocess
# --------------------------------------------------------------------------

PROCESSOR_SCRIPT = '''
import hashlib
import logging
import sys

import sawgrid.processors  # installs sdk_compat before any sawtooth_sdk import
from sawtooth_sdk.processor.core import TransactionProcessor
from sawtooth_sdk.processor.exceptions import InvalidTransaction
from sawtooth_sdk.processor.handler import TransactionHandler

FAMILY = "compat-test"
NAMESPACE = hashlib.sha512(FAMILY.encode()).hexdigest()[:6]


class AppendHandler(TransactionHandler):
    """Appends the payload to the value at the transaction's first input address."""

    family_name = FAMILY
    family_versions = ["1.0"]
    namespaces = [NAMESPACE]

    def apply(self, transaction, context):
        if transaction.payload.startswith(b"invalid:"):
            raise InvalidTransaction(transaction.payload[len(b"invalid:"):].decode())
        address = transaction.header.inputs[0]
        entries = context.get_state([address])
        old = entries[0].data if entries else b""
        context.set_state({address: old + transaction.payload})


def main():
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    processor = TransactionProcessor(url=sys.argv[1])
    processor.add_handler(AppendHandler())
    try:
        processor.start()
    finally:
        processor.stop()
    print("processor stopped", file=sys.stderr, flush=True)


main()
'''


def _process_request(validator, identity, correlation_id, payload, context_id):
    header = TransactionHeader(family_name=FAMILY, family_version="1.0",
                               inputs=[ADDRESS], outputs=[ADDRESS], nonce=correlation_id,
                               signer_public_key="02" + "00" * 32,
                               batcher_public_key="02" + "00" * 32,
                               payload_sha512=hashlib.sha512(payload).hexdigest())
    request = TpProcessRequest(header=header, payload=payload, signature="ab" * 64,
                               context_id=context_id)
    validator.send(identity, Message.TP_PROCESS_REQUEST, request.SerializeToString(),
                   correlation_id)


def _expect_registration(validator):
    identity, message = validator.expect(Message.TP_REGISTER_REQUEST)
    register = TpRegisterRequest.FromString(message.content)
    assert (register.family, register.version) == (FAMILY, "1.0")
    assert list(register.namespaces) == [NAMESPACE]
    # set_header_style() was not called: protocol 0, header style unset (1.0/1.1 validators)
    assert register.protocol_version == 0
    assert register.request_header_style == TpRegisterRequest.HEADER_STYLE_UNSET
    validator.reply(identity, message, Message.TP_REGISTER_RESPONSE,
                    TpRegisterResponse(status=TpRegisterResponse.OK))
    return identity


def _run_append(validator, identity, correlation_id, old, payload):
    """Drive one successful transaction: get -> set -> OK response."""
    context_id = "ctx-" + correlation_id
    _process_request(validator, identity, correlation_id, payload, context_id)

    _, get = validator.expect(Message.TP_STATE_GET_REQUEST)
    get_request = TpStateGetRequest.FromString(get.content)
    assert get_request.context_id == context_id
    assert list(get_request.addresses) == [ADDRESS]
    entries = [TpStateEntry(address=ADDRESS, data=old)] if old else []
    validator.reply(identity, get, Message.TP_STATE_GET_RESPONSE,
                    TpStateGetResponse(entries=entries, status=TpStateGetResponse.OK))

    _, set_ = validator.expect(Message.TP_STATE_SET_REQUEST)
    set_request = TpStateSetRequest.FromString(set_.content)
    assert set_request.context_id == context_id
    assert [(e.address, e.data) for e in set_request.entries] == [(ADDRESS, old + payload)]
    validator.reply(identity, set_, Message.TP_STATE_SET_RESPONSE,
                    TpStateSetResponse(addresses=[ADDRESS], status=TpStateSetResponse.OK))

    _, done = validator.expect(Message.TP_PROCESS_RESPONSE)
    assert done.correlation_id == correlation_id
    response = TpProcessResponse.FromString(done.content)
    assert response.status == TpProcessResponse.OK, response


def _serve_until_exit(validator, tp, timeout=TIMEOUT):
    """Answer the processor like a validator until it exits after SIGINT.

    The SDK's shutdown path (TransactionProcessor.start) unregisters, then runs the
    last received message through the handler once more if the interrupt came while
    it was still being handled; so state requests may follow. Answer them all.
    """
    unregistered = False
    deadline = time.monotonic() + timeout
    while tp.poll() is None:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "processor did not exit after SIGINT"
        if not validator.sock.poll(min(remaining, 0.2) * 1000, zmq.POLLIN):
            continue
        identity, message = validator.recv()
        if message.message_type == Message.TP_UNREGISTER_REQUEST:
            unregistered = True
            validator.reply(identity, message, Message.TP_UNREGISTER_RESPONSE,
                            TpUnregisterResponse(status=TpUnregisterResponse.OK))
        elif message.message_type == Message.TP_STATE_GET_REQUEST:
            validator.reply(identity, message, Message.TP_STATE_GET_RESPONSE,
                            TpStateGetResponse(status=TpStateGetResponse.OK))
        elif message.message_type == Message.TP_STATE_SET_REQUEST:
            validator.reply(identity, message, Message.TP_STATE_SET_RESPONSE,
                            TpStateSetResponse(status=TpStateSetResponse.OK))
    assert unregistered, "processor exited without TP_UNREGISTER_REQUEST"


def test_transaction_processor_end_to_end(ctx, tmp_path):
    script = tmp_path / "compat_tp.py"
    script.write_text(PROCESSOR_SCRIPT)
    log_path = tmp_path / "compat_tp.log"
    validator = FakeValidator(ctx)
    endpoint = validator.endpoint
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        tp = subprocess.Popen([sys.executable, str(script), endpoint],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            identity = _expect_registration(validator)

            _run_append(validator, identity, "tx-1", b"old:", b"hello")

            _process_request(validator, identity, "tx-2", b"invalid:bad amount", "ctx-2")
            _, done = validator.expect(Message.TP_PROCESS_RESPONSE)
            assert done.correlation_id == "tx-2"
            response = TpProcessResponse.FromString(done.content)
            assert response.status == TpProcessResponse.INVALID_TRANSACTION
            assert response.message == "bad amount"

            validator.send(identity, Message.PING_REQUEST, PingRequest().SerializeToString(),
                           "ping-1")
            _, pong = validator.expect(Message.PING_RESPONSE)
            assert pong.correlation_id == "ping-1"
            PingResponse.FromString(pong.content)

            # the validator goes away and comes back on the same port: re-registration
            validator.close()
            validator = FakeValidator(ctx, endpoint)
            identity = _expect_registration(validator)
            _run_append(validator, identity, "tx-3", b"", b"after-reconnect")

            # SIGINT: the processor unregisters and exits
            tp.send_signal(signal.SIGINT)
            _serve_until_exit(validator, tp)
            assert tp.returncode == 0
        except BaseException as error:
            log_text = log_path.read_text() if log_path.exists() else ""
            raise AssertionError(f"{error!r}\n--- processor log ---\n{log_text}") from error
    finally:
        if tp.poll() is None:
            tp.send_signal(signal.SIGINT)
            try:
                tp.wait(timeout=5)
            except subprocess.TimeoutExpired:
                tp.kill()
                tp.wait(timeout=5)
        validator.close()
    assert "processor stopped" in log_path.read_text()
