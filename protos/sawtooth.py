"""Sawtooth's own protocol messages, importable on Python 3.11 and protobuf 6.

Import Sawtooth messages from here, never from `sawtooth_sdk.protobuf`
directly: this module makes sure `sawgrid.protos.sdk_compat` is installed
first (it rebuilds the SDK's old generated modules for modern protobuf).
"""
import re

from sawgrid.protos import sdk_compat

sdk_compat.install()

from sawtooth_sdk.protobuf.batch_pb2 import Batch, BatchHeader, BatchList  # noqa: E402
from sawtooth_sdk.protobuf.block_pb2 import Block, BlockHeader  # noqa: E402
from sawtooth_sdk.protobuf.transaction_pb2 import Transaction, TransactionHeader  # noqa: E402
from sawtooth_sdk.protobuf.transaction_receipt_pb2 import (  # noqa: E402
    StateChange,
    StateChangeList,
    TransactionReceipt,
)
from sawtooth_sdk.protobuf.events_pb2 import Event, EventFilter, EventList, EventSubscription  # noqa: E402
from sawtooth_sdk.protobuf.validator_pb2 import Message  # noqa: E402
from sawtooth_sdk.protobuf import (  # noqa: E402
    client_event_pb2,
    network_pb2,
    processor_pb2,
    state_context_pb2,
)

# Sawtooth's formats: a state address is 70 lowercase hex characters (a 6-char
# namespace, then the family's own layout); a signer is a compressed secp256k1
# public key in lowercase hex.
ADDRESS_LENGTH = 70
NAMESPACE_LENGTH = 6
_ADDRESS_RE = re.compile(r"^[0-9a-f]{70}$")
_PUBLIC_KEY_RE = re.compile(r"^(02|03)[0-9a-f]{64}$")


def is_address(value: object) -> bool:
    """True for a well-formed 70-hex-char lowercase address."""
    return isinstance(value, str) and bool(_ADDRESS_RE.match(value))


def is_public_key(value: object) -> bool:
    """True for a compressed secp256k1 public key in lowercase hex (66 chars)."""
    return isinstance(value, str) and bool(_PUBLIC_KEY_RE.match(value))


__all__ = [
    "ADDRESS_LENGTH", "NAMESPACE_LENGTH", "is_address", "is_public_key",
    "Batch", "BatchHeader", "BatchList", "Block", "BlockHeader", "Transaction",
    "TransactionHeader", "StateChange", "StateChangeList", "TransactionReceipt",
    "Event", "EventFilter", "EventList", "EventSubscription", "Message",
    "client_event_pb2", "network_pb2", "processor_pb2", "state_context_pb2",
]
