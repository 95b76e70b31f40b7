"""Helpers shared by the tests that drive an in-process ledger with real keys."""
from __future__ import annotations


class Clock:
    """The chain's clock, set by hand: the in-process ledger stamps each
    block's BlockInfo with `clock()`; a test moves time by assigning `t`."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def pk(signer) -> str:
    """A signer's public key, hex: what the families name participants by."""
    return signer.get_public_key().as_hex()
