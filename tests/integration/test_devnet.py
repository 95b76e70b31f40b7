"""devnet end to end: a real `sawgrid devnet` process, a real processor
process over ZMQ, driven through Sawtooth's REST API with the RestClient."""
from __future__ import annotations

import signal
import time

import pytest

import proc_tree
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import BatchInvalid, RestClient, RestError
from sawgrid.protos.envelopes import batch_list_bytes, make_batch, make_transaction
from sawgrid.processors.kv.addresses import KV, kv_address
from sawgrid.processors.registry import genesis_steps

from sawgrid.protos.sawtooth import BlockHeader


def test_batches_commit_and_state_reads_back(devnet, signer):
    client = RestClient(devnet.url)
    batches = [kv_batch(signer, f"key{i}", b"value%d" % i) for i in range(30)]
    ids = client.submit(batches)
    statuses = client.wait(ids, timeout=30)
    assert all(statuses[i]["status"] == "COMMITTED" for i in ids)
    assert client.state(kv_address("key7")) == b"value7"
    assert client.state(kv_address("never-set")) is None
    # a prefix query returns one kind of record, following REST paging
    entries = dict(client.state_prefix(KV.prefix("00")))
    assert len(entries) == 30 and entries[kv_address("key29")] == b"value29"


def test_blocks_chain_up_and_carry_state_roots(devnet, signer):
    client = RestClient(devnet.url)
    client.submit_and_wait([kv_batch(signer, "a")], timeout=30)
    blocks = list(client.blocks())
    nums = [int(b["header"]["block_num"]) for b in blocks]
    assert nums == sorted(nums, reverse=True) and nums[-1] == 0
    for newer, older in zip(blocks, blocks[1:]):
        assert newer["header"]["previous_block_id"] == older["header_signature"]
        assert len(newer["header"]["state_root_hash"]) == 64
    assert client.block(blocks[0]["header_signature"])["header_signature"] == blocks[0]["header_signature"]


def test_batch_transaction_and_receipt_lookup(devnet, signer):
    client = RestClient(devnet.url)
    batch = kv_batch(signer, "r", b"data")
    client.submit_and_wait([batch], timeout=30)
    txn_id = batch.transactions[0].header_signature
    assert client.batch(batch.header_signature)["header_signature"] == batch.header_signature
    assert client.transaction(txn_id)["header_signature"] == txn_id
    (receipt,) = client.receipts([txn_id])
    assert receipt["id"] == txn_id
    assert [c["address"] for c in receipt["state_changes"]] == [kv_address("r")]


def test_invalid_transaction_reports_why_and_changes_nothing(devnet, signer):
    client = RestClient(devnet.url)
    bad = kv_batch(signer, "gone", delete=True)  # deleting a key that is not set
    with pytest.raises(BatchInvalid, match="is not set"):
        client.submit_and_wait([bad], timeout=30)
    garbage = kv_batch(signer, "x", payload=b"\xff\x01garbage")
    with pytest.raises(BatchInvalid, match="payload"):
        client.submit_and_wait([garbage], timeout=30)
    assert client.state(kv_address("x")) is None


def test_batch_is_atomic(devnet, signer):
    client = RestClient(devnet.url)
    good = kv_batch(signer, "atomic-1").transactions[0]
    bad = kv_batch(signer, "atomic-2", delete=True).transactions[0]
    with pytest.raises(BatchInvalid):
        client.submit_and_wait([make_batch(signer, [good, bad])], timeout=30)
    assert client.state(kv_address("atomic-1")) is None


