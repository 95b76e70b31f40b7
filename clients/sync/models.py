"""The mirror's tables.

Every table but `blocks` is *versioned*: a row is one version of one record,
valid from block `start_block` (inclusive) until block `end_block`
(exclusive; NULL while it is the current version). So

    SELECT * FROM wallets WHERE end_block IS NULL              -- wallets now
    SELECT * FROM wallets WHERE public_key = :k ORDER BY start_block   -- a balance history

and rolling back to block A is: delete the rows with start_block > A, reopen
the rows with end_block > A, delete the blocks after A (`database.rollback`).
A partial unique index keeps one current version per natural key.

`address` is the state address a row was derived from: the typed rows of one
address are replaced together when that address changes (a book's address
yields its `books` row and its resting `orders`).

Amounts are integers in the ledger's units (Wh, µEUR, µEUR/kWh, permille,
ppm); enums are stored by name (`SETTLED`, `BUY`).
"""
from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Constraint names are fixed so that migrations can refer to them on every database.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ADDRESS = String(70)
KEY = String(66)          # a public key (compressed secp256k1, hex)
ID = String(128)          # block ids, contract and order ids
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
SERIAL = BigInteger().with_variant(Integer, "sqlite")
DOCUMENT = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Block(Base):
    """One committed block of the chain the mirror follows."""

    __tablename__ = "blocks"

    block_num: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_id: Mapped[str] = mapped_column(ID, unique=True)
    previous_block_id: Mapped[str] = mapped_column(ID)
    state_root_hash: Mapped[str] = mapped_column(String(64))
    changes: Mapped[int] = mapped_column(Integer)      # Sawgrid state changes in the block
    synced_at: Mapped[Any] = mapped_column(DateTime(timezone=True), server_default=text("CURRENT_TIMESTAMP"))


class Versioned(Base):
    """Columns of every versioned table (see the module docstring)."""

    __abstract__ = True
    # the record's natural key: one current row per key
    natural_key: ClassVar[tuple[str, ...]] = ()

    id: Mapped[int] = mapped_column(SERIAL, primary_key=True, autoincrement=True, sort_order=-4)
    address: Mapped[str] = mapped_column(ADDRESS, index=True, sort_order=-3)

    @declared_attr
    def start_block(cls) -> Mapped[int]:
        return mapped_column(BigInteger, ForeignKey("blocks.block_num"), index=True, sort_order=-2)

    @declared_attr
    def end_block(cls) -> Mapped[int | None]:
        return mapped_column(BigInteger, ForeignKey("blocks.block_num"), nullable=True, index=True,
                             sort_order=-1)

    @classmethod
    def current_unique(cls) -> Index:
        """The partial unique index: one current version per natural key."""
        table = cls.__table__  # type: ignore[attr-defined]
        where = text("end_block IS NULL")
        return Index(f"uq_{cls.__tablename__}_current", *(table.c[name] for name in cls.natural_key),
                     unique=True, sqlite_where=where, postgresql_where=where)


class StateEntry(Versioned):
    """Every Sawgrid state record, decoded to JSON (the generic history: every
    family and kind, the ones without a typed table too)."""

    __tablename__ = "state_entries"
    natural_key = ("address",)

    family: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    data: Mapped[Any] = mapped_column(DOCUMENT)


class Participant(Versioned):
    __tablename__ = "participants"
    natural_key = ("public_key",)

    public_key: Mapped[str] = mapped_column(KEY)
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))


class Wallet(Versioned):
    __tablename__ = "wallets"
    natural_key = ("public_key",)

    public_key: Mapped[str] = mapped_column(KEY)
    balance: Mapped[int] = mapped_column(BigInteger)
    locked: Mapped[int] = mapped_column(BigInteger)
    credit_used: Mapped[int] = mapped_column(BigInteger)


class GridPrice(Versioned):
    __tablename__ = "grid_prices"
    natural_key = ("day", "hour")

    day: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    buy: Mapped[int] = mapped_column(BigInteger)     # µEUR/kWh the system operator pays sellers
    sell: Mapped[int] = mapped_column(BigInteger)    # µEUR/kWh it charges buyers


