"""The market commands end to end: `sawgrid` as a subprocess against a real
devnet running Sawgrid's processors, whose genesis makes key `operator` the
market's operator and system operator."""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from sawgrid.clients.sdk import keys, market
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.processors.market import units

# A delivery day in the future whenever the tests run (the CLI refuses past days).
DAY = market.day_text(market.today() + 30)
NEXT_DAY = market.day_text(market.today() + 31)
HOUR = "10"
EUR = market.MICRO  # µEUR


class Cli:
    """Runs `sawgrid --url URL --key-dir DIR --key NAME ...` against one devnet."""

    def __init__(self, url: str, key_dir) -> None:
        self.url = url
        self.key_dir = key_dir

    def run(self, key: str, *args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "sawgrid.clients.cli", "--url", self.url,
               "--key-dir", str(self.key_dir), "--key", key, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def ok(self, key: str, *args: str) -> str:
        result = self.run(key, *args)
        assert result.returncode == 0, f"sawgrid {' '.join(args)}: {result.stderr}"
        assert result.stderr == ""
        return result.stdout

    def json(self, key: str, *args: str) -> Any:
        return json.loads(self.ok(key, *args, "--json"))

    def fails(self, key: str, *args: str, code: int = 1) -> str:
        """The single error line of a command that must fail with `code`."""
        result = self.run(key, *args)
        assert result.returncode == code, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        if code == 1:
            assert result.stderr.startswith("sawgrid: error: ") and result.stderr.count("\n") == 1
        return result.stderr.strip()

    def public_key(self, name: str) -> str:
        return keys.public_key_of(name, self.key_dir)


@pytest.fixture
def cli(devnet) -> Cli:
    return Cli(devnet.url, devnet.key_dir)


def onboard(cli: Cli, name: str, eur: str) -> str:
    """keygen, register, approve by the operator, fund; returns the public key."""
    cli.ok("operator", "keygen", name)
    pk = cli.public_key(name)
    assert cli.json(name, "participant", "register", "--name", name.title()) == \
        {"public_key": pk, "name": name.title(), "status": "pending"}
    assert cli.json("operator", "participant", "approve", pk)["status"] == "approved"
    funded = cli.json("operator", "operator", "fund", pk, eur)
    assert funded["funded_ueur"] == funded["balance_ueur"] == market.eur_to_ueur(eur)
    return pk


def wallet(cli: Cli, key: str) -> tuple[int, int]:
    doc = cli.json(key, "balance")
    return doc["balance_ueur"], doc["locked_ueur"]


def test_trade_end_to_end(cli, devnet):
    reader = market.MarketReader(RestClient(devnet.url))
    operator = cli.public_key("operator")
    config = reader.config()
    assert config.system_operator == operator and operator in config.operators

    # an unapproved participant may not trade, and is told why
    cli.ok("operator", "keygen", "carol")
    cli.ok("carol", "participant", "register")
    error = cli.fails("carol", "order", "--day", DAY, "--hour", HOUR, "--kwh", "1", "--max-price", "0.25")
    assert "refused: signer: not approved yet" in error

    alice = onboard(cli, "alice", "10")
    bob = onboard(cli, "bob", "1.00")
    shown = cli.json("alice", "participant", "show")
    assert shown == {"public_key": alice, "name": "Alice", "status": "approved", "operator": False,
                     "balance_ueur": 10 * EUR, "locked_ueur": 0, "credit_used_ueur": 0}
    listed = {p["name"]: p for p in cli.json("alice", "participant", "list")}
    assert listed["carol"]["status"] == "pending" and listed["Bob"]["public_key"] == bob
    assert [p["operator"] for p in listed.values()].count(True) == 1
    assert "Alice" in cli.ok("alice", "participant", "list")

    prices = cli.json("operator", "operator", "prices", "--day", DAY, "--buy", "0.08", "--sell", "0.30")
    assert prices["sell_ueur_per_kwh"] == [300_000] * 24

    cli.ok("bob", "role", "--day", DAY, "seller")
    offer = cli.json("bob", "offer", "--day", DAY, "--hour", HOUR, "--kwh", "2", "--price", "0.20")
    assert offer["contracts"] == [] and offer["resting_wh"] == 2000
    error = cli.fails("bob", "order", "--day", DAY, "--hour", HOUR, "--kwh", "1", "--max-price", "0.25")
    assert "SELLER" in error   # bob's role for the day forbids buying

    order = cli.json("alice", "order", "--day", DAY, "--hour", HOUR, "--kwh", "1.5", "--max-price", "0.25")
    [contract] = order["contracts"]
    assert (contract["buyer"], contract["seller"], contract["energy_wh"], contract["price_ueur_per_kwh"]) == \
        (alice, bob, 1500, 200_000)
    assert order["filled_wh"] == 1500 and order["resting_wh"] == 0
    assert order["order_id"] != offer["order_id"] and contract["sell_order"] == offer["order_id"]

    # the contract is prepared: alice's money is in escrow in her own wallet; bob and the
    # system operator are paid when it settles against the meters (sawgrid-reputation)
    base, surcharge, fee, total = units.trade_amounts(1500, 200_000, units.NO_PENALTY, config.wire_fee)
    assert (contract["base_ueur"], contract["wire_fee_ueur"], contract["total_ueur"]) == (base, fee, total)
    assert (contract["stage"], contract["escrow_ueur"], contract["credit_ueur"]) == ("prepared", total, 0)
    assert alice not in contract["cluster"] and bob not in contract["cluster"]
    assert wallet(cli, "alice") == (10 * EUR - total, total)
    assert wallet(cli, "bob") == (1 * EUR, 0)
    assert wallet(cli, "operator") == (0, 0)
    assert cli.json("alice", "balance", bob)["balance_ueur"] == EUR

    # the book keeps bob's remaining 0.5 kWh
    book = cli.json("alice", "book", "--day", DAY, "--hour", HOUR)
    assert book["day"] == DAY and book["orders"] == [] and not book["closed"]
    [rest] = book["offers"]
    assert (rest["id"], rest["remaining_wh"], rest["energy_wh"]) == (offer["order_id"], 500, 2000)
    assert book["grid_prices"] == {"buy_ueur_per_kwh": 80_000, "sell_ueur_per_kwh": 300_000}
    text = cli.ok("alice", "book", "--day", DAY, "--hour", HOUR)
    assert "0.500" in text and "Bob" in text and "0.2000" in text

    trades = cli.json("alice", "trades")
    assert trades == [contract] == cli.json("alice", "trades", "--day", DAY, "--hour", HOUR)
    assert cli.json("alice", "trades", "--participant", "bob") == [contract]
    assert cli.json("alice", "trades", "--participant", "carol") == []
    assert cli.json("alice", "trades", "--day", NEXT_DAY) == []
    assert "1 contract(s), 1.500 kWh" in cli.ok("alice", "trades")

    # more than alice can pay is refused before anything happens
    error = cli.fails("alice", "order", "--day", DAY, "--hour", HOUR, "--kwh", "100", "--max-price", "0.25")
    assert "insufficient funds" in error
    assert wallet(cli, "alice") == (10 * EUR - total, total)

    # only the owner cancels; then the book is empty
    assert "not your order" in cli.fails("alice", "cancel", offer["order_id"])
    assert cli.json("bob", "cancel", offer["order_id"]) == {"order_id": offer["order_id"], "cancelled": True}
    assert cli.json("bob", "book", "--day", DAY, "--hour", HOUR)["offers"] == []
    assert "no such resting order" in cli.fails("bob", "cancel", offer["order_id"])

    # nothing was created or lost
    funded = 11 * EUR
    assert sum(sum(wallet(cli, k)) for k in ("alice", "bob", "carol", "operator")) == funded


def test_close_hour_expires_resting_orders(cli):
    onboard(cli, "alice", "5")
    before = wallet(cli, "alice")
    order = cli.json("alice", "order", "--day", DAY, "--hour", "7", "--kwh", "1", "--max-price", "0.25")
    assert order["resting_wh"] == 1000
    config = market.MarketReader(RestClient(cli.url)).config()
    *_, lock = units.trade_amounts(1000, 250_000, units.NO_PENALTY, config.wire_fee)
    assert wallet(cli, "alice") == (before[0] - lock, lock)

    assert "not an operator" in cli.fails("alice", "operator", "close", "--day", DAY, "--hour", "7")
    closed = cli.json("operator", "operator", "close", "--day", DAY, "--hour", "7")
    assert closed == {"day": DAY, "hour": 7, "closed": True, "expired": 1, "grid_contracts": []}
    assert wallet(cli, "alice") == before
    book = cli.json("alice", "book", "--day", DAY, "--hour", "7")
    assert book["closed"] and book["orders"] == []
    error = cli.fails("alice", "order", "--day", DAY, "--hour", "7", "--kwh", "1", "--max-price", "0.25")
    assert "is closed" in error


def test_operator_commands(cli):
    alice = onboard(cli, "alice", "1")
    assert alice in cli.json("operator", "operator", "add", "alice")["operators"]
    assert cli.json("operator", "operator", "wire-fee", "0.02")["wire_fee_ueur_per_kwh"] == 20_000
    assert cli.json("alice", "participant", "show")["operator"] is True
    assert alice not in cli.json("alice", "operator", "remove", alice)["operators"]
    assert "not an operator" in cli.fails("alice", "operator", "wire-fee", "0.03")
    error = cli.fails("operator", "operator", "prices", "--day", DAY, "--buy", "0.1,0.2", "--sell", "0.3")
    assert "--buy: give one price or 24" in error
    assert "already registered" in cli.fails("alice", "participant", "register")


def test_operator_init_is_once_per_chain(cli):
    """Devnet's genesis made `operator` the system operator: init by that key
    again changes nothing and succeeds (safe to re-run); by another key it fails."""
    operator = cli.public_key("operator")
    doc = cli.json("operator", "operator", "init", "--wire-fee", "0.05")
    assert doc["initialised"] is False and doc["system_operator"] == operator
    assert doc["wire_fee_ueur_per_kwh"] == market.MarketReader(RestClient(cli.url)).config().wire_fee != 50_000
    assert "nothing to do" in cli.ok("operator", "operator", "init")
    cli.ok("operator", "keygen", "mallory")
    error = cli.fails("mallory", "operator", "init")
    assert f"the market is already initialised; its system operator is {operator}" in error


def test_operator_init_on_a_new_chain(tmp_path, monkeypatch, capsys):
    """On a chain without a market, init makes the signer its system operator
    (the market handler in process behind the REST client's interface)."""
    from sawgrid.clients.cli import support as cli_support
    from sawgrid.clients.cli.main import main
    from sawgrid.clients.sdk.ledger import InProcessClient

    chain = InProcessClient()
    monkeypatch.setattr(cli_support, "RestClient", lambda url: chain)
    key_dir = tmp_path / "keys"
    keys.generate("op", key_dir)
    keys.generate("eve", key_dir)
    op = keys.public_key_of("op", key_dir)

    def run(key: str, *args: str) -> tuple[int, str, str]:
        code = main(["--key-dir", str(key_dir), "--key", key, *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run("op", "operator", "init", "--wire-fee", "0.02", "--json")
    assert code == 0
    assert json.loads(out) == {"operators": [op], "system_operator": op, "wire_fee_ueur_per_kwh": 20_000,
                               "initialised": True}
    code, out, _ = run("op", "operator", "init", "--json")
    assert code == 0 and json.loads(out)["initialised"] is False
    assert json.loads(out)["wire_fee_ueur_per_kwh"] == 20_000
    code, _, err = run("eve", "operator", "init")
    assert code == 1 and f"already initialised; its system operator is {op}" in err
    assert market.participant_json(market.MarketReader(chain).participant(op))["status"] == "approved"


def test_input_errors_are_one_line(tmp_path):
    """Bad input is refused before any network access: one line, no traceback."""
    cli = Cli("http://127.0.0.1:9", tmp_path / "keys")
    cli.ok("x", "keygen", "alice")
    order = ("order", "--hour", HOUR, "--kwh", "1", "--max-price", "0.25")
    assert "--day: expected a date like 2026-01-05 (or today, tomorrow), got '2026-02-30'" in \
        cli.fails("alice", *order, "--day", "2026-02-30")
    assert "--hour: expected an hour 0..23" in cli.fails("alice", "book", "--day", DAY, "--hour", "24")
    assert "--kwh: must not be negative" in \
        cli.fails("alice", "offer", "--day", DAY, "--hour", "1", "--kwh", "-1", "--price", "0.1")
    assert "--max-price: not a number" in \
        cli.fails("alice", "order", "--day", DAY, "--hour", "1", "--kwh", "1", "--max-price", "cheap")
    assert "EUR: must be a finite number" in cli.fails("alice", "operator", "fund", "alice", "nan")
    assert "neither a public key" in cli.fails("alice", "balance", "nobody")
    assert "DAY/HOUR/SEQ" in cli.fails("alice", "cancel", "12")
    assert "--hour needs --day" in cli.fails("alice", "trades", "--hour", "3")
    assert "role: expected one of" in cli.fails("alice", "role", "--day", DAY, "trader")
    assert "no private key" in cli.fails("nobody", "participant", "register")
    assert "cannot reach" in cli.fails("alice", "balance")
    cli.fails("alice", "order", "--hour", HOUR, code=2)  # argparse: --day missing


def test_every_command_has_help_with_an_example(tmp_path):
    cli = Cli("http://127.0.0.1:9", tmp_path)
    commands = [("participant", "register"), ("participant", "approve"), ("participant", "show"),
                ("participant", "list"), ("operator", "init"), ("operator", "fund"), ("operator", "prices"), ("operator", "add"),
                ("operator", "remove"), ("operator", "wire-fee"), ("operator", "close"), ("role",),
                ("offer",), ("order",), ("cancel",), ("book",), ("trades",), ("balance",)]
    for command in commands:
        text = cli.ok("k", *command, "--help")
        assert "example:\n  sawgrid " in text and "--json" in text, command
