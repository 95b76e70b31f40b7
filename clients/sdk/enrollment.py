"""Client side of sawgrid-enrollment: evidence, payload builders,
transactions declared from committed state, readers and the schedule of eq. 1.

    from sawgrid.clients.sdk import enrollment
    evidence = enrollment.Evidence.from_identity({"meter_serial": "SM-0042", "name": "..."})
    enrollment.enroll(ledger, meter_signer, evidence, volunteer=True)   # register + request, one batch
    reader = enrollment.EnrollmentReader(ledger)
    reader.verifier_set(), reader.request(key), reader.certificate(key), reader.chain(key)
    reader.pending(), reader.open_blocks(set_id)                        # what is still open, only
    enrollment.schedule(reader.verifier_set(), now, count=5)             # the next slots and leaders

Inputs and outputs come from `processors.enrollment.access.access(payload,
signer, read)` over committed state; every builder here goes through it.
Certificates and the sealed evidence are made in `certificates`.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from google.protobuf.message import DecodeError
from sawtooth_signing import Signer

from sawgrid.clients.sdk import certificates, market
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient, submit_transactions
from sawgrid.clients.sdk.reputation import chain_time
from sawgrid.processors.enrollment import addresses as eaddr
from sawgrid.processors.enrollment.access import access
from sawgrid.processors.enrollment.addresses import ENROLLMENT
from sawgrid.processors.enrollment.handler import block_digest
from sawgrid.processors.enrollment.payload import check_settings
from sawgrid.processors.enrollment.settings import DEFAULTS, leader, slot_at, slot_window
from sawgrid.processors.enrollment.x509 import pseudonym
from sawgrid.protos import enrollment_pb2 as epb
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.envelopes import make_transaction
from sawgrid.protos.sawtooth import Transaction

DEFAULT_TIMEOUT = market.DEFAULT_TIMEOUT
SALT_BYTES = 16
IDENTITY_FIELD = "meter_serial"   # the one field every evidence file must have
STATUS = {epb.PENDING: "pending", epb.APPROVED: "approved", epb.DECLINED: "declined"}
BLOCK_STATUS = {epb.PROPOSED: "proposed", epb.FINAL: "final", epb.REJECTED: "rejected",
                epb.SUPERSEDED: "superseded"}

Read = Callable[[str], "bytes | None"]

__all__ = ["Evidence", "EnrollmentReader", "Slot", "block_digest", "chain_time", "enroll", "schedule", "submit"]


# --------------------------------------------------------------------------
# Evidence: the identity the verifiers match, committed on chain, sealed for them
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """The plaintext a new meter seals for the verifiers: its identity and a
    random salt, as canonical JSON; the commitment on chain is its sha256."""

    plaintext: bytes

    @classmethod
    def from_identity(cls, identity: Mapping[str, Any], salt: bytes | None = None) -> "Evidence":
        if not isinstance(identity, Mapping) or not str(identity.get(IDENTITY_FIELD, "")).strip():
            raise SawgridError(f"evidence: a JSON object with a non-empty {IDENTITY_FIELD!r} is required")
        doc = {"identity": dict(identity), "salt": (salt or os.urandom(SALT_BYTES)).hex()}
        return cls(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8"))

    @classmethod
    def from_file(cls, path: Path) -> "Evidence":
        try:
            identity = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise SawgridError(f"--evidence: no such file {path}") from None
        except (OSError, ValueError) as err:
            raise SawgridError(f"--evidence: {path} is not a readable JSON file ({err})") from None
        return cls.from_identity(identity)

    @property
    def commitment(self) -> bytes:
        return hashlib.sha256(self.plaintext).digest()

    def identity(self) -> dict:
        """The identity object (SawgridError if the plaintext is not evidence)."""
        try:
            doc = json.loads(self.plaintext)
            identity = doc["identity"]
            if not isinstance(identity, dict) or not str(identity.get(IDENTITY_FIELD, "")).strip():
                raise ValueError
            return identity
        except (ValueError, KeyError, TypeError):
            raise SawgridError("evidence: not an evidence document") from None


def seal(evidence: Evidence, members: Iterable[str], applicant: str) -> list[epb.Envelope]:
    """One envelope per member, in the set's order."""
    return [certificates.seal(evidence.plaintext, member, applicant) for member in members]


