"""The settlement and reputation commands of `sawgrid`.

    sawgrid reading --day D --hour H --wh N [--received | --delivered]
    sawgrid attest [--day D --hour H] | --contract ID --delivered WH --paid|--unpaid
    sawgrid pay ID
    sawgrid reputation show [KEY] | volunteer | withdraw | pool
    sawgrid contract show ID
    sawgrid operator reputation-settings [--min-score S ...] | refresh-pool | expire [ID ...] [--day D [--hour H]]
    sawgrid operator settle [--cron EXPR]            (expire what is due, refresh the pool: docker-compose runs it)

A meter signs one reading per delivery hour once the hour is over; each
member of a contract's validation cluster attests it (`attest` computes the
verdict an honest member gives from the readings on chain: the energy that
moved is the lesser of the two parties' allocations, paid means nothing is
owed on credit); a buyer on credit pays each contract into escrow. See
processors/reputation/README.md and the README's "How settlement works".
Scores print as decimals (1.00 = a newcomer), energy in kWh, money in EUR;
--json keeps the ledger's integers (ppm, Wh, µEUR, chain seconds).
"""
from __future__ import annotations

import argparse
import datetime as _dt

from sawgrid.clients.cli.support import (
    Session, add_global_options, command, format_table, group, refusal, short, with_global_options,
)
from sawgrid.clients.sdk import market, reputation
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.processors.market.units import HOURS_PER_DAY, MAX_ENERGY_WH
from sawgrid.processors.reputation.payload import MAX_READING_WH
from sawgrid.protos import market_pb2 as pb

READING_HELP = "Wh your meter measured in the hour (a whole number)"


# --------------------------------------------------------------------------
# Shared
# --------------------------------------------------------------------------
def _submit(s: Session, payloads, read=None) -> list[str]:
    """Sign and submit as one batch; a refusal is one line in the user's units."""
    try:
        return reputation.submit(s.rest, s.signer, payloads, read=read)
    except BatchInvalid as err:
        raise SawgridError(refusal(err, raw=s.args.json)) from None


def _wh(text: str, option: str, maximum: int) -> int:
    value = str(text).strip()
    if not value.isdigit():
        raise SawgridError(f"{option}: expected a whole number of Wh (e.g. 1500 for 1.5 kWh), got {text!r}")
    if int(value) > maximum:
        raise SawgridError(f"{option}: at most {maximum} Wh, got {value}")
    return int(value)


def _hour_text(day: int, hour: int) -> str:
    return f"{market.day_text(day)} {hour:02d}:00"


def _default_hour(s: Session) -> tuple[int, int]:
    """The delivery hour that ended last, by the chain's time (its latest
    BlockInfo), else by this machine's clock."""
    now = reputation.chain_time(s.rest)
    if now is None:
        now = int(_dt.datetime.now(_dt.timezone.utc).timestamp())
    hours = now // 3600 - 1
    return hours // HOURS_PER_DAY, hours % HOURS_PER_DAY


def _day_hour_args(s: Session, args) -> tuple[int, int]:
    if args.day is None and args.hour is None:
        return _default_hour(s)
    if args.day is None or args.hour is None:
        raise SawgridError("--day and --hour go together (or give neither: the hour that ended last)")
    return market.parse_day(args.day), market.parse_hour(args.hour)


def _contract(s: Session, text: str) -> pb.Contract:
    contract_id = reputation.check_contract_id(text)
    found = reputation.ReputationReader(s.rest).contract(contract_id)
    if found is None:
        raise SawgridError(f"no contract {contract_id} (list an hour's with: sawgrid trades --day D --hour H)")
    if found.stage == pb.STAGE_UNSET:
        raise SawgridError(f"contract {contract_id} predates settlement: there is nothing to settle")
    return found


