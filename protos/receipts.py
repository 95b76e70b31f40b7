"""The TransactionReceipt of an applied transaction, built one way for every
ledger that runs Sawgrid's handlers (devnet's executor, the in-process ledger):
state changes in address order, then the events and receipt data the handler
added, in the order it added them."""
from __future__ import annotations

from typing import Mapping, Sequence

from sawgrid.protos.sawtooth import Event, StateChange, TransactionReceipt


def transaction_receipt(txn_id: str, writes: Mapping[str, bytes | None], events: Sequence[Event],
                        data: Sequence[bytes]) -> TransactionReceipt:
    """`writes` maps address -> new data, or None for a deletion."""
    changes = [
        StateChange(address=a, type=StateChange.DELETE) if writes[a] is None
        else StateChange(address=a, value=writes[a], type=StateChange.SET)
        for a in sorted(writes)
    ]
    return TransactionReceipt(transaction_id=txn_id, state_changes=changes, events=events, data=data)
