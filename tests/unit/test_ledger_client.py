"""Both ledgers a Sawgrid application runs on satisfy the one LedgerClient
protocol, and the in-process one runs every registered family."""
from __future__ import annotations

import inspect

import pytest

from sawgrid.clients.sdk import market
from sawgrid.clients.sdk.keys import new_private_key, signer_for
from sawgrid.clients.sdk.kv import kv_batch
from sawgrid.clients.sdk.ledger import InProcessClient, LedgerClient
from sawgrid.clients.sdk.rest import BatchInvalid, RestClient
from sawgrid.processors import registry
from sawgrid.processors.kv.addresses import kv_address
from sawgrid.processors.market.addresses import config_address


@pytest.mark.parametrize("client", [RestClient("http://127.0.0.1:9"), InProcessClient()],
                         ids=["RestClient", "InProcessClient"])
def test_both_ledgers_are_ledger_clients(client):
    assert isinstance(client, LedgerClient)
    for name, member in inspect.getmembers(LedgerClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        wanted = list(inspect.signature(member).parameters)
        got = list(inspect.signature(getattr(type(client), name)).parameters)
        assert got[:len(wanted)] == wanted, f"{type(client).__name__}.{name}{got} vs protocol {wanted}"


def test_in_process_client_serves_every_registered_family():
    client = InProcessClient()
    served = {(family, version) for family, version in client.ledger.handlers}
    assert served == {(spec.family.name, v) for spec in registry.FAMILIES for v in spec.family.versions}
    signer = signer_for(new_private_key())
    client.submit_and_wait([kv_batch(signer, "k", b"v")])
    assert client.state(kv_address("k")) == b"v"
    market.submit(client, signer, [market.init(0)])
    assert market.MarketReader(client).config().system_operator == signer.get_public_key().as_hex()
    assert dict(client.state_prefix(config_address())) == {config_address(): client.state(config_address())}


def test_in_process_refusal_is_batch_invalid_with_the_reason():
    client = InProcessClient()
    signer = signer_for(new_private_key())
    with pytest.raises(BatchInvalid, match="not set"):
        client.submit([kv_batch(signer, "never-set", delete=True)])


def test_rest_client_finds_a_block_by_number(tmp_path):
    """`RestClient.block_at(n)`: the block numbered n on the chain, None beyond the head."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from inproc_devnet import InProcDevnet, new_signer, one

    with InProcDevnet(tmp_path / "data") as net:
        signer = new_signer()
        batches = [one(signer, key=f"k{i}") for i in range(3)]
        for b in batches:
            net.ledger.submit([b])
            assert net.wait([b]) == ["COMMITTED"]
        rest = RestClient(f"http://127.0.0.1:{net.api.port}")
        head = rest.block(rest.head_id())
        top = int(head["header"]["block_num"])
        assert top >= 1
        for num in range(top + 1):
            block = rest.block_at(num)
            assert int(block["header"]["block_num"]) == num
        assert rest.block_at(top)["header_signature"] == head["header_signature"]
        assert rest.block_at(top + 1) is None


def test_rest_client_posts_a_long_batch_list_in_requests_the_api_takes(tmp_path, monkeypatch):
    """More batches than one POST /batches may carry (devnet's limit) go in
    consecutive requests, in order: every batch commits and the ids come back
    in the order given. One oversized request is what the API refuses."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from inproc_devnet import InProcDevnet, new_signer, one
    from sawgrid.clients.sdk import rest as rest_module
    from sawgrid.clients.sdk.errors import SawgridError
    from sawgrid.clients.sdk.rest import RestApiError

    with InProcDevnet(tmp_path / "data", rest={"max_batches_per_request": 5}) as net:
        signer = new_signer()
        batches = [one(signer, key=f"k{i}") for i in range(12)]
        rest = RestClient(f"http://127.0.0.1:{net.api.port}")
        with pytest.raises(RestApiError, match="12 batches in one request"):
            rest.submit(rest_module._batch_list_bytes(batches))
        monkeypatch.setattr(rest_module, "MAX_BATCHES_PER_POST", 5)
        statuses = rest.submit_and_wait(batches, timeout=60)
        assert list(statuses) == [b.header_signature for b in batches]
        assert {s["status"] for s in statuses.values()} == {"COMMITTED"}
        # and by size: a body above the API's byte limit is split too (here: 3 batches a request)
        more = [one(signer, key=f"m{i}") for i in range(7)]
        size = len(rest_module._batch_list_bytes(more[:1]))
        monkeypatch.setattr(rest_module, "MAX_POST_BYTES", 3 * size)
        assert [len(body) for body in rest_module._batch_list_bodies(more)] == [3 * size, 3 * size, size]
        statuses = rest.submit_and_wait(more, timeout=60)
        assert list(statuses) == [b.header_signature for b in more]
        assert {s["status"] for s in statuses.values()} == {"COMMITTED"}
        monkeypatch.setattr(rest_module, "MAX_POST_BYTES", size - 1)
        with pytest.raises(SawgridError, match="more than one POST /batches may carry"):
            rest.submit(more)
