"""Who a transaction acts for: its own signer, proven by its own signature.

In Sawtooth a batcher may relay other people's transactions: the batch is
signed by B, each transaction by its author A (with batcher_public_key = B).
The market must then act as A, and nobody may put a transaction in A's name
without A's key. These tests pin every check of protos/verify.py
(`check_batch`, which devnet and the in-process ledger apply on submit) and
the signer the ledger hands the market handler.
"""
from __future__ import annotations

import hashlib

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk import market as m
from sawgrid.processors.inprocess import BatchRejected, InProcessLedger
from sawgrid.processors.market import addresses as addr
from sawgrid.processors.market.handler import MarketHandler
from sawgrid.protos import market_pb2 as pb
from sawgrid.protos.envelopes import make_batch, make_transaction
from sawgrid.protos.sawtooth import Batch, BatchHeader, Transaction, TransactionHeader
from sawgrid.protos.verify import check_batch

from ledger_helpers import pk

KV_ADDRESS = "7c1b5f" + "00" * 32


def new_signer():
    return keys.signer_for(keys.new_private_key())


def uncompressed(signer) -> str:
    return signer.get_public_key().secp256k1_public_key.serialize(compressed=False).hex()


def txn(signer, batcher=None, payload: bytes = b"x", family=("sawgrid-kv", "1.0"), **header_fields) -> Transaction:
    """A transaction signed by `signer`; header fields can be overridden (then
    the header says something other than what signed it)."""
    fields = dict(
        family_name=family[0], family_version=family[1], inputs=[KV_ADDRESS], outputs=[KV_ADDRESS],
        signer_public_key=pk(signer), batcher_public_key=pk(batcher or signer),
        payload_sha512=hashlib.sha512(payload).hexdigest(), nonce=keys.new_private_key().as_hex()[:32],
    )
    fields.update(header_fields)
    header = TransactionHeader(**fields).SerializeToString()
    return Transaction(header=header, header_signature=signer.sign(header), payload=payload)


def batch(signer, transactions, transaction_ids=None, signer_public_key=None) -> Batch:
    """A batch signed by `signer`, listing `transaction_ids` (default: its transactions')."""
    transactions = list(transactions)
    header = BatchHeader(
        signer_public_key=signer_public_key or pk(signer),
        transaction_ids=[t.header_signature for t in transactions] if transaction_ids is None else transaction_ids,
    ).SerializeToString()
    return Batch(header=header, header_signature=signer.sign(header), transactions=transactions)


def rejected(b: Batch, match: str) -> None:
    with pytest.raises(BatchRejected, match=match):
        check_batch(b)


# ------------------------------------------------------------------ signers


def test_a_batcher_may_relay_another_signers_transaction():
    author, relay = new_signer(), new_signer()
    (header,) = check_batch(batch(relay, [txn(author, batcher=relay)]))
    assert header.signer_public_key == pk(author) and header.batcher_public_key == pk(relay)


def test_transactions_of_several_signers_in_one_batch():
    a, b, relay = new_signer(), new_signer(), new_signer()
    headers = check_batch(batch(relay, [txn(a, relay), txn(b, relay), txn(relay)]))
    assert [h.signer_public_key for h in headers] == [pk(a), pk(b), pk(relay)]


def test_a_transaction_in_someone_elses_name_is_rejected():
    victim, forger = new_signer(), new_signer()
    # the header claims the victim signed it; the forger signed it (and batches it)
    forged = txn(forger, batcher=forger, signer_public_key=pk(victim))
    rejected(batch(forger, [forged]), r"transaction .*: signature does not verify")
    # the same through a third party's batch
    relay = new_signer()
    rejected(batch(relay, [txn(forger, batcher=relay, signer_public_key=pk(victim))]),
             r"transaction .*: signature does not verify")


def test_a_batch_in_someone_elses_name_is_rejected():
    victim, forger = new_signer(), new_signer()
    t = txn(forger, batcher=victim)
    rejected(batch(forger, [t], signer_public_key=pk(victim)), r"batch .*: signature does not verify")


def test_the_batcher_key_must_be_the_batch_signer():
    author, relay, other = new_signer(), new_signer(), new_signer()
    rejected(batch(relay, [txn(author, batcher=other)]), "batcher_public_key is not the batch signer's key")


