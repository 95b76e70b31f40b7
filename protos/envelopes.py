"""Sawtooth's envelopes: building and signing transactions and batches.

One place for the header rules every validator checks: the payload's sha512
in the transaction header, the batcher key equal to the batch signer's key,
and secp256k1 signatures over the serialized headers.
"""
from __future__ import annotations

import hashlib
import itertools
import secrets
from typing import Iterable, Sequence

from sawtooth_signing import Signer

from sawgrid.protos.sawtooth import Batch, BatchHeader, BatchList, Transaction, TransactionHeader


def transaction_header(
    family_name: str,
    family_version: str,
    payload: bytes,
    inputs: Sequence[str],
    outputs: Sequence[str],
    signer_public_key: str,
    batcher_public_key: str,
    dependencies: Sequence[str],
    nonce: str,
) -> bytes:
    """The serialized TransactionHeader every envelope here signs (or stands in for)."""
    return TransactionHeader(
        family_name=family_name,
        family_version=family_version,
        inputs=list(inputs),
        outputs=list(outputs),
        signer_public_key=signer_public_key,
        batcher_public_key=batcher_public_key,
        dependencies=list(dependencies),
        payload_sha512=hashlib.sha512(payload).hexdigest(),
        nonce=nonce,
    ).SerializeToString()


def make_transaction(
    signer: Signer,
    family_name: str,
    family_version: str,
    payload: bytes,
    inputs: Sequence[str],
    outputs: Sequence[str],
    batcher_public_key: str | None = None,
    dependencies: Sequence[str] = (),
    nonce: str | None = None,
) -> Transaction:
    """A signed transaction. `batcher_public_key` defaults to the signer's own key.

    The nonce is random unless given, so two identical payloads still make
    two distinct transactions (Sawtooth refuses duplicate transaction ids).
    """
    public_key = signer.get_public_key().as_hex()
    header = transaction_header(family_name, family_version, payload, inputs, outputs, public_key,
                                batcher_public_key or public_key, dependencies,
                                nonce if nonce is not None else secrets.token_hex(16))
    return Transaction(header=header, header_signature=signer.sign(header), payload=payload)


def make_batch(signer: Signer, transactions: Iterable[Transaction]) -> Batch:
    """A batch of `transactions` signed by `signer` (who must be their batcher)."""
    transactions = list(transactions)
    header = BatchHeader(
        signer_public_key=signer.get_public_key().as_hex(),
        transaction_ids=[txn.header_signature for txn in transactions],
    ).SerializeToString()
    return Batch(header=header, header_signature=signer.sign(header), transactions=transactions)


def batch_list_bytes(batches: Iterable[Batch]) -> bytes:
    """Serialized BatchList, the body of `POST /batches`."""
    return BatchList(batches=list(batches)).SerializeToString()


# -- unsigned envelopes (the in-process ledger's tests and the simulator) ----------

_counter = itertools.count()


def unsigned_transaction(
    family_name: str,
    family_version: str,
    payload: bytes,
    inputs: Sequence[str],
    outputs: Sequence[str],
    signer_public_key: str,
    nonce: str | None = None,
) -> Transaction:
    """A Transaction with a well-formed header but no real signature.

    Its `header_signature` (the transaction id) is a unique 128-hex-char
    stand-in, so receipts and results can name it. Only `InProcessLedger`
    (without `verify_signatures`) accepts it.
    """
    nonce = nonce if nonce is not None else f"{next(_counter):016x}"
    header = transaction_header(family_name, family_version, payload, inputs, outputs, signer_public_key,
                                signer_public_key, (), nonce)
    return Transaction(header=header, header_signature=hashlib.sha512(header).hexdigest(), payload=payload)


def unsigned_batch(transactions: Iterable[Transaction], signer_public_key: str = "") -> Batch:
    """A Batch of `transactions` with a stand-in signature (see `unsigned_transaction`)."""
    transactions = list(transactions)
    if not signer_public_key and transactions:
        signer_public_key = TransactionHeader.FromString(transactions[0].header).batcher_public_key
    header = BatchHeader(signer_public_key=signer_public_key,
                         transaction_ids=[t.header_signature for t in transactions]).SerializeToString()
    return Batch(header=header, header_signature=hashlib.sha512(header).hexdigest(), transactions=transactions)
