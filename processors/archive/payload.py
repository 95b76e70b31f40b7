"""Decoding an archive payload and checking every field before anything is read.

Each check raises `InvalidTransaction` whose message starts with the field
(`archive_day.day: ...`), as the market's do.
"""
from __future__ import annotations

from sawgrid.processors.checks import check_range, decode_action
from sawgrid.processors.market import units as u
from sawgrid.protos import archive_pb2 as pb

# Retention is counted in archived days back from the newest one; at least the
# newest day stays, and a century is plenty.
DEFAULT_RETENTION_DAYS = 7     # a chain without an archive Config (and devnet's genesis)
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 36_500


def _check_day(name: str):
    def check(m) -> None:
        check_range(f"{name}.day", m.day, 0, u.MAX_DAY)
    return check


def _check_configure(m: pb.Configure) -> None:
    check_range("configure.retention_days", m.retention_days, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS)


_CHECKS = {
    "archive_day": _check_day("archive_day"),
    "prune_day": _check_day("prune_day"),
    "configure": _check_configure,
}


def decode(raw: bytes) -> tuple[str, object]:
    """(action name, its message) of a well-formed payload; InvalidTransaction otherwise."""
    return decode_action(raw, pb.ArchivePayload, _CHECKS)
