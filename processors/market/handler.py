"""The sawgrid-market transaction handler.

Every action reads like the spec (processors/market/README.md): decode and
check the payload (`payload`), read the records it needs (`state`), decide —
raising InvalidTransaction before anything is written — then write the
records, the contracts' events and the receipt data.
"""
from __future__ import annotations

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.base import SawgridHandler, write_outcome
from sawgrid.processors.market import addresses as addr
from sawgrid.processors.market import units as u
from sawgrid.processors.market.book import HourBook
from sawgrid.processors.market.payload import decode, invalid
from sawgrid.processors.market.state import ADDR, REP, MarketState
from sawgrid.processors.reputation import cluster, eligibility
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos import reputation_pb2 as rpb

CONTRACT_EVENT = addr.CONTRACT_EVENT
HOUR_CLOSED_EVENT = addr.HOUR_CLOSED_EVENT

_SIDE_ROLES = {pb.BUY: (pb.BUYER, pb.BOTH), pb.SELL: (pb.SELLER, pb.BOTH)}


class MarketHandler(SawgridHandler):
    FAMILY = addr.MARKET

    def handle(self, transaction, context) -> None:
        action, message = decode(transaction.payload)
        signer = transaction.header.signer_public_key
        state = MarketState(context)
        outcome = getattr(self, "_" + action)(state, signer, message)
        if state.deletes():  # emptied book records (pages, price levels, index nodes)
            context.delete_state(state.deletes())
        # set_state, then the events and the receipt data (one round trip's wait against a validator)
        write_outcome(context, state.writes(), outcome.events if outcome is not None else (),
                      outcome.receipt_data if outcome is not None else ())

    # -- operators and configuration ---------------------------------------------------
    def _init(self, st: MarketState, signer: str, m: pb.Init):
        if st.config() is not None:
            raise invalid("init", "the market is already initialised")
        st.put_config(pb.Config(operators=[signer], system_operator=signer, wire_fee=m.wire_fee))
        _make_approved(st, signer, "system operator")

    def _add_operator(self, st: MarketState, signer: str, m: pb.AddOperator):
        config = _require_operator(st, signer)
        if m.public_key in config.operators:
            raise invalid("add_operator.public_key", "already an operator")
        operators = sorted([*config.operators, m.public_key])
        del config.operators[:]
        config.operators.extend(operators)
        st.put_config(config)
        _make_approved(st, m.public_key, "operator")

    def _remove_operator(self, st: MarketState, signer: str, m: pb.RemoveOperator):
        config = _require_operator(st, signer)
        if m.public_key not in config.operators:
            raise invalid("remove_operator.public_key", "not an operator")
        if m.public_key == config.system_operator:
            raise invalid("remove_operator.public_key", "the system operator cannot be removed")
        config.operators.remove(m.public_key)
        st.put_config(config)

    def _set_wire_fee(self, st: MarketState, signer: str, m: pb.SetWireFee):
        config = _require_operator(st, signer)
        config.wire_fee = m.wire_fee
        st.put_config(config)

    # -- participants --------------------------------------------------------------------
    def _register(self, st: MarketState, signer: str, m: pb.Register):
        st.prefetch([ADDR.participant_address(signer), ADDR.wallet_address(signer)])
        if st.participant(signer) is not None:
            raise invalid("register", "this key is already registered")
        st.put_participant(pb.Participant(public_key=signer, name=m.name, status=pb.PENDING))
        st.put_wallet(st.wallet_or_new(signer))

    def _approve(self, st: MarketState, signer: str, m: pb.Approve):
        _require_operator(st, signer)
        participant = st.participant(m.public_key)
        if participant is None:
            raise invalid("approve.public_key", "not registered")
        if participant.status == pb.APPROVED:
            raise invalid("approve.public_key", "already approved")
        participant.status = pb.APPROVED
        st.put_participant(participant)

    def _set_role(self, st: MarketState, signer: str, m: pb.SetRole):
        _require_approved(st, signer)
        st.put_role(pb.DayRole(public_key=signer, day=m.day, role=m.role))

    def _fund(self, st: MarketState, signer: str, m: pb.Fund):
        _require_operator(st, signer)
        if st.participant(m.public_key) is None:
            raise invalid("fund.public_key", "not registered")
        wallet = st.wallet_or_new(m.public_key)
        if wallet.balance + wallet.locked + m.amount > u.MAX_BALANCE:
            raise invalid("fund.amount", "the wallet would exceed its maximum balance")
        wallet.balance += m.amount
        st.put_wallet(wallet)

    # -- prices, penalties, recommendations ------------------------------------------------
    def _set_grid_prices(self, st: MarketState, signer: str, m: pb.SetGridPrices):
        _require_operator(st, signer)
        st.put_grid_prices(pb.GridPrices(day=m.day, buy=m.buy, sell=m.sell))

    def _set_penalties(self, st: MarketState, signer: str, m: pb.SetPenalties):
        _require_operator(st, signer)
        existing = st.penalties(m.day)
        if existing is not None:
            if list(existing.multipliers) == list(m.multipliers):
                return None  # the same vector again: idempotent
            raise invalid("set_penalties.day", f"penalties for day {m.day} are already set")
        st.put_penalties(pb.Penalties(day=m.day, multipliers=m.multipliers))

    def _set_recommendations(self, st: MarketState, signer: str, m: pb.SetRecommendations):
        _require_operator(st, signer)
        if st.penalties(m.day) is not None:
            raise invalid("set_recommendations.day",
                          f"day {m.day} is already issued (its penalties are set); recommendations are final")
        st.prefetch(ADDR.participant_address(rec.public_key) for rec in m.recommendations)
        for i, rec in enumerate(m.recommendations):
            if st.participant(rec.public_key) is None:
                raise invalid(f"set_recommendations.recommendations[{i}].public_key", "not registered")
        for rec in m.recommendations:
            st.put_recommendation(pb.RecommendationRecord(public_key=rec.public_key, day=m.day, schedule=rec.schedule))
        index = st.recommendation_index(m.day)
        keys = sorted({*index.public_keys, *(rec.public_key for rec in m.recommendations)})
        if keys != list(index.public_keys):
            del index.public_keys[:]
            index.public_keys.extend(keys)
            st.put_recommendation_index(index)

    # -- trading ---------------------------------------------------------------------------
    def _place_order(self, st: MarketState, signer: str, m: pb.PlaceOrder):
        st.prefetch([
            ADDR.config_address(), ADDR.participant_address(signer), ADDR.role_address(signer, m.day),
            *([ADDR.wallet_address(signer)] if m.side == pb.BUY else []), ADDR.penalties_address(m.day),
            ADDR.book_address(m.day, m.hour), REP.config_address(), REP.score_address(signer), REP.pool_address(),
        ])
        config = _require_config(st)
        _require_approved(st, signer)
        role = st.role(signer, m.day)
        if role is not None and role.role not in _SIDE_ROLES[m.side]:
            raise invalid("place_order.side", f"your role for day {m.day} is {pb.Role.Name(role.role)}")
        hour_book = HourBook(st, m.day, m.hour)
        book = hour_book.head
        if book.closed:
            raise invalid("place_order.hour", f"hour {m.day}/{m.hour} is closed")
        settings = st.reputation_settings()
        record = st.score(signer)
        refused = eligibility.refusal(record, settings, m.day)
        if refused is not None:
            raise invalid("signer", refused)
        score = eligibility.score_of(record, settings)
        penalties = st.penalties(m.day)
        trade = _Trade(st, book, config, settings, st.pool_ranking(settings.min_score))

        order = pb.Order(id=trade.next_id(), owner=signer, side=m.side, price=m.price, energy=m.energy,
                         remaining=m.energy, seq=book.next_seq - 1, grid_fallback=m.grid_fallback,
                         owner_score=score, min_counterparty_score=m.min_counterparty_score)
        if m.side == pb.BUY:
            order.penalty = penalties.multipliers[m.hour] if penalties else u.NO_PENALTY
            order.wire_fee = config.wire_fee
            trade.lock(order, m.on_credit, score)

        for fill in hour_book.match(order):
            if m.side == pb.BUY:
                trade.settle(order, fill.resting, fill.energy, fill.price, grid=False)
            else:  # the resting order's snapshot: its remaining is as of this fill
                trade.settle(fill.resting, order, fill.energy, fill.price, grid=False, resting_buy=True)
                if fill.entry is not None:  # a partly filled resting order keeps a smaller lock
                    fill.entry.locked, fill.entry.credit = fill.resting.locked, fill.resting.credit

        if m.side == pb.BUY:
            trade.trim(order)  # after all its fills: only what the remainder can cost stays held
        if order.remaining:
            if hour_book.resting(m.side) >= u.MAX_BOOK_ORDERS:
                raise invalid("place_order", f"the book for {m.day}/{m.hour} is full ({u.MAX_BOOK_ORDERS} entries)")
            hour_book.rest(order)
        hour_book.flush()
        trade.write()
        trade.receipt_data.append(order.id.encode())
        return trade

    def _cancel(self, st: MarketState, signer: str, m: pb.Cancel):
        day, hour, seq = addr.parse_order_id(m.order_id)
        hour_book = HourBook(st, day, hour)
        if hour_book.head.closed:
            raise invalid("cancel.order_id", f"hour {day}/{hour} is closed")
        found = hour_book.find(m.order_id, seq)
        if found is None:
            raise invalid("cancel.order_id", "no such resting order (filled, cancelled or expired)")
        order = pb.Order()
        order.CopyFrom(found)
        if order.owner != signer:
            raise invalid("cancel.order_id", "not your order")
        hour_book.remove(found)
        if order.side == pb.BUY:
            wallet = st.wallet_or_new(signer)
            _release(wallet, order, order.locked)
            st.put_wallet(wallet)
        hour_book.flush()

    def _close_hour(self, st: MarketState, signer: str, m: pb.CloseHour):
        config = _require_operator(st, signer)
        hour_book = HourBook(st, m.day, m.hour)
        book = hour_book.head
        if book.closed:
            raise invalid("close_hour", f"hour {m.day}/{m.hour} is already closed")
        grid = st.grid_prices(m.day)
        resting = hour_book.close()  # orders, then offers, each in priority order
        st.prefetch(ADDR.wallet_address(pk) for pk in sorted({o.owner for o in resting}))
        trade = _Trade(st, book, config)
        expired = 0
        # gate closure: grid-fallback remainders trade with the system operator, the rest expires
        for entry in resting:
            if entry.grid_fallback and grid is not None:
                trade.with_grid(entry, grid)
            if entry.remaining:
                expired += 1
            if entry.side == pb.BUY:
                entry.remaining = 0
                trade.trim(entry)  # nothing more can be bought: the whole lock returns
        book.closed = True
        hour_book.flush()
        trade.write()
        trade.events.append((HOUR_CLOSED_EVENT,
                             [("day", str(m.day)), ("hour", str(m.hour)), ("expired", str(expired))], b""))
        return trade


