"""The gateway in this process in front of devnet's real ledger and REST API
(tests/inproc_devnet.py): forwarding, the body cap, the limits, refusals of
unknown families, the IDS's alerts and penalty, /metrics. The same through
real processes is tests/integration/test_gateway.py."""
from __future__ import annotations

import http.client
import json
import time
from dataclasses import replace

import pytest

from inproc_devnet import FAMILY, InProcDevnet, new_signer, one
from sawgrid.clients.gateway.limits import Limits
from sawgrid.clients.gateway.outcomes import OutcomeWatcher
from sawgrid.clients.gateway.proxy import Gateway, GatewayConfig
from sawgrid.clients.sdk.rest import BatchInvalid, RestApiError, RestClient
from sawgrid.protos.envelopes import batch_list_bytes

WAIT = 30.0  # seconds a bounded wait in these tests may take at most


@pytest.fixture
def net(tmp_path):
    with InProcDevnet(tmp_path / "data") as devnet:
        yield devnet


def start(net, **limits) -> Gateway:
    config = GatewayConfig(upstream=net.api.url, bind=("127.0.0.1", 0),
                           limits=replace(Limits(), **limits), families=(FAMILY,))
    gateway = Gateway(config)
    gateway.watcher.interval = gateway.watcher.first_check = 0.05  # learn outcomes quickly; the settle time stays
    gateway.start()
    return gateway


@pytest.fixture
def gateway(net):
    gw = start(net, invalid_key=3, invalid_client=50, penalty=60)
    yield gw
    gw.stop()


def raw(gateway: Gateway, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=WAIT)
    try:
        if method == "POST" and not headers:
            headers = {"Content-Type": "application/octet-stream"}
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def until(condition, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT:.0f} s: {what}")


def test_valid_batches_commit_through_the_gateway_and_reads_are_relayed(gateway):
    client = RestClient(gateway.url, invalid_settle=0)
    signer = new_signer()
    client.submit_and_wait([one(signer, b"set 7", key="x")], timeout=WAIT)
    from inproc_devnet import address
    assert client.state(address("x")) == b"7"
    assert client.head_id() is not None
    until(lambda: "sawgrid_gateway_batches_total{outcome=\"committed\"} 1.0" in metrics(gateway),
          "the committed batch counted")


