"""`processors.base.write_outcome` against the SDK's Context sends what the
SDK's own sequential calls send (same requests, same order within each kind)
and raises what they raise; only the waiting is overlapped."""
from __future__ import annotations

import pytest

from sawgrid.processors import base  # noqa: F401 - installs the SDK compatibility layer first
from sawtooth_sdk.processor.context import Context
from sawtooth_sdk.processor.exceptions import AuthorizationException, InternalError
from sawtooth_sdk.protobuf import state_context_pb2 as sc
from sawtooth_sdk.protobuf.validator_pb2 import Message

from sawgrid.processors.base import write_outcome

RESPONSES = {
    Message.TP_STATE_SET_REQUEST: (sc.TpStateSetRequest, sc.TpStateSetResponse),
    Message.TP_EVENT_ADD_REQUEST: (sc.TpEventAddRequest, sc.TpEventAddResponse),
    Message.TP_RECEIPT_ADD_DATA_REQUEST: (sc.TpReceiptAddDataRequest, sc.TpReceiptAddDataResponse),
}


class _Result:
    def __init__(self, content: bytes) -> None:
        self.content = content


class _Future:
    def __init__(self, content: bytes) -> None:
        self._content = content

    def result(self, timeout=None):
        return _Result(self._content)


class FakeStream:
    """Records requests; answers OK, or the error status for the kinds in `fail`."""

    def __init__(self, fail=()) -> None:
        self.sent: list[tuple[int, object]] = []
        self.fail = set(fail)

    def send(self, message_type, content):
        request_type, response_type = RESPONSES[message_type]
        self.sent.append((message_type, request_type.FromString(content)))
        if message_type in self.fail:
            status = getattr(response_type, "AUTHORIZATION_ERROR", None) or response_type.ERROR
        else:
            status = response_type.OK
        return _Future(response_type(status=status).SerializeToString())


WRITES = {"ab" * 35: b"one", "cd" * 35: b"two"}
EVENTS = [("fam/contract", [("id", "1"), ("day", "2")], b"c1"), ("fam/contract", [("id", "2")], b"c2"),
          ("fam/other", [], b"")]
DATA = [b"r1", b"r2"]


def sequential(stream) -> None:
    context = Context(stream, "ctx")
    context.set_state(WRITES)
    for event in EVENTS:
        context.add_event(*event)
    for data in DATA:
        context.add_receipt_data(data)


def by_kind(sent):
    return {kind: [request for k, request in sent if k == kind] for kind in RESPONSES}


def test_same_requests_in_the_same_order_per_kind():
    ours, sdk = FakeStream(), FakeStream()
    write_outcome(Context(ours, "ctx"), WRITES, EVENTS, DATA)
    sequential(sdk)
    assert by_kind(ours.sent) == by_kind(sdk.sent)
    assert len(ours.sent) == len(sdk.sent)


def test_nothing_to_write_sends_no_set():
    stream = FakeStream()
    write_outcome(Context(stream, "ctx"), {}, [], [b"r"])
    assert [kind for kind, _ in stream.sent] == [Message.TP_RECEIPT_ADD_DATA_REQUEST]


@pytest.mark.parametrize("kind, error", [
    (Message.TP_STATE_SET_REQUEST, AuthorizationException),
    (Message.TP_EVENT_ADD_REQUEST, InternalError),
    (Message.TP_RECEIPT_ADD_DATA_REQUEST, InternalError),
])
def test_raises_what_the_sdk_raises(kind, error):
    with pytest.raises(error) as ours:
        write_outcome(Context(FakeStream(fail={kind}), "ctx"), WRITES, EVENTS, DATA)
    with pytest.raises(error) as sdk:
        sequential(FakeStream(fail={kind}))
    assert str(ours.value) == str(sdk.value)


def test_other_contexts_get_the_plain_calls():
    calls = []

    class Recorder:
        def set_state(self, entries):
            calls.append(("set", dict(entries)))

        def add_event(self, *event):
            calls.append(("event", event))

        def add_receipt_data(self, data):
            calls.append(("data", data))

    write_outcome(Recorder(), WRITES, EVENTS, DATA)
    assert calls == [("set", WRITES), *(("event", e) for e in EVENTS), *(("data", d) for d in DATA)]