def test_a_signature_of_other_bytes_does_not_verify():
    signer = new_signer()
    good = txn(signer)
    stolen = Transaction(header=good.header, header_signature=signer.sign(b"something else"), payload=good.payload)
    rejected(batch(signer, [stolen]), r"transaction .*: signature does not verify")


# ------------------------------------------------- encodings of keys and signatures


def test_signatures_must_be_lowercase_hex():
    # the signing library accepts an upper-case signature; a validator must not:
    # it is the transaction's id, and a second spelling would be a second id
    signer = new_signer()
    t = txn(signer)
    shouting = Transaction(header=t.header, header_signature=t.header_signature.upper(), payload=t.payload)
    rejected(batch(signer, [shouting]), "header_signature is not 128 lowercase hex chars")
    b = batch(signer, [t])
    rejected(Batch(header=b.header, header_signature=b.header_signature.upper(), transactions=b.transactions),
             "batch .*header_signature is not 128 lowercase hex chars")
    rejected(Batch(header=b.header, header_signature=b.header_signature[:-2], transactions=b.transactions),
             "header_signature is not 128 lowercase hex chars")


def test_signer_keys_must_be_compressed_lowercase_hex():
    # both spellings verify with the signing library and name the same key, but
    # the market knows participants by their compressed lower-case key: another
    # spelling would be another identity for the same private key
    signer = new_signer()
    for spelling in (uncompressed(signer), pk(signer).upper()):
        rejected(batch(signer, [txn(signer, signer_public_key=spelling)]),
                 "transaction .*signer_public_key is not a 33-byte compressed key in hex")
        t = txn(signer, batcher_public_key=spelling)
        rejected(batch(signer, [t], signer_public_key=spelling),
                 "batch .*signer_public_key is not a 33-byte compressed key in hex")


def test_a_key_that_is_not_a_curve_point_is_rejected():
    signer = new_signer()
    rejected(batch(signer, [txn(signer, signer_public_key="02" + "00" * 32)]),
             r"transaction .*: signature does not verify")


# --------------------------------------------------------- the batch's contents


def test_a_batch_needs_transactions():
    rejected(batch(new_signer(), []), "has no transactions")


def test_the_batch_header_fixes_its_transactions_and_their_order():
    signer = new_signer()
    t1, t2, t3 = txn(signer), txn(signer), txn(signer)
    ids = [t1.header_signature, t2.header_signature]
    rejected(batch(signer, [t2, t1], transaction_ids=ids), "transaction_ids do not match")      # reordered
    rejected(batch(signer, [t1, t3], transaction_ids=ids), "transaction_ids do not match")      # substituted
    rejected(batch(signer, [t1], transaction_ids=ids), "transaction_ids do not match")          # dropped
    rejected(batch(signer, [t1, t2, t3], transaction_ids=ids), "transaction_ids do not match")  # added


def test_a_transaction_may_not_appear_twice():
    signer = new_signer()
    t = txn(signer)
    rejected(batch(signer, [t, t]), "lists a transaction twice")


def test_unparsable_headers_are_rejected():
    signer = new_signer()
    garbage = b"\xff\xff\xff"
    rejected(Batch(header=garbage, header_signature=signer.sign(garbage), transactions=[txn(signer)]),
             "batch .*header does not parse")
    bad = Transaction(header=garbage, header_signature=signer.sign(garbage), payload=b"x")
    rejected(batch(signer, [bad]), "transaction .*header does not parse")


def test_the_payload_must_match_its_hash():
    signer = new_signer()
    t = txn(signer)
    rejected(batch(signer, [Transaction(header=t.header, header_signature=t.header_signature, payload=b"y")]),
             "payload_sha512 does not match")


@pytest.mark.parametrize("family", [("", "1.0"), ("sawgrid-kv", "")])
def test_family_name_and_version_are_required(family):
    signer = new_signer()
    rejected(batch(signer, [txn(signer, family=family)]), "family_name and family_version are required")


# ---------------------------------------------- the market acts as the signer


def market_txn(signer, payload: pb.MarketPayload, batcher=None, **header_fields) -> Transaction:
    raw = payload.SerializeToString(deterministic=True)
    inputs, outputs = addr.access(payload, header_fields.get("signer_public_key", pk(signer)))
    return txn(signer, batcher, raw, (addr.MARKET.name, addr.MARKET.versions[0]),
               inputs=inputs, outputs=outputs, **header_fields)