def _stage_text(c: pb.Contract) -> str:
    stage = reputation.STAGES.get(c.stage, "unset")
    if c.stage == pb.DECLINED:
        at = reputation.STAGES.get(c.declined_at, "?")
        cause = reputation.CAUSES.get(c.cause, "?").replace("_", " ")
        return f"declined at {at}: {cause}" + (f"; {reputation.explain(c.cause_detail)}" if c.cause_detail else "")
    return stage


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------
def _reading(args: argparse.Namespace) -> int:
    s = Session(args)
    day, hour = market.parse_day(args.day), market.parse_hour(args.hour)
    explicit = args.delivered_wh is not None or args.received_wh is not None
    if explicit and (args.wh is not None or args.received or args.delivered):
        raise SawgridError("give either --wh (with --received or --delivered to choose the side) or "
                           "--delivered-wh/--received-wh, not both")
    if not explicit and args.wh is None:
        raise SawgridError("--wh: how many Wh your meter measured in the hour (or --delivered-wh/--received-wh)")
    hour_view = reputation.Hour(s.rest, day, hour)
    me = s.public_key
    position = hour_view.positions.get(me)
    if position is None or not (position.sold or position.bought):
        raise SawgridError(f"you have no contracts in {_hour_text(day, hour)}: there is nothing for your meter to "
                           f"read (sawgrid trades --day {market.day_text(day)} --hour {hour} --participant {me[:10]}...)")
    previous = hour_view.readings.get(me)
    if previous is not None:
        raise SawgridError(f"you already submitted your reading for {_hour_text(day, hour)} "
                           f"({market.format_kwh(previous.delivered_wh)} delivered, "
                           f"{market.format_kwh(previous.received_wh)} received, at "
                           f"{reputation.format_time(previous.timestamp)}); one per meter and hour")
    if explicit:
        delivered = 0 if args.delivered_wh is None else _wh(args.delivered_wh, "--delivered-wh", MAX_READING_WH)
        received = 0 if args.received_wh is None else _wh(args.received_wh, "--received-wh", MAX_READING_WH)
    else:
        wh = _wh(args.wh, "--wh", MAX_READING_WH)
        if args.received or args.delivered:
            side = "received" if args.received else "delivered"
        elif position.sold and position.bought:
            raise SawgridError(f"you both sold and bought in {_hour_text(day, hour)}, so one reading carries both: "
                               f"give --delivered-wh N --received-wh M")
        else:
            side = "delivered" if position.sold else "received"
        delivered, received = (wh, 0) if side == "delivered" else (0, wh)
    _submit(s, [reputation.reading(day, hour, delivered, received)], read=hour_view.read)
    after = reputation.Hour(s.rest, day, hour)
    mine = [after.contracts[c] for c in [*position.sold, *position.bought] if c in after.contracts]
    doc = {"public_key": me, "day": market.day_text(day), "hour": hour, "delivered_wh": delivered,
           "received_wh": received,
           "contracts": [{"id": c.id, "side": "sold" if c.seller == me else "bought", "energy_wh": c.energy,
                          "allocated_wh": after.allocation(c, me, c.seller == me),
                          "stage": reputation.STAGES.get(c.stage, "unset")} for c in mine]}

    def text() -> str:
        rows = [(c["id"], c["side"], market.format_kwh(c["energy_wh"], unit=False),
                 "" if c["allocated_wh"] is None else market.format_kwh(c["allocated_wh"], unit=False), c["stage"])
                for c in doc["contracts"]]
        return "\n".join([
            f"reading for {_hour_text(day, hour)} recorded: {market.format_kwh(delivered)} delivered, "
            f"{market.format_kwh(received)} received",
            format_table(("CONTRACT", "SIDE", "kWh", "ALLOCATED kWh", "STAGE"), rows, align="llrrl")])

    return s.emit(doc, text)


