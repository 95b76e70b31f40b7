"""`sawgrid enroll`, `sawgrid verifier ...`, `sawgrid verifiers`,
`sawgrid certificate show` and the operator's CA commands: new prosumers
verified by the rotating verifier set (processors/enrollment/README.md)."""
from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
import time
from pathlib import Path

from sawgrid.clients.cli.reputation import _group_of
from sawgrid.clients.cli.support import (Session, command, format_table, group, refusal, short,
                                         with_global_options, add_global_options)
from sawgrid.clients.sdk import certificates, enrollment
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.reputation import format_time
from sawgrid.clients.sdk.rest import BatchInvalid
from sawgrid.protos import enrollment_pb2 as epb

LOG = logging.getLogger("sawgrid.enroll")

WAIT_POLL = 1.0
SLOTS_SHOWN = 5


def _submit(s: Session, fn, *a, **kw):
    try:
        return fn(*a, **kw)
    except BatchInvalid as err:
        raise SawgridError(refusal(err, raw=s.args.json)) from None


def _now(s: Session) -> int:
    now = enrollment.chain_time(s.rest)
    if now is None:
        raise SawgridError("the chain has no BlockInfo yet (is the block_info injector on?)")
    return now


# --------------------------------------------------------------------------
# sawgrid enroll
# --------------------------------------------------------------------------
def _enroll(args: argparse.Namespace) -> int:
    s = Session(args)
    evidence = enrollment.Evidence.from_file(args.evidence)
    reader = enrollment.EnrollmentReader(s.rest)
    key = s.public_key
    previous = reader.request(key)
    vs = reader.verifier_set()
    if previous is not None and previous.status == epb.APPROVED:
        # decided since an earlier run stopped waiting: report it (a new request would be refused)
        LOG.info("your join request on chain was approved already")
    elif previous is not None and previous.status == epb.PENDING:
        if not args.wait:
            raise SawgridError("you already have a pending request (sawgrid verifiers shows it; --wait SECONDS "
                               "waits for its decision)")
        LOG.info("your join request is already on chain: waiting up to %g s for its decision", args.wait)
    else:
        _submit(s, enrollment.enroll, s.rest, s.signer, evidence, volunteer=args.volunteer)
    record = reader.request(key)
    deadline = time.monotonic() + args.wait
    while record.status == epb.PENDING and time.monotonic() < deadline:
        time.sleep(WAIT_POLL)
        record = reader.request(key)
    if record.status == epb.DECLINED:
        raise SawgridError(f"your join request was declined: {record.reason}")
    if args.wait and record.status == epb.PENDING:
        raise SawgridError(f"your join request is still pending after {args.wait:g} s: the leader of a coming slot "
                           f"decides it (sawgrid verifiers); run the same command again to keep waiting")
    doc = enrollment.request_json(record)

    def text() -> str:
        lines = [f"join request of {short(key)} on chain: commitment {record.request.commitment.hex()[:16]}..., "
                 f"evidence sealed for the {len(vs.members)} verifiers of set {vs.set_id}"]
        if record.status == epb.PENDING:
            lines.append("status: pending (the leader of a coming slot decides it; see: sawgrid verifiers)")
        elif record.status == epb.APPROVED:
            lines.append("status: APPROVED - you are an approved participant; your certificate: "
                         f"sawgrid certificate show {key[:16]}...")
        return "\n".join(lines)

    return s.emit(doc, text)


