"""The paper's meter behaviour rules on small hand-made cases, and how a run reports its progress."""
import datetime as dt
import io
import logging
import re

import numpy as np
import pytest

from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.simulation.data import Dataset, Participant
from sawgrid.clients.simulation.logs import NOISY_LOGGERS, quiet_third_party_logs
from sawgrid.clients.simulation.progress import Progress
from sawgrid.clients.simulation.results import WITH, WITHOUT
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.simulation.runner import SimConfig, Simulation, signer_for, start_time
from sawgrid.clients.simulation.scenarios import (
    check_same_daily_energy, purchases_with_recommendation, shortfall, surplus,
)


def day(**hours):
    v = np.zeros(24, dtype=np.int64)
    for h, x in hours.items():
        v[int(h[1:])] = x
    return v


def test_without_recommendations_buy_shortfall_sell_surplus():
    c = day(h8=500, h12=100, h19=900)
    p = day(h12=400, h19=200)
    assert list(shortfall(c, p)) == list(day(h8=500, h19=700))
    assert list(surplus(c, p)) == list(day(h12=300))


def test_rule_1_no_recommendation_buys_as_without():
    need = day(h19=700)
    assert list(purchases_with_recommendation(need, None)) == list(need)
    assert list(purchases_with_recommendation(need, [0] * 24)) == list(need)


def test_rule_2_follow_and_stop_when_enough():
    need = day(h19=700)                      # needs 700 Wh in total
    rec = day(h2=300, h3=300, h4=300, h5=300)
    assert list(purchases_with_recommendation(need, rec)) == list(day(h2=300, h3=300, h4=100))


def test_rule_3_spread_the_rest_evenly_over_recommended_hours():
    need = day(h18=900, h19=900)             # 1800 Wh
    rec = day(**{f"h{h}": 100 for h in range(0, 12)})   # 12 hours x 100 = 1200
    bought = purchases_with_recommendation(need, rec)
    assert bought.sum() == 1800
    assert list(bought[:12]) == [150] * 12 and bought[12:].sum() == 0


def test_rule_4_few_hours_and_a_big_spread_buys_as_without():
    need = day(h19=5000)
    rec = day(h2=100, h3=100)                # 2 hours; the rest (4800) would add 2400/h > 300
    assert list(purchases_with_recommendation(need, rec)) == list(need)
    assert purchases_with_recommendation(need, rec, spread_limit_wh=10_000).tolist() == day(h2=2500, h3=2500).tolist()


@pytest.mark.parametrize("seed", range(20))
def test_daily_energy_is_preserved(seed):
    rng = np.random.default_rng(seed)
    need = rng.integers(0, 800, 24) * (rng.random(24) < 0.4)
    rec = rng.integers(0, 500, 24) * (rng.random(24) < 0.5)
    assert purchases_with_recommendation(need, rec).sum() == need.sum()
    assert (purchases_with_recommendation(need, rec) >= 0).all()


def test_check_same_daily_energy_catches_a_difference():
    a = np.zeros((2, 48), dtype=np.int64)
    b = a.copy()
    b[1, 30] = 5
    check_same_daily_energy(a, a, a, a)
    with pytest.raises(AssertionError, match="participant 1, day 1: bought"):
        check_same_daily_energy(a, b, a, a)


# --------------------------------------------------------------------------- progress of a run

