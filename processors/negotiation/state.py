"""Typed access to the records a negotiation transaction touches: its Session,
and the market's records a converged session writes its contracts into.

It is the market's `MarketState` (one read cache, writes buffered and left in
one `set_state` call, deterministic serialization) with the Session added, as
the reputation family's state is: the contracts, the hour's index, the
parties' positions and the escrow in the buyers' wallets are written through
the market's own record accessors, in the same call as the Session.
"""
from __future__ import annotations

from sawgrid.processors.market.state import MarketState
from sawgrid.processors.negotiation import addresses as addr
from sawgrid.protos import negotiation_pb2 as pb


class NegotiationState(MarketState):
    def session(self, session_id: str) -> pb.Session | None:
        return self._read(addr.session_address(session_id), pb.Session)

    def put_session(self, session: pb.Session) -> None:
        self.put(addr.session_address(session.id), session)
