"""sawgrid-kv: the trivial family. One transaction sets or deletes one key.

It exists so that devnet's tests and benchmarks have a processor that does the
least work a real one can (decode, one read, one write): measurements of the
market family are reported as ratios against it.
"""
from __future__ import annotations

from google.protobuf.message import DecodeError
from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.addressing import KV, KV_ENTRY
from sawgrid.processors.base import SawgridHandler
from sawgrid.protos.kv_pb2 import KvPayload

MAX_KEY_LENGTH = 64
MAX_VALUE_BYTES = 1024


def kv_address(key: str) -> str:
    return KV.address(KV_ENTRY, key)


def decode(payload: bytes) -> KvPayload:
    try:
        message = KvPayload.FromString(payload)
    except DecodeError:
        raise InvalidTransaction("payload: not a KvPayload protobuf") from None
    if message.action not in (KvPayload.SET, KvPayload.DELETE):
        raise InvalidTransaction("action: must be SET or DELETE")
    if not 1 <= len(message.key) <= MAX_KEY_LENGTH:
        raise InvalidTransaction(f"key: must be 1..{MAX_KEY_LENGTH} characters")
    if len(message.value) > MAX_VALUE_BYTES:
        raise InvalidTransaction(f"value: at most {MAX_VALUE_BYTES} bytes")
    return message


class KvHandler(SawgridHandler):
    FAMILY = KV

    def handle(self, transaction, context) -> None:
        payload = decode(transaction.payload)
        address = kv_address(payload.key)
        if payload.action == KvPayload.SET:
            context.set_state({address: payload.value})
        else:
            if not context.get_state([address]):
                raise InvalidTransaction(f"key: {payload.key!r} is not set")
            context.delete_state([address])
