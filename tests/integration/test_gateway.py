"""`sawgrid gateway` as a real process in front of a real `sawgrid devnet`
with Sawgrid's processors: valid batches commit through it; a burst of
INVALID batches from one key raises an alert and gets that key 429s but
not another; an oversized body gets 413; a family the network does not run
raises an alert; SIGTERM stops it and nothing is left running."""
from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import proc_tree
from sawgrid.clients.sdk.devnet_process import free_port
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import BatchInvalid, RestClient
from sawgrid.devnet.server import die_with_parent
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.protos.envelopes import batch_list_bytes, make_batch, make_transaction

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds any bounded wait here may take at most
INVALID_KEY = 3  # the --limits threshold these tests use
BODY_CAP = 64 * 1024


class GatewayProcess:
    def __init__(self, upstream: str, log_path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "sawgrid.clients.cli", "gateway", "--upstream", upstream,
                        "--bind", f"127.0.0.1:{self.port}", *extra]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "GatewayProcess":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent())
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the gateway exited: {self.log()}"
            try:
                if request(self, "GET", "/_gateway/health")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the gateway did not come up: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def request(gw: GatewayProcess, method: str, path: str, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=WAIT)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/octet-stream"} if body else {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def alerts(gw: GatewayProcess) -> list[dict]:
    return json.loads(request(gw, "GET", "/_gateway/alerts")[2])["alerts"]


@pytest.fixture
def gateway(devnet, tmp_path):
    gw = GatewayProcess(devnet.url, tmp_path / "gateway.log",
                        "--limits", f"invalid-key={INVALID_KEY},penalty=120,body={BODY_CAP}").start()
    yield gw
    gw.stop()


def test_valid_batches_commit_through_the_gateway(gateway, signer):
    client = RestClient(gateway.url)
    client.submit_and_wait([kv_batch(signer, f"via-gateway-{i}", b"v%d" % i) for i in range(5)], timeout=WAIT)
    assert client.state(kv_address("via-gateway-3")) == b"v3"
    assert alerts(gateway) == []


