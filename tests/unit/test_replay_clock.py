"""devnet's replay clock (`--clock-file`): the seconds in a file, never decreasing."""
from __future__ import annotations

import pytest

from sawgrid.devnet.replay_clock import FileClock, write


def test_reads_the_file_and_never_goes_back(tmp_path):
    path = tmp_path / "clock"
    write(path, 1_707_696_000)
    clock = FileClock(path)
    assert clock() == 1_707_696_000
    write(path, 1_707_699_600)
    assert clock() == 1_707_699_600
    write(path, 1_707_000_000)          # earlier: ignored
    assert clock() == 1_707_699_600
    path.write_text("half a numb")      # unreadable: the last value
    assert clock() == 1_707_699_600
    path.unlink()
    assert clock() == 1_707_699_600


def test_needs_a_number_at_start(tmp_path):
    with pytest.raises(ValueError, match="--clock-file"):
        FileClock(tmp_path / "missing")
    (tmp_path / "bad").write_text("soon")
    with pytest.raises(ValueError, match="seconds since 1970"):
        FileClock(tmp_path / "bad")
