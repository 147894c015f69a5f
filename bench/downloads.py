"""``errandbot download`` against aria2c, axel and curl on local origins, in the same run.

Three cases, each a local nginx on 127.0.0.1 (never any other address):

1. ``limited``: nginx, every connection limited to the same rate (``limit_rate``), so speed comes
   from using many connections well. (nginx lets each *request* burst one second's worth of its
   rate before limiting, so clients that make more requests gain a little.)
2. ``uneven``: the test origin of ``tests/origin.py`` (Python, 127.0.0.1) where every third TCP
   connection is ten times slower than the others, steadily, without nginx's per-request burst;
   speed comes from not waiting on a slow tail;
3. ``loopback``: nginx, unthrottled, a 1 GiB file; wall time and peak RSS (sampled from /proc).
4. ``capped``: nginx ``limit_conn 2`` (a third request at once gets 503) with ``limit_rate`` per
   connection: the ideal is two connections all the time, ``size / (2 * rate)``, printed beside.
5. ``throttled``: lighttpd with ``connection.kbytes-per-second`` (a per-connection limit, no
   burst). Here, in ``proxied`` and in ``loopback`` errandbot also runs with 8 connections
   (``errandbot-8``) beside 16, to decide the default by measurement.
6. ``proxied``: nginx as a reverse proxy (``proxy_buffering off``) in front of apache2 serving
   the file (a second nginx when apache2 is missing), unthrottled: a file behind a proxy.
7. ``startup``: a one-byte file from nginx: what each client spends before and after any
   transfer (process start, imports, probe, rename), to read the other cases' figures against.

Clients run one after another, the order rotating each round; the median of the rounds is
reported with ratios, beside each client's CPU time (which the load of a shared machine hardly
moves), its peak RSS and every round's time, and the load average is printed. Not a test: it
never fails on timing. A missing peer is skipped with a message (``apt-get install nginx aria2
axel curl``).

    .venv/bin/python bench/downloads.py [--cases limited,uneven,loopback] [--rounds 3]

Files live in a temporary folder (``--workdir``, default under /tmp) and are removed afterwards.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ERRANDBOT = REPO / ".venv" / "bin" / "errandbot"
MiB = 1 << 20

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # Connections whose serial number ends in 0-2 get a tenth of the rate ("uneven").
    map $connection $uneven_rate {{
        "~[0-2]$" {slow};
        default   {fast};
    }}
    limit_conn_zone $binary_remote_addr zone=perip:1m;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /limited/ {{ limit_rate {limited}; }}
        location /uneven/  {{ limit_rate $uneven_rate; }}  # the nginx variant of case 2
        location /fast/    {{ }}
        location /capped/  {{ limit_conn perip 2; limit_conn_status 503; limit_rate {capped}; }}
        location /proxied/ {{
            proxy_pass http://127.0.0.1:{backend}/fast/;
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
    server {{
        listen 127.0.0.1:{own_backend};
        root {root};
    }}
}}
"""

APACHE_CONF = """
DefaultRuntimeDir "{tmp}"
PidFile "{tmp}/apache.pid"
ErrorLog "{tmp}/apache-error.log"
Listen 127.0.0.1:{port}
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule env_module /usr/lib/apache2/modules/mod_env.so
LoadModule ratelimit_module /usr/lib/apache2/modules/mod_ratelimit.so
User www-data
Group www-data
ServerName localhost
EnableSendfile On
DocumentRoot "{root}"
<Directory "{root}">
    Require all granted
</Directory>
<Location /throttled/>
    SetOutputFilter RATE_LIMIT
    SetEnv rate-limit {kbps}
</Location>
"""

LIGHTTPD_CONF = """
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{tmp}/lighttpd.pid"
server.errorlog = "{tmp}/lighttpd-error.log"
server.max-connections = 256
connection.kbytes-per-second = {kbps}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_file(path: Path, size: int) -> str:
    """Random-looking content (a 16 MiB block repeated), returns its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(min(size, 16 * MiB))
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            piece = block[:left]
            f.write(piece)
            h.update(piece)
            left -= len(piece)
    return h.hexdigest()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MiB):
            h.update(chunk)
    return h.hexdigest()