# --------------------------------------------------------------------------
# attest
# --------------------------------------------------------------------------
def _attest(args: argparse.Namespace) -> int:
    s = Session(args)
    me = s.public_key
    if args.contract is not None:
        return _attest_one(s, args)
    if args.delivered is not None or args.paid is not None:
        raise SawgridError("--delivered and --paid/--unpaid state one verdict: they need --contract ID")
    day, hour = _day_hour_args(s, args)
    hour_view = reputation.Hour(s.rest, day, hour)
    owed = hour_view.owed(me)
    seats = [c for c in hour_view.contracts.values() if me in c.cluster]
    verdicts = [o.verdict for o in owed if o.verdict is not None]
    waiting = [o for o in owed if o.verdict is None]
    if verdicts:
        _submit(s, reputation.attest_payloads(verdicts), read=hour_view.read)
    after = reputation.Hour(s.rest, day, hour) if verdicts else hour_view
    doc = {"public_key": me, "day": market.day_text(day), "hour": hour, "seats": len(seats),
           "attested": [{"contract_id": v.contract_id, "delivered_wh": v.delivered_wh, "paid": v.paid,
                         "stage": reputation.STAGES.get(after.contracts[v.contract_id].stage, "unset")}
                        for v in verdicts],
           "waiting": [{"contract_id": o.contract.id, "reason": o.waiting} for o in waiting]}

    def text() -> str:
        if not seats:
            return f"nothing to attest: you sit in no validation cluster of {_hour_text(day, hour)}"
        lines = []
        if verdicts:
            rows = [(v.contract_id, market.format_kwh(v.delivered_wh, unit=False), "yes" if v.paid else "no",
                     _stage_text(after.contracts[v.contract_id])) for v in verdicts]
            lines += [f"attested {len(verdicts)} contract(s) of {_hour_text(day, hour)}:",
                      format_table(("CONTRACT", "DELIVERED kWh", "PAID", "NOW"), rows, align="lrll")]
        elif not waiting:
            lines.append(f"nothing left to attest: you attested every contract of {_hour_text(day, hour)} "
                         f"whose cluster you sit in ({len(seats)})")
        for o in waiting:
            lines.append(f"not attested yet: {o.contract.id}: {o.waiting}; run sawgrid attest again once it is in")
        return "\n".join(lines)

    return s.emit(doc, text)


def _attest_one(s: Session, args) -> int:
    """An explicit verdict on one contract."""
    me = s.public_key
    if args.delivered is None or args.paid is None:
        raise SawgridError("--contract needs your verdict: --delivered WH and --paid or --unpaid")
    if args.day is not None or args.hour is not None:
        raise SawgridError("--contract names the contract (its id has its hour): drop --day/--hour")
    contract = _contract(s, args.contract)
    delivered = _wh(args.delivered, "--delivered", MAX_ENERGY_WH)
    if me not in contract.cluster:
        raise SawgridError(f"you are not a member of contract {contract.id}'s validation cluster "
                           f"(see: sawgrid contract show {contract.id})")
    if delivered > contract.energy:
        raise SawgridError(f"--delivered: {delivered} Wh is more than the contract's {contract.energy} Wh "
                           f"({market.format_kwh(contract.energy)})")
    hour_view = reputation.Hour(s.rest, contract.day, contract.hour)
    settlement = hour_view.settlements.get(contract.id)
    if settlement is not None and any(v.member == me for v in settlement.votes):
        raise SawgridError(f"you already attested contract {contract.id}")
    verdict = reputation.Verdict(contract.id, delivered, args.paid)
    _submit(s, [reputation.attest([verdict])], read=hour_view.read)
    after = reputation.ReputationReader(s.rest).contract(contract.id)
    doc = {"public_key": me, "contract_id": contract.id, "delivered_wh": delivered, "paid": args.paid,
           "stage": reputation.STAGES.get(after.stage, "unset")}
    return s.emit(doc, f"attested {contract.id}: {market.format_kwh(delivered)} delivered, "
                       f"{'paid' if args.paid else 'not paid'}; the contract is now {_stage_text(after)}")


# --------------------------------------------------------------------------
# pay
# --------------------------------------------------------------------------
def _pay(args: argparse.Namespace) -> int:
    s = Session(args)
    contract = _contract(s, args.contract_id)
    if contract.buyer != s.public_key:
        raise SawgridError(f"contract {contract.id} is not yours to pay: its buyer is {short(contract.buyer)}...")
    if contract.stage not in reputation.OPEN_STAGES:
        raise SawgridError(f"contract {contract.id} is already {_stage_text(contract)}: nothing to pay")
    if not contract.credit:
        raise SawgridError(f"nothing is owed on contract {contract.id}: its escrow is already paid")
    wallet = s.reader.wallet(s.public_key) or pb.Wallet()
    if wallet.balance < contract.credit:
        raise SawgridError(f"contract {contract.id} needs {market.format_eur(contract.credit)}, your balance is "
                           f"{market.format_eur(wallet.balance)}")
    amount = contract.credit
    _submit(s, [reputation.pay(contract.id)])
    after = reputation.ReputationReader(s.rest).contract(contract.id)
    doc = {"contract_id": contract.id, "paid_ueur": amount, "escrow_ueur": after.escrow,
           "stage": reputation.STAGES.get(after.stage, "unset")}
    return s.emit(doc, f"paid {market.format_eur(amount)} into escrow for {contract.id}; "
                       f"the contract is now {_stage_text(after)}")


