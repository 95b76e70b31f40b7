"""A one-line progress bar on stderr (quiet when stderr is not a terminal)."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool | None = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self.width = width
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def advance(self, steps: int = 1, note: str = "") -> None:
        self.done = min(self.total, self.done + steps)
        if not self.enabled:
            return
        fraction = self.done / self.total
        elapsed = time.monotonic() - self.started
        eta = elapsed / fraction - elapsed if fraction else 0
        bar = "#" * int(self.width * fraction)
        sys.stderr.write(f"\r{self.label:<28} [{bar:<{self.width}}] {100 * fraction:5.1f}%  "
                         f"eta {eta:4.0f}s  {note:<30}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{self.label:<28} done in {time.monotonic() - self.started:.1f}s{' ' * 50}\n")
            sys.stderr.flush()
