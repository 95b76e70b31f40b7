"""BlockInfo injection: devnet as a Sawtooth validator whose genesis set

    sawtooth.validator.batch_injectors=block_info
    sawtooth.validator.block_validation_rules=NofX:1,block_info;XatY:block_info,0;local:0

What such a validator does (sawtooth-core 1.2, `journal/block_info_injector.py`
and `candidate_block.rs`), and so devnet:

* When it starts a block, before the first batch, it makes one batch signed
  by its own key, holding one `block_info` 1.0 transaction whose BlockInfoTxn
  describes the previous block (the chain head): its block_num,
  previous_block_id, signer_public_key and header_signature, and `timestamp`
  = the validator's wall clock in whole seconds. target_count and
  sync_tolerance are left unset (0), so the processor keeps the stored values
  (defaults 256 and 300 s). Inputs and outputs: the config address and the
  BlockInfo prefix; no nonce, no dependencies. It goes first in the block.
* A block is never made of injected batches alone: when no other batch of
  the round is valid, there is no block (and the next round injects anew).
* The block validation rules: at most one block_info transaction per block
  (NofX:1), and it is the block's first transaction (XatY:...,0), signed by
  the block's signer (local:0). A block whose injected batch is not valid is
  therefore never published; devnet then publishes nothing that round and
  tries again, as the validator's block would fail its own validation.
  A *submitted* block_info transaction can never be in such a block: a
  validator silently leaves it out; devnet reports it INVALID, saying why
  (README.md, "Deliberate differences").

The injected batch is part of the block, so the state root is the one a real
validator computes for the same blocks. It runs before the block's other
batches (they may read the clock it sets) and does not count against
`--max-batches` (a validator's max_batches_per_block counts it).

When (`Ledger(block_info=...)`, `sawgrid devnet --block-info`):

* `on`: every block from now on starts with the injected batch; blocks wait
  while no block_info processor is registered (as a network with the
  setting waits for its block-info-tp). `sawgrid devnet --processors` uses it:
  it serves the block_info processor itself.
* `auto` (devnet's default): inject whenever a block_info 1.0 processor is
  registered. Once the chain holds a BlockInfoConfig it behaves as `on` (the
  chain has started using the clock; a block without BlockInfo would break
  its sequence). Before that, with no such processor, blocks carry none: a
  devnet serving only other families works as before.
* `off`: never inject, and submitted block_info transactions are ordinary
  ones (a network without the setting).

devnet knows no family: these constants are the validator's own, as
sawtooth-core's validator keeps its copy of the block_info addresses
(tests/unit/test_block_info.py checks they equal processors/block_info's).
"""
from __future__ import annotations

from typing import Callable

from sawtooth_signing import Signer

from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoTxn
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.protos.sawtooth import Batch, Block, BlockHeader

FAMILY_NAME = "block_info"
FAMILY_VERSION = "1.0"
NAMESPACE = "00b10c"
BLOCK_INFO_PREFIX = NAMESPACE + "00"
CONFIG_ADDRESS = NAMESPACE + "01" + "0" * 62

ON = "on"
AUTO = "auto"
OFF = "off"
MODES = (AUTO, ON, OFF)

INJECT = "inject"  # this block starts with the BlockInfo batch
WAIT = "wait"      # no block until a block_info processor registers
NONE = "none"      # this block carries no BlockInfo

REFUSED_MESSAGE = ("block_info transactions are injected by the validator, never submitted "
                   "(block_validation_rules NofX:1,block_info; XatY:block_info,0; local:0)")


def block_info_batch(signer: Signer, previous: Block, timestamp: int) -> Batch:
    """The batch a Sawtooth validator's block_info injector makes at the
    start of the block after `previous`."""
    header = BlockHeader.FromString(previous.header)
    payload = BlockInfoTxn(block=BlockInfo(
        block_num=header.block_num,
        previous_block_id=header.previous_block_id,
        signer_public_key=header.signer_public_key,
        header_signature=previous.header_signature,
        timestamp=timestamp,
    )).SerializeToString()
    where = [CONFIG_ADDRESS, BLOCK_INFO_PREFIX]
    return make_batch(signer, [make_transaction(signer, FAMILY_NAME, FAMILY_VERSION, payload, where, where,
                                                nonce="")])


def decide(mode: str, registered: frozenset[tuple[str, str]], chain_has_block_info: Callable[[], bool]) -> str:
    """INJECT, WAIT or NONE for the next block (see the module docstring)."""
    if mode == OFF:
        return NONE
    if (FAMILY_NAME, FAMILY_VERSION) in registered:
        return INJECT
    if mode == ON or chain_has_block_info():
        return WAIT
    return NONE


def refuses_submitted(mode: str) -> bool:
    """Whether submitted block_info transactions are INVALID (the validation rules are on)."""
    return mode != OFF
