"""devnet's Sawtooth REST API (devnet/rest_api/) and the REST client
(clients/sdk/rest.py), against a small in-memory fake ledger.

Nothing here asserts speed (that is bench/'s job): where a test needs an
event to happen while the server waits, the fake ledger says when it waits."""
from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
import threading
from typing import Sequence

import pytest

from sawgrid.clients.sdk.rest import (
    BatchInvalid,
    BatchTimeout,
    RestApiError,
    RestClient,
    RestNotFound,
    RestUnreachable,
)
from sawgrid.devnet.faults import Faults
from sawgrid.devnet.ledger_api import (
    COMMITTED,
    INVALID,
    PENDING,
    UNKNOWN,
    BatchStatus,
    InvalidTxn,
    QueueFull,
    StatePage,
    SubmitRejected,
)
from sawgrid.devnet.rest_api import MAX_BATCHES_PER_REQUEST, RestApi, httpd
from sawgrid.protos.sawtooth import (
    Batch,
    BatchHeader,
    BatchList,
    Block,
    BlockHeader,
    Event,
    StateChange,
    Transaction,
    TransactionHeader,
    TransactionReceipt,
)

PUBKEY = "02" + "ab" * 32
NAMESPACE = hashlib.sha512(b"sawgrid").hexdigest()[:6]


def hid(label: str) -> str:
    """A 128-hex-char id."""
    return hashlib.sha512(label.encode()).hexdigest()


def address(i: int, namespace: str = NAMESPACE) -> str:
    return namespace + hashlib.sha512(str(i).encode()).hexdigest()[:64]


def make_txn(label: str, payload: bytes = b"payload") -> Transaction:
    header = TransactionHeader(
        batcher_public_key=PUBKEY, family_name="sawgrid", family_version="1.0",
        inputs=[NAMESPACE], outputs=[NAMESPACE], nonce=label,
        payload_sha512=hashlib.sha512(payload).hexdigest(), signer_public_key=PUBKEY)
    return Transaction(header=header.SerializeToString(), header_signature=hid("txn" + label),
                       payload=payload)


def make_batch(label: str, n_txns: int = 1) -> Batch:
    txns = [make_txn(f"{label}.{i}") for i in range(n_txns)]
    header = BatchHeader(signer_public_key=PUBKEY, transaction_ids=[t.header_signature for t in txns])
    return Batch(header=header.SerializeToString(), header_signature=hid("batch" + label),
                 transactions=txns)


class FakeLedger:
    """In-memory LedgerReader: a linear chain, one state (whatever the head)."""

    def __init__(self, n_blocks: int = 4) -> None:
        self.blocks: list[Block] = []
        self.state: dict[str, bytes] = {}
        self.statuses: dict[str, BatchStatus] = {}
        self.receipt_store: dict[str, TransactionReceipt] = {}
        self.submitted: list[Batch] = []
        self.submit_calls = 0
        self.queue_full = 0  # raise QueueFull this many more times
        self.queue_full_reason = ""  # ... saying this
        self.reject: str | None = None
        self.on_submit = None  # callable(batches), e.g. to commit them later
        self.state_list_calls: list[tuple] = []
        # each status request, in order: (the `wait` timeout, or None for none; the ids)
        self.status_queries: list[tuple[float | None, list[str]]] = []
        self.on_status_query = None  # callable(query number from 1, ids), before it is answered
        self.waiting = threading.Event()  # set once a `wait_for_batches` call has begun to wait
        self.in_wait = 0  # `wait_for_batches` calls not yet returned
        self._cond = threading.Condition()
        for num in range(n_blocks):
            self.add_block([make_batch(f"b{num}")])

    # -- building -----------------------------------------------------------
    def add_block(self, batches: Sequence[Batch]) -> Block:
        num = len(self.blocks)
        previous = self.blocks[-1].header_signature if self.blocks else "0" * 16
        header = BlockHeader(
            block_num=num, previous_block_id=previous, signer_public_key=PUBKEY,
            batch_ids=[b.header_signature for b in batches], consensus=b"Devmode",
            state_root_hash="5" * 64)
        block = Block(header=header.SerializeToString(), header_signature=hid(f"block{num}"),
                      batches=batches)
        self.blocks.append(block)
        for batch in batches:
            self.set_status(batch.header_signature, COMMITTED)
        return block

    def set_status(self, batch_id: str, status: str, invalid: Sequence[InvalidTxn] = ()) -> None:
        with self._cond:
            self.statuses[batch_id] = BatchStatus(batch_id, status, tuple(invalid))
            self._cond.notify_all()

    # -- LedgerReader ---------------------------------------------------------
    def head_id(self) -> str | None:
        return self.blocks[-1].header_signature if self.blocks else None

    def head_num(self) -> int:
        return len(self.blocks) - 1

    def block_by_id(self, block_id: str) -> Block | None:
        return next((b for b in self.blocks if b.header_signature == block_id), None)

    def block_by_num(self, block_num: int) -> Block | None:
        return self.blocks[block_num] if 0 <= block_num < len(self.blocks) else None

    def batch_by_id(self, batch_id: str) -> Batch | None:
        return next((b for blk in self.blocks for b in blk.batches if b.header_signature == batch_id), None)

    def transaction_by_id(self, txn_id: str) -> Transaction | None:
        return next((t for blk in self.blocks for b in blk.batches for t in b.transactions
                     if t.header_signature == txn_id), None)

    def _current(self, batch_ids: Sequence[str]) -> list[BatchStatus]:
        with self._cond:
            return [self.statuses.get(i, BatchStatus(i, UNKNOWN)) for i in batch_ids]

    def _query(self, batch_ids: Sequence[str], wait: float | None) -> None:
        self.status_queries.append((wait, list(batch_ids)))
        if self.on_status_query:
            self.on_status_query(len(self.status_queries), list(batch_ids))

    def batch_statuses(self, batch_ids: Sequence[str]) -> list[BatchStatus]:
        self._query(batch_ids, None)
        return self._current(batch_ids)

    def wait_for_batches(self, batch_ids: Sequence[str], timeout: float) -> list[BatchStatus]:
        self._query(batch_ids, timeout)
        with self._cond:
            self.in_wait += 1
            self.waiting.set()
            try:
                self._cond.wait_for(
                    lambda: all(s.status != PENDING for s in self._current(batch_ids)), timeout)
                return self._current(batch_ids)
            finally:
                self.in_wait -= 1

    def submit(self, batches: Sequence[Batch]) -> None:
        self.submit_calls += 1
        if self.queue_full > 0:
            self.queue_full -= 1
            raise QueueFull(self.queue_full_reason)
        if self.reject is not None:
            raise SubmitRejected(self.reject)
        new = [b for b in batches if b.header_signature not in self.statuses]  # re-posting: a no-op
        self.submitted.extend(new)
        for batch in new:
            self.set_status(batch.header_signature, PENDING)
        if self.on_submit and new:
            self.on_submit(new)

    def _check_head(self, head: str | None) -> str:
        if head is None:
            return self.head_id()
        if self.block_by_id(head) is None:
            raise KeyError(head)
        return head

    def state_get(self, address: str, head: str | None = None) -> tuple[bytes | None, str]:
        return self.state.get(address), self._check_head(head)

    def state_list(self, prefix: str, head: str | None, start: str | None, limit: int) -> StatePage:
        self.state_list_calls.append((prefix, head, start, limit))
        head = self._check_head(head)
        keys = sorted(k for k in self.state if k.startswith(prefix) and (start is None or k >= start))
        page = keys[:limit]
        return StatePage(head, [(k, self.state[k]) for k in page], keys[limit] if len(keys) > limit else None)

    def receipts(self, txn_ids: Sequence[str]) -> list[TransactionReceipt | None]:
        return [self.receipt_store.get(i) for i in txn_ids]

    def peers(self) -> list[str]:
        return []

    def endpoint(self) -> str:
        return "tcp://127.0.0.1:8800"


