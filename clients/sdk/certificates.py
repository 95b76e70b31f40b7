"""X.509 on the participant's own secp256k1 key, and the evidence sealed for
the verifiers, with `cryptography`.

    root = certificates.ca_root(operator_signer, now)            # self-signed CA, DER
    csr = certificates.csr(meter_signer)                          # PKCS#10, DER, pseudonym only
    cert = certificates.issue(issuer_signer, issuer_der, csr, now, validity_days)
    env = certificates.seal(evidence_bytes, recipient_key, applicant_key)
    certificates.open_envelope(env, my_signer, applicant_key) -> bytes

One key signs transactions and certificates alike: a `sawtooth keygen` key
file (clients/sdk/keys.py) is loaded into `cryptography` as the same
secp256k1 scalar. Certificates are ECDSA-SHA256, subject CN = the key's
pseudonym (processors/enrollment/x509.py; nothing else, so no identity is
on chain), BasicConstraints ca=True (every verifier issues at enrollment).
Their serial number is derived from the subject key (sha256, 128 bits), so
one key has one serial.

Evidence is sealed per recipient with ECIES (README of the family,
"Evidence"): an ephemeral secp256k1 key, ECDH with the recipient's key,
HKDF-SHA256 (info "sawgrid-enrollment evidence v1", no salt) to a 32-byte
key, AES-256-GCM with a random 12-byte nonce and the associated data
`applicant | recipient` (hex, UTF-8), so an envelope cannot be moved to
another request or recipient. Well-kept primitives, composed in a few
lines: no maintained ECIES package covers secp256k1 with this layout.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import os

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509.oid import NameOID
from sawtooth_signing import Signer

from sawgrid.clients.sdk.errors import SawgridError
from sawgrid.processors.enrollment.x509 import fingerprint, key_hex, pseudonym
from sawgrid.protos import enrollment_pb2 as epb

HKDF_INFO = b"sawgrid-enrollment evidence v1"
ROOT_NAME = "sawgrid-ca-"
NONCE_BYTES = 12
BACKDATE_SECONDS = 3_600  # a certificate is valid from an hour before chain time (clock skew)
ROOT_VALIDITY_DAYS = 36_500


class CertificateError(SawgridError):
    """A certificate, CSR or envelope that cannot be used (one-line message)."""


def private_key(signer: Signer) -> ec.EllipticCurvePrivateKey:
    """The signer's secp256k1 key as a `cryptography` key (the same scalar).
    sawtooth_signing 1.2.5 is final: its Signer keeps the key as `_private_key`."""
    return _derived(signer._private_key.as_hex())


@functools.lru_cache(maxsize=1024)
def _derived(scalar_hex: str) -> ec.EllipticCurvePrivateKey:
    """Deriving computes the public point (a scalar multiplication, ~1 ms): a
    verifier opening many envelopes and issuing many certificates does it once."""
    return ec.derive_private_key(int(scalar_hex, 16), ec.SECP256K1())


def public_key(hex_key: str) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), bytes.fromhex(hex_key))
    except ValueError:
        raise CertificateError(f"not a secp256k1 public key: {hex_key[:16]}...") from None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _serial(key: str) -> int:
    return int.from_bytes(hashlib.sha256(bytes.fromhex(key)).digest()[:16], "big") >> 1 or 1


def _utc(seconds: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)


def ca_root(signer: Signer, now: int) -> bytes:
    """The CA's self-signed root certificate on the operator's key, DER."""
    key = signer.get_public_key().as_hex()
    name = _name(ROOT_NAME + key[:24])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(public_key(key)).serial_number(_serial(key))
            .not_valid_before(_utc(now - BACKDATE_SECONDS))
            .not_valid_after(_utc(now + ROOT_VALIDITY_DAYS * 86_400))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(private_key(signer), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def csr(signer: Signer) -> bytes:
    """A PKCS#10 request for the signer's key: subject CN = its pseudonym only, DER."""
    key = signer.get_public_key().as_hex()
    request = x509.CertificateSigningRequestBuilder().subject_name(_name(pseudonym(key))) \
        .sign(private_key(signer), hashes.SHA256())
    return request.public_bytes(serialization.Encoding.DER)


def load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateError("not a DER X.509 certificate") from None


def subject_key(cert: x509.Certificate) -> str:
    return key_hex(cert.public_key())


def issue_for_key(issuer: Signer, issuer_der: bytes, key: str, now: int, validity_days: int) -> bytes:
    """A certificate for `key` (CN = its pseudonym), issued by the holder of `issuer_der`, DER."""
    cert = (x509.CertificateBuilder().subject_name(_name(pseudonym(key)))
            .issuer_name(load(issuer_der).subject).public_key(public_key(key)).serial_number(_serial(key))
            .not_valid_before(_utc(now - BACKDATE_SECONDS))
            .not_valid_after(_utc(now + validity_days * 86_400))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(private_key(issuer), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def issue(issuer: Signer, issuer_der: bytes, csr_der: bytes, now: int, validity_days: int) -> bytes:
    """The certificate a leader issues for a CSR (checked: its own signature)."""
    try:
        request = x509.load_der_x509_csr(csr_der)
    except ValueError:
        raise CertificateError("not a DER PKCS#10 request") from None
    if not request.is_signature_valid:
        raise CertificateError("the CSR's signature does not verify")
    return issue_for_key(issuer, issuer_der, key_hex(request.public_key()), now, validity_days)


def pem(der: bytes) -> str:
    return load(der).public_bytes(serialization.Encoding.PEM).decode("ascii")


def verify_chain(chain: list[bytes]) -> None:
    """`chain` = [leaf, its issuer, ..., root]: each signed by the next, the
    root by itself; CertificateError naming the first link that fails."""
    certs = [load(der) for der in chain]
    for i, cert in enumerate(certs):
        issuer = certs[i + 1] if i + 1 < len(certs) else cert
        try:
            cert.verify_directly_issued_by(issuer)
        except Exception as err:  # noqa: BLE001 - any failure is the chain's
            raise CertificateError(f"link {i} ({cert.subject.rfc4514_string()}) does not verify against "
                                   f"{issuer.subject.rfc4514_string()}: {type(err).__name__}") from None


# -- evidence ---------------------------------------------------------------------------
def _aead_key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(shared)


def _aad(applicant: str, recipient: str) -> bytes:
    return f"{applicant}|{recipient}".encode("utf-8")


def seal(plaintext: bytes, recipient: str, applicant: str) -> epb.Envelope:
    """`plaintext` sealed for `recipient` (ECIES, module docstring)."""
    ephemeral = ec.generate_private_key(ec.SECP256K1())
    key = _aead_key(ephemeral.exchange(ec.ECDH(), public_key(recipient)))
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(applicant, recipient))
    return epb.Envelope(recipient=recipient, ephemeral_key=bytes.fromhex(key_hex(ephemeral.public_key())),
                        nonce=nonce, ciphertext=ciphertext)


def open_envelope(envelope: epb.Envelope, signer: Signer, applicant: str) -> bytes:
    """The plaintext of an envelope sealed for `signer`; CertificateError if it does not open."""
    me = signer.get_public_key().as_hex()
    if envelope.recipient != me:
        raise CertificateError("the envelope is not sealed for this key")
    try:
        shared = private_key(signer).exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256K1(), envelope.ephemeral_key))
        return AESGCM(_aead_key(shared)).decrypt(envelope.nonce, envelope.ciphertext, _aad(applicant, me))
    except (ValueError, InvalidTag):
        raise CertificateError("the envelope does not open (corrupt, or not for this request)") from None
