"""devnet's pending queue against hostile and unlucky submissions, on the real
ledger (Store, Ledger, publisher thread) with a scripted executor
(tests/inproc_devnet.py): batches that can never run do not halt the chain
and are eventually reported, transaction dependencies are honoured, and the
queue's limits hold. No assert here measures speed: waits are bounded by
deadlines only."""
from __future__ import annotations

import pytest

from inproc_devnet import FAMILY, VERSION, InProcDevnet, ScriptedExecutor, address, batch, new_signer, one, txn
from sawgrid.devnet import ledger as ledger_module
from sawgrid.devnet.ledger_api import COMMITTED, INVALID, PENDING, QueueFull, SubmitRejected

NOBODY = "no-such-family"


@pytest.fixture
def net(tmp_path):
    with InProcDevnet(tmp_path / "data") as running:
        yield running


def stranded(signer, n: int, family: str = NOBODY) -> list:
    """n batches of a family no processor serves."""
    return [one(signer, key=f"stranded{i}", family=family) for i in range(n)]


# -- never-runnable batches ----------------------------------------------------
def test_a_flood_of_batches_no_processor_serves_does_not_halt_the_chain(net):
    flood = stranded(new_signer(), 250)  # more than two blocks' worth (max_batches 100)
    net.ledger.submit(flood)
    signer = new_signer()
    valid = [one(signer, b"set v%d" % i, key=f"behind{i}") for i in range(5)]
    net.ledger.submit(valid)
    assert net.wait(valid, timeout=30) == [COMMITTED] * 5
    assert net.ledger.state_get(address("behind4"))[0] == b"v4"
    assert net.wait(flood[:3], timeout=0) == [PENDING] * 3  # they stay queued, just not in the way


def test_a_flood_of_internal_errors_does_not_halt_the_chain(net):
    failing = [one(new_signer(), b"internal", key=f"ie{i}") for i in range(250)]
    net.ledger.submit(failing)
    valid = one(new_signer(), b"set ok", key="after-errors")
    net.ledger.submit([valid])
    assert net.wait([valid], timeout=30) == [COMMITTED]
    assert net.status(failing[0].header_signature) == PENDING  # retried, as Sawtooth retries them


def test_a_batch_no_processor_registers_for_is_invalid_after_the_timeout(tmp_path):
    with InProcDevnet(tmp_path / "data", unrunnable_timeout=0.5) as net:
        doomed = one(new_signer(), family=NOBODY, version="2.1")
        net.ledger.submit([doomed])
        (status,) = net.ledger.wait_for_batches([doomed.header_signature], 30)
        assert status.status == INVALID
        (bad,) = status.invalid_transactions
        assert bad.id == doomed.transactions[0].header_signature
        assert bad.message == f"no transaction processor for family {NOBODY} version 2.1 registered within 0.5 s"
        assert net.block_of(doomed) is None


def test_no_batch_is_evicted_while_no_processor_at_all_is_connected(tmp_path):
    """`sawgrid devnet` without processors queues the families' setup batches;
    they must still commit when a processor registers minutes later."""
    executor = ScriptedExecutor(families=())
    with InProcDevnet(tmp_path / "data", executor=executor, unrunnable_timeout=0.2) as net:
        setup = one(new_signer(), b"set configured", key="setup")
        net.ledger.submit([setup])
        assert net.status(setup.header_signature, wait=1.0) == PENDING
        with executor.lock:
            executor.families.add((FAMILY, VERSION))
        assert net.wait([setup], timeout=30) == [COMMITTED]


def test_a_resubmitted_evicted_batch_is_queued_again(tmp_path):
    executor = ScriptedExecutor()
    with InProcDevnet(tmp_path / "data", executor=executor, unrunnable_timeout=0.3) as net:
        late = one(new_signer(), b"set late", family="late-family")
        net.ledger.submit([late])
        assert net.wait([late], timeout=30) == [INVALID]
        with executor.lock:
            executor.families.add(("late-family", VERSION))
        net.ledger.submit([late])
        assert net.wait([late], timeout=30) == [COMMITTED]


