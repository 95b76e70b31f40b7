"""The mirror converges to the chain, with nothing lost or doubled, after a
kill -9 of the sync in the middle of a block, of the PostgreSQL server, and
of devnet (restarted on the same data dir and ports). At the end the
mirror's blocks, contracts, wallets and state entries are compared with the
REST API's (`sync_support.assert_mirror_matches_chain`)."""
from __future__ import annotations

import re
import secrets
import signal

from sawgrid.clients.sdk.devnet_process import DevnetProcess

import pg_server
import proc_tree
from sync_support import DAY, Market, SyncProcess, assert_mirror_matches_chain, mirror_head, wait_synced

NAMES = ["sel1", "sel2", "buy1", "buy2"]


def _market(url, key_dir) -> Market:
    mk = Market.open(url, key_dir)
    mk.onboard(*NAMES)
    mk.day_setup(DAY, NAMES[2:])
    return mk


def test_kill_9_of_the_sync_in_the_middle_of_a_block(devnet, db_url, tmp_path):
    mk = _market(devnet.url, devnet.key_dir)
    sync = SyncProcess(devnet.url, devnet.component, db_url, tmp_path / "sync.log").start()
    try:
        wait_synced(db_url, mk.rest, sync=sync)
        assert sync.stop() == 0
        before = mirror_head(db_url)
        mk.trade_round(DAY, range(10, 12), NAMES)
        paused = SyncProcess(devnet.url, devnet.component, db_url, tmp_path / "paused.log",
                             extra=("--test-pause-in-block", "120")).start()
        try:
            paused.wait_log("test pause: block", timeout=60)
            block = int(re.search(r"test pause: block (\d+) written", paused.log()).group(1))
            assert block > before[0]
            paused.proc.send_signal(signal.SIGKILL)         # rows written, transaction open
            paused.proc.wait()
        finally:
            paused.kill()
        assert mirror_head(db_url) == before                 # nothing of the open transaction
        mk.trade_round(DAY, range(12, 13), NAMES)
        sync.start()
        wait_synced(db_url, mk.rest, sync=sync)
        assert_mirror_matches_chain(db_url, mk.rest)
    finally:
        sync.stop()


def test_kill_9_of_the_database_server(devnet, tmp_path):
    server = pg_server.PgServer(pg_server.require_bin()).start()
    sync = None
    try:
        db = server.create_database(f"mirror_{secrets.token_hex(4)}")
        mk = _market(devnet.url, devnet.key_dir)
        sync = SyncProcess(devnet.url, devnet.component, db, tmp_path / "sync.log").start()
        wait_synced(db, mk.rest, sync=sync)
        server.kill()                                        # postmaster and backends, SIGKILL
        mk.trade_round(DAY, range(14, 16), NAMES)            # the chain goes on
        sync.wait_log("database unavailable", timeout=60)
        server.start()                                       # crash recovery, same data dir and port
        mk.trade_round(DAY, range(16, 17), NAMES)
        wait_synced(db, mk.rest, sync=sync, timeout=120)
        assert_mirror_matches_chain(db, mk.rest)
        assert sync.proc.poll() is None                      # it waited; it did not exit
    finally:
        if sync is not None:
            sync.stop()
        server.stop()


def test_kill_9_of_devnet_restarted_on_the_same_data(tmp_path, db_url):
    net = DevnetProcess(data_dir=tmp_path / "chain", key_dir=tmp_path / "keys", log_path=tmp_path / "devnet.log")
    started = [net]
    sync = None
    try:
        net.start()
        mk = _market(net.url, net.key_dir)
        sync = SyncProcess(net.url, net.component, db_url, tmp_path / "sync.log").start()
        mk.trade_round(DAY, range(5, 7), NAMES)
        wait_synced(db_url, mk.rest, sync=sync)
        children = proc_tree.descendants(net.proc.pid)
        net.proc.send_signal(signal.SIGKILL)
        net.proc.wait()
        proc_tree.kill(proc_tree.wait_gone(children, 15))    # its processors follow it (PDEATHSIG)
        sync.wait_log("event stream:", timeout=60)           # the sync noticed, and retries
        again = DevnetProcess(data_dir=net.data_dir, key_dir=net.key_dir, rest_port=net.rest_port,
                              component_port=net.component_port, log_path=tmp_path / "devnet-2.log")
        started.append(again)
        again.start()
        mk.trade_round(DAY, range(7, 9), NAMES)
        wait_synced(db_url, mk.rest, sync=sync, timeout=120)
        assert_mirror_matches_chain(db_url, mk.rest)
    finally:
        if sync is not None:
            sync.stop()
        for n in started:
            children = proc_tree.descendants(n.proc.pid) if n.proc is not None else []
            n.stop()
            proc_tree.kill(proc_tree.wait_gone(children, 10))
