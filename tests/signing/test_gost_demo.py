"""Done-when of issue 16, as a user runs it: ``qamqor demo --gost``, ``qamqor run --once``, the inspectors sign
the act and the head approves the order (¶11: the head signs the order) — with a GOST 2015/512 key, the
others RSA; ``qamqor verify --trust gost-root.crt`` says TOTAL-PASSED, and a one-bit change TOTAL-FAILED.
Every step is the real command in its own process; the demo starts its own GOST TSA, OCSP and CRL server."""

from __future__ import annotations

import os
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import gost
from signing.gost_cms import is_gost_cms

QAMQOR = str(Path(sys.executable).parent / "qamqor")
ENV = {**os.environ, "QAMQOR_NOW": "2027-01-06T10:00:00+05:00"}


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in ENV.items() if k not in ("QAMQOR_CONFIG", "QAMQOR_DEMO_PORT", "QAMQOR_FAULT")}
    return subprocess.run([QAMQOR, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_demo_head_signs_the_order_with_gost(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    made = run(site, "demo", "--gost")
    assert made.returncode == 0, made.stdout + made.stderr
    assert run(site, "run", "--once").returncode == 0
    assert run(site, "queue", "approve", "--all", "--role", "inspector").returncode == 0  # the act first
    approved = run(site, "queue", "approve", "C-2026-0001-order")
    assert approved.returncode == 0, approved.stdout + approved.stderr
    order = next(site.glob("outbox/archive/*/*/C-2026-0001/C-2026-0001-order.pdf"))
    data = order.read_bytes()
    sig = PdfFileReader(BytesIO(data), strict=False).embedded_regular_signatures[0]
    assert is_gost_cms(sig.signed_data)
    assert sig.signer_cert.public_key.algorithm == gost.KEY_NAMES[gost.KEY_2015_512]
    act = next(site.glob("outbox/archive/*/*/C-2026-0001/C-2026-0001-inspection_act.pdf")).read_bytes()
    assert not is_gost_cms(PdfFileReader(BytesIO(act), strict=False).embedded_regular_signatures[0].signed_data)

    root = site / "var" / "demo-pki" / "gost" / "gost-root.crt"
    good = run(site, "verify", "--trust", str(root), str(order))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "- sig-official: TOTAL-PASSED" in good.stdout and "archive timestamp" in good.stdout
    i = data.index(b"stream\n") + 20  # one bit of the first stream's data: signed, and the file still parses
    assert i < sig.byte_range[1]
    changed = site / "changed-order.pdf"
    changed.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    bad = run(site, "verify", "--trust", str(root), str(changed))
    assert bad.returncode == 1 and "TOTAL-FAILED / HASH_FAILURE" in bad.stdout, bad.stdout + bad.stderr
    configured = run(site, "verify", str(order))  # the demo's own trust roots: RSA and GOST
    assert configured.returncode == 0, configured.stdout + configured.stderr
