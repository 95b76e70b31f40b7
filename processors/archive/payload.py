"""Decoding an archive payload and checking every field before anything is read.

Each check raises `InvalidTransaction` whose message starts with the field
(`archive_day.day: ...`), as the market's do.
"""
from __future__ import annotations

from google.protobuf.message import DecodeError
from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.market import units as u
from sawgrid.protos import archive_pb2 as pb

# Retention is counted in archived days back from the newest one; at least the
# newest day stays, and a century is plenty.
DEFAULT_RETENTION_DAYS = 7     # a chain without an archive Config (and devnet's genesis)
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 36_500


def invalid(field: str, reason: str) -> InvalidTransaction:
    return InvalidTransaction(f"{field}: {reason}")


def check_range(field: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise invalid(field, f"must be {low}..{high}, got {value}")


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
    try:
        payload = pb.ArchivePayload.FromString(raw)
    except DecodeError:
        raise invalid("payload", "not an ArchivePayload protobuf") from None
    action = payload.WhichOneof("action")
    if action is None:
        raise invalid("payload", "no action set")
    message = getattr(payload, action)
    _CHECKS[action](message)
    return action, message
