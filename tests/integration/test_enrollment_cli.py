"""Enrollment against a real devnet child process: the README's walkthrough
(run exactly as written there: the CA, four first verifiers, their agents,
two households joining), and the verifier agents driven from here: the
leader of each block is eq. 1's, a verifier stopped with SIGTERM and
restarted on its state file signs nothing twice, and bad input is one line."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import proc_tree
from sawgrid.clients.sdk import certificates, enrollment, keys
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.processors.enrollment.settings import leader
from sawgrid.protos import enrollment_pb2 as epb
from sawgrid.protos import market_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### How a new household joins"
VERIFIERS = ("carol", "dave", "erin", "frank")


def walkthrough() -> str:
    """The README section's ```bash blocks, in order (what a user pastes)."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n### ", start + len(SECTION))
    blocks = re.findall(r"```bash\n(.*?)```", text[start:end], flags=re.S)
    assert len(blocks) == 3, "setup, agents, households"
    return "\n".join(blocks)


def cli(net, *args: str, key: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", net.url, *(["--key", key] if key else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=os.environ)


def ok(net, *args: str, key: str | None = None) -> str:
    result = cli(net, *args, key=key)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def refused(net, *args: str, key: str | None = None) -> str:
    result = cli(net, *args, key=key)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sawgrid: error: "), result.stderr
    return lines[0]


def test_the_readme_walkthrough(make_devnet, tmp_path):
    net = make_devnet(processors=True)
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")      # the README's S=.venv/bin/sawgrid, files kept out of the repo
    script = work / "walkthrough.sh"
    script.write_text("set -euo pipefail\n" + walkthrough())
    env = {**os.environ, "SAWGRID_URL": net.url}
    proc = subprocess.Popen(["bash", str(script)], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        proc_tree.kill(proc_tree.descendants(proc.pid) + [proc.pid])
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert "Traceback" not in err
    assert out.count("status: APPROVED") == 2, out
    assert "verified up to the CA root" in out

    rest = RestClient(net.url)
    reader = enrollment.EnrollmentReader(rest)
    key_dir = tmp_path / "keys"
    for name in ("ada", "alan"):
        key = keys.public_key_of(name, key_dir)
        assert reader.market.participant(key).status == pb.APPROVED
        assert reader.market.participant(key).name == enrollment.pseudonym(key)
        chain = reader.chain(key)
        certificates.verify_chain(chain)
        assert len(chain) == 3
    blocks = [b for b in reader.blocks() if b.status == epb.FINAL]
    assert len(blocks) == 2 and blocks[0].slot != blocks[1].slot
    everything = b"".join(data for _, data in rest.state_prefix(""))
    for secret in (b"SM-1001", b"Ada Lovelace", b"Grid Lane", b"Alan Turing"):
        assert secret not in everything                 # no plain-text identity anywhere in state
    for v in VERIFIERS:                                 # every agent stopped cleanly on SIGTERM
        log = (work / f"{v}-verifier.log").read_text()
        assert "stopped" in log and "Traceback" not in log, log


class Agents:
    """`sawgrid verifier run` children, each in its own session, all stopped at the end."""

    def __init__(self, net, tmp_path: Path) -> None:
        self.net, self.tmp = net, tmp_path
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        log = open(self.tmp / f"{name}.log", "a")
        cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", self.net.url, "--key", name, "verifier", "run",
               "--state", str(self.tmp / f"{name}-state.json"), "--interval", "0.5"]
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=log, env=os.environ, start_new_session=True)

    def stop(self, name: str) -> int:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def close(self) -> None:
        for name in list(self.procs):
            try:
                self.stop(name)
            except subprocess.TimeoutExpired:
                proc_tree.kill([self.procs.get(name).pid] if name in self.procs else [])


@pytest.fixture
def verifier_net(make_devnet, tmp_path):
    net = make_devnet(processors=True)
    ok(net, "operator", "ca", "init", key="operator")
    for v in VERIFIERS:
        ok(net, "keygen", v)
        ok(net, "participant", "register", key=v)
        ok(net, "operator", "certify", v, key="operator")
        ok(net, "verifier", "volunteer", key=v)
    agents = Agents(net, tmp_path)
    yield net, agents
    agents.close()


def household(net, tmp_path: Path, name: str, serial: str, *extra: str) -> dict:
    ok(net, "keygen", name)
    evidence = tmp_path / f"{name}.json"
    evidence.write_text(json.dumps({"meter_serial": serial, "name": name.title()}))
    return json.loads(ok(net, "--json", "enroll", "--evidence", str(evidence), "--wait", "120", *extra, key=name))


