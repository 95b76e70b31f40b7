"""Enrolling a list of meters through the protocol, with the verifiers driven
in this process: what a simulation or a test needs, against any LedgerClient.

    run = enroll_all(ledger, applicants, verifiers, advance)
    run.approved, run.declined, run.verification_blocks, run.ledger_blocks, run.slots

`applicants` are (signer, evidence, volunteer) triples; each request is
submitted (registering the key in the market under its pseudonym first),
then the verifiers step in turn (an applicant that volunteered and is drawn
into the set gets an agent of its own) and `advance()` moves time on (an
`InProcessClient`'s clock by a second, or a short sleep against devnet)
until every request is decided. `slots` counts eq. 1's slots from the first
request to the last decision (slot numbers run on from T_0 across sets, so
this is chain time in units of τ); `ledger_blocks` the chain's blocks in
that time (BlockInfo numbers).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from sawtooth_signing import Signer

from sawgrid.clients.sdk import certificates, enrollment, market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.clients.verifier.agent import Verifier
from sawgrid.processors.block_info.addresses import CONFIG_ADDRESS
from sawgrid.processors.enrollment.payload import MAX_DECISIONS
from sawgrid.processors.enrollment.settings import slot_at, slot_window
from sawgrid.protos import enrollment_pb2 as epb
from sawgrid.protos.block_info_pb2 import BlockInfoConfig


# Open requests enroll_all keeps at once: four slots' worth of the decisions a
# leader's block holds, so that every slot's leader has a full block to propose.
REQUESTS_IN_FLIGHT = 4 * MAX_DECISIONS


@dataclass
class EnrollmentRun:
    approved: list[str] = field(default_factory=list)
    declined: dict[str, str] = field(default_factory=dict)
    verification_blocks: int = 0     # Block records (proposals) made during the run
    final_blocks: int = 0
    ledger_blocks: int = 0
    slots: int = 0
    sets: int = 0                    # verifier sets the run went through


def _height(ledger: LedgerClient) -> int:
    raw = ledger.state(CONFIG_ADDRESS)
    return BlockInfoConfig.FromString(raw).latest_block if raw else 0


def bootstrap(ledger: LedgerClient, operator: Signer, first: Sequence[Signer], now: int) -> bytes:
    """The trusted authority's part: the CA root on chain (the operator's key),
    then each first verifier registered, certified by the CA (which approves
    it) and volunteering. Returns the root (DER)."""
    config = enrollment.EnrollmentReader(ledger).config()
    root = config.root
    if not root:
        root = certificates.ca_root(operator, now)
        enrollment.submit(ledger, operator, enrollment.set_root(root))
    reader = market.MarketReader(ledger)
    for signer in first:
        key = signer.get_public_key().as_hex()
        if reader.participant(key) is None:
            market.submit(ledger, signer, market.register(enrollment.pseudonym(key)))
        settings = enrollment.EnrollmentReader(ledger).settings()
        cert = certificates.issue_for_key(operator, root, key, now, settings.validity_days)
        enrollment.submit(ledger, operator, enrollment.certify(cert))
        enrollment.submit(ledger, signer, enrollment.volunteer())
    return root


def _with_new_members(ledger: LedgerClient, verifiers: list[Verifier], vs: epb.VerifierSet,
                      applicants: dict, clock: Callable[[], float]) -> list[Verifier]:
    """`verifiers`, plus an agent for each applicant of this run drawn into the
    set (a member without an agent would never lead nor countersign)."""
    have = {v.key for v in verifiers}
    margin = verifiers[0].margin if verifiers else 0.0
    for key in vs.members:
        if key not in have and key in applicants:
            verifiers.append(Verifier(ledger, applicants[key][0], clock=clock, margin=margin))
            have.add(key)
    return verifiers


def enroll_all(ledger: LedgerClient, applicants: Sequence[tuple[Signer, enrollment.Evidence, bool]],
               verifiers: Sequence[Verifier], advance: Callable[[], None], clock: Callable[[], float],
               max_steps: int = 10_000, skip_to: Callable[[int], None] | None = None) -> EnrollmentRun:
    """Request every applicant's enrollment and step the verifiers until each is decided.

    A step in which no verifier did anything leaves nothing to do before the
    next slot: with `skip_to` (a clock the caller may set, e.g. a replay's)
    time jumps to where the next slot's leader may propose, else `advance()`
    ticks it on. Requests are read back only after steps that did something.

    At most REQUESTS_IN_FLIGHT requests are open at a time, as meters that
    join over a day would be: every agent looks at every pending request at
    every step, so thousands of them pending at once made enrolling a town
    quadratic (10,000 meters took over 15 minutes of setup)."""
    run = EnrollmentRun()
    reader = enrollment.EnrollmentReader(ledger)
    start_height = _height(ledger)
    before = {b.slot for b in reader.blocks()}
    waiting = {}
    for signer, evidence, volunteer in applicants:
        key = signer.get_public_key().as_hex()
        waiting[key] = (signer, evidence, volunteer)
    submitted: set[str] = set()
    seen_slots: set[int] = set()
    seen_sets: set[int] = set()
    verifiers = list(verifiers)
    undecided = set(waiting)
    queue = deque(waiting)   # not requested yet, in the caller's order
    for step in range(max_steps):
        open_requests = len(submitted) - (len(waiting) - len(undecided))
        while queue and open_requests < REQUESTS_IN_FLIGHT:
            signer, evidence, volunteer = waiting[queue[0]]
            try:
                enrollment.enroll(ledger, signer, evidence, volunteer=volunteer)
            except BatchInvalid:
                break  # the set changed under it: sealed again for the new set at the next step
            submitted.add(queue.popleft())
            open_requests += 1
        vs = reader.verifier_set()
        slot = slot_at(int(clock()), vs.t0, vs.slot_seconds) if vs.members else None
        if slot is not None:
            seen_slots.add(slot)
            seen_sets.add(vs.set_id)
        agents = _with_new_members(ledger, verifiers, vs, waiting, clock)
        acted = False
        for verifier in agents:
            acted = bool(verifier.step()) or acted
        if acted or step == 0:
            undecided -= submitted - {r.applicant for r in reader.pending()}   # requested, no longer open
            if not undecided:
                break
        if not acted and skip_to is not None and slot is not None:
            margin = agents[0].margin if agents else 0.0
            skip_to(slot_window(slot + 1, vs.t0, vs.slot_seconds)[0] + math.ceil(margin / 2))
        else:
            advance()
    else:
        raise SawgridError(f"enrollment did not finish in {max_steps} steps")
    records = {k: reader.request(k) for k in waiting}
    for key, record in records.items():
        if record.status == epb.APPROVED:
            run.approved.append(key)
        else:
            run.declined[key] = record.reason
    made = [b for b in reader.blocks() if b.slot not in before]
    run.verification_blocks = len(made)
    run.final_blocks = sum(1 for b in made if b.status == epb.FINAL)
    run.ledger_blocks = _height(ledger) - start_height
    run.slots = max(seen_slots) - min(seen_slots) + 1 if seen_slots else 0
    run.sets = len(seen_sets)
    return run
