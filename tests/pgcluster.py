"""A private PostgreSQL server for the tests: a throw-away cluster on loopback, one per session.

The tests that need PostgreSQL (``DATABASE_URL=postgresql+psycopg://…``) get the real server, not
a stand-in: ``initdb`` into a temporary folder, ``postgres`` listening on 127.0.0.1 on a free port
chosen now, password authentication with a random password, no Unix socket, and the folder
removed afterwards. PostgreSQL refuses to run as root, so when the tests run as root (CI does) the
server runs as an unprivileged system user (``postgres`` from Debian's package, else ``nobody``)
through ``setpriv``.

Where no server can be started (no PostgreSQL installed, no psycopg), every test that asks for
one is skipped with the reason, which ``pytest -ra`` prints in its summary: never silently.
Binaries are found through ``PG_BINDIR``, then ``pg_config --bindir``, then ``PATH``, then the
newest ``/usr/lib/postgresql/*/bin`` (Debian installs them there, off ``PATH``).

Fixtures (registered for the whole suite by ``tests/conftest.py``):

- ``postgres_cluster``: the running :class:`Cluster` (session-scoped);
- ``postgres_url``: a fresh, empty database in it for one test, dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT = 60.0  # seconds: initdb and start-up on a busy 2-core machine
SUPERUSER = "errand_test"
_SERVER_OPTIONS = (  # a test cluster: speed over durability, nothing but loopback
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=100",
    "-c",
    "shared_buffers=32MB",
)


class ClusterUnavailable(Exception):
    """No private server can be started here; ``str()`` says why (the skip reason)."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``postgres``."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    ]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise ClusterUnavailable(
        "PostgreSQL is not installed (no initdb/postgres found; on Debian: "
        "apt-get install postgresql)"
    )


def _run_as() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that drops root, and the user it drops to (None: not root)."""
    if os.geteuid() != 0:
        return [], None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise ClusterUnavailable(
            "running as root and setpriv (util-linux) is missing, so "
            "PostgreSQL cannot be started as an unprivileged user"
        )
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--",
        ], user
    raise ClusterUnavailable(
        "running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """A running private server; :meth:`url` builds SQLAlchemy URLs for databases in it."""

    folder: Path
    port: int
    password: str
    command: list[str]  # how the server is run (the same again on restart)
    process: subprocess.Popen | None = None

    def launch(self) -> bool:
        """Start the server; True once it accepts connections, False if it exited (its port
        taken); raises :class:`ClusterUnavailable` if it neither answers nor exits in time."""
        import psycopg

        with (self.folder / "server.log").open("a") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.folder,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while self.process.poll() is None and time.monotonic() < deadline:
            try:
                psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user=SUPERUSER,
                    password=self.password,
                    dbname="postgres",
                    connect_timeout=5,
                ).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.1)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
            raise ClusterUnavailable(
                f"the server did not accept connections within "
                f"{START_TIMEOUT:.0f} s: {self.log[-500:]}"
            )
        return False

    def restart(self, while_down: Callable[[], None] = lambda: None) -> None:
        """A database restart as an operator does one: fast shutdown, ``while_down()``, then the
        server again on the same port and data, waited for until it accepts connections."""
        self._shutdown()
        while_down()
        if not self.launch():
            raise ClusterUnavailable(f"the server would not start again: {self.log[-500:]}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE) as the superuser."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            conn.execute(sql)

    def _shutdown(self) -> None:
        """Fast shutdown (SIGINT: roll back, disconnect, exit)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def stop(self) -> None:
        """Fast shutdown, then remove the folder."""
        self._shutdown()
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


def start_cluster() -> Cluster:
    """initdb and start a server; raises :class:`ClusterUnavailable` with the reason."""
    try:
        import psycopg  # noqa: F401  (only whether it is there; Cluster.launch uses it)
    except ImportError as exc:
        raise ClusterUnavailable("psycopg is not installed (pip install -e '.[postgres]')") from exc
    bindir = find_bindir()
    prefix, user = _run_as()
    folder = Path(tempfile.mkdtemp(prefix="errand-pg-"))
    try:
        data, pwfile = folder / "data", folder / "pwfile"
        password = secrets.token_urlsafe(16)
        pwfile.write_text(password + "\n")
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        pwfile.chmod(0o600)
        init = subprocess.run(
            [
                *prefix,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            cwd=folder,
        )
        if init.returncode != 0:
            raise ClusterUnavailable(
                f"initdb failed ({init.returncode}): {(init.stderr or init.stdout).strip()[-500:]}"
            )
        for _attempt in range(3):  # another process may take the free port before the server
            port = _free_port()
            command = [*prefix, str(bindir / "postgres"), "-D", str(data), "-p", str(port)]
            cluster = Cluster(folder, port, password, [*command, *_SERVER_OPTIONS])
            if cluster.launch():
                return cluster
        raise ClusterUnavailable(f"the server would not start: {cluster.log[-500:]}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        pytest.skip(f"no private PostgreSQL server: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: Cluster) -> Iterator[str]:
    """A new, empty database for this test (dropped afterwards, its connections ended)."""
    name = f"t_{secrets.token_hex(6)}"
    postgres_cluster.admin(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
