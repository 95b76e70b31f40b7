"""A hostile client against a real `sawgrid devnet` child through its REST
API: floods of batches no processor serves, batches far over the size
limit, one signer filling the queue, hundreds of connections at once,
dependencies on transactions that never come, and the REST fuzzer
(tests/rest_fuzzing.py). Through all of it, valid batches still commit.

Bounded: fixed counts, waits bounded by deadlines (never an assert on how
fast anything went), and a deadline for each whole test (SIGALRM)."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings

import rest_fuzzing
from sawgrid.clients.sdk import keys
from deadline import deadline_fixture
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import BatchInvalid, RestApiError, RestClient
from sawgrid.processors.kv.addresses import KV, kv_address
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.protos.kv_pb2 import KvPayload
from sawgrid.protos.sawtooth import BatchList

TEST_DEADLINE = 300  # seconds for a whole test, devnet start and stop included
COMMIT_WAIT = 60  # seconds a valid batch may take to commit behind the hostile traffic
NOBODY = "no-such-family"

# The limits these tests expect devnet to enforce, written out rather than
# imported, so that loosening one in devnet fails here.
MAX_BATCH_TRANSACTIONS = 100  # devnet/ledger.py
MAX_BATCHES_PER_REQUEST = 1_000  # devnet/rest_api/routes.py
MAX_PENDING_PER_SIGNER = 2_500  # devnet/ledger.py


_deadline = deadline_fixture(TEST_DEADLINE)


def new_signer():
    return keys.signer_for(keys.new_private_key())


def kv_txn(signer, key: str, value: bytes = b"x", dependencies=()):
    address = kv_address(key)
    payload = KvPayload(action=KvPayload.SET, key=key, value=value).SerializeToString()
    return make_transaction(signer, KV.name, KV.versions[0], payload, [address], [address],
                            dependencies=dependencies)


def stranded(signer, n: int) -> list:
    """n one-transaction batches of a family no processor serves."""
    address = KV.namespace + "ff" + "0" * 62
    return [make_batch(signer, [make_transaction(signer, NOBODY, "1.0", b"%d" % i, [address], [address])])
            for i in range(n)]


def assert_still_commits(client: RestClient, label: str) -> None:
    batch = kv_batch(new_signer(), label, b"still here")
    client.submit_and_wait([batch], timeout=COMMIT_WAIT)
    assert client.state(kv_address(label)) == b"still here"


def assert_no_traceback(net) -> None:
    log = net.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 2000:][:6000]


def test_valid_batches_commit_behind_a_flood_of_batches_no_processor_serves(make_devnet):
    net = make_devnet(processors=True)
    client = RestClient(net.url, max_retries=0)
    flood = stranded(new_signer(), 200)
    assert len(client.submit(flood)) == 200  # one POST
    signer = new_signer()
    behind = [kv_batch(signer, f"behind{i}", b"%d" % i) for i in range(20)]
    statuses = client.submit_and_wait(behind, timeout=COMMIT_WAIT)
    assert [s["status"] for s in statuses.values()] == ["COMMITTED"] * 20
    assert client.state(kv_address("behind19")) == b"19"
    # the flood is still waiting for its processor (for 60 s, then INVALID), not dropped
    assert client.wait([flood[0].header_signature], timeout=0)[flood[0].header_signature]["status"] == "PENDING"
    assert_no_traceback(net)


def test_oversized_batches_and_requests_are_refused_and_commits_go_on(make_devnet):
    net = make_devnet(processors=True)
    client = RestClient(net.url, max_retries=0)
    signer = new_signer()
    huge = make_batch(signer, [kv_txn(signer, f"huge{i}") for i in range(10_000)])  # about 5 MB
    with pytest.raises(RestApiError) as info:
        client.submit([huge])
    assert (info.value.status, info.value.code) == (400, 30)
    assert f"10000 transactions; at most {MAX_BATCH_TRANSACTIONS} per batch" in info.value.detail
    too_many = [kv_batch(signer, f"many{i}") for i in range(MAX_BATCHES_PER_REQUEST + 1)]
    with pytest.raises(RestApiError) as info:   # one BatchList is one request (a list of batches would be split)
        client.submit(BatchList(batches=too_many))
    assert (info.value.status, info.value.code) == (400, 30)
    assert f"{MAX_BATCHES_PER_REQUEST + 1} batches in one request" in info.value.detail
    assert client.state(kv_address("huge0")) is None and client.state(kv_address("many0")) is None
    full = make_batch(signer, [kv_txn(signer, f"full{i}", b"%d" % i) for i in range(MAX_BATCH_TRANSACTIONS)])
    client.submit_and_wait([full], timeout=COMMIT_WAIT)
    assert client.state(kv_address(f"full{MAX_BATCH_TRANSACTIONS - 1}")) == b"%d" % (MAX_BATCH_TRANSACTIONS - 1)
    assert_still_commits(client, "after-oversized")
    assert_no_traceback(net)


def test_one_signer_cannot_fill_the_queue(make_devnet):
    net = make_devnet(processors=False)  # nothing commits: every batch stays queued
    client = RestClient(net.url, max_retries=0)
    greedy = new_signer()
    for start in range(0, MAX_PENDING_PER_SIGNER, MAX_BATCHES_PER_REQUEST):
        count = min(MAX_BATCHES_PER_REQUEST, MAX_PENDING_PER_SIGNER - start)
        assert len(client.submit(stranded(greedy, count))) == count
    with pytest.raises(RestApiError) as info:
        client.submit(stranded(greedy, 1))
    assert (info.value.status, info.value.code) == (429, 31)
    assert f"at most {MAX_PENDING_PER_SIGNER} per signer" in info.value.detail
    others = stranded(new_signer(), 5)
    assert client.submit(others) == [b.header_signature for b in others]  # others still get in
    assert_no_traceback(net)


def test_valid_batches_commit_while_hundreds_of_connections_are_open(make_devnet):
    net = make_devnet(processors=True)
    port = int(net.url.rsplit(":", 1)[1])
    socks: list[socket.socket] = []
    answers: list[bytes] = []
    try:
        for _ in range(300):  # all at once: none is answered before all are open
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        committed = threading.Thread(target=assert_still_commits, args=(RestClient(net.url), "among-crowds"))
        committed.start()
        for sock in socks:
            sock.sendall(b"GET /status HTTP/1.1\r\nHost: devnet\r\n\r\n")
        for sock in socks:
            answers.append(sock.recv(65536))
        committed.join(COMMIT_WAIT + 30)
        assert not committed.is_alive()
    finally:
        for sock in socks:
            sock.close()
    assert len(answers) == 300 and all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
    assert_still_commits(RestClient(net.url), "after-crowds")
    assert_no_traceback(net)


def test_dependencies_are_honoured_by_a_real_devnet(make_devnet):
    net = make_devnet(processors=True)
    client = RestClient(net.url, max_retries=0, invalid_settle=0)
    signer = new_signer()
    first = kv_txn(signer, "dep-first", b"1")  # not submitted yet
    second = make_batch(signer, [kv_txn(signer, "dep-second", b"2", dependencies=[first.header_signature])])
    (second_id,) = client.submit([second])
    assert_still_commits(client, "dep-bystander")
    assert client.wait([second_id], timeout=1)[second_id]["status"] == "PENDING"
    assert client.state(kv_address("dep-second")) is None
    client.submit_and_wait([make_batch(signer, [first])], timeout=COMMIT_WAIT)
    assert client.wait([second_id], timeout=COMMIT_WAIT)[second_id]["status"] == "COMMITTED"

    refused = make_batch(signer, [make_transaction(
        signer, KV.name, KV.versions[0], KvPayload(action=KvPayload.DELETE, key="never-set").SerializeToString(),
        [kv_address("never-set")], [kv_address("never-set")])])
    with pytest.raises(BatchInvalid):
        client.submit_and_wait([refused], timeout=COMMIT_WAIT)
    on_refused = make_batch(signer, [kv_txn(signer, "dep-on-refused", dependencies=[
        refused.transactions[0].header_signature])])
    with pytest.raises(BatchInvalid) as info:
        client.submit_and_wait([on_refused], timeout=COMMIT_WAIT)
    assert refused.transactions[0].header_signature in info.value.messages[0]
    assert client.state(kv_address("dep-on-refused")) is None
    assert_no_traceback(net)


FUZZ_EXAMPLES = 40  # per route, against one devnet
FUZZ_BUDGET = 150.0  # seconds for all of them; examples after it send nothing


def test_the_rest_fuzzer_against_a_real_devnet(make_devnet):
    net = make_devnet(processors=True)
    client = RestClient(net.url)
    signer = new_signer()
    committed = [kv_batch(signer, f"fz{i}", b"%d" % i) for i in range(5)]
    for batch in committed:
        client.submit_and_wait([batch], timeout=COMMIT_WAIT)
    fresh = new_signer()
    counter = iter(range(10**9))
    target = rest_fuzzing.Target(
        block_ids=[b["header_signature"] for b in client.blocks()],
        batch_ids=[b.header_signature for b in committed],
        txn_ids=[b.transactions[0].header_signature for b in committed],
        addresses=[kv_address(f"fz{i}") for i in range(5)],
        signed_batches=lambda n: [kv_batch(fresh, f"fresh{next(counter)}") for _ in range(n)],
    )
    port = int(net.url.rsplit(":", 1)[1])
    began = time.monotonic()

    for route in [*rest_fuzzing.ROUTES, ""]:
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(rest_fuzzing.requests(target, with_waits=False, route=route))
        def fuzz(request):
            if time.monotonic() - began > FUZZ_BUDGET:
                return
            status, raw, response = rest_fuzzing.send(port, request)
            rest_fuzzing.check(request, status, raw, response)

        fuzz()
    assert_still_commits(client, "after-fuzzing")
    assert_no_traceback(net)