class Clock:
    """A fake monotonic clock: every call moves time on by `step` seconds."""

    def __init__(self, step: float = 0.5) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class FlushLog(io.StringIO):
    """A non-TTY stream that records what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        super().flush()
        self.flushed.append(self.getvalue())


def test_progress_off_a_terminal_prints_one_flushed_line_per_day():
    out = FlushLog()
    p = Progress(stream=out, clock=Clock())
    assert not p.interactive                       # a StringIO is not a TTY
    p.phase("setup: 2 participants")
    p.begin("without recommendations", 3, 24)
    for d in range(3):
        for _ in range(24):
            p.hour("an hour")                       # no line: 12 s pass in a day here
        p.day(d, f"2024-02-{12 + d}")
    p.end()
    lines = out.getvalue().splitlines()
    # clock: 0.5 at construction, +0.5 per call; every line and every hour reads it
    assert lines == [
        "[    0.5 s] setup: 2 participants",
        "[    1.5 s] without recommendations: trading 3 days",
        "[   14.5 s] without recommendations: day 1/3 (2024-02-12) done in 13.0 s",
        "[   27.5 s] without recommendations: day 2/3 (2024-02-13) done in 13.0 s",
        "[   40.5 s] without recommendations: day 3/3 (2024-02-14) done in 13.0 s",
        "[   41.5 s] without recommendations: 3 days done in 40.0 s",
    ]
    assert "\r" not in out.getvalue() and "left" not in out.getvalue() and "eta" not in out.getvalue().lower()
    # each line was flushed as it was written, not at the end
    assert [s.count("\n") for s in out.flushed] == [1, 2, 3, 4, 5, 6]


def test_progress_off_a_terminal_reports_an_hour_when_a_day_is_long():
    """A 10,000-participant day takes minutes: a log still hears from the run
    every HOUR_LINE_SECONDS, with the hour reached."""
    out = io.StringIO()
    p = Progress(stream=out, clock=Clock(step=4.0))
    p.begin("with recommendations", 1, 24)
    for h in range(24):
        p.hour(f"2024-02-12 {h:02d}:00")
    p.day(0, "2024-02-12")
    text = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    # 4 s per hour, and each line reads the clock too: 30 s since the last line every 8th hour
    assert [t for t in text if ": hour " in t] == [
        "with recommendations: hour 8/24 (2024-02-12 07:00) done",
        "with recommendations: hour 16/24 (2024-02-12 15:00) done",
        "with recommendations: hour 24/24 (2024-02-12 23:00) done"]
    assert text[-1].startswith("with recommendations: day 1/1 (2024-02-12) done in ")


def test_progress_disabled_prints_nothing():
    out = io.StringIO()
    p = Progress(enabled=False, stream=out, clock=Clock())
    p.phase("setup")
    p.begin("with recommendations", 2, 24)
    p.hour("x")
    p.day(0, "2024-02-12")
    p.end()
    assert out.getvalue() == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_is_a_tqdm_bar_without_eta():
    out = Terminal()
    p = Progress(stream=out)
    assert p.interactive
    p.begin("with recommendations", 2, 24)
    for d in range(2):
        for h in range(24):
            p.hour(f"2024-02-{12 + d} {h:02d}:00")
        p.day(d, f"2024-02-{12 + d}")
    p.end()
    text = out.getvalue()
    assert "\r" in text                                           # redrawn in place
    final = text.split("\r")[-1].splitlines()[0]                  # the bar as it was left
    assert final.startswith("with recommendations: 100%|") and "48/48 h" in final
    assert "2024-02-13 23:00" in final
    assert "<" not in final and "?" not in final                  # no remaining time
    assert "day 1/2" not in text                                  # day lines are for logs only
    assert re.fullmatch(r"\[ +\d+\.\d s\] with recommendations: 2 days done in \d+\.\d s",
                        text.splitlines()[-1])                    # after the closed bar, on its own line


def tiny_dataset(days: int = 3) -> Dataset:
    """Two participants: a producer with a midday surplus and an evening consumer."""
    cons = np.zeros((2, days * 24), dtype=np.int64)
    prod = np.zeros_like(cons)
    for d in range(days):
        prod[0, d * 24 + 10: d * 24 + 15] = 900
        cons[0, d * 24: (d + 1) * 24] = 100
        cons[1, d * 24 + 17: d * 24 + 21] = 700 + 50 * d
        cons[1, d * 24: (d + 1) * 24] += 50
    return Dataset(start=dt.date(2024, 2, 12), participants=(Participant("a", "household", has_pv=True),
                                                             Participant("b", "household")),
                   consumption=cons, production=prod, source="test")


def test_a_run_off_a_terminal_prints_each_phase_and_each_day():
    out = io.StringIO()
    clock = ReplayClock(start_time(tiny_dataset()))
    sim = Simulation(tiny_dataset(), SimConfig(seed=1), InProcessClient(clock=clock), signer_for(1, "operator"),
                     signed=False, mode="fast", progress=Progress(stream=out), clock=clock)
    result = sim.run()
    assert result.with_.contracts > 0
    text = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    days = [t for t in text if ": day " in t]
    assert [t.split(" done in ")[0] for t in days] == [
        f"{name}: day {d + 1}/3 (2024-02-{12 + d})" for name in (WITHOUT, WITH) for d in range(3)]
    assert text[0] == "setup: 2 participants, 2 scenarios x 3 days (fast)"
    assert text[1].startswith("enrollment: 0 meter(s) enrolled by 2 first verifier(s)")   # both certified by the CA
    assert text.index(f"{WITHOUT}: reading the contracts back") < text.index(f"{WITH}: trading 3 days")
    assert text[-1].startswith("simulation done in ")
    assert text[-5:-1] == ["with reputation: expiring what the last day left, archiving the last day",
                           "statistics: reading the contracts back", "reputation: reading the settlement back",
                           "archive: verifying every day's record"]
    # setup, enrollment; per scenario: trading, days, done, reading; the last day's expire and archive,
    # the statistics, the settlement read back, the archive verified; end
    assert len(text) == 2 + 2 * (1 + 3 + 1 + 1) + 4 + 1


def test_simulate_json_keeps_progress_on_stderr_and_only_json_on_stdout(tmp_path, capsys):
    import json

    from sawgrid.clients.cli.main import main

    assert main(["simulate", "--fast", "--participants", "2", "--days", "3", "--seed", "1",
                 "--out", str(tmp_path / "run"), "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)                                       # nothing but the JSON on stdout
    assert doc["folder"] == str(tmp_path / "run")
    lines = [line.split("] ", 1)[1] for line in err.splitlines() if line.startswith("[")]
    assert lines[0] == "setup: 2 participants, 2 scenarios x 3 days (fast)"
    assert f"{WITH}: day 3/3 (2024-02-14)" in [line.split(" done in ")[0] for line in lines]
    assert lines[-1].startswith("simulation done in ")


def test_quiet_third_party_logs_leaves_warnings_and_explicit_levels():
    noisy, chosen = "sawgrid-test-noisy-lib", "sawgrid-test-configured-lib"
    logging.getLogger(chosen).setLevel(logging.DEBUG)
    quiet_third_party_logs((noisy, chosen))
    assert not logging.getLogger(noisy).isEnabledFor(logging.INFO)
    assert logging.getLogger(noisy).isEnabledFor(logging.WARNING)
    assert logging.getLogger(chosen).level == logging.DEBUG
    assert "matplotlib" in NOISY_LOGGERS                          # its font-cache INFO line
