"""Fixtures for the signing tests: a Kazakh-shaped test PKI, its live OCSP/CRL/TSA server (certomancer on
127.0.0.1), the fast RFC 3161 server (``python -m signing.testing.tsa_server``, same TSA key and certificate), a SoftHSM2
token, PDFs with empty signature fields, and poppler's pdfsig as a second validator."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from signing_helpers import PROVIDER_BIN, PSC_BIN, make_pdf, signing_options

from signing import SigningOptions, load_pkcs12
from signing.testing.pki import build_pki

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # readiness poll of a session fixture, not a test
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def serving(cmd: list[str], port: int, cwd: Path | None = None, env: dict | None = None) -> Iterator[None]:
    """A real server process on 127.0.0.1:``port`` for the length of the block."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def pki_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def pki(tmp_path_factory, pki_port):
    """The test PKI; its certificates point at http://127.0.0.1:<pki_port> for OCSP, CRLs and the TSA."""
    return build_pki(tmp_path_factory.mktemp("pki"), PROVIDER_BIN, PSC_BIN,
                     url_prefix=f"http://127.0.0.1:{pki_port}", with_test_certificates=True)


@pytest.fixture(scope="session")
def pki_server(pki, pki_port):
    """certomancer's Animator (aiohttp) serving OCSP, CRLs and RFC 3161 timestamps, as a real process; as the demo
    runs it, each signing key loaded once (``signing.testing.animator``)."""
    with serving([sys.executable, "-m", "signing.testing.animator", "--config", str(pki.certomancer_config),
                  "animate", "--aiohttp", "--no-web-ui", "--port", str(pki_port)], pki_port,
                 cwd=Path(__file__).resolve().parents[2]):
        yield pki


@pytest.fixture(scope="session")
def fast_tsa(pki) -> str:
    """The URL of ``python -m signing.testing.tsa_server`` for the test PKI's TSA, as a real process on 127.0.0.1.

    Real tokens (the PKI's TSA key and certificate), built with pyHanko's TSA code, ~2 ms instead of
    certomancer's ~48 ms per request; certomancer still serves OCSP and CRLs.
    """
    port = free_port()
    with serving([sys.executable, "-m", "signing.testing.tsa_server", "--pki", str(pki.directory), "--port", str(port)],
                 port, cwd=Path(__file__).resolve().parents[2]):
        yield f"http://127.0.0.1:{port}/tsa"


@pytest.fixture(scope="session")
def nssdb(tmp_path_factory, pki) -> Path:
    """An NSS database trusting only the test root, for pdfsig."""
    d = tmp_path_factory.mktemp("nssdb")
    subprocess.run(["certutil", "-N", "-d", f"sql:{d}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{d}", "-n", "qamqor-test-root", "-t", "CT,C,C",
                    "-i", str(pki.root_cert)], check=True, capture_output=True)
    return d


@dataclass
class PdfsigResult:
    output: str
    signatures: int


def run_pdfsig(data: bytes, nssdb: Path, tmp_path: Path) -> PdfsigResult:
    path = tmp_path / f"pdfsig-{hashlib.sha256(data).hexdigest()[:12]}.pdf"
    path.write_bytes(data)
    args = ["pdfsig", "-nssdir", f"sql:{nssdb}", "-no-ocsp", str(path)]
    res = subprocess.run(args, capture_output=True, text=True)
    return PdfsigResult(res.stdout + res.stderr, len(re.findall(r"^Signature #\d+", res.stdout, re.M)))


@pytest.fixture
def pdfsig(nssdb, tmp_path):
    """Assert that poppler's pdfsig (NSS, not pyHanko) finds every signature valid and its certificate trusted.

    NSS's own OCSP lookup is off (``-no-ocsp``): NSS asks OCSP with HTTP GET (RFC 5019), certomancer's Animator
    answers only POST, and NSS then reports "Unknown issue with Certificate".  Revocation is pyHanko's part.
    """

    def check(data: bytes, expected_signatures: int, *, doc_timestamps: int = 0) -> str:
        r = run_pdfsig(data, nssdb, tmp_path)
        blocks = re.split(r"^Signature #\d+:", r.output, flags=re.M)[1:]
        # poppler 22 cannot validate ETSI.RFC3161 document timestamps ("Signature Type: unknown"); pyHanko does
        stamps = [b for b in blocks if "Signature Type: unknown" in b]
        sigs = [b for b in blocks if b not in stamps]
        assert (len(sigs), len(stamps)) == (expected_signatures, doc_timestamps), r.output
        for b in sigs:
            assert "Signature is Valid" in b and "Certificate is Trusted" in b, r.output
        return r.output

    return check


# --- documents -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def order_pdf() -> bytes:
    return make_pdf(["sig-head"])


@pytest.fixture(scope="session")
def act_pdf() -> bytes:
    return make_pdf(["sig-inspector-1", "sig-inspector-2"], title="Тұрғын үй-тұрмыстық жағдайларын тексеру актісі")


# --- keys and options ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def keys(pki):
    """Every officer's PKCS#12 key, opened once."""
    out = {}
    for oid in list(pki.officers) + list(pki.extra):
        o = pki.officer(oid)
        out[oid] = load_pkcs12(o.p12, o.password)
    return out


@pytest.fixture
def bb_options(pki) -> SigningOptions:
    return signing_options(level="B-B", trust_roots=[pki.root_cert])


# --- SoftHSM2 ------------------------------------------------------------------------------------------------

SOFTHSM_LIB = next((p for p in ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
                    if os.path.exists(p)), None)


@dataclass
class Token:
    module: str
    label: str
    pin: str
    key_label: str
    officer_id: str


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory, pki):
    """A real SoftHSM2 token in a temp dir holding the head's key and certificate (imported with pkcs11-tool)."""
    if SOFTHSM_LIB is None or shutil.which("softhsm2-util") is None or shutil.which("pkcs11-tool") is None:
        pytest.skip("softhsm2 / opensc are not installed (scripts/ensure-debian-packages)")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    d = tmp_path_factory.mktemp("softhsm")
    (d / "tokens").mkdir()
    conf = d / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {d / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    label, pin = "qamqor-test", "123456"
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "987654"],
                   check=True, capture_output=True)
    officer = pki.officer("head")
    key, cert, _ = pkcs12.load_key_and_certificates(Path(officer.p12).read_bytes(), officer.password.encode())
    (d / "key.der").write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    (d / "cert.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    for kind, path in (("privkey", d / "key.der"), ("cert", d / "cert.der")):
        subprocess.run(["pkcs11-tool", "--module", SOFTHSM_LIB, "--token-label", label, "--login", "--pin", pin,
                        "--write-object", str(path), "--type", kind, "--label", "head", "--id", "01"],
                       check=True, capture_output=True)
    (d / "key.der").unlink()
    try:
        yield Token(SOFTHSM_LIB, label, pin, "head", "head")
    finally:
        if old is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = old
