"""The chain's time, for any family's handler: the timestamp of the latest
BlockInfo in state.

    from sawgrid.processors.block_info.clock import CLOCK_INPUTS, chain_time

    # the transaction declares CLOCK_INPUTS among its inputs (client side)
    now = chain_time(context)          # int seconds since 1970, or None

A validator with the block_info batch injector (and devnet, and the
in-process ledger behind `--fast` and `InProcessClient`) puts a BlockInfo
transaction first in every block, describing the previous block and
stamped with the publishing validator's wall clock. So within block N,
`chain_time` is when the validator started building block N (the timestamp
of BlockInfo N-1): the same value for every transaction of the block, on
every node, replayed or not, and never decreasing from block to block. It is None on a chain without BlockInfo yet (nothing injected so far,
or a plain `InProcessLedger` in a handler unit test): callers decide what
that means for them.

Reading only: the block_info family alone writes under 00b10c.
"""
from __future__ import annotations

from sawgrid.processors.block_info.addresses import BLOCK_INFO_PREFIX, CONFIG_ADDRESS, block_info_address
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig

# What a transaction that calls `chain_time` must declare among its inputs:
# the config address, and the prefix of every BlockInfo record.
CLOCK_INPUTS: tuple[str, ...] = (CONFIG_ADDRESS, BLOCK_INFO_PREFIX)


def latest_block_info(context) -> BlockInfo | None:
    """The newest BlockInfo in state (BlockInfoConfig.latest_block), or None.

    A record that does not parse raises protobuf's DecodeError, which the
    caller's `SawgridHandler` turns into InvalidTransaction; a config whose
    latest record is missing (state out of sync, never written by the
    block_info family) reads as no BlockInfo."""
    entries = context.get_state([CONFIG_ADDRESS])
    if not entries:
        return None
    config = BlockInfoConfig.FromString(entries[0].data)
    entries = context.get_state([block_info_address(config.latest_block)])
    if not entries:
        return None
    return BlockInfo.FromString(entries[0].data)


def chain_time(context) -> int | None:
    """Seconds since 1970 (UTC) of the latest BlockInfo, or None when there is none."""
    info = latest_block_info(context)
    return None if info is None else info.timestamp


__all__ = ["CLOCK_INPUTS", "chain_time", "latest_block_info"]
