"""``qamqor demo --gost``: the head signs with a GOST 2015/512 key from the GOST test PKI (NOT FOR PRODUCTION).

:func:`make_gost_demo` writes the GOST PKI into ``var/demo-pki/gost/`` beside the RSA demo PKI (its root, the
head's key file, the services' state) for the head the RSA demo PKI made (same name, IIN, BIN and role), and
says what the demo configuration needs: the key file and its password, the root to trust, the GOST TSA.
:func:`services_command` is how the demo starts its GOST TSA, OCSP responder and CRLs
(:mod:`signing.testing.gost_services`), as it starts certomancer for the RSA ones.
"""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from .gost_pki import build_gost_pki

STATE = "gost-pki.json"


@dataclass(frozen=True)
class GostDemo:
    key_file: Path
    password: str
    root: Path
    tsa_url: str
    port: int


def make_gost_demo(directory: Path, *, head, port: int, now: dt.datetime | None = None) -> GostDemo:
    """The GOST PKI for ``head`` (a :class:`signing.testing.pki.Officer`), served on 127.0.0.1:``port``."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    pki = build_gost_pki(now=now, seed=secrets.token_hex(8), url_prefix=f"http://127.0.0.1:{port}/gost",
                         officers=[{"id": head.id, "name": head.name, "iin": head.iin, "role": head.role,
                                    "bin": head.bin}])
    password = secrets.token_urlsafe(12)
    files = pki.write(Path(directory), password=password)
    return GostDemo(key_file=files[f"GOST512_{head.id}.p12"], password=password, root=files["gost-root.crt"],
                    tsa_url=pki.tsa_url, port=port)


def services_command(directory: Path, port: int) -> list[str] | None:
    """The command that serves the GOST PKI in ``directory`` on ``port`` (None when there is none)."""
    if not (Path(directory) / STATE).is_file():
        return None
    return [sys.executable, "-m", "signing.testing.gost_services", "--pki", str(directory), "--port", str(port)]


def free_port() -> int:
    """A free port on 127.0.0.1 for the GOST services (never the RSA demo's: ``QAMQOR_DEMO_PORT`` names that)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
