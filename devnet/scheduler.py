"""Runs the batches of one block concurrently where that cannot change the result.

Like Sawtooth's parallel scheduler, it judges conflicts from the transaction
headers' declared inputs and outputs (address prefixes): batch j may start
once no *earlier* batch that is still unfinished writes what j reads or
writes, or reads what j writes. The block is then equal to running its
batches one by one in queue order, whatever order they finish in, while the
processors always have work waiting instead of idling through each ZMQ round
trip. Within a batch, transactions still run strictly in order.

A batch may also depend on earlier batches of the same block (its
transactions' `dependencies` name theirs): it starts only once those are
valid, and is left out of the block when one of them is not, as it would be
left out when running the batches one by one.
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


class _Conflicts:
    """`Access.conflicts_with` between one block's candidates, by set lookups.

    p and q overlap (one starts with the other) exactly when the shorter one
    equals the longer one cut to its length. Every length declared in the
    block is known, so each candidate's prefixes cut to each of those lengths
    are computed once; an overlap test is then a few set lookups instead of a
    `startswith` per pair of prefixes, and each pair of candidates is judged
    once per block (the relation is symmetric), not once per scheduling pass.
    A market order declares a dozen prefixes, so the pairwise rule cost more
    than the rest of the scheduling."""

    def __init__(self, accesses: Sequence[Access]) -> None:
        lengths = sorted({len(p) for a in accesses for p in a.reads + a.writes})

        def cut(prefixes: tuple[str, ...]) -> frozenset[str]:
            return frozenset(p[:n] for p in prefixes for n in lengths if n <= len(p))

        self._reads = [a.reads for a in accesses]
        self._writes = [a.writes for a in accesses]
        self._cut_reads = [cut(a.reads) for a in accesses]
        self._cut_writes = [cut(a.writes) for a in accesses]
        self._known: dict[tuple[int, int], bool] = {}

    def _overlap(self, i: int, i_writes: bool, j: int, j_writes: bool) -> bool:
        a = self._writes[i] if i_writes else self._reads[i]
        b = self._writes[j] if j_writes else self._reads[j]
        cut_a = self._cut_writes[i] if i_writes else self._cut_reads[i]
        cut_b = self._cut_writes[j] if j_writes else self._cut_reads[j]
        return any(q in cut_a for q in b) or any(p in cut_b for p in a)

    def between(self, i: int, j: int) -> bool:
        """access[i].conflicts_with(access[j]) (== access[j].conflicts_with(access[i]))."""
        key = (i, j) if i < j else (j, i)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = (self._overlap(i, True, j, False) or self._overlap(i, True, j, True)
                                        or self._overlap(j, True, i, False))
        return known


Execute = Callable[[Batch, Sequence[TransactionHeader]], BatchOutcome]


def run_block(
    candidates: Sequence[tuple[Batch, Sequence[TransactionHeader]]],
    execute: Execute,
    pool: concurrent.futures.Executor,
    max_valid: int,
    parallelism: int,
    on_valid: Callable[[BatchOutcome], None],
    depends_on: Sequence[Sequence[int]] | None = None,
) -> list[BatchOutcome | None]:
    """Execute `candidates` (queue order) until `max_valid` are valid.

    `depends_on[j]` lists the indices (all below j) of the candidates that
    must be valid before candidate j may run; if one of them is not, j is not
    run. `on_valid` is called as each valid batch finishes, before any batch
    that conflicts with it or depends on it starts, so it can make the
    batch's writes visible. Returns one outcome per candidate, in order; None
    for those not run.
    """
    n = len(candidates)
    needs = [tuple(d) for d in depends_on] if depends_on is not None else [()] * n
    if len(needs) != n or any(i >= j for j, d in enumerate(needs) for i in d):
        raise ValueError("depends_on must name earlier candidates, one entry per candidate")
    conflicts = _Conflicts([Access.of(headers) for _, headers in candidates])
    outcomes: list[BatchOutcome | None] = [None] * n
    started = [False] * n  # started, or left out for good
    left_out = [False] * n  # a batch it depends on was not valid
    running: dict[concurrent.futures.Future, int] = {}
    unfinished: list[int] = []  # indices of running batches (blocked ones are tracked per pass)
    first_open = 0  # every index below it has started
    valid = 0

    def failed(i: int) -> bool:
        outcome = outcomes[i]
        return left_out[i] or (outcome is not None and outcome.status != VALID)

    while True:
        blocked: list[int] = []
        for j in range(first_open, n):
            if started[j]:
                continue
            # an earlier blocked batch keeps its place: a later one must not take the block's last slot
            if valid + len(running) + len(blocked) >= max_valid or len(running) >= parallelism:
                break
            if any(failed(i) for i in needs[j]):
                started[j] = left_out[j] = True  # serially, it would not run either
                continue
            if any(outcomes[i] is None for i in needs[j]):
                blocked.append(j)  # a batch it depends on is still running or blocked
                continue
            earlier = [i for i in unfinished if i < j] + blocked
            if any(conflicts.between(j, i) for i in earlier):
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
