"""A PAR run that races another run's commit (in-process ledger).

The engine checks whether the day is issued, computes, then submits. If a
concurrent run commits the day in between, the market refuses our batch (the
day's recommendations are final) and the chain stays as the winner left it;
the losing run must report the day as "already issued", exactly as a run
that saw it issued before submitting does, not fail with BatchInvalid.
"""
from __future__ import annotations

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk import market as m
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.par_engine.engine import Engine, EngineConfig
from sawgrid.protos import market_pb2 as pb

DAY = 20_500
PEAK_HOUR = 18
# The chain's time, fixed: each run's settlement step reports the chain time
# it saw, so on the wall clock two runs a second apart would differ. A month
# after DAY, so the day's contracts are past their deadline, as they were.
NOW = (DAY + 30) * 86_400


def new_signer():
    return keys.signer_for(keys.new_private_key())


class RacingClient:
    """A LedgerClient whose first submission is overtaken: `competitor()`
    commits on the real ledger just before the batch reaches it."""

    def __init__(self, inner: InProcessClient, competitor) -> None:
        self.inner = inner
        self.url = inner.url
        self.competitor = competitor
        self.raced = False

    def __getattr__(self, name):  # state, state_prefix, wait, status
        return getattr(self.inner, name)

    def _race(self) -> None:
        if not self.raced:
            self.raced = True
            self.competitor()

    def submit(self, batches):
        self._race()
        return self.inner.submit(batches)

    def submit_and_wait(self, batches, timeout: float = 60.0):
        self._race()
        return self.inner.submit_and_wait(batches, timeout)


@pytest.fixture
def traded_day():
    """alice buys 200 Wh every hour and 5 kWh at 18:00 from bob (PAR 0.08)."""
    ledger = InProcessClient(clock=lambda: NOW)
    operator, alice, bob = new_signer(), new_signer(), new_signer()
    pk = {s: s.get_public_key().as_hex() for s in (alice, bob)}
    m.submit(ledger, operator, m.init(0))
    m.submit(ledger, alice, m.register("alice"))
    m.submit(ledger, bob, m.register("bob"))
    m.submit(ledger, operator, [m.approve(pk[alice]), m.approve(pk[bob]), m.fund(pk[alice], 100_000_000)])
    m.submit(ledger, bob, [m.place_order(pb.SELL, DAY, h, 10_000, 100_000) for h in range(24)])
    wanted = [200] * 24
    wanted[PEAK_HOUR] = 5_000
    m.submit(ledger, alice, [m.place_order(pb.BUY, DAY, h, wh, 200_000) for h, wh in enumerate(wanted)])
    return ledger, operator, pk[alice]


def without_seconds(report) -> dict:
    data = report.to_json()
    data.pop("seconds")
    return data


def test_a_run_overtaken_by_a_concurrent_run_reports_the_day_as_already_issued(traded_day):
    ledger, operator, alice = traded_day
    winner = []
    racing = RacingClient(ledger, lambda: winner.append(Engine(ledger, operator, EngineConfig()).run(DAY)))

    report = Engine(racing, operator, EngineConfig()).run(DAY)

    assert racing.raced and winner[0].status == "issued"
    assert report.status == "already issued" and report.transaction_ids == []
    reader = m.MarketReader(ledger)
    assert report.penalties == list(reader.penalties(DAY + 1).multipliers) == winner[0].penalties
    assert report.penalties[PEAK_HOUR] == 1500 and report.penalties.count(1000) == 23
    # the same outcome a run gets when it sees the day issued before submitting
    assert without_seconds(report) == without_seconds(Engine(ledger, operator, EngineConfig()).run(DAY))


def test_the_losing_run_reports_what_the_winner_issued_not_what_it_computed(traded_day):
    ledger, operator, alice = traded_day
    # the winner runs with a threshold below this day's PAR (0.08): nothing penalised
    lenient = EngineConfig(threshold="0.05")
    racing = RacingClient(ledger, lambda: Engine(ledger, operator, lenient).run(DAY))

    report = Engine(racing, operator, EngineConfig()).run(DAY)

    assert report.status == "already issued"
    assert report.penalties == [1000] * 24 == list(m.MarketReader(ledger).penalties(DAY + 1).multipliers)
    # the winner's recommendation stands; the loser's batch changed nothing
    assert m.MarketReader(ledger).recommendation(DAY + 1, alice) is not None


def test_a_batch_refused_for_another_reason_still_fails(traded_day):
    ledger, _, _ = traded_day
    stranger = new_signer()  # not an operator: the market refuses the batch, the day stays open
    with pytest.raises(BatchInvalid, match="not an operator"):
        Engine(ledger, stranger, EngineConfig()).run(DAY)
    assert m.MarketReader(ledger).penalties(DAY + 1) is None
