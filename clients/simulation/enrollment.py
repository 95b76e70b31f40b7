"""How the experiment's participants join the market: through the enrollment
protocol (processors/enrollment/README.md), not by operator approval.

1. The operator is the trusted authority: its CA root goes on chain, and it
   certifies the **first verifiers** (:data:`FIRST_VERIFIERS` honest
   participants, the first in the dataset's order), who volunteer and so form
   the first verifier set (`clients.verifier.drive.bootstrap`).
2. Every other identity of the run is a new meter: it registers under its
   pseudonym and sends a join request carrying its CSR and a commitment to
   its evidence (its meter serial, sealed for the set's members).
3. The first verifiers run as `clients.verifier.agent.Verifier`s in this
   process, with the operator's register of installed meters (the run's
   serials): in each slot eq. 1's leader checks the pending requests and
   proposes a verification block, the others countersign, and on a quorum
   the meters are APPROVED with their certificates on chain
   (`clients.verifier.drive.enroll_all`). The chain's clock (the run's
   :class:`~.replay.ReplayClock`, which devnet's ``--clock-file`` and the
   in-process ledger both read) moves one second per step.

**Why the newcomers do not volunteer here.** The verifier set is redrawn
after each enrollment from the volunteers, seeded by the id of the latest
block (README.md, "The draw"). Block ids are the validator's: devnet's and
the in-process ledger's differ, so with more volunteers than seats the two
modes would draw different sets, give verification Q-scores (eq. 2) to
different participants, and from there draw different settlement clusters.
With the volunteers exactly the seats, every draw is the whole pool
whatever the seed, and full stack and ``--fast`` give the same contracts.
The set is still redrawn (a new set id, a new T_0 slot count) after each
verification block, as on a live network.

A malicious participant's fresh identities (the baseline run's, see
runner.py) are new meters too, each with a serial of its own.
"""
from __future__ import annotations

import hashlib
import time
from typing import Sequence

from sawtooth_signing import Signer

from sawgrid.clients.sdk import enrollment
from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.clients.sdk.ledger import LedgerClient
from sawgrid.clients.simulation.replay import ReplayClock
from sawgrid.clients.verifier.agent import Verifier
from sawgrid.clients.verifier.drive import bootstrap, enroll_all
from sawgrid.processors.enrollment.settings import DEFAULTS

#: the operator-certified first verifiers: enrollment's default set size (4,
#: quorum 3), so the set is exactly the volunteers (see the module docstring)
FIRST_VERIFIERS = DEFAULTS.set_size
SALT_MESSAGE = b"sawgrid-simulate/evidence-salt"


def meter_serial(seed: int, label: str) -> str:
    """A simulated meter's serial number: what its evidence proves, and what
    the operator's register of installed meters lists."""
    return f"SIM-{seed}-{label}"


def _salt(signer: Signer) -> bytes:
    """The evidence's salt, derived from the meter's private key (its
    signature of a fixed message; secp256k1 signing is deterministic, RFC
    6979): as secret as the key, so the commitment on chain does not reveal
    the serial, and the same in every run of one seed."""
    return hashlib.sha256(bytes.fromhex(signer.sign(SALT_MESSAGE))).digest()[:enrollment.SALT_BYTES]


def enroll_participants(ledger: LedgerClient, operator: Signer, first: Sequence[Signer],
                        newcomers: Sequence[tuple[Signer, str]], clock: ReplayClock) -> dict:
    """Certify `first` as the first verifiers, then enroll every (signer,
    serial) of `newcomers` through the protocol; the report's enrollment
    section. SawgridError if any request is declined (an honest run declines
    none)."""
    started = time.perf_counter()
    chain_start = clock.seconds
    bootstrap(ledger, operator, list(first), clock.seconds)
    known = {serial for _, serial in newcomers}
    verifiers = [Verifier(ledger, s, known=known, clock=clock) for s in first]
    applicants = [(signer, enrollment.Evidence.from_identity({enrollment.IDENTITY_FIELD: serial},
                                                             salt=_salt(signer)), False)
                  for signer, serial in newcomers]
    run = enroll_all(ledger, applicants, verifiers, lambda: clock.set(clock.seconds + 1), clock, skip_to=clock.set)
    if run.declined:
        key, reason = next(iter(sorted(run.declined.items())))
        raise SawgridError(f"enrollment: {len(run.declined)} meter(s) declined, e.g. {key[:16]}: {reason}")
    settings = enrollment.EnrollmentReader(ledger).settings()
    return {
        "first_verifiers": [s.get_public_key().as_hex() for s in first],
        "enrolled": len(run.approved),
        "verification_blocks": run.verification_blocks,
        "final_blocks": run.final_blocks,
        "slots": run.slots,
        "verifier_sets": run.sets,
        "ledger_blocks": run.ledger_blocks,
        "slot_seconds": settings.slot_seconds,
        "set_size": settings.set_size,
        "chain_seconds": clock.seconds - chain_start,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