# --------------------------------------------------------------------------
# reputation ...
# --------------------------------------------------------------------------
def _show(args: argparse.Namespace) -> int:
    s = Session(args)
    public_key = s.public_key_arg(args.public_key)
    day = market.today() if args.day is None else market.parse_day(args.day)
    standing = reputation.standing(reputation.ReputationReader(s.rest), public_key, day)
    doc = reputation.standing_json(standing)

    def text() -> str:
        st, r = standing.settings, standing.record
        if standing.refusal is None:
            trade = f"may trade on {market.day_text(day)}"
            if standing.score < st.min_score:
                trade += f" (a newcomer without faults, below the minimum {reputation.format_score(st.min_score)})"
        else:
            trade = f"refused on {market.day_text(day)}: {reputation.explain(standing.refusal)}"
        credit = (f"may buy on credit (Q-score at least {reputation.format_score(st.credit_score)}): "
                  if standing.credit_allowed else
                  f"no credit (needs a Q-score of {reputation.format_score(st.credit_score)}); ")
        credit += (f"{market.format_eur(standing.credit_used)} of the {market.format_eur(st.credit_limit)} line "
                   f"used, {market.format_eur(standing.credit_free)} free")
        pool = ("in the validator pool" + (", in the snapshot clusters are drawn from" if standing.in_snapshot
                                           else " (from the operator's next refresh-pool)")
                if standing.volunteer else "not in the validator pool (sawgrid reputation volunteer)")
        rows = [("public key", public_key), ("name", s.names.get(public_key, "")),
                ("Q-score", reputation.format_score(standing.score) + ("" if r else " (no trade settled yet)")),
                ("settled", str(r.settled if r else 0)), ("faults", str(r.faults if r else 0)),
                ("validated", str(r.validated if r else 0)), ("missed", str(r.missed if r else 0)),
                ("trading", trade), ("credit", credit), ("pool", pool)]
        return format_table(None, rows)

    return s.emit(doc, text)


def _volunteer(args: argparse.Namespace) -> int:
    s = Session(args)
    pool = reputation.ReputationReader(s.rest).pool()
    if s.public_key in pool.volunteers:
        raise SawgridError("you are already in the validator pool")
    _submit(s, [reputation.volunteer()])
    return s.emit({"public_key": s.public_key, "volunteer": True},
                  "you joined the validator pool; contracts draw their clusters from it after the operator's next "
                  "refresh (sawgrid operator refresh-pool)")


def _withdraw(args: argparse.Namespace) -> int:
    s = Session(args)
    pool = reputation.ReputationReader(s.rest).pool()
    if s.public_key not in pool.volunteers:
        raise SawgridError("you are not in the validator pool")
    _submit(s, [reputation.withdraw()])
    return s.emit({"public_key": s.public_key, "volunteer": False},
                  "you left the validator pool: no new cluster seats; attest the contracts you already sit on")


