"""block_info's handler: the rules of sawtooth-core's block-info-tp
(families/block_info/sawtooth_block_info, Rust; the processor in the official
`hyperledger/sawtooth-block-info-tp` image), re-implemented on
`SawgridHandler` so that devnet and the in-process ledger write exactly the
state a real network writes for the same blocks.

A transaction carries a `BlockInfoTxn`: the BlockInfo of one block (normally
injected by the validator, describing the block before the one being built)
and, optionally, a new `target_count` and `sync_tolerance`.

1. **Payload.** It must parse; `block.previous_block_id` must be 128 hex
   characters or Sawtooth's null block id (16 zeros), `block.signer_public_key`
   66 hex characters, `block.header_signature` 128 hex characters (either
   case, as Rust's `hex::decode`). Nothing else about the payload is checked:
   the spec's "timestamp greater than zero" is not enforced by the original,
   so not here either.
2. **No BlockInfoConfig yet:** this is the first record. The config gets
   latest = oldest = `block.block_num`, and the payload's target_count and
   sync_tolerance, each 256 / 300 s when zero.
3. **A config exists:** a non-zero target_count / sync_tolerance in the
   payload replaces the stored one; `block.block_num` must be latest + 1;
   the timestamp must pass the clock check (below); the BlockInfo of the
   latest block must be in state (else InternalError: state and config out of
   sync, as the original); `block.previous_block_id` must equal its
   `header_signature`; `block.timestamp` must not be smaller than its
   timestamp (equal is allowed).
4. **Clock check (both cases).** `block.timestamp` may be at most
   `sync_tolerance` seconds ahead of this processor's own clock: the
   original refuses it when `now + sync_tolerance < timestamp`, `now` being
   the processor's wall clock in whole seconds. This is the only clock any
   Sawgrid processor consults (injectable for tests as `clock`). It makes a
   timestamp from the future invalid, never one from the past, so
   replaying old blocks stays valid.
5. **Write.** While `block_num - oldest > target_count` the BlockInfo of
   `oldest` is deleted and `oldest` advances (so target_count + 1 records
   stay); the validator must report every one of them deleted (InternalError
   otherwise). Then the config (latest = block_num, oldest, target_count,
   sync_tolerance, the defaults filled in) and the new BlockInfo are set.

The original computes in u64 and is built in release mode, where integer
overflow wraps; `_u64` reproduces that in the three places it could matter
(latest + 1, now + sync_tolerance, block_num - oldest), so even absurd block
numbers lead to the same state. Refusals are `InvalidTransaction`s naming the
field and the reason; the messages are ours, the conditions the original's.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Callable

from google.protobuf.message import DecodeError
from sawtooth_sdk.processor.exceptions import InternalError, InvalidTransaction

from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.block_info.addresses import (
    BLOCK_INFO,
    CONFIG_ADDRESS,
    DEFAULT_SYNC_TOLERANCE,
    DEFAULT_TARGET_COUNT,
    block_info_address,
)
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig, BlockInfoTxn

LOG = logging.getLogger("sawgrid.processors.block_info")

NULL_BLOCK_ID = "0" * 16  # Sawtooth's previous_block_id of block 0
BLOCK_ID_LENGTH = 128
PUBLIC_KEY_LENGTH = 66
_U64 = 1 << 64
_HEX = re.compile(r"[0-9a-fA-F]*")
_SHOWN = 140  # characters of a refused value quoted in a message


def _u64(value: int) -> int:
    """`value` as a wrapping u64 operation in the original yields it."""
    return value % _U64


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and _HEX.fullmatch(value) is not None


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def decode(payload: bytes) -> BlockInfoTxn:
    """The payload, checked as the original checks it (step 1)."""
    try:
        txn = BlockInfoTxn.FromString(payload)
    except DecodeError:
        raise InvalidTransaction("payload: not a BlockInfoTxn protobuf") from None
    block = txn.block
    if not (_is_hex(block.previous_block_id, BLOCK_ID_LENGTH) or block.previous_block_id == NULL_BLOCK_ID):
        raise InvalidTransaction(f"block.previous_block_id: must be {BLOCK_ID_LENGTH} hex characters "
                                 f"(or the null block id {NULL_BLOCK_ID}), got {_shown(block.previous_block_id)}")
    if not _is_hex(block.signer_public_key, PUBLIC_KEY_LENGTH):
        raise InvalidTransaction(f"block.signer_public_key: must be {PUBLIC_KEY_LENGTH} hex characters, "
                                 f"got {_shown(block.signer_public_key)}")
    if not _is_hex(block.header_signature, BLOCK_ID_LENGTH):
        raise InvalidTransaction(f"block.header_signature: must be {BLOCK_ID_LENGTH} hex characters, "
                                 f"got {_shown(block.header_signature)}")
    return txn


@dataclass
class Config:
    """BlockInfoConfig as the original holds it: zero target_count and
    sync_tolerance read as the defaults."""

    latest_block: int
    oldest_block: int
    target_count: int
    sync_tolerance: int

    @classmethod
    def parse(cls, data: bytes) -> "Config":
        try:
            stored = BlockInfoConfig.FromString(data)
        except DecodeError:
            raise InternalError("config: the stored BlockInfoConfig does not parse") from None
        return cls(stored.latest_block, stored.oldest_block,
                   stored.target_count or DEFAULT_TARGET_COUNT,
                   stored.sync_tolerance or DEFAULT_SYNC_TOLERANCE)

    def message(self) -> BlockInfoConfig:
        return BlockInfoConfig(latest_block=self.latest_block, oldest_block=self.oldest_block,
                               target_count=self.target_count, sync_tolerance=self.sync_tolerance)


def read_config(context) -> Config | None:
    entries = context.get_state([CONFIG_ADDRESS])
    return Config.parse(entries[0].data) if entries else None


def read_block(context, block_num: int) -> BlockInfo | None:
    entries = context.get_state([block_info_address(block_num)])
    if not entries:
        return None
    try:
        return BlockInfo.FromString(entries[0].data)
    except DecodeError:
        raise InternalError(f"block {block_num}: the stored BlockInfo does not parse") from None


def _record(block: BlockInfo) -> BlockInfo:
    """The five fields alone: the original re-serializes through its own
    struct, so unknown fields of the payload never reach state."""
    return BlockInfo(block_num=block.block_num, previous_block_id=block.previous_block_id,
                     signer_public_key=block.signer_public_key, header_signature=block.header_signature,
                     timestamp=block.timestamp)


class BlockInfoHandler(SawgridHandler):
    FAMILY = BLOCK_INFO

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # seconds since 1970; consulted only by the sync_tolerance check

    def handle(self, transaction, context) -> None:
        txn = decode(transaction.payload)
        block = txn.block
        config = read_config(context)
        if config is None:
            config = Config(block.block_num, block.block_num,
                            txn.target_count or DEFAULT_TARGET_COUNT,
                            txn.sync_tolerance or DEFAULT_SYNC_TOLERANCE)
            self._check_not_ahead(block.timestamp, config.sync_tolerance)
        else:
            if txn.target_count:
                config.target_count = txn.target_count
            if txn.sync_tolerance:
                config.sync_tolerance = txn.sync_tolerance
            expected = _u64(config.latest_block + 1)
            if block.block_num != expected:
                raise InvalidTransaction(f"block.block_num: must be {expected}, the block after the latest "
                                         f"BlockInfo in state, got {block.block_num}")
            self._check_not_ahead(block.timestamp, config.sync_tolerance)
            previous = read_block(context, config.latest_block)
            if previous is None:
                raise InternalError(f"config: latest_block {config.latest_block} has no BlockInfo in state "
                                    f"(config and state out of sync)")
            if previous.block_num != config.latest_block:
                raise InternalError(f"config: the BlockInfo stored for latest_block {config.latest_block} "
                                    f"says block_num {previous.block_num} (config and state out of sync)")
            if block.previous_block_id != previous.header_signature:
                raise InvalidTransaction(f"block.previous_block_id: must be the header_signature of block "
                                         f"{previous.block_num}, {previous.header_signature}, "
                                         f"got {_shown(block.previous_block_id)}")
            if block.timestamp < previous.timestamp:
                raise InvalidTransaction(f"block.timestamp: must not be earlier than block {previous.block_num}'s "
                                         f"({previous.timestamp}), got {block.timestamp}")
        self._write(context, config, block)

    def _check_not_ahead(self, timestamp: int, sync_tolerance: int) -> None:
        now = int(self.clock())
        if _u64(now + sync_tolerance) < timestamp:
            raise InvalidTransaction(f"block.timestamp: {timestamp} is more than sync_tolerance ({sync_tolerance} s) "
                                     f"ahead of this processor's clock ({now})")

    @staticmethod
    def _write(context, config: Config, block: BlockInfo) -> None:
        deletes = []
        oldest = config.oldest_block
        while _u64(block.block_num - oldest) > config.target_count:
            deletes.append(block_info_address(oldest))
            oldest = _u64(oldest + 1)
        if oldest > config.oldest_block:  # as the original: a wrapped `oldest` is not stored
            config.oldest_block = oldest
        config.latest_block = block.block_num
        if deletes:
            deleted = context.delete_state(deletes)
            if len(deleted) != len(deletes):
                raise InternalError(f"state: {len(deletes)} old BlockInfo records should have been deleted, "
                                    f"the validator deleted {len(deleted)}")
        context.set_state({
            CONFIG_ADDRESS: config.message().SerializeToString(),
            block_info_address(block.block_num): _record(block).SerializeToString(),
        })
