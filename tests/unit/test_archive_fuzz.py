"""Fuzzing the archive handler (hypothesis): garbage, mutated and hostile payloads.

Against a chain with archived days (one of them with contracts, prunable),
a finished unarchived day, a day with an open hour and a day with an
unsettled contract, every generated transaction must

* leave `ArchiveHandler.apply` only as `InvalidTransaction` (called directly:
  anything else escaping fails the test), having written nothing before failing;
* through `InProcessLedger`: be reported, never raise; an invalid one leaves
  state byte-for-byte unchanged; a valid one keeps every existing archive
  record as it was (records are immutable) and keeps the head at the newest
  record's digest.

Transactions declare the inputs/outputs `addresses.access()` derives, or the
whole of the three namespaces the family touches (so a read or write the
handler should not make is not hidden by a narrow declaration).
"""
from __future__ import annotations

from google.protobuf.message import DecodeError
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from fuzzing import apply_directly, mutated
from sawgrid.processors.archive import addresses as addr
from sawgrid.processors.archive.handler import ArchiveHandler
from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import addresses as market
from sawgrid.processors.market import units as u
from sawgrid.processors.reputation import addresses as reputation
from sawgrid.protos import archive_pb2 as pb
from sawgrid.protos import market_pb2 as mpb
from test_archive_handler import ALICE, BOB, DAVE, OP, RECOMMENDED, Chain, the_day_contracts

DAY = 20_000
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SIGNERS = [OP, DAVE, ALICE, BOB, "", "02" + "0" * 64]
NAMESPACES = [addr.ARCHIVE.namespace, market.MARKET.namespace, reputation.REPUTATION.namespace]


def build_chain() -> dict[str, bytes]:
    chain = Chain()
    chain.write_day(DAY - 9, the_day_contracts(DAY - 9), recommended=RECOMMENDED)
    chain.ok(pb.ArchivePayload(archive_day=pb.ArchiveDay(day=DAY - 9)))
    for day in range(DAY - 8, DAY):
        chain.empty_day(day)
        chain.ok(pb.ArchivePayload(archive_day=pb.ArchiveDay(day=day)))
    chain.write_day(DAY, the_day_contracts(DAY), recommended=RECOMMENDED)        # finished, not archived
    chain.write_day(DAY + 1, the_day_contracts(DAY + 1), closed=range(20))       # hours 20..23 open
    unsettled = the_day_contracts(DAY + 2)
    unsettled[4].stage = mpb.PREPARED
    chain.write_day(DAY + 2, unsettled)
    return dict(chain.ledger.state)


BASE_STATE = build_chain()
HANDLER = ArchiveHandler()

U32_EDGES = [0, 1, 6, 7, 8, DAY - 10, DAY - 9, DAY - 8, DAY - 1, DAY, DAY + 1, DAY + 2, DAY + 3,
             u.MAX_DAY, u.MAX_DAY + 1, 36_500, 36_501, 2**31, 2**32 - 1]
u32 = st.one_of(st.sampled_from(U32_EDGES), st.integers(0, 2**32 - 1))
day = st.one_of(st.integers(DAY - 10, DAY + 3), u32)
ACTIONS = {
    "archive_day": st.builds(pb.ArchiveDay, day=day),
    "prune_day": st.builds(pb.PruneDay, day=day),
    "configure": st.builds(pb.Configure, retention_days=st.one_of(st.integers(0, 12), u32)),
}


@st.composite
def payloads(draw) -> pb.ArchivePayload:
    action = draw(st.sampled_from(sorted(ACTIONS) + ["<none>"]))
    message = pb.ArchivePayload()
    if action != "<none>":
        getattr(message, action).CopyFrom(draw(ACTIONS[action]))
    return message


def mutated_bytes():
    """A serialized payload, then byte flips, insertions, deletions and truncation."""
    return mutated(payloads())


