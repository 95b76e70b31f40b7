"""Typed access to the records an enrollment transaction touches: its own
(Config, VerifierSet, CertificateRecord, RequestRecord, Block) and the ones
it reads or writes in other namespaces (the market's Config and Participant,
the reputation family's Config and Score).

It is the reputation family's `ReputationState` (one read cache, writes
buffered and left in one `set_state` call from `flush()`, deterministic
serialization) with the enrollment records added, so an approval that makes
a participant APPROVED and updates the verifiers' Q-scores is one write.
"""
from __future__ import annotations

from sawgrid.processors.enrollment import addresses as eaddr
from sawgrid.processors.enrollment.settings import DEFAULTS
from sawgrid.processors.reputation.state import ReputationState
from sawgrid.protos import enrollment_pb2 as epb


class EnrollmentState(ReputationState):
    def enrollment_config(self) -> epb.Config:
        return self._read(eaddr.config_address(), epb.Config) or epb.Config()

    def enrollment_settings(self) -> epb.Settings:
        """The on-chain Settings, or DEFAULTS on a chain without them."""
        config = self.enrollment_config()
        return config.settings if config.HasField("settings") else DEFAULTS

    def verifier_set(self) -> epb.VerifierSet:
        return self._read(eaddr.set_address(), epb.VerifierSet) or epb.VerifierSet()

    def certificate(self, public_key: str) -> epb.CertificateRecord | None:
        return self._read(eaddr.certificate_address(public_key), epb.CertificateRecord)

    def request(self, public_key: str) -> epb.RequestRecord | None:
        return self._read(eaddr.request_address(public_key), epb.RequestRecord)

    def block(self, slot: int) -> epb.Block | None:
        return self._read(eaddr.block_address(slot), epb.Block)

    # -- writes ----------------------------------------------------------------------------
    def put_enrollment_config(self, config: epb.Config) -> None:
        self.put(eaddr.config_address(), config)

    def put_verifier_set(self, verifier_set: epb.VerifierSet) -> None:
        self.put(eaddr.set_address(), verifier_set)

    def put_certificate(self, record: epb.CertificateRecord) -> None:
        self.put(eaddr.certificate_address(record.public_key), record)

    def put_request(self, record: epb.RequestRecord) -> None:
        """The request, and its open-request marker exactly while it is PENDING."""
        self.put(eaddr.request_address(record.applicant), record)
        marker = eaddr.open_request_address(record.applicant)
        if record.status == epb.PENDING:
            self.put(marker, epb.OpenRequest(applicant=record.applicant, requested_at=record.timestamp))
        else:
            self.delete(marker)

    def put_block(self, block: epb.Block) -> None:
        """The block, and its open-block marker exactly while it is PROPOSED."""
        self.put(eaddr.block_address(block.slot), block)
        marker = eaddr.open_block_address(block.slot)
        if block.status == epb.PROPOSED:
            self.put(marker, epb.OpenBlock(set_id=block.set_id, slot=block.slot))
        else:
            self.delete(marker)
