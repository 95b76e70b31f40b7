"""HTTPS end to end: `sawgrid tls-selfsigned` makes a pair, `sawgrid devnet
--tls-cert/--tls-key` serves its REST API with it, and RestClient and the
`sawgrid` commands verify it against the CA file they are given, and refuse
it without one."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

import proc_tree
from sawgrid.clients.sdk.devnet_process import DevnetProcess
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import RestClient, RestError, RestUnreachable
from sawgrid.clients.sdk.tls import CA_ENV
from sawgrid.processors.kv.addresses import kv_address

EXIT_GRACE = 10.0


def sawgrid(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def without_ca() -> dict:
    return {k: v for k, v in os.environ.items() if k != CA_ENV}


class HttpsDevnet(DevnetProcess):
    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.rest_port}"


@pytest.fixture
def pair(tmp_path):
    made = sawgrid("tls-selfsigned", str(tmp_path / "tls"), "--json")
    assert made.returncode == 0, made.stderr
    doc = json.loads(made.stdout)
    return doc["cert"], doc["key"]


@pytest.fixture
def https_devnet(tmp_path, pair, monkeypatch):
    cert, key = pair
    monkeypatch.setenv(CA_ENV, cert)  # for DevnetProcess's own readiness checks
    net = HttpsDevnet(data_dir=tmp_path / "data", key_dir=tmp_path / "keys", processors=True,
                      extra=("--tls-cert", cert, "--tls-key", key), log_path=tmp_path / "devnet.log")
    try:
        net.start()
        monkeypatch.delenv(CA_ENV)
        yield net
    finally:
        children = proc_tree.descendants(net.proc.pid) if net.proc is not None else []
        net.stop()
        proc_tree.kill(proc_tree.wait_gone(children, EXIT_GRACE))


def test_tls_selfsigned_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path, pair):
    cert, key = pair
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert open(cert).read().startswith("-----BEGIN CERTIFICATE-----")
    again = sawgrid("tls-selfsigned", str(tmp_path / "tls"))
    assert again.returncode == 1 and again.stderr.startswith("sawgrid: error: ") and "--force" in again.stderr
    assert again.stderr.count("\n") == 1


def test_rest_client_verifies_against_the_ca_it_is_given_and_refuses_without_it(https_devnet, pair, signer):
    cert, _ = pair
    with pytest.raises(RestUnreachable, match="certificate does not verify.*--ca-cert"):
        RestClient(https_devnet.url).head_id()
    client = RestClient(https_devnet.url, ca_cert=cert)
    client.submit_and_wait([kv_batch(signer, "over-tls", b"secret")], timeout=60)
    assert client.state(kv_address("over-tls")) == b"secret"
    link = client._call("GET", "/blocks", query={"limit": 1})["link"]
    assert link.startswith(https_devnet.url.rstrip("/") + "/blocks?")   # links name the scheme it was reached by
    with pytest.raises(RestError):  # plain HTTP to the HTTPS port: an error, never a hang
        RestClient(https_devnet.url.replace("https", "http"), timeout=10).head_id()
    with pytest.raises(RestError, match="no such file"):
        RestClient(https_devnet.url, ca_cert=str(cert) + ".missing")


def test_sawgrid_commands_work_over_https_with_ca_cert_and_refuse_without(https_devnet, pair, tmp_path):
    cert, _ = pair
    common = ("--url", https_devnet.url, "--key-dir", str(tmp_path / "keys"))
    listed = sawgrid(*common, "--ca-cert", cert, "participant", "list", "--json", env=without_ca())
    assert listed.returncode == 0, listed.stderr
    assert isinstance(json.loads(listed.stdout), (list, dict))
    by_env = sawgrid(*common, "participant", "list", "--json", env={**without_ca(), CA_ENV: cert})
    assert by_env.returncode == 0 and by_env.stdout == listed.stdout
    refused = sawgrid(*common, "participant", "list", env=without_ca())
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and "certificate does not verify" in refused.stderr


def test_devnet_refuses_half_a_pair_or_files_that_are_no_pair(tmp_path, pair):
    cert, key = pair
    half = sawgrid("devnet", "--data-dir", str(tmp_path / "d"), "--tls-cert", cert)
    assert half.returncode == 1 and "--tls-cert and --tls-key go together" in half.stderr
    swapped = sawgrid("devnet", "--data-dir", str(tmp_path / "d"), "--tls-cert", key, "--tls-key", cert)
    assert swapped.returncode == 1 and "not a PEM certificate and its key" in swapped.stderr
    assert "Traceback" not in half.stderr + swapped.stderr


def test_the_gateway_serves_https_in_front_of_an_https_devnet(https_devnet, pair, tmp_path, signer):
    from sawgrid.clients.sdk.devnet_process import free_port
    from sawgrid.devnet.server import die_with_parent

    cert, key = pair
    port = free_port()
    with open(tmp_path / "gateway.log", "wb") as log:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "sawgrid.clients.cli", "--ca-cert", cert, "gateway",
             "--upstream", https_devnet.url, "--bind", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key],
            stdout=log, stderr=subprocess.STDOUT, env=without_ca(), preexec_fn=die_with_parent())
    try:
        client = RestClient(f"https://127.0.0.1:{port}", ca_cert=cert)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.head_id()
                break
            except RestError:
                assert gateway.poll() is None and time.monotonic() < deadline, (tmp_path / "gateway.log").read_text()
                time.sleep(0.2)
        client.submit_and_wait([kv_batch(signer, "tls-both-ways")], timeout=60)
        assert RestClient(https_devnet.url, ca_cert=cert).state(kv_address("tls-both-ways")) == b"x"
        with pytest.raises(RestUnreachable, match="does not verify"):
            RestClient(f"https://127.0.0.1:{port}").head_id()
    finally:
        gateway.terminate()
        assert gateway.wait(30) == 0
