"""``errandbot run --hold-on-bad-setting`` (the image's command): a bad setting is logged once,
then the process waits, doing nothing, until SIGTERM, and exits 2 at once. Under Docker's
``restart: unless-stopped`` a plain exit 2 was restarted 7 times in 20 s, and on and on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

#: Runs a real program (see tests/conftest.py): `make test-fast` skips this module.
pytestmark = pytest.mark.e2e


@pytest.mark.timeout(60)
def test_bad_setting_holds_until_sigterm(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ALLOWED_USERS": "bob"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--hold-on-bad-setting"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stderr.readline()
        second = proc.stderr.readline()  # blocks until printed; the test timeout is the deadline
        assert first.startswith("errandbot: bad setting ALLOWED_USERS: 'bob' is not a numeric id")
        assert "recreate the container" in second
        assert proc.poll() is None  # still there: nothing for a restart policy to restart
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 2
        assert time.monotonic() - started < 2
        assert proc.stderr.read() == ""  # no traceback on the way out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_the_flag_a_bad_setting_exits_2_at_once(tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ALLOWED_USERS": "bob"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "recreate" not in result.stderr
