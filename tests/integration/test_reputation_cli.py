"""The settlement commands against a real devnet child process: the README's
walkthrough of the paper's two attacks (run exactly as written there), and
bad input: one line, exit 1, nothing changed, never a traceback."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sawgrid.clients.sdk import keys, market, reputation
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.processors.reputation import settle
from sawgrid.protos import market_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### How settlement works"


def walkthrough() -> str:
    """The README section's ```bash blocks, in order (what a user pastes)."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n### ", start + len(SECTION))
    blocks = re.findall(r"```bash\n(.*?)```", text[start:end], flags=re.S)
    assert len(blocks) == 3, "setup, attack 1, attack 2"
    return "\n".join(blocks)


def cli(net, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", net.url, *(["--key", key] if key else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=os.environ)


def ok(net, *args: str, key: str | None = None) -> str:
    result = cli(net, *args, key=key)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def refused(net, *args: str, key: str | None = None) -> str:
    """Exit 1 with one line on stderr, no traceback; the line."""
    result = cli(net, *args, key=key)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sawgrid: error: "), result.stderr
    return lines[0]


def test_the_readme_walkthrough_of_both_attacks(make_devnet, tmp_path):
    net = make_devnet(processors=True)
    script = tmp_path / "walkthrough.sh"
    script.write_text("set -euo pipefail\n" + walkthrough())
    env = {**os.environ, "SAWGRID_URL": net.url}
    run = subprocess.run(["bash", str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out, err = run.stdout, run.stderr
    assert "Traceback" not in err
    # attack 1: declined at execution, seller shortfall; alice refunded; mallory refused afterwards
    assert "declined at execution: seller shortfall" in out
    assert "20.00 EUR available, 0.00 EUR held" in out
    assert "mallory: refused" in out and re.search(r"refused: signer: Q-score 0\.\d+ is below the minimum 0\.50 "
                                                   r"\(2 fault\(s\) on record\)", err)
    # attack 2: buyer default, the guarantee, trudy's credit gone
    assert "declined at execution: buyer default" in out and "(the operator's guarantee)" in out
    assert "trudy: refused" in out and "buying on credit needs a Q-score of 1.00, yours is 0.59049" in err

    rest = RestClient(net.url)
    reader = reputation.ReputationReader(rest)
    key_dir = tmp_path / "keys"
    pk = {name: keys.public_key_of(name, key_dir) for name in ("alice", "bob", "mallory", "trudy", "carol")}
    contracts = market.MarketReader(rest).contracts()
    theirs = [c for c in contracts if c.seller == pk["mallory"]]
    assert len(theirs) == 2 and all((c.stage, c.declined_at, c.cause, c.delivered) ==
                                    (pb.DECLINED, pb.EXECUTION, pb.SELLER_SHORTFALL, 0) for c in theirs)
    assert all(c.refunded == c.total and c.paid_base == 0 for c in theirs)
    [default] = [c for c in contracts if c.buyer == pk["trudy"]]
    assert (default.stage, default.cause, default.guarantee) == (pb.DECLINED, pb.BUYER_DEFAULT, 80_000)
    assert default.credit == default.total            # trudy's debt, on her credit line
    assert reader.wallet(pk["bob"]).balance == 20_000_000 - 110_000 + 110_000 + 80_000  # his refund, the guarantee
    assert reader.wallet(pk["trudy"]).credit_used == default.total
    mallory, trudy = reader.score(pk["mallory"]), reader.score(pk["trudy"])
    assert (mallory.faults, trudy.faults, trudy.score) == (2, 1, 590_490)
    assert mallory.score < reader.settings().min_score
    carol = reader.score(pk["carol"])
    assert carol.validated == 3 and carol.missed == 0


@pytest.fixture
def hour_over(make_devnet, tmp_path):
    """A devnet with a contract in an hour that is over: bob sold 1 kWh to alice,
    carol, dave and erin in the pool (so all three sit in its cluster)."""
    net = make_devnet(processors=True)
    rest = RestClient(net.url)
    now = reputation.chain_time(rest)
    hours = now // 3600 - 2
    day, hour = hours // 24, hours % 24
    for name in ("alice", "bob", "carol", "dave", "erin", "stranger"):
        ok(net, "keygen", name)
        ok(net, "participant", "register", key=name)
        if name != "stranger":
            ok(net, "participant", "approve", name, key="operator")
            ok(net, "operator", "fund", name, "20", key="operator")
    for name in ("carol", "dave", "erin"):
        ok(net, "reputation", "volunteer", key=name)
    ok(net, "operator", "refresh-pool", key="operator")
    d = market.day_text(day)
    ok(net, "offer", "--day", d, "--hour", str(hour), "--kwh", "1", "--price", "0.10", "--allow-past", key="bob")
    ok(net, "order", "--day", d, "--hour", str(hour), "--kwh", "1", "--max-price", "0.30", "--allow-past", key="alice")
    [contract] = market.MarketReader(rest).contracts(day, hour)
    return net, rest, d, hour, contract


def test_bad_input_is_one_line_and_changes_nothing(hour_over):
    net, rest, d, hour, contract = hour_over
    h = str(hour)
    state = dict(rest.state_prefix(""))

    def unchanged():
        now = dict(rest.state_prefix(""))
        # blocks of other transactions move the clock (BlockInfo) only
        assert {a: v for a, v in now.items() if not a.startswith("00b10c")} == \
            {a: v for a, v in state.items() if not a.startswith("00b10c")}

    assert "--wh: expected a whole number of Wh" in refused(net, "reading", "--day", d, "--hour", h, "--wh", "1.5",
                                                            key="bob")
    assert "you have no contracts in" in refused(net, "reading", "--day", d, "--hour", h, "--wh", "10", key="carol")
    assert "give either --wh" in refused(net, "reading", "--day", d, "--hour", h, "--wh", "1", "--received-wh", "2",
                                         key="alice")
    assert "--contract needs your verdict" in refused(net, "attest", "--contract", contract.id, key="carol")
    assert "they need --contract ID" in refused(net, "attest", "--day", d, "--hour", h, "--paid", key="carol")
    assert "--day and --hour go together" in refused(net, "attest", "--day", d, key="carol")
    assert "not a member of contract" in refused(net, "attest", "--contract", contract.id, "--delivered", "1000",
                                                 "--paid", key="alice")
    assert "more than the contract's 1000 Wh" in refused(net, "attest", "--contract", contract.id, "--delivered",
                                                         "2000", "--paid", key="carol")
    assert "is not yours to pay" in refused(net, "pay", contract.id, key="bob")
    assert "nothing is owed" in refused(net, "pay", contract.id, key="alice")
    assert "order id must look like DAY/HOUR/SEQ" in refused(net, "contract", "show", "abc")
    assert "no contract 1/2/3" in refused(net, "contract", "show", "1/2/3")
    assert "--tolerance: must be 0..1000 permille" in refused(net, "operator", "reputation-settings",
                                                             "--tolerance", "2000", key="operator")
    assert "--min-score: not a number" in refused(net, "operator", "reputation-settings", "--min-score", "low",
                                                 key="operator")
    assert "refused: signer: not a market operator" in refused(net, "operator", "reputation-settings",
                                                               "--min-score", "0.4", key="alice")
    assert "already in the validator pool" in refused(net, "reputation", "volunteer", key="carol")
    assert "refused: signer: not an approved market participant" in refused(net, "reputation", "volunteer",
                                                                            key="stranger")
    line = refused(net, "operator", "expire", contract.id, key="operator")
    assert re.search(r"refused: expire\.contract_ids\[0\]: not due: its deadline is \d{4}-\d\d-\d\d "
                     r"\d\d:00:00 UTC \(now \d{4}-", line), line            # in dates, not chain seconds
    unchanged()
    doc = json.loads(ok(net, "operator", "expire", "--day", d, "--json", key="operator"))
    assert doc == {"expired": []}
    unchanged()
    doc = json.loads(ok(net, "operator", "settle", "--json", key="operator"))   # compose's settlement service
    assert doc["expired"] == [] and doc["refreshed_pool"] is True
    assert "--cron: a cron expression has 5 fields" in refused(net, "operator", "settle", "--cron", "hourly",
                                                               key="operator")


def test_honest_settlement_and_json_through_the_cli(hour_over):
    net, rest, d, hour, contract = hour_over
    h = str(hour)
    shown = json.loads(ok(net, "contract", "show", contract.id, "--json"))
    assert shown["stage"] == "prepared" and len(shown["cluster"]) == 3 and shown["quorum"] == 3
    assert shown["honest_verdict"] is None and shown["readings"] == {"seller": None, "buyer": None}
    # a member before the readings are in: nothing attested, and why
    doc = json.loads(ok(net, "attest", "--day", d, "--hour", h, "--json", key="carol"))
    assert doc["attested"] == [] and "waiting for the seller and buyer's meter reading" in doc["waiting"][0]["reason"]
    text = ok(net, "reading", "--day", d, "--hour", h, "--wh", "1000", key="bob")
    assert "1.000 kWh delivered, 0.000 kWh received" in text
    assert "you already submitted your reading" in refused(net, "reading", "--day", d, "--hour", h, "--wh", "1000",
                                                           key="bob")
    doc = json.loads(ok(net, "reading", "--day", d, "--hour", h, "--wh", "1000", "--json", key="alice"))
    assert (doc["delivered_wh"], doc["received_wh"]) == (0, 1000)
    assert doc["contracts"] == [{"id": contract.id, "side": "bought", "energy_wh": 1000, "allocated_wh": 1000,
                                 "stage": "execution"}]
    for member in ("carol", "dave"):
        assert "attested 1 contract(s)" in ok(net, "attest", "--day", d, "--hour", h, key=member)
    # the third states its verdict explicitly, and completes the quorum
    text = ok(net, "attest", "--contract", contract.id, "--delivered", "1000", "--paid", key="erin")
    assert "the contract is now settled" in text
    assert "nothing left to attest" in ok(net, "attest", "--day", d, "--hour", h, key="carol")
    assert "you already attested" in refused(net, "attest", "--contract", contract.id, "--delivered", "1000",
                                             "--paid", key="carol")
    shown = json.loads(ok(net, "contract", "show", contract.id, "--json"))
    assert shown["outcome"]["stage"] == "settled" and shown["outcome"]["refunded_ueur"] == 0
    assert shown["outcome"]["paid_base_ueur"] == contract.base and len(shown["votes"]) == 3
    text = ok(net, "contract", "show", contract.id)
    assert "quorum 3 of 3" in text and "(leader)" in text and "1.000 kWh delivered" in text
    me = json.loads(ok(net, "reputation", "show", "--json", key="bob"))
    assert me["score_ppm"] == 1_051_010 and me["settled"] == 1 and me["eligibility"]["may_trade"]
    assert me["credit"] == {"allowed": False, "credit_score_ppm": 1_200_000, "limit_ueur": 50_000_000,
                            "used_ueur": 0, "free_ueur": 0}
    text = ok(net, "reputation", "show", key="carol")
    assert re.search(r"Q-score\s+1\.0(1|30301)", text) and "in the snapshot clusters are drawn from" in text
    settings = json.loads(ok(net, "operator", "reputation-settings", "--credit-score", "1.0", "--json",
                             key="operator"))
    assert settings["credit_score_ppm"] == 1_000_000 and settings["changed"] == ["credit_score"]
    assert json.loads(ok(net, "reputation", "show", "--json", key="bob"))["credit"]["allowed"] is True
    text = ok(net, "operator", "reputation-settings")
    assert "credit-score" in text and "1.00" in text
    pool = json.loads(ok(net, "reputation", "pool", "--json"))
    assert len(pool["volunteers"]) == 3
    assert "you left the validator pool" in ok(net, "reputation", "withdraw", key="erin")
    assert settle.OPEN_STAGES  # the module the CLI's stages come from


def test_every_command_has_help_with_an_example():
    for args in (["reading"], ["attest"], ["pay"], ["reputation", "show"], ["reputation", "volunteer"],
                 ["reputation", "withdraw"], ["reputation", "pool"], ["contract", "show"],
                 ["operator", "reputation-settings"], ["operator", "refresh-pool"], ["operator", "expire"],
                 ["operator", "settle"]):
        result = subprocess.run([sys.executable, "-m", "sawgrid.clients.cli", *args, "--help"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "example:\n  sawgrid" in result.stdout, args
