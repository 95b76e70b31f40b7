"""Addresses of Sawtooth's block_info family (namespace 00b10c), per its spec.

* BlockInfoConfig at `00b10c01` followed by 62 zeros;
* the BlockInfo of block N at `00b10c00` followed by N in hex, zero-padded
  to 62 characters.
"""
from __future__ import annotations

FAMILY_NAME = "block_info"
FAMILY_VERSION = "1.0"
NAMESPACE = "00b10c"
BLOCK_INFO_PREFIX = NAMESPACE + "00"
CONFIG_ADDRESS = NAMESPACE + "01" + "0" * 62


def block_info_address(block_num: int) -> str:
    return BLOCK_INFO_PREFIX + f"{block_num:062x}"
