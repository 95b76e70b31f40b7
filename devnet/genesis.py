"""What devnet sets up on a chain: block 0, then the setup batches it is given.

A real Sawtooth network gets its genesis from `sawset genesis` + `sawadm
genesis`, and its first block waits for the processors it needs. Devnet
commits an empty block 0 at once instead. Each setup step it is configured
with (`DevnetConfig.setup_steps`) is then queued as an ordinary batch, on
every start, for as long as its effect is missing from state. It stays
PENDING until its family's processor registers and does not hold up other
batches. A restart before that happened simply queues it again.

Devnet knows no family: the application that starts it (`sawgrid devnet`)
turns the families' genesis steps (processors/registry.py) into `SetupStep`s
signed by the operator key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from sawgrid.protos.sawtooth import Batch

StateReader = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class SetupStep:
    """One setup batch: `needed(read)` is True while its effect is missing."""

    name: str
    needed: Callable[[StateReader], bool]
    batch: Callable[[], Batch]


def pending_steps(steps: Iterable[SetupStep], read: StateReader) -> list[SetupStep]:
    """The setup steps whose effect is not in state yet."""
    return [step for step in steps if step.needed(read)]
