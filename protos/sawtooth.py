"""Sawtooth's own protocol messages, importable on Python 3.11 and protobuf 6.

Import Sawtooth messages from here, never from `sawtooth_sdk.protobuf`
directly: this module makes sure `sawgrid.processors.sdk_compat` is installed
first (it rebuilds the SDK's old generated modules for modern protobuf).
"""
from sawgrid.processors import sdk_compat

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

__all__ = [
    "Batch", "BatchHeader", "BatchList", "Block", "BlockHeader", "Transaction",
    "TransactionHeader", "StateChange", "StateChangeList", "TransactionReceipt",
    "Event", "EventFilter", "EventList", "EventSubscription", "Message",
    "client_event_pb2", "network_pb2", "processor_pb2", "state_context_pb2",
]
