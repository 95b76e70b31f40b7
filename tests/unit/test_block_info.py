"""block_info: the handler's rules (sawtooth-core's block-info-tp), pruning,
`chain_time`, and the in-process ledger's BlockInfo injection."""
from __future__ import annotations

import itertools

import pytest
from sawtooth_sdk.processor.exceptions import InternalError, InvalidTransaction
from sawtooth_sdk.protobuf import block_info_pb2 as sawtooth_block_info_pb2

from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.processors import registry
from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.addressing import Family
from sawgrid.processors.block_info.addresses import (
    BLOCK_INFO_PREFIX,
    CONFIG_ADDRESS,
    DEFAULT_SYNC_TOLERANCE,
    DEFAULT_TARGET_COUNT,
    FAMILY_NAME,
    FAMILY_VERSION,
    NAMESPACE,
    block_info_address,
)
from sawgrid.processors.block_info.clock import CLOCK_INPUTS, chain_time
from sawgrid.processors.block_info.handler import BlockInfoHandler
from sawgrid.processors.inprocess import (
    BlockInfoRejected,
    InProcessLedger,
    unsigned_batch,
    unsigned_transaction,
)
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.processors.kv.handler import KvHandler
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig, BlockInfoTxn

NOW = 1_700_000_000
SIGNER = "02" + "ab" * 32
WHERE = [CONFIG_ADDRESS, BLOCK_INFO_PREFIX]


def block_id(n: int) -> str:
    return f"{n:0128x}"


def info_payload(n: int, timestamp: int = NOW, previous: str | None = None, header: str | None = None,
                 signer: str = SIGNER, **extra) -> bytes:
    if previous is None:
        previous = block_id(n - 1) if n > 0 else "0" * 16
    block = BlockInfo(block_num=n, previous_block_id=previous, signer_public_key=signer,
                      header_signature=header if header is not None else block_id(n), timestamp=timestamp)
    return BlockInfoTxn(block=block, **extra).SerializeToString()


def info_txn(payload: bytes, inputs=WHERE, outputs=WHERE):
    return unsigned_transaction(FAMILY_NAME, FAMILY_VERSION, payload, inputs, outputs, SIGNER)


def new_ledger(clock=lambda: NOW) -> InProcessLedger:
    return InProcessLedger([BlockInfoHandler(clock=clock)])


def apply(ledger: InProcessLedger, n: int, **kwargs):
    return ledger.apply(info_txn(info_payload(n, **kwargs)))


def config(ledger: InProcessLedger) -> BlockInfoConfig:
    return BlockInfoConfig.FromString(ledger.get(CONFIG_ADDRESS))


def stored(ledger: InProcessLedger) -> list[int]:
    return [BlockInfo.FromString(data).block_num for data in ledger.items(BLOCK_INFO_PREFIX).values()]


def chain(length: int, ledger: InProcessLedger | None = None, **first) -> InProcessLedger:
    ledger = ledger or new_ledger()
    assert apply(ledger, 0, **first)
    for n in range(1, length):
        result = apply(ledger, n)
        assert result, result.invalid_message
    return ledger


# ------------------------------------------------------------------ the family

def test_addresses_and_registry_entry():
    assert CONFIG_ADDRESS == "00b10c01" + "0" * 62 and len(CONFIG_ADDRESS) == 70
    assert block_info_address(255) == "00b10c00" + "0" * 60 + "ff"
    spec = registry.get("block_info")
    assert (spec.family.name, spec.family.versions, spec.family.namespace) == ("block_info", ("1.0",), NAMESPACE)
    handler = spec.make_handler()
    assert isinstance(handler, BlockInfoHandler) and handler.namespaces == ["00b10c"]
    data = BlockInfo(block_num=3, timestamp=9).SerializeToString()
    assert registry.decode_record(block_info_address(3), data)[:2] == ("block_info", "block_info")
    assert registry.decode_record(CONFIG_ADDRESS, BlockInfoConfig(latest_block=3).SerializeToString())[:2] == (
        "block_info", "config")
    assert Family("x").namespace != Family("x", namespace_override="abcdef").namespace == "abcdef"
    with pytest.raises(ValueError):
        Family("x", namespace_override="00B10C")


