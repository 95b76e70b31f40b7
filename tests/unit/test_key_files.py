"""Private key files: owner-only from the moment they exist, never written
through a symlink (`sawgrid keygen` and `keys.save`)."""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest

from sawgrid.clients.cli.main import main
from sawgrid.clients.sdk import keys


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277])
def test_private_key_is_0600_and_key_dir_0700_whatever_the_umask(tmp_path, mask):
    key_dir = tmp_path / "new" / "keys"
    with umask(mask):
        priv, pub = keys.generate("alice", key_dir)
    assert mode(priv) == 0o600
    assert mode(key_dir) == 0o700 and mode(key_dir.parent) == 0o700
    assert keys.load_signer("alice", key_dir).get_public_key().as_hex() == pub.read_text().strip()


def test_an_existing_key_dir_is_left_as_it_is(tmp_path):
    tmp_path.chmod(0o755)
    priv, _ = keys.generate("alice", tmp_path)
    assert mode(tmp_path) == 0o755 and mode(priv) == 0o600


def test_the_private_key_is_never_readable_by_others_not_even_briefly(tmp_path, monkeypatch):
    """Every file opened for the private key already has mode 0600 when it is
    created, before a byte is written (no create-then-chmod window)."""
    real_open = os.open
    created: list[tuple[str, int]] = []

    def recording_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if ".priv" in os.fspath(path) and flags & os.O_CREAT:
            created.append((os.fspath(path), stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    monkeypatch.setattr(os, "open", recording_open)
    with umask(0o022):
        keys.generate("alice", tmp_path)
        keys.generate("alice", tmp_path, force=True)
    assert created and all(m == 0o600 for _, m in created), created


def test_force_replaces_a_key_and_tightens_its_mode(tmp_path):
    priv, pub = keys.generate("alice", tmp_path)
    old_pub = pub.read_text()
    priv.chmod(0o644)  # e.g. written by an older sawgrid, or copied in by hand
    keys.generate("alice", tmp_path, force=True)
    assert pub.read_text() != old_pub
    assert mode(priv) == 0o600
    assert keys.load_signer("alice", tmp_path).get_public_key().as_hex() == pub.read_text().strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.priv", "alice.pub"]  # no temporary left


@pytest.mark.parametrize("force", [False, True])
def test_a_dangling_priv_symlink_is_refused_not_followed(tmp_path, force):
    target = tmp_path / "elsewhere" / "stolen"
    target.parent.mkdir()
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    (key_dir / "alice.priv").symlink_to(target)
    with pytest.raises(keys.KeyFileError) as caught:
        keys.generate("alice", key_dir, force=force)
    message = str(caught.value)
    assert "\n" not in message and str(key_dir / "alice.priv") in message and "it is a symlink" in message
    assert not target.exists()                          # nothing written through the link
    assert (key_dir / "alice.priv").is_symlink()        # and the link left alone
    assert not (key_dir / "alice.pub").exists()


@pytest.mark.parametrize("force", [False, True])
def test_a_symlink_to_an_existing_file_is_refused_even_with_force(tmp_path, force):
    target = tmp_path / "precious"
    target.write_text("do not touch\n")
    target.chmod(0o644)
    (tmp_path / "alice.priv").symlink_to(target)
    with pytest.raises(keys.KeyFileError, match="it is a symlink"):
        keys.generate("alice", tmp_path, force=force)
    assert target.read_text() == "do not touch\n" and mode(target) == 0o644


def test_a_pub_symlink_is_refused_too(tmp_path):
    target = tmp_path / "precious"
    target.write_text("do not touch\n")
    (tmp_path / "alice.pub").symlink_to(target)
    with pytest.raises(keys.KeyFileError, match="alice.pub"):
        keys.generate("alice", tmp_path, force=True)
    assert target.read_text() == "do not touch\n"
    assert not (tmp_path / "alice.priv").exists()


def test_keygen_command_refuses_a_symlink_in_one_line(tmp_path, capsys):
    target = tmp_path / "stolen"
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    (key_dir / "alice.priv").symlink_to(target)
    for extra in ([], ["--force"]):
        assert main(["keygen", "--key-dir", str(key_dir), "alice", *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith("sawgrid: error: ") and err.count("\n") == 1
        assert str(key_dir / "alice.priv") in err
        assert not target.exists()


def test_keygen_command_writes_an_owner_only_key(tmp_path, capsys):
    key_dir = tmp_path / "keys"
    with umask(0o022):
        assert main(["keygen", "--key-dir", str(key_dir), "alice"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {key_dir / 'alice.priv'}" in out
    assert mode(key_dir / "alice.priv") == 0o600 and mode(key_dir) == 0o700
    assert main(["keygen", "--key-dir", str(key_dir), "alice"]) == 1  # exists: refused without --force
    assert "already exist" in capsys.readouterr().err