# --------------------------------------------------------------------------
# Payloads
# --------------------------------------------------------------------------
def configure(settings: epb.Settings) -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(configure=epb.Configure(settings=settings))


def set_root(certificate: bytes) -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(set_root=epb.SetRoot(certificate=certificate))


def certify(certificate: bytes) -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(certify=epb.Certify(certificate=certificate))


def volunteer() -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(volunteer=epb.Volunteer())


def request(signer: Signer, evidence: Evidence, members: Iterable[str], volunteer: bool = False
            ) -> epb.EnrollmentPayload:
    """A join request: the signer's CSR, the evidence's commitment, the evidence sealed for `members`."""
    applicant = signer.get_public_key().as_hex()
    return epb.EnrollmentPayload(request=epb.Request(
        csr=certificates.csr(signer), commitment=evidence.commitment,
        envelopes=seal(evidence, members, applicant), volunteer=volunteer))


def handover(applicant: str, evidence: Evidence, members: Iterable[str]) -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(handover=epb.Handover(applicant=applicant,
                                                       envelopes=seal(evidence, members, applicant)))


def propose(set_id: int, slot: int, decisions: Iterable[epb.Decision]) -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(propose=epb.Propose(set_id=set_id, slot=slot,
                                                     decisions=sorted(decisions, key=lambda d: d.applicant)))


def countersign(block: epb.Block, agree: bool, reason: str = "") -> epb.EnrollmentPayload:
    return epb.EnrollmentPayload(countersign=epb.Countersign(set_id=block.set_id, slot=block.slot,
                                                             digest=block.digest, agree=agree, reason=reason))


def settings_with(base: epb.Settings | None = None, **changes: int) -> epb.Settings:
    """A copy of `base` (default DEFAULTS) with `changes`, checked as the processor checks them."""
    out = epb.Settings()
    out.CopyFrom(base if base is not None else DEFAULTS)
    for name, value in changes.items():
        setattr(out, name, int(value))
    try:
        check_settings("settings", out)
    except Exception as err:  # noqa: BLE001 - InvalidTransaction, in the user's words
        raise SawgridError(str(err)) from None
    return out


# --------------------------------------------------------------------------
# Transactions
# --------------------------------------------------------------------------
def enrollment_transaction(signer: Signer, payload: epb.EnrollmentPayload, read: Read) -> Transaction:
    """A signed sawgrid-enrollment transaction declaring what `access()` says."""
    try:
        inputs, outputs = access(payload, signer.get_public_key().as_hex(), read)
    except ValueError as err:
        raise SawgridError(str(err)) from None
    return make_transaction(signer, ENROLLMENT.name, ENROLLMENT.versions[0],
                            payload.SerializeToString(deterministic=True), inputs, outputs)


def submit(ledger: LedgerClient, signer: Signer, payloads: epb.EnrollmentPayload | Iterable[epb.EnrollmentPayload],
           wait: bool = True, timeout: float = DEFAULT_TIMEOUT, before: Iterable[Transaction] = ()) -> list[str]:
    """Sign `payloads` as ONE batch (after the transactions `before`) and
    submit it; the transaction ids. Raises BatchInvalid or BatchTimeout."""
    if isinstance(payloads, epb.EnrollmentPayload):
        payloads = [payloads]
    transactions = [*before, *(enrollment_transaction(signer, p, ledger.state) for p in payloads)]
    return submit_transactions(ledger, signer, transactions, wait=wait, timeout=timeout)


