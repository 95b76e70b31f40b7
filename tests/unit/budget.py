"""How many examples the property and fuzz tests try.

All of them in CI (`.ci/run` runs with CI=true) and whenever
SAWGRID_THOROUGH=1 is set; a fifth (at least 10) on a developer's quick
`pytest -m "not integration"` loop, which keeps that loop under a minute on
a 2-core machine. The tests assert the same properties either way; only the
number of generated cases differs.
"""
from __future__ import annotations

import os

THOROUGH = bool(os.environ.get("CI") or os.environ.get("SAWGRID_THOROUGH"))
DEV_SHARE = 5


def examples(n: int) -> int:
    """`n` examples when thorough, else n // 5 (at least 10)."""
    return n if THOROUGH else max(10, n // DEV_SHARE)
