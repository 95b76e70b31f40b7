"""A market + reputation ledger for the reputation handler's tests.

`World` runs MarketHandler and ReputationHandler on an InProcessLedger,
sets chain time by writing BlockInfoConfig/BlockInfo records straight into
state (what the block_info family would have written), builds reputation
transactions with `access(payload, signer, ledger.get)` as a client would,
and can write hand-built PREPARED contracts (escrow held in the buyer's
`locked`, or owed on credit) with their Positions, as the market's match does.
"""
from __future__ import annotations

import hashlib

from sawgrid.processors.block_info import addresses as bia
from sawgrid.processors.block_info.handler import BlockInfoHandler
from sawgrid.processors.inprocess import InProcessLedger, unsigned_transaction
from sawgrid.processors.market import addresses as maddr
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.processors.market.units import trade_amounts
from sawgrid.processors.reputation import addresses as raddr
from sawgrid.processors.reputation import settle
from sawgrid.processors.reputation.access import access
from sawgrid.processors.reputation.handler import ReputationHandler
from sawgrid.processors.reputation.settings import DEFAULTS, quorum
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb
from sawgrid.protos.block_info_pb2 import BlockInfo, BlockInfoConfig

DAY, HOUR = 20_000, 7
FEE = 10_000                       # µEUR/kWh wire fee
GRID_BUY, GRID_SELL = 50_000, 300_000
HOUR_END = settle.hour_end(DAY, HOUR)
DEADLINE = HOUR_END + DEFAULTS.settle_window


def key(name: str) -> str:
    """A well-formed compressed public key (nothing is signed in these tests)."""
    return "02" + hashlib.sha256(name.encode()).hexdigest()


def settings(**changes) -> rpb.Settings:
    s = rpb.Settings()
    s.CopyFrom(DEFAULTS)
    for name, value in changes.items():
        setattr(s, name, value)
    return s


def rep_payload(action: str, **fields) -> rpb.ReputationPayload:
    message = rpb.ReputationPayload()
    getattr(message, action).SetInParent()
    getattr(message, action).MergeFrom(type(getattr(message, action))(**fields))
    return message


def reading(day=DAY, hour=HOUR, delivered=0, received=0) -> rpb.ReputationPayload:
    return rep_payload("reading", day=day, hour=hour, delivered_wh=delivered, received_wh=received)


def attest(*verdicts: tuple[str, int, bool]) -> rpb.ReputationPayload:
    return rep_payload("attest", verdicts=[rpb.Verdict(contract_id=c, delivered_wh=d, paid=p) for c, d, p in verdicts])


def pay(contract_id: str) -> rpb.ReputationPayload:
    return rep_payload("pay", contract_id=contract_id)


def expire(*contract_ids: str) -> rpb.ReputationPayload:
    return rep_payload("expire", contract_ids=list(contract_ids))


