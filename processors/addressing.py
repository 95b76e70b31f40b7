"""State addressing for every Sawgrid family: one place, typed sub-prefixes.

A Sawtooth address is 70 lowercase hex characters. Ours are laid out as

    namespace (6) | record kind (2) | key digest (62)

so that `GET /state?address=<namespace><kind>` returns exactly one kind of
record (all participants, all contracts, ...). The namespace is the first six
hex characters of sha512(family name), as Sawtooth's convention wants,
unless the family's spec fixes it (`Family(..., namespace_override=...)`:
Sawtooth's own block_info family lives at 00b10c).
"""
from __future__ import annotations

import functools
import hashlib
import re

from sawgrid.protos.sawtooth import ADDRESS_LENGTH, NAMESPACE_LENGTH, is_address, is_public_key

KIND_LENGTH = 2
KEY_LENGTH = ADDRESS_LENGTH - NAMESPACE_LENGTH - KIND_LENGTH


def sha512_hex(data: bytes | str) -> str:
    """Lowercase hex sha512 of `data` (str is UTF-8 encoded)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha512(data).hexdigest()


def namespace(family_name: str) -> str:
    """The 6-hex-char namespace Sawtooth derives from a family name."""
    return sha512_hex(family_name)[:NAMESPACE_LENGTH]


@functools.lru_cache(maxsize=65_536)
def _key_digest(key: str) -> str:
    """sha512 of a record key: the same few keys (a participant, a day's book)
    are addressed again and again, so it is worth remembering."""
    return sha512_hex(key)


class Family:
    """Addresses of one transaction family: `Family("market").address(KIND, key)`."""

    def __init__(self, name: str, versions: tuple[str, ...] = ("1.0",), namespace_override: str | None = None) -> None:
        """`namespace_override`: for a family whose namespace is fixed by its
        spec rather than derived from its name (Sawtooth's block_info: 00b10c)."""
        if namespace_override is not None and not re.fullmatch(r"[0-9a-f]{%d}" % NAMESPACE_LENGTH, namespace_override):
            raise ValueError(f"namespace must be {NAMESPACE_LENGTH} lowercase hex chars, got {namespace_override!r}")
        self.name = name
        self.versions = versions
        self.namespace = namespace_override if namespace_override is not None else namespace(name)

    @functools.lru_cache(maxsize=256)
    def prefix(self, kind: str) -> str:
        """The 8-hex-char prefix under which all records of `kind` live."""
        if len(kind) != KIND_LENGTH or not re.fullmatch(r"[0-9a-f]{2}", kind):
            raise ValueError(f"record kind must be 2 lowercase hex chars, got {kind!r}")
        return self.namespace + kind

    def address(self, kind: str, *key_parts: str | int) -> str:
        """Address of the record of `kind` identified by `key_parts`.

        The parts are joined with '/' and hashed, so any stable identifier
        (a public key, 'day/hour', a contract id) maps to one address.
        """
        key = "/".join(str(part) for part in key_parts)
        return self.prefix(kind) + _key_digest(key)[:KEY_LENGTH]

    def scoped_address(self, kind: str, scope: str, *key_parts: str | int) -> str:
        """Address under `prefix(kind) + scope`, so that a prefix query on the
        scope (e.g. a day as 8 hex chars) returns just that day's records."""
        if not re.fullmatch(r"[0-9a-f]*", scope) or len(scope) >= KEY_LENGTH:
            raise ValueError(f"scope must be fewer than {KEY_LENGTH} lowercase hex chars, got {scope!r}")
        key = "/".join(str(part) for part in key_parts)
        return self.prefix(kind) + scope + _key_digest(key)[: KEY_LENGTH - len(scope)]

    def __repr__(self) -> str:
        return f"Family({self.name!r}, namespace={self.namespace!r})"


__all__ = ["ADDRESS_LENGTH", "NAMESPACE_LENGTH", "KIND_LENGTH", "KEY_LENGTH", "Family",
           "is_address", "is_public_key", "namespace", "sha512_hex"]
