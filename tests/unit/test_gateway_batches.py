"""What the gateway reads from a POST /batches body (clients/gateway/batches.py)."""
from __future__ import annotations

import pytest

from inproc_devnet import FAMILY, batch, new_signer, one, txn
from sawgrid.clients.gateway.batches import UndecodableBatches, decode_batch_list
from sawgrid.protos.envelopes import batch_list_bytes
from sawgrid.protos.sawtooth import Batch, BatchList


def test_each_batch_gives_its_id_its_signer_and_its_families_once_each():
    alice, bob = new_signer(), new_signer()
    first = batch(alice, [txn(alice, key="a"), txn(alice, key="b", family="xo"), txn(alice, key="c")])
    second = one(bob)
    infos = decode_batch_list(batch_list_bytes([first, second]))
    assert [i.id for i in infos] == [first.header_signature, second.header_signature]
    assert [i.signer for i in infos] == [alice.get_public_key().as_hex(), bob.get_public_key().as_hex()]
    assert infos[0].families == (FAMILY, "xo") and infos[1].families == (FAMILY,)


def test_a_batch_whose_signature_is_not_its_signers_is_refused():
    alice, mallory = new_signer(), new_signer()
    genuine = one(alice)
    forged = Batch(header=genuine.header, transactions=genuine.transactions,
                   header_signature=mallory.sign(genuine.header))  # names alice's key, signed by mallory
    with pytest.raises(UndecodableBatches, match="signature does not verify"):
        decode_batch_list(BatchList(batches=[forged]).SerializeToString())


@pytest.mark.parametrize("body, says", [
    (b"\xff\xff\xff", "not a serialized BatchList"),
    (b"", "no batches"),
    (BatchList(batches=[Batch(header=b"\xff", header_signature="00" * 64)]).SerializeToString(),
     "header does not parse"),
])
def test_bodies_that_are_not_signed_batch_lists_are_refused(body, says):
    with pytest.raises(UndecodableBatches, match=says):
        decode_batch_list(body)


def test_a_transaction_header_that_does_not_parse_is_refused():
    signer = new_signer()
    b = one(signer)
    b.transactions[0].header = b"\xff\xff"
    with pytest.raises(UndecodableBatches, match="transaction header"):
        decode_batch_list(BatchList(batches=[b]).SerializeToString())
