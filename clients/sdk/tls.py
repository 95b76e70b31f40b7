"""TLS for Sawgrid's HTTP servers and clients: a development certificate,
and the `ssl` contexts both sides use.

    cert, key = write_self_signed(Path("tls"))        # tls/cert.pem, tls/key.pem
    server_context(cert, key)                          # for devnet's REST API, the gateway, the dashboard
    client_context(ca_file=cert)                       # what RestClient verifies against

The development pair is *CA-less*: one self-signed certificate for
127.0.0.1, ::1 and localhost that is its own trust anchor, so a client trusts
it by being given the certificate file itself as its CA file. It is for
development and tests; a deployment uses a certificate from its own CA (or
terminates TLS in nginx, see docker/nginx/).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["CA_ENV", "CERT_FILE", "KEY_FILE", "DEV_NAMES", "write_self_signed", "server_context",
           "client_context", "TlsError"]

CA_ENV = "SAWGRID_CA_CERT"  # a CA file clients verify HTTPS servers against (default: the system's)
CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
DEV_NAMES = ("localhost",)
DEV_ADDRESSES = ("127.0.0.1", "::1")
DEV_VALIDITY_DAYS = 365
# Servers refuse anything older: TLS 1.2 is the oldest version without known
# protocol-level breaks, and what nginx's default configuration allows.
MIN_VERSION = ssl.TLSVersion.TLSv1_2


class TlsError(ValueError):
    """A certificate, key or CA file that cannot be used; str() names the file and why."""


def write_self_signed(directory: Path, *, force: bool = False, days: int = DEV_VALIDITY_DAYS,
                      now: datetime.datetime | None = None) -> tuple[Path, Path]:
    """Write DIRECTORY/cert.pem and DIRECTORY/key.pem: a self-signed P-256
    certificate for localhost, 127.0.0.1 and ::1, valid for `days` days, and
    its private key (file mode 0600). Refuses to overwrite either file
    unless `force`. Returns (cert path, key path)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if not force:
        for path in (cert_path, key_path):
            if path.exists():
                raise FileExistsError(f"{path} exists (pass --force to replace it)")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sawgrid development (localhost)"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Sawgrid")])
    start = (now or datetime.datetime.now(datetime.timezone.utc)) - datetime.timedelta(minutes=5)
    alt_names = [x509.DNSName(n) for n in DEV_NAMES] + [x509.IPAddress(ipaddress.ip_address(a))
                                                         for a in DEV_ADDRESSES]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        # its own trust anchor: a CA-less pair that clients load as their CA file
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem_key)
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def server_context(cert_file: str | os.PathLike, key_file: str | os.PathLike) -> ssl.SSLContext:
    """A server-side context serving `cert_file` (PEM, may hold a chain) with
    `key_file`; TLS 1.2 or newer. Raises TlsError naming a bad file."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSION
    for path in (cert_file, key_file):
        if not Path(path).is_file():
            raise TlsError(f"{path}: no such file")
    try:
        context.load_cert_chain(os.fspath(cert_file), os.fspath(key_file))
    except (ssl.SSLError, OSError, ValueError) as err:
        raise TlsError(f"{cert_file} / {key_file}: not a PEM certificate and its key ({_why(err)})") from None
    return context


def client_context(ca_file: str | os.PathLike | None = None) -> ssl.SSLContext:
    """A verifying client context: the server's certificate must chain to
    `ca_file` (PEM) if given, else to `$SAWGRID_CA_CERT` if set, else to the
    system's trust store, and name the host asked for. Never unverified."""
    ca_file = ca_file or os.environ.get(CA_ENV) or None
    context = ssl.create_default_context()
    if ca_file is not None:
        if not Path(ca_file).is_file():
            raise TlsError(f"CA file {ca_file}: no such file")
        try:
            context.load_verify_locations(cafile=os.fspath(ca_file))
        except (ssl.SSLError, OSError, ValueError) as err:
            raise TlsError(f"CA file {ca_file}: not a PEM certificate ({_why(err)})") from None
    return context


def _why(err: Exception) -> str:
    return getattr(err, "reason", None) or getattr(err, "strerror", None) or str(err) or type(err).__name__
