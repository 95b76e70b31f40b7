"""Structural and signature checks a Sawtooth validator applies to a submitted batch.

These run when a batch is submitted (the REST API answers 400 on failure),
before it is queued: every header parses, every signature verifies with
secp256k1 against the signer key in its header, the batch lists exactly its
transactions' ids, each transaction's batcher key is the batch signer's key,
and each payload matches its `payload_sha512`.
"""
from __future__ import annotations

import hashlib
import re

from google.protobuf.message import DecodeError
from sawtooth_signing import create_context
from sawtooth_signing.secp256k1 import Secp256k1PublicKey

from sawgrid.protos.sawtooth import Batch, BatchHeader, TransactionHeader

_CONTEXT = create_context("secp256k1")


class BatchRejected(ValueError):
    """A batch a validator would refuse on submit; str() names what is wrong."""


SubmitRejected = BatchRejected  # the name devnet's submit path uses
_SIGNATURE_RE = re.compile(r"^[0-9a-f]{128}$")
_PUBLIC_KEY_RE = re.compile(r"^[0-9a-f]{66}$")


def _verify(signature: str, message: bytes, public_key_hex: str, what: str) -> None:
    if not _SIGNATURE_RE.match(signature):
        raise SubmitRejected(f"{what}: header_signature is not 128 lowercase hex chars")
    if not _PUBLIC_KEY_RE.match(public_key_hex):
        raise SubmitRejected(f"{what}: signer_public_key is not a 33-byte compressed key in hex")
    try:
        public_key = Secp256k1PublicKey.from_hex(public_key_hex)
        valid = _CONTEXT.verify(signature, message, public_key)
    except Exception:  # malformed key bytes: the signing library raises various types
        valid = False
    if not valid:
        raise SubmitRejected(f"{what}: signature does not verify")


def check_batch(batch: Batch) -> list[TransactionHeader]:
    """Raise BatchRejected naming what is wrong; return the parsed txn headers."""
    short = batch.header_signature[:16] or "<no id>"
    try:
        header = BatchHeader.FromString(batch.header)
    except DecodeError:
        raise SubmitRejected(f"batch {short}: header does not parse") from None
    _verify(batch.header_signature, batch.header, header.signer_public_key, f"batch {short}")
    if not batch.transactions:
        raise SubmitRejected(f"batch {short}: has no transactions")
    ids = [txn.header_signature for txn in batch.transactions]
    if list(header.transaction_ids) != ids:
        raise SubmitRejected(f"batch {short}: transaction_ids do not match its transactions")
    if len(set(ids)) != len(ids):
        raise SubmitRejected(f"batch {short}: lists a transaction twice")
    headers = []
    for txn in batch.transactions:
        what = f"transaction {txn.header_signature[:16] or '<no id>'}"
        try:
            txn_header = TransactionHeader.FromString(txn.header)
        except DecodeError:
            raise SubmitRejected(f"{what}: header does not parse") from None
        _verify(txn.header_signature, txn.header, txn_header.signer_public_key, what)
        if txn_header.batcher_public_key != header.signer_public_key:
            raise SubmitRejected(f"{what}: batcher_public_key is not the batch signer's key")
        if hashlib.sha512(txn.payload).hexdigest() != txn_header.payload_sha512:
            raise SubmitRejected(f"{what}: payload_sha512 does not match the payload")
        if not txn_header.family_name or not txn_header.family_version:
            raise SubmitRejected(f"{what}: family_name and family_version are required")
        headers.append(txn_header)
    return headers
