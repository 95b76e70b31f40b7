"""Key files compatible with `sawtooth keygen`.

`sawtooth keygen NAME` writes `~/.sawtooth/keys/NAME.priv` (the 32-byte
secp256k1 private key as 64 hex chars and a newline) and `NAME.pub` (the
33-byte compressed public key as 66 hex chars). Sawgrid reads and writes the
same files, so keys move freely between the two tools.

Sawgrid writes them more carefully: a private key file is owner-only (0600)
from the moment it exists, whatever the umask; a key directory it creates is
0700; and it never writes through a symlink (a NAME.priv or NAME.pub that is
one is refused, with --force too), so a planted link cannot send a private
key elsewhere or overwrite another file.
"""
from __future__ import annotations

import os
import secrets
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
    """Write `private_key` as NAME.priv (0600) / NAME.pub; refuses to overwrite
    unless `force`, and refuses a symlink in their place even then."""
    priv_path, pub_path = key_paths(name, key_dir)
    for path in (priv_path, pub_path):
        if path.is_symlink():
            raise _symlink_error(path)
    if not force and (os.path.lexists(priv_path) or os.path.lexists(pub_path)):
        raise KeyFileError(f"key files for {name!r} already exist in {priv_path.parent} (use --force to replace)")
    _make_private_dirs(priv_path.parent)
    public_hex = _CONTEXT.get_public_key(private_key).as_hex()
    _write(priv_path, private_key.as_hex() + "\n", 0o600, force)
    _write(pub_path, public_hex + "\n", 0o644, force)
    return priv_path, pub_path


def _symlink_error(path: Path) -> KeyFileError:
    return KeyFileError(f"refusing to write {path}: it is a symlink (remove it or choose another key name)")


def _make_private_dirs(directory: Path) -> None:
    """Create `directory` and its missing parents as 0700 (an existing one is left as it is)."""
    missing = []
    while not os.path.lexists(directory):
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # created meanwhile by someone else: not ours to change
        except OSError as err:
            raise KeyFileError(f"cannot create key directory {path}: {err.strerror}") from None
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, 0o700)  # the umask may have taken bits off
        finally:
            os.close(fd)


def _write(path: Path, text: str, mode: int, replace: bool) -> None:
    """Write `text` to a new file at `path` with exactly `mode`, never following
    a symlink. Without `replace` the file must not exist (O_EXCL); with it, the
    text goes to a new file next to it that then atomically takes its place
    (a rename replaces a link itself, it does not write through it)."""
    target = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags, mode)
    except FileExistsError:
        if path.is_symlink():
            raise _symlink_error(path) from None
        raise KeyFileError(f"{path} already exists (use --force to replace)") from None
    except OSError as err:
        raise KeyFileError(f"cannot write {path}: {err.strerror}") from None
    try:
        try:
            os.fchmod(fd, mode)  # exactly `mode`, whatever the umask took off
            with os.fdopen(fd, "w") as handle:
                fd = -1
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if replace:
                os.replace(target, path)
        finally:
            if fd != -1:
                os.close(fd)
    except OSError as err:
        if replace:
            try:
                os.unlink(target)
            except OSError:
                pass
        raise KeyFileError(f"cannot write {path}: {err.strerror}") from None


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
