"""What a fresh chain needs for settlement: the reputation Settings (being written)."""
from __future__ import annotations


def genesis_steps() -> list:
    return []