def test_messages_serialize_like_sawtooths_own():
    ours = BlockInfoTxn(block=BlockInfo(block_num=5, previous_block_id="a" * 128, signer_public_key=SIGNER,
                                        header_signature="b" * 128, timestamp=NOW), target_count=7, sync_tolerance=9)
    theirs = sawtooth_block_info_pb2.BlockInfoTxn(
        block=sawtooth_block_info_pb2.BlockInfo(block_num=5, previous_block_id="a" * 128, signer_public_key=SIGNER,
                                                header_signature="b" * 128, timestamp=NOW),
        target_count=7, sync_tolerance=9)
    assert ours.SerializeToString() == theirs.SerializeToString()
    cfg = dict(latest_block=1, oldest_block=2, target_count=3, sync_tolerance=4)
    assert BlockInfoConfig(**cfg).SerializeToString() == sawtooth_block_info_pb2.BlockInfoConfig(**cfg).SerializeToString()


# ------------------------------------------------------------------ first record

def test_first_record_takes_any_block_number_and_the_defaults():
    ledger = new_ledger()
    assert apply(ledger, 7)
    assert config(ledger) == BlockInfoConfig(latest_block=7, oldest_block=7, target_count=DEFAULT_TARGET_COUNT,
                                             sync_tolerance=DEFAULT_SYNC_TOLERANCE)
    assert BlockInfo.FromString(ledger.get(block_info_address(7))) == BlockInfoTxn.FromString(info_payload(7)).block
    assert DEFAULT_TARGET_COUNT == 256 and DEFAULT_SYNC_TOLERANCE == 300


def test_payload_sets_target_count_and_sync_tolerance():
    ledger = new_ledger()
    assert apply(ledger, 0, target_count=5, sync_tolerance=10)
    assert (config(ledger).target_count, config(ledger).sync_tolerance) == (5, 10)
    assert apply(ledger, 1, sync_tolerance=20)  # zero target_count: keep the stored one
    assert (config(ledger).target_count, config(ledger).sync_tolerance) == (5, 20)


def test_stored_record_bytes_are_the_five_fields_only():
    # an unknown field in the payload's block is dropped, as the original's struct drops it
    payload = BlockInfoTxn.FromString(info_payload(0))
    raw = payload.block.SerializeToString() + b"\x30\x07"  # field 6, varint 7
    assert 128 <= len(raw) < 16384
    txn_bytes = b"\x0a" + bytes([len(raw) & 0x7F | 0x80, len(raw) >> 7]) + raw  # field 1, varint length
    ledger = new_ledger()
    assert ledger.apply(info_txn(txn_bytes))
    assert ledger.get(block_info_address(0)) == payload.block.SerializeToString()
    assert ledger.get(CONFIG_ADDRESS) == sawtooth_block_info_pb2.BlockInfoConfig(
        latest_block=0, oldest_block=0, target_count=256, sync_tolerance=300).SerializeToString()


def test_hex_fields_accept_either_case_and_the_null_block_id():
    ledger = new_ledger()
    assert apply(ledger, 0, previous="0" * 16, header="AB" * 64, signer="03" + "CD" * 32)
    assert apply(ledger, 1, previous="AB" * 64)


# ------------------------------------------------------------------ refusals

