"""InProcessLedger: the SDK Context rules (authorization by prefix, read-through,
entries), batch atomicity, receipts and events — driven by the kv handler."""
from __future__ import annotations

import pytest
from sawtooth_sdk.processor.exceptions import AuthorizationException, InternalError, InvalidTransaction

from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.processors.kv.addresses import KV, kv_address
from sawgrid.processors.inprocess import (
    BatchRejected,
    InProcessContext,
    InProcessLedger,
    NoProcessorError,
    unsigned_batch,
    unsigned_transaction,
)
from sawgrid.processors.disk_state import DiskState
from sawgrid.processors.kv.handler import KvHandler
from sawgrid.protos.kv_pb2 import KvPayload
from sawgrid.protos.sawtooth import StateChange

PK = "02" + "ab" * 32


def kv_payload(key: str, value: bytes = b"v", delete: bool = False) -> bytes:
    action = KvPayload.DELETE if delete else KvPayload.SET
    return KvPayload(action=action, key=key, value=value).SerializeToString()


def kv_txn(key: str, value: bytes = b"v", delete: bool = False, inputs=None, outputs=None, payload=None):
    address = kv_address(key)
    return unsigned_transaction(KV.name, "1.0", payload if payload is not None else kv_payload(key, value, delete),
                                inputs if inputs is not None else [address],
                                outputs if outputs is not None else [address], PK)


class EventfulKv(KvHandler):
    """kv plus an event and receipt data per transaction; key 'boom' raises InternalError."""

    def handle(self, transaction, context) -> None:
        payload = KvPayload.FromString(transaction.payload)
        if payload.key == "boom":
            raise InternalError("boom")
        super().handle(transaction, context)
        context.add_event("sawgrid-kv/set", [("key", payload.key)], payload.value)
        context.add_receipt_data(payload.key.encode())


@pytest.fixture(params=["dict", "disk"])
def ledger(request, tmp_path):
    """A kv ledger with its state in a dict, and the same on disk (DiskState,
    what `sawgrid simulate --fast` runs): every test below holds for both."""
    if request.param == "dict":
        yield InProcessLedger([KvHandler()])
        return
    with DiskState(tmp_path / "state") as state:
        yield InProcessLedger([KvHandler()], state=state)


# ------------------------------------------------------------------ applying

def test_signed_batches_from_clients_apply(ledger, signer):
    result = ledger.apply_batch(kv_batch(signer, "a", b"1"))
    assert result.valid and result.invalid_message == ""
    assert ledger.get(kv_address("a")) == b"1"
    assert ledger.state == {kv_address("a"): b"1"}
    (receipt,) = result.receipts
    assert receipt.state_changes[0] == StateChange(address=kv_address("a"), value=b"1", type=StateChange.SET)


def test_verify_signatures_accepts_signed_and_refuses_unsigned(signer):
    ledger = InProcessLedger([KvHandler()], verify_signatures=True)
    assert ledger.apply_batch(kv_batch(signer, "a")).valid
    with pytest.raises(BatchRejected, match="signature"):
        ledger.apply_batch(unsigned_batch([kv_txn("b")]))
    assert kv_address("b") not in ledger.state


def test_apply_one_transaction_and_delete(ledger):
    assert ledger.apply(kv_txn("a", b"1")).valid
    result = ledger.apply(kv_txn("a", delete=True))
    assert result.valid and ledger.state == {}
    assert result.receipts[0].state_changes[0].type == StateChange.DELETE
    assert result.writes == {kv_address("a"): None}


def test_invalid_transaction_is_reported_not_raised(ledger):
    txn = kv_txn("a", delete=True)  # not set
    result = ledger.apply(txn)
    assert not result.valid and not result
    assert result.invalid_message == "key: 'a' is not set"
    assert result.invalid_transaction == txn.header_signature
    assert result.receipts == [] and result.events == []


def test_garbage_payload_is_invalid(ledger):
    result = ledger.apply(kv_txn("a", payload=b"\xff\xff\xff"))
    assert not result.valid and result.invalid_message.startswith("payload:")


def test_unknown_family_raises(ledger, signer):
    txn = make_transaction(signer, "nope", "1.0", b"", [], [])
    with pytest.raises(NoProcessorError):
        ledger.apply(txn)
    with pytest.raises(NoProcessorError):  # version matters too
        ledger.apply(unsigned_transaction(KV.name, "9.9", kv_payload("a"), [], [], PK))


# ------------------------------------------------------------ authorization

def test_write_outside_outputs_makes_the_transaction_invalid(ledger):
    result = ledger.apply(kv_txn("a", outputs=[kv_address("b")]))
    assert not result.valid
    assert result.invalid_message.startswith("Tried to set unauthorized address")
    assert ledger.state == {}


def test_read_outside_inputs_makes_the_transaction_invalid(ledger):
    ledger.apply(kv_txn("a"))
    result = ledger.apply(kv_txn("a", delete=True, inputs=[KV.prefix("01")]))
    assert not result.valid and result.invalid_message.startswith("Tried to get unauthorized address")
    assert kv_address("a") in ledger.state


def test_prefixes_authorize_everything_under_them(ledger):
    assert ledger.apply(kv_txn("a", inputs=[KV.namespace], outputs=[KV.prefix("00")])).valid
    assert ledger.apply(kv_txn("a", delete=True, inputs=[KV.namespace], outputs=[KV.namespace])).valid


