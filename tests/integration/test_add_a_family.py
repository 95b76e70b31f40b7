"""Adding a family is one folder under processors/ plus one registry entry:
a toy family written into a copy of the source, and nothing else changed, is
served by devnet's --processors and by `sawgrid tp`."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import pytest

from sawgrid.clients.sdk import keys
from sawgrid.clients.sdk.devnet_process import DevnetProcess
from sawgrid.clients.sdk.rest import RestClient
from sawgrid.processors.addressing import Family
from sawgrid.protos.envelopes import make_batch, make_transaction
from source_copy import copy_source, env_for

TOY = Family("sawgrid-toy")

HANDLER = '''
"""sawgrid-toy: stores the sha256 of each payload under its own name."""
import hashlib

from sawgrid.processors.addressing import Family
from sawgrid.processors.base import SawgridHandler

TOY = Family("sawgrid-toy")


class ToyHandler(SawgridHandler):
    FAMILY = TOY

    def handle(self, transaction, context):
        name = transaction.payload.decode()
        context.set_state({TOY.address("00", name): hashlib.sha256(transaction.payload).digest()})
'''

ENTRY = '''        FamilySpec(short="toy", family=Family("sawgrid-toy"),
                   handler="sawgrid.processors.toy.handler:ToyHandler"),
'''


@pytest.fixture
def source_with_toy(tmp_path):
    root = tmp_path / "src"
    package = copy_source(root)
    toy = package / "processors" / "toy"
    toy.mkdir()
    (toy / "__init__.py").write_text('"""The toy family."""\n')
    (toy / "handler.py").write_text(textwrap.dedent(HANDLER))
    registry = package / "processors" / "registry.py"
    text = registry.read_text()
    marker = "    )\n\n\nFAMILIES: tuple[FamilySpec, ...] = _families()"
    assert marker in text, "the registry's list of families ends where this test expects"
    registry.write_text(text.replace(marker, ENTRY + marker))
    return root


def _toy_batch(signer, name: str):
    address = TOY.address("00", name)
    txn = make_transaction(signer, TOY.name, "1.0", name.encode(), [address], [address])
    return make_batch(signer, [txn]), address


def _commit_and_check(net: DevnetProcess, signer) -> None:
    batch, address = _toy_batch(signer, "hello")
    client = RestClient(net.url)
    client.submit_and_wait([batch], timeout=30)
    assert client.state(address) == hashlib.sha256(b"hello").digest()


def test_devnet_processors_serve_a_new_family(source_with_toy, tmp_path, signer):
    with DevnetProcess(data_dir=tmp_path / "data", key_dir=tmp_path / "keys", env=env_for(source_with_toy),
                       log_path=tmp_path / "devnet.log") as net:
        _commit_and_check(net, signer)


def test_sawgrid_tp_serves_a_new_family(source_with_toy, tmp_path, signer):
    env = env_for(source_with_toy)
    with DevnetProcess(data_dir=tmp_path / "data", key_dir=tmp_path / "keys", processors=False, env=env,
                       log_path=tmp_path / "devnet.log") as net:
        tp = subprocess.Popen([sys.executable, "-m", "sawgrid.clients.cli", "tp", "toy", "--connect", net.component],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _commit_and_check(net, signer)
        finally:
            tp.terminate()
            tp.wait(15)
