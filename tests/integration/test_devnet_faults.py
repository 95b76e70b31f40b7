"""The REST client, the CLI and the market reader against a devnet that
misbehaves like a loaded Sawtooth validator (`sawgrid devnet --faults`,
devnet/faults.py): batches reported INVALID that then commit, a burst of
429s, connections closed without an answer."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import BatchInvalid, RestApiError, RestClient
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.protos import market_pb2 as pb

FAULTED = re.compile(r"fault injection: batch ([0-9a-f]{16}) reported INVALID \((.*)\); it re-runs later")


def faulted(log: str) -> dict[str, str]:
    """Batch id prefix -> the message it was falsely reported INVALID with."""
    return {m.group(1): m.group(2) for m in FAULTED.finditer(log)}


def committed_batch_ids(client: RestClient) -> list[str]:
    """Committed batches, newest first, without the BlockInfo batch the validator
    injects first in each block (it is not anyone's submission)."""
    return [batch["header_signature"] for block in client.blocks() for batch in block["batches"]
            if batch["header"]["signer_public_key"] != block["header"]["signer_public_key"]]


def test_false_invalids_all_commit_and_the_state_is_right(make_devnet, signer):
    net = make_devnet(extra=("--faults", "invalid=0.3,seed=7"))
    client = RestClient(net.url)
    batches = [kv_batch(signer, f"many{i}", b"value %d" % i) for i in range(40)]
    statuses = client.submit_and_wait(batches, timeout=120)
    assert [s["status"] for s in statuses.values()] == ["COMMITTED"] * 40
    singles = [kv_batch(signer, f"one{i}", b"single %d" % i) for i in range(10)]
    for batch in singles:
        assert client.submit_and_wait([batch], timeout=60)[batch.header_signature]["status"] == "COMMITTED"
    for i in range(40):
        assert client.state(kv_address(f"many{i}")) == b"value %d" % i
    for i in range(10):
        assert client.state(kv_address(f"one{i}")) == b"single %d" % i
    ours = {b.header_signature[:16]: b.header_signature for b in batches + singles}
    hit = [ours[prefix] for prefix in faulted(net.log()) if prefix in ours]
    assert hit, "no batch was falsely reported INVALID: the fault injection did not run"
    chain = committed_batch_ids(client)
    assert all(chain.count(batch_id) == 1 for batch_id in hit)


def test_a_batch_refused_on_empty_state_then_commits(make_devnet, signer):
    """Exactly what a loaded Sawtooth 1.0.5 did: the delete read empty state,
    was rejected ("is not set"), re-ran in a later block and committed."""
    net = make_devnet(extra=("--faults", "invalid=1,hold=3"))
    client = RestClient(net.url)
    setter = kv_batch(signer, "doomed", b"here")
    client.submit_and_wait([setter], timeout=60)  # falsely INVALID first, waited out
    assert client.state(kv_address("doomed")) == b"here"
    assert setter.header_signature[:16] in faulted(net.log())

    naive = RestClient(net.url, invalid_settle=0)  # the old client: the first INVALID is final
    delete = kv_batch(signer, "doomed", delete=True)
    with pytest.raises(BatchInvalid) as info:
        naive.submit_and_wait([delete], timeout=60)
    assert info.value.messages == ["key: 'doomed' is not set"]  # the processor's word on empty state
    statuses = client.wait([delete.header_signature], timeout=60)
    assert statuses[delete.header_signature]["status"] == "COMMITTED"
    assert client.state(kv_address("doomed")) is None


def test_a_genuinely_invalid_batch_is_still_refused_with_the_processors_message(make_devnet, signer):
    net = make_devnet(extra=("--faults", "invalid=1"))
    client = RestClient(net.url)
    bad = kv_batch(signer, "never-set", delete=True)
    with pytest.raises(BatchInvalid) as info:
        client.submit_and_wait([bad], timeout=60)
    assert [s["id"] for s in info.value.statuses] == [bad.header_signature]
    assert info.value.messages == ["key: 'never-set' is not set"]
    assert bad.header_signature not in committed_batch_ids(client)
    good = kv_batch(signer, "after", b"fine")
    client.submit_and_wait([good], timeout=60)
    assert client.state(kv_address("after")) == b"fine"


def test_a_429_burst_and_dropped_connections_are_survived(make_devnet, signer):
    net = make_devnet(extra=("--faults", "burst429=4,drop=4"))
    impatient = RestClient(net.url, max_retries=0)
    with pytest.raises(RestApiError) as info:
        impatient.submit([kv_batch(signer, "impatient")])
    assert (info.value.status, info.value.code) == (429, 31)

    client = RestClient(net.url)
    batches = [kv_batch(signer, f"k{i}", b"%d" % i) for i in range(6)]
    for batch in batches:
        assert client.submit([batch]) == [batch.header_signature]
        assert client.wait([batch.header_signature], timeout=60)[batch.header_signature]["status"] == "COMMITTED"
    log = net.log()
    assert log.count("fault injection: POST /batches answered 429") == 4
    assert log.count("closed without an answer") == 4
    assert all(client.state(kv_address(f"k{i}")) == b"%d" % i for i in range(6))
    chain = committed_batch_ids(client)
    assert all(chain.count(b.header_signature) == 1 for b in batches)  # a re-post is a no-op


def test_cli_register_and_approve_succeed_against_a_faulty_devnet(make_devnet, tmp_path):
    net = make_devnet(extra=("--faults", "invalid=1,burst429=2,drop=2"))
    key_dir = tmp_path / "keys"

    def sawgrid(key: str, *args: str) -> dict:
        cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", net.url, "--key-dir", str(key_dir),
               "--key", key, *args, "--json"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and result.stderr == "", result.stderr
        return json.loads(result.stdout)

    keys.generate("alice", key_dir)
    alice = keys.public_key_of("alice", key_dir)
    assert sawgrid("alice", "participant", "register", "--name", "Alice") == {
        "public_key": alice, "name": "Alice", "status": "pending"}
    assert sawgrid("operator", "participant", "approve", alice)["status"] == "approved"

    client = RestClient(net.url)
    participant = market.MarketReader(client).participant(alice)
    assert (participant.name, participant.status) == ("Alice", pb.APPROVED)
    approve, register = committed_batch_ids(client)[:2]  # newest first
    falsely_refused = faulted(net.log())
    assert register[:16] in falsely_refused
    # the approval read empty state and was refused as a real validator would refuse it
    assert falsely_refused[approve[:16]] == "market: not initialised (no operator yet)"
