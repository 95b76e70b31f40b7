"""One blueprint per page group; the role checks every page uses."""
from __future__ import annotations

from flask import abort, g

from sawgrid.clients.dashboard.sessions import OPERATOR


def signed_in() -> tuple[str, str]:
    """(public key, role), or 401: not signed in, or the session expired."""
    if g.user is None:
        abort(401, description="sign in first (your session may have expired): open /login")
    return g.user


def require_account(public_key: str) -> None:
    """A member sees its own account only (an operator too: its own key's)."""
    me, _ = signed_in()
    if me != public_key:
        abort(403, description="this is another member's account")


def require_operator() -> str:
    me, role = signed_in()
    if role != OPERATOR:
        abort(403, description="the operator page needs an operator key on chain")
    return me
