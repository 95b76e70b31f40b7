"""Decoding an enrollment payload and checking every field before anything is read.

Each check raises `InvalidTransaction` whose message starts with the field
(`propose.decisions[0].reason: at most 200 characters`). The X.509 content
of CSRs and certificates is checked by the handler (it needs the keys in
state), the shape of everything else here.
"""
from __future__ import annotations

from sawgrid.processors.checks import check_public_key, check_range, decode_action, invalid
from sawgrid.processors.enrollment.settings import MAX_SET_SIZE, MAX_SLOT_SECONDS, MAX_VALIDITY_DAYS
from sawgrid.processors.enrollment.x509 import MAX_DER
from sawgrid.protos import enrollment_pb2 as epb

# Limits (README.md, "Limits").
MAX_DECISIONS = 16          # requests one block decides
MAX_REASON = 200            # characters of a decline reason
MAX_CIPHERTEXT = 4_096      # bytes of one sealed evidence
MAX_VOLUNTEERS = 200        # every set draw reads their Q-scores
COMMITMENT_BYTES = 32
DIGEST_BYTES = 32
NONCE_BYTES = 12
EPHEMERAL_BYTES = 33
TAG_BYTES = 16


def check_settings(field: str, s: epb.Settings) -> None:
    check_range(f"{field}.slot_seconds", s.slot_seconds, 1, MAX_SLOT_SECONDS, "s")
    check_range(f"{field}.set_size", s.set_size, 1, MAX_SET_SIZE)
    check_range(f"{field}.validity_days", s.validity_days, 1, MAX_VALIDITY_DAYS, "days")


def check_envelopes(field: str, envelopes) -> None:
    """One well-formed envelope per recipient, in ascending recipient order."""
    check_range(field, len(envelopes), 1, MAX_SET_SIZE, "envelopes")
    previous = ""
    for i, e in enumerate(envelopes):
        f = f"{field}[{i}]"
        check_public_key(f"{f}.recipient", e.recipient)
        if e.recipient <= previous:
            raise invalid(f"{f}.recipient", "envelopes must be in ascending recipient order, each once")
        previous = e.recipient
        if len(e.ephemeral_key) != EPHEMERAL_BYTES or e.ephemeral_key[:1] not in (b"\x02", b"\x03"):
            raise invalid(f"{f}.ephemeral_key", f"must be a {EPHEMERAL_BYTES}-byte compressed point")
        if len(e.nonce) != NONCE_BYTES:
            raise invalid(f"{f}.nonce", f"must be {NONCE_BYTES} bytes")
        check_range(f"{f}.ciphertext", len(e.ciphertext), TAG_BYTES + 1, MAX_CIPHERTEXT, "bytes")


def _check_configure(m: epb.Configure) -> None:
    if not m.HasField("settings"):
        raise invalid("configure.settings", "missing")
    check_settings("configure.settings", m.settings)


def _check_der(field: str, der: bytes) -> None:
    check_range(field, len(der), 1, MAX_DER, "bytes")


def _check_nothing(m) -> None:
    return None


def _check_request(m: epb.Request) -> None:
    _check_der("request.csr", m.csr)
    if len(m.commitment) != COMMITMENT_BYTES:
        raise invalid("request.commitment", f"must be {COMMITMENT_BYTES} bytes (sha256)")
    check_envelopes("request.envelopes", m.envelopes)


def _check_handover(m: epb.Handover) -> None:
    check_public_key("handover.applicant", m.applicant)
    check_envelopes("handover.envelopes", m.envelopes)


def _check_propose(m: epb.Propose) -> None:
    check_range("propose.set_id", m.set_id, 1, 2**63 - 1)
    check_range("propose.decisions", len(m.decisions), 1, MAX_DECISIONS, "entries")
    previous = ""
    for i, d in enumerate(m.decisions):
        f = f"propose.decisions[{i}]"
        check_public_key(f"{f}.applicant", d.applicant)
        if d.applicant <= previous:
            raise invalid(f"{f}.applicant", "decisions must be sorted by applicant, each once")
        previous = d.applicant
        if len(d.commitment) != COMMITMENT_BYTES:
            raise invalid(f"{f}.commitment", f"must be {COMMITMENT_BYTES} bytes")
        if len(d.reason) > MAX_REASON:
            raise invalid(f"{f}.reason", f"at most {MAX_REASON} characters")
        if d.accept:
            _check_der(f"{f}.certificate", d.certificate)
            if d.reason:
                raise invalid(f"{f}.reason", "an accepted request has no decline reason")
        else:
            if d.certificate:
                raise invalid(f"{f}.certificate", "a declined request gets no certificate")
            if not d.reason:
                raise invalid(f"{f}.reason", "a decline needs its reason")


def _check_countersign(m: epb.Countersign) -> None:
    check_range("countersign.set_id", m.set_id, 1, 2**63 - 1)
    if len(m.digest) != DIGEST_BYTES:
        raise invalid("countersign.digest", f"must be {DIGEST_BYTES} bytes (sha256 of the block)")
    if len(m.reason) > MAX_REASON:
        raise invalid("countersign.reason", f"at most {MAX_REASON} characters")
    if m.agree and m.reason:
        raise invalid("countersign.reason", "only a disagreement has a reason")
    if not m.agree and not m.reason:
        raise invalid("countersign.reason", "a disagreement needs its reason")


_CHECKS = {
    "configure": _check_configure,
    "set_root": lambda m: _check_der("set_root.certificate", m.certificate),
    "certify": lambda m: _check_der("certify.certificate", m.certificate),
    "volunteer": _check_nothing,
    "request": _check_request,
    "handover": _check_handover,
    "propose": _check_propose,
    "countersign": _check_countersign,
}


def decode(raw: bytes) -> tuple[str, object]:
    """(action name, its message) of a well-formed payload; InvalidTransaction otherwise."""
    return decode_action(raw, epb.EnrollmentPayload, _CHECKS)
