"""A whole multi-process deployment on loopback, for end-to-end tests and ``bench/scale.py``.

:class:`ScaleRig` starts what ``deploy/docker-compose.yml``'s ``scale`` profile runs, as real
processes on one machine, each on a free port chosen at run time:

- a database on the private PostgreSQL server (the caller passes its URL: ``postgres_url``);
- N ``errandbot run`` replicas in webhook mode with ``RUN_WORKER=false`` (pure fronts);
- nginx in front of them, on ``deploy/nginx-replicas.conf`` itself (only its ports and server
  names replaced), in the foreground, in a folder of its own;
- M ``errandbot worker`` processes;
- and the Bot API emulator (the caller's), which posts every update to the one webhook URL —
  nginx's — the way Telegram does.

Every process has its own ``DATA_DIR`` and log; they share one ``DOWNLOAD_DIR`` (the shared
storage a real deployment would mount). Each runs in its own process group, so :meth:`kill9`
takes its download children with it, as a machine that dies would. :meth:`close` stops whatever
is still running, by PID, and nothing else.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.sandbox.emulator import BotApiEmulator, Message
from tests.deploy import nginxproc
from tests.deploy.botproc import free_port, launch
from tests.e2e.harness import BotProcess

BALANCER_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx-replicas.conf"
WEBHOOK_PATH = "/errand/webhook"
#: What the shipped balancer config names its replicas; replaced by loopback ports here.
SHIPPED_UPSTREAM = (
    "    server errand:8080 max_fails=1 fail_timeout=10s;\n"
    "    server errand-2:8080 max_fails=1 fail_timeout=10s;\n"
)
START_TIMEOUT = 90.0  # seconds: several Python processes starting at once on two busy cores


class Replica(BotProcess):
    """``errandbot run`` in webhook mode behind the balancer: ready once it serves updates."""

    port: int

    def start(self, timeout: float = START_TIMEOUT) -> Replica:
        seen = len(self.output)

        def serving() -> bool:
            if "webhook server listening" not in self.output[seen:]:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False

        launch(
            self,
            serving,
            f"{self.data_dir.name} to serve its webhook",
            new_session=True,
            timeout=timeout,
        )
        return self


class Balancer:
    """nginx on ``deploy/nginx-replicas.conf``, listening on a free loopback port."""

    def __init__(self, folder: Path, replica_ports: list[int]) -> None:
        self.folder = folder
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        text = BALANCER_CONF.read_text()
        for old, new in {
            SHIPPED_UPSTREAM: "".join(
                f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n" for p in replica_ports
            ),
            "    listen 8080;": f"    listen 127.0.0.1:{self.port};",
        }.items():
            assert old in text, f"{BALANCER_CONF.name} no longer has {old!r}; update the rig"
            text = text.replace(old, new)
        # which replica took each request (``upstream_addr``: several when nginx moved on)
        self.access_log = folder / "access.log"
        text = "log_format errand_upstreams '$upstream_addr|$status';\n" + text.replace(
            "    server_tokens off;",
            f"    server_tokens off;\n    access_log {self.access_log} errand_upstreams;",
        )
        site = folder / "replicas.conf"
        site.write_text(text)
        self.main = nginxproc.main_conf(folder, site)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def requests(self) -> list[tuple[list[int], int]]:
        """Every webhook request so far: (the replica ports tried in order, nginx's status)."""
        if not self.access_log.exists():
            return []
        seen = []
        for line in self.access_log.read_text().splitlines():
            upstreams, _, status = line.rpartition("|")
            ports = [int(a.rpartition(":")[2]) for a in upstreams.split(", ") if ":" in a]
            seen.append((ports, int(status)))
        return seen

    def start(self) -> Balancer:
        self.proc = nginxproc.start(self.folder, self.main, self.port)
        return self

    def close(self) -> None:
        if self.proc is not None:
            nginxproc.stop(self.proc)


class ScaleRig:
    """Replicas behind nginx, workers, one PostgreSQL database and the emulator; see the module
    docstring. Use as a context manager (``with ScaleRig(...) as rig:``).

    ``env`` adds to (or overrides) every process's environment; ``worker_env`` only the
    workers'.
    """

    def __init__(
        self,
        emulator: BotApiEmulator,
        database_url: str,
        folder: Path,
        *,
        replicas: int = 2,
        workers: int = 2,
        env: dict[str, str] | None = None,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.emulator = emulator
        self.database_url = database_url
        self.folder = folder
        self.secret = secrets.token_urlsafe(24)
        self._engine: sa.Engine | None = None
        self.downloads = folder / "downloads"
        self.downloads.mkdir(parents=True, exist_ok=True)
        ports = [free_port() for _ in range(replicas)]
        self.balancer = Balancer(folder / "balancer", ports)
        common = {
            "DATABASE_URL": database_url,
            "DOWNLOAD_DIR": str(self.downloads),
            "ALLOWED_USERS": "*",
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.replicas: list[Replica] = []
        for number, port in enumerate(ports, 1):
            replica = Replica(
                emulator,
                self._data_dir(f"replica-{number}"),
                {
                    **common,
                    "RUN_WORKER": "false",
                    "WEBHOOK_URL": self.balancer.url,
                    "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                    "WEBHOOK_SECRET": self.secret,
                },
            )
            replica.port = port
            self.replicas.append(replica)
        self.workers = [
            BotProcess(
                emulator,
                self._data_dir(f"worker-{n}"),
                {**common, **(worker_env or {})},
                command="worker",
            )
            for n in range(1, workers + 1)
        ]

    def _data_dir(self, name: str) -> Path:
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ------------------------------------------------------------------ lifecycle
    @property
    def processes(self) -> list[BotProcess]:
        return [*self.replicas, *self.workers]

    def start(self) -> ScaleRig:
        """nginx, then the replicas (the first one alone: it applies the migrations), then the
        workers, together; each waited for with a deadline."""
        self.balancer.start()
        self.replicas[0].start()
        self._start_together([*self.replicas[1:], *self.workers])
        return self

    def _start_together(self, processes: list[BotProcess]) -> None:
        if not processes:
            return
        with ThreadPoolExecutor(len(processes)) as pool:
            for future in [pool.submit(p.start, START_TIMEOUT) for p in processes]:
                future.result()

    def close(self) -> None:
        """SIGTERM every process still running (SIGKILL if it hangs), then nginx."""
        for process in self.processes:
            process.close()
        self.balancer.close()
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> ScaleRig:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ faults
    def freeze(self, process: BotProcess) -> None:
        """SIGSTOP the process and its group: it does nothing more until :meth:`kill9` (so that
        a test can read what it held at the instant it dies)."""
        assert process.proc is not None and process.proc.poll() is None, "not running"
        os.killpg(process.proc.pid, signal.SIGSTOP)

    def kill9(self, process: BotProcess) -> None:
        """``kill -9`` the process and its group (its download children): a machine gone."""
        assert process.proc is not None and process.proc.poll() is None, "not running"
        os.killpg(process.proc.pid, signal.SIGKILL)
        process.proc.wait(10)

    # ------------------------------------------------------------------ observing
    def query(self, sql: str, **params: Any) -> list[tuple]:
        """Rows of one SQL statement on the rig's database."""
        if self._engine is None:
            self._engine = sa.create_engine(self.database_url)
        with self._engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until ``predicate()`` is truthy (the emulator's condition, with a deadline)."""
        return self.emulator.wait_for(predicate, timeout, what)

    def poll(
        self, predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.05
    ) -> Any:
        """Like :meth:`wait_for`, for conditions on the database or the processes: looked at
        every ``every`` seconds without holding the emulator's lock, which its server needs."""
        deadline = time.monotonic() + timeout
        while not (result := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
            time.sleep(every)
        return result

    def received(self, chat_id: int) -> list[Message]:
        """Everything the bot sent to ``chat_id`` (as it is now, edits applied)."""
        return self.emulator.bot_messages(chat_id)

    def logs(self, tail: int = 3000) -> str:
        """The end of every process's output, for an assertion message."""
        return "\n".join(f"--- {p.data_dir.name}\n{p.output[-tail:]}" for p in self.processes)

    def leaked(self) -> list[str]:
        """Names of the processes whose output shows the bot token or the webhook secret."""
        token = self.emulator.token.split(":", 1)[1]
        return [
            p.data_dir.name for p in self.processes if token in p.output or self.secret in p.output
        ]


@contextmanager
def scale_rig(
    emulator: BotApiEmulator, database_url: str, folder: Path, **options: Any
) -> Iterator[ScaleRig]:
    """A started :class:`ScaleRig`; on the way out it is closed and checked for leaked secrets."""
    rig = ScaleRig(emulator, database_url, folder, **options)
    with rig:
        yield rig
    assert not rig.leaked(), f"a secret leaked into the output of {rig.leaked()}"
