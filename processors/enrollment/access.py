"""What each enrollment transaction may read and write: `access(payload, signer, read)`.

A block that reaches its quorum approves applicants (their market
Participant, their certificate, their request), updates the verifiers'
Q-scores and draws the next set from every volunteer's Q-score. None of them
are named by the payload; they are in state (the block names its decisions,
the set its members and volunteers), so `access` takes `read(address) ->
bytes | None` over committed state, as a client sees it, and declares exact
addresses. Every transaction that writes a request or a block declares its
open marker too (addresses.py: kinds 05 and 06), which the state layer keeps
or removes with the record's status. Any transaction that may complete a block (a `propose` with a
quorum of one, every `countersign`) declares the completion's addresses.
"""
from __future__ import annotations

from typing import Callable, Iterable

from google.protobuf.message import DecodeError

from sawgrid.processors.block_info.clock import CLOCK_INPUTS
from sawgrid.processors.enrollment import addresses as e
from sawgrid.processors.market import addresses as m
from sawgrid.processors.reputation import addresses as r
from sawgrid.protos import enrollment_pb2 as epb

Reader = Callable[[str], "bytes | None"]


def _parse(read: Reader, address: str, message_type):
    raw = read(address)
    if not raw:
        return None
    try:
        return message_type.FromString(raw)
    except DecodeError:
        return None


def _draw_inputs(vs: epb.VerifierSet, extra: Iterable[str] = ()) -> list[str]:
    """What a set draw reads: every volunteer's Q-score and the reputation settings."""
    return [r.config_address(), *(r.score_address(k) for k in sorted({*vs.volunteers, *extra}))]


def _completion(propose: epb.Propose, vs: epb.VerifierSet) -> tuple[list[str], list[str]]:
    """(reads, writes) of a block's completion: its applicants, the set's scores, the draw."""
    applicants = [d.applicant for d in propose.decisions]
    writes = [e.set_address(), e.open_block_address(propose.slot)]
    for key in applicants:
        writes += [e.request_address(key), e.open_request_address(key), e.certificate_address(key),
                   m.participant_address(key)]
    writes += [r.score_address(k) for k in vs.members]
    reads = writes + _draw_inputs(vs, applicants)
    return reads, writes


def access(payload: epb.EnrollmentPayload, signer: str, read: Reader) -> tuple[list[str], list[str]]:
    """(inputs, outputs) of `payload` signed by `signer`. ValueError for a
    payload whose addresses cannot be derived (no action)."""
    action = payload.WhichOneof("action")
    if action is None:
        raise ValueError("payload: no action set")
    base = [*CLOCK_INPUTS, e.config_address(), e.set_address()]
    vs = _parse(read, e.set_address(), epb.VerifierSet) or epb.VerifierSet()
    inputs: list[str]
    outputs: list[str]
    if action in ("configure", "set_root"):
        inputs, outputs = [m.config_address()], [e.config_address()]
    elif action == "certify":
        from sawgrid.processors.enrollment.x509 import certificate_key, load_certificate  # cryptography on use
        try:
            key = certificate_key("certify.certificate", load_certificate("certify.certificate",
                                                                          payload.certify.certificate))
        except Exception as err:  # noqa: BLE001 - the processor refuses it with the reason
            raise ValueError(str(err)) from None
        touched = [e.certificate_address(key), m.participant_address(key)]
        inputs, outputs = touched, touched
    elif action == "volunteer":
        touched = [e.set_address()]
        inputs = [e.certificate_address(signer), m.participant_address(signer), *touched,
                  *_draw_inputs(vs, [signer])]
        outputs = touched
    elif action == "request":
        inputs = [e.request_address(signer), m.participant_address(signer)]
        outputs = [e.request_address(signer), e.open_request_address(signer)]
    elif action == "handover":
        applicant = payload.handover.applicant
        inputs = [e.request_address(applicant)]
        outputs = [e.request_address(applicant), e.open_request_address(applicant)]
    elif action == "propose":
        p = payload.propose
        touched = [e.block_address(p.slot)]
        for d in p.decisions:
            touched.append(e.request_address(d.applicant))
            record = _parse(read, e.request_address(d.applicant), epb.RequestRecord)
            if record is not None and record.block_set_id:   # that block may become SUPERSEDED
                touched += [e.block_address(record.block_slot), e.open_block_address(record.block_slot)]
        reads, writes = _completion(p, vs)
        inputs = [e.certificate_address(signer), *touched, *reads]
        outputs = [*touched, *writes]
    else:  # countersign
        c = payload.countersign
        address = e.block_address(c.slot)
        block = _parse(read, address, epb.Block)
        reads, writes = _completion(block.propose if block is not None else epb.Propose(), vs)
        inputs, outputs = [address, *reads], [address, *writes]
    return list(dict.fromkeys([*base, *inputs])), list(dict.fromkeys(outputs))