def txn_for(raw: bytes, signer: str, io: str):
    inputs = outputs = NAMESPACES
    if io == "access":
        try:
            inputs, outputs = addr.access(pb.ArchivePayload.FromString(raw), signer)
        except (DecodeError, ValueError):
            pass
    return unsigned_transaction(addr.ARCHIVE.name, "1.0", raw, inputs, outputs, signer or OP)


def archive_records(state: dict[str, bytes]) -> dict[str, bytes]:
    prefix = addr.days_prefix()
    return {a: v for a, v in state.items() if a.startswith(prefix)}


def check(raw: bytes, signer: str, io: str) -> bool:
    """Apply `raw` both ways and check the properties; True if it was valid."""
    txn = txn_for(raw, signer, io)
    direct_valid, context = apply_directly(HANDLER, txn, BASE_STATE.get, f"signer={signer!r} io={io} payload={raw!r}")

    ledger = InProcessLedger([HANDLER], state=BASE_STATE)
    result = ledger.apply(txn)
    assert result.valid == direct_valid, "the handler is not deterministic"
    if not result.valid:
        assert result.invalid_message and ":" in result.invalid_message
        assert ledger.state == BASE_STATE
        return False
    assert result.writes == context.writes
    before, after = archive_records(BASE_STATE), archive_records(ledger.state)
    assert all(after.get(a) == v for a, v in before.items()), "an archive record changed"
    head = pb.ArchiveHead.FromString(ledger.state[addr.head_address()])
    newest = pb.DayArchive.FromString(ledger.state[addr.day_address(head.day)])
    assert head.digest == newest.digest and head.days == len(after)
    return True


signers = st.sampled_from(SIGNERS)
io_modes = st.sampled_from(["access", "namespaces"])


def test_base_chain_is_as_described():
    head = pb.ArchiveHead.FromString(BASE_STATE[addr.head_address()])
    assert (head.day, head.days) == (DAY - 1, 9)


@settings(max_examples=examples(500), **SETTINGS)
@given(raw=st.binary(max_size=64), signer=signers)
def test_random_bytes(raw, signer):
    check(raw, signer, "namespaces")


@settings(max_examples=examples(400), **SETTINGS)
@given(raw=mutated_bytes(), signer=signers, io=io_modes)
def test_mutated_payload_bytes(raw, signer, io):
    check(raw, signer, io)


@settings(max_examples=examples(600), **SETTINGS)
@given(message=payloads(), signer=st.one_of(st.just(OP), signers), io=io_modes)
def test_structured_payloads(message, signer, io):
    check(message.SerializeToString(), signer, io)


@pytest.mark.parametrize("payload, valid", [
    (pb.ArchivePayload(archive_day=pb.ArchiveDay(day=DAY)), True),
    (pb.ArchivePayload(archive_day=pb.ArchiveDay(day=DAY + 1)), False),    # hours 20..23 open
    (pb.ArchivePayload(archive_day=pb.ArchiveDay(day=DAY + 2)), False),    # a PREPARED contract
    (pb.ArchivePayload(archive_day=pb.ArchiveDay(day=DAY - 1)), False),    # archived already
    (pb.ArchivePayload(prune_day=pb.PruneDay(day=DAY - 9)), True),
    (pb.ArchivePayload(prune_day=pb.PruneDay(day=DAY - 2)), False),        # within the retention
    (pb.ArchivePayload(prune_day=pb.PruneDay(day=DAY)), False),            # not archived
    (pb.ArchivePayload(configure=pb.Configure(retention_days=1)), True),
], ids=["archive", "open", "unsettled", "again", "prune", "too-early", "unarchived", "configure"])
@pytest.mark.parametrize("signer", [OP, ALICE], ids=["operator", "participant"])
@pytest.mark.parametrize("io", ["access", "namespaces"])
def test_the_interesting_cases(payload, valid, signer, io):
    assert check(payload.SerializeToString(), signer, io) == (valid and signer == OP)
