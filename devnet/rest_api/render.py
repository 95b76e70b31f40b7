"""JSON rendering of blocks, batches, transactions, receipts and batch
statuses, as Sawtooth's REST API writes them: `MessageToDict` (including
defaults, proto field names) with headers decoded."""
from __future__ import annotations

import base64
import logging
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError, Message

from sawgrid.devnet.ledger_api import BatchStatus
from sawgrid.devnet.rest_api.errors import RESOURCE_HEADER_INVALID, ApiError
from sawgrid.protos.sawtooth import (
    Batch,
    BatchHeader,
    Block,
    BlockHeader,
    Transaction,
    TransactionHeader,
    TransactionReceipt,
)

LOGGER = logging.getLogger(__name__)


def to_dict(message: Message) -> dict:
    return MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode_header(header_cls: type, raw: bytes) -> dict:
    try:
        return to_dict(header_cls.FromString(raw))
    except DecodeError:
        LOGGER.error("a stored resource has an invalid %s", header_cls.__name__)
        raise ApiError(RESOURCE_HEADER_INVALID) from None


def transaction_json(txn: Transaction) -> dict:
    return {
        "header": decode_header(TransactionHeader, txn.header),
        "header_signature": txn.header_signature,
        "payload": b64(txn.payload),
    }


def batch_json(batch: Batch) -> dict:
    return {
        "header": decode_header(BatchHeader, batch.header),
        "header_signature": batch.header_signature,
        "trace": batch.trace,
        "transactions": [transaction_json(t) for t in batch.transactions],
    }


def block_json(block: Block) -> dict:
    return {
        "header": decode_header(BlockHeader, block.header),
        "header_signature": block.header_signature,
        "batches": [batch_json(b) for b in block.batches],
    }


def _drop_empty(item: Any) -> Any:
    """Sawtooth's `_drop_empty_props`: remove '' values from nested dicts."""
    if isinstance(item, list):
        return [_drop_empty(i) for i in item]
    if isinstance(item, dict):
        return {k: _drop_empty(v) for k, v in item.items() if v != ""}
    return item


def _drop_id_prefixes(item: Any) -> Any:
    """Sawtooth's `_drop_id_prefixes`: keys ending in 'id' become 'id'."""
    if isinstance(item, list):
        return [_drop_id_prefixes(i) for i in item]
    if isinstance(item, dict):
        return {("id" if k.endswith("id") else k): _drop_id_prefixes(v) for k, v in item.items()}
    return item


def receipt_json(receipt: TransactionReceipt) -> dict:
    return _drop_id_prefixes(_drop_empty(to_dict(receipt)))


def status_json(status: BatchStatus) -> dict:
    invalid = [
        {"id": t.id, "message": t.message, "extended_data": b64(t.extended_data)}
        for t in status.invalid_transactions
    ]
    return _drop_empty({"id": status.id, "status": status.status, "invalid_transactions": invalid})


def block_num(block: Block) -> int:
    return int(decode_header(BlockHeader, block.header)["block_num"])


def block_num_hex(num: int) -> str:
    """Block-list paging positions, as the validator writes them: 0x + 16 hex digits."""
    return f"0x{num:016x}"
