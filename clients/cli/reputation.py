"""`sawgrid reading`, `sawgrid attest`, `sawgrid reputation`, `sawgrid contract` (being written)."""
from __future__ import annotations


def add_parsers(subparsers) -> None:
    """Adds nothing yet: the reputation commands are being written."""
