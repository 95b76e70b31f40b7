"""Helpers shared by the tests that drive an in-process ledger with real keys."""
from __future__ import annotations

import hashlib

from sawgrid.clients.sdk import keys


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


def named_signer(name: str):
    """A signer whose key is fixed by `name`: for a test whose setup must not
    depend on chance (a validation cluster is drawn from the contract id and
    its seller's and buyer's keys, so random keys give a different draw on
    every run)."""
    return keys.signer_for(keys.private_key_from_hex(hashlib.sha256(f"sawgrid-test/{name}".encode()).hexdigest()))