# --------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------
@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger()


@pytest.fixture
def api(ledger):
    server = RestApi(ledger, "127.0.0.1", 0, timeout=10)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(api):
    with RestClient(api.url, timeout=10, backoff=0.01) as c:
        yield c


def call(api: RestApi, method: str, path: str, body: bytes | None = None,
         content_type: str | None = None) -> tuple[int, dict, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        headers = {"Content-Type": content_type} if content_type else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        assert response.getheader("Content-Type").startswith("application/json")
        return response.status, (json.loads(raw) if raw else {}), response
    finally:
        conn.close()


def get(api: RestApi, path: str) -> tuple[int, dict]:
    status, doc, _ = call(api, "GET", path)
    return status, doc


def assert_error(result: tuple[int, dict], status: int, code: int) -> dict:
    got_status, doc = result[0], result[1]
    assert got_status == status, doc
    assert list(doc) == ["error"], doc
    assert doc["error"]["code"] == code, doc
    assert isinstance(doc["error"]["title"], str) and isinstance(doc["error"]["message"], str)
    return doc["error"]


def post_batches(api: RestApi, batches: Sequence[Batch]) -> tuple[int, dict]:
    body = BatchList(batches=batches).SerializeToString()
    status, doc, _ = call(api, "POST", "/batches", body, "application/octet-stream")
    return status, doc


# --------------------------------------------------------------------------
# POST /batches
# --------------------------------------------------------------------------
def test_submit_batches_answers_202_with_status_link(api, ledger):
    batches = [make_batch("new1"), make_batch("new2")]
    status, doc = post_batches(api, batches)
    assert status == 202
    ids = ",".join(b.header_signature for b in batches)
    assert doc == {"link": f"{api.url}/batch_statuses?id={ids}"}
    assert [b.header_signature for b in ledger.submitted] == ids.split(",")


def test_submit_batches_errors(api, ledger):
    body = BatchList(batches=[make_batch("x")]).SerializeToString()
    assert_error(call(api, "POST", "/batches", body, "application/json"), 400, 42)
    assert_error(call(api, "POST", "/batches", body), 400, 42)
    assert_error(call(api, "POST", "/batches", b"", "application/octet-stream"), 400, 34)
    assert_error(call(api, "POST", "/batches", b"\xff\xfe garbage", "application/octet-stream"), 400, 35)
    ledger.reject = "bad signature on batch"
    error = assert_error(post_batches(api, [make_batch("x")]), 400, 30)
    assert error["title"] == "Submitted Batches Invalid"
    assert "bad signature on batch" in error["message"]
    ledger.reject = None
    ledger.queue_full = 1
    error = assert_error(post_batches(api, [make_batch("x")]), 429, 31)
    assert error["title"] == "Unable to Accept Batches"
    assert error["message"].endswith("Please submit your request again.")
    assert ledger.submitted == []


def test_a_signer_over_its_share_of_the_queue_hears_why(api, ledger):
    ledger.queue_full, ledger.queue_full_reason = 1, "batch signer 02abab has 3 batches pending; at most 3 per signer"
    error = assert_error(post_batches(api, [make_batch("greedy")]), 429, 31)
    assert error["message"].endswith("Please submit your request again. "
                                     "(batch signer 02abab has 3 batches pending; at most 3 per signer)")


def test_too_many_batches_in_one_request_are_refused(api, ledger):
    cap = MAX_BATCHES_PER_REQUEST
    error = assert_error(post_batches(api, [make_batch(f"many{i}") for i in range(cap + 1)]), 400, 30)
    assert error["title"] == "Submitted Batches Invalid"
    assert error["message"].endswith(f" ({cap + 1} batches in one request; at most {cap})")
    assert ledger.submit_calls == 0
    assert post_batches(api, [make_batch(f"many{i}") for i in range(cap)])[0] == 202
    assert len(ledger.submitted) == cap


# --------------------------------------------------------------------------
# /batch_statuses
# --------------------------------------------------------------------------
def test_batch_statuses_get_and_post(api, ledger):
    committed = ledger.blocks[1].batches[0].header_signature
    bad, unknown = hid("bad"), hid("unknown")
    ledger.set_status(bad, INVALID, [InvalidTxn(hid("t"), "no such account", b"\x01\x02")])
    status, doc = get(api, f"/batch_statuses?id={committed},{bad},{unknown}")
    assert status == 200
    assert doc == {
        "data": [
            {"id": committed, "status": "COMMITTED", "invalid_transactions": []},
            {"id": bad, "status": "INVALID", "invalid_transactions": [
                {"id": hid("t"), "message": "no such account", "extended_data": "AQI="}]},
            {"id": unknown, "status": "UNKNOWN", "invalid_transactions": []},
        ],
        "link": f"{api.url}/batch_statuses?id={committed},{bad},{unknown}",
    }
    status, doc, _ = call(api, "POST", "/batch_statuses", json.dumps([committed]).encode(),
                          "application/json")
    assert status == 200
    assert doc == {"data": [{"id": committed, "status": "COMMITTED", "invalid_transactions": []}]}


def test_batch_statuses_errors(api):
    assert_error(get(api, "/batch_statuses"), 400, 66)
    error = assert_error(get(api, "/batch_statuses?id=abc"), 400, 60)
    assert error["message"].endswith("invalid: abc")
    assert_error(call(api, "POST", "/batch_statuses", b'["x"]', "text/plain"), 400, 43)
    assert_error(call(api, "POST", "/batch_statuses", b"[]", "application/json"), 400, 46)
    assert_error(call(api, "POST", "/batch_statuses", b"{not json", "application/json"), 400, 46)
    assert_error(call(api, "POST", "/batch_statuses", b'[1, 2]', "application/json"), 400, 46)
    assert_error(call(api, "POST", "/batch_statuses", b'["abc"]', "application/json"), 400, 60)


@pytest.mark.parametrize("path, code", [("/batch_statuses", 46), ("/receipts", 82)])
def test_deeply_nested_json_is_a_bad_request(api, path, code):
    deep = b"[" * 100_000 + b"]" * 100_000  # json.loads: RecursionError, not ValueError
    assert_error(call(api, "POST", path, deep, "application/json"), 400, code)
    assert_error(call(api, "POST", path, b'[["' + b"a" * 128 + b'"]]', "application/json"), 400, code)
    assert get(api, "/peers")[0] == 200


def when_waiting(ledger: FakeLedger, action) -> threading.Thread:
    """Run `action()` in a thread as soon as the ledger is waiting for a batch."""
    def run() -> None:
        if ledger.waiting.wait(30):
            action()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_batch_statuses_wait_returns_when_the_status_flips(api, ledger):
    batch_id = hid("slow")
    ledger.set_status(batch_id, PENDING)
    flip = when_waiting(ledger, lambda: ledger.set_status(batch_id, COMMITTED))
    status, doc = get(api, f"/batch_statuses?id={batch_id}&wait=5")
    flip.join(5)
    # COMMITTED: it was PENDING until the API had begun to wait, so the API waited for the flip
    assert status == 200
    assert doc["data"][0]["status"] == "COMMITTED"
    assert doc["link"] == f"{api.url}/batch_statuses?id={batch_id}&wait=5"
    assert ledger.status_queries == [(5, [batch_id])]
    # without a flip the API gives up after `wait` seconds, still PENDING
    ledger.set_status(batch_id, PENDING)
    status, doc = get(api, f"/batch_statuses?id={batch_id}&wait=1")
    assert doc["data"][0]["status"] == "PENDING"
    assert ledger.status_queries[-1] == (1, [batch_id])


# How long the API asks the ledger to wait, by Sawtooth's rules: an integer is
# seconds, 0 is the validator's default (300), anything else 95 % of --timeout,
# never more than --timeout (10 s for the `api` fixture); 'false' or no `wait`: no wait.
@pytest.mark.parametrize("query, ledger_wait", [
    ("&wait=3", 3), ("&wait=0", 10), ("&wait=99999", 10), ("&wait", 9), ("&wait=soon", 9),
    ("&wait=-1", 9), ("&wait=false", None), ("&wait=FALSE", None), ("", None),
])
def test_batch_statuses_wait_parameter(api, ledger, query, ledger_wait):
    committed = ledger.blocks[0].batches[0].header_signature
    status, doc = get(api, f"/batch_statuses?id={committed}{query}")
    assert (status, doc["data"][0]["status"]) == (200, "COMMITTED")
    assert ledger.status_queries == [(ledger_wait, [committed])]


# --------------------------------------------------------------------------
# /state
# --------------------------------------------------------------------------
def fill_state(ledger: FakeLedger, n: int) -> list[str]:
    for i in range(n):
        ledger.state[address(i)] = f"value {i}".encode()
    ledger.state[address(0, namespace="0" * 6)] = b"elsewhere"
    return sorted(address(i) for i in range(n))


def test_state_fetch(api, ledger):
    addr = fill_state(ledger, 3)[0]
    head = ledger.head_id()
    status, doc = get(api, f"/state/{addr}")
    assert status == 200
    assert doc == {"data": base64.b64encode(ledger.state[addr]).decode(), "head": head,
                   "link": f"{api.url}/state/{addr}?head={head}"}
    older = ledger.blocks[1].header_signature
    status, doc = get(api, f"/state/{addr}?head={older}")
    assert (status, doc["head"]) == (200, older)
    assert_error(get(api, f"/state/{address(999)}"), 404, 75)
    assert_error(get(api, f"/state/{addr[:-2]}"), 400, 62)
    assert_error(get(api, f"/state/{addr.upper()}"), 400, 62)
    assert_error(get(api, f"/state/{addr}?head={hid('nope')}"), 404, 70)


def test_state_list_pages(api, ledger):
    addresses = fill_state(ledger, 250)
    head = ledger.head_id()
    status, doc = get(api, f"/state?address={NAMESPACE}")
    assert status == 200
    assert [e["address"] for e in doc["data"]] == addresses[:100]
    assert base64.b64decode(doc["data"][0]["data"]).startswith(b"value ")
    assert doc["head"] == head
    assert doc["link"] == f"{api.url}/state?head={head}&start={addresses[0]}&limit=100&address={NAMESPACE}"
    assert doc["paging"] == {
        "limit": None, "start": None, "next_position": addresses[100],
        "next": f"{api.url}/state?head={head}&start={addresses[100]}&address={NAMESPACE}",
    }
    status, doc = get(api, f"/state?address={NAMESPACE}&start={addresses[200]}&limit=100")
    assert [e["address"] for e in doc["data"]] == addresses[200:]
    assert doc["paging"] == {"limit": 100, "start": addresses[200]}
    status, doc = get(api, f"/state?address={NAMESPACE}&limit=7&reverse")
    assert [e["address"] for e in doc["data"]] == addresses[::-1][:7]
    assert doc["paging"]["next_position"] == addresses[::-1][7]
    status, doc = get(api, "/state?limit=5000")  # clamped to 1000, like Sawtooth
    assert (status, len(doc["data"])) == (200, 251)
    status, doc = get(api, "/state?address=ffffff")
    assert status == 200 and doc["data"] == [] and "next" not in doc["paging"]


def test_state_list_errors(api, ledger):
    fill_state(ledger, 3)
    assert_error(get(api, "/state?limit=0"), 400, 53)
    assert_error(get(api, "/state?limit=-3"), 400, 53)
    assert_error(get(api, "/state?limit=ten"), 400, 53)
    assert_error(get(api, f"/state?address={NAMESPACE}&start={address(999)}"), 400, 54)
    assert_error(get(api, "/state?address=abc"), 400, 62)  # odd length
    assert_error(get(api, "/state?address=zz"), 400, 62)
    assert_error(get(api, "/state?reverse=address"), 400, 57)
    assert_error(get(api, f"/state?head={hid('nope')}"), 404, 70)


def test_no_genesis_is_not_ready():
    with RestApi(FakeLedger(n_blocks=0), "127.0.0.1", 0) as api:
        assert_error(get(api, "/blocks"), 503, 15)
        assert_error(get(api, "/state"), 503, 15)
        assert_error(get(api, f"/state/{address(1)}"), 503, 15)


# --------------------------------------------------------------------------
# /blocks, /batches, /transactions
# --------------------------------------------------------------------------
def test_block_fetch_shape(api, ledger):
    block = ledger.blocks[2]
    status, doc = get(api, f"/blocks/{block.header_signature}")
    assert status == 200
    assert set(doc) == {"data", "link"}
    assert doc["link"] == f"{api.url}/blocks/{block.header_signature}"
    data = doc["data"]
    assert data["header_signature"] == block.header_signature
    assert data["header"] == {
        "block_num": "2",  # uint64: a string, as Sawtooth's MessageToDict renders it
        "previous_block_id": ledger.blocks[1].header_signature,
        "signer_public_key": PUBKEY,
        "batch_ids": [block.batches[0].header_signature],
        "consensus": base64.b64encode(b"Devmode").decode(),
        "state_root_hash": "5" * 64,
    }
    batch = data["batches"][0]
    assert batch["header"] == {"signer_public_key": PUBKEY,
                               "transaction_ids": [block.batches[0].transactions[0].header_signature]}
    assert batch["trace"] is False
    txn = batch["transactions"][0]
    assert base64.b64decode(txn["payload"]) == b"payload"
    assert txn["header"]["nonce"] == "b2.0"
    assert txn["header"]["dependencies"] == []
    assert set(txn["header"]) == {"batcher_public_key", "dependencies", "family_name", "family_version",
                                  "inputs", "nonce", "outputs", "payload_sha512", "signer_public_key"}


def test_block_fetch_errors(api):
    assert_error(get(api, f"/blocks/{hid('nope')}"), 404, 70)
    error = assert_error(get(api, "/blocks/1234"), 400, 60)
    assert error["message"].endswith("was invalid: 1234")
    assert_error(get(api, f"/batches/{hid('nope')}"), 404, 71)
    assert_error(get(api, "/batches/xyz"), 400, 60)
    assert_error(get(api, f"/transactions/{hid('nope')}"), 404, 72)
    assert_error(get(api, "/transactions/" + "A" * 128), 400, 60)


def test_block_list_newest_first_with_paging(api, ledger):
    for i in range(4, 7):
        ledger.add_block([make_batch(f"b{i}")])
    ids = [b.header_signature for b in ledger.blocks]
    head = ids[-1]
    status, doc = get(api, "/blocks")
    assert status == 200
    assert [b["header_signature"] for b in doc["data"]] == ids[::-1]
    assert doc["head"] == head
    assert doc["link"] == f"{api.url}/blocks?head={head}&start=0x0000000000000006&limit=100"
    assert doc["paging"] == {"limit": None, "start": None}

    status, doc = get(api, "/blocks?limit=3")
    assert [b["header"]["block_num"] for b in doc["data"]] == ["6", "5", "4"]
    assert doc["paging"] == {
        "limit": 3, "start": None, "next_position": "0x0000000000000003",
        "next": f"{api.url}/blocks?head={head}&start=0x0000000000000003&limit=3"}
    status, doc = get(api, "/blocks?limit=3&start=0x0000000000000003")
    assert [b["header"]["block_num"] for b in doc["data"]] == ["3", "2", "1"]
    assert doc["paging"]["next_position"] == "0x0000000000000000"
    status, doc = get(api, "/blocks?limit=3&start=0x0000000000000000")
    assert [b["header"]["block_num"] for b in doc["data"]] == ["0"]
    assert "next" not in doc["paging"]

    status, doc = get(api, "/blocks?reverse&limit=4")
    assert [b["header"]["block_num"] for b in doc["data"]] == ["0", "1", "2", "3"]
    assert doc["paging"]["next_position"] == "0x0000000000000004"
    status, doc = get(api, f"/blocks?head={ids[2]}")
    assert doc["head"] == ids[2]
    assert [b["header_signature"] for b in doc["data"]] == ids[2::-1]
    status, doc = get(api, f"/blocks?id={ids[1]},{ids[5]}")
    assert [b["header_signature"] for b in doc["data"]] == [ids[1], ids[5]]


def test_block_list_errors(api):
    assert_error(get(api, "/blocks?head=abc"), 400, 60)
    assert_error(get(api, f"/blocks?head={hid('nope')}"), 404, 50)
    assert_error(get(api, "/blocks?limit=0"), 400, 53)
    assert_error(get(api, "/blocks?start=12"), 400, 54)
    assert_error(get(api, "/blocks?start=0x0000000000000099"), 400, 54)
    assert_error(get(api, "/blocks?reverse=true"), 400, 57)  # Sawtooth: keys must be block_num
    assert get(api, "/blocks?reverse=block_num")[0] == 200
    assert get(api, "/blocks?reverse=false")[0] == 200


def test_batch_and_transaction_fetch_and_lists(api, ledger):
    ledger.add_block([make_batch("m1", n_txns=2), make_batch("m2")])
    batch = ledger.blocks[-1].batches[0]
    status, doc = get(api, f"/batches/{batch.header_signature}")
    assert status == 200 and set(doc) == {"data", "link"}
    assert doc["data"]["header_signature"] == batch.header_signature
    assert len(doc["data"]["transactions"]) == 2
    txn = batch.transactions[1]
    status, doc = get(api, f"/transactions/{txn.header_signature}")
    assert doc["data"] == {
        "header": {  # what make_txn("m1.1") put in, as Sawtooth's MessageToDict writes it
            "batcher_public_key": PUBKEY, "dependencies": [], "family_name": "sawgrid",
            "family_version": "1.0", "inputs": [NAMESPACE], "nonce": "m1.1", "outputs": [NAMESPACE],
            "payload_sha512": hashlib.sha512(b"payload").hexdigest(), "signer_public_key": PUBKEY},
        "header_signature": txn.header_signature,
        "payload": base64.b64encode(b"payload").decode()}

    all_batches = [b.header_signature for blk in reversed(ledger.blocks) for b in blk.batches]
    status, doc = get(api, "/batches?limit=2")
    assert [b["header_signature"] for b in doc["data"]] == all_batches[:2]
    assert doc["paging"]["next_position"] == all_batches[2]
    status, doc = get(api, f"/batches?limit=2&start={all_batches[2]}")
    assert [b["header_signature"] for b in doc["data"]] == all_batches[2:4]
    assert_error(get(api, f"/batches?start={hid('nope')}"), 400, 54)
    all_txns = [t.header_signature for blk in reversed(ledger.blocks)
                for b in blk.batches for t in b.transactions]
    status, doc = get(api, "/transactions")
    assert [t["header_signature"] for t in doc["data"]] == all_txns
    status, doc = get(api, "/transactions?reverse")
    assert [t["header_signature"] for t in doc["data"]] == all_txns[::-1]


# --------------------------------------------------------------------------
# /receipts, /peers, /status
# --------------------------------------------------------------------------
def test_receipts(api, ledger):
    txn_id = hid("rtxn")
    ledger.receipt_store[txn_id] = TransactionReceipt(
        transaction_id=txn_id,
        state_changes=[StateChange(address=address(1), value=b"v", type=StateChange.SET),
                       StateChange(address=address(2), type=StateChange.DELETE)],
        events=[Event(event_type="sawgrid/trade", attributes=[Event.Attribute(key="k", value="v")],
                      data=b"d")],
        data=[b"receipt data"])
    status, doc = get(api, f"/receipts?id={txn_id}")
    assert status == 200
    assert doc == {
        "data": [{
            "id": txn_id,
            "state_changes": [{"address": address(1), "value": "dg==", "type": "SET"},
                              {"address": address(2), "type": "DELETE"}],
            "events": [{"event_type": "sawgrid/trade", "attributes": [{"key": "k", "value": "v"}],
                        "data": "ZA=="}],
            "data": [base64.b64encode(b"receipt data").decode()],
        }],
        "link": f"{api.url}/receipts?id={txn_id}",
    }
    status, doc, _ = call(api, "POST", "/receipts", json.dumps([txn_id]).encode(), "application/json")
    assert status == 200 and "link" not in doc and doc["data"][0]["id"] == txn_id
    assert_error(get(api, f"/receipts?id={txn_id},{hid('none')}"), 404, 80)
    assert_error(get(api, "/receipts"), 400, 83)
    assert_error(call(api, "POST", "/receipts", b"[]", "application/json"), 400, 82)
    assert_error(call(api, "POST", "/receipts", b"[]", "application/x-www-form-urlencoded"), 400, 81)


def test_peers_and_status(api):
    assert get(api, "/peers") == (200, {"data": [], "link": f"{api.url}/peers"})
    assert get(api, "/status") == (200, {"data": {"endpoint": "tcp://127.0.0.1:8800", "peers": []},
                                         "link": f"{api.url}/status"})


# --------------------------------------------------------------------------
# HTTP behaviour
# --------------------------------------------------------------------------
def test_unknown_paths_methods_and_internal_errors(api, ledger, caplog):
    assert_error(get(api, "/nope"), 404, 404)
    status, doc, response = call(api, "DELETE", "/blocks")
    assert_error((status, doc), 405, 405)
    assert response.getheader("Allow") == "GET, HEAD"

    def broken() -> list[str]:
        raise RuntimeError("disk on fire")
    ledger.peers = broken
    error = assert_error(get(api, "/peers"), 500, 10)
    assert "disk on fire" not in json.dumps(error)
    assert any("disk on fire" in r.getMessage() or (r.exc_info and "disk on fire" in str(r.exc_info[1]))
               for r in caplog.records)
    assert get(api, "/blocks")[0] == 200  # still serving


def test_keep_alive_and_json_formatting(api):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    try:
        conn.request("GET", "/peers")
        first = conn.getresponse()
        raw = first.read()
        sock = conn.sock
        conn.request("GET", "/status")
        second = conn.getresponse()
        second.read()
        assert conn.sock is sock and second.status == 200
        assert raw.decode() == json.dumps(json.loads(raw), sort_keys=True)  # compact, keys sorted
        assert first.getheader("Content-Type") == "application/json; charset=utf-8"
    finally:
        conn.close()


def test_chunked_body_and_body_size_limit(ledger):
    with RestApi(ledger, "127.0.0.1", 0, max_body=4096) as api:
        body = BatchList(batches=[make_batch("chunked")]).SerializeToString()
        conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
        try:
            conn.request("POST", "/batches", body=iter([body[:10], body[10:]]), encode_chunked=True,
                         headers={"Content-Type": "application/octet-stream"})
            response = conn.getresponse()
            assert response.status == 202, response.read()
            response.read()
        finally:
            conn.close()
        assert_error(call(api, "POST", "/batches", b"x" * 5000, "application/octet-stream"), 413, 413)
        assert get(api, "/peers")[0] == 200


def test_a_negative_chunk_size_is_a_bad_request(api):
    """read(-1) would read to the end of the connection, past the body limit."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=10) as sock:
        sock.sendall(b"POST /batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n-1\r\nxx\r\n")
        head = sock.recv(65536)  # the connection stays open: only an answer ends this wait
    assert head.startswith(b"HTTP/1.1 400 ")


def test_a_burst_of_connections_waits_in_the_listen_queue(ledger):
    """More simultaneous new connections than http.server's backlog of 5:
    the kernel must queue them all, not drop SYNs (each drop costs the
    client a 1 s retry). The server is bound but not yet accepting."""
    server = httpd._HttpServer(("127.0.0.1", 0), RestApi(ledger, "127.0.0.1", 0))
    socks: list[socket.socket] = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    try:
        port = server.server_address[1]
        for _ in range(100):  # a dropped SYN is retried after 1 s: the 2 s deadline fails it
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        thread.start()  # now accept them: every one is served
        for sock in (socks[0], socks[-1]):
            sock.sendall(b"GET /peers HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in socks:
            sock.close()
        if thread.is_alive():
            server.shutdown()
            thread.join(10)
        server.close_connections()
        server.server_close()
    assert httpd.LISTEN_BACKLOG >= 100


def test_stop_closes_idle_keep_alive_connections(ledger):
    api = RestApi(ledger, "127.0.0.1", 0)
    api.start()
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    try:
        conn.request("GET", "/peers")
        response = conn.getresponse()
        response.read()
        assert not response.will_close  # kept alive: the server holds it open, idle
        api.stop()
        try:
            eof = conn.sock.recv(1)  # the server's end is closed, not left parked until its idle timeout
        except ConnectionResetError:
            eof = b""
        assert eof == b""
    finally:
        conn.close()
        api.stop()


def test_stop_does_not_wait_for_a_request_still_waiting(ledger):
    batch_id = hid("forever")
    ledger.set_status(batch_id, PENDING)
    api = RestApi(ledger, "127.0.0.1", 0, timeout=60)
    api.start()
    answers: list = []

    def ask() -> None:
        try:
            answers.append(get(api, f"/batch_statuses?id={batch_id}&wait=60"))
        except (OSError, http.client.HTTPException) as err:
            answers.append(err)
    request = threading.Thread(target=ask, daemon=True)
    request.start()
    try:
        assert ledger.waiting.wait(30)
        api.stop()
        assert ledger.in_wait == 1  # stop() returned while the request was still waiting
        request.join(30)
        assert len(answers) == 1 and isinstance(answers[0], (OSError, http.client.HTTPException))
    finally:
        ledger.set_status(batch_id, COMMITTED)  # let the abandoned handler finish
        request.join(30)
        api.stop()


# --------------------------------------------------------------------------
# The client against the server
# --------------------------------------------------------------------------
def test_client_submit_retries_429(client, ledger):
    ledger.queue_full = 2
    batches = [make_batch("r1"), make_batch("r2")]
    assert client.submit(batches) == [b.header_signature for b in batches]
    assert ledger.submit_calls == 3
    assert [b.header_signature for b in ledger.submitted] == [b.header_signature for b in batches]


def test_client_submit_gives_up_after_max_retries(api, ledger):
    ledger.queue_full = 100
    with RestClient(api.url, max_retries=2, backoff=0.01) as client:
        with pytest.raises(RestApiError) as info:
            client.submit(BatchList(batches=[make_batch("q")]).SerializeToString())
    assert info.value.status == 429 and info.value.code == 31
    assert ledger.submit_calls == 3


def test_client_error_message(client, ledger):
    ledger.reject = "header signature does not verify"
    with pytest.raises(RestApiError) as info:
        client.submit(make_batch("bad"))
    message = str(info.value)
    assert message.startswith("REST API answered 400 (Submitted Batches Invalid): The submitted")
    assert "header signature does not verify" in message and "\n" not in message
    assert info.value.code == 30


def test_client_submit_and_wait(client, ledger):
    batch = make_batch("ok")
    commit = when_waiting(ledger, lambda: ledger.add_block([batch]))
    statuses = client.submit_and_wait([batch], timeout=30)
    commit.join(5)
    assert statuses[batch.header_signature]["status"] == "COMMITTED"
    assert client.batch(batch.header_signature)["header_signature"] == batch.header_signature


def invalid_on_submit(ledger: FakeLedger, message: str = "Unknown participant") -> None:
    """Every submitted batch is INVALID at once, its first transaction rejected with `message`."""
    def invalidate(batches):
        for b in batches:
            ledger.set_status(b.header_signature, INVALID,
                              [InvalidTxn(b.transactions[0].header_signature, message)])
    ledger.on_submit = invalidate


def test_client_submit_and_wait_raises_batch_invalid(client, ledger):
    invalid_on_submit(ledger, "Insufficient energy credit")
    with pytest.raises(BatchInvalid) as info:
        client.submit_and_wait(make_batch("poor"), timeout=30)
    assert info.value.messages == ["Insufficient energy credit"]
    assert "Insufficient energy credit" in str(info.value) and "INVALID" in str(info.value)
    assert len(ledger.status_queries) >= 2  # re-checked before it was reported


# -- INVALID is not always final: a loaded Sawtooth validator re-runs the batch and commits it
def test_client_waits_out_an_invalid_that_turns_committed(api, ledger):
    invalid_on_submit(ledger)
    batch = make_batch("flip")
    ledger.on_status_query = lambda n, ids: ledger.add_block([batch]) if n == 2 else None
    with RestClient(api.url, invalid_settle=60) as client:
        statuses = client.submit_and_wait(batch, timeout=60)
    assert statuses == {batch.header_signature: {
        "id": batch.header_signature, "status": "COMMITTED", "invalid_transactions": []}}
    assert len(ledger.status_queries) == 2  # INVALID, then COMMITTED on the re-check


def test_client_keeps_waiting_when_an_invalid_turns_pending(api, ledger):
    invalid_on_submit(ledger)
    batch = make_batch("requeued")

    def requeue_then_commit(n: int, ids: list[str]) -> None:
        if n == 2:
            ledger.set_status(batch.header_signature, PENDING)
        elif n == 3:
            ledger.add_block([batch])
    ledger.on_status_query = requeue_then_commit
    with RestClient(api.url, invalid_settle=60) as client:
        statuses = client.submit_and_wait(batch, timeout=60)
    assert statuses[batch.header_signature]["status"] == "COMMITTED"
    waits = [wait for wait, _ in ledger.status_queries]
    # PENDING is waited for with the API's wait; an INVALID is re-checked without (it would not wait)
    assert len(waits) == 3 and waits[0] is not None and waits[1] is None and waits[2] is not None


def test_client_rechecks_only_the_batches_not_yet_committed(api, ledger):
    batches = [make_batch(f"many{i}") for i in range(20)]  # more than 15 ids: POST /batch_statuses
    flaky = batches[:5]

    def some_invalid(submitted):
        ledger.add_block(submitted[5:])
        for b in flaky:
            ledger.set_status(b.header_signature, INVALID, [InvalidTxn(hid("t"), "state context gone")])
    ledger.on_submit = some_invalid
    ledger.on_status_query = lambda n, ids: ledger.add_block(flaky) if n == 2 else None
    with RestClient(api.url, invalid_settle=60) as client:
        statuses = client.submit_and_wait(batches, timeout=60)
    assert list(statuses) == [b.header_signature for b in batches]  # in the order submitted
    assert [s["status"] for s in statuses.values()] == ["COMMITTED"] * 20
    assert [ids for _, ids in ledger.status_queries] == [
        [b.header_signature for b in batches], [b.header_signature for b in flaky]]


def test_client_reports_an_invalid_that_holds(api, ledger):
    invalid_on_submit(ledger, "Unknown participant")
    with RestClient(api.url, invalid_settle=0.5) as client:
        with pytest.raises(BatchInvalid) as info:
            client.submit_and_wait(make_batch("refused"), timeout=60)
    assert info.value.messages == ["Unknown participant"]
    assert len(ledger.status_queries) >= 2


def test_invalid_settle_zero_takes_the_first_invalid_as_final(api, ledger):
    invalid_on_submit(ledger)
    with RestClient(api.url, invalid_settle=0) as client:
        with pytest.raises(BatchInvalid):
            client.submit_and_wait(make_batch("eager"), timeout=60)
    assert len(ledger.status_queries) == 1


def test_an_invalid_not_yet_settled_at_the_timeout_is_reported(api, ledger):
    invalid_on_submit(ledger, "no such order")
    with RestClient(api.url, invalid_settle=600) as client:
        with pytest.raises(BatchInvalid, match="no such order"):
            client.submit_and_wait(make_batch("late"), timeout=0.5)


def test_client_wait_times_out(client, ledger):
    with pytest.raises(BatchTimeout) as info:
        client.submit_and_wait(make_batch("stuck"), timeout=1)
    assert info.value.statuses[0]["status"] == "PENDING"


def test_client_state_prefix_follows_paging(client, ledger):
    addresses = fill_state(ledger, 250)
    ledger.state_list_calls.clear()
    entries = list(client.state_prefix(NAMESPACE, page_size=100))
    assert [a for a, _ in entries] == addresses
    assert entries[0][1] == ledger.state[addresses[0]]
    assert [c[3] for c in ledger.state_list_calls] == [100, 100, 100]
    head = ledger.head_id()
    assert all(c[1] == head for c in ledger.state_list_calls)  # one head for all pages
    assert len(list(client.state_prefix(NAMESPACE))) == 250  # default page size
    assert client.state(addresses[5]) == ledger.state[addresses[5]]
    assert client.state(address(999)) is None


def test_client_reads(client, ledger):
    blocks = list(client.blocks())
    assert [b["header_signature"] for b in blocks] == [b.header_signature for b in reversed(ledger.blocks)]
    assert len(list(client.blocks(limit=2))) == 2
    block_id = ledger.blocks[1].header_signature
    assert client.block(block_id)["header"]["block_num"] == "1"
    assert client.block(hid("nope")) is None
    txn_id = ledger.blocks[1].batches[0].transactions[0].header_signature
    assert client.transaction(txn_id)["header_signature"] == txn_id
    assert client.transaction(hid("nope")) is None
    assert client.batch(hid("nope")) is None
    ledger.receipt_store[txn_id] = TransactionReceipt(transaction_id=txn_id, data=[b"x"])
    assert client.receipts([txn_id]) == [{"id": txn_id, "state_changes": [], "events": [], "data": ["eA=="]}]
    with pytest.raises(RestNotFound) as info:
        client.receipts([hid("nope")])
    assert info.value.code == 80
    assert client.status() == {"endpoint": "tcp://127.0.0.1:8800", "peers": []}
    assert client.peers() == []
    many = [hid(f"s{i}") for i in range(20)]  # more than 15 ids: POST
    assert all(s["status"] == "UNKNOWN" for s in client.statuses(many).values())


def test_client_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RestClient(f"http://127.0.0.1:{port}")
    with pytest.raises(RestUnreachable) as info:
        client.status()
    assert str(info.value) == f"cannot reach the Sawtooth REST API at http://127.0.0.1:{port}: connection refused"
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- devnet's test-only faults at the REST API, and the client against them
def test_burst429_answers_queue_full_and_queues_nothing(ledger):
    batch = make_batch("burst")
    with RestApi(ledger, "127.0.0.1", 0, faults=Faults(burst429=2)) as api:
        assert_error(post_batches(api, [batch]), 429, 31)
        assert ledger.submitted == []
        assert_error(post_batches(api, [batch]), 429, 31)
        assert post_batches(api, [batch])[0] == 202
    assert ledger.submitted == [batch]


def test_drop_closes_after_the_request_took_effect(ledger):
    first, second = make_batch("dropped"), make_batch("answered")
    with RestApi(ledger, "127.0.0.1", 0, faults=Faults(drop=2)) as api:
        assert get(api, "/blocks")[0] == 200  # not a batch path: never dropped
        with pytest.raises(http.client.RemoteDisconnected):
            post_batches(api, [first])
        assert ledger.submitted == [first]  # queued, though the client heard nothing
        assert post_batches(api, [second])[0] == 202  # never two drops in a row
        with pytest.raises(http.client.RemoteDisconnected):
            get(api, f"/batch_statuses?id={first.header_signature}")
        assert get(api, f"/batch_statuses?id={first.header_signature}")[0] == 200
        assert get(api, f"/batch_statuses?id={first.header_signature}")[0] == 200  # drops used up


def test_client_survives_dropped_posts_and_status_requests(ledger):
    ledger.on_submit = lambda batches: ledger.add_block(list(batches))
    batches = [make_batch(f"d{i}") for i in range(3)]
    with RestApi(ledger, "127.0.0.1", 0, faults=Faults(drop=3)) as api, RestClient(api.url) as client:
        for batch in batches:
            statuses = client.submit_and_wait(batch, timeout=30)
            assert statuses[batch.header_signature]["status"] == "COMMITTED"
    # POST d0 dropped (it took effect) and re-posted, its status request dropped and
    # asked again, POST d1 dropped and re-posted: 5 posts, each batch queued once
    assert ledger.submit_calls == 5
    assert ledger.submitted == batches
    committed = [b.header_signature for block in ledger.blocks for b in block.batches]
    assert all(committed.count(b.header_signature) == 1 for b in batches)


def test_client_survives_a_429_burst(ledger):
    batch = make_batch("patient")
    with RestApi(ledger, "127.0.0.1", 0, faults=Faults(burst429=3)) as api, \
            RestClient(api.url, backoff=0.01) as client:
        assert client.submit(batch) == [batch.header_signature]
    assert ledger.submit_calls == 1 and ledger.submitted == [batch]  # the 429s never reached it


def test_client_retries_a_dropped_connection_once_on_a_fresh_one():
    accepted: list[int] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def close_without_answer() -> None:
            for _ in range(2):  # a third connection would hang: the client must not try it
                conn, _ = server.accept()
                conn.recv(65536)
                accepted.append(1)
                conn.close()
        thread = threading.Thread(target=close_without_answer, daemon=True)
        thread.start()
        with RestClient(f"http://127.0.0.1:{port}", timeout=5) as client:
            with pytest.raises(RestUnreachable) as info:
                client.status()
        thread.join(5)
    assert len(accepted) == 2
    assert str(info.value).startswith(f"cannot reach the Sawtooth REST API at http://127.0.0.1:{port}: ")
    assert "\n" not in str(info.value)


def test_client_survives_server_closing_idle_connection(ledger):
    api = RestApi(ledger, "127.0.0.1", 0)
    api.start()
    client = RestClient(api.url)
    try:
        assert client.peers() == []
        port = api.port
        api.stop()
        api = RestApi(ledger, "127.0.0.1", port)
        api.start()
        assert client.peers() == []  # stale keep-alive connection replaced transparently
    finally:
        client.close()
        api.stop()
