"""A ledger with a CA, three certified first verifiers and a verifier set,
for the enrollment tests: the market, reputation, enrollment and block_info
families on an `InProcessClient` whose clock the test moves, real secp256k1
keys, real certificates and sealed evidence."""
from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from sawgrid.clients.sdk import certificates, enrollment, keys, market
from sawgrid.clients.sdk.ledger import InProcessClient
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.clients.verifier.drive import bootstrap
from sawgrid.processors.block_info.handler import BlockInfoHandler
from sawgrid.processors.enrollment.handler import EnrollmentHandler
from sawgrid.processors.inprocess import InProcessLedger
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.processors.reputation.handler import ReputationHandler
from sawgrid.processors.enrollment.settings import leader, slot_at, slot_window
from sawgrid.protos import enrollment_pb2 as epb

START = 1_760_000_000
SLOT = 10


def new_signer():
    return keys.signer_for(keys.new_private_key())


def hex_key(signer) -> str:
    return signer.get_public_key().as_hex()


class Ledger(InProcessClient):
    """An `InProcessClient` over the families enrollment works with (as
    reputation_world names its handlers): market, reputation, enrollment and
    block_info, BlockInfo injected before each batch, stamped with `clock()`."""

    def __init__(self, clock) -> None:
        self.ledger = InProcessLedger([MarketHandler(), ReputationHandler(), EnrollmentHandler(), BlockInfoHandler()],
                                      inject_block_info=True, clock=clock)


class World:
    def __init__(self, verifiers: int = 3, set_size: int = 3) -> None:
        self.t = float(START)
        self.ledger = Ledger(clock=lambda: self.t)
        self.op = new_signer()
        market.submit(self.ledger, self.op, market.init())
        enrollment.submit(self.ledger, self.op, enrollment.configure(
            enrollment.settings_with(slot_seconds=SLOT, set_size=set_size)))
        self.first = [new_signer() for _ in range(verifiers)]
        self.root = bootstrap(self.ledger, self.op, self.first, START)
        self.reader = enrollment.EnrollmentReader(self.ledger)
        self.by_key = {hex_key(s): s for s in self.first}

    # -- time and eq. 1 ------------------------------------------------------------------
    @property
    def set(self) -> epb.VerifierSet:
        return self.reader.verifier_set()

    def now(self) -> int:
        return int(self.t)

    def slot(self) -> int:
        vs = self.set
        return slot_at(self.now(), vs.t0, vs.slot_seconds)

    def leader_of(self, slot: int):
        return self.by_key[leader(self.set.members, slot)]

    def to_slot(self, slot: int) -> None:
        """Move the clock to the start of `slot` of the current set."""
        vs = self.set
        self.t = float(slot_window(slot, vs.t0, vs.slot_seconds)[0])

    def members(self):
        return [self.by_key[k] for k in self.set.members]

    # -- actions -------------------------------------------------------------------------
    def submit(self, signer, payload, before=()):
        return enrollment.submit(self.ledger, signer, payload, before=before)

    def refused(self, signer, payload, expected: str, before=()) -> str:
        """The batch is refused with `expected` in its reason, and state is unchanged."""
        snapshot = dict(self.ledger.ledger.state)
        try:
            self.submit(signer, payload, before=before)
        except BatchInvalid as err:
            message = "; ".join(err.messages)
            assert expected in message, message
            assert self.ledger.ledger.state == snapshot
            return message
        raise AssertionError(f"accepted, expected a refusal with {expected!r}")

    def applicant(self, serial: str = "SM-1", volunteer: bool = False):
        """A new meter that has sent its join request; (signer, evidence)."""
        signer = new_signer()
        evidence = enrollment.Evidence.from_identity({"meter_serial": serial, "name": "Ada Household",
                                                      "address": "1 Grid Lane"})
        enrollment.enroll(self.ledger, signer, evidence, volunteer=volunteer)
        return signer, evidence

    def decision(self, applicant, issuer=None, accept=True, reason="", certificate=None) -> epb.Decision:
        issuer = issuer or self.leader_of(self.slot())
        record = self.reader.request(hex_key(applicant))
        d = epb.Decision(applicant=hex_key(applicant), commitment=record.request.commitment, accept=accept,
                         reason=reason)
        if accept:
            d.certificate = certificate if certificate is not None else certificates.issue(
                issuer, self.reader.certificate(hex_key(issuer)).certificate, record.request.csr, self.now(),
                3650)
        return d

    def countersign_all(self, slot: int, agree: bool = True, reason: str = "") -> epb.Block:
        """Every other member countersigns the block of `slot` while it is still
        PROPOSED (a quorum completes it before the last may sign); the block."""
        block = self.reader.block(slot)
        for member in self.members():
            if hex_key(member) != block.leader and self.reader.block(slot).status == epb.PROPOSED:
                self.submit(member, enrollment.countersign(block, agree, reason))
        return self.reader.block(slot)

    def propose(self, decisions, slot=None, signer=None):
        slot = self.slot() if slot is None else slot
        signer = signer or self.leader_of(slot)
        return signer, enrollment.propose(self.set.set_id, slot, decisions)


def csr_with_subject(signer, attributes) -> bytes:
    """A CSR whose subject carries more than the pseudonym."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, enrollment.pseudonym(hex_key(signer))),
                      *(x509.NameAttribute(oid, value) for oid, value in attributes)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(certificates.private_key(signer),
                                                                         hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER)
