"""Running a test's child process so that file modes bind, even when the suite runs as root."""

from __future__ import annotations

import os
import shutil

import pytest


def without_root_powers() -> tuple[str, ...]:
    """A command prefix under which file modes bind: root with no capabilities (root's
    CAP_DAC_OVERRIDE writes anything) or nothing for an ordinary user. Skips the test when
    running as root without ``setpriv`` (util-linux)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): file modes do not bind root")
    return (setpriv, "--bounding-set=-all", "--inh-caps=-all")
