"""What every family's payload module shares: refusals that name their field,
the common field checks, and decoding a payload whose actions are a oneof.

Every refusal is an `InvalidTransaction` whose message starts with the field
(`place_order.energy: must be 1..1000000000 Wh, got 0`), so a client sees
exactly what to fix.
"""
from __future__ import annotations

from typing import Callable, Mapping

from google.protobuf.message import DecodeError, Message
from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.addressing import is_public_key


def invalid(field: str, reason: str) -> InvalidTransaction:
    """The refusal of `field`, for `reason`."""
    return InvalidTransaction(f"{field}: {reason}")


def check_public_key(field: str, value: str) -> None:
    if not is_public_key(value):
        raise invalid(field, "not a compressed secp256k1 public key (66 lowercase hex chars)")


def check_range(field: str, value: int, low: int, high: int, unit: str = "") -> None:
    if not low <= value <= high:
        raise invalid(field, f"must be {low}..{high}{' ' + unit if unit else ''}, got {value}")


def decode_action(raw: bytes, payload_type: type[Message],
                  checks: Mapping[str, Callable[[Message], None]]) -> tuple[str, Message]:
    """(action name, its message) of a payload whose actions are its oneof
    `action`, after `checks[action]` accepted the message; InvalidTransaction
    naming `payload` (or the failing field) otherwise."""
    try:
        payload = payload_type.FromString(raw)
    except DecodeError:
        raise invalid("payload", f"not a{'n' if payload_type.__name__[0] in 'AEIOU' else ''} "
                                 f"{payload_type.__name__} protobuf") from None
    action = payload.WhichOneof("action")
    if action is None:
        raise invalid("payload", "no action set")
    message = getattr(payload, action)
    checks[action](message)
    return action, message