# -- status against the head ----------------------------------------------------
def test_a_batch_reads_committed_only_once_the_head_state_has_its_writes(net):
    """A client that sees COMMITTED reads state at the head next (sawgrid simulate builds each
    hour's readings from the Positions its orders round wrote). The publisher writes a block to
    the store before it moves the head: asked in between, the batch must still be PENDING, or
    the client reads the state from before it (the simulation then declared a Position's
    contracts without the one its orders had just added: 'unauthorized address')."""
    seen: list[tuple[str, bytes | None]] = []
    commit_block = net.store.commit_block
    probe = one(new_signer(), b"set fresh", key="probe")

    def commit_then_ask(block, *args, **kwargs):
        commit_block(block, *args, **kwargs)
        if any(b.header_signature == probe.header_signature for b in block.batches):
            (status,) = net.ledger.batch_statuses([probe.header_signature])
            seen.append((status.status, net.ledger.state_get(address("probe"))[0]))

    net.store.commit_block = commit_then_ask
    net.ledger.submit([probe])
    assert net.wait([probe], timeout=30) == [COMMITTED]
    assert net.ledger.state_get(address("probe"))[0] == b"fresh"
    (asked,) = seen  # asked once, between the store's commit and the head's move
    assert asked == (PENDING, None)


# -- dependencies ------------------------------------------------------------
def test_a_dependency_on_a_transaction_never_submitted_waits(net):
    signer = new_signer()
    missing = txn(signer, b"set dep", key="dep")  # signed, never submitted (yet)
    dependent = one(signer, b"set dependent", key="dependent", dependencies=[missing.header_signature])
    net.ledger.submit([dependent])
    bystander = one(signer, b"set bystander", key="bystander")
    net.ledger.submit([bystander])
    assert net.wait([bystander], timeout=30) == [COMMITTED]
    assert net.status(dependent.header_signature, wait=0.5) == PENDING
    assert net.ledger.state_get(address("dependent"))[0] is None
    net.ledger.submit([batch(signer, [missing])])  # now the dependency arrives
    assert net.wait([dependent], timeout=30) == [COMMITTED]
    assert net.position(dependent) > net.store.transaction_location(missing.header_signature)[:2]


def test_a_dependency_on_an_invalid_transaction_makes_the_batch_invalid(net):
    signer = new_signer()
    bad = one(signer, b"invalid", key="bad")
    net.ledger.submit([bad])
    assert net.wait([bad], timeout=30) == [INVALID]
    bad_txn = bad.transactions[0].header_signature
    dependent = one(signer, b"set never", key="never", dependencies=[bad_txn])
    net.ledger.submit([dependent])
    (status,) = net.ledger.wait_for_batches([dependent.header_signature], 30)
    assert status.status == INVALID
    assert status.invalid_transactions[0].id == dependent.transactions[0].header_signature
    assert bad_txn in status.invalid_transactions[0].message
    assert net.ledger.state_get(address("never"))[0] is None


def test_a_dependency_that_turns_invalid_later_invalidates_the_waiting_batch(net):
    signer = new_signer()
    first = txn(signer, b"invalid", key="first")
    dependent = one(signer, b"set x", key="second", dependencies=[first.header_signature])
    net.ledger.submit([dependent, batch(signer, [first])])  # the dependent is queued first
    assert net.wait([dependent], timeout=30) == [INVALID]


def test_dependencies_on_committed_and_same_block_transactions_are_satisfied(net):
    signer = new_signer()
    earlier = one(signer, b"set 1", key="earlier")
    net.ledger.submit([earlier])
    assert net.wait([earlier], timeout=30) == [COMMITTED]
    on_committed = one(signer, b"set 2", key="on-committed", dependencies=[earlier.transactions[0].header_signature])
    head = txn(signer, b"set 3", key="head")
    first = batch(signer, [head])
    on_same_block = one(signer, b"set 4", key="on-same-block", dependencies=[head.header_signature])
    net.ledger.submit([on_committed, first, on_same_block])
    assert net.wait([on_committed, first, on_same_block], timeout=30) == [COMMITTED] * 3
    assert net.block_of(first) == net.block_of(on_same_block)  # in one block, in order
    assert net.position(first) < net.position(on_same_block)