def _pool(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = reputation.ReputationReader(s.rest)
    pool, settings = reader.pool(), reader.settings()
    snapshot = {e.public_key: e.score for e in pool.snapshot}
    rows = [(s.label(k), reputation.format_score(snapshot[k]) if k in snapshot else "",
             "yes" if snapshot.get(k, -1) >= settings.min_score else "")
            for k in sorted(pool.volunteers, key=lambda k: (-snapshot.get(k, -1), k))]
    text = (format_table(("VOLUNTEER", "SNAPSHOT SCORE", "SEATED"), rows, align="lrl")
            if rows else "the validator pool is empty")
    return s.emit(reputation.pool_json(pool), text)


# --------------------------------------------------------------------------
# contract show
# --------------------------------------------------------------------------
def _contract_show(args: argparse.Namespace) -> int:
    s = Session(args)
    contract_id = reputation.check_contract_id(args.contract_id)
    status = reputation.contract_status(reputation.ReputationReader(s.rest), contract_id)
    if status is None:
        raise SawgridError(f"no contract {contract_id} (list an hour's with: sawgrid trades --day D --hour H)")
    return s.emit(reputation.contract_status_json(status), lambda: _contract_text(s, status))


def _contract_text(s: Session, st: reputation.ContractStatus) -> str:
    c = st.contract
    eur, kwh = market.format_eur, market.format_kwh
    rows = [("contract", f"{c.id}, delivery {_hour_text(c.day, c.hour)}" + (" (grid)" if c.grid else "")),
            ("seller", s.label(c.seller)), ("buyer", s.label(c.buyer)),
            ("energy", f"{kwh(c.energy)} at {market.format_price(c.price)}, penalty {market.format_multiplier(c.penalty)}"),
            ("amounts", f"base {eur(c.base)}, surcharge {eur(c.surcharge)}, wire fee {eur(c.wire_fee)}, "
                        f"total {eur(c.total)}"),
            ("stage", _stage_text(c))]
    if c.stage in reputation.OPEN_STAGES:
        rows.append(("escrow", f"{eur(c.escrow)} held" + (f", {eur(c.credit)} still owed on credit (sawgrid pay)"
                                                          if c.credit else "")))
    if c.cluster:
        members = ", ".join(s.label(m) + (" (leader)" if m == c.leader else "") for m in c.cluster)
        rows.append(("cluster", f"{members}; quorum {c.quorum} of {len(c.cluster)}"))
    else:
        rows.append(("cluster", "none: settled on the readings alone"))
    for vote in st.votes:
        verdict = ("absent (never attested)" if vote.absent else
                   f"{kwh(vote.delivered_wh)} delivered, {'paid' if vote.paid else 'not paid'}")
        rows.append(("vote", f"{s.label(vote.member)}: {verdict}"))
    for side, record in st.readings.items():
        key = c.seller if side == "seller" else c.buyer
        if c.grid and key == st.operator:
            rows.append((f"{side} reading", "the grid (no meter reading needed)"))
        elif record is None:
            rows.append((f"{side} reading", "not yet"))
        else:
            allocated = st.allocations[side]
            rows.append((f"{side} reading", f"{kwh(record.delivered_wh)} exported, {kwh(record.received_wh)} imported"
                         + ("" if allocated is None else f"; {kwh(allocated)} allocated to this contract")))
    if c.stage in reputation.FINAL_STAGES:
        outcome = (f"{kwh(c.delivered)} delivered; seller paid {eur(c.paid_base)}"
                   + (f" (the operator's guarantee)" if c.guarantee else "")
                   + f", operator {eur(c.paid_surcharge + c.paid_wire_fee)}, buyer refunded {eur(c.refunded)}")
        if c.cause == pb.BUYER_DEFAULT and c.credit:
            outcome += f"; {eur(c.credit)} left as the buyer's debt"
        if st.settlement is not None:
            outcome += f"; QoT {reputation.format_score(st.settlement.qot)}"
        rows.append(("outcome", outcome))
    elif st.honest is not None:
        rows.append(("honest verdict", f"{kwh(st.honest.delivered_wh)} delivered, "
                                       f"{'paid' if st.honest.paid else 'not paid'}"))
    rows.append(("deadline", f"{reputation.format_time(st.deadline)} (readings, payment, attestations)"))
    return format_table(None, rows)


# --------------------------------------------------------------------------
# operator ...
# --------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> int:
    s = Session(args)
    current = reputation.ReputationReader(s.rest).settings()
    changes = {spec.name: reputation.parse_setting(spec, getattr(args, spec.name))
               for spec in reputation.SETTINGS if getattr(args, spec.name) is not None}
    if changes:
        new = reputation.settings_with(current, **changes)
        _submit(s, [reputation.configure(new)])
        current = reputation.ReputationReader(s.rest).settings()
    rows = [(spec.option[2:], reputation.setting_text(spec, getattr(current, spec.name)), spec.meaning)
            for spec in reputation.SETTINGS]
    head = (f"reputation settings updated ({', '.join(spec.option for spec in reputation.SETTINGS if spec.name in changes)}):"
            if changes else "reputation settings (change one with its option, e.g. --credit-score 1.0):")
    return s.emit({**reputation.settings_json(current), "changed": sorted(changes)},
                  head + "\n" + format_table(("SETTING", "VALUE", ""), rows))


def _refresh_pool(args: argparse.Namespace) -> int:
    s = Session(args)
    _submit(s, [reputation.refresh_pool()])
    pool = reputation.ReputationReader(s.rest).pool()
    return s.emit(reputation.pool_json(pool),
                  f"validator pool refreshed: {len(pool.snapshot)} volunteer(s) in the snapshot new contracts draw "
                  f"their clusters from")


def _expire(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = reputation.ReputationReader(s.rest)
    if args.contract_ids and (args.day is not None or args.hour is not None):
        raise SawgridError("name contracts or give --day [--hour], not both")
    if args.contract_ids:
        ids = [reputation.check_contract_id(c) for c in dict.fromkeys(args.contract_ids)]
    else:
        if args.day is None:
            raise SawgridError("name the contracts to expire, or --day D [--hour H] for every one due then")
        day = market.parse_day(args.day)
        hour = None if args.hour is None else market.parse_hour(args.hour)
        now = reader.chain_time()
        if now is None:
            raise SawgridError("the chain has no time yet (no BlockInfo): nothing can be due")
        ids = reputation.due(s.rest, day, now, reader.settings(), hour)
        if not ids:
            when = market.day_text(day) + ("" if hour is None else f" {hour:02d}:00")
            return s.emit({"expired": []}, f"nothing to expire on {when} as of {reputation.format_time(now)}: "
                                           f"every contract is settled and judged, or not past its deadline")
    payloads = reputation.expire_payloads(ids)
    for start in range(0, len(payloads), 100):
        _submit(s, payloads[start:start + 100])
    after = {c: reader.contract(c) for c in ids}
    doc = {"expired": [{"contract_id": c, "stage": reputation.STAGES.get(x.stage, "unset") if x else None,
                        "cause": reputation.CAUSES.get(x.cause) if x and x.stage == pb.DECLINED else None}
                       for c, x in after.items()]}
    rows = [(c, _stage_text(x) if x else "?") for c, x in after.items()]
    return s.emit(doc, f"expired {len(ids)} contract(s):\n" + format_table(("CONTRACT", "NOW"), rows))


def _settle_round(s: Session, days: int, refresh: bool) -> dict:
    """One round of the operator's settlement duties (reputation.settle_round);
    a refusal is one line in the user's units."""
    try:
        return reputation.settle_round(s.rest, s.signer, days, refresh=refresh)
    except BatchInvalid as err:
        raise SawgridError(refusal(err, raw=s.args.json)) from None


def _settle(args: argparse.Namespace) -> int:
    """Once, or on a cron schedule until SIGINT/SIGTERM: expire what is due; refresh the pool
    (each run once, on a schedule at the first run of each UTC day)."""
    import logging
    import signal
    import threading

    from sawgrid.par_engine.cron import Cron, CronError

    s = Session(args)
    days = args.days if args.days is not None else reputation.default_settle_days(
        reputation.ReputationReader(s.rest).settings())
    if days < 0:
        raise SawgridError(f"--days: at least 0, got {days}")
    if args.cron is None:
        doc = _settle_round(s, days, refresh=not args.no_refresh)
        return s.emit(doc, f"expired {len(doc['expired'])} contract(s) due by "
                           f"{reputation.format_time(doc['chain_time'])}"
                           + ("; validator pool refreshed" if doc["refreshed_pool"] else ""))
    try:
        cron = Cron.parse(args.cron)
    except CronError as err:
        raise SawgridError(f"--cron: {err}") from None
    log = logging.getLogger("sawgrid.settle")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    refreshed_on = None
    log.info("settlement duties: cron %r, REST %s, expire over %d day(s)", cron.expression, s.rest.url, days)
    while not stop.is_set():
        fire = cron.next_after(_dt.datetime.now(_dt.timezone.utc))
        while not stop.is_set() and _dt.datetime.now(_dt.timezone.utc) < fire:
            stop.wait(min(30.0, max(0.05, (fire - _dt.datetime.now(_dt.timezone.utc)).total_seconds())))
        if stop.is_set():
            break
        refresh = not args.no_refresh and refreshed_on != fire.date()
        try:
            doc = _settle_round(s, days, refresh)
        except SawgridError as err:  # unreachable or refused: try again next time
            log.error("settlement round failed: %s", err)
            continue
        if refresh:
            refreshed_on = fire.date()
        log.info("expired %d contract(s) due by %s%s", len(doc["expired"]), reputation.format_time(doc["chain_time"]),
                 "; validator pool refreshed" if refresh else "")
    return 0


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------
def _group_of(subparsers, name: str, summary: str) -> argparse._SubParsersAction:
    """The command group `name` (the market's `operator`), or a new one."""
    parser = subparsers.choices.get(name)
    if parser is None:
        return group(subparsers, name, summary)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError(f"{name} is a command, not a group")


def add_parsers(subparsers) -> None:
    """Register the settlement and reputation commands on `sawgrid`'s subparsers."""
    p = command(subparsers, "reading", _reading, "submit your meter's reading of a delivery hour",
                "Sign your meter's reading of one delivery hour, once it is over and before its deadline: the "
                "energy it exported (if you sold) or imported (if you bought). By default --wh is the side your "
                "contracts of that hour are on. One reading per meter and hour; it is split over your contracts "
                "of the hour in the order they were made.",
                "sawgrid --key bob reading --day 2026-01-05 --hour 10 --wh 1000\n"
                "  sawgrid --key alice reading --day 2026-01-05 --hour 10 --wh 1000 --received", uses_key=True)
    p.add_argument("--day", required=True, metavar="YYYY-MM-DD", help="delivery day (ISO date, or today; UTC)")
    p.add_argument("--hour", required=True, metavar="H", help="delivery hour 0..23 (UTC)")
    p.add_argument("--wh", metavar="N", help=READING_HELP)
    side = p.add_mutually_exclusive_group()
    side.add_argument("--received", action="store_true", help="--wh is what your meter imported")
    side.add_argument("--delivered", action="store_true", help="--wh is what your meter exported")
    p.add_argument("--delivered-wh", metavar="N", help="exported Wh (with --received-wh, for an hour you sold and bought)")
    p.add_argument("--received-wh", metavar="N", help="imported Wh")

    p = command(subparsers, "attest", _attest, "attest the contracts whose validation cluster you sit in",
                "Attest every contract of a delivery hour whose validation cluster you sit in, with the verdict "
                "an honest member gives from the readings on chain: the energy that moved is the lesser of the "
                "seller's and the buyer's allocations, and paid means nothing is owed on credit. Contracts whose "
                "readings are not in yet are left for a later run. Without --day/--hour: the hour that ended "
                "last. With --contract, state one verdict yourself.",
                "sawgrid --key carol attest --day 2026-01-05 --hour 10\n"
                "  sawgrid --key carol attest --contract 20458/10/3 --delivered 1000 --paid", uses_key=True)
    p.add_argument("--day", metavar="YYYY-MM-DD", help="delivery day")
    p.add_argument("--hour", metavar="H", help="delivery hour 0..23")
    p.add_argument("--contract", metavar="ID", help="one contract, with your own verdict")
    p.add_argument("--delivered", metavar="WH", help="with --contract: Wh that moved from seller to buyer")
    paid = p.add_mutually_exclusive_group()
    paid.add_argument("--paid", dest="paid", action="store_const", const=True, default=None,
                      help="with --contract: the buyer's money is in escrow")
    paid.add_argument("--unpaid", dest="paid", action="store_const", const=False,
                      help="with --contract: the buyer still owes it")

    p = command(subparsers, "pay", _pay, "pay a contract you bought on credit into escrow",
                "Pay what you owe on a contract you bought on credit into its escrow, after the delivery hour "
                "and before its deadline (a buyer who does not pay defaults: the seller is paid by the system "
                "operator's guarantee and the amount stays on your credit line as debt).",
                "sawgrid --key alice pay 20458/10/3", uses_key=True)
    p.add_argument("contract_id", metavar="ID", help="contract id (DAY/HOUR/SEQ)")

    commands = group(subparsers, "reputation", "Q-scores, eligibility, credit and the validator pool")
    p = command(commands, "show", _show, "show a participant's Q-score, eligibility and credit",
                "Show a Q-score (as a decimal: a newcomer has 1.00), its settled trades, faults, validated and "
                "missed cluster seats, whether it may trade and buy on credit, and its place in the validator pool.",
                "sawgrid --key alice reputation show\n  sawgrid reputation show 02ab...ef --json", uses_key=True)
    p.add_argument("public_key", nargs="?", metavar="KEY", help="public key or key name (default: yours)")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="the delivery day eligibility is judged for (default: today)")
    command(commands, "volunteer", _volunteer, "join the validator pool",
            "Join the validator pool: contracts draw their validation clusters from it (after the operator's "
            "next refresh-pool), and you then attest the contracts whose cluster you sit in.",
            "sawgrid --key carol reputation volunteer", uses_key=True)
    command(commands, "withdraw", _withdraw, "leave the validator pool",
            "Leave the validator pool: no new cluster seats. Seats you already have stay yours to attest.",
            "sawgrid --key carol reputation withdraw", uses_key=True)
    command(commands, "pool", _pool, "list the validator pool",
            "List the volunteers and the Q-scores of the snapshot clusters are drawn from.",
            "sawgrid reputation pool --json")
    with_global_options(commands)

    commands = group(subparsers, "contract", "a contract's settlement")
    p = command(commands, "show", _contract_show, "show a contract's stage, cluster, votes and outcome",
                "Show a contract's settlement: stage, validation cluster, leader and quorum, the votes, the "
                "parties' readings and their allocation, the amounts and the outcome.",
                "sawgrid contract show 20458/10/3 --json")
    p.add_argument("contract_id", metavar="ID", help="contract id (DAY/HOUR/SEQ)")
    with_global_options(commands)

    operator = _group_of(subparsers, "operator", "operator actions")
    p = command(operator, "reputation-settings", _settings, "show or change the reputation settings",
                "Show the on-chain reputation settings, or change the ones given (the others stay). Scores and "
                "factors are decimals (1.0 = a newcomer's score), the credit limit in EUR, the settlement window "
                "in seconds. Only an operator may change them.",
                "sawgrid --key operator operator reputation-settings --credit-score 1.0 --cluster-size 4",
                uses_key=True)
    for spec in reputation.SETTINGS:
        p.add_argument(spec.option, dest=spec.name, metavar=spec.kind.upper(), help=spec.meaning)
    add_global_options(p, defaults=False)
    p = command(operator, "refresh-pool", _refresh_pool, "re-snapshot the validator pool's Q-scores",
                "Snapshot the volunteers' Q-scores: new contracts draw their clusters from the snapshot "
                "(volunteers who joined since the last refresh get seats from now on).",
                "sawgrid --key operator operator refresh-pool", uses_key=True)
    add_global_options(p, defaults=False)
    p = command(operator, "expire", _expire, "settle contracts past their deadline on the readings alone",
                "System operator: settle contracts past their deadline on the readings alone (a missing reading "
                "counts as 0 Wh, unpaid credit as a default) and judge cluster members who never attested. Name "
                "contracts, or give --day [--hour] for every one due by the chain's time.",
                "sawgrid --key operator operator expire --day 2026-01-05\n"
                "  sawgrid --key operator operator expire 20458/10/3", uses_key=True)
    p.add_argument("contract_ids", nargs="*", metavar="ID", help="contract ids")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="every contract of this day due by now")
    p.add_argument("--hour", metavar="H", help="only this hour (with --day)")
    add_global_options(p, defaults=False)
    p = command(operator, "settle", _settle, "the operator's settlement duties: expire what is due, refresh the pool",
                "System operator: expire every contract past its deadline (over the last --days days, by the "
                "chain's time) and refresh the validator pool. Once, or with --cron on a schedule (UTC) until "
                "stopped, refreshing the pool at the first run of each day; a failed round is logged and retried "
                "at the next time.",
                "sawgrid --key operator operator settle\n"
                "  sawgrid --key operator operator settle --cron '5 * * * *'", uses_key=True)
    p.add_argument("--cron", metavar="EXPR", help="five-field cron schedule (UTC), e.g. '5 * * * *' (hourly)")
    p.add_argument("--days", type=int, metavar="N",
                   help="how many days back to look for due contracts (default: the settle window + 2)")
    p.add_argument("--no-refresh", action="store_true", help="expire only; leave the pool's snapshot as it is")
    add_global_options(p, defaults=False)