def test_bad_submissions_get_400_and_devnet_keeps_running(devnet, signer):
    client = RestClient(devnet.url)
    with pytest.raises(RestError, match="400"):
        client.submit(b"\x00\x01 not a batch list")
    tampered = kv_batch(signer, "t")
    tampered.transactions[0].payload = b"other"
    with pytest.raises(RestError, match="400"):
        client.submit([tampered])
    batch = kv_batch(signer, "dup")
    client.submit_and_wait([batch], timeout=30)
    # a different batch that carries an already committed transaction
    duplicate_txn = make_batch(signer, [kv_batch(signer, "new").transactions[0], batch.transactions[0]])
    with pytest.raises(RestError, match="duplicate"):
        client.submit([duplicate_txn])
    # resubmitting the very same batch is harmless (clients retry)
    assert client.submit([batch]) == [batch.header_signature]
    assert client.wait([batch.header_signature], timeout=5)[batch.header_signature]["status"] == "COMMITTED"
    client.submit_and_wait([kv_batch(signer, "still-alive")], timeout=30)


def test_unknown_family_stays_pending(devnet, signer):
    client = RestClient(devnet.url)
    address = KV.namespace + "ff" + "0" * 62
    txn = make_transaction(signer, "no-such-family", "1.0", b"", [address], [address])
    (batch_id,) = client.submit([make_batch(signer, [txn])])
    assert client.wait([batch_id], timeout=1.5)[batch_id]["status"] == "PENDING"
    # and it does not hold up batches behind it
    client.submit_and_wait([kv_batch(signer, "behind")], timeout=30)
    assert client.wait([batch_id], timeout=0)[batch_id]["status"] == "PENDING"


def test_full_queue_answers_429(make_devnet, signer):
    # no processor: everything stays pending, the families' setup batches too
    # (one per family with a genesis step), so the queue holds those plus ours
    setup = len(genesis_steps())
    net = make_devnet(processors=False, extra=("--queue-size", str(setup + 3)))
    client = RestClient(net.url, max_retries=0)
    accepted = []
    with pytest.raises(RestError, match="429"):
        for i in range(4):
            accepted += client.submit([kv_batch(signer, f"q{i}")])
    assert len(accepted) == 3
    assert all(s["status"] == "PENDING" for s in client.wait(accepted, timeout=0).values())


def test_state_survives_kill_9(make_devnet, signer, tmp_path):
    net = make_devnet(processors=True)
    client = RestClient(net.url)
    client.submit_and_wait([kv_batch(signer, f"p{i}", b"%d" % i) for i in range(10)], timeout=30)
    head = client.head_id()
    children = proc_tree.descendants(net.proc.pid)
    net.stop(signal.SIGKILL)
    # its processor child goes with it (PDEATHSIG; tests/integration/test_processes.py
    # checks that); whatever would not is not left running
    proc_tree.kill(proc_tree.wait_gone(children, 15))
    again = make_devnet(processors=True, data_dir=net.data_dir)
    client = RestClient(again.url)
    assert client.head_id() == head
    assert client.state(kv_address("p9")) == b"9"
    client.submit_and_wait([kv_batch(signer, "after-restart")], timeout=30)
    assert int(client.block(client.head_id())["header"]["block_num"]) > 0


def test_sigterm_stops_cleanly(make_devnet):
    net = make_devnet(processors=True)
    assert net.stop(signal.SIGTERM) == 0
    assert "devnet stopped" in net.log()


def test_processor_that_disconnects_and_comes_back(make_devnet, signer):
    import subprocess
    import sys

    net = make_devnet(processors=False)
    client = RestClient(net.url)
    tp_cmd = [sys.executable, "-m", "sawgrid.processors", "kv", "--connect", net.component]
    tp = subprocess.Popen(tp_cmd)
    try:
        client.submit_and_wait([kv_batch(signer, "before")], timeout=30)
        tp.kill()
        tp.wait()
        (pending,) = client.submit([kv_batch(signer, "while-away")])
        assert client.wait([pending], timeout=2)[pending]["status"] == "PENDING"
        tp = subprocess.Popen(tp_cmd)
        assert client.wait([pending], timeout=30)[pending]["status"] == "COMMITTED"
        assert client.state(kv_address("while-away")) == b"x"
    finally:
        tp.kill()
        tp.wait()