def metrics(gateway: Gateway) -> str:
    status, headers, body = raw(gateway, "GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    return body.decode()


def test_a_body_over_the_cap_gets_413_before_it_is_read(net):
    gw = start(net, body=1000)
    try:
        status, headers, body = raw(gw, "POST", "/batches", b"\0" * 1001,
                                    {"Content-Type": "application/octet-stream"})
        assert status == 413 and "Maximum request body size 1000" in json.loads(body)["error"]["message"]
        assert headers.get("Connection") == "close"
        small = batch_list_bytes([one(new_signer(), b"ok")])
        assert len(small) < 1000 and raw(gw, "POST", "/batches", small)[0] == 202
        assert 'sawgrid_gateway_requests_total{outcome="too_large"} 1.0' in metrics(gw)
    finally:
        gw.stop()


def test_a_body_that_is_no_batch_list_gets_a_clear_400(gateway):
    status, _, body = raw(gateway, "POST", "/batches", b"\xff\xfe not protobuf")
    assert status == 400 and "not a serialized BatchList" in json.loads(body)["error"]["message"]


def test_a_burst_of_invalid_batches_alerts_and_holds_that_key_off_but_no_other(gateway):
    client = RestClient(gateway.url, max_retries=0, invalid_settle=0)
    attacker, member = new_signer(), new_signer()
    for i in range(3):
        with pytest.raises(BatchInvalid):
            client.submit_and_wait([one(attacker, b"invalid", key=f"i{i}")], timeout=WAIT)
    alerts = until(lambda: json.loads(raw(gateway, "GET", "/_gateway/alerts")[2])["alerts"], "an alert")
    [alert] = alerts
    assert alert["kind"] == "invalid-batches" and alert["key"] == attacker.get_public_key().as_hex()
    assert alert["client"] == "127.0.0.1" and alert["time"].endswith("Z") and set(alert) == {
        "time", "kind", "client", "key", "detail"}
    status, headers, body = raw(gateway, "POST", "/batches", batch_list_bytes([one(attacker, b"ok", key="z")]))
    assert status == 429 and 55 <= int(headers["Retry-After"]) <= 60
    assert "held off" in json.loads(body)["error"]["message"]
    client.submit_and_wait([one(member, b"ok", key="m")], timeout=WAIT)  # same address, another key: served
    text = metrics(gateway)
    assert 'sawgrid_gateway_alerts_total{kind="invalid-batches"} 1.0' in text
    assert 'sawgrid_gateway_rate_limited_total{scope="penalty"} 1.0' in text
    assert 'sawgrid_gateway_batches_total{outcome="invalid"} 3.0' in text


def test_a_family_the_network_does_not_run_is_refused_with_an_alert(gateway):
    signer = new_signer()
    status, _, body = raw(gateway, "POST", "/batches", batch_list_bytes([one(signer, b"ok", family="xo")]))
    assert status == 400 and "'xo' is not run by this network" in json.loads(body)["error"]["message"]
    [alert] = json.loads(raw(gateway, "GET", "/_gateway/alerts")[2])["alerts"]
    assert alert["kind"] == "unknown-family" and alert["key"] == signer.get_public_key().as_hex()


def test_the_client_limit_answers_429_with_retry_after_and_the_key_limit_counts_batches(net):
    gw = start(net, client_rate=1, client_burst=3, key_rate=1, key_burst=1)
    try:
        assert [raw(gw, "GET", "/blocks?limit=1")[0] for _ in range(3)] == [200, 200, 200]
        status, headers, body = raw(gw, "GET", "/blocks?limit=1")
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert "too many requests from 127.0.0.1" in json.loads(body)["error"]["message"]
        # RestClient's submit retries a 429 (with back-off) until the bucket has refilled
        assert len(RestClient(gw.url, backoff=0.5, max_retries=8).submit([one(new_signer(), b"ok")])) == 1
    finally:
        gw.stop()
    gw = start(net, key_rate=0.01, key_burst=1)
    try:
        signer = new_signer()
        assert raw(gw, "POST", "/batches", batch_list_bytes([one(signer, b"ok", key="1")]))[0] == 202
        status, headers, _ = raw(gw, "POST", "/batches", batch_list_bytes([one(signer, b"ok", key="2")]))
        assert status == 429 and int(headers["Retry-After"]) > 1
        assert raw(gw, "POST", "/batches", batch_list_bytes([one(new_signer(), b"ok")]))[0] == 202
    finally:
        gw.stop()


def test_an_upstream_that_is_down_is_a_502_not_a_hang_or_a_traceback(net):
    gw = start(net)
    try:
        net.api.stop()
        status, _, body = raw(gw, "GET", "/blocks")
        assert status == 502 and "did not answer" in json.loads(body)["error"]["message"]
        assert raw(gw, "GET", "/_gateway/health")[0] == 200
    finally:
        gw.stop()


def test_the_watcher_reports_a_batch_only_once_it_stayed_invalid_for_the_settle_time(net):
    now = [0.0]
    heard = []
    watcher = OutcomeWatcher(net.api.url, lambda client, key, batch_id: heard.append(batch_id),
                             settle=1.5, first_check=0.0, clock=lambda: now[0])
    try:
        signer = new_signer()
        bad, good = one(signer, b"invalid", key="b"), one(signer, b"ok", key="g")
        net.ledger.submit([bad, good])
        assert net.wait([bad, good]) == ["INVALID", "COMMITTED"]
        watcher.watch(bad.header_signature, "c", "k")
        watcher.watch(good.header_signature, "c", "k")
        watcher.check_once()
        assert heard == [] and watcher.awaited == 1  # committed: forgotten; invalid: not settled yet
        now[0] = 1.0
        watcher.check_once()
        assert heard == []
        now[0] = 1.6
        watcher.check_once()
        assert heard == [bad.header_signature] and watcher.awaited == 0
    finally:
        watcher.stop()


def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(net):
    forwarded_by = lambda address: {"X-Forwarded-For": f"203.0.113.9, {address}"}  # noqa: E731
    for trusted, limited in (((), "127.0.0.1"), (("127.0.0.0/8",), "10.1.2.3"), (("localhost",), "10.1.2.3")):
        config = GatewayConfig(upstream=net.api.url, bind=("127.0.0.1", 0), families=(FAMILY,),
                               limits=replace(Limits(), client_rate=0.01, client_burst=1), trusted_proxies=trusted)
        with Gateway(config) as gw:
            assert raw(gw, "GET", "/blocks?limit=1", headers=forwarded_by("10.1.2.3"))[0] == 200
            status, _, body = raw(gw, "GET", "/blocks?limit=1", headers=forwarded_by("10.1.2.3"))
            assert status == 429 and f"from {limited};" in json.loads(body)["error"]["message"], trusted
            other = raw(gw, "GET", "/blocks?limit=1", headers=forwarded_by("10.9.9.9"))[0]
            assert other == (429 if not trusted else 200), trusted  # one bucket per client behind the proxy


def test_a_client_that_expects_100_continue_gets_it_and_its_batch_through(gateway):
    import socket

    body = batch_list_bytes([one(new_signer(), b"ok", key="expect")])
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"POST /batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(1024).startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 202")


def test_a_body_over_the_cap_is_refused_before_100_continue(net):
    import socket

    gw = start(net, body=1000)
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=WAIT) as sock:
            sock.sendall(b"POST /batches HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer
    finally:
        gw.stop()
