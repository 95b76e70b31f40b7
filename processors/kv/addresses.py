"""Where sawgrid-kv keeps its entries: one record kind, keyed by the entry's name."""
from __future__ import annotations

from sawgrid.processors.addressing import Family

KV = Family("sawgrid-kv")
KV_ENTRY = "00"


def kv_address(key: str) -> str:
    """The address of the entry named `key`."""
    return KV.address(KV_ENTRY, key)
