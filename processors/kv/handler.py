"""sawgrid-kv's handler: decode, one read, one write."""
from __future__ import annotations

from google.protobuf.message import DecodeError
from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.kv.addresses import KV, kv_address
from sawgrid.protos.kv_pb2 import KvPayload

MAX_KEY_LENGTH = 64
MAX_VALUE_BYTES = 1024


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
