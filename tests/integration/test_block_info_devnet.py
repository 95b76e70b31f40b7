"""BlockInfo on a real devnet child process with its processors: every block
starts with the BlockInfo batch a Sawtooth validator's block_info injector
makes, and state under 00b10c is what the block_info family writes for it."""
from __future__ import annotations

import base64
import time

import pytest
from google.protobuf import json_format

from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.rest import BatchInvalid, RestClient
from sawgrid.processors import registry
from sawgrid.processors.block_info.addresses import (
    BLOCK_INFO_PREFIX,
    CONFIG_ADDRESS,
    NAMESPACE,
    block_info_address,
)
from sawgrid.processors.inprocess import InProcessLedger
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig, BlockInfoTxn
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.protos.sawtooth import Transaction, TransactionHeader


def commit_in_rounds(client: RestClient, signer, rounds: int = 4, per_round: int = 3) -> None:
    for r in range(rounds):
        client.submit_and_wait([kv_batch(signer, f"r{r}-{i}", b"%d" % i) for i in range(per_round)], timeout=30)


def transactions(block: dict) -> list[dict]:
    return [txn for batch in block["batches"] for txn in batch["transactions"]]


def test_every_block_starts_with_the_injected_block_info(devnet, signer):
    client = RestClient(devnet.url)
    started = int(time.time())
    commit_in_rounds(client, signer)
    blocks = {int(b["header"]["block_num"]): b for b in client.blocks()}
    head = max(blocks)
    assert head >= 2 and sorted(blocks) == list(range(head + 1))
    assert blocks[0]["batches"] == []
    for num in range(1, head + 1):
        block, previous = blocks[num], blocks[num - 1]
        txns = transactions(block)
        first = txns[0]
        assert first["header"]["family_name"] == "block_info" and first["header"]["family_version"] == "1.0"
        assert [t["header"]["family_name"] for t in txns].count("block_info") == 1  # NofX:1, XatY:block_info,0
        assert len(block["batches"][0]["transactions"]) == 1 and len(block["batches"]) >= 2
        assert first["header"]["signer_public_key"] == block["header"]["signer_public_key"]  # local:0
        assert block["batches"][0]["header"]["signer_public_key"] == block["header"]["signer_public_key"]
        assert first["header"]["inputs"] == first["header"]["outputs"] == [CONFIG_ADDRESS, BLOCK_INFO_PREFIX]
        payload = BlockInfoTxn.FromString(base64.b64decode(first["payload"]))
        assert payload.target_count == 0 and payload.sync_tolerance == 0  # the processor's defaults
        info = payload.block
        assert info.block_num == num - 1
        assert info.header_signature == previous["header_signature"]
        assert info.previous_block_id == previous["header"]["previous_block_id"]
        assert info.signer_public_key == previous["header"]["signer_public_key"]
        assert started - 1 <= info.timestamp <= int(time.time()) + 1

    # state under 00b10c: the config and one BlockInfo per block but the head
    entries = dict(client.state_prefix(NAMESPACE))
    config = BlockInfoConfig.FromString(entries.pop(CONFIG_ADDRESS))
    assert config == BlockInfoConfig(latest_block=head - 1, oldest_block=0, target_count=256, sync_tolerance=300)
    infos = [BlockInfo.FromString(data) for _, data in sorted(entries.items())]
    assert [i.block_num for i in infos] == list(range(head))
    assert list(entries) == [block_info_address(n) for n in range(head)]
    for info in infos:
        assert info.header_signature == blocks[info.block_num]["header_signature"]
        assert info.previous_block_id == blocks[info.block_num]["header"]["previous_block_id"]
    assert infos[0].previous_block_id == "0000000000000000"
    stamps = [i.timestamp for i in infos]
    assert stamps == sorted(stamps)
    assert client.state(kv_address("r3-2")) == b"2"


def replay(blocks: list[dict]) -> dict[str, bytes]:
    """Apply the blocks' batches in order, in process, with nothing injected:
    the state a node validating these blocks computes."""
    ledger = InProcessLedger(registry.handlers())
    for block in blocks:
        for batch in block["batches"]:
            txns = []
            for txn in batch["transactions"]:
                header = json_format.ParseDict(txn["header"], TransactionHeader())
                txns.append(Transaction(header=header.SerializeToString(), header_signature=txn["header_signature"],
                                        payload=base64.b64decode(txn["payload"])))
            result = ledger.apply_transactions(txns)
            assert result, result.invalid_message
    return ledger.state


def test_the_blocks_alone_give_the_state(devnet, signer):
    client = RestClient(devnet.url)
    commit_in_rounds(client, signer, rounds=3)
    head = client.head_id()
    blocks = sorted(client.blocks(head=head), key=lambda b: int(b["header"]["block_num"]))
    assert dict(client.state_prefix("", head=head)) == replay(blocks)


def test_submitted_block_info_is_invalid(devnet, signer):
    client = RestClient(devnet.url)
    payload = BlockInfoTxn(block=BlockInfo(block_num=99, previous_block_id="0" * 16, signer_public_key="02" + "a" * 64,
                                           header_signature="b" * 128, timestamp=1)).SerializeToString()
    where = [CONFIG_ADDRESS, BLOCK_INFO_PREFIX]
    batch = make_batch(signer, [make_transaction(signer, "block_info", "1.0", payload, where, where)])
    with pytest.raises(BatchInvalid, match="injected by the validator"):
        client.submit_and_wait([batch], timeout=30)
    client.submit_and_wait([kv_batch(signer, "after")], timeout=30)


def test_block_info_off(make_devnet, signer):
    net = make_devnet(processors=True, extra=("--block-info", "off"))
    client = RestClient(net.url)
    client.submit_and_wait([kv_batch(signer, "plain")], timeout=30)
    assert list(client.state_prefix(NAMESPACE)) == []
    for block in client.blocks():
        assert all(t["header"]["family_name"] != "block_info" for t in transactions(block))
