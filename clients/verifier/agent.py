"""The verifier agent: what one member of the verifier set does, one step at a time.

    agent = Verifier(ledger, signer, journal=Journal(path), known=serials)
    agent.step()        # handover, lead the current slot, countersign: once
    agent.run(stop)     # step every `interval` seconds until `stop` is set

Each step reads committed state and:

1. **hands over** the evidence of pending requests sealed for an earlier set
   it belonged to: opens its envelope and re-seals for the current set
   (README.md, "Handover");
2. **leads** the current slot when eq. 1 names it: checks every pending
   request sealed for this set against its evidence (`evaluate`), issues a
   certificate for each accepted one with its own certificate, and proposes
   one block (never twice per slot: the journal, and condition 2 on chain);
3. **countersigns** the other members' open blocks of the current set: agrees
   when its own evaluation gives the same decisions, disagrees (with the
   reason) otherwise; once per block.

It logs one line per decision. The slot is estimated from `clock()` (the
publishing validator stamps BlockInfo with its own clock, so chain time is
about the wall clock at inclusion); it proposes only from `margin / 2`
seconds into its slot and while more than `margin` seconds of it remain.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable

from sawtooth_signing import Signer

from sawgrid.clients.sdk import certificates, enrollment
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.clients.sdk.rest import BatchInvalid, BatchTimeout
from sawgrid.clients.verifier.journal import Journal
from sawgrid.processors.enrollment.settings import leader, slot_at, slot_window
from sawgrid.processors.enrollment.payload import MAX_DECISIONS
from sawgrid.protos import enrollment_pb2 as epb

LOG = logging.getLogger("sawgrid.verifier")


@dataclass(frozen=True)
class Verdict:
    accept: bool
    reason: str = ""


def evaluate(record: epb.RequestRecord, signer: Signer, known: set[str] | None) -> Verdict:
    """What an honest verifier decides about a request, from its own envelope:
    the evidence opens, matches the commitment, is an identity document, and
    (with a register of `known` meter serials) names a known meter."""
    me = signer.get_public_key().as_hex()
    envelope = next((e for e in record.request.envelopes if e.recipient == me), None)
    if envelope is None:
        return Verdict(False, "no evidence sealed for this verifier")
    try:
        plaintext = certificates.open_envelope(envelope, signer, record.applicant)
    except SawgridError:
        return Verdict(False, "the evidence does not open")
    evidence = enrollment.Evidence(plaintext)
    if evidence.commitment != record.request.commitment:
        return Verdict(False, "the evidence does not match its commitment")
    try:
        identity = evidence.identity()
    except SawgridError:
        return Verdict(False, "the evidence is not an identity document")
    if known is not None and str(identity[enrollment.IDENTITY_FIELD]) not in known:
        return Verdict(False, "the meter is not in the operator's register of installed meters")
    return Verdict(True)


class Verifier:
    def __init__(self, ledger: LedgerClient, signer: Signer, journal: Journal | None = None,
                 known: Iterable[str] | None = None, clock: Callable[[], float] = time.time,
                 margin: float = 2.0, timeout: float = enrollment.DEFAULT_TIMEOUT) -> None:
        self.ledger = ledger
        self.signer = signer
        self.key = signer.get_public_key().as_hex()
        self.journal = journal if journal is not None else Journal(None)
        self.known = set(known) if known is not None else None
        self.clock = clock
        self.margin = margin
        self.timeout = timeout
        self.reader = enrollment.EnrollmentReader(ledger)

    # -- one step ----------------------------------------------------------------------
    def step(self) -> list[str]:
        """Do what is due now; the log lines of what it decided."""
        lines: list[str] = []
        vs = self.reader.verifier_set()
        if not vs.members:
            return lines
        pending = self.reader.pending()
        self._handover(vs, pending, lines)
        if self.key in vs.members:
            self._lead(vs, pending, lines)
            self._countersign(vs, lines)
        for line in lines:
            LOG.info("%s", line)
        return lines

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Step until `stop` is set; a failed step is logged and retried."""
        LOG.info("verifier %s running", self.key[:16])
        while not stop.is_set():
            try:
                self.step()
            except SawgridError as err:
                LOG.warning("step failed: %s", err)
            except OSError as err:
                LOG.warning("ledger unreachable: %s", err)
            stop.wait(interval)
        LOG.info("verifier %s stopped", self.key[:16])

    # -- duties ------------------------------------------------------------------------
    def _submit(self, payload: epb.EnrollmentPayload, what: str, lines: list[str]) -> bool:
        try:
            enrollment.submit(self.ledger, self.signer, payload, timeout=self.timeout)
            return True
        except BatchInvalid as err:
            lines.append(f"{what}: refused: {'; '.join(m for m in err.messages if m) or err}")
        except BatchTimeout as err:
            lines.append(f"{what}: not committed in time: {err}")
        return False

    def _handover(self, vs: epb.VerifierSet, pending: list[epb.RequestRecord], lines: list[str]) -> None:
        for record in pending:
            holders = [e.recipient for e in record.request.envelopes]
            if holders == list(vs.members) or self.key not in holders:
                continue  # sealed for this set already, or not ours to move (the first holder to commit wins)
            envelope = next(e for e in record.request.envelopes if e.recipient == self.key)
            try:
                plaintext = certificates.open_envelope(envelope, self.signer, record.applicant)
            except SawgridError:
                continue  # cannot re-seal what does not open: the leader will decline it
            payload = enrollment.handover(record.applicant, enrollment.Evidence(plaintext), vs.members)
            if self._submit(payload, f"handover {record.applicant[:16]}", lines):
                lines.append(f"handover applicant={record.applicant[:16]} to set {vs.set_id}")

    def _lead(self, vs: epb.VerifierSet, pending: list[epb.RequestRecord], lines: list[str]) -> None:
        now = int(self.clock())
        slot = slot_at(now, vs.t0, vs.slot_seconds)
        if slot is None or leader(vs.members, slot) != self.key or self.journal.has_proposed(vs.set_id, slot):
            return
        start, end = slot_window(slot, vs.t0, vs.slot_seconds)
        if now - start < self.margin / 2 or end - now <= self.margin or self.reader.block(slot) is not None:
            return  # too close to the slot's edges for the block's chain time to fall inside it
        ready = [r for r in pending if [e.recipient for e in r.request.envelopes] == list(vs.members)
                 and not self._held_by_open_block(r, vs)]
        if not ready:
            return
        own = self.reader.certificate(self.key)
        if own is None:
            lines.append("cannot lead: no certificate of mine on chain")
            return
        settings = self.reader.settings()
        decisions = []
        for record in ready[:MAX_DECISIONS]:
            verdict = evaluate(record, self.signer, self.known)
            d = epb.Decision(applicant=record.applicant, commitment=record.request.commitment,
                             accept=verdict.accept, reason=verdict.reason)
            if verdict.accept:
                d.certificate = certificates.issue(self.signer, own.certificate, record.request.csr, now,
                                                   settings.validity_days)
            decisions.append(d)
        self.journal.record_proposal(vs.set_id, slot)  # before submitting: never twice (journal.py)
        if self._submit(enrollment.propose(vs.set_id, slot, decisions), f"propose set={vs.set_id} slot={slot}",
                        lines):
            for d in sorted(decisions, key=lambda d: d.applicant):
                lines.append(f"lead set={vs.set_id} slot={slot} applicant={d.applicant[:16]} "
                             f"{'accept' if d.accept else 'decline: ' + d.reason}")

    def _held_by_open_block(self, record: epb.RequestRecord, vs: epb.VerifierSet) -> bool:
        """In a block of this set that may still reach its quorum: wait for it.
        A block of an earlier slot with too few signatures is superseded."""
        if record.block_set_id != vs.set_id:
            return False
        block = self.reader.block(record.block_slot)
        if block is None or block.status != epb.PROPOSED:
            return False
        now = int(self.clock())
        current = slot_at(now, vs.t0, vs.slot_seconds)
        return current is not None and current <= block.slot + 1  # a slot's grace for countersigns

    def _countersign(self, vs: epb.VerifierSet, lines: list[str]) -> None:
        for block in self.reader.open_blocks(vs.set_id):
            if block.leader == self.key \
                    or any(s.verifier == self.key for s in block.signatures) \
                    or self.journal.has_countersigned(block.set_id, block.slot):
                continue
            agree, reason = self._check_block(block)
            self.journal.record_countersign(block.set_id, block.slot)  # before submitting
            what = f"countersign set={block.set_id} slot={block.slot}"
            if self._submit(enrollment.countersign(block, agree, reason), what, lines):
                lines.append(f"{what} leader={block.leader[:16]} {'agree' if agree else 'disagree: ' + reason}")

    def _check_block(self, block: epb.Block) -> tuple[bool, str]:
        """Agree when this verifier's own evaluation of every decided request
        gives the leader's decision."""
        for d in block.propose.decisions:
            record = self.reader.request(d.applicant)
            if record is None:
                return False, f"no request of {d.applicant[:16]}"
            verdict = evaluate(record, self.signer, self.known)
            if verdict.accept != d.accept:
                return False, (f"{d.applicant[:16]}: should be "
                               f"{'accepted' if verdict.accept else 'declined (' + verdict.reason + ')'}")
        return True, ""
