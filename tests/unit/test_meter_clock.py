"""The market clock's time (clients/clock/timebase.py): real or simulated, and
a simulated clock's file that devnet stamps its blocks with."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from sawgrid.clients.clock.timebase import RealTime, SimTime, parse_clock
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.devnet.replay_clock import FileClock


def test_real_and_simulated_clocks_parse():
    assert isinstance(parse_clock("real"), RealTime)
    sim = parse_clock("sim:2024-02-11T23:00:00:3600")
    assert sim.start == int(dt.datetime(2024, 2, 11, 23, tzinfo=dt.timezone.utc).timestamp())
    assert sim.speed == 3600
    assert parse_clock("sim:2024-02-11:10").start == int(dt.datetime(2024, 2, 11, tzinfo=dt.timezone.utc).timestamp())
    assert parse_clock("sim:1707692400:2").start == 1707692400
    for bad, why in (("fast", "expected 'real'"), ("sim:2024-02-11", "expected 'real'"),
                     ("sim:2024-02-11:fast", "SPEED must be a number"),
                     ("sim:yesterday:10", "START must be"), ("sim:2024-02-11:0", "SPEED must be in")):
        with pytest.raises(SawgridError, match=why):
            parse_clock(bad)


def test_a_simulated_clock_runs_fast_writes_devnets_file_and_resumes_never_back(tmp_path):
    path = tmp_path / "clock"
    sim = SimTime(1000, 1000.0, path)
    first = sim.now()
    time.sleep(0.05)
    later = sim.now()
    assert 1000 <= first < later and later - first >= 40        # 0.05 s at x1000
    assert FileClock(path)() == later                           # what devnet stamps its blocks with
    resumed = SimTime(1000, 1000.0, path, resume_from=later + 500)
    assert resumed.now() >= later + 500                          # a restart goes on from where it was
