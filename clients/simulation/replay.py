"""The chain's clock during a replay of past days.

Settlement is checked against chain time (BlockInfo): a meter reads once the
delivery hour is over, before its deadline (hour end + settle_window), and
the operator may expire what is left only after it. The experiment replays a
past week in minutes, so it moves the chain's clock itself, hour by hour:

* `--fast`: the in-process ledger stamps each batch's BlockInfo with
  `clock()` (`InProcessClient(clock=clock)`);
* its own devnet: `sawgrid devnet --clock-file PATH` stamps each block's
  BlockInfo with the seconds in PATH (devnet/replay_clock.py), which
  `set()` rewrites.

Either way the chain's time is exactly the value last `set()` before a batch
is submitted, so both modes settle the same contracts at the same chain
seconds. A network's clock (`--url`) cannot be moved; the run then does not
settle (see runner.py).
"""
from __future__ import annotations

from pathlib import Path

from sawgrid.devnet.replay_clock import write


class ReplayClock:
    """Chain seconds, moved forward by the run (never back)."""

    def __init__(self, start: int, path: Path | None = None) -> None:
        self.seconds = int(start)
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            write(self.path, self.seconds)

    def __call__(self) -> float:
        return float(self.seconds)

    def set(self, seconds: int) -> None:
        """Move the clock to `seconds`, if that is later than now."""
        if seconds > self.seconds:
            self.seconds = int(seconds)
            if self.path is not None:
                write(self.path, self.seconds)
