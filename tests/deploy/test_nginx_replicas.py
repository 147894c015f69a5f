"""deploy/nginx-replicas.conf, the balancer of the compose ``scale`` profile: it passes
``nginx -t``, spreads webhook POSTs over the replicas, moves an update on to the next replica
when one is down (so Telegram never sees the dead one), and refuses anything but a POST to the
webhook path. Run for real on loopback (as tests/e2e/scalerig.py runs it in front of real
replicas), with small HTTP servers standing in for the replicas. Skipped where nginx is absent.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.deploy import nginxproc
from tests.deploy.botproc import free_port
from tests.e2e.scalerig import Balancer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not nginxproc.NGINX, reason="nginx not installed"),
    pytest.mark.timeout(60),
]


class _Replica(BaseHTTPRequestHandler):
    """Stands in for a replica's webhook listener: records the update ids it was given."""

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def replica() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replica)
    server.seen = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    yield server
    server.shutdown()
    server.server_close()


def test_config_passes_nginx_t(tmp_path):
    balancer = Balancer(tmp_path, [free_port(), free_port()])
    result = nginxproc.check(balancer.folder, balancer.main)
    assert result.returncode == 0, result.stderr


def test_updates_go_round_and_skip_a_dead_replica(tmp_path, replica):
    dead = free_port()  # nothing listens there: a replica killed -9
    balancer = Balancer(tmp_path, [dead, replica.server_address[1]]).start()
    try:
        for update_id in range(6):
            posted = requests.post(balancer.url, data=f'{{"update_id": {update_id}}}', timeout=10)
            assert posted.status_code == 200
        assert sorted(replica.seen) == [f'{{"update_id": {n}}}'.encode() for n in range(6)]
        tried = balancer.requests()
        assert any(dead in ports for ports, _ in tried), "the dead replica had its turn"
        assert all(ports[-1] == replica.server_address[1] for ports, _ in tried)
        assert requests.get(balancer.url, timeout=10).status_code == 403
        assert (
            requests.post(balancer.url.replace("/errand/webhook", "/x"), timeout=10).status_code
            == 404
        )
    finally:
        balancer.close()