def test_households_enroll_with_leaders_by_eq1_and_a_restart_does_not_double_sign(verifier_net, tmp_path):
    net, agents = verifier_net
    rest = RestClient(net.url)
    reader = enrollment.EnrollmentReader(rest)
    for v in VERIFIERS:
        agents.start(v)
    decided = []
    for i, name in enumerate(("hh1", "hh2", "hh3")):
        vs = reader.verifier_set()
        if i == 1:   # restart one member of the current set between two enrollments
            victim = next(v for v in VERIFIERS if keys.public_key_of(v, tmp_path / "keys") in vs.members)
            assert agents.stop(victim) == 0
            agents.start(victim)
        doc = household(net, tmp_path, name, f"SM-{i}")
        assert doc["status"] == "approved", doc
        [block] = [b for b in reader.blocks() if any(d.applicant == doc["applicant"] for d in b.propose.decisions)
                   and b.status == epb.FINAL]
        assert block.set_id == vs.set_id
        assert block.leader == leader(vs.members, block.slot)      # eq. 1 over the set in canonical order
        decided.append(block)
    assert len({b.slot for b in decided}) == 3
    for block in reader.blocks():
        signers = [s.verifier for s in block.signatures]
        assert len(signers) == len(set(signers))
    for v in VERIFIERS:
        log = agents.log(v)
        # nobody tried to sign anything twice (a countersign that arrives after the quorum
        # moved the set on is refused as stale: a race, not a second signature)
        assert "countersigned twice" not in log and "condition 2" not in log and "Traceback" not in log, log
    assert agents.log(victim).count("running") == 2 and "stopped" in agents.log(victim)
    schedule = json.loads(ok(net, "--json", "verifiers"))
    leaders = [s["leader"] for s in schedule["slots"]]
    assert all(a != b for a, b in zip(leaders, leaders[1:]))         # the role passes on from slot to slot


def test_enroll_wait_fails_while_pending_and_a_rerun_waits_for_the_same_request(verifier_net, tmp_path):
    """What the compose `meters` service relies on: `enroll --wait` fails (exit 1,
    one line) when no decision comes in time, and running it again waits for
    the request already on chain instead of sending a second one, also when it
    was decided in between."""
    net, agents = verifier_net
    ok(net, "keygen", "yan")
    evidence = tmp_path / "yan.json"
    evidence.write_text(json.dumps({"meter_serial": "SM-77"}))
    enroll = ("enroll", "--evidence", str(evidence))
    assert "still pending after 1 s" in refused(net, *enroll, "--wait", "1", key="yan")  # no agent runs yet
    assert "already have a pending request" in refused(net, *enroll, key="yan")
    reader = enrollment.EnrollmentReader(RestClient(net.url))
    first = reader.request(keys.public_key_of("yan", tmp_path / "keys")).request.commitment
    for v in VERIFIERS:
        agents.start(v)
    doc = json.loads(ok(net, "--json", *enroll, "--wait", "120", key="yan"))
    assert doc["status"] == "approved", doc
    assert reader.request(doc["applicant"]).request.commitment == first     # the same request, decided
    # once decided, running it again (with or without --wait) reports the decision and sends nothing
    for v in VERIFIERS:
        assert agents.stop(v) == 0
    height = len(list(RestClient(net.url).blocks()))
    for again in ((), ("--wait", "5")):
        doc = json.loads(ok(net, "--json", *enroll, *again, key="yan"))
        assert doc["status"] == "approved" and reader.request(doc["applicant"]).request.commitment == first
    assert len(list(RestClient(net.url).blocks())) == height


def test_bad_input_is_one_line(verifier_net, tmp_path):
    net, _ = verifier_net
    missing = refused(net, "enroll", "--evidence", str(tmp_path / "nope.json"), key="carol")
    assert "--evidence: no such file" in missing
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "no serial"}')
    ok(net, "keygen", "zed")
    assert "meter_serial" in refused(net, "enroll", "--evidence", str(bad), key="zed")
    assert "already a volunteer" in refused(net, "verifier", "volunteer", key="carol")
    assert "no certificate on chain" in refused(net, "certificate", "show", "zed")
    assert "already on chain" in refused(net, "operator", "ca", "init", key="operator")
    assert "refused: signer: not the CA" in refused(net, "operator", "certify", "zed", key="carol")
    pem = ok(net, "certificate", "show", "carol", "--pem")
    assert pem.count("BEGIN CERTIFICATE") == 2


def test_every_command_has_help_with_an_example():
    for command in (("enroll",), ("verifier", "volunteer"), ("verifier", "run"), ("verifiers",),
                    ("certificate", "show"), ("operator", "ca", "init"), ("operator", "certify"),
                    ("operator", "enrollment-settings")):
        result = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *command, "--help"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (command, result.stderr)
        assert "example:\n  sawgrid " in result.stdout and "--json" in result.stdout, command