def enroll(ledger: LedgerClient, signer: Signer, evidence: Evidence, volunteer: bool = False,
           wait: bool = True, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """A new meter's join request, after its market registration (under its
    pseudonym, so no name is on chain) in the same batch when it is not
    registered yet. SawgridError when there is no verifier set to seal for."""
    reader = EnrollmentReader(ledger)
    members = list(reader.verifier_set().members)
    if not members:
        raise SawgridError("there is no verifier set yet: the operator certifies the first verifiers, "
                           "who volunteer (sawgrid verifier volunteer)")
    key = signer.get_public_key().as_hex()
    before = []
    if reader.market.participant(key) is None:
        before.append(market.market_transaction(signer, market.register(pseudonym(key))))
    return submit(ledger, signer, request(signer, evidence, members, volunteer), wait=wait, timeout=timeout,
                  before=before)


# --------------------------------------------------------------------------
# Reading state
# --------------------------------------------------------------------------
def _decode(cls, data: bytes | None, address: str):
    if data is None:
        return None
    try:
        return cls.FromString(data)
    except DecodeError:
        raise SawgridError(f"state at {address} is not a {cls.__name__}") from None


@dataclass(frozen=True)
class Slot:
    """One slot of eq. 1: its number, chain-time window and leader."""
    slot: int
    start: int
    end: int       # exclusive
    leader: str


def schedule(vs: epb.VerifierSet, now: int, count: int = 5) -> list[Slot]:
    """The slot at chain time `now` and the `count - 1` after it (empty without a set)."""
    if not vs.members or not vs.slot_seconds:
        return []
    first = slot_at(now, vs.t0, vs.slot_seconds)
    first = 0 if first is None else first
    out = []
    for slot in range(first, first + count):
        start, end = slot_window(slot, vs.t0, vs.slot_seconds)
        out.append(Slot(slot, start, end, leader(vs.members, slot)))
    return out


class EnrollmentReader:
    """Decoded enrollment records; a missing record is None (or empty).

    `requests()` and `blocks()` list every record under their prefix;
    `pending()` and `open_blocks()`, what an agent lists at every step, only
    the open ones. A reader keeps each record it listed and decoded with its
    bytes and decodes again only what changed. The records it returns are
    therefore shared between calls: read them, do not modify them."""

    def __init__(self, ledger: LedgerClient) -> None:
        self.ledger = ledger
        self.market = market.MarketReader(ledger)
        self._decoded: dict[str, dict[str, tuple[bytes, object]]] = {}

    def _under(self, cls, prefix: str) -> list:
        """Every record under `prefix`, in address order, decoded once per content."""
        before = self._decoded.get(prefix, {})
        now: dict[str, tuple[bytes, object]] = {}
        for address, data in self.ledger.state_prefix(prefix):
            kept = before.get(address)
            if kept is None or (kept[0] is not data and kept[0] != data):
                kept = (data, _decode(cls, data, address))
            now[address] = kept
        self._decoded[prefix] = now
        return [record for _, record in now.values()]

    def _one(self, cls, address: str):
        return _decode(cls, self.ledger.state(address), address)

    def config(self) -> epb.Config:
        return self._one(epb.Config, eaddr.config_address()) or epb.Config()

    def settings(self) -> epb.Settings:
        config = self.config()
        return config.settings if config.HasField("settings") else DEFAULTS

    def verifier_set(self) -> epb.VerifierSet:
        return self._one(epb.VerifierSet, eaddr.set_address()) or epb.VerifierSet()

    def certificate(self, public_key: str) -> epb.CertificateRecord | None:
        return self._one(epb.CertificateRecord, eaddr.certificate_address(public_key))

    def request(self, public_key: str) -> epb.RequestRecord | None:
        return self._one(epb.RequestRecord, eaddr.request_address(public_key))

    def requests(self) -> list[epb.RequestRecord]:
        return self._under(epb.RequestRecord, eaddr.requests_prefix())

    def pending(self) -> list[epb.RequestRecord]:
        """Every PENDING request, in address order (as `requests()` lists
        them): found through the open-request markers, so the cost follows the
        open requests, not every request ever made (addresses.py, kind 05)."""
        found = (self.request(marker.applicant) for marker in self._under(epb.OpenRequest,
                                                                         eaddr.open_requests_prefix()))
        return [record for record in found if record is not None and record.status == epb.PENDING]

    def block(self, slot: int) -> epb.Block | None:
        return self._one(epb.Block, eaddr.block_address(slot))

    def open_blocks(self, set_id: int | None = None) -> list[epb.Block]:
        """Every PROPOSED block (of set `set_id` only, if given), in slot order:
        through the open-block markers (kind 06), like `pending()`."""
        markers = self._under(epb.OpenBlock, eaddr.open_blocks_prefix())
        found = (self.block(m.slot) for m in sorted(markers, key=lambda m: m.slot)
                 if set_id is None or m.set_id == set_id)
        return [block for block in found if block is not None and block.status == epb.PROPOSED]

    def blocks(self, set_id: int | None = None) -> list[epb.Block]:
        """Every verification block (of set `set_id` only, if given), in slot order."""
        found = self._under(epb.Block, eaddr.blocks_prefix())
        return sorted((b for b in found if set_id is None or b.set_id == set_id), key=lambda b: b.slot)

    def chain(self, public_key: str) -> list[bytes]:
        """[the key's certificate, its issuer's, ..., the CA root] (DER), or SawgridError."""
        config = self.config()
        out, key, seen = [], public_key, set()
        while True:
            record = self.certificate(key)
            if record is None:
                raise SawgridError(f"no certificate on chain for {key[:16]}...")
            out.append(record.certificate)
            if record.issuer == config.root_key:
                return out + [config.root]
            if record.issuer in seen:
                raise SawgridError("the certificate chain loops")
            seen.add(key)
            key = record.issuer


def request_json(record: epb.RequestRecord) -> dict:
    return {"applicant": record.applicant, "status": STATUS.get(record.status, "unset"), "reason": record.reason,
            "commitment": record.request.commitment.hex(), "requested_at": record.timestamp,
            "decided_at": record.decided_at or None,
            "sealed_for": [e.recipient for e in record.request.envelopes],
            "block": {"set_id": record.block_set_id, "slot": record.block_slot} if record.block_set_id else None}


def block_json(block: epb.Block) -> dict:
    return {"set_id": block.set_id, "slot": block.slot, "leader": block.leader,
            "status": BLOCK_STATUS.get(block.status, "unset"), "timestamp": block.timestamp, "qot": block.qot,
            "decisions": [{"applicant": d.applicant, "accept": d.accept, "reason": d.reason}
                          for d in block.propose.decisions],
            "signatures": [{"verifier": s.verifier, "agree": s.agree, "reason": s.reason} for s in block.signatures]}


def set_json(vs: epb.VerifierSet, now: int | None, count: int = 5) -> dict:
    slots = schedule(vs, now, count) if now is not None else []
    return {"set_id": vs.set_id, "members": list(vs.members), "t0": vs.t0, "slot_seconds": vs.slot_seconds,
            "quorum": vs.quorum, "volunteers": list(vs.volunteers), "seed_block": vs.seed_block,
            "chain_time": now, "current_leader": slots[0].leader if slots else None,
            "slots": [{"slot": s.slot, "start": s.start, "end": s.end, "leader": s.leader} for s in slots]}


def participant_status(ledger: LedgerClient, public_key: str) -> int:
    participant = market.MarketReader(ledger).participant(public_key)
    return participant.status if participant is not None else pb.STATUS_UNSET


__all__ += ["configure", "set_root", "certify", "volunteer", "request", "handover", "propose", "countersign",
            "settings_with", "enrollment_transaction", "request_json", "block_json", "set_json", "seal",
            "participant_status", "pseudonym"]
