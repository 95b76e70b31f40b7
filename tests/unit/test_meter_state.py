"""The meter agent's state file (clients/meter/state.py): what survives a restart."""
from __future__ import annotations

import json

import pytest

from sawgrid.clients.meter.state import AgentState
from sawgrid.clients.sdk.errors import SawgridError

KEY = "02" + "ab" * 32


def test_done_and_pending_survive_a_restart(tmp_path):
    path = tmp_path / "meter.json"
    state = AgentState(path, KEY)
    state.remember("day/1/offers", "b" * 128, b"\x01\x02")
    state.mark_done("read/1/3", "committed")
    again = AgentState(path, KEY)
    assert again.is_done("read/1/3") and not again.is_done("day/1/offers")
    assert again.pending_batch("day/1/offers") == ("b" * 128, b"\x01\x02")
    again.mark_done("day/1/offers", "committed")          # done: no longer pending
    assert AgentState(path, KEY).pending_batch("day/1/offers") is None
    again.remember("day/2/offers", "c" * 128, b"x")
    again.forget("day/2/offers")                          # refused: may be tried afresh
    assert AgentState(path, KEY).pending_batch("day/2/offers") is None


def test_another_keys_state_file_is_refused(tmp_path):
    path = tmp_path / "meter.json"
    AgentState(path, KEY).mark_done("x", "committed")
    with pytest.raises(SawgridError, match="belongs to key"):
        AgentState(path, "03" + "cd" * 32)
    path.write_text("{not json")
    with pytest.raises(SawgridError, match="cannot read"):
        AgentState(path, KEY)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(SawgridError, match="not a meter state file"):
        AgentState(path, KEY)


def test_the_file_is_replaced_whole(tmp_path):
    path = tmp_path / "meter.json"
    state = AgentState(path, KEY)
    state.mark_done("a", "committed")
    assert not (tmp_path / "meter.json.tmp").exists()
    assert json.loads(path.read_text())["done"] == {"a": "committed"}
