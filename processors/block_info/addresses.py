"""Addresses of Sawtooth's block_info family (namespace 00b10c), per its spec.

* BlockInfoConfig at `00b10c01` followed by 62 zeros;
* the BlockInfo of block N at `00b10c00` followed by N in hex, zero-padded
  to 62 characters.

The namespace is fixed by the spec, not derived from the family name
(sha512("block_info") starts 8363c9), hence `namespace_override`.
"""
from __future__ import annotations

from sawgrid.processors.addressing import Family

FAMILY_NAME = "block_info"
FAMILY_VERSION = "1.0"
NAMESPACE = "00b10c"
BLOCK_INFO_PREFIX = NAMESPACE + "00"
CONFIG_ADDRESS = NAMESPACE + "01" + "0" * 62

BLOCK_INFO = Family(FAMILY_NAME, (FAMILY_VERSION,), namespace_override=NAMESPACE)

# Record kinds (the two characters after the namespace), for the registry.
BLOCK = "00"
CONFIG = "01"

# sawtooth-core families/block_info/.../state.rs: what a zero (unset)
# target_count / sync_tolerance means, in the payload and in the stored config.
DEFAULT_TARGET_COUNT = 256
DEFAULT_SYNC_TOLERANCE = 60 * 5  # seconds


def block_info_address(block_num: int) -> str:
    return BLOCK_INFO_PREFIX + f"{block_num:062x}"