# -- rules shared by several actions ---------------------------------------------------------
def _require_config(st: MarketState) -> pb.Config:
    config = st.config()
    if config is None:
        raise InvalidTransaction("market: not initialised (no operator yet)")
    return config


def _require_operator(st: MarketState, signer: str) -> pb.Config:
    config = _require_config(st)
    if signer not in config.operators:
        raise InvalidTransaction("signer: not an operator")
    return config


def _require_approved(st: MarketState, signer: str) -> pb.Participant:
    participant = st.participant(signer)
    if participant is None:
        raise InvalidTransaction("signer: not registered")
    if participant.status != pb.APPROVED:
        raise InvalidTransaction(f"signer: not approved yet (status {pb.ParticipantStatus.Name(participant.status)})")
    return participant


def _make_approved(st: MarketState, public_key: str, name: str) -> None:
    participant = st.participant(public_key) or pb.Participant(public_key=public_key, name=name)
    participant.status = pb.APPROVED
    st.put_participant(participant)
    st.put_wallet(st.wallet_or_new(public_key))


def _split(order: pb.Order, amount: int) -> tuple[int, int]:
    """(money, credit): `amount` of a BUY order's lock, its credit part first."""
    credit = min(amount, order.credit)
    return amount - credit, credit


def _release(wallet: pb.Wallet, order: pb.Order, amount: int) -> None:
    """Return `amount` of a BUY order's lock to its owner: money to the balance,
    credit to the credit line."""
    money, credit = _split(order, amount)
    wallet.locked -= money
    wallet.balance += money
    wallet.credit_used -= credit
    order.locked -= amount
    order.credit -= credit