def wait_listening(port: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


class Apache:
    """apache2 in the foreground; ``/throttled/`` limited per connection by mod_ratelimit."""

    def __init__(self, tmp: Path, root: Path, kbps: int) -> None:
        self.port = free_port()
        conf = tmp / "apache.conf"
        conf.write_text(APACHE_CONF.format(tmp=tmp, port=self.port, root=root, kbps=kbps))
        self.proc = subprocess.Popen(
            ["apache2", "-f", str(conf), "-DFOREGROUND"], stderr=subprocess.DEVNULL
        )
        wait_listening(self.port, "apache2")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Lighttpd:
    """lighttpd in the foreground, every connection limited to ``kbps`` KiB/s."""

    def __init__(self, tmp: Path, root: Path, kbps: int) -> None:
        self.port = free_port()
        conf = tmp / "lighttpd.conf"
        conf.write_text(LIGHTTPD_CONF.format(tmp=tmp, port=self.port, root=root, kbps=kbps))
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", str(conf)], stderr=subprocess.DEVNULL)
        wait_listening(self.port, "lighttpd")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Nginx:
    def __init__(
        self,
        tmp: Path,
        root: Path,
        limited: str,
        slow: str,
        fast: str,
        capped: str,
        backend: int | None = None,
    ) -> None:
        """``backend``: the port ``/proxied/`` forwards to (default: a second nginx server)."""
        self.port = free_port()
        self.backend_port = backend or free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                tmp=tmp,
                port=self.port,
                root=root,
                limited=limited,
                slow=slow,
                fast=fast,
                capped=capped,
                backend=self.backend_port,
                own_backend=free_port() if backend else self.backend_port,
            )
        )
        self.proc = subprocess.Popen(
            ["nginx", "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port, "nginx")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def clients(out: Path, name: str, url: str) -> dict[str, list[str]]:
    target = out / name
    return {
        "errandbot": [str(ERRANDBOT), "download", url, "-o", str(out), "-c", "16", "-q"],
        # Eight connections at most, against the default 16 (how the default was decided).
        "errandbot-8": [str(ERRANDBOT), "download", url, "-o", str(out), "-c", "8", "-q"],
        # -k1M: aria2's default minimum split is 20 MiB, which would leave it with fewer
        # connections than asked on these file sizes; 1 MiB is the same minimum errandbot uses.
        "aria2c": [
            "aria2c",
            "-x16",
            "-s16",
            "-k1M",
            "-q",
            "--file-allocation=none",
            "--allow-overwrite=true",
            "-d",
            str(out),
            "-o",
            name,
            url,
        ],
        "axel": ["axel", "-n", "16", "-q", "-o", str(target), url],
        "curl": ["curl", "-s", "-f", "-o", str(target), url],
    }


def peak_rss_kib(pid: int) -> int:
    """The process's high-water RSS so far (``VmHWM``), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Run:
    """One client's run: wall time and CPU time (user + system) in seconds, peak RSS in KiB."""

    elapsed: float
    cpu: float
    rss_kib: int
    ok: bool


def timed(cmd: list[str], env: dict[str, str], limit: float) -> tuple[Run, int]:
    """Wall time, CPU time, peak RSS and exit status of ``cmd``; killed after ``limit`` s.

    Peak RSS is sampled from ``/proc`` while the client runs (``wait4``'s ``ru_maxrss`` would
    include this Python process's memory, inherited across fork and exec); CPU time comes from
    ``wait4`` and hardly moves with the load of a shared machine, unlike wall time.
    """
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = start + limit
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        peak = max(peak, peak_rss_kib(proc.pid))
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.005)
    elapsed = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    if proc.returncode and err:
        print(f"    {cmd[0]}: {err.splitlines()[-1]}")
    return Run(
        elapsed, usage.ru_utime + usage.ru_stime, peak, proc.returncode == 0
    ), proc.returncode


def run_case(
    case: str,
    url: str,
    name: str,
    digest: str,
    peers: list[str],
    rounds: int,
    out: Path,
    env: dict[str, str],
    check_sha: bool,
    limit: float,
) -> dict[str, list[Run]]:
    results: dict[str, list[Run]] = {p: [] for p in peers}
    for r in range(rounds):
        order = peers[r % len(peers) :] + peers[: r % len(peers)]
        for peer in order:
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            subprocess.run(["sync"], check=False)
            run, code = timed(clients(out, name, url)[peer], env, limit)
            path = out / name
            ok = run.ok and path.exists() and (not check_sha or sha256_of(path) == digest)
            results[peer].append(Run(run.elapsed, run.cpu, run.rss_kib, ok))
            mark = "" if ok else f"  FAILED (exit {code})"
            print(
                f"  {case:9} round {r + 1} {peer:11} {run.elapsed:7.2f} s  CPU {run.cpu:6.2f} s  "
                f"peak RSS {run.rss_kib / 1024:6.1f} MiB{mark}",
                flush=True,
            )
    shutil.rmtree(out, ignore_errors=True)
    return results


def summarize(case: str, results: dict[str, list[Run]], base: str) -> list[str]:
    """Table rows: median wall time, ratio to ``base``, median CPU time, highest peak RSS, and
    every round's wall time (the spread says how far to trust the median)."""
    lines = []
    good = {p: [r for r in rs if r.ok] for p, rs in results.items()}
    med = {p: statistics.median(r.elapsed for r in rs) for p, rs in good.items() if rs}
    for peer, t in sorted(med.items(), key=lambda kv: kv[1]):
        ratio = f"{t / med[base]:.2f}x {base}" if base in med else ""
        cpu = statistics.median(r.cpu for r in good[peer])
        rss = max(r.rss_kib for r in results[peer]) / 1024
        runs = " ".join(f"{r.elapsed:.2f}" for r in good[peer])
        lines.append(f"| {case} | {peer} | {t:.2f} | {ratio} | {cpu:.2f} | {rss:.1f} | {runs} |")
    for peer in results:
        if peer not in med:
            lines.append(f"| {case} | {peer} | failed | | | | |")
    return lines


def _load(avg: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in avg)


def _rate_bytes(rate: str) -> float:
    """nginx's ``2m`` / ``512k`` / ``1000`` as bytes per second."""
    unit = {"k": 1024, "m": MiB}.get(rate[-1].lower(), 1)
    return float(rate[:-1] if unit != 1 else rate) * unit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="limited,uneven,loopback")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limited-mb", type=int, default=96, help="file size for case 1 (MiB)")
    parser.add_argument("--limited-rate", default="512k", help="nginx limit_rate per connection")
    parser.add_argument("--uneven-mb", type=int, default=64)
    parser.add_argument(
        "--uneven-fast", type=int, default=1024 * 1024, help="bytes/s of a fast connection"
    )
    parser.add_argument(
        "--uneven-slow", type=int, default=102400, help="bytes/s of a slow connection"
    )
    parser.add_argument("--loopback-mb", type=int, default=1024)
    parser.add_argument("--capped-mb", type=int, default=16)
    parser.add_argument(
        "--capped-rate", default="256k", help="nginx limit_rate per connection (limit_conn 2)"
    )
    parser.add_argument("--throttled-mb", type=int, default=64)
    parser.add_argument(
        "--throttled-kbps", type=int, default=1024, help="lighttpd KiB/s per connection"
    )
    parser.add_argument("--proxied-mb", type=int, default=512)
    parser.add_argument("--workdir", default=None)
    parser.add_argument(
        "--curl-throttled",
        action="store_true",
        help="also time curl in the throttled cases (one connection: minutes)",
    )
    args = parser.parse_args()

    if not shutil.which("nginx"):
        print("nginx is missing (apt-get install nginx); nothing to benchmark against")
        return 0
    peers = ["errandbot"]
    for peer in ("aria2c", "axel", "curl"):
        if shutil.which(peer):
            peers.append(peer)
        else:
            print(
                f"skipping {peer}: not installed (apt-get install "
                f"{'aria2' if peer == 'aria2c' else peer})"
            )

    tmp = Path(args.workdir or tempfile.mkdtemp(prefix="errand-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    tmp.chmod(0o755)  # nginx workers run as an unprivileged user
    root = tmp / "www"
    env = {
        **os.environ,
        "DOWNLOAD_ALLOW_NETWORKS": "127.0.0.0/8",
        "MAX_FILE_MB": "1000000",
        "DISK_RESERVE_MB": "0",
        "DOWNLOAD_CONNECTIONS": "16",
    }
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    specs = {
        "limited": ("limited", args.limited_mb, True, "aria2c"),
        "uneven": ("uneven", args.uneven_mb, True, "aria2c"),
        "loopback": ("fast", args.loopback_mb, False, "curl"),
        "capped": ("capped", args.capped_mb, True, "aria2c"),
        "throttled": ("throttled", args.throttled_mb, True, "aria2c"),
        "proxied": ("fast", args.proxied_mb, True, "aria2c"),
        "startup": ("fast", 0, True, "aria2c"),
    }
    summary = [
        "| case | client | median s | ratio | CPU s | peak RSS MiB | runs (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    nginx = origin = lighttpd = apache = None
    try:
        digests = {}
        for case in cases:
            folder, size_mb, _, _ = specs[case]
            digests[case] = write_file(root / folder / f"{case}.bin", size_mb * MiB or 1)
        if "proxied" in cases and shutil.which("apache2"):
            apache = Apache(tmp, root, args.throttled_kbps)
        nginx = Nginx(
            tmp,
            root,
            args.limited_rate,
            f"{args.uneven_slow}",
            f"{args.uneven_fast}",
            args.capped_rate,
            backend=apache.port if apache else None,
        )
        if "proxied" in cases:
            print(
                f"proxied: nginx in front of {'apache2' if apache else 'nginx (apache2 missing)'}"
            )
        if "throttled" in cases:
            if shutil.which("lighttpd"):
                lighttpd = Lighttpd(tmp, root, args.throttled_kbps)
            else:
                print("skipping throttled: lighttpd is not installed (apt-get install lighttpd)")
                cases.remove("throttled")
        if "uneven" in cases:
            from tests.origin import Origin

            origin = Origin().__enter__()
            data = (root / "uneven" / "uneven.bin").read_bytes()
            origin.add_file(
                "/uneven/uneven.bin",
                data,
                rates=[args.uneven_fast, args.uneven_fast, args.uneven_slow],
            )
        print(f"nginx on 127.0.0.1:{nginx.port}; peers: {', '.join(peers)}; rounds: {args.rounds}")
        # An installed errandbot runs from compiled bytecode (pip compiles it at install); an
        # editable install under PYTHONDONTWRITEBYTECODE=1 would compile bot/ on every start.
        compileall.compile_dir(REPO / "bot", quiet=1)
        load_before = os.getloadavg()
        for case in cases:
            folder, size_mb, check, base = specs[case]
            port = (
                origin.port
                if case == "uneven"
                else lighttpd.port
                if case == "throttled"
                else nginx.port
            )
            path = f"/proxied/{case}.bin" if case == "proxied" else f"/{folder}/{case}.bin"
            url = f"http://127.0.0.1:{port}{path}"
            print(f"case {case}: {f'{size_mb} MiB' if size_mb else 'one byte'} from {path}")
            if case == "capped":
                ideal = size_mb * MiB / (2 * _rate_bytes(args.capped_rate))
                print(
                    f"  ideal (two connections at {args.capped_rate}B/s all the time): "
                    f"{ideal:.2f} s"
                )
                summary.append(f"| capped | ideal | {ideal:.2f} | | | | |")
            case_peers = [
                p
                for p in peers
                if p != "curl"
                or case in ("loopback", "proxied", "capped", "startup")
                or args.curl_throttled
            ]
            if case in ("capped", "throttled", "proxied"):
                case_peers = [p for p in case_peers if p != "axel"]  # keeps the run short
            if case in ("throttled", "proxied", "loopback", "startup"):
                case_peers.insert(1, "errandbot-8")  # the default against 16: which to ship
            results = run_case(
                case,
                url,
                f"{case}.bin",
                digests[case],
                case_peers,
                args.rounds,
                tmp / "out",
                env,
                check,
                limit=600,
            )
            summary += summarize(case, results, base)
    finally:
        if nginx is not None:
            nginx.stop()
        if lighttpd is not None:
            lighttpd.stop()
        if apache is not None:
            apache.stop()
        if origin is not None:
            origin.close()
        if not args.workdir:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print("\n".join(summary))
    if cases:
        print(
            f"\nload average (1, 5, 15 min) at start {_load(load_before)}, at end "
            f"{_load(os.getloadavg())}; "
            f"{os.cpu_count()} cores"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