class Book(Versioned):
    __tablename__ = "books"
    natural_key = ("day", "hour")

    day: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    closed: Mapped[bool] = mapped_column(Boolean)
    next_seq: Mapped[int] = mapped_column(BigInteger)


class Order(Versioned):
    """A resting entry of a book (an offer or an order), as long as it rests."""

    __tablename__ = "orders"
    natural_key = ("order_id",)

    order_id: Mapped[str] = mapped_column(ID)
    day: Mapped[int] = mapped_column(Integer, index=True)
    hour: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(KEY, index=True)
    side: Mapped[str] = mapped_column(String(8))
    price: Mapped[int] = mapped_column(BigInteger)
    energy: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    penalty: Mapped[int] = mapped_column(Integer)
    locked: Mapped[int] = mapped_column(BigInteger)
    wire_fee: Mapped[int] = mapped_column(BigInteger)
    grid_fallback: Mapped[bool] = mapped_column(Boolean)
    credit: Mapped[int] = mapped_column(BigInteger)
    owner_score: Mapped[int] = mapped_column(BigInteger)
    min_counterparty_score: Mapped[int] = mapped_column(BigInteger)


class Contract(Versioned):
    """A concluded trade, with its settlement stage and the amounts settled."""

    __tablename__ = "contracts"
    natural_key = ("contract_id",)

    contract_id: Mapped[str] = mapped_column(ID)
    day: Mapped[int] = mapped_column(Integer, index=True)
    hour: Mapped[int] = mapped_column(Integer)
    seller: Mapped[str] = mapped_column(KEY, index=True)
    buyer: Mapped[str] = mapped_column(KEY, index=True)
    energy: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[int] = mapped_column(BigInteger)
    penalty: Mapped[int] = mapped_column(Integer)
    base: Mapped[int] = mapped_column(BigInteger)
    surcharge: Mapped[int] = mapped_column(BigInteger)
    wire_fee: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    grid: Mapped[bool] = mapped_column(Boolean)
    buy_order: Mapped[str] = mapped_column(ID)
    sell_order: Mapped[str] = mapped_column(ID)
    stage: Mapped[str] = mapped_column(String(16))
    cluster: Mapped[Any] = mapped_column(DOCUMENT)
    leader: Mapped[str] = mapped_column(String(66))
    escrow: Mapped[int] = mapped_column(BigInteger)
    credit: Mapped[int] = mapped_column(BigInteger)
    quorum: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(BigInteger)
    paid_base: Mapped[int] = mapped_column(BigInteger)
    paid_surcharge: Mapped[int] = mapped_column(BigInteger)
    paid_wire_fee: Mapped[int] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger)
    guarantee: Mapped[int] = mapped_column(BigInteger)
    declined_at: Mapped[str] = mapped_column(String(16))
    cause: Mapped[str] = mapped_column(String(24))
    cause_detail: Mapped[str] = mapped_column(String(512))


class Penalty(Versioned):
    __tablename__ = "penalties"
    natural_key = ("day", "hour")

    day: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    multiplier: Mapped[int] = mapped_column(Integer)     # permille


class Recommendation(Versioned):
    __tablename__ = "recommendations"
    natural_key = ("public_key", "day", "hour")

    public_key: Mapped[str] = mapped_column(KEY)
    day: Mapped[int] = mapped_column(Integer, index=True)
    hour: Mapped[int] = mapped_column(Integer)
    energy: Mapped[int] = mapped_column(BigInteger)      # Wh


class ReputationScore(Versioned):
    __tablename__ = "reputation_scores"
    natural_key = ("public_key",)

    public_key: Mapped[str] = mapped_column(KEY)
    score: Mapped[int] = mapped_column(BigInteger)       # ppm
    first_day: Mapped[int] = mapped_column(Integer)
    settled: Mapped[int] = mapped_column(Integer)
    faults: Mapped[int] = mapped_column(Integer)
    validated: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)