# --------------------------------------------------------------------------
# sawgrid verifier volunteer / run, sawgrid verifiers
# --------------------------------------------------------------------------
def _volunteer(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = enrollment.EnrollmentReader(s.rest)
    if s.public_key in reader.verifier_set().volunteers:
        raise SawgridError("you are already a volunteer verifier")
    if reader.certificate(s.public_key) is None:
        raise SawgridError("you have no certificate on chain: the operator's CA certifies the first verifiers "
                           "(sawgrid operator certify), enrollment certifies everyone else")
    _submit(s, enrollment.submit, s.rest, s.signer, enrollment.volunteer())
    vs = reader.verifier_set()
    seated = s.public_key in vs.members
    return s.emit({"public_key": s.public_key, "volunteer": True, "member": seated, "set_id": vs.set_id},
                  "you volunteered as a verifier; " + (f"you sit in verifier set {vs.set_id}" if seated else
                                                       "you may be drawn into the set after the next enrollment"))


def _run(args: argparse.Namespace) -> int:
    from sawgrid.clients.verifier.agent import Verifier
    from sawgrid.clients.verifier.journal import Journal

    s = Session(args)
    signer = s.signer
    state = args.state or Path(f"verifier-{s.public_key[:16]}.json")
    known = None
    if args.known:
        try:
            known = {str(x) for x in json.loads(Path(args.known).read_text())}
        except (OSError, ValueError, TypeError) as err:
            raise SawgridError(f"--known: {args.known} is not a JSON list of meter serials ({err})") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    agent = Verifier(s.rest, signer, journal=Journal(state), known=known, margin=args.margin)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    agent.run(stop, interval=args.interval)
    return 0


def _verifiers(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = enrollment.EnrollmentReader(s.rest)
    vs = reader.verifier_set()
    now = enrollment.chain_time(s.rest)
    doc = enrollment.set_json(vs, now, SLOTS_SHOWN)
    pending = reader.pending()
    doc["pending"] = [enrollment.request_json(r) for r in pending]
    doc["blocks"] = [enrollment.block_json(b) for b in reader.blocks(vs.set_id)] if vs.set_id else []

    def text() -> str:
        if not vs.members:
            return "there is no verifier set yet (the first certified verifiers volunteer: sawgrid verifier volunteer)"
        lines = [f"verifier set {vs.set_id}: {len(vs.members)} members, quorum {vs.quorum}, slot {vs.slot_seconds} s, "
                 f"T0 {format_time(vs.t0)}",
                 format_table(("MEMBER",), [(s.label(k),) for k in vs.members]), ""]
        if now is not None:
            lines.append(f"chain time {format_time(now)}; current leader {s.label(doc['current_leader'])}")
            lines.append(format_table(("SLOT", "FROM", "LEADER"), [(x["slot"], format_time(x["start"]),
                                                                     s.label(x["leader"])) for x in doc["slots"]]))
        lines.append(f"\n{len(vs.volunteers)} volunteers; {len(pending)} pending requests")
        return "\n".join(lines)

    return s.emit(doc, text)


# --------------------------------------------------------------------------
# sawgrid certificate show
# --------------------------------------------------------------------------
def _certificate_show(args: argparse.Namespace) -> int:
    s = Session(args)
    key = s.public_key_arg(args.public_key)
    reader = enrollment.EnrollmentReader(s.rest)
    record = reader.certificate(key)
    if record is None:
        raise SawgridError(f"no certificate on chain for {short(key)}")
    chain = reader.chain(key)
    certificates.verify_chain(chain)
    if args.pem:
        print("".join(certificates.pem(der) for der in chain), end="")
        return 0
    cert = certificates.load(record.certificate)
    doc = {"public_key": key, "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
           "issuer_key": record.issuer, "serial": f"{cert.serial_number:x}",
           "not_before": int(cert.not_valid_before_utc.timestamp()),
           "not_after": int(cert.not_valid_after_utc.timestamp()),
           "fingerprint_sha256": certificates.fingerprint(record.certificate),
           "chain": [certificates.load(d).subject.rfc4514_string() for d in chain], "chain_verified": True}
    text = "\n".join([f"subject      {doc['subject']}", f"issuer       {doc['issuer']} ({short(record.issuer)})",
                      f"valid        {format_time(doc['not_before'])} .. {format_time(doc['not_after'])}",
                      f"sha256       {doc['fingerprint_sha256']}",
                      "chain        " + " <- ".join(doc["chain"]) + "  (verified up to the CA root)"])
    return s.emit(doc, text)


# --------------------------------------------------------------------------
# the operator's CA
# --------------------------------------------------------------------------
def _ca_init(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = enrollment.EnrollmentReader(s.rest)
    if reader.config().root:
        raise SawgridError("the CA root certificate is already on chain (sawgrid certificate show shows chains)")
    root = certificates.ca_root(s.signer, _now(s))
    _submit(s, enrollment.submit, s.rest, s.signer, enrollment.set_root(root))
    return s.emit({"root_key": s.public_key, "fingerprint_sha256": certificates.fingerprint(root)},
                  f"CA root on chain: the key {short(s.public_key)} is the CA "
                  f"(sha256 {certificates.fingerprint(root)[:32]}...)")


def _certify(args: argparse.Namespace) -> int:
    s = Session(args)
    key = s.public_key_arg(args.public_key)
    reader = enrollment.EnrollmentReader(s.rest)
    config = reader.config()
    if not config.root:
        raise SawgridError("no CA root on chain yet: sawgrid operator ca init")
    cert = certificates.issue_for_key(s.signer, config.root, key, _now(s), reader.settings().validity_days)
    _submit(s, enrollment.submit, s.rest, s.signer, enrollment.certify(cert))
    return s.emit({"public_key": key, "fingerprint_sha256": certificates.fingerprint(cert)},
                  f"certified {s.label(key)} (and approved it): it may now volunteer as a verifier")


def _enrollment_settings(args: argparse.Namespace) -> int:
    s = Session(args)
    reader = enrollment.EnrollmentReader(s.rest)
    current = reader.settings()
    changes = {name: getattr(args, name) for name in ("slot_seconds", "set_size", "validity_days")
               if getattr(args, name) is not None}
    if changes:
        current = enrollment.settings_with(current, **changes)
        _submit(s, enrollment.submit, s.rest, s.signer, enrollment.configure(current))
    doc = {"slot_seconds": current.slot_seconds, "set_size": current.set_size,
           "validity_days": current.validity_days}
    return s.emit(doc, format_table(None, [(k, v) for k, v in doc.items()]))


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------
def add_parsers(subparsers) -> None:
    """Register the enrollment commands on `sawgrid`'s subparsers."""
    p = command(subparsers, "enroll", _enroll, "ask the verifier set to enroll your meter",
                "Send your meter's join request: a certificate request on your key (its subject is a pseudonym), "
                "a commitment to your identity, and the identity itself (the evidence file, JSON with at least "
                "meter_serial) encrypted for each member of the current verifier set only. Registers your key "
                "in the market under the pseudonym first if needed. The leader of a coming slot decides it; "
                "on a quorum you are approved and your certificate is on chain.",
                "sawgrid --key dave enroll --evidence dave-meter.json --wait 60", uses_key=True)
    p.add_argument("--evidence", type=Path, required=True, metavar="FILE",
                   help='JSON identity, e.g. {"meter_serial": "SM-0042", "name": "...", "address": "..."}')
    p.add_argument("--volunteer", action="store_true", help="once approved, volunteer as a verifier")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait up to this long for the decision, failing if there is none by then; with a request "
                        "already pending, wait for it instead of sending another; one already approved is "
                        "reported as it is (default: do not wait)")

    commands = group(subparsers, "verifier", "the enrollment verifier set: volunteer, run the agent")
    command(commands, "volunteer", _volunteer, "offer your certified identity as a verifier",
            "Volunteer as a verifier of new meters: your identity is at stake (your certificate is public). The "
            "verifier set is drawn from the volunteers by their Q-score after each enrollment.",
            "sawgrid --key carol verifier volunteer", uses_key=True)
    p = command(commands, "run", _run, "run the verifier agent (lead your slots, countersign)",
                "Run until stopped (Ctrl-C or SIGTERM): in your slots (eq. 1) check the pending requests against "
                "their evidence and propose the verification block with the certificates you issue; countersign "
                "the other members' blocks; hand evidence over to a new set. One log line per decision. What it "
                "signed is kept in --state, so a restart never signs a slot or a block twice.",
                "sawgrid --key carol verifier run --state carol-verifier.json --known meters.json", uses_key=True)
    p.add_argument("--state", type=Path, metavar="FILE",
                   help="what this key signed (default: verifier-<key>.json in the current directory)")
    p.add_argument("--known", metavar="FILE", help="JSON list of installed meter serials (default: accept any "
                   "well-formed evidence)")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="poll interval (default 1)")
    p.add_argument("--margin", type=float, default=2.0, metavar="SECONDS",
                   help="do not propose in the last SECONDS of a slot, nor in the first half of that (default 2)")
    with_global_options(commands)

    command(subparsers, "verifiers", _verifiers, "show the verifier set, the current leader and the next slots",
            "Show the current verifier set (canonical order), its T0, slot length and quorum, the leader of the "
            "current slot by eq. 1 and of the next ones, the volunteers and the pending requests.",
            "sawgrid verifiers --json")

    commands = group(subparsers, "certificate", "X.509 certificates on chain")
    p = command(commands, "show", _certificate_show, "show a participant's certificate and verify its chain",
                "Show a participant's certificate (issued by the CA or by the leader that enrolled it) and verify "
                "its chain up to the CA root on chain. --pem prints the chain as PEM (leaf first).",
                "sawgrid certificate show dave\n  sawgrid certificate show 02ab...ef --pem | openssl x509 -text")
    p.add_argument("public_key", metavar="KEY", help="public key or key name")
    p.add_argument("--pem", action="store_true", help="print the chain as PEM")
    with_global_options(commands)

    operator = _group_of(subparsers, "operator", "operator actions")
    ca_parser = operator.add_parser("ca", help="the trusted authority's CA", description="the trusted authority's CA")
    ca_parser.set_defaults(func=lambda a: (ca_parser.print_help(), 2)[1])
    ca = ca_parser.add_subparsers(title="commands", metavar="COMMAND")
    add_global_options(ca_parser, defaults=False)
    p = command(ca, "init", _ca_init, "put the CA root certificate on chain (your key is the CA)",
                "Create the CA's self-signed root certificate on your (operator) key and put it on chain, once. "
                "Only the CA key may then certify the first verifiers.",
                "sawgrid --key operator operator ca init", uses_key=True)
    add_global_options(p, defaults=False)
    p = command(operator, "certify", _certify, "certify a first verifier (CA)",
                "Issue a CA certificate for a registered participant's key and put it on chain (this approves "
                "the participant): the first verifiers. Everyone else is enrolled by the verifier set.",
                "sawgrid --key operator operator certify carol", uses_key=True)
    p.add_argument("public_key", metavar="KEY", help="public key or key name")
    add_global_options(p, defaults=False)
    p = command(operator, "enrollment-settings", _enrollment_settings, "show or change the enrollment settings",
                "Show the enrollment settings, or change the ones given: the slot length τ of eq. 1, the size n "
                "of the verifier set, and how long issued certificates are valid.",
                "sawgrid --key operator operator enrollment-settings --slot-seconds 10 --set-size 4",
                uses_key=True)
    p.add_argument("--slot-seconds", type=int, metavar="S", help="τ, seconds")
    p.add_argument("--set-size", type=int, metavar="N", help="verifiers per set")
    p.add_argument("--validity-days", type=int, metavar="DAYS", help="validity of issued certificates")
    add_global_options(p, defaults=False)
