"""Addressing, key files, transaction building and batch verification."""
from __future__ import annotations

import hashlib
import stat

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.devnet.ledger_api import SubmitRejected
from sawgrid.protos.verify import check_batch
from sawgrid.processors.addressing import Family, is_address, namespace
from sawgrid.protos.sawtooth import Batch, BatchHeader, TransactionHeader


def test_namespace_is_sawtooth_convention():
    assert namespace("intkey") == hashlib.sha512(b"intkey").hexdigest()[:6] == "1cf126"


def test_addresses_are_typed_by_record_kind():
    fam = Family("market")
    a = fam.address("01", "alice")
    b = fam.address("02", "alice")
    assert is_address(a) and is_address(b)
    assert a.startswith(fam.prefix("01")) and not b.startswith(fam.prefix("01"))
    assert fam.address("01", "2026-01-01", 5) == fam.address("01", "2026-01-01/5")
    with pytest.raises(ValueError):
        fam.prefix("zz")


def test_keygen_writes_sawtooth_compatible_files(tmp_path):
    priv, pub = keys.generate("alice", tmp_path)
    assert priv == tmp_path / "alice.priv" and pub == tmp_path / "alice.pub"
    priv_hex = priv.read_text()
    assert priv_hex.endswith("\n") and len(priv_hex.strip()) == 64
    pub_hex = pub.read_text().strip()
    assert len(pub_hex) == 66 and pub_hex[:2] in ("02", "03")
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600  # owner only (tests/unit/test_key_files.py)
    assert keys.load_signer("alice", tmp_path).get_public_key().as_hex() == pub_hex
    with pytest.raises(keys.KeyFileError, match="already exist"):
        keys.generate("alice", tmp_path)


def test_missing_or_corrupt_key_gives_a_readable_error(tmp_path):
    with pytest.raises(keys.KeyFileError, match="sawgrid keygen bob"):
        keys.load_signer("bob", tmp_path)
    (tmp_path / "bad.priv").write_text("not hex\n")
    with pytest.raises(keys.KeyFileError, match="not a secp256k1 private key"):
        keys.load_signer("bad", tmp_path)


def test_a_well_formed_batch_verifies(signer):
    batch = kv_batch(signer, "k")
    headers = check_batch(batch)
    assert headers[0].family_name == "sawgrid-kv"
    assert headers[0].payload_sha512 == hashlib.sha512(batch.transactions[0].payload).hexdigest()


def _resign_batch(signer, batch: Batch) -> Batch:
    return make_batch(signer, list(batch.transactions))


def test_tampered_payload_is_rejected(signer):
    batch = kv_batch(signer, "k")
    batch.transactions[0].payload = b"tampered"
    with pytest.raises(SubmitRejected, match="payload_sha512"):
        check_batch(_resign_batch(signer, batch))


def test_bad_signatures_are_rejected(signer):
    batch = kv_batch(signer, "k")
    batch.header_signature = "0" * 128
    with pytest.raises(SubmitRejected, match="batch .*signature does not verify"):
        check_batch(batch)
    batch = kv_batch(signer, "k")
    txn = batch.transactions[0]
    header = TransactionHeader.FromString(txn.header)
    header.nonce = "changed"
    txn.header = header.SerializeToString()
    with pytest.raises(SubmitRejected, match="transaction .*signature does not verify"):
        check_batch(_resign_batch(signer, batch))


def test_batcher_key_must_be_the_batch_signer(signer):
    other = keys.signer_for(keys.new_private_key())
    txn = make_transaction(signer, "sawgrid-kv", "1.0", b"", [], [])  # batcher = signer
    with pytest.raises(SubmitRejected, match="batcher_public_key"):
        check_batch(make_batch(other, [txn]))


def test_batch_must_list_exactly_its_transactions(signer):
    batch = kv_batch(signer, "k")
    header = BatchHeader.FromString(batch.header)
    header.transaction_ids.append("ab" * 64)
    raw = header.SerializeToString()
    forged = Batch(header=raw, header_signature=signer.sign(raw), transactions=batch.transactions)
    with pytest.raises(SubmitRejected, match="transaction_ids do not match"):
        check_batch(forged)
