"""What a careful user expects of the market CLI: input that cannot work is
refused with the reason, messages speak dates, EUR and kWh, gate closure
reports the grid's trades, and a typo gets a suggestion."""
from __future__ import annotations

from sawgrid.clients.sdk import market
from sawgrid.processors.market import units
from test_market_cli import DAY, Cli, cli, onboard, wallet  # noqa: F401 (cli is a fixture)

ORDER = ("order", "--hour", "9", "--kwh", "1", "--max-price", "0.25")


def test_a_past_day_is_refused_unless_asked_for(cli):
    onboard(cli, "alice", "5")
    yesterday = market.day_text(market.today() - 1)
    error = cli.fails("alice", *ORDER, "--day", yesterday)
    assert error == (f"sawgrid: error: --day: {yesterday} is in the past (today is "
                     f"{market.day_text(market.today())} UTC), so nothing can be delivered then; "
                     f"--allow-past places it anyway (for a replayed or simulated chain)")
    assert cli.json("alice", *ORDER, "--day", yesterday, "--allow-past")["resting_wh"] == 1000
    assert cli.json("alice", *ORDER, "--day", "tomorrow")["day"] == market.day_text(market.today() + 1)


def test_grid_fallback_needs_the_days_grid_prices(cli):
    onboard(cli, "alice", "5")
    before = wallet(cli, "alice")
    error = cli.fails("alice", *ORDER, "--day", DAY, "--grid-fallback")
    assert error.startswith(f"sawgrid: error: --grid-fallback: no grid prices for {DAY} yet")
    assert wallet(cli, "alice") == before, "nothing was placed"
    cli.ok("operator", "operator", "prices", "--day", DAY, "--buy", "0.08", "--sell", "0.30")
    placed = cli.json("alice", "order", "--day", DAY, "--hour", "9", "--kwh", "1", "--max-price", "0.35",
                      "--grid-fallback")
    assert placed["resting_wh"] == 1000


def test_grid_prices_that_invite_arbitrage_are_refused(cli):
    error = cli.fails("operator", "operator", "prices", "--day", DAY, "--buy", "0.31", "--sell", "0.30")
    assert error == ("sawgrid: error: --buy: at hour 0 the grid would buy at 0.3100 EUR/kWh, above its sell "
                     "price 0.3000 EUR/kWh: anyone could buy from the grid and sell back at a profit")


def test_close_reports_the_grid_trades_made_at_gate_closure(cli):
    alice = onboard(cli, "alice", "5")
    cli.ok("operator", "operator", "prices", "--day", DAY, "--buy", "0.08", "--sell", "0.30")
    cli.json("alice", "order", "--day", DAY, "--hour", "9", "--kwh", "1.5", "--max-price", "0.35", "--grid-fallback")
    closed = cli.json("operator", "operator", "close", "--day", DAY, "--hour", "9")
    [contract] = closed["grid_contracts"]
    assert (contract["buyer"], contract["energy_wh"], contract["price_ueur_per_kwh"]) == (alice, 1500, 300_000)
    assert closed["expired"] == 0
    # and in words, for people: the grid's trade with its size
    cli.json("alice", "order", "--day", DAY, "--hour", "10", "--kwh", "2", "--max-price", "0.35", "--grid-fallback")
    text = cli.ok("operator", "operator", "close", "--day", DAY, "--hour", "10")
    assert "the grid took 2.000 kWh in 1 contract(s) at gate closure:" in text


def test_refusals_speak_dates_and_euros(cli):
    onboard(cli, "alice", "0.40")
    error = cli.fails("alice", "order", "--day", DAY, "--hour", "9", "--kwh", "10", "--max-price", "0.30")
    assert "EUR locked" in error and "µEUR" not in error
    cli.ok("operator", "operator", "close", "--day", DAY, "--hour", "11")
    error = cli.fails("alice", "order", "--day", DAY, "--hour", "11", "--kwh", "1", "--max-price", "0.30")
    assert f"hour {DAY} 11:00 is closed" in error
    assert str(units.parse_day(DAY)) not in error, "no internal day numbers"


def test_a_typo_gets_a_suggestion(cli):
    error = cli.fails("alice", "ofer", code=2)
    assert "invalid choice: 'ofer'; did you mean 'offer'?" in error
