"""The market commands of `sawgrid`: participants, operators, trading, reading.

    sawgrid participant register|approve|show|list
    sawgrid operator init|fund|prices|add|remove|wire-fee|close
    sawgrid role | offer | order | cancel | book | trades | balance

Amounts are typed as users think of them (kWh, EUR, EUR/kWh, ISO dates) and
converted by `clients.market`. Commands that sign, or that default to your
own key, use the key named by the global --key, else $SAWGRID_KEY, else
"default". Read commands print aligned tables, or JSON with --json (integers
with unit-suffixed keys such as "energy_wh", days as ISO dates).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from sawgrid.clients.sdk import market, reputation
from sawgrid.clients.cli.support import (
    EUR_PLACES, Session, command, format_table, group, key_name, with_global_options,
)
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors.market.units import MAX_SCORE
from sawgrid.protos import market_pb2 as pb

def _contracts_table(session: Session, contracts: Sequence[pb.Contract]) -> str:
    rows = [(c.id, market.day_text(c.day), c.hour, session.label(c.seller), session.label(c.buyer),
             market.format_kwh(c.energy, unit=False), market.format_price(c.price, unit=False),
             market.format_eur(c.total, unit=False, places=EUR_PLACES), "yes" if c.grid else "")
            for c in contracts]
    headers = ("ID", "DAY", "HOUR", "SELLER", "BUYER", "kWh", "EUR/kWh", "PAID EUR", "GRID")
    return format_table(headers, rows, align="llrllrrrl")


# --------------------------------------------------------------------------
# participant ...
# --------------------------------------------------------------------------
def _participant_register(args: argparse.Namespace) -> int:
    s = Session(args)
    name = args.name or Path(key_name(args)).stem
    s.submit(market.register(name))
    record = s.reader.participant(s.public_key) or pb.Participant(public_key=s.public_key, name=name)
    return s.emit(market.participant_json(record),
                  f"registered {name!r} as {s.public_key} (pending until an operator runs: "
                  f"sawgrid participant approve {s.public_key})")


def _participant_approve(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    s.submit(market.approve(public_key))
    record = s.reader.participant(public_key) or pb.Participant(public_key=public_key, status=pb.APPROVED)
    return s.emit(market.participant_json(record), lambda: f"approved {s.label(public_key)}")


def _participant_show(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    record = s.reader.participant(public_key)
    if record is None:
        raise SawgridError(f"{public_key} is not registered (register with: sawgrid participant register)")
    config = s.reader.config() or pb.Config()
    wallet = s.reader.wallet(public_key) or pb.Wallet(public_key=public_key)
    operator = public_key in config.operators
    doc = {**market.participant_json(record), "operator": operator,
           "balance_ueur": wallet.balance, "locked_ueur": wallet.locked,
           "credit_used_ueur": wallet.credit_used}
    rows = [("public key", public_key), ("name", record.name), ("status", doc["status"]),
            ("operator", "yes" if operator else "no"), ("balance", market.format_eur(wallet.balance)),
            ("held", market.format_eur(wallet.locked)), ("credit used", market.format_eur(wallet.credit_used))]
    return s.emit(doc, format_table(None, rows))


def _participant_list(args: argparse.Namespace) -> int:
    s = Session(args)
    config = s.reader.config() or pb.Config()
    found = s.reader.participants()
    doc = [{**market.participant_json(p), "operator": p.public_key in config.operators} for p in found]
    rows = [(d["name"], d["status"], "yes" if d["operator"] else "", d["public_key"]) for d in doc]
    text = format_table(("NAME", "STATUS", "OPERATOR", "PUBLIC KEY"), rows) if rows else "no participants"
    return s.emit(doc, text)


# --------------------------------------------------------------------------
# operator ...
# --------------------------------------------------------------------------
def _operator_init(args: argparse.Namespace) -> int:
    """Initialise the market once; on a chain the same key already
    initialised, succeed without submitting (safe to re-run)."""
    s = Session(args)
    fee = market.price_to_ueur_per_kwh(args.wire_fee, "--wire-fee")
    config = s.reader.config()
    if config is not None:
        if config.system_operator != s.public_key:
            raise SawgridError(f"the market is already initialised; its system operator is {config.system_operator}")
        return s.emit({**market.config_json(config), "initialised": False},
                      f"the market is already initialised with {s.public_key} as its system operator; "
                      f"nothing to do (wire fee {market.format_price(config.wire_fee)})")
    s.submit(market.init(fee))
    config = s.reader.config() or pb.Config(operators=[s.public_key], system_operator=s.public_key, wire_fee=fee)
    return s.emit({**market.config_json(config), "initialised": True},
                  f"market initialised: {s.public_key} is its system operator; "
                  f"wire fee {market.format_price(config.wire_fee)}")


def _operator_fund(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    amount = market.eur_to_ueur(args.eur, "EUR")
    s.submit(market.fund(public_key, amount))
    wallet = s.reader.wallet(public_key) or pb.Wallet(public_key=public_key)
    return s.emit({**market.wallet_json(wallet), "funded_ueur": amount},
                  lambda: f"funded {s.label(public_key)} with {market.format_eur(amount)}; "
                  f"balance now {market.format_eur(wallet.balance)}")


def _operator_prices(args: argparse.Namespace) -> int:
    s = Session(args)
    day = market.parse_day(args.day)
    buy = market.parse_hourly_prices(args.buy, "--buy")
    sell = market.parse_hourly_prices(args.sell, "--sell")
    for hour, (b, p) in enumerate(zip(buy, sell)):
        if b > p:  # refused: the grid would pay more for energy than it charges for it
            raise SawgridError(f"--buy: at hour {hour} the grid would buy at {market.format_price(b)}, above its "
                               f"sell price {market.format_price(p)}: anyone could buy from the grid and sell "
                               f"back at a profit")
    s.submit(market.set_grid_prices(day, buy, sell))
    record = pb.GridPrices(day=day, buy=buy, sell=sell)
    rows = [(h, market.format_price(b, unit=False), market.format_price(p, unit=False))
            for h, (b, p) in enumerate(zip(buy, sell))]
    text = (f"grid prices for {market.day_text(day)} published\n"
            + format_table(("HOUR", "BUY EUR/kWh", "SELL EUR/kWh"), rows, align="rrr"))
    return s.emit(market.grid_prices_json(record), text)


def _operator_add(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    s.submit(market.add_operator(public_key))
    return s.emit(market.config_json(s.reader.config() or pb.Config()), f"{public_key} is now an operator")


def _operator_remove(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    s.submit(market.remove_operator(public_key))
    return s.emit(market.config_json(s.reader.config() or pb.Config()), f"{public_key} is no longer an operator")


def _operator_wire_fee(args: argparse.Namespace) -> int:
    s = Session(args)
    fee = market.price_to_ueur_per_kwh(args.fee, "EUR_PER_KWH")
    s.submit(market.set_wire_fee(fee))
    return s.emit(market.config_json(s.reader.config() or pb.Config()),
                  f"wire fee is now {market.format_price(fee)}")


def _operator_close(args: argparse.Namespace) -> int:
    s = Session(args)
    day, hour = market.parse_day(args.day), market.parse_hour(args.hour)
    [txn] = s.submit(market.close_hour(day, hour))
    receipt = market.MarketReceipt.fetch(s.rest, txn)
    events = receipt.events_of(market.HOUR_CLOSED_EVENT)
    expired_text = events[0].attributes.get("expired") if events else None
    expired = int(expired_text) if expired_text and expired_text.isdigit() else None
    grid = receipt.contracts  # what the system operator traded at gate closure (--grid-fallback)
    doc = {"day": market.day_text(day), "hour": hour, "closed": True, "expired": expired,
           "grid_contracts": [market.contract_json(c) for c in grid]}

    def text() -> str:
        lines = [f"closed {market.day_text(day)} hour {hour}"
                 + (f": {expired} resting order(s) expired" if expired is not None else "")]
        if grid:
            lines += [f"the grid took {market.format_kwh(receipt.traded_wh)} in {len(grid)} contract(s) "
                      f"at gate closure:", _contracts_table(s, grid)]
        return "\n".join(lines)

    return s.emit(doc, text)


# --------------------------------------------------------------------------
# trading
# --------------------------------------------------------------------------
def _role(args: argparse.Namespace) -> int:
    s = Session(args)
    day, role = market.parse_day(args.day), market.parse_role(args.role)
    s.submit(market.set_role(day, role))
    return s.emit({"public_key": s.public_key, "day": market.day_text(day), "role": market.role_name(role)},
                  f"role on {market.day_text(day)}: {market.role_name(role)}")


def _place(args: argparse.Namespace, side: int, price_text: str, price_option: str) -> int:
    """Place an offer or order, then report its id and the contracts it made."""
    s = Session(args)
    day, hour = market.parse_day(args.day), market.parse_hour(args.hour)
    energy = market.kwh_to_wh(args.kwh, "--kwh")
    price = market.price_to_ueur_per_kwh(price_text, price_option)
    if day < market.today() and not args.allow_past:
        raise SawgridError(f"--day: {market.day_text(day)} is in the past (today is "
                           f"{market.day_text(market.today())} UTC), so nothing can be delivered then; "
                           f"--allow-past places it anyway (for a replayed or simulated chain)")
    if args.grid_fallback and s.reader.grid_prices(day) is None:
        raise SawgridError(f"--grid-fallback: no grid prices for {market.day_text(day)} yet, so the grid could not "
                           f"take the rest at gate closure and it would expire unfilled; an operator publishes "
                           f"them with: sawgrid operator prices --day {market.day_text(day)} ...")
    on_credit = getattr(args, "on_credit", False)
    min_score = (0 if args.min_counterparty_score is None else
                 reputation.score_to_ppm(args.min_counterparty_score, "--min-counterparty-score",
                                         maximum=MAX_SCORE))
    [txn] = s.submit(market.place_order(side, day, hour, energy, price, args.grid_fallback,
                                        on_credit=on_credit, min_counterparty_score=min_score))
    receipt = market.MarketReceipt.fetch(s.rest, txn)
    filled = receipt.traded_wh
    doc = {"order_id": receipt.order_id, "side": market.SIDES[side], "day": market.day_text(day), "hour": hour,
           "energy_wh": energy, "price_ueur_per_kwh": price, "grid_fallback": args.grid_fallback,
           "on_credit": on_credit, "min_counterparty_score_ppm": min_score,
           "filled_wh": filled, "resting_wh": energy - filled,
           "contracts": [market.contract_json(c) for c in receipt.contracts]}
    return s.emit(doc, lambda: _placed_text(s, receipt, side, energy, price, args.grid_fallback))


def _placed_text(s: Session, receipt: market.MarketReceipt, side: int, energy: int, price: int,
                 grid_fallback: bool) -> str:
    filled = receipt.traded_wh
    kind = "offer" if side == pb.SELL else "order"
    lines = [f"{kind} {receipt.order_id}: {market.format_kwh(energy)} at {market.format_price(price)} "
             f"{'or more' if side == pb.SELL else 'or less'}"]
    if receipt.contracts:
        lines += [f"traded {market.format_kwh(filled)} in {len(receipt.contracts)} contract(s):",
                  _contracts_table(s, receipt.contracts)]
    rest = f"resting in the book: {market.format_kwh(energy - filled)}"
    if energy > filled and grid_fallback:
        rest += " (the grid takes what is left when the hour closes)"
    lines.append(rest if energy > filled else "completely filled")
    return "\n".join(lines)


def _offer(args: argparse.Namespace) -> int:
    return _place(args, pb.SELL, args.price, "--price")


def _order(args: argparse.Namespace) -> int:
    return _place(args, pb.BUY, args.max_price, "--max-price")


def _cancel(args: argparse.Namespace) -> int:
    s = Session(args)
    order_id = market.check_order_id(args.order_id)
    s.submit(market.cancel(order_id))
    return s.emit({"order_id": order_id, "cancelled": True}, f"cancelled {order_id}")


def _book(args: argparse.Namespace) -> int:
    s = Session(args)
    day, hour = market.parse_day(args.day), market.parse_hour(args.hour)
    book = s.reader.book(day, hour) or pb.Book(day=day, hour=hour)
    grid = s.reader.grid_prices(day)
    doc = market.book_json(day, hour, book)
    doc["grid_prices"] = (None if grid is None else
                          {"buy_ueur_per_kwh": grid.buy[hour], "sell_ueur_per_kwh": grid.sell[hour]})
    return s.emit(doc, lambda: _book_text(s, book, grid))


def _book_text(s: Session, book: pb.Book, grid: pb.GridPrices | None) -> str:
    header = f"{market.day_text(book.day)} hour {book.hour}: {'closed' if book.closed else 'open'}"
    if grid is not None:
        header += (f"; grid buys at {market.format_price(grid.buy[book.hour])}, "
                   f"sells at {market.format_price(grid.sell[book.hour])}")
    rows = [(market.SIDES.get(o.side, "?"), o.id, s.label(o.owner), market.format_price(o.price, unit=False),
             market.format_kwh(o.remaining, unit=False), market.format_kwh(o.energy, unit=False))
            for o in [*book.offers, *book.orders]]
    table = (format_table(("SIDE", "ID", "OWNER", "EUR/kWh", "LEFT kWh", "OF kWh"), rows, align="lllrrr")
             if rows else "(empty book)")
    return f"{header}\n{table}"


def _trades(args: argparse.Namespace) -> int:
    s = Session(args)
    if args.hour is not None and args.day is None:
        raise SawgridError("--hour needs --day")
    day = None if args.day is None else market.parse_day(args.day)
    hour = None if args.hour is None else market.parse_hour(args.hour)
    participant = None if args.participant is None else s.public_key_arg(args.participant)
    found = s.reader.contracts(day, hour, participant)
    return s.emit([market.contract_json(c) for c in found], lambda: _trades_text(s, found))


def _trades_text(s: Session, found: Sequence[pb.Contract]) -> str:
    if not found:
        return "no contracts"
    return (f"{_contracts_table(s, found)}\n{len(found)} contract(s), "
            f"{market.format_kwh(sum(c.energy for c in found))}, "
            f"{market.format_eur(sum(c.total for c in found))} paid")


def _balance(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    wallet = s.reader.wallet(public_key)
    if wallet is None:
        raise SawgridError(f"{public_key} has no wallet (not registered)")
    return s.emit(market.wallet_json(wallet),
                  f"{market.format_eur(wallet.balance)} available, "
                  f"{market.format_eur(wallet.locked)} held (open orders and unsettled contracts), "
                  f"{market.format_eur(wallet.credit_used)} of credit used")


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------
def _day_hour(parser: argparse.ArgumentParser, hour: bool = True) -> None:
    parser.add_argument("--day", required=True, metavar="YYYY-MM-DD",
                        help="delivery day (ISO date, or today / tomorrow; UTC)")
    if hour:
        parser.add_argument("--hour", required=True, metavar="H", help="delivery hour 0..23 (UTC)")


def _participant_parsers(subparsers) -> None:
    commands = group(subparsers, "participant", "register, approve and show market participants")
    p = command(commands, "register", _participant_register, "register your key as a participant",
                 "Register the signing key as a market participant (PENDING until an operator approves it).",
                 "sawgrid --key alice participant register --name 'Alice household'", uses_key=True)
    p.add_argument("--name", help="display name, 1..64 characters (default: the key name)")
    p = command(commands, "approve", _participant_approve, "approve a pending participant (operator)",
                 "Approve a PENDING participant so it may trade. Only an operator may do this.",
                 "sawgrid --key operator participant approve 02ab...ef", uses_key=True)
    p.add_argument("public_key", metavar="PUBKEY", help="public key (hex) or a key name in the key directory")
    p = command(commands, "show", _participant_show, "show a participant and its wallet",
                 "Show a participant's name, status, operator flag and wallet.",
                 "sawgrid --key alice participant show        # your own\n"
                 "  sawgrid participant show 02ab...ef --json", uses_key=True)
    p.add_argument("public_key", nargs="?", metavar="PUBKEY",
                   help="public key (hex) or key name (default: the signing key's)")
    command(commands, "list", _participant_list, "list all participants",
             "List every registered participant with status and public key.",
             "sawgrid participant list --json")
    with_global_options(commands)


def _operator_parsers(subparsers) -> None:
    commands = group(subparsers, "operator",
                     "operator actions: initialising, funding, grid prices, operators, closing hours")
    p = command(commands, "init", _operator_init, "initialise the market; your key becomes its system operator",
                 "Initialise the market on a new chain: the signing key becomes its first operator and its "
                 "system operator. Once per chain: on a chain this key already initialised it changes "
                 "nothing and succeeds; on one another key initialised it fails.",
                 "sawgrid --key operator operator init --wire-fee 0.01", uses_key=True)
    p.add_argument("--wire-fee", default="0.01", metavar="EUR_PER_KWH",
                   help="wire fee on P2P energy, EUR/kWh (default: 0.01, as on devnet)")
    p = command(commands, "fund", _operator_fund, "add euros to a participant's wallet",
                 "Add money to a registered participant's wallet (the only way money enters the market).",
                 "sawgrid --key operator operator fund 02ab...ef 100.00", uses_key=True)
    p.add_argument("public_key", metavar="PUBKEY", help="public key (hex) or key name")
    p.add_argument("eur", metavar="EUR", help="amount in EUR, e.g. 100 or 12.50 (rounded to µEUR)")
    p = command(commands, "prices", _operator_prices, "publish a day's grid prices",
                 "Publish the 24 hourly grid prices of a day: the operator buys surplus at --buy and "
                 "sells to buyers at --sell (used by --grid-fallback). Give one value for all hours "
                 "or 24 comma-separated values.",
                 "sawgrid --key operator operator prices --day 2026-01-05 --buy 0.08 --sell 0.30", uses_key=True)
    _day_hour(p, hour=False)
    p.add_argument("--buy", required=True, metavar="P[,P...]", help="EUR/kWh the operator pays (1 or 24 values)")
    p.add_argument("--sell", required=True, metavar="P[,P...]", help="EUR/kWh the operator charges (1 or 24 values)")
    p = command(commands, "add", _operator_add, "make a key an operator",
                 "Add an operator (it also becomes an approved participant).",
                 "sawgrid --key operator operator add 02ab...ef", uses_key=True)
    p.add_argument("public_key", metavar="PUBKEY", help="public key (hex) or key name")
    p = command(commands, "remove", _operator_remove, "remove an operator",
                 "Remove an operator (never the last one, nor the system operator).",
                 "sawgrid --key operator operator remove 02ab...ef", uses_key=True)
    p.add_argument("public_key", metavar="PUBKEY", help="public key (hex) or key name")
    p = command(commands, "wire-fee", _operator_wire_fee, "set the wire fee on P2P energy",
                 "Set the fee (EUR per kWh) the system operator charges buyers on P2P trades; "
                 "orders keep the fee in force when they were placed.",
                 "sawgrid --key operator operator wire-fee 0.01", uses_key=True)
    p.add_argument("fee", metavar="EUR_PER_KWH", help="fee in EUR/kWh, e.g. 0.01")
    p = command(commands, "close", _operator_close, "close a delivery hour",
                 "Close a delivery hour: resting orders and offers expire, buy orders' locks return.",
                 "sawgrid --key operator operator close --day 2026-01-05 --hour 10", uses_key=True)
    _day_hour(p)
    with_global_options(commands)


def _trading_parsers(subparsers) -> None:
    p = command(subparsers, "role", _role, "set your role for a day",
                 "Set your role for a day: buyer (orders only), seller (offers only) or both (the default).",
                 "sawgrid --key bob role --day 2026-01-05 seller", uses_key=True)
    _day_hour(p, hour=False)
    p.add_argument("role", metavar="ROLE", help="buyer, seller or both")
    for name, func, summary, price, price_help, what, example in (
        ("offer", _offer, "offer energy for sale in one hour", "--price", "lowest price accepted, EUR/kWh",
         "Offer energy for sale in one delivery hour. It trades at once with resting orders whose "
         "limit is at least --price (at their limit); the rest waits in the book.",
         "sawgrid --key bob offer --day 2026-01-05 --hour 10 --kwh 2 --price 0.20"),
        ("order", _order, "order energy for one hour", "--max-price", "highest price paid, EUR/kWh",
         "Order energy for one delivery hour. It buys at once from resting offers priced at most "
         "--max-price, cheapest first (at their price); the rest waits in the book. The most it can "
         "cost (with wire fee and penalty) is locked in your wallet; what it trades stays there, in "
         "escrow, until the contract settles against the meters' readings after the delivery hour "
         "(see README, 'How settlement works'); the rest returns when it is cancelled or the hour "
         "closes. With --on-credit the cost is held against your credit line instead, and you pay "
         "each contract into escrow after the hour (sawgrid pay).",
         "sawgrid --key alice order --day 2026-01-05 --hour 10 --kwh 1.5 --max-price 0.25"),
    ):
        p = command(subparsers, name, func, summary, what + " Prints the new id "
                     "and any contracts concluded at once.", example, uses_key=True)
        _day_hour(p)
        p.add_argument("--kwh", required=True, help="energy in kWh (rounded to Wh)")
        p.add_argument(price, required=True, metavar="EUR_PER_KWH", help=price_help)
        p.add_argument("--grid-fallback", action="store_true",
                       help="when the hour closes, trade what P2P has not filled with the system operator "
                            "at the hour's grid price (if within your limit); needs the day's grid prices")
        p.add_argument("--allow-past", action="store_true",
                       help="accept a delivery day before today (UTC), e.g. on a replayed or simulated chain")
        p.add_argument("--min-counterparty-score", metavar="SCORE",
                       help="trade only with participants whose Q-score is at least SCORE (e.g. 0.8)")
        if name == "order":
            p.add_argument("--on-credit", action="store_true",
                           help="hold the cost against your credit line instead of your balance (needs a "
                                "Q-score of at least the reputation settings' credit score); pay each "
                                "contract into escrow after the hour with: sawgrid pay ID")
    p = command(subparsers, "cancel", _cancel, "cancel your resting order or offer",
                 "Cancel what is left of your resting order or offer; a buy order's lock returns.",
                 "sawgrid --key alice cancel 20458/10/3", uses_key=True)
    p.add_argument("order_id", metavar="ID", help="order id as printed by offer/order (DAY/HOUR/SEQ)")
    p = command(subparsers, "book", _book, "show one delivery hour's order book",
                 "Show the resting offers (cheapest first) and orders (highest first) of a delivery hour.",
                 "sawgrid book --day 2026-01-05 --hour 10")
    _day_hour(p)
    p = command(subparsers, "trades", _trades, "list concluded contracts",
                 "List contracts, optionally of one day, one hour, or one participant.",
                 "sawgrid trades --day 2026-01-05 --participant alice --json")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="only this delivery day")
    p.add_argument("--hour", metavar="H", help="only this hour (needs --day)")
    p.add_argument("--participant", metavar="PUBKEY", help="only contracts of this public key or key name")
    p = command(subparsers, "balance", _balance, "show a wallet",
                 "Show a wallet's available balance, the amount held for open buy orders and unsettled "
                 "contracts (escrow), and the credit line used.",
                 "sawgrid --key alice balance", uses_key=True)
    p.add_argument("public_key", nargs="?", metavar="PUBKEY",
                   help="public key (hex) or key name (default: the signing key's)")


def add_parsers(subparsers) -> None:
    """Register every market command on `sawgrid`'s command subparsers."""
    _participant_parsers(subparsers)
    _operator_parsers(subparsers)
    _trading_parsers(subparsers)
