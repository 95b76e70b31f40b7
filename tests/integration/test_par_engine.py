"""The PAR engine against a real devnet: it reads a peaky day, issues the next
day's penalties and recommendations as one batch, the market applies the
penalty to a trade, and a re-run issues nothing twice."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk import market as m
from sawgrid.clients.sdk import reputation as rep
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.devnet import replay_clock
from sawgrid.par_engine.engine import Engine, EngineConfig
from sawgrid.par_engine.service import create_app
from sawgrid.processors.market.units import day_date, trade_amounts
from sawgrid.protos import market_pb2 as pb

DAY = 20_500
PEAK_HOUR = 18


@pytest.fixture
def clock(tmp_path):
    """devnet's chain time (BlockInfo): just after the peak hour of the day the
    engine issues for, so that the meters of that hour may still report."""
    path = tmp_path / "clock"
    replay_clock.write(path, (DAY + 1) * 86_400 + (PEAK_HOUR + 1) * 3_600 + 60)
    return path


@pytest.fixture
def devnet(make_devnet, clock):
    return make_devnet(extra=("--clock-file", str(clock)))


@pytest.fixture
def traded_day(devnet):
    """alice buys a little every hour and a lot at 18:00 from bob."""
    rest = RestClient(devnet.url)
    operator = keys.load_signer("operator", devnet.key_dir)
    alice, bob = (keys.signer_for(keys.new_private_key()) for _ in range(2))
    pk = {s: s.get_public_key().as_hex() for s in (alice, bob)}
    m.submit(rest, alice, m.register("alice"))
    m.submit(rest, bob, m.register("bob"))
    m.submit(rest, operator, [m.approve(pk[alice]), m.approve(pk[bob]), m.fund(pk[alice], 100_000_000)])
    offers = [m.place_order(pb.SELL, d, h, 10_000, 100_000) for d in (DAY, DAY + 1) for h in range(24)]
    m.submit(rest, bob, offers)
    wanted = [200] * 24
    wanted[PEAK_HOUR] = 5_000
    m.submit(rest, alice, [m.place_order(pb.BUY, DAY, h, wh, 200_000) for h, wh in enumerate(wanted)])
    return rest, operator, alice, bob, wanted


def test_engine_issues_penalties_the_market_applies(traded_day):
    rest, operator, alice, bob, wanted = traded_day
    engine = Engine(rest, operator, EngineConfig())
    report = engine.run(DAY)
    assert report.status == "issued" and report.participants == 1
    assert report.totals_wh == wanted and report.par < 0.85
    reader = m.MarketReader(rest)
    penalties = list(reader.penalties(DAY + 1).multipliers)
    assert penalties[PEAK_HOUR] == 1500 and penalties.count(1000) == 23
    recommendation = list(reader.recommendation(DAY + 1, alice.get_public_key().as_hex()).schedule)
    assert sum(recommendation) == sum(wanted)  # same daily energy...
    assert max(recommendation) < max(wanted)   # ...moved out of the peak

    again = engine.run(DAY)
    assert again.status == "already issued" and again.transaction_ids == []

    operator_before = reader.wallet(operator.get_public_key().as_hex()).balance
    m.submit(rest, alice, m.place_order(pb.BUY, DAY + 1, PEAK_HOUR, 1_000, 200_000))
    (contract,) = reader.contracts(day=DAY + 1, hour=PEAK_HOUR)
    base, surcharge, _, _ = trade_amounts(1_000, 100_000, 1500, 0)  # the surcharge does not depend on the fee
    assert contract.penalty == 1500 and contract.surcharge == surcharge == base // 2
    assert contract.escrow >= contract.total == base + surcharge + contract.wire_fee  # held from alice
    # settled against the meters (the day is long past in chain time; no
    # volunteers, so no cluster: the two readings decide), the surcharge and
    # the fee reach the system operator
    rep.submit(rest, bob, rep.reading(DAY + 1, PEAK_HOUR, delivered_wh=1_000))
    rep.submit(rest, alice, rep.reading(DAY + 1, PEAK_HOUR, received_wh=1_000))
    (settled,) = reader.contracts(day=DAY + 1, hour=PEAK_HOUR)
    assert settled.stage == pb.SETTLED and settled.paid_surcharge == surcharge
    assert reader.wallet(operator.get_public_key().as_hex()).balance - operator_before == surcharge + contract.wire_fee


def test_api_serves_what_the_engine_issued(traded_day):
    rest, operator, alice, _, _ = traded_day
    engine = Engine(rest, operator, EngineConfig(algorithm="astar", time_budget=0.5))
    client = create_app(engine).test_client()
    assert client.get("/runs/last").status_code == 404
    engine.run(DAY)
    target = day_date(DAY + 1).isoformat()
    assert client.get("/health").get_json()["rest_api_reachable"] is True
    assert client.get("/runs/last").get_json()["target_day"] == target
    assert client.get(f"/penalties/{target}").get_json()["multipliers"][PEAK_HOUR] == 1.5
    rec = client.get(f"/recommendations/{target}/{alice.get_public_key().as_hex()}")
    assert rec.status_code == 200 and len(rec.get_json()["schedule_wh"]) == 24
    par = client.get(f"/par/{day_date(DAY).isoformat()}").get_json()
    assert par["participants"] == 1 and par["par"] < 0.85
    assert client.get("/par/not-a-day").status_code == 400
    assert client.get(f"/penalties/{day_date(DAY + 5).isoformat()}").status_code == 404
    assert client.get(f"/recommendations/{target}/nope").status_code == 400


def test_cli_dry_run_writes_nothing(traded_day, devnet):
    rest, *_ = traded_day
    out = subprocess.run(
        [sys.executable, "-m", "sawgrid.clients.cli", "--url", devnet.url, "--key-dir", str(devnet.key_dir),
         "par", "run", "--day", day_date(DAY).isoformat(), "--dry-run", "--json"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["status"] == "dry run" and report["penalties"][PEAK_HOUR] == 1500
    assert m.MarketReader(rest).penalties(DAY + 1) is None