class World:
    """With `clock` (a function giving chain seconds) the ledger injects a
    BlockInfo before every batch, as a validator does; without it, `at(t)`
    writes the BlockInfo records that set chain time."""

    def __init__(self, rep_settings: rpb.Settings | None = None, operator_funds: int = 10**9,
                 clock=None) -> None:
        handlers = [MarketHandler(), ReputationHandler()]
        if clock is None:
            self.ledger = InProcessLedger(handlers)
        else:
            self.ledger = InProcessLedger([*handlers, BlockInfoHandler(clock)], inject_block_info=True, clock=clock)
        self.op = key("operator")
        self.block = 0
        self.market(self.op, "init", wire_fee=FEE)
        self.market(self.op, "set_grid_prices", day=DAY, buy=[GRID_BUY] * 24, sell=[GRID_SELL] * 24)
        if operator_funds:
            self.market(self.op, "fund", public_key=self.op, amount=operator_funds)
        self.ok(self.op, rep_payload("configure", settings=rep_settings or DEFAULTS))
        self.seq = 0

    # -- transactions -------------------------------------------------------------------
    def market(self, signer: str, action: str, **fields):
        message = pb.MarketPayload()
        getattr(message, action).SetInParent()
        getattr(message, action).MergeFrom(type(getattr(message, action))(**fields))
        inputs, outputs = maddr.access(message, signer)
        result = self.ledger.apply(unsigned_transaction(maddr.MARKET.name, "1.0", message.SerializeToString(),
                                                        inputs, outputs, signer))
        assert result.valid, (action, result.invalid_message)
        return result

    def order(self, signer: str, side: int, energy: int, price: int, day: int = DAY, hour: int = HOUR,
              **extra) -> list[pb.Contract]:
        """Place an order through the market handler; the contracts it made."""
        result = self.market(signer, "place_order", side=side, day=day, hour=hour, energy=energy, price=price,
                             **extra)
        return [pb.Contract.FromString(e.data) for e in result.events if e.event_type == maddr.CONTRACT_EVENT]

    def txn(self, signer: str, payload: rpb.ReputationPayload):
        raw = payload.SerializeToString(deterministic=True)
        inputs, outputs = access(payload, signer, self.ledger.get)
        return unsigned_transaction(raddr.REPUTATION.name, "1.0", raw, inputs, outputs, signer)

    def run(self, signer: str, *payloads: rpb.ReputationPayload):
        return self.ledger.apply_transactions([self.txn(signer, p) for p in payloads])

    def ok(self, signer: str, *payloads: rpb.ReputationPayload):
        result = self.run(signer, *payloads)
        assert result.valid, result.invalid_message
        return result

    def fails(self, signer: str, payload: rpb.ReputationPayload, *fragments: str) -> str:
        before = dict(self.ledger.state)
        result = self.run(signer, payload)
        assert not result.valid, "expected an invalid transaction"
        for fragment in fragments:
            assert fragment in result.invalid_message, result.invalid_message
        assert self.ledger.state == before, "an invalid transaction changed state"
        return result.invalid_message

    # -- chain time -------------------------------------------------------------------------
    def at(self, timestamp: int) -> "World":
        """Chain time is `timestamp` from now on (a new BlockInfo, as a block would bring)."""
        self.block += 1
        self.ledger.state[bia.CONFIG_ADDRESS] = BlockInfoConfig(
            latest_block=self.block, oldest_block=1, target_count=256, sync_tolerance=300).SerializeToString()
        self.ledger.state[bia.block_info_address(self.block)] = BlockInfo(
            block_num=self.block, previous_block_id="0" * 128, signer_public_key=key("validator"),
            header_signature=f"{self.block:0128x}", timestamp=timestamp).SerializeToString()
        return self

    # -- participants and contracts -----------------------------------------------------------
    def participant(self, name: str, funds: int = 100_000_000) -> str:
        pk = key(name)
        self.market(pk, "register", name=name)
        self.market(self.op, "approve", public_key=pk)
        if funds:
            self.market(self.op, "fund", public_key=pk, amount=funds)
        return pk

    def read(self, address: str, cls):
        raw = self.ledger.get(address)
        return cls.FromString(raw) if raw is not None else None

    def wallet(self, pk: str) -> pb.Wallet:
        return self.read(maddr.wallet_address(pk), pb.Wallet) or pb.Wallet(public_key=pk)

    def score(self, pk: str) -> rpb.Score | None:
        return self.read(raddr.score_address(pk), rpb.Score)

    def contract(self, contract_id: str) -> pb.Contract:
        day, hour, _ = maddr.parse_order_id(contract_id)
        return self.read(maddr.contract_address(day, hour, contract_id), pb.Contract)

    def settlement(self, contract_id: str) -> rpb.Settlement | None:
        day, hour, _ = maddr.parse_order_id(contract_id)
        return self.read(raddr.settlement_address(day, hour, contract_id), rpb.Settlement)

    def pool(self) -> rpb.Pool:
        return self.read(raddr.pool_address(), rpb.Pool) or rpb.Pool()

    def _put(self, address: str, message) -> None:
        self.ledger.state[address] = message.SerializeToString(deterministic=True)

    def add_contract(self, seller: str, buyer: str, energy: int = 1_000, price: int = 200_000,
                     cluster: tuple[str, ...] = (), leader: str | None = None, credit: bool = False,
                     grid: bool = False, penalty: int = 1000, day: int = DAY, hour: int = HOUR,
                     extra_escrow: int = 0) -> str:
        """A PREPARED contract as the market's match writes it; returns its id."""
        self.seq += 1
        contract_id = f"{day}/{hour}/{1000 + self.seq}"
        base, surcharge, fee, total = trade_amounts(energy, price, penalty, 0 if grid else FEE)
        members = sorted(cluster)
        contract = pb.Contract(
            id=contract_id, day=day, hour=hour, seller=seller, buyer=buyer, energy=energy, price=price,
            penalty=penalty, base=base, surcharge=surcharge, wire_fee=fee, total=total, grid=grid,
            stage=pb.PREPARED, cluster=members, leader=(leader or (members[0] if members else "")),
            quorum=quorum(len(members)))
        wallet = self.wallet(buyer)
        held = total + extra_escrow
        if credit:
            wallet.credit_used += held
            contract.credit = held
        else:
            assert wallet.balance >= held
            wallet.balance -= held
            wallet.locked += held
            contract.escrow = held
        self._put(maddr.wallet_address(buyer), wallet)
        self._put(maddr.contract_address(day, hour, contract_id), contract)
        for pk, side in ((seller, "sold"), (buyer, "bought")):
            address = maddr.position_address(day, hour, pk)
            position = self.read(address, pb.Position) or pb.Position(public_key=pk, day=day, hour=hour)
            getattr(position, side).append(contract_id)
            self._put(address, position)
        return contract_id

    # -- accounting ------------------------------------------------------------------------------
    def wallets(self) -> list[pb.Wallet]:
        return [pb.Wallet.FromString(v) for v in self.ledger.items(maddr.MARKET.prefix(maddr.WALLET)).values()]

    def contracts(self) -> list[pb.Contract]:
        return [pb.Contract.FromString(v) for v in self.ledger.items(maddr.contracts_prefix()).values()]

    def money(self) -> int:
        return sum(w.balance + w.locked for w in self.wallets())