class ReputationSettlement(Versioned):
    __tablename__ = "reputation_settlements"
    natural_key = ("contract_id",)

    contract_id: Mapped[str] = mapped_column(ID)
    votes: Mapped[Any] = mapped_column(DOCUMENT)        # [{member, delivered_wh, paid}], in arrival order
    final: Mapped[bool] = mapped_column(Boolean)
    qot: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class ArchiveDay(Versioned):
    """An archived day (sawgrid-archive's DayArchive, protos/archive.proto):
    the day's totals and the hash chain; hourly series as JSON arrays of 24."""

    __tablename__ = "archive_days"
    natural_key = ("day",)

    day: Mapped[int] = mapped_column(Integer)
    previous_day: Mapped[int] = mapped_column(Integer)
    previous_digest: Mapped[str] = mapped_column(String(128))
    contracts_digest: Mapped[str] = mapped_column(String(128))
    contracts: Mapped[int] = mapped_column(Integer)
    settled: Mapped[int] = mapped_column(Integer)
    declined: Mapped[int] = mapped_column(Integer)
    contracted_wh: Mapped[int] = mapped_column(BigInteger)
    traded_wh: Mapped[Any] = mapped_column(DOCUMENT)
    load_wh: Mapped[Any] = mapped_column(DOCUMENT)
    par_ppm: Mapped[int] = mapped_column(BigInteger)
    penalties_set: Mapped[bool] = mapped_column(Boolean)
    penalties: Mapped[Any] = mapped_column(DOCUMENT)
    grid_prices_set: Mapped[bool] = mapped_column(Boolean)
    grid_buy: Mapped[Any] = mapped_column(DOCUMENT)
    grid_sell: Mapped[Any] = mapped_column(DOCUMENT)
    recommendations: Mapped[int] = mapped_column(Integer)
    recommendations_digest: Mapped[str] = mapped_column(String(128))
    recommended_wh: Mapped[int] = mapped_column(BigInteger)
    followed_permille: Mapped[int] = mapped_column(Integer)
    system_operator: Mapped[str] = mapped_column(KEY)
    transaction_id: Mapped[str] = mapped_column(ID)
    digest: Mapped[str] = mapped_column(String(128))


class ArchiveParticipantDay(Versioned):
    """One participant's archived day (DayArchive.participants)."""

    __tablename__ = "archive_participant_days"
    natural_key = ("day", "public_key")

    day: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[str] = mapped_column(KEY, index=True)
    bought_p2p_wh: Mapped[int] = mapped_column(BigInteger)
    bought_grid_wh: Mapped[int] = mapped_column(BigInteger)
    sold_p2p_wh: Mapped[int] = mapped_column(BigInteger)
    sold_grid_wh: Mapped[int] = mapped_column(BigInteger)
    paid_base: Mapped[int] = mapped_column(BigInteger)
    paid_wire_fee: Mapped[int] = mapped_column(BigInteger)
    paid_surcharge: Mapped[int] = mapped_column(BigInteger)
    paid_guarantee: Mapped[int] = mapped_column(BigInteger)
    received_base: Mapped[int] = mapped_column(BigInteger)
    received_wire_fee: Mapped[int] = mapped_column(BigInteger)
    received_surcharge: Mapped[int] = mapped_column(BigInteger)
    contracts: Mapped[int] = mapped_column(Integer)
    declined: Mapped[int] = mapped_column(Integer)
    recommended: Mapped[bool] = mapped_column(Boolean)
    recommended_wh: Mapped[int] = mapped_column(BigInteger)
    followed_permille: Mapped[int] = mapped_column(Integer)


VERSIONED: tuple[type[Versioned], ...] = (
    StateEntry, Participant, Wallet, GridPrice, Book, Order, Contract, Penalty, Recommendation,
    ReputationScore, ReputationSettlement, ArchiveDay, ArchiveParticipantDay,
)
TYPED: tuple[type[Versioned], ...] = VERSIONED[1:]

for _model in VERSIONED:
    _model.current_unique()  # an Index on bound columns joins its table
