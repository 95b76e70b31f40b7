"""The REST fuzzer (tests/rest_fuzzing.py) through the gateway, in front of
devnet's real ledger in this process: whatever a hostile client sends, the
gateway answers a clear 4xx (or relays the REST API's answer), never a 5xx
or a traceback, and valid batches still commit afterwards."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings

import rest_fuzzing
from budget import examples
from inproc_devnet import FAMILY, InProcDevnet, address, new_signer, one
from sawgrid.clients.gateway.limits import Limits
from sawgrid.clients.gateway.proxy import Gateway, GatewayConfig
from sawgrid.clients.sdk.rest import RestClient

FUZZ_EXAMPLES = examples(40)  # per route
FUZZ_BUDGET = 90.0  # seconds for the whole fuzz run; examples past it are skipped


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    with InProcDevnet(tmp_path_factory.mktemp("gateway-hostile") / "data", rest={"timeout": 1}) as net:
        signer = new_signer()
        committed = [one(signer, b"set %d" % i, key=f"gz{i}") for i in range(3)]
        net.ledger.submit(committed)
        assert net.wait(committed) == ["COMMITTED"] * 3
        fresh = new_signer()
        counter = iter(range(10**9))
        target = rest_fuzzing.Target(
            block_ids=[net.ledger.block_by_num(n).header_signature for n in range(net.ledger.head_num() + 1)],
            batch_ids=[b.header_signature for b in committed],
            txn_ids=[b.transactions[0].header_signature for b in committed],
            addresses=[address(f"gz{i}") for i in range(3)],
            signed_batches=lambda n: [one(fresh, b"set f", key=f"fresh{next(counter)}") for _ in range(n)],
        )
        limits = replace(Limits(), client_rate=1e6, client_burst=1e6, key_rate=1e6, key_burst=1e6, body=64 * 1024)
        with Gateway(GatewayConfig(upstream=net.api.url, bind=("127.0.0.1", 0), limits=limits,
                                   families=(FAMILY,))) as gateway:
            yield net, gateway, target


_first_example: list[float] = []


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@pytest.mark.parametrize("route", [*rest_fuzzing.ROUTES, ""])
@given(data=rest_fuzzing.st.data())
def test_no_request_through_the_gateway_gets_a_5xx_or_a_traceback(hostile, route, data):
    _net, gateway, target = hostile
    _first_example[:] = _first_example or [time.monotonic()]
    if time.monotonic() - _first_example[0] > FUZZ_BUDGET:
        return
    request = data.draw(rest_fuzzing.requests(target, route=route))
    status, raw, response = rest_fuzzing.send(gateway.port, request)
    rest_fuzzing.check(request, status, raw, response)


@pytest.mark.parametrize("line", [b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
                                  b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
                                  b"POST /batches HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                                  b"POST /batches HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_malformed_requests_get_a_4xx_in_json(hostile, line):
    import json
    import socket

    _net, gateway, _ = hostile
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
        sock.sendall(line)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    assert 400 <= status < 500, head[:200]
    assert "error" in json.loads(body), body[:200]


def test_valid_batches_still_commit_after_the_fuzzer(hostile):
    net, gateway, _ = hostile
    batch = one(new_signer(), b"set after", key="after-fuzz")
    RestClient(gateway.url, invalid_settle=0).submit_and_wait([batch], timeout=30)
    assert net.ledger.state_get(address("after-fuzz"))[0] == b"after"
