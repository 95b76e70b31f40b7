"""Typed access to the records a reputation transaction touches: its own
(Config, Score, Pool, Reading, Settlement) and the market's (Config,
Participant, Wallet, GridPrices, Contract, Position).

It is the market's `MarketState` (one read cache, writes buffered and left in
one `set_state` call from `flush()`, deterministic serialization) with the
reputation records added, so a settlement that moves money and scores writes
both namespaces in that one call.
"""
from __future__ import annotations

from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.market.state import MarketState
from sawgrid.processors.reputation import addresses as raddr
from sawgrid.processors.reputation.settings import DEFAULTS
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb


class ReputationState(MarketState):
    # -- market records this family reads (and, for contracts, writes) ------------------
    def contract_at(self, day: int, hour: int, contract_id: str) -> pb.Contract | None:
        return self._read(maddr.contract_address(day, hour, contract_id), pb.Contract)

    def position_of(self, day: int, hour: int, public_key: str) -> pb.Position | None:
        return self._read(maddr.position_address(day, hour, public_key), pb.Position)

    # -- reputation records --------------------------------------------------------------
    def reputation_config(self) -> rpb.Config | None:
        return self._read(raddr.config_address(), rpb.Config)

    def settings(self) -> rpb.Settings:
        """The on-chain Settings, or DEFAULTS on a chain without a reputation Config."""
        config = self.reputation_config()
        return config.settings if config is not None and config.HasField("settings") else DEFAULTS

    def score(self, public_key: str) -> rpb.Score | None:
        return self._read(raddr.score_address(public_key), rpb.Score)

    def score_or_new(self, public_key: str, settings: rpb.Settings, day: int) -> rpb.Score:
        """The Score record, or a newcomer's (initial score, first_day = `day`)."""
        return self.score(public_key) or rpb.Score(public_key=public_key, score=settings.initial_score,
                                                    first_day=day)

    def pool(self) -> rpb.Pool:
        return self._read(raddr.pool_address(), rpb.Pool) or rpb.Pool()

    def reading(self, day: int, hour: int, public_key: str) -> rpb.Reading | None:
        return self._read(raddr.reading_address(day, hour, public_key), rpb.Reading)

    def settlement(self, day: int, hour: int, contract_id: str) -> rpb.Settlement | None:
        return self._read(raddr.settlement_address(day, hour, contract_id), rpb.Settlement)

    # -- writes ----------------------------------------------------------------------------
    def put_reputation_config(self, config: rpb.Config) -> None:
        self.put(raddr.config_address(), config)

    def put_score(self, score: rpb.Score) -> None:
        self.put(raddr.score_address(score.public_key), score)

    def put_pool(self, pool: rpb.Pool) -> None:
        self.put(raddr.pool_address(), pool)

    def put_reading(self, reading: rpb.Reading) -> None:
        self.put(raddr.reading_address(reading.day, reading.hour, reading.public_key), reading)

    def put_settlement(self, day: int, hour: int, settlement: rpb.Settlement) -> None:
        self.put(raddr.settlement_address(day, hour, settlement.contract_id), settlement)
