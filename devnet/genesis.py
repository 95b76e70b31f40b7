"""What devnet writes into block 0 on first start.

A real Sawtooth network gets its genesis from `sawset genesis` + `sawadm
genesis`; devnet builds the equivalent batches itself, signed by the operator
key (`operator` in the key directory, created if missing), so that Sawgrid's
families start out with that key as their system operator.

Families contribute genesis transactions by appending a function to
GENESIS_STEPS: it receives the operator signer and returns transactions.
"""
from __future__ import annotations

from typing import Callable

from sawtooth_signing import Signer

from sawgrid.clients.transactions import make_batch
from sawgrid.protos.sawtooth import Batch, Transaction

GenesisStep = Callable[[Signer], list[Transaction]]

GENESIS_STEPS: list[GenesisStep] = []


def genesis_batches(operator: Signer) -> list[Batch]:
    """One batch per genesis step (in order), all signed by the operator."""
    batches = []
    for step in GENESIS_STEPS:
        transactions = step(operator)
        if transactions:
            batches.append(make_batch(operator, transactions))
    return batches
