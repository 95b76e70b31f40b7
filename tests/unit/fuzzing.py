"""What the families' fuzz tests share: mangled payloads, and applying one directly."""
from __future__ import annotations

import pytest
from hypothesis import strategies as st
from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.inprocess import InProcessContext
from sawgrid.protos.sawtooth import TransactionHeader, processor_pb2


@st.composite
def mutated(draw, messages) -> bytes:
    """A message drawn from `messages`, serialized, then 1-4 byte flips,
    insertions, deletions or truncations: bytes that are almost a payload."""
    data = bytearray(draw(messages).SerializeToString())
    for op, position, byte in draw(st.lists(st.tuples(st.sampled_from("fidt"), st.integers(0, 10**6),
                                                      st.integers(0, 255)), min_size=1, max_size=4)):
        i = position % (len(data) + 1)
        if op == "i":
            data.insert(i, byte)
        elif data and op == "f":
            data[i % len(data)] ^= byte or 1
        elif data and op == "d":
            del data[i % len(data)]
        elif op == "t":
            del data[i:]
    return bytes(data)


def apply_directly(handler, transaction, state_get, what: str):
    """Run `handler.apply` on `transaction` through an in-process context over
    `state_get`, as a validator would, and check the two rules every handler
    keeps: nothing but InvalidTransaction leaves apply(), and a refused
    transaction wrote and emitted nothing first. `what` describes the input
    in a failure. Returns (valid, context)."""
    header = TransactionHeader.FromString(transaction.header)
    request = processor_pb2.TpProcessRequest(header=header, payload=transaction.payload,
                                             signature=transaction.header_signature)
    context = InProcessContext(header.inputs, header.outputs, state_get)
    try:
        handler.apply(request, context)
    except InvalidTransaction:
        assert context.writes == {} and context.events == [], f"wrote before failing: {what}"
        return False, context
    except BaseException as err:  # noqa: BLE001 - this is what the fuzz tests look for
        pytest.fail(f"HANDLER BUG: {type(err).__name__}: {err!r} escaped {type(handler).__name__}.apply "
                    f"for {what}")
    return True, context
