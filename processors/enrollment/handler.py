"""The sawgrid-enrollment transaction handler.

Every action reads like the spec (README.md): decode and check the payload
(`payload`), read the records it needs (`state`), decide — raising
InvalidTransaction before anything is written — then write every record in
one `set_state` call. Time and the draw's seed come only from Sawtooth's
BlockInfo; eq. 1 and the quorum are in `settings`, the set draw in `draw`,
the X.509 rules in `x509`, the Q-score updates in the reputation family's
`qscore`.
"""
from __future__ import annotations

import hashlib

from sawtooth_sdk.processor.exceptions import InvalidTransaction

from sawgrid.processors.base import SawgridHandler
from sawgrid.processors.block_info.clock import latest_block_info
from sawgrid.processors.checks import invalid
from sawgrid.processors.enrollment import x509 as certs
from sawgrid.processors.enrollment.addresses import ENROLLMENT
from sawgrid.processors.enrollment.draw import draw
from sawgrid.processors.enrollment.payload import MAX_VOLUNTEERS, decode
from sawgrid.processors.enrollment.settings import leader, slot_at, slot_window
from sawgrid.processors.enrollment.state import EnrollmentState
from sawgrid.processors.market.addresses import MARKET
from sawgrid.processors.reputation import qscore
from sawgrid.processors.reputation.addresses import REPUTATION
from sawgrid.processors.reputation.settings import DAY_SECONDS
from sawgrid.protos import enrollment_pb2 as epb
from sawgrid.protos import market_pb2 as pb


def block_digest(propose: epb.Propose) -> bytes:
    """sha256 of a Propose, deterministic serialization: what countersigners sign."""
    return hashlib.sha256(propose.SerializeToString(deterministic=True)).digest()


