"""Sign-in by key: the member signs a one-time challenge with its Sawtooth
key on its own machine (`sawgrid login`); the private key never reaches the
dashboard.

A challenge is the text `sawgrid-dashboard-login:` followed by 32 random hex
characters. It is single-use (taken from the book on the first attempt,
right or wrong) and expires after `challenge_ttl` seconds. The signature is
Sawtooth's: secp256k1 over the challenge's bytes (SHA-256 inside), 64 bytes
compact as 128 hex characters, checked with the library Sawtooth itself uses
(sawtooth_signing), as protos/verify.py checks a batch. The fixed prefix
keeps a login signature from ever being a signature over a transaction or
batch header: `sawgrid login` signs nothing else.

The role comes from the chain at sign-in: an operator key of the market's
Config (or its system operator) signs in as operator; a registered
participant as member; any other key is refused.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass

from sawtooth_signing import create_context
from sawtooth_signing.secp256k1 import Secp256k1PublicKey

from sawgrid.clients.dashboard.config import CHALLENGE_TTL, MAX_CHALLENGES, MAX_CHALLENGES_PER_CLIENT
from sawgrid.clients.dashboard.sessions import MEMBER, OPERATOR
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.clients.sdk.market import MarketReader

PREFIX = "sawgrid-dashboard-login:"
CHALLENGE_RE = re.compile(r"^sawgrid-dashboard-login:[0-9a-f]{32}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{128}$")
PUBLIC_KEY_RE = re.compile(r"^(02|03)[0-9a-f]{64}$")
_CONTEXT = create_context("secp256k1")


class SignInRefused(Exception):
    """A failed sign-in: `reason` is a short metric label, str() the message; `status` the HTTP code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


def is_challenge(text: str) -> bool:
    return bool(CHALLENGE_RE.match(text))


def sign(signer, challenge: str) -> str:
    """The signature `sawgrid login` sends: refuses anything but a challenge."""
    if not is_challenge(challenge):
        raise ValueError(f"not a Sawgrid dashboard challenge: {challenge[:80]!r}")
    return signer.sign(challenge.encode())


def signature_valid(challenge: str, public_key: str, signature: str) -> bool:
    try:
        return bool(_CONTEXT.verify(signature, challenge.encode(), Secp256k1PublicKey.from_hex(public_key)))
    except Exception:  # malformed key bytes: the signing library raises various types
        return False


class ChallengeBook:
    """Outstanding challenges, when they expire (monotonic seconds) and for
    which client address. One address holds at most `per_client` at a time,
    so nobody fills the book and locks everyone else out."""

    def __init__(self, ttl: float = CHALLENGE_TTL, limit: int = MAX_CHALLENGES,
                 per_client: int = MAX_CHALLENGES_PER_CLIENT) -> None:
        self.ttl, self.limit, self.per_client = ttl, limit, per_client
        self._issued: dict[str, tuple[float, str]] = {}
        self._per_client: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        expired = [c for c, (t, _) in self._issued.items() if t <= now]
        for challenge in expired:
            self._forget(challenge)

    def _forget(self, challenge: str) -> tuple[float, str] | None:
        entry = self._issued.pop(challenge, None)
        if entry is not None:
            self._per_client[entry[1]] -= 1
            if self._per_client[entry[1]] <= 0:
                del self._per_client[entry[1]]
        return entry

    def issue(self, client: str = "") -> tuple[str, float] | None:
        """(challenge, seconds it stays valid); None while the book, or this
        client's share of it, is full."""
        now = time.monotonic()
        with self._lock:
            if len(self._issued) >= self.limit or self._per_client[client] >= self.per_client:
                self._purge(now)
                if len(self._issued) >= self.limit or self._per_client[client] >= self.per_client:
                    return None
            challenge = PREFIX + secrets.token_hex(16)
            self._issued[challenge] = (now + self.ttl, client)
            self._per_client[client] += 1
        return challenge, self.ttl

    def per_client_full(self, client: str) -> bool:
        """True while `client` holds `per_client` challenges that have not expired."""
        with self._lock:
            if self._per_client[client] < self.per_client:
                return False
            self._purge(time.monotonic())
            return self._per_client[client] >= self.per_client

    def take(self, challenge: str) -> bool:
        """True once for a challenge issued less than ttl seconds ago."""
        with self._lock:
            entry = self._forget(challenge)
        return entry is not None and entry[0] > time.monotonic()


@dataclass(frozen=True)
class SignedIn:
    public_key: str
    role: str


def role_on_chain(ledger: LedgerClient, public_key: str) -> str | None:
    """OPERATOR, MEMBER or None (not on chain), as the market's state has it now."""
    reader = MarketReader(ledger)
    config = reader.config()
    if config is not None and (public_key in config.operators or public_key == config.system_operator):
        return OPERATOR
    return MEMBER if reader.participant(public_key) is not None else None


def check(book: ChallengeBook, ledger: LedgerClient, challenge: str, public_key: str, signature: str) -> SignedIn:
    """The whole sign-in check, in order; SignInRefused says what failed."""
    check_formats(challenge, public_key, signature)
    if not book.take(challenge):
        raise SignInRefused(400, "challenge", "challenge: unknown, already used or expired; get a new one")
    if not signature_valid(challenge, public_key, signature):
        raise SignInRefused(401, "signature", "signature: does not verify for this public key and challenge")
    role = role_on_chain(ledger, public_key)
    if role is None:
        raise SignInRefused(403, "unknown_key", "public_key: not a participant or operator on chain")
    return SignedIn(public_key, role)


def check_formats(challenge: str, public_key: str, signature: str) -> None:
    """SignInRefused (400) unless all three are well-formed."""
    if not is_challenge(challenge):
        raise SignInRefused(400, "malformed", "challenge: not a challenge this dashboard issues")
    if not PUBLIC_KEY_RE.match(public_key):
        raise SignInRefused(400, "malformed", "public_key: expected a compressed secp256k1 key, 66 hex characters")
    if not SIGNATURE_RE.match(signature):
        raise SignInRefused(400, "malformed", "signature: expected 128 lowercase hex characters")