@pytest.fixture
def market():
    ledger = InProcessLedger([MarketHandler()], verify_signatures=True)
    operator = new_signer()
    assert ledger.apply_batch(make_batch(operator, [m.market_transaction(operator, m.init(0))])).valid
    return ledger, operator


def read(ledger, address: str, cls):
    raw = ledger.get(address)
    return None if raw is None else cls.FromString(raw)


def test_a_relayed_transaction_acts_as_its_signer_not_the_batcher(market):
    ledger, operator = market
    alice, relay = new_signer(), new_signer()
    assert ledger.apply_batch(batch(relay, [market_txn(alice, m.register("alice"), relay)])).valid
    assert read(ledger, addr.participant_address(pk(alice)), pb.Participant).name == "alice"
    assert read(ledger, addr.participant_address(pk(relay)), pb.Participant) is None

    # the operator's approve and fund, relayed by someone who is no operator
    relayed = [market_txn(operator, m.approve(pk(alice)), relay), market_txn(operator, m.fund(pk(alice), 10**9), relay)]
    assert ledger.apply_batch(batch(relay, relayed)).valid
    assert read(ledger, addr.participant_address(pk(alice)), pb.Participant).status == pb.APPROVED

    order = m.place_order(pb.BUY, 20_000, 7, 1_000, 200_000)
    result = ledger.apply_batch(batch(relay, [market_txn(alice, order, relay)]))
    assert result.valid
    (resting,) = pb.Book.FromString(ledger.items(addr.book_prefix(20_000, 7))[  # the hour's one page
        addr.page_address(20_000, 7, pb.BUY, 200_000, 1)]).orders
    assert resting.owner == pk(alice)
    assert read(ledger, addr.wallet_address(pk(alice)), pb.Wallet).locked == resting.locked > 0
    assert read(ledger, addr.wallet_address(pk(relay)), pb.Wallet) is None


def test_the_batcher_gains_no_rights_from_what_it_relays(market):
    ledger, operator = market
    relay = new_signer()
    ledger.apply_batch(batch(relay, [market_txn(relay, m.register("relay"))]))
    # the relay's own approve of itself, next to an operator transaction it relays
    attempt = [market_txn(operator, m.set_wire_fee(1), relay), market_txn(relay, m.approve(pk(relay)), relay)]
    result = ledger.apply_batch(batch(relay, attempt))
    assert not result.valid and "not an operator" in result.invalid_message
    assert read(ledger, addr.participant_address(pk(relay)), pb.Participant).status == pb.PENDING
    assert read(ledger, addr.config_address(), pb.Config).wire_fee == 0  # the batch is atomic


def test_nobody_can_act_in_the_operators_name(market):
    ledger, operator = market
    forger = new_signer()
    ledger.apply_batch(batch(forger, [market_txn(forger, m.register("forger"))]))
    before = dict(ledger.state)
    forged = [market_txn(forger, m.approve(pk(forger)), signer_public_key=pk(operator)),
              market_txn(forger, m.fund(pk(forger), 10**9), signer_public_key=pk(operator))]
    with pytest.raises(BatchRejected, match="signature does not verify"):
        ledger.apply_batch(batch(forger, forged))
    assert ledger.state == before
    assert read(ledger, addr.participant_address(pk(forger)), pb.Participant).status == pb.PENDING


def test_forging_a_participants_order_is_rejected(market):
    ledger, operator = market
    alice, forger = new_signer(), new_signer()
    ledger.apply_batch(make_batch(alice, [m.market_transaction(alice, m.register("alice"))]))
    ledger.apply_batch(make_batch(operator, [m.market_transaction(operator, m.approve(pk(alice))),
                                             m.market_transaction(operator, m.fund(pk(alice), 10**9))]))
    before = dict(ledger.state)
    forged = market_txn(forger, m.place_order(pb.BUY, 20_000, 7, 1_000, 900_000), signer_public_key=pk(alice))
    with pytest.raises(BatchRejected, match="signature does not verify"):
        ledger.apply_batch(batch(forger, [forged]))
    assert ledger.state == before