class EnrollmentHandler(SawgridHandler):
    FAMILY = ENROLLMENT

    @property
    def namespaces(self) -> list[str]:
        # approval writes market Participants, verification reputation Scores (README.md, "Namespaces")
        return [ENROLLMENT.namespace, MARKET.namespace, REPUTATION.namespace]

    def handle(self, transaction, context) -> None:
        action, message = decode(transaction.payload)
        signer = transaction.header.signer_public_key
        info = None
        if action != "configure":
            info = latest_block_info(context)
            if info is None:
                raise InvalidTransaction("block_info: chain time unavailable (no BlockInfo in state)")
        st = EnrollmentState(context)
        getattr(self, "_" + action)(st, signer, message, info)
        st.flush()

    # -- the operator and its CA ----------------------------------------------------------
    def _configure(self, st: EnrollmentState, signer: str, m: epb.Configure, info) -> None:
        _require_market_operator(st, signer)
        config = st.enrollment_config()
        config.settings.CopyFrom(m.settings)
        st.put_enrollment_config(config)

    def _set_root(self, st: EnrollmentState, signer: str, m: epb.SetRoot, info) -> None:
        _require_market_operator(st, signer)
        config = st.enrollment_config()
        if config.root:
            raise invalid("set_root", "the CA root certificate is already on chain")
        certs.check_root("set_root.certificate", m.certificate, signer)
        config.root, config.root_key = m.certificate, signer
        if not config.HasField("settings"):
            config.settings.CopyFrom(st.enrollment_settings())
        st.put_enrollment_config(config)

    def _certify(self, st: EnrollmentState, signer: str, m: epb.Certify, info) -> None:
        config = st.enrollment_config()
        if not config.root:
            raise invalid("certify", "no CA root certificate on chain (sawgrid operator ca init)")
        if signer != config.root_key:
            raise InvalidTransaction("signer: not the CA (the root certificate's key)")
        cert = certs.check_issued("certify.certificate", m.certificate, config.root, None, info.timestamp,
                                  "the CA root")
        key = certs.certificate_key("certify.certificate", cert)
        participant = st.participant(key)
        if participant is None:
            raise invalid("certify.certificate", "its key is not a registered market participant")
        if st.certificate(key) is not None:
            raise invalid("certify.certificate", "this participant already has a certificate on chain")
        st.put_certificate(epb.CertificateRecord(public_key=key, certificate=m.certificate, issuer=signer,
                                                 timestamp=info.timestamp))
        _approve(st, participant)

    # -- verifiers ---------------------------------------------------------------------------
    def _volunteer(self, st: EnrollmentState, signer: str, m: epb.Volunteer, info) -> None:
        if st.certificate(signer) is None:
            raise InvalidTransaction("signer: no certificate on chain (the CA or an enrollment issues one)")
        participant = st.participant(signer)
        if participant is None or participant.status != pb.APPROVED:
            raise InvalidTransaction("signer: not an approved market participant")
        vs = st.verifier_set()
        if signer in vs.volunteers:
            raise invalid("volunteer", "already a volunteer")
        if len(vs.volunteers) >= MAX_VOLUNTEERS:
            raise invalid("volunteer", f"there are already {MAX_VOLUNTEERS} volunteers")
        _add_volunteer(vs, signer)
        if len(vs.members) < st.enrollment_settings().set_size:
            _redraw(st, vs, info)  # the set grows until it has its size
        st.put_verifier_set(vs)

    # -- join requests -------------------------------------------------------------------
    def _request(self, st: EnrollmentState, signer: str, m: epb.Request, info) -> None:
        vs = st.verifier_set()
        if not vs.members:
            raise invalid("request", "there is no verifier set yet (no volunteers with certificates)")
        participant = st.participant(signer)
        if participant is None:
            raise InvalidTransaction("signer: not registered in the market (register in the same batch)")
        if participant.status == pb.APPROVED:
            raise InvalidTransaction("signer: already an approved participant")
        previous = st.request(signer)
        used = []
        if previous is not None:
            if previous.status == epb.PENDING:
                raise invalid("request", "replayed: this key already has a pending request")
            if previous.status == epb.APPROVED:
                raise invalid("request", "replayed: this key is already enrolled")
            used = [*previous.used_commitments, previous.request.commitment]
            if m.commitment in used:
                raise invalid("request.commitment", "replayed: a request with this commitment was already decided")
        certs.check_csr("request.csr", m.csr, signer)
        _require_sealed_for("request.envelopes", m.envelopes, vs)
        st.put_request(epb.RequestRecord(applicant=signer, request=m, status=epb.PENDING,
                                         timestamp=info.timestamp, used_commitments=used))

    def _handover(self, st: EnrollmentState, signer: str, m: epb.Handover, info) -> None:
        record = st.request(m.applicant)
        if record is None or record.status != epb.PENDING:
            raise invalid("handover.applicant", "no pending request of this key")
        vs = st.verifier_set()
        holders = [e.recipient for e in record.request.envelopes]
        if holders == list(vs.members):
            raise invalid("handover", "the evidence is already sealed for the current verifier set")
        if signer != m.applicant and signer not in holders:
            raise InvalidTransaction("signer: holds no envelope of this request (neither applicant nor verifier of it)")
        _require_sealed_for("handover.envelopes", m.envelopes, vs)
        del record.request.envelopes[:]
        record.request.envelopes.extend(m.envelopes)  # the old seals leave state (README.md, "Handover")
        st.put_request(record)

    # -- the verification block ------------------------------------------------------------
    def _propose(self, st: EnrollmentState, signer: str, m: epb.Propose, info) -> None:
        now = info.timestamp
        vs = _current_set(st, "propose.set_id", m.set_id)
        if signer not in vs.members:
            raise InvalidTransaction("condition 1: the signer is not in the verifier set")
        slot_leader = leader(vs.members, m.slot)
        if slot_leader != signer:
            raise InvalidTransaction(f"condition 1: not the leader of slot {m.slot} (its leader is {slot_leader})")
        current = slot_at(now, vs.t0, vs.slot_seconds)
        if current != m.slot:
            start, end = slot_window(m.slot, vs.t0, vs.slot_seconds)
            raise InvalidTransaction(f"condition 1: outside slot {m.slot} (chain time {start}..{end - 1}; "
                                     f"now {now}, slot {current})")
        made = st.block(m.slot)
        if made is not None:
            raise InvalidTransaction(f"condition 2: slot {m.slot} already has its block (by {made.leader})")
        own = st.certificate(signer)
        if own is None:
            raise InvalidTransaction("signer: no verifier certificate on chain")
        for i, d in enumerate(m.decisions):
            field = f"propose.decisions[{i}]"
            record = st.request(d.applicant)
            if record is None or record.status != epb.PENDING:
                raise invalid(f"{field}.applicant", "no pending request of this key (replayed or decided)")
            if record.request.commitment != d.commitment:
                raise invalid(f"{field}.commitment", "not the commitment of the pending request")
            if [e.recipient for e in record.request.envelopes] != list(vs.members):
                raise invalid(f"{field}.applicant", "its evidence is not handed over to this verifier set yet")
            if d.accept:
                certs.check_issued(f"{field}.certificate", d.certificate, own.certificate, d.applicant, now,
                                   "the leader's certificate")
            if record.block_set_id:
                older = st.block(record.block_slot)
                if older is not None and older.status == epb.PROPOSED:
                    older.status = epb.SUPERSEDED
                    st.put_block(older)
            record.block_set_id, record.block_slot = m.set_id, m.slot
            st.put_request(record)
        block = epb.Block(set_id=m.set_id, slot=m.slot, leader=signer, propose=m, digest=block_digest(m),
                          timestamp=now, status=epb.PROPOSED,
                          signatures=[epb.Signature(verifier=signer, agree=True)])
        _judge(st, vs, block, info)
        st.put_block(block)

    def _countersign(self, st: EnrollmentState, signer: str, m: epb.Countersign, info) -> None:
        block = st.block(m.slot)
        if block is None or block.set_id != m.set_id:
            raise invalid("countersign.slot", f"no block of set {m.set_id} at slot {m.slot}")
        vs = _current_set(st, "countersign.set_id", m.set_id)
        if signer not in vs.members:
            raise InvalidTransaction("signer: not in the verifier set")
        if any(s.verifier == signer for s in block.signatures):
            raise invalid("countersign", "countersigned twice: this verifier already signed this block")
        if block.status != epb.PROPOSED:
            raise invalid("countersign", f"the block is already {epb.BlockStatus.Name(block.status)}")
        if m.digest != block.digest:
            raise invalid("countersign.digest", "does not match the block")
        block.signatures.append(epb.Signature(verifier=signer, agree=m.agree, reason=m.reason))
        _judge(st, vs, block, info)
        st.put_block(block)


