"""Key files compatible with `sawtooth keygen`.

`sawtooth keygen NAME` writes `~/.sawtooth/keys/NAME.priv` (the 32-byte
secp256k1 private key as 64 hex chars and a newline, mode 0640) and
`NAME.pub` (the 33-byte compressed public key as 66 hex chars). Sawgrid reads
and writes the same files, so keys move freely between the two tools.
"""
from __future__ import annotations

import os
from pathlib import Path

from sawtooth_signing import CryptoFactory, create_context
from sawtooth_signing import ParseError, Signer
from sawtooth_signing.secp256k1 import Secp256k1PrivateKey

from sawgrid.clients.sdk.errors import SawgridError

KEY_DIR_ENV = "SAWGRID_KEY_DIR"


class KeyFileError(SawgridError):
    """A key file is missing, unreadable or malformed (one-line message)."""


def default_key_dir() -> Path:
    """`$SAWGRID_KEY_DIR`, else `~/.sawtooth/keys` like the sawtooth CLI."""
    env = os.environ.get(KEY_DIR_ENV)
    return Path(env) if env else Path.home() / ".sawtooth" / "keys"


_CONTEXT = create_context("secp256k1")


def new_private_key() -> Secp256k1PrivateKey:
    return _CONTEXT.new_random_private_key()


def signer_for(private_key: Secp256k1PrivateKey) -> Signer:
    return CryptoFactory(_CONTEXT).new_signer(private_key)


def private_key_from_hex(hex_key: str) -> Secp256k1PrivateKey:
    try:
        return Secp256k1PrivateKey.from_hex(hex_key.strip())
    except ParseError as err:
        raise KeyFileError(f"not a secp256k1 private key: {err}") from None


def key_paths(name: str, key_dir: Path | None = None) -> tuple[Path, Path]:
    """(private, public) key file paths for a key NAME, or for a path to a .priv file."""
    if name.endswith(".priv") or os.sep in name:
        priv = Path(name)
        return priv, priv.with_suffix(".pub")
    directory = key_dir or default_key_dir()
    return directory / f"{name}.priv", directory / f"{name}.pub"


def generate(name: str, key_dir: Path | None = None, force: bool = False) -> tuple[Path, Path]:
    """Write a new key pair NAME.priv / NAME.pub; refuses to overwrite unless `force`."""
    return save(name, new_private_key(), key_dir, force)


def save(name: str, private_key: Secp256k1PrivateKey, key_dir: Path | None = None,
         force: bool = False) -> tuple[Path, Path]:
    """Write `private_key` as NAME.priv / NAME.pub; refuses to overwrite unless `force`."""
    priv_path, pub_path = key_paths(name, key_dir)
    if not force and (priv_path.exists() or pub_path.exists()):
        raise KeyFileError(f"key files for {name!r} already exist in {priv_path.parent} (use --force to replace)")
    priv_path.parent.mkdir(parents=True, exist_ok=True)
    public_hex = _CONTEXT.get_public_key(private_key).as_hex()
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as handle:
        handle.write(private_key.as_hex() + "\n")
    os.chmod(priv_path, 0o640)
    pub_path.write_text(public_hex + "\n")
    return priv_path, pub_path


def load_signer(name: str, key_dir: Path | None = None) -> Signer:
    """The signer for key NAME (or a path to a .priv file)."""
    priv_path, _ = key_paths(name, key_dir)
    try:
        text = priv_path.read_text()
    except FileNotFoundError:
        raise KeyFileError(f"no private key {priv_path} (create one with: sawgrid keygen {name})") from None
    except OSError as err:
        raise KeyFileError(f"cannot read {priv_path}: {err.strerror}") from None
    return signer_for(private_key_from_hex(text))


def load_or_create_signer(name: str, key_dir: Path | None = None) -> Signer:
    """Load key NAME, generating it first if it does not exist yet."""
    priv_path, _ = key_paths(name, key_dir)
    if not priv_path.exists():
        generate(name, key_dir)
    return load_signer(name, key_dir)


def public_key_of(name: str, key_dir: Path | None = None) -> str:
    """Public key hex of key NAME (from its .priv, so a missing .pub does not matter)."""
    return load_signer(name, key_dir).get_public_key().as_hex()
