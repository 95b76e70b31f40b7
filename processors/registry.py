"""The one list of Sawgrid's transaction families, and what each contributes.

Every part of Sawgrid that serves, starts, decodes or drives a family reads
this registry: `sawgrid tp` and devnet's `--processors` (which handlers to
run), the in-process ledger behind `--fast` and the tests, devnet's setup of a
fresh chain (`genesis`), the decoding of state records (`records`, for the CLI
and the ledger sync) and the `sawgrid` command line (`cli`, a module of the
application layer named by its dotted path so that this layer never imports
it). Adding a family is one folder under `processors/` plus one entry in
`FAMILIES` below; see processors/market/README.md, "How to add a family".
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

from google.protobuf.message import Message

from sawgrid.processors.addressing import NAMESPACE_LENGTH, KIND_LENGTH, Family

StateReader = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class TxnSpec:
    """One transaction a family asks to be signed: payload and declared addresses."""

    payload: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class GenesisStep:
    """A setup transaction a fresh chain needs, in the family's own terms.

    `needed(read)` is True for as long as its effect is missing from state;
    `transactions(operator_public_key)` gives what the operator key signs.
    """

    name: str
    needed: Callable[[StateReader], bool]
    transactions: Callable[[str], list[TxnSpec]]


@dataclass(frozen=True)
class RecordKind:
    """A kind of state record: its 2-hex-char kind, a name, and its protobuf
    message (None for records that are opaque bytes, as kv's values are)."""

    kind: str
    name: str
    message: type[Message] | None


@dataclass(frozen=True)
class FamilySpec:
    """One transaction family, as the rest of Sawgrid sees it.

    Attributes:
        short: the name users type (`sawgrid tp market`).
        family: the Sawtooth family name, versions and namespace.
        handler: "module:Class" of its `TransactionHandler` (imported on use,
            so `sawgrid --help` does not load the SDK).
        records: its state record kinds, for decoding state by address.
        genesis: "module:function" returning its `GenesisStep`s, or None.
        cli: dotted path of the application-layer module whose
            `add_parsers(subparsers)` adds its command groups, or None.
    """

    short: str
    family: Family
    handler: str
    records: tuple[RecordKind, ...] = ()
    genesis: str | None = None
    cli: str | None = None
    _kinds: dict[str, RecordKind] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._kinds.update({r.kind: r for r in self.records})

    def make_handler(self):
        """A new instance of the family's handler."""
        return _load(self.handler)()

    def genesis_steps(self) -> list[GenesisStep]:
        return list(_load(self.genesis)()) if self.genesis else []

    def record_kind(self, address: str) -> RecordKind | None:
        """Which of this family's record kinds lives at `address` (None if not ours)."""
        if not address.startswith(self.family.namespace):
            return None
        return self._kinds.get(address[NAMESPACE_LENGTH:NAMESPACE_LENGTH + KIND_LENGTH])


def _load(path: str):
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _families() -> tuple[FamilySpec, ...]:
    # Imported here so that a family's addresses module may itself use the
    # registry's types without a cycle.
    from sawgrid.processors.archive import addresses as archive
    from sawgrid.processors.block_info import addresses as block_info
    from sawgrid.processors.enrollment import addresses as enrollment
    from sawgrid.processors.kv.addresses import KV, KV_ENTRY
    from sawgrid.processors.market import addresses as market
    from sawgrid.processors.negotiation import addresses as negotiation
    from sawgrid.processors.reputation import addresses as reputation
    from sawgrid.protos import archive_pb2 as apb
    from sawgrid.protos import block_info_pb2 as bpb
    from sawgrid.protos import enrollment_pb2 as epb
    from sawgrid.protos import market_pb2 as pb
    from sawgrid.protos import negotiation_pb2 as npb
    from sawgrid.protos import reputation_pb2 as rpb

    return (
        FamilySpec(
            short="kv", family=KV, handler="sawgrid.processors.kv.handler:KvHandler",
            records=(RecordKind(KV_ENTRY, "entry", None),),
        ),
        FamilySpec(
            short="market", family=market.MARKET, handler="sawgrid.processors.market.handler:MarketHandler",
            records=tuple(RecordKind(kind, name, message) for kind, name, message in (
                (market.CONFIG, "config", pb.Config),
                (market.PARTICIPANT, "participant", pb.Participant),
                (market.ROLE, "role", pb.DayRole),
                (market.WALLET, "wallet", pb.Wallet),
                (market.GRID_PRICES, "grid_prices", pb.GridPrices),
                (market.PENALTIES, "penalties", pb.Penalties),
                (market.RECOMMENDATION, "recommendation", pb.RecommendationRecord),
                (market.BOOK, "book", pb.Book),
                (market.CONTRACT, "contract", pb.Contract),
                (market.HOUR_INDEX, "hour_index", pb.HourIndex),
                (market.POSITION, "position", pb.Position),
                (market.RECOMMENDATION_INDEX, "recommendation_index", pb.RecommendationIndex),
                (market.BOOK_INDEX, "book_index", pb.BookIndex),
            )),
            genesis="sawgrid.processors.market.genesis:genesis_steps",
            cli="sawgrid.clients.cli.market",
        ),
        FamilySpec(
            short="reputation", family=reputation.REPUTATION,
            handler="sawgrid.processors.reputation.handler:ReputationHandler",
            records=tuple(RecordKind(kind, name, message) for kind, name, message in (
                (reputation.CONFIG, "config", rpb.Config),
                (reputation.SCORE, "score", rpb.Score),
                (reputation.POOL, "pool", rpb.Pool),
                (reputation.READING, "reading", rpb.Reading),
                (reputation.SETTLEMENT, "settlement", rpb.Settlement),
            )),
            genesis="sawgrid.processors.reputation.genesis:genesis_steps",
            cli="sawgrid.clients.cli.reputation",
        ),
        FamilySpec(
            short="archive", family=archive.ARCHIVE, handler="sawgrid.processors.archive.handler:ArchiveHandler",
            records=(RecordKind(archive.CONFIG, "config", apb.Config),
                     RecordKind(archive.HEAD, "head", apb.ArchiveHead),
                     RecordKind(archive.DAY, "day", apb.DayArchive)),
            genesis="sawgrid.processors.archive.genesis:genesis_steps",
            cli="sawgrid.clients.cli.archive",
        ),
        FamilySpec(
            short="enrollment", family=enrollment.ENROLLMENT,
            handler="sawgrid.processors.enrollment.handler:EnrollmentHandler",
            records=tuple(RecordKind(kind, name, message) for kind, name, message in (
                (enrollment.CONFIG, "config", epb.Config),
                (enrollment.SET, "verifier_set", epb.VerifierSet),
                (enrollment.CERTIFICATE, "certificate", epb.CertificateRecord),
                (enrollment.REQUEST, "request", epb.RequestRecord),
                (enrollment.BLOCK, "block", epb.Block),
            )),
            genesis="sawgrid.processors.enrollment.genesis:genesis_steps",
            cli="sawgrid.clients.cli.enrollment",
        ),
        FamilySpec(
            short="negotiation", family=negotiation.NEGOTIATION,
            handler="sawgrid.processors.negotiation.handler:NegotiationHandler",
            records=(RecordKind(negotiation.SESSION, "session", npb.Session),),
            cli="sawgrid.clients.cli.negotiation",
        ),
        # Sawtooth's own family (namespace 00b10c): the chain's clock, written
        # by the BlockInfo transaction a validator injects first in each block.
        FamilySpec(
            short="block_info", family=block_info.BLOCK_INFO,
            handler="sawgrid.processors.block_info.handler:BlockInfoHandler",
            records=(RecordKind(block_info.BLOCK, "block_info", bpb.BlockInfo),
                     RecordKind(block_info.CONFIG, "config", bpb.BlockInfoConfig)),
        ),
    )


FAMILIES: tuple[FamilySpec, ...] = _families()


def names() -> list[str]:
    """The short names of all families, in registry order."""
    return [spec.short for spec in FAMILIES]


def get(short: str) -> FamilySpec:
    """The family called `short`; KeyError naming the known ones otherwise."""
    for spec in FAMILIES:
        if spec.short == short:
            return spec
    raise KeyError(f"unknown family {short!r} (known: {', '.join(names())})")


def handlers(shorts: Iterable[str] | None = None) -> list:
    """New handler instances for `shorts` (default: every family)."""
    return [get(s).make_handler() for s in (shorts if shorts is not None else names())]


def genesis_steps() -> list[GenesisStep]:
    """Every family's setup steps, in registry order."""
    return [step for spec in FAMILIES for step in spec.genesis_steps()]


def record_kind(address: str) -> tuple[FamilySpec, RecordKind] | None:
    """Reverse lookup: which family and record kind live at `address`."""
    for spec in FAMILIES:
        kind = spec.record_kind(address)
        if kind is not None:
            return spec, kind
    return None


def decode_record(address: str, data: bytes) -> tuple[str, str, Message | bytes] | None:
    """(family short name, record kind name, decoded message) for a state entry
    (the bytes themselves for an opaque kind), or None for an address no
    family claims. A record that does not parse raises protobuf's DecodeError."""
    found = record_kind(address)
    if found is None:
        return None
    spec, kind = found
    return spec.short, kind.name, kind.message.FromString(data) if kind.message else data
