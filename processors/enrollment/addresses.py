"""Where the enrollment family keeps its records.

    namespace(6) | kind(2) | key(62)

| kind | record | key |
|---|---|---|
| 00 | Config (settings, the CA root) | fixed |
| 01 | VerifierSet (the current set, its T_0, the volunteers) | fixed |
| 02 | CertificateRecord | public key |
| 03 | RequestRecord (a join request, its sealed evidence, its outcome) | applicant's public key |
| 04 | Block (a leader's verification block and its countersignatures) | slot (eq. 1's i) |
| 05 | OpenRequest: present while the request is PENDING | applicant's public key |
| 06 | OpenBlock: present while the block is PROPOSED | slot |

Kinds 05 and 06 are markers, so that a verifier agent lists the open
requests and blocks (a client-side prefix query) instead of every request
and block ever made; the handler writes and removes them at the address it
already touches, never by scanning. A marker's key is its record's, so the
markers list in the same order as their records.

An approved request makes the applicant's market Participant APPROVED and
updates the verifiers' reputation Scores, so the family's transactions also
declare addresses in those namespaces (README.md, "Namespaces").
"""
from __future__ import annotations

from sawgrid.processors.addressing import Family

ENROLLMENT = Family("sawgrid-enrollment")

CONFIG = "00"
SET = "01"
CERTIFICATE = "02"
REQUEST = "03"
BLOCK = "04"
OPEN_REQUEST = "05"
OPEN_BLOCK = "06"


def config_address() -> str:
    return ENROLLMENT.address(CONFIG, "config")


def set_address() -> str:
    return ENROLLMENT.address(SET, "set")


def certificate_address(public_key: str) -> str:
    return ENROLLMENT.address(CERTIFICATE, public_key)


def request_address(public_key: str) -> str:
    return ENROLLMENT.address(REQUEST, public_key)


def block_address(slot: int) -> str:
    return ENROLLMENT.address(BLOCK, slot)


def open_request_address(public_key: str) -> str:
    return ENROLLMENT.address(OPEN_REQUEST, public_key)


def open_block_address(slot: int) -> str:
    return ENROLLMENT.address(OPEN_BLOCK, slot)


def open_requests_prefix() -> str:
    return ENROLLMENT.prefix(OPEN_REQUEST)


def open_blocks_prefix() -> str:
    return ENROLLMENT.prefix(OPEN_BLOCK)


def requests_prefix() -> str:
    return ENROLLMENT.prefix(REQUEST)


def blocks_prefix() -> str:
    return ENROLLMENT.prefix(BLOCK)


def certificates_prefix() -> str:
    return ENROLLMENT.prefix(CERTIFICATE)