# -- rules shared by several actions -------------------------------------------------------------
def _require_market_operator(st: EnrollmentState, signer: str) -> None:
    config = st.config()
    if config is None:
        raise InvalidTransaction("market: not initialised (no operator yet)")
    if signer not in config.operators:
        raise InvalidTransaction("signer: not a market operator")


def _approve(st: EnrollmentState, participant: pb.Participant) -> None:
    """What the market's `approve` does to a participant (its handler's rule)."""
    if participant.status != pb.APPROVED:
        participant.status = pb.APPROVED
        st.put_participant(participant)


def _add_volunteer(vs: epb.VerifierSet, key: str) -> None:
    volunteers = sorted([*vs.volunteers, key])
    del vs.volunteers[:]
    vs.volunteers.extend(volunteers)


def _current_set(st: EnrollmentState, field: str, set_id: int) -> epb.VerifierSet:
    vs = st.verifier_set()
    if set_id != vs.set_id:
        raise invalid(field, f"not the current verifier set ({vs.set_id})")
    return vs


def _require_sealed_for(field: str, envelopes, vs: epb.VerifierSet) -> None:
    if [e.recipient for e in envelopes] != list(vs.members):
        raise invalid(field, f"must be sealed for exactly the current verifier set (set {vs.set_id}, "
                             f"{len(vs.members)} members, in their order)")


def _redraw(st: EnrollmentState, vs: epb.VerifierSet, info) -> None:
    """A new set from the volunteers (draw.py); the old one stays if none is eligible."""
    rsettings = st.settings()
    scores = {}
    for key in vs.volunteers:
        record = st.score(key)
        scores[key] = record.score if record is not None else rsettings.initial_score
    members, quorum = draw(vs.volunteers, scores, vs.set_id + 1, info.header_signature, rsettings.min_score,
                           st.enrollment_settings().set_size)
    if not members:
        return
    vs.set_id += 1
    del vs.members[:]
    vs.members.extend(members)
    slot_seconds = st.enrollment_settings().slot_seconds
    if vs.set_id == 1 or vs.slot_seconds != slot_seconds:
        vs.t0 = info.timestamp      # the first set's first block; a new τ starts the slots again
    vs.slot_seconds = slot_seconds
    vs.quorum = quorum
    vs.seed_block = info.header_signature


def _judge(st: EnrollmentState, vs: epb.VerifierSet, block: epb.Block, info) -> None:
    """FINAL once the agreeing signatures reach the quorum, REJECTED once too
    many disagree for it ever to; then decisions, Q-scores and the next set."""
    agree = sum(1 for s in block.signatures if s.agree)
    disagree = len(block.signatures) - agree
    if agree >= vs.quorum:
        block.status = epb.FINAL
    elif disagree > len(vs.members) - vs.quorum:
        block.status = epb.REJECTED
    else:
        return
    final = block.status == epb.FINAL
    now = info.timestamp
    accepted = False
    for d in block.propose.decisions:
        record = st.request(d.applicant)
        record.block_set_id = record.block_slot = 0
        if final:
            record.status = epb.APPROVED if d.accept else epb.DECLINED
            record.reason = d.reason
            record.decided_at = now
            if d.accept:
                accepted = True
                st.put_certificate(epb.CertificateRecord(public_key=d.applicant, certificate=d.certificate,
                                                         issuer=block.leader, timestamp=now))
                participant = st.participant(d.applicant)
                if participant is not None:
                    _approve(st, participant)
                if record.request.volunteer and d.applicant not in vs.volunteers \
                        and len(vs.volunteers) < MAX_VOLUNTEERS:
                    _add_volunteer(vs, d.applicant)
        st.put_request(record)
    block.qot = _scores(st, block, final, now)
    if accepted:
        _redraw(st, vs, info)  # the set changes after each enrollment
        st.put_verifier_set(vs)


def _scores(st: EnrollmentState, block: epb.Block, final: bool, now: int) -> int:
    """Eq. 2, verification case: the leader L·x³, each peer v·x; x is the
    success factor for whoever sided with the outcome, the failure factor
    otherwise (a REJECTED block: the leader and those who agreed with it)."""
    settings = st.settings()
    total = 0
    for s in block.signatures:
        sided = s.agree == final
        x = qscore.factor(settings, sided)
        record = st.score_or_new(s.verifier, settings, now // DAY_SECONDS)
        is_leader = s.verifier == block.leader
        record.score = qscore.member(record.score, x, is_leader, settings)
        if sided:
            record.validated += 1
        else:
            record.missed += 1
        st.put_score(record)
        total += record.score
    return qscore.qot([total])
