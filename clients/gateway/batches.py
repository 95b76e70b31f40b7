"""What the gateway reads from a `POST /batches` body: each batch's id, its
signer key (proven by the batch signature) and the families it addresses.

    for batch in decode_batch_list(body):
        batch.id, batch.signer, batch.families

Only the batch header's signature is checked here (one secp256k1
verification per batch, ~80 µs; parsed keys are cached): that is what makes `signer` a key the sender
holds, so a key's limit cannot be spent by someone who merely names it. Every
other check a validator makes on submit (transaction signatures, payload
hashes, batcher keys: protos/verify.py) is left to the upstream, which
answers 400 as always.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from google.protobuf.message import DecodeError
from sawtooth_signing import create_context
from sawtooth_signing.secp256k1 import Secp256k1PublicKey

from sawgrid.protos.sawtooth import BatchHeader, BatchList, TransactionHeader

__all__ = ["BatchInfo", "UndecodableBatches", "decode_batch_list"]

_CONTEXT = create_context("secp256k1")
# Parsed public keys, by hex: parsing one costs as much as the verification
# itself, and a meter signs every batch with the same key.
KEY_CACHE = 100_000


class UndecodableBatches(ValueError):
    """The body is not a BatchList of signed batches; str() says what is wrong."""


@dataclass(frozen=True)
class BatchInfo:
    """One submitted batch as the gateway sees it."""

    id: str  # the batch's header_signature
    signer: str  # the batch signer's public key (hex), signature verified
    families: tuple[str, ...]  # the transactions' family names, in order, without repeats


def decode_batch_list(body: bytes) -> list[BatchInfo]:
    """The batches of a serialized BatchList; raises UndecodableBatches if it
    does not parse, is empty, or a batch's header or signature is bad."""
    try:
        batches = BatchList.FromString(body).batches
    except (DecodeError, ValueError):
        raise UndecodableBatches("the body is not a serialized BatchList") from None
    if not batches:
        raise UndecodableBatches("the BatchList has no batches")
    out = []
    for batch in batches:
        short = batch.header_signature[:16] or "<no id>"
        try:
            header = BatchHeader.FromString(batch.header)
        except DecodeError:
            raise UndecodableBatches(f"batch {short}: header does not parse") from None
        if not _signed_by(batch.header_signature, batch.header, header.signer_public_key):
            raise UndecodableBatches(f"batch {short}: its signature does not verify against its signer key")
        families: dict[str, None] = {}
        for txn in batch.transactions:
            try:
                families[TransactionHeader.FromString(txn.header).family_name] = None
            except DecodeError:
                raise UndecodableBatches(f"batch {short}: a transaction header does not parse") from None
        out.append(BatchInfo(batch.header_signature, header.signer_public_key, tuple(families)))
    return out


def _signed_by(signature: str, message: bytes, public_key: str) -> bool:
    if len(signature) != 128 or len(public_key) != 66:
        return False
    key = _public_key(public_key)
    return key is not None and bool(_CONTEXT.verify(signature, message, key))


@lru_cache(maxsize=KEY_CACHE)
def _public_key(public_key: str) -> Secp256k1PublicKey | None:
    try:
        return Secp256k1PublicKey.from_hex(public_key)
    except Exception:  # malformed hex or key bytes: the signing library raises various types
        return None
