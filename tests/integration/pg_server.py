"""A throw-away PostgreSQL server for tests and benchmarks.

`initdb` into a fresh folder under the system's temp dir, then `postgres`
itself as our child (not `pg_ctl`, which would detach it) on a free loopback
port, with its socket in that folder. The child gets SIGQUIT (immediate
shutdown) when the thread that started it dies, however this process ends
(PR_SET_PDEATHSIG); `stop()` asks for a fast shutdown and removes the folder.

PostgreSQL refuses to run as root: as root the server runs as the `postgres`
user that Debian's packages create (else `nobody`), which is why the folder
is not under pytest's tmp_path (private to root).

The binaries: `$SAWGRID_PG_BIN`, else the newest /usr/lib/postgresql/*/bin,
else `initdb` on PATH. `find_bin()` is None when there are none.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sawgrid.devnet.server import die_with_parent

import proc_tree

PG_BIN_ENV = "SAWGRID_PG_BIN"


def find_bin() -> Path | None:
    if os.environ.get(PG_BIN_ENV):
        return Path(os.environ[PG_BIN_ENV])
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_bin() -> Path:
    """The binaries for a test that needs PostgreSQL. Without them the test
    fails in CI (CI=true: .ci/run installs them), and is skipped elsewhere."""
    import pytest

    bin_dir = find_bin()
    if bin_dir is None:
        reason = ("PostgreSQL's binaries are not installed (no /usr/lib/postgresql/*/bin/initdb; "
                  "`apt-get install postgresql`, or set $SAWGRID_PG_BIN)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    return bin_dir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> tuple[int, int] | None:
    """(uid, gid) to run the server as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")


class PgServer:
    """One PostgreSQL server; `url(name)` for a database on it (`create_database` first)."""

    USER = "sawgrid"

    def __init__(self, bin_dir: Path, fsync: bool = False, log_path: Path | None = None) -> None:
        self.bin = bin_dir
        self.fsync = fsync
        self.port = _free_port()
        self.base = Path(tempfile.mkdtemp(prefix="sawgrid-pg-"))
        self.data = self.base / "data"
        self.log_path = log_path or self.base / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self._as = _run_as()
        if self._as is not None:
            os.chown(self.base, *self._as)

    def _user_kwargs(self) -> dict:
        if self._as is None:
            return {}
        return {"user": self._as[0], "group": self._as[1], "extra_groups": []}

    def start(self, timeout: float = 60) -> "PgServer":
        if not (self.data / "PG_VERSION").exists():
            subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", self.USER, "--auth=trust",
                            "-E", "UTF8", "--no-sync", "--no-instructions"],
                           check=True, capture_output=True, cwd=self.base, **self._user_kwargs())
        settings = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.base}",
                    "-c", "max_connections=50", "-c", "shared_buffers=32MB"]
        if not self.fsync:
            settings += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                                          *settings], stdout=log, stderr=subprocess.STDOUT, cwd=self.base,
                                         preexec_fn=die_with_parent(signal.SIGQUIT), **self._user_kwargs())
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with code {self.proc.returncode}:\n{self.log()[-2000:]}")
            if self._accepts():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"postgres did not accept connections within {timeout:.0f} s:\n{self.log()[-2000:]}")

    def _accepts(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.USER}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        return self.dsn(database)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9 of the whole server (postmaster and backends), as a crash would."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = proc_tree.descendants(self.proc.pid)
        self.proc.kill()
        proc_tree.kill(children)
        self.proc.wait()
        proc_tree.wait_gone(children, 10)

    def stop(self, remove: bool = True) -> None:
        if self.proc is not None and self.proc.poll() is None:
            children = proc_tree.descendants(self.proc.pid)
            self.proc.send_signal(signal.SIGINT)   # fast shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
            proc_tree.kill(proc_tree.wait_gone(children, 10))
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)
