"""Runs the batches of one block concurrently where that cannot change the result.

Like Sawtooth's parallel scheduler, it judges conflicts from the transaction
headers' declared inputs and outputs (address prefixes): batch j may start
once no *earlier* batch that is still unfinished writes what j reads or
writes, or reads what j writes. The block is then equal to running its
batches one by one in queue order, whatever order they finish in, while the
processors always have work waiting instead of idling through each ZMQ round
trip. Within a batch, transactions still run strictly in order.
"""
from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass
from typing import Callable, Sequence

from sawgrid.devnet.executor import VALID, BatchOutcome
from sawgrid.protos.sawtooth import Batch, TransactionHeader


@dataclass(frozen=True)
class Access:
    """The address prefixes a batch may read and write."""

    reads: tuple[str, ...]
    writes: tuple[str, ...]

    @classmethod
    def of(cls, headers: Sequence[TransactionHeader]) -> "Access":
        reads = {p for h in headers for p in h.inputs}
        writes = {p for h in headers for p in h.outputs}
        return cls(tuple(sorted(reads)), tuple(sorted(writes)))

    def conflicts_with(self, other: "Access") -> bool:
        return (_overlap(self.writes, other.reads + other.writes)
                or _overlap(other.writes, self.reads))


def _overlap(prefixes: tuple[str, ...], others: tuple[str, ...]) -> bool:
    return any(p.startswith(q) or q.startswith(p) for p in prefixes for q in others)


Execute = Callable[[Batch, Sequence[TransactionHeader]], BatchOutcome]


def run_block(
    candidates: Sequence[tuple[Batch, Sequence[TransactionHeader]]],
    execute: Execute,
    pool: concurrent.futures.Executor,
    max_valid: int,
    parallelism: int,
    on_valid: Callable[[BatchOutcome], None],
) -> list[BatchOutcome | None]:
    """Execute `candidates` (queue order) until `max_valid` are valid.

    `on_valid` is called as each valid batch finishes, before any batch that
    conflicts with it starts, so it can make the batch's writes visible.
    Returns one outcome per candidate, in order; None for those not run.
    """
    n = len(candidates)
    access = [Access.of(headers) for _, headers in candidates]
    outcomes: list[BatchOutcome | None] = [None] * n
    started = [False] * n
    running: dict[concurrent.futures.Future, int] = {}
    unfinished: list[int] = []  # indices of running batches (blocked ones are tracked per pass)
    first_open = 0  # every index below it has started
    valid = 0
    while True:
        blocked: list[int] = []
        for j in range(first_open, n):
            if started[j]:
                continue
            if valid + len(running) >= max_valid or len(running) >= parallelism:
                break
            earlier = [i for i in unfinished if i < j] + blocked
            if any(access[j].conflicts_with(access[i]) for i in earlier):
                blocked.append(j)
                continue
            started[j] = True
            unfinished.append(j)  # later candidates of this pass must see it
            batch, headers = candidates[j]
            running[pool.submit(execute, batch, headers)] = j
        while first_open < n and started[first_open]:
            first_open += 1
        if not running:
            return outcomes
        done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in sorted(done, key=running.__getitem__):
            j = running.pop(future)
            outcome = future.result()
            outcomes[j] = outcome
            if outcome.status == VALID:
                valid += 1
                on_valid(outcome)
        unfinished = sorted(running.values())
