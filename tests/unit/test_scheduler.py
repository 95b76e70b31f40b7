"""The block scheduler runs batches concurrently only where the result equals
running them one by one in queue order."""
from __future__ import annotations

import concurrent.futures
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sawgrid.devnet.executor import DEFERRED, INVALID, VALID, BatchOutcome
from sawgrid.devnet.ledger_api import InvalidTxn
from sawgrid.devnet.scheduler import Access, run_block
from sawgrid.protos.sawtooth import Batch, TransactionHeader
from budget import examples

ADDRS = ["aa" + c * 68 for c in "0123"]


def _batch(i: int, reads: list[str], writes: list[str]):
    header = TransactionHeader(inputs=reads + writes, outputs=writes, family_name="f", family_version="1")
    return Batch(header_signature=f"{i:0128x}"), [header]


def _executor(specs, state, seed: int):
    """Each batch reads its inputs and writes (batch index, sum of what it read)."""
    rng = random.Random(seed)
    fate = {f"{i:0128x}": spec[2] for i, spec in enumerate(specs)}

    def execute(batch, headers):
        h = headers[0]
        seen = sum(state[a] for a in h.inputs)
        time.sleep(rng.random() * 0.002)  # shuffle completion order
        writes = {a: seen * 31 + int(batch.header_signature, 16) + 1 for a in h.outputs}
        status = fate[batch.header_signature]
        return BatchOutcome(status, writes=writes if status == VALID else {},
                            invalid=InvalidTxn("t", "no") if status == INVALID else None)
    return execute


def _simulate(specs, parallel: bool, seed: int, max_valid: int | None = None, depends_on=None):
    state: dict[str, int] = {a: 0 for a in ADDRS}
    candidates = [_batch(i, spec[0], spec[1]) for i, spec in enumerate(specs)]
    execute = _executor(specs, state, seed)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = run_block(candidates, execute, pool, max_valid=max_valid or len(specs),
                             parallelism=8 if parallel else 1, on_valid=lambda o: state.update(o.writes),
                             depends_on=depends_on)
    return state, [o.status if o else None for o in outcomes]


def _one_by_one(specs, max_valid: int, depends_on):
    """The block as a plain loop builds it: in order, each batch on the state
    the ones before it left, skipped when a batch it depends on is not valid,
    until `max_valid` are valid. The oracle the scheduler must equal."""
    state: dict[str, int] = {a: 0 for a in ADDRS}
    execute = _executor(specs, state, 0)
    statuses: list[str | None] = []
    for j, spec in enumerate(specs):
        if statuses.count(VALID) >= max_valid or any(statuses[i] != VALID for i in depends_on[j]):
            statuses.append(None)
            continue
        batch, headers = _batch(j, spec[0], spec[1])
        outcome = execute(batch, headers)
        if outcome.status == VALID:
            state.update(outcome.writes)
        statuses.append(outcome.status)
    return state, statuses


spec = st.tuples(
    st.lists(st.sampled_from(ADDRS), max_size=2, unique=True),
    st.lists(st.sampled_from(ADDRS), max_size=2, unique=True),
    st.sampled_from([VALID, VALID, VALID, INVALID, DEFERRED]),
)


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(spec, min_size=1, max_size=12), st.integers(0, 1000))
def test_concurrent_block_equals_serial_block(specs, seed):
    assert _simulate(specs, parallel=True, seed=seed) == _simulate(specs, parallel=False, seed=seed)


@st.composite
def specs_with_dependencies(draw):
    specs = draw(st.lists(spec, min_size=1, max_size=12))
    depends_on = [sorted(draw(st.sets(st.integers(0, j - 1), max_size=2))) if j else [] for j in range(len(specs))]
    return specs, depends_on


@settings(max_examples=examples(40), deadline=None)
@given(specs_with_dependencies(), st.integers(1, 12), st.integers(0, 1000))
def test_a_block_with_dependencies_equals_the_one_by_one_block(specs_deps, max_valid, seed):
    specs, depends_on = specs_deps
    assert _simulate(specs, parallel=True, seed=seed, max_valid=max_valid, depends_on=depends_on) == \
        _one_by_one(specs, max_valid, depends_on)


def test_a_batch_whose_dependency_is_not_valid_is_left_out():
    specs = [([], [ADDRS[0]], INVALID), ([], [ADDRS[1]], VALID), ([], [ADDRS[2]], VALID), ([], [ADDRS[3]], VALID)]
    _, statuses = _simulate(specs, parallel=True, seed=3, depends_on=[[], [0], [1], []])
    assert statuses == [INVALID, None, None, VALID]  # 1 needs 0; 2 needs 1, which did not run


def test_dependencies_must_point_backwards():
    candidates = [_batch(i, [], [ADDRS[i]]) for i in range(2)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for bad in ([[1], []], [[0], []], [[]]):
            with pytest.raises(ValueError):
                run_block(candidates, lambda b, h: BatchOutcome(VALID), pool, max_valid=2, parallelism=2,
                          on_valid=lambda o: None, depends_on=bad)


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
