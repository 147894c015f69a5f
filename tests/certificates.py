"""TLS certificates for tests, made with the openssl command line as an operator would make them.

Used by the engine's TLS tests (a self-signed certificate, a private CA and certificates it
signed) and by the nginx deployment test (the site's certificate).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str) -> None:
    """Runs ``openssl args``; raises with its output if it fails."""
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def self_signed(cert: Path, key: Path, subject: str, *extensions: str, days: int = 2) -> None:
    """Writes a new RSA key to ``key`` and a certificate for it, signed by itself, to ``cert``:
    ``subject`` such as ``/CN=localhost``, each of ``extensions`` such as
    ``subjectAltName=DNS:localhost,IP:127.0.0.1`` (a CA is a self-signed certificate with
    ``basicConstraints=critical,CA:TRUE``)."""
    added = [arg for extension in extensions for arg in ("-addext", extension)]
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        str(days),
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-subj",
        subject,
        *added,
    )