def test_a_burst_of_invalid_batches_from_one_key_alerts_and_429s_that_key_only(gateway, signer):
    from sawgrid.clients.sdk import keys

    member = keys.signer_for(keys.new_private_key())
    client = RestClient(gateway.url, max_retries=0)
    for i in range(INVALID_KEY):  # payloads the kv processor refuses
        with pytest.raises(BatchInvalid):
            client.submit_and_wait([kv_batch(signer, f"bad{i}", payload=b"\xff\x00garbage")], timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while not alerts(gateway) and time.monotonic() < deadline:
        time.sleep(0.2)
    [alert] = alerts(gateway)
    assert alert["kind"] == "invalid-batches" and alert["key"] == signer.get_public_key().as_hex()
    assert alert["client"] == "127.0.0.1"
    status, headers, _ = request(gateway, "POST", "/batches", batch_list_bytes([kv_batch(signer, "ok-now?")]))
    assert status == 429 and int(headers["Retry-After"]) > 60
    client.submit_and_wait([kv_batch(member, "member-still-served")], timeout=WAIT)
    assert client.state(kv_address("member-still-served")) == b"x"
    logged = [json.loads(line.split(": ", 1)[1]) for line in gateway.log().splitlines() if '{"alert"' in line]
    assert [entry["alert"]["kind"] for entry in logged] == ["invalid-batches"]  # a structured log line
    metrics = request(gateway, "GET", "/metrics")[2].decode()
    assert 'sawgrid_gateway_alerts_total{kind="invalid-batches"} 1.0' in metrics


def test_an_oversized_body_gets_413(gateway, signer):
    big = batch_list_bytes([kv_batch(signer, "big", b"x" * (BODY_CAP + 1))])
    status, _, body = request(gateway, "POST", "/batches", big)
    assert status == 413 and "Maximum request body size" in json.loads(body)["error"]["message"]
    assert request(gateway, "GET", "/blocks?limit=1")[0] == 200  # and it goes on serving


def test_a_family_the_network_does_not_run_raises_an_alert(gateway, signer):
    key = signer.get_public_key().as_hex()
    txn = make_transaction(signer, "intkey", "1.0", b"\xa1", ["1cf126" + "0" * 64], ["1cf126" + "0" * 64])
    status, _, body = request(gateway, "POST", "/batches", batch_list_bytes([make_batch(signer, [txn])]))
    assert status == 400 and "'intkey' is not run by this network" in json.loads(body)["error"]["message"]
    [alert] = alerts(gateway)
    assert alert["kind"] == "unknown-family" and alert["key"] == key and "intkey" in alert["detail"]


def test_sigterm_stops_the_gateway_and_leaves_nothing_running(gateway):
    children = proc_tree.descendants(gateway.proc.pid)
    gateway.proc.send_signal(signal.SIGTERM)
    assert gateway.proc.wait(WAIT) == 0
    assert proc_tree.wait_gone(children, 10) == []
    with pytest.raises(OSError):
        request(gateway, "GET", "/_gateway/health")
    assert "Traceback" not in gateway.log()


def test_compose_nginx_config_terminates_tls_in_front_of_the_gateway(devnet, tmp_path, signer):
    """docker/nginx/sawgrid.conf run by a local nginx (where one is installed;
    compose's is the official image) on free ports, in front of a real
    gateway and devnet: https://HOST/api/ reaches the REST API through the
    gateway, with nginx's forwarded headers believed; http:// redirects."""
    import re
    import shutil

    from sawgrid.clients.sdk.tls import write_self_signed

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if shutil.os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.skip("no nginx on this machine")
    cert, key = write_self_signed(tmp_path / "tls")
    gw = GatewayProcess(devnet.url, tmp_path / "gateway.log", "--trust-proxy", "127.0.0.1").start()
    https_port, http_port = free_port(), free_port()
    conf = (ROOT / "docker" / "nginx" / "sawgrid.conf").read_text()
    conf = conf.replace("/etc/nginx/tls/cert.pem", str(cert)).replace("/etc/nginx/tls/key.pem", str(key))
    conf = conf.replace("server gateway:8009", f"server 127.0.0.1:{gw.port}")
    conf = conf.replace("server dashboard:8080", f"server 127.0.0.1:{free_port()}")
    conf = conf.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)", version)
    if found and (int(found[1]), int(found[2])) < (1, 25):
        conf = conf.replace("http2 on;", "")  # the directive is newer than this nginx (compose's image has it)
    (tmp_path / "sawgrid.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/nginx-error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n include {tmp_path}/sawgrid.conf;\n}}\n")
    proc = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    try:
        client = RestClient(f"https://127.0.0.1:{https_port}/api", ca_cert=str(cert), max_retries=0)
        deadline = time.monotonic() + WAIT
        while True:
            try:
                client.head_id()
                break
            except Exception:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "nginx-error.log").read_text()
                time.sleep(0.2)
        client.submit_and_wait([kv_batch(signer, "through-nginx")], timeout=WAIT)
        assert client.state(kv_address("through-nginx")) == b"x"
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=WAIT)
        conn.request("GET", "/api/blocks?limit=1")
        answer = conn.getresponse()
        assert answer.status == 301 and answer.getheader("Location") == "https://127.0.0.1/api/blocks?limit=1"
        conn.close()
        # nginx's X-Forwarded-Proto/-Host/-Path reach the REST API through the gateway, which trusts it
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=WAIT,
                                           context=__import__("ssl").create_default_context(cafile=str(cert)))
        conn.request("POST", "/api/batches", body=batch_list_bytes([kv_batch(signer, "linked")]),
                     headers={"Content-Type": "application/octet-stream"})
        answer = conn.getresponse()
        link = json.loads(answer.read())["link"]
        conn.close()
        assert answer.status == 202 and link.startswith("https://127.0.0.1/api/batch_statuses?id="), link
    finally:
        proc.terminate()
        proc.wait(30)
        gw.stop()


@pytest.mark.parametrize("command", [("gateway",), ("tls-selfsigned",)])
def test_help_has_an_example(command):
    result = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *command, "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "example:\n  sawgrid " in result.stdout and "--json" in result.stdout


@pytest.mark.parametrize("args, says", [
    (("--limits", "client=fast"), "'fast' is not a number"),
    (("--upstream", "ftp://x"), "not an http(s) URL"),
    (("--tls-cert", "c.pem"), "--tls-cert and --tls-key go together"),
    (("--families", " , "), "--families: name at least one family"),
])
def test_bad_options_are_one_line_errors(args, says):
    argv = ["--upstream", "http://127.0.0.1:9", "--bind", "127.0.0.1:0", *args]
    result = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", "gateway", *argv],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr
