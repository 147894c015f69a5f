"""Building Errand's sdist or wheel with PyPA's ``build``, as pip and ``make dist`` do, for the
tests that check what ships (tests/deploy/test_dist.py, tests/db/test_packaged.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def build(kind: str, tree: Path, outdir: Path) -> Path:
    """Build ``kind`` ("sdist" or "wheel") of the project in ``tree`` into ``outdir``; the file
    made."""
    result = subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--outdir", str(outdir), str(tree)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [made] = outdir.glob("errandbot-*.tar.gz" if kind == "sdist" else "errandbot-*.whl")
    return made
