"""deploy/nginx-replicas.conf, the balancer of the compose ``scale`` profile: it passes
``nginx -t``, spreads webhook POSTs over the replicas, moves an update on to the next replica
when one is down (so Telegram never sees the dead one), and refuses anything but a POST to the
webhook path. Run for real on loopback (as tests/e2e/scalerig.py runs it in front of real
replicas), with small HTTP servers standing in for the replicas. Skipped where nginx is absent.
"""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture
def replica() -> Iterator[nginxproc.Upstream]:
    with nginxproc.upstream() as server:
        yield server


def test_config_passes_nginx_t(tmp_path):
    balancer = Balancer(tmp_path, [free_port(), free_port()])
    result = nginxproc.check(balancer.folder, balancer.main)
    assert result.returncode == 0, result.stderr


def test_updates_go_round_and_skip_a_dead_replica(tmp_path, replica):
    dead = free_port()  # nothing listens there: a replica killed -9
    balancer = Balancer(tmp_path, [dead, replica.port]).start()
    try:
        for update_id in range(6):
            posted = requests.post(balancer.url, data=f'{{"update_id": {update_id}}}', timeout=10)
            assert posted.status_code == 200
        bodies = sorted(body for _, _, _, body in replica.seen)
        assert bodies == [f'{{"update_id": {n}}}'.encode() for n in range(6)]
        tried = balancer.requests()
        assert any(dead in ports for ports, _ in tried), "the dead replica had its turn"
        assert all(ports[-1] == replica.port for ports, _ in tried)
        assert requests.get(balancer.url, timeout=10).status_code == 403
        assert (
            requests.post(balancer.url.replace("/errand/webhook", "/x"), timeout=10).status_code
            == 404
        )
    finally:
        balancer.close()