class _Outcome:
    def __init__(self) -> None:
        self.events: list[tuple[str, list[tuple[str, str]], bytes]] = []
        self.receipt_data: list[bytes] = []


class _Trade(_Outcome):
    """Locks, escrows and contracts of one place_order or close_hour.

    No money moves between wallets: a BUY order's lock (held in its owner's
    `locked`, or against its credit line) becomes, fill by fill, the escrow (or
    the credit) of the contracts it buys; settlement (sawgrid-reputation)
    releases it later. Only the system operator buying at the grid price moves
    money, from its own balance into its own `locked`."""

    def __init__(self, st: MarketState, book: pb.Book, config: pb.Config,
                 settings: rpb.Settings | None = None, ranking: cluster.Ranking | None = None) -> None:
        super().__init__()
        self.st = st
        self.book = book
        self.operator = config.system_operator
        self.settings = settings
        self.ranking = ranking if ranking is not None else cluster.ranking((), 0)  # the pool's, for the draw
        self.contracts: list[pb.Contract] = []
        self.wallets: dict[str, pb.Wallet] = {}

    def next_id(self) -> str:
        seq = self.book.next_seq
        self.book.next_seq += 1
        return f"{self.book.day}/{self.book.hour}/{seq}"

    def wallet(self, public_key: str) -> pb.Wallet:
        if public_key not in self.wallets:
            self.wallets[public_key] = self.st.wallet_or_new(public_key)
        return self.wallets[public_key]

    def lock(self, order: pb.Order, on_credit: bool, score: int) -> None:
        """Hold the worst-case cost of a BUY order, out of the balance or (on
        credit) against the credit line; refuse it if that is short."""
        *_, total = u.trade_amounts(order.energy, order.price, order.penalty, order.wire_fee)
        wallet = self.wallet(order.owner)
        if on_credit:
            settings = self.settings
            if not eligibility.may_buy_on_credit(score, settings):
                raise invalid("place_order.on_credit",
                              f"buying on credit needs a Q-score of {settings.credit_score} ppm, yours is {score} ppm")
            free = max(0, settings.credit_limit - wallet.credit_used)
            if total > free:
                raise invalid("place_order.on_credit",
                              f"the order needs {total} µEUR of credit, {free} µEUR of the "
                              f"{settings.credit_limit} µEUR credit line is free")
            wallet.credit_used += total
            order.credit = total
        else:
            if wallet.balance < total:
                raise InvalidTransaction(
                    f"wallet: insufficient funds: the order needs {total} µEUR locked, {wallet.balance} µEUR available")
            wallet.balance -= total
            wallet.locked += total
        order.locked = total

    def trim(self, order: pb.Order) -> None:
        """Keep a BUY order's lock at exactly what its remainder can still cost
        (at its limit price); return the rest to its owner. Fills at or below
        the limit always leave at least that much (see units.trade_amounts)."""
        *_, needed = u.trade_amounts(order.remaining, order.price, order.penalty, order.wire_fee)
        _release(self.wallet(order.owner), order, order.locked - needed)

    def settle(self, buy: pb.Order, sell: pb.Order, energy: int, price: int, grid: bool,
               seller: str | None = None, buyer: str | None = None, resting_buy: bool = False) -> pb.Contract:
        """Record one trade as a PREPARED contract, its buyer's money in escrow.

        The escrow (or credit) comes out of the buy order's lock: the trade's
        total; for a resting BUY order filled by an arriving SELL, everything
        its remainder no longer needs (the total plus the few µEUR of rounding
        the lock for the whole held beyond the sum of its parts), since its
        owner's wallet is not part of the transaction. Settlement refunds what
        the escrow holds beyond the payout."""
        penalty = buy.penalty if buy.side == pb.BUY and buy.owner else u.NO_PENALTY
        fee_rate = 0 if grid else buy.wire_fee
        base, surcharge, fee, total = u.trade_amounts(energy, price, penalty, fee_rate)
        buyer = buyer or buy.owner
        seller = seller or sell.owner
        if buyer == self.operator and not buy.owner:  # the operator buys at the grid price: its own escrow
            wallet = self.wallet(buyer)
            wallet.balance -= total
            wallet.locked += total
            escrow, credit = total, 0
        else:
            take = total
            if resting_buy:
                *_, needed = u.trade_amounts(buy.remaining, buy.price, buy.penalty, buy.wire_fee)
                take = buy.locked - needed
            escrow, credit = _split(buy, take)
            buy.locked -= take
            buy.credit -= credit
        contract_id = self.next_id()
        drawn = cluster.EMPTY if grid else cluster.draw_ranked(
            self.ranking, contract_id, seller, buyer, self.settings.cluster_size)
        contract = pb.Contract(
            id=contract_id, day=self.book.day, hour=self.book.hour, seller=seller, buyer=buyer,
            energy=energy, price=price, penalty=penalty, base=base, surcharge=surcharge, wire_fee=fee,
            total=total, grid=grid, buy_order=buy.id, sell_order=sell.id,
            stage=pb.PREPARED, cluster=drawn.cluster, leader=drawn.leader, escrow=escrow, credit=credit,
            quorum=drawn.quorum,
        )
        self.contracts.append(contract)
        return contract

    def with_grid(self, order: pb.Order, grid: pb.GridPrices) -> None:
        """Trade an entry's remainder with the system operator at the grid
        price, if that price is within the entry's limit (and, when the
        operator buys, if it can pay). Otherwise the remainder is left."""
        if order.owner == self.operator:
            return
        energy = order.remaining
        if order.side == pb.BUY:
            price = grid.sell[self.book.hour]
            if price > order.price:
                return
            order.remaining = 0
            self.settle(order, pb.Order(side=pb.SELL), energy, price, grid=True, seller=self.operator)
        else:
            price = grid.buy[self.book.hour]
            base, *_ = u.trade_amounts(energy, price, u.NO_PENALTY, 0)
            if price < order.price or self.wallet(self.operator).balance < base:
                return
            order.remaining = 0
            self.settle(pb.Order(side=pb.BUY), order, energy, price, grid=True, buyer=self.operator)

    def write(self) -> None:
        """Wallets, contracts, the hour's index and the parties' positions; one
        contract event each."""
        for wallet in self.wallets.values():
            self.st.put_wallet(wallet)
        if not self.contracts:
            return
        day, hour = self.book.day, self.book.hour
        parties = sorted({pk for c in self.contracts for pk in (c.seller, c.buyer)})
        self.st.prefetch([ADDR.hour_index_address(day, hour),
                          *(ADDR.position_address(day, hour, pk) for pk in parties)])
        index = self.st.hour_index(day, hour)
        for contract in self.contracts:
            self.st.put_contract(contract)
            index.contracts.append(contract.id)
            sold = self.st.position(day, hour, contract.seller)
            sold.sold.append(contract.id)
            bought = self.st.position(day, hour, contract.buyer)
            bought.bought.append(contract.id)
            self.st.put_position(sold)
            self.st.put_position(bought)
            self.events.append((CONTRACT_EVENT, [
                ("id", contract.id), ("buyer", contract.buyer), ("seller", contract.seller),
                ("day", str(contract.day)), ("hour", str(contract.hour)),
            ], contract.SerializeToString(deterministic=True)))
        self.st.put_hour_index(index)
