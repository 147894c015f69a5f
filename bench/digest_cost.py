"""What the resume record's CRC-32 pieces cost: one file from nginx on loopback, downloaded in
this process with ``DownloadOptions.record_digests`` on and off, CPU time (all threads) and wall
time of each, alternating, median of the runs.

    .venv/bin/python bench/digest_cost.py --mib 512 --runs 3

Needs nginx (``apt-get install nginx``). Uses /tmp for the served file and the downloads.
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.botrun import nginx_folders, nginx_or_say, nginx_serving  # noqa: E402
from bot.downloads.api import DownloadOptions  # noqa: E402
from bot.downloads.engine import Downloader  # noqa: E402


def one_run(url: str, dest: Path, *, digests: bool, sha256: bool) -> tuple[float, float]:
    """CPU seconds and wall seconds of one download of ``url`` into the empty ``dest``."""
    options = DownloadOptions(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        disk_reserve=0,
        compute_sha256=sha256,
        record_digests=digests,
    )
    cpu, wall = time.process_time(), time.monotonic()
    result = Downloader(url, dest_dir=dest, options=options).run()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    result.path.unlink()
    return cpu, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sha256", action="store_true", help="hash as the bot does")
    args = parser.parse_args()
    if (nginx := nginx_or_say()) is None:
        return 1
    tmp, root = nginx_folders("errand-digests-")
    dest = tmp / "dest"
    dest.mkdir()
    big = root / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(args.mib << 20)  # sparse: nginx serves it at memory speed
    big.chmod(0o644)
    got: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    try:
        with nginx_serving(nginx, tmp, root, workers=2) as port:
            url = f"http://127.0.0.1:{port}/big.bin"
            one_run(url, dest, digests=False, sha256=args.sha256)  # warm the page cache
            for _ in range(args.runs):
                for digests in (False, True):
                    got[digests].append(one_run(url, dest, digests=digests, sha256=args.sha256))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.mib} MiB from nginx on loopback, sha256 {'on' if args.sha256 else 'off'}:")
    for digests, runs in got.items():
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(f"  record_digests={digests!s:5}  CPU {cpu:.2f} s  wall {wall:.2f} s  {runs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