def test_a_dependency_queued_behind_its_dependent_commits_first(net):
    signer = new_signer()
    head = txn(signer, b"set a", key="a")
    dependent = one(signer, b"set b", key="b", dependencies=[head.header_signature])
    net.ledger.submit([dependent, batch(signer, [head])])
    assert net.wait([dependent], timeout=30) == [COMMITTED]
    assert net.store.transaction_location(head.header_signature)[:2] < net.position(dependent)


def test_dependencies_inside_one_batch_follow_the_transaction_order(net):
    signer = new_signer()
    a = txn(signer, b"set a", key="in-a")
    b = txn(signer, b"set b", key="in-b", dependencies=[a.header_signature])
    ordered = batch(signer, [a, b])
    later = txn(signer, b"set c", key="in-c")
    before_its_dependency = txn(signer, b"set d", key="in-d", dependencies=[later.header_signature])
    reversed_ = batch(signer, [before_its_dependency, later])
    net.ledger.submit([ordered, reversed_])
    assert net.wait([ordered, reversed_], timeout=30) == [COMMITTED, INVALID]
    (status,) = net.ledger.batch_statuses([reversed_.header_signature])
    assert status.invalid_transactions[0].id == before_its_dependency.header_signature
    assert later.header_signature in status.invalid_transactions[0].message


def test_a_dependency_never_submitted_is_reported_after_the_timeout(tmp_path):
    with InProcDevnet(tmp_path / "data", unrunnable_timeout=0.5) as net:
        signer = new_signer()
        ghost = txn(signer, key="ghost").header_signature
        dependent = one(signer, key="waits", dependencies=[ghost])
        net.ledger.submit([dependent])
        (status,) = net.ledger.wait_for_batches([dependent.header_signature], 30)
        assert status.status == INVALID
        assert status.invalid_transactions[0].message == (
            f"dependency {ghost} was not committed within 0.5 s")


def test_the_same_batch_twice_in_one_submission_is_queued_once(net):
    twice = one(new_signer(), b"set once", key="twice")
    net.ledger.submit([twice, twice])
    assert net.wait([twice], timeout=30) == [COMMITTED]
    assert net.ledger.pending_count() == 0


# -- limits ------------------------------------------------------------------
def test_a_batch_with_too_many_transactions_is_refused(net):
    signer = new_signer()
    cap = ledger_module.MAX_BATCH_TRANSACTIONS
    with pytest.raises(SubmitRejected, match=f"{cap + 1} transactions; at most {cap}"):
        net.ledger.submit([batch(signer, [txn(signer, key=f"t{i}") for i in range(cap + 1)])])
    full = batch(signer, [txn(signer, b"set %d" % i, key=f"t{i}") for i in range(cap)])
    net.ledger.submit([full])
    assert net.wait([full], timeout=30) == [COMMITTED]


def test_one_signer_cannot_take_all_the_queue(tmp_path):
    executor = ScriptedExecutor(families=())  # nothing runs: everything stays queued
    with InProcDevnet(tmp_path / "data", executor=executor, max_pending_per_signer=3) as net:
        greedy = new_signer()
        net.ledger.submit(stranded(greedy, 2))
        with pytest.raises(QueueFull, match="at most 3 per signer"):
            net.ledger.submit(stranded(greedy, 2))  # 4 > 3: nothing of it is queued
        net.ledger.submit(stranded(greedy, 1))
        with pytest.raises(QueueFull):
            net.ledger.submit(stranded(greedy, 1))
        other = stranded(new_signer(), 3)
        net.ledger.submit(other)  # others still get in
        assert net.wait(other, timeout=0) == [PENDING] * 3
        assert net.ledger.pending_count() == 6
