"""The X.509 rules the processor checks, on DER bytes, with `cryptography`.

Every key is secp256k1: a participant's certificate carries the same key its
transactions are signed with. What a certificate or CSR must be
(README.md, "Certificates"):

* subject: exactly one attribute, CN = `pseudonym(public_key)`; nothing that
  names a person, a place or a meter (plain-text identity is refused);
* the subject public key: secp256k1, equal to the participant's key;
* a certificate: signed by its issuer's key (ECDSA with SHA-256), issuer name
  equal to the issuer certificate's subject, valid at chain time, and
  BasicConstraints ca=True (every verifier may issue at enrollment).

Each check raises InvalidTransaction naming `field` and the failed rule.
Verification only: nothing here signs, so nothing is random.
"""
from __future__ import annotations

import datetime as _dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sawgrid.processors.checks import invalid

PSEUDONYM_PREFIX = "sawgrid-"
PSEUDONYM_HEX = 24
MAX_DER = 4_096


def pseudonym(public_key: str) -> str:
    """The only subject a Sawgrid certificate or CSR may carry: 'sawgrid-' and
    the key's first 24 hex chars (the whole key is in the certificate)."""
    return PSEUDONYM_PREFIX + public_key[:PSEUDONYM_HEX]


def key_hex(public_key: ec.EllipticCurvePublicKey) -> str:
    """The compressed point as 66 hex chars, the format of Sawtooth keys."""
    return public_key.public_bytes(serialization.Encoding.X962,
                                   serialization.PublicFormat.CompressedPoint).hex()


def public_key_of(field: str, hex_key: str) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), bytes.fromhex(hex_key))
    except ValueError:
        raise invalid(field, "not a secp256k1 public key") from None


def _subject_key(field: str, key) -> str:
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256K1):
        raise invalid(field, "the key is not secp256k1")
    return key_hex(key)


def check_subject(field: str, name: x509.Name, public_key: str) -> None:
    """Only CN = pseudonym(public_key): any other attribute is plain-text identity."""
    others = [a for a in name if a.oid != NameOID.COMMON_NAME]
    if others:
        names = ", ".join(sorted({a.oid._name for a in others}))
        raise invalid(field, f"subject carries plain-text identity ({names}): only CN={pseudonym(public_key)} "
                             f"is allowed")
    common = [a.value for a in name]
    if common != [pseudonym(public_key)]:
        raise invalid(field, f"subject must be exactly CN={pseudonym(public_key)}, got {name.rfc4514_string()!r}")


def load_certificate(field: str, der: bytes) -> x509.Certificate:
    if not der or len(der) > MAX_DER:
        raise invalid(field, f"must be 1..{MAX_DER} bytes of DER")
    try:
        cert = x509.load_der_x509_certificate(der)
        cert.public_key()
    except (ValueError, TypeError):
        raise invalid(field, "not a DER X.509 certificate") from None
    return cert


def load_csr(field: str, der: bytes) -> x509.CertificateSigningRequest:
    if not der or len(der) > MAX_DER:
        raise invalid(field, f"must be 1..{MAX_DER} bytes of DER")
    try:
        csr = x509.load_der_x509_csr(der)
        csr.public_key()
    except (ValueError, TypeError):
        raise invalid(field, "not a DER PKCS#10 request") from None
    return csr


def certificate_key(field: str, cert: x509.Certificate) -> str:
    """The certificate's subject key (hex), after checking it is secp256k1."""
    return _subject_key(field, cert.public_key())


def check_csr(field: str, der: bytes, applicant: str) -> x509.CertificateSigningRequest:
    """A CSR of `applicant`'s own key, self-signed, with the pseudonym only."""
    csr = load_csr(field, der)
    if _subject_key(field, csr.public_key()) != applicant:
        raise invalid(field, "its key is not the signer's")
    if not csr.is_signature_valid:
        raise invalid(field, "its signature does not verify")
    check_subject(field, csr.subject, applicant)
    if any(ext.oid == x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME for ext in csr.extensions):
        raise invalid(field, "subject alternative names carry plain-text identity")
    return csr


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _check_validity(field: str, cert: x509.Certificate, now: int) -> None:
    start = int(cert.not_valid_before_utc.timestamp())
    end = int(cert.not_valid_after_utc.timestamp())
    if not start <= now <= end:
        raise invalid(field, f"not valid at chain time {now} (valid {start}..{end})")


def check_root(field: str, der: bytes, signer: str) -> x509.Certificate:
    """A self-signed CA certificate of the signer's key."""
    cert = load_certificate(field, der)
    if certificate_key(field, cert) != signer:
        raise invalid(field, "its key is not the signer's")
    if not _is_ca(cert):
        raise invalid(field, "not a CA certificate (BasicConstraints ca=True)")
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        raise invalid(field, "not self-signed by its key") from None
    return cert


def check_issued(field: str, der: bytes, issuer_der: bytes, subject_key: str | None, now: int,
                 what: str = "the issuer's certificate") -> x509.Certificate:
    """A certificate issued by the holder of `issuer_der`: its signature, issuer
    name, validity, CA flag and subject (`subject_key`'s pseudonym, when given)."""
    cert = load_certificate(field, der)
    issuer = x509.load_der_x509_certificate(issuer_der)
    if cert.issuer != issuer.subject:
        raise invalid(field, f"not chained to {what} (issuer {cert.issuer.rfc4514_string()!r})")
    if not isinstance(cert.signature_hash_algorithm, hashes.SHA256):
        raise invalid(field, "must be signed with ECDSA-SHA256")
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        raise invalid(field, f"forged: its signature does not verify against {what}") from None
    key = certificate_key(field, cert)
    if subject_key is not None and key != subject_key:
        raise invalid(field, "its key is not the applicant's")
    check_subject(field, cert.subject, key)
    if not _is_ca(cert):
        raise invalid(field, "must be a CA certificate (BasicConstraints ca=True): verifiers issue with it")
    _check_validity(field, cert, now)
    return cert


def fingerprint(der: bytes) -> str:
    """sha256 of the DER, hex (how users compare certificates)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()


def utc(seconds: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
