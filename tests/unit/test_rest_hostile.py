"""devnet's REST API under a hostile client, over the real ledger (Store,
Ledger, publisher) in this process (tests/inproc_devnet.py): a hypothesis
fuzzer over every route, parameter, method and body (tests/rest_fuzzing.py),
and the 500s it is there to catch, pinned."""
from __future__ import annotations

import http.client
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings

import rest_fuzzing
from inproc_devnet import InProcDevnet, address, new_signer, one
from budget import examples

FUZZ_EXAMPLES = examples(100)  # per route
FUZZ_BUDGET = 120.0  # seconds for all routes; examples after it pass without a request


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A small chain (committed, invalid and pending batches) and what the
    fuzzer knows of it. `wait=` is bounded by the API's 1 s timeout."""
    with InProcDevnet(tmp_path_factory.mktemp("hostile") / "data", rest={"timeout": 1}) as net:
        signer = new_signer()
        committed = [one(signer, b"set %d" % i, key=f"fz{i}") for i in range(6)]
        for b in committed:  # one block each: paging has blocks to walk
            net.ledger.submit([b])
            assert net.wait([b]) == ["COMMITTED"]
        invalid = one(signer, b"invalid", key="fz-bad")
        pending = one(signer, family="unserved")
        net.ledger.submit([invalid, pending])
        assert net.wait([invalid]) == ["INVALID"]
        blocks = [net.ledger.block_by_num(n) for n in range(net.ledger.head_num() + 1)]
        fresh = new_signer()
        counter = iter(range(10**9))
        target = rest_fuzzing.Target(
            block_ids=[b.header_signature for b in blocks],
            batch_ids=[b.header_signature for b in committed + [invalid]],
            txn_ids=[b.transactions[0].header_signature for b in committed + [invalid, pending]],
            addresses=[address(f"fz{i}") for i in range(6)],
            signed_batches=lambda n: [one(fresh, b"set f", key=f"fresh{next(counter)}") for _ in range(n)],
            pending_ids=[pending.header_signature],
        )
        yield net, target


def get(net: InProcDevnet, path: str, method: str = "GET", body: bytes | None = None,
        content_type: str | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", net.api.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type} if content_type else {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("query", [
    "start=0x" + "f" * 16,  # 2**64 - 1: past SQLite's INTEGER
    "start=0x" + "f" * 40,
    "start=0x8000000000000000&reverse",
    "start=0x0000000000000fff",  # a valid number past the head
    "limit=" + "9" * 30 + "&start=0x" + "f" * 20,
])
def test_block_paging_past_the_chain_is_a_bad_request(hostile, query):
    net, _ = hostile
    status, doc = get(net, f"/blocks?{query}")
    assert (status, doc["error"]["code"]) == (400, 54), doc


@pytest.mark.parametrize("start", ["0", "-1", "zz", "9" * 30, "0x" + "f" * 16])
def test_a_state_start_that_is_no_address_is_a_bad_request(hostile, start):
    """Found by the fuzzer: the trie refused the address (ValueError, a 500)."""
    net, _ = hostile
    status, doc = get(net, f"/state?start={start}")
    assert (status, doc["error"]["code"]) == (400, 54), doc


def test_huge_limits_are_clamped_not_overflowed(hostile):
    net, _ = hostile
    for path in ("/blocks", "/batches", "/transactions", "/state"):
        status, doc = get(net, f"{path}?limit={'9' * 30}")
        assert status == 200, doc
        assert doc["paging"]["limit"] == int("9" * 30)


@pytest.mark.parametrize("path, code", [("/batch_statuses", 46), ("/receipts", 82)])
def test_deeply_nested_json_on_the_real_ledger(hostile, path, code):
    net, _ = hostile
    status, doc = get(net, path, "POST", b"[" * 50_000 + b"]" * 50_000, "application/json")
    assert (status, doc["error"]["code"]) == (400, code)


def test_many_ids_in_one_status_request(hostile):
    """More ids than SQLite takes as parameters of one query (32766)."""
    net, target = hostile
    ids = target.batch_ids + ["0" * 128] * 40_000
    status, doc = get(net, "/batch_statuses", "POST", json.dumps(ids).encode(), "application/json")
    assert status == 200 and len(doc["data"]) == len(ids)
    assert doc["data"][0]["status"] == "COMMITTED" and doc["data"][-1]["status"] == "UNKNOWN"


_first_example: list[float] = []


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@pytest.mark.parametrize("route", [*rest_fuzzing.ROUTES, ""])  # "": paths that are no route
@given(data=rest_fuzzing.st.data())
def test_no_request_gets_a_5xx_or_a_traceback(hostile, route, data):
    net, target = hostile
    _first_example[:] = _first_example or [time.monotonic()]
    if time.monotonic() - _first_example[0] > FUZZ_BUDGET:
        return
    request = data.draw(rest_fuzzing.requests(target, route=route))
    status, raw, response = rest_fuzzing.send(net.api.port, request)
    rest_fuzzing.check(request, status, raw, response)


def test_the_ledger_still_commits_after_the_fuzzer(hostile):
    net, _ = hostile
    batch = one(new_signer(), b"set after", key="after-fuzz")
    net.ledger.submit([batch])
    assert net.wait([batch]) == ["COMMITTED"]