REFUSALS = [
    ("garbage payload", dict(payload=b"\xff\xff\xff"), "payload: not a BlockInfoTxn"),
    ("no block at all", dict(payload=b""), "block.previous_block_id: must be 128 hex"),
    ("short previous id", dict(previous="ab" * 10), "block.previous_block_id: must be 128 hex"),
    ("non-hex previous id", dict(previous="zz" * 64), "block.previous_block_id: must be 128 hex"),
    ("bad signer key", dict(signer="02" + "ab" * 31), "block.signer_public_key: must be 66 hex"),
    ("non-hex signer key", dict(signer="0g" + "ab" * 32), "block.signer_public_key: must be 66 hex"),
    ("bad header signature", dict(header="ab"), "block.header_signature: must be 128 hex"),
    ("a block skipped", dict(n=5), "block.block_num: must be 3"),
    ("the same block again", dict(n=2, previous=block_id(1)), "block.block_num: must be 3"),
    ("wrong previous id", dict(previous=block_id(1)), "block.previous_block_id: must be the header_signature of block 2"),
    ("earlier timestamp", dict(timestamp=NOW - 1), "block.timestamp: must not be earlier than block 2's"),
    ("too far ahead", dict(timestamp=NOW + DEFAULT_SYNC_TOLERANCE + 1), "block.timestamp: "),
    ("too far ahead, smaller tolerance", dict(timestamp=NOW + 11, sync_tolerance=10), "sync_tolerance (10 s) ahead"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refusals_name_field_and_reason_and_change_nothing(case):
    _, kwargs, message = case
    ledger = chain(3)
    before = dict(ledger.state)
    payload = kwargs.pop("payload", None)
    if payload is None:
        payload = info_payload(kwargs.pop("n", 3), **kwargs)
    result = ledger.apply(info_txn(payload))
    assert not result.valid
    assert message in result.invalid_message
    assert ledger.state == before


def test_refusals_are_invalid_transactions_from_apply():
    ledger = chain(1)
    handler = ledger.handlers[(FAMILY_NAME, FAMILY_VERSION)]
    from sawgrid.processors.inprocess import InProcessContext
    from sawgrid.protos.sawtooth import TransactionHeader, processor_pb2

    txn = info_txn(info_payload(1, timestamp=NOW - 5))
    header = TransactionHeader.FromString(txn.header)
    context = InProcessContext(header.inputs, header.outputs, ledger.state.get)
    with pytest.raises(InvalidTransaction, match="block.timestamp"):
        handler.apply(processor_pb2.TpProcessRequest(header=header, payload=txn.payload), context)
    assert context.writes == {}


def test_first_record_checked_against_the_clock_too():
    ledger = new_ledger()
    result = apply(ledger, 0, timestamp=NOW + 301)
    assert not result and "block.timestamp" in result.invalid_message and ledger.state == {}
    assert apply(ledger, 0, timestamp=NOW + 300)  # now + tolerance itself is fine


def test_equal_timestamps_and_the_past_are_fine():
    ledger = chain(2)
    assert apply(ledger, 2, timestamp=NOW)
    old = new_ledger(clock=lambda: NOW + 10 * 365 * 86400)  # a replay years later
    assert apply(old, 0) and apply(old, 1)


def test_tolerance_from_the_payload_applies_to_its_own_check():
    ledger = chain(1)
    assert not apply(ledger, 1, timestamp=NOW + 1000)
    assert apply(ledger, 1, timestamp=NOW + 1000, sync_tolerance=1000)
    assert config(ledger).sync_tolerance == 1000


def test_clock_is_read_in_whole_seconds():
    ledger = new_ledger(clock=lambda: NOW + 0.999)
    assert not apply(ledger, 0, timestamp=NOW + DEFAULT_SYNC_TOLERANCE + 1)
    assert apply(ledger, 0, timestamp=NOW + DEFAULT_SYNC_TOLERANCE)


def test_state_out_of_sync_is_an_internal_error():
    ledger = chain(2)
    del ledger.state[block_info_address(1)]
    with pytest.raises(InternalError, match="latest_block 1 has no BlockInfo"):
        apply(ledger, 2)
    ledger = chain(2)
    ledger.state[block_info_address(1)] = BlockInfo(block_num=9).SerializeToString()
    with pytest.raises(InternalError, match="out of sync"):
        apply(ledger, 2)


def test_block_numbers_wrap_as_the_originals_u64():
    ledger = new_ledger()
    top = 2**64 - 1
    assert apply(ledger, top, previous="0" * 16, header=block_id(top))
    assert apply(ledger, 0, previous=block_id(top))
    assert (config(ledger).latest_block, config(ledger).oldest_block) == (0, top)


# ------------------------------------------------------------------ pruning

def test_pruning_keeps_target_count_plus_one_records():
    ledger = chain(10, target_count=3)
    assert stored(ledger) == [6, 7, 8, 9]
    assert (config(ledger).oldest_block, config(ledger).latest_block) == (6, 9)
    assert ledger.get(block_info_address(5)) is None


def test_lowering_target_count_deletes_the_oldest_at_once():
    ledger = chain(10)
    assert stored(ledger) == list(range(10))
    result = apply(ledger, 10, target_count=2)
    assert result
    assert stored(ledger) == [8, 9, 10]
    assert config(ledger) == BlockInfoConfig(latest_block=10, oldest_block=8, target_count=2, sync_tolerance=300)
    assert sorted(a for a, v in result.writes.items() if v is None) == [block_info_address(n) for n in range(8)]


def test_raising_target_count_keeps_everything():
    ledger = chain(5, target_count=1)
    assert stored(ledger) == [3, 4]
    assert apply(ledger, 5, target_count=100)
    assert apply(ledger, 6)
    assert stored(ledger) == [3, 4, 5, 6] and config(ledger).oldest_block == 3


def test_default_target_count_prunes_after_256():
    ledger = chain(260)
    nums = stored(ledger)
    assert nums[0] == 259 - 256 and nums[-1] == 259 and len(nums) == 257


# ------------------------------------------------------------------ chain_time

class TimeReader(SawgridHandler):
    """A toy family that records chain_time(context) under its own address."""

    FAMILY = Family("sawgrid-test-clock")

    def handle(self, transaction, context) -> None:
        now = chain_time(context)
        context.set_state({self.FAMILY.address("00", "t"): b"none" if now is None else str(now).encode()})


def reader_txn(inputs=None):
    address = TimeReader.FAMILY.address("00", "t")
    return unsigned_transaction(TimeReader.FAMILY.name, "1.0", b"", list(inputs if inputs is not None else
                                                                         [*CLOCK_INPUTS, address]), [address], SIGNER)


def test_clock_inputs():
    assert CLOCK_INPUTS == (CONFIG_ADDRESS, BLOCK_INFO_PREFIX)


def test_chain_time_is_none_without_block_info_and_the_latest_timestamp_after():
    ledger = InProcessLedger([BlockInfoHandler(clock=lambda: NOW + 100), TimeReader()])
    address = TimeReader.FAMILY.address("00", "t")
    assert ledger.apply(reader_txn()) and ledger.get(address) == b"none"
    assert apply(ledger, 0, timestamp=NOW) and apply(ledger, 1, timestamp=NOW + 42)
    assert ledger.apply(reader_txn()) and ledger.get(address) == str(NOW + 42).encode()


def test_chain_time_needs_the_clock_inputs_declared():
    ledger = InProcessLedger([BlockInfoHandler(clock=lambda: NOW), TimeReader()])
    result = ledger.apply(reader_txn(inputs=[TimeReader.FAMILY.address("00", "t")]))
    assert not result and "unauthorized" in result.invalid_message


# ------------------------------------------------------------------ in-process injection

def stepping(start: int = NOW, step: int = 5):
    counter = itertools.count()
    return lambda: start + step * next(counter)


def test_inprocess_ledger_injects_one_block_info_per_batch(signer):
    ledger = InProcessLedger([KvHandler(), BlockInfoHandler()], inject_block_info=True, clock=stepping())
    for i in range(4):
        result = ledger.apply_batch(kv_batch(signer, f"k{i}"))
        assert result and result.block_info is not None and len(result.receipts) == 1
    infos = [BlockInfo.FromString(d) for d in ledger.items(BLOCK_INFO_PREFIX).values()]
    assert [i.block_num for i in infos] == [0, 1, 2, 3]
    assert infos[0].previous_block_id == "0" * 16
    assert all(b.previous_block_id == a.header_signature for a, b in zip(infos, infos[1:]))
    assert [i.timestamp for i in infos] == [NOW, NOW + 5, NOW + 10, NOW + 15]
    assert len({i.header_signature for i in infos}) == 4


def test_an_invalid_batch_leaves_no_block_info(signer):
    ledger = InProcessLedger([KvHandler(), BlockInfoHandler()], inject_block_info=True, clock=lambda: NOW)
    assert ledger.apply_batch(kv_batch(signer, "a"))
    before = dict(ledger.state)
    assert not ledger.apply_batch(kv_batch(signer, "never-set", delete=True))
    assert ledger.state == before
    assert ledger.apply_batch(kv_batch(signer, "b"))
    assert config_of(ledger).latest_block == 1


def config_of(ledger) -> BlockInfoConfig:
    return BlockInfoConfig.FromString(ledger.get(CONFIG_ADDRESS))


def test_submitted_block_info_is_refused_when_injecting():
    ledger = InProcessLedger([BlockInfoHandler()], inject_block_info=True, clock=lambda: NOW)
    result = ledger.apply(info_txn(info_payload(0)))
    assert not result and "injected by the validator" in result.invalid_message and ledger.state == {}


def test_a_clock_that_goes_back_stops_the_ledger(signer):
    times = iter([NOW, NOW - 10])
    ledger = InProcessLedger([KvHandler(), BlockInfoHandler()], inject_block_info=True, clock=lambda: next(times))
    assert ledger.apply_batch(kv_batch(signer, "a"))
    before = dict(ledger.state)
    with pytest.raises(BlockInfoRejected, match="block.timestamp"):
        ledger.apply_batch(kv_batch(signer, "b"))
    assert ledger.state == before


def test_the_ledgers_clock_is_the_handlers_too(signer):
    future = NOW + 10**6
    ledger = InProcessLedger([KvHandler(), BlockInfoHandler()], inject_block_info=True, clock=lambda: future)
    assert ledger.apply_batch(kv_batch(signer, "a"))
    assert BlockInfo.FromString(ledger.get(block_info_address(0))).timestamp == future


def test_chain_time_under_injection_is_this_blocks_time():
    ledger = InProcessLedger([BlockInfoHandler(), TimeReader()], inject_block_info=True, clock=stepping())
    address = TimeReader.FAMILY.address("00", "t")
    assert ledger.apply_batch(unsigned_batch([reader_txn()]))
    assert ledger.get(address) == str(NOW).encode()
    assert ledger.apply_batch(unsigned_batch([reader_txn()]))
    assert ledger.get(address) == str(NOW + 5).encode()


def test_injection_needs_the_block_info_handler():
    with pytest.raises(ValueError, match="block_info handler"):
        InProcessLedger([KvHandler()], inject_block_info=True)
    assert InProcessLedger([KvHandler()]).inject_block_info is False


def test_inprocess_client_injects_by_default(signer):
    client = InProcessClient(clock=lambda: NOW)
    client.submit([kv_batch(signer, "x")])
    assert client.state(kv_address("x")) == b"x"
    assert BlockInfoConfig.FromString(client.state(CONFIG_ADDRESS)).latest_block == 0
    bare = InProcessClient(inject_block_info=False)
    bare.submit([kv_batch(signer, "x")])
    assert bare.state(CONFIG_ADDRESS) is None


def test_a_block_of_batches_gets_one_block_info_and_each_batch_sees_the_ones_before(signer):
    ledger = InProcessLedger([KvHandler(), BlockInfoHandler()], inject_block_info=True, clock=stepping())
    results = ledger.apply_block([kv_batch(signer, "a"), kv_batch(signer, "a", delete=True), kv_batch(signer, "b")])
    assert [bool(r) for r in results] == [True, True, True]     # the delete saw the first batch's write
    assert results[0].block_info is not None and results[1].block_info is None and results[2].block_info is None
    assert ledger.get(kv_address("a")) is None and ledger.get(kv_address("b")) == b"x"
    assert stored(ledger) == [0] and config_of(ledger).latest_block == 0
    assert ledger.apply_block([kv_batch(signer, "c")])                     # the next block
    assert stored(ledger) == [0, 1]
    assert [BlockInfo.FromString(ledger.get(block_info_address(n))).timestamp for n in (0, 1)] == [NOW, NOW + 5]


def test_a_block_stops_at_its_first_invalid_batch(signer):
    ledger = InProcessLedger([KvHandler(), BlockInfoHandler()], inject_block_info=True, clock=lambda: NOW)
    results = ledger.apply_block([kv_batch(signer, "a"), kv_batch(signer, "never-set", delete=True),
                                  kv_batch(signer, "b")])
    assert [bool(r) for r in results] == [True, False]           # "b" was not applied
    assert ledger.get(kv_address("a")) == b"x" and ledger.get(kv_address("b")) is None
    assert stored(ledger) == [0]                                  # the block's BlockInfo came with "a"
    before = dict(ledger.state)
    (refused,) = ledger.apply_block([kv_batch(signer, "never-set", delete=True), kv_batch(signer, "c")])
    assert not refused and ledger.state == before                  # an invalid first batch: no BlockInfo


def test_inprocess_client_submits_a_call_as_one_block(signer):
    client = InProcessClient(clock=lambda: NOW)
    client.submit([kv_batch(signer, name) for name in ("x", "y", "z")])
    assert BlockInfoConfig.FromString(client.state(CONFIG_ADDRESS)).latest_block == 0
    with pytest.raises(BatchInvalid, match="never-set"):
        client.submit([kv_batch(signer, "w"), kv_batch(signer, "never-set", delete=True), kv_batch(signer, "v")])
    assert client.state(kv_address("w")) == b"x" and client.state(kv_address("v")) is None
    assert BlockInfoConfig.FromString(client.state(CONFIG_ADDRESS)).latest_block == 1


# ------------------------------------------------------------------ devnet's injector

from inproc_devnet import FAMILY, VERSION, InProcDevnet, ScriptedExecutor, new_signer, one  # noqa: E402
from sawgrid.devnet import block_info as devnet_block_info  # noqa: E402
from sawgrid.devnet.executor import INVALID, VALID, BatchOutcome  # noqa: E402
from sawgrid.devnet.ledger_api import InvalidTxn  # noqa: E402
from sawgrid.protos.sawtooth import Block, BlockHeader, TransactionHeader  # noqa: E402


def test_devnet_keeps_its_own_copy_of_the_spec():
    assert (devnet_block_info.FAMILY_NAME, devnet_block_info.FAMILY_VERSION, devnet_block_info.NAMESPACE,
            devnet_block_info.CONFIG_ADDRESS, devnet_block_info.BLOCK_INFO_PREFIX) == (
        FAMILY_NAME, FAMILY_VERSION, NAMESPACE, CONFIG_ADDRESS, BLOCK_INFO_PREFIX)


def test_injected_batch_is_sawtooths():
    signer = new_signer()
    key = signer.get_public_key().as_hex()
    header = BlockHeader(block_num=4, previous_block_id="c" * 128, signer_public_key=key).SerializeToString()
    previous = Block(header=header, header_signature="d" * 128)
    batch = devnet_block_info.block_info_batch(signer, previous, NOW)
    (txn,) = batch.transactions
    txn_header = TransactionHeader.FromString(txn.header)
    assert (txn_header.family_name, txn_header.family_version, txn_header.nonce) == ("block_info", "1.0", "")
    assert txn_header.signer_public_key == txn_header.batcher_public_key == key
    assert list(txn_header.inputs) == list(txn_header.outputs) == [CONFIG_ADDRESS, BLOCK_INFO_PREFIX]
    assert list(txn_header.dependencies) == []
    assert BlockInfoTxn.FromString(txn.payload) == BlockInfoTxn(block=BlockInfo(
        block_num=4, previous_block_id="c" * 128, signer_public_key=key, header_signature="d" * 128, timestamp=NOW))


class BlockInfoScripted(ScriptedExecutor):
    """The scripted executor, with a block_info 'processor' that writes the
    config (so the chain holds BlockInfo) unless told to refuse."""

    BLOCK_INFO = (FAMILY_NAME, FAMILY_VERSION)

    def __init__(self, block_info: bool = True) -> None:
        super().__init__([(FAMILY, VERSION)] + ([self.BLOCK_INFO] if block_info else []))
        self.refuse = False
        self.injected: list[BlockInfoTxn] = []

    def execute_batch(self, batch, headers, read_below) -> BatchOutcome:
        if headers[0].family_name != FAMILY_NAME:
            return super().execute_batch(batch, headers, read_below)
        with self.lock:
            if self.BLOCK_INFO not in self.families:
                return super().execute_batch(batch, headers, read_below)
        txn = batch.transactions[0]
        if self.refuse:
            return BatchOutcome(INVALID, invalid=InvalidTxn(txn.header_signature, "block.timestamp: scripted"))
        self.injected.append(BlockInfoTxn.FromString(txn.payload))
        return BatchOutcome(VALID, writes={CONFIG_ADDRESS: b"\x08\x01"})


def first_family(net: InProcDevnet, block_num: int) -> str:
    block = net.store.block_by_num(block_num)
    return TransactionHeader.FromString(block.batches[0].transactions[0].header).family_name


def test_devnet_on_waits_for_the_block_info_processor(tmp_path):
    executor = BlockInfoScripted(block_info=False)
    with InProcDevnet(tmp_path, executor, block_info="on") as net:
        signer = new_signer()
        b = one(signer, b"set 1")
        net.ledger.submit([b])
        assert net.wait([b], timeout=0.5) == ["PENDING"]
        with executor.lock:
            executor.families.add(BlockInfoScripted.BLOCK_INFO)
        assert net.wait([b]) == ["COMMITTED"]
        num = net.block_of(b)
        assert first_family(net, num) == "block_info" and len(net.store.block_by_num(num).batches) == 2
        (info,) = executor.injected
        assert info.block.block_num == num - 1
        assert info.block.header_signature == net.store.block_by_num(num - 1).header_signature


def test_devnet_auto_injects_only_with_the_processor_then_sticks(tmp_path):
    executor = BlockInfoScripted(block_info=False)
    with InProcDevnet(tmp_path, executor) as net:  # "auto" is the default
        signer = new_signer()
        plain = one(signer, b"set 1")
        net.ledger.submit([plain])
        assert net.wait([plain]) == ["COMMITTED"]
        assert len(net.store.block_by_num(net.block_of(plain)).batches) == 1
        with executor.lock:
            executor.families.add(BlockInfoScripted.BLOCK_INFO)
        second = one(signer, b"set 2", key="k2")
        net.ledger.submit([second])
        assert net.wait([second]) == ["COMMITTED"]
        assert first_family(net, net.block_of(second)) == "block_info"
        with executor.lock:  # the processor goes: the chain has BlockInfo now, so blocks wait
            executor.families.discard(BlockInfoScripted.BLOCK_INFO)
        third = one(signer, b"set 3", key="k3")
        net.ledger.submit([third])
        assert net.wait([third], timeout=0.5) == ["PENDING"]


def test_devnet_publishes_no_block_while_the_injected_batch_is_invalid(tmp_path):
    executor = BlockInfoScripted()
    executor.refuse = True
    with InProcDevnet(tmp_path, executor) as net:
        b = one(new_signer(), b"set 1")
        net.ledger.submit([b])
        assert net.wait([b], timeout=0.5) == ["PENDING"] and net.ledger.head_num() == 0
        executor.refuse = False
        assert net.wait([b]) == ["COMMITTED"]


def test_devnet_refuses_submitted_block_info_unless_off(tmp_path):
    signer = new_signer()
    from sawgrid.protos.envelopes import make_batch, make_transaction

    def submitted():
        return make_batch(signer, [make_transaction(signer, FAMILY_NAME, FAMILY_VERSION, info_payload(0),
                                                    WHERE, WHERE)])

    with InProcDevnet(tmp_path / "auto", BlockInfoScripted()) as net:
        b = submitted()
        net.ledger.submit([b])
        assert net.wait([b]) == ["INVALID"]
        (status,) = net.ledger.batch_statuses([b.header_signature])
        assert "injected by the validator" in status.invalid_transactions[0].message
    with InProcDevnet(tmp_path / "off", BlockInfoScripted(), block_info="off") as net:
        b = submitted()
        net.ledger.submit([b])
        assert net.wait([b]) == ["COMMITTED"]
        assert len(net.store.block_by_num(net.block_of(b)).batches) == 1
    from sawgrid.devnet.ledger import Ledger

    with pytest.raises(ValueError, match="block_info must be one of"):
        Ledger(None, None, None, None, block_info="sometimes")  # checked before anything is touched