def test_context_rules_directly():
    below = {kv_address("x"): b"old", kv_address("e"): b""}
    ctx = InProcessContext([KV.namespace], [kv_address("x")], below.get)
    assert ctx.get_state([kv_address("x"), kv_address("y"), kv_address("e")]) == [(kv_address("x"), b"old")]
    (entry,) = ctx.get_state([kv_address("x")])
    assert entry.address == kv_address("x") and entry.data == b"old"
    assert ctx.set_state({kv_address("x"): b"new"}) == [kv_address("x")]
    assert ctx.get_state([kv_address("x")])[0].data == b"new"  # own writes first
    assert ctx.delete_state([kv_address("x")]) == [kv_address("x")]
    assert ctx.get_state([kv_address("x")]) == []
    assert ctx.delete_state([kv_address("x")]) == []  # already gone
    with pytest.raises(AuthorizationException, match="set unauthorized"):
        ctx.set_state({kv_address("y"): b"1"})
    with pytest.raises(AuthorizationException, match="delete unauthorized"):
        ctx.delete_state([kv_address("y")])
    with pytest.raises(AuthorizationException, match="get unauthorized"):
        ctx.get_state(["not-an-address"])
    with pytest.raises(AuthorizationException):  # a short prefix is not an address
        ctx.get_state([KV.namespace])
    # all-or-nothing per call: one bad address in a set writes nothing
    ctx2 = InProcessContext([], [kv_address("x")], {}.get)
    with pytest.raises(AuthorizationException):
        ctx2.set_state({kv_address("x"): b"1", kv_address("y"): b"2"})
    assert ctx2.writes == {}
    with pytest.raises(TypeError):
        ctx.set_state({kv_address("x"): "text"})
    with pytest.raises(TypeError):
        ctx.get_state(kv_address("x"))  # a bare string, not a list


# ---------------------------------------------------------------- atomicity

def test_batch_is_atomic(ledger, signer):
    ledger.apply(kv_txn("keep", b"0"))
    before = dict(ledger.state)
    t1 = make_transaction(signer, KV.name, "1.0", kv_payload("a", b"1"), [kv_address("a")], [kv_address("a")])
    t2 = make_transaction(signer, KV.name, "1.0", kv_payload("keep", b"2"), [kv_address("keep")], [kv_address("keep")])
    t3 = make_transaction(signer, KV.name, "1.0", kv_payload("zz", delete=True), [kv_address("zz")], [kv_address("zz")])
    result = ledger.apply_batch(make_batch(signer, [t1, t2, t3]))
    assert not result.valid and result.invalid_transaction == t3.header_signature
    assert ledger.state == before


def test_later_transactions_see_earlier_writes_of_the_batch(ledger):
    result = ledger.apply_batch(unsigned_batch([kv_txn("a", b"1"), kv_txn("a", delete=True), kv_txn("b", b"2")]))
    assert result.valid
    assert ledger.state == {kv_address("b"): b"2"}
    assert [len(r.state_changes) for r in result.receipts] == [1, 1, 1]


def test_other_exceptions_propagate_and_discard_the_batch():
    ledger = InProcessLedger([EventfulKv()])
    with pytest.raises(InternalError):
        ledger.apply_batch(unsigned_batch([kv_txn("a"), kv_txn("boom")]))
    assert ledger.state == {}


def test_sawgrid_handler_turns_bugs_into_invalid_transactions():
    class Buggy(KvHandler):
        def handle(self, transaction, context):
            context.set_state({kv_address("a"): b"1"})
            raise ZeroDivisionError("oops")

    ledger = InProcessLedger([Buggy()])
    result = ledger.apply(kv_txn("a"))
    assert not result.valid and "ZeroDivisionError" in result.invalid_message
    assert ledger.state == {}


# -------------------------------------------------------- events and receipts

def test_events_and_receipt_data_are_captured():
    ledger = InProcessLedger([EventfulKv()])
    t1, t2 = kv_txn("a", b"1"), kv_txn("b", b"2")
    result = ledger.apply_batch(unsigned_batch([t1, t2]))
    assert result.valid
    assert [r.transaction_id for r in result.receipts] == [t1.header_signature, t2.header_signature]
    assert [(e.event_type, [(a.key, a.value) for a in e.attributes], e.data) for e in result.events] == [
        ("sawgrid-kv/set", [("key", "a")], b"1"), ("sawgrid-kv/set", [("key", "b")], b"2")]
    assert result.receipt_data == [b"a", b"b"]
    assert list(result.receipts[1].data) == [b"b"]


def test_events_of_an_invalid_batch_are_dropped():
    ledger = InProcessLedger([EventfulKv()])
    result = ledger.apply_batch(unsigned_batch([kv_txn("a"), kv_txn("zz", delete=True)]))
    assert not result.valid and result.events == [] and result.receipt_data == []


def test_items_by_prefix_and_initial_state():
    ledger = InProcessLedger([KvHandler()], state={kv_address("a"): b"1"})
    ledger.apply(kv_txn("b", b"2"))
    assert ledger.items(KV.prefix("00")) == dict(sorted({kv_address("a"): b"1", kv_address("b"): b"2"}.items()))
    assert ledger.items("ffff") == {}


def test_unsigned_transactions_have_unique_ids():
    ids = {kv_txn("a").header_signature for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 128 for i in ids)


def test_contexts_drive_handlers_directly():
    # a handler called directly with an InProcessContext (as the fuzz tests do)
    handler = KvHandler()
    ctx = InProcessContext([KV.namespace], [KV.namespace], {}.get)

    class Req:
        payload = b"\x08\x05"  # action=5
        signature = ""

    with pytest.raises(InvalidTransaction):
        handler.apply(Req(), ctx)
