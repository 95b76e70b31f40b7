"""Client side of sawgrid-kv: build signed batches for the trivial family."""
from __future__ import annotations

from sawtooth_signing import Signer

from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.processors.kv.addresses import KV, kv_address

from sawgrid.protos.kv_pb2 import KvPayload
from sawgrid.protos.sawtooth import Batch


def kv_batch(signer: Signer, key: str, value: bytes = b"x", delete: bool = False,
             payload: bytes | None = None) -> Batch:
    """A one-transaction batch that sets (or deletes) `key`. `payload` overrides
    the encoded body (tests use it to send malformed payloads)."""
    address = kv_address(key)
    action = KvPayload.DELETE if delete else KvPayload.SET
    body = payload if payload is not None else KvPayload(action=action, key=key, value=value).SerializeToString()
    txn = make_transaction(signer, KV.name, KV.versions[0], body, [address], [address])
    return make_batch(signer, [txn])
