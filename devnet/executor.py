"""Runs a batch's transactions, in order, through the registered processors.

A batch is atomic: its writes are kept only if every transaction is valid.
A batch whose family has no registered processor, whose processor vanished
mid-way, or that a processor answered with INTERNAL_ERROR is *deferred*: it
stays PENDING and is tried again in a later block, as on a Sawtooth validator
(which retries internal errors forever).
"""
from __future__ import annotations

import concurrent.futures
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sawgrid.devnet.component import ComponentServer, ProcessorGone
from sawgrid.devnet.context import ExecutionContext
from sawgrid.devnet.ledger_api import InvalidTxn
from sawgrid.protos.receipts import transaction_receipt
from sawgrid.protos.sawtooth import (
    Batch,
    TransactionHeader,
    TransactionReceipt,
    processor_pb2,
)

LOG = logging.getLogger("sawgrid.devnet.executor")

PROCESS_TIMEOUT = 60.0  # seconds a processor may take for one transaction

VALID = "valid"
INVALID = "invalid"
DEFERRED = "deferred"


@dataclass
class BatchOutcome:
    status: str  # VALID | INVALID | DEFERRED
    writes: dict[str, bytes | None] = field(default_factory=dict)
    receipts: list[TransactionReceipt] = field(default_factory=list)
    invalid: InvalidTxn | None = None
    reason: str = ""  # why a batch was deferred (for logs)


class Executor:
    def __init__(self, server: ComponentServer) -> None:
        self._server = server
        self._contexts: dict[str, ExecutionContext] = {}
        self._lock = threading.Lock()

    def context(self, context_id: str) -> ExecutionContext | None:
        """Lookup used by the component server for TP_STATE_* calls."""
        return self._contexts.get(context_id)

    def registered_families(self) -> frozenset[tuple[str, str]]:
        """(family name, version) of every registered processor, right now."""
        return frozenset(self._server.registered())

    def missing_processors(self, headers: Sequence[TransactionHeader]) -> list[str]:
        """Family versions in `headers` that have no registered processor."""
        missing = []
        for header in headers:
            if self._server.processor_for(header.family_name, header.family_version) is None:
                name = f"{header.family_name} {header.family_version}"
                if name not in missing:
                    missing.append(name)
        return missing

    def execute_batch(
        self,
        batch: Batch,
        headers: Sequence[TransactionHeader],
        read_below: Callable[[str], bytes | None],
    ) -> BatchOutcome:
        """Apply `batch` on top of `read_below` (the block-so-far view)."""
        missing = self.missing_processors(headers)
        if missing:
            return BatchOutcome(DEFERRED, reason="no processor for " + ", ".join(missing))
        batch_writes: dict[str, bytes | None] = {}

        def read(address: str) -> bytes | None:
            if address in batch_writes:
                return batch_writes[address]
            return read_below(address)

        receipts = []
        for txn, header in zip(batch.transactions, headers):
            processor = self._server.processor_for(header.family_name, header.family_version)
            if processor is None:
                return BatchOutcome(DEFERRED, reason=f"no processor for {header.family_name} {header.family_version}")
            context_id = secrets.token_hex(16)
            context = ExecutionContext(context_id, list(header.inputs), list(header.outputs), read)
            self._contexts[context_id] = context
            try:
                request = processor_pb2.TpProcessRequest(
                    header=header, payload=txn.payload, signature=txn.header_signature, context_id=context_id
                )
                try:
                    response = self._server.process(processor, request).result(PROCESS_TIMEOUT)
                except ProcessorGone as gone:
                    return BatchOutcome(DEFERRED, reason=f"processor for {header.family_name} went away ({gone})")
                except concurrent.futures.TimeoutError:
                    return BatchOutcome(DEFERRED, reason=f"processor for {header.family_name} timed out")
            finally:
                del self._contexts[context_id]
            status = response.status
            if status == processor_pb2.TpProcessResponse.OK:
                batch_writes.update(context.writes)
                receipts.append(transaction_receipt(txn.header_signature, context.writes, context.events, context.receipt_data))
            elif status == processor_pb2.TpProcessResponse.INVALID_TRANSACTION:
                return BatchOutcome(
                    INVALID,
                    invalid=InvalidTxn(txn.header_signature, response.message, response.extended_data),
                )
            else:
                LOG.warning("transaction %s: processor internal error, will retry: %s",
                            txn.header_signature[:16], response.message)
                return BatchOutcome(DEFERRED, reason=f"internal error: {response.message}")
        return BatchOutcome(VALID, writes=batch_writes, receipts=receipts)
