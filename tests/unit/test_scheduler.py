"""The block scheduler runs batches concurrently only where the result equals
running them one by one in queue order."""
from __future__ import annotations

import concurrent.futures
import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from sawgrid.devnet.executor import DEFERRED, INVALID, VALID, BatchOutcome
from sawgrid.devnet.ledger_api import InvalidTxn
from sawgrid.devnet.scheduler import Access, run_block
from sawgrid.protos.sawtooth import Batch, TransactionHeader

ADDRS = ["aa" + c * 68 for c in "0123"]


def _batch(i: int, reads: list[str], writes: list[str]):
    header = TransactionHeader(inputs=reads + writes, outputs=writes, family_name="f", family_version="1")
    return Batch(header_signature=f"{i:0128x}"), [header]


def _simulate(specs, parallel: bool, seed: int):
    """Each batch reads its inputs and writes (batch index, sum of what it read)."""
    rng = random.Random(seed)
    state: dict[str, int] = {a: 0 for a in ADDRS}
    candidates = [_batch(i, r, w) for i, (r, w, _) in enumerate(specs)]
    fate = {f"{i:0128x}": f for i, (_, _, f) in enumerate(specs)}

    def execute(batch, headers):
        h = headers[0]
        seen = sum(state[a] for a in h.inputs)
        time.sleep(rng.random() * 0.002)  # shuffle completion order
        writes = {a: seen * 31 + int(batch.header_signature, 16) + 1 for a in h.outputs}
        status = fate[batch.header_signature]
        return BatchOutcome(status, writes=writes if status == VALID else {},
                            invalid=InvalidTxn("t", "no") if status == INVALID else None)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = run_block(candidates, execute, pool, max_valid=len(specs),
                             parallelism=8 if parallel else 1, on_valid=lambda o: state.update(o.writes))
    return state, [o.status if o else None for o in outcomes]


spec = st.tuples(
    st.lists(st.sampled_from(ADDRS), max_size=2, unique=True),
    st.lists(st.sampled_from(ADDRS), max_size=2, unique=True),
    st.sampled_from([VALID, VALID, VALID, INVALID, DEFERRED]),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(spec, min_size=1, max_size=12), st.integers(0, 1000))
def test_concurrent_block_equals_serial_block(specs, seed):
    assert _simulate(specs, parallel=True, seed=seed) == _simulate(specs, parallel=False, seed=seed)


def test_max_valid_bounds_the_block():
    specs = [([], [ADDRS[i % 4]], VALID) for i in range(10)]
    _, statuses = _simulate([(r, w, f) for r, w, f in specs], parallel=True, seed=1)
    assert statuses.count(VALID) == 10
    candidates = [_batch(i, [], [ADDRS[0]]) for i in range(10)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = run_block(candidates, lambda b, h: BatchOutcome(VALID), pool, max_valid=3,
                             parallelism=4, on_valid=lambda o: None)
    assert [o is not None for o in outcomes] == [True] * 3 + [False] * 7


def test_conflicts_follow_prefixes():
    reader = Access(reads=("aa00",), writes=())
    writer = Access(reads=(), writes=("aa",))
    other = Access(reads=("bb",), writes=("bb01",))
    assert reader.conflicts_with(writer) and writer.conflicts_with(reader)
    assert not reader.conflicts_with(other) and not Access(("aa",), ()).conflicts_with(reader)
