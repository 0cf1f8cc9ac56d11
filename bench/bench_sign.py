"""Signing benchmark (run on demand: ``.venv/bin/python bench/bench_sign.py [-n 60]``; never a timed test).

Measures, in one process and on the same one-page document with an empty 80×30 mm signature field:
- qamqor ``sign_pdf`` B-B, RSA-2048, with the visible Kazakh stamp (target ≤ 20 ms median), and the same with
  a new verification URL per signature (so the QR code is encoded every time, as for a batch of documents);
- qamqor ``sign_pdf`` B-T against a local RFC 3161 server (``python -m signing.testing.tsa_server`` on 127.0.0.1, a
  separate process; target ≤ 30 ms), and the TSA's round trip alone;
- stock pyHanko: ``SimpleSigner.load_pkcs12`` + ``PdfSigner.sign_pdf`` with defaults (B-B, and B-T with
  ``HTTPTimeStamper`` against the same TSA), side by side;
- for reference, certomancer's TSA round trip (certomancer keeps serving OCSP/CRLs in the tests).
Rounds are interleaved (each round runs every variant once) so that the VM's noise hits them alike.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers  # noqa: E402
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter, append_signature_field  # noqa: E402

from forms.catalogue import signers_by_role  # noqa: E402
from signing import SigningOptions, StampInfo, load_pkcs12, sign_pdf  # noqa: E402
from signing.testing.pki import build_pki  # noqa: E402

MM = 72 / 25.4
HTML = """<!DOCTYPE html><html lang="kk"><head><meta charset="utf-8"><style>
@page { size: A4; margin: 20mm; } body { font-family: 'DejaVu Serif'; font-size: 11pt; }</style></head><body>
<h1>Қамқоршылық немесе қорғаншылық белгілеу туралы бұйрық</h1>
<p>Жетім балаға қамқоршылық белгілеу туралы. Әә Ғғ Ққ Ңң Өө Ұұ Үү Һһ Іі.</p></body></html>"""


def document() -> bytes:
    from weasyprint import HTML as WHTML

    w = IncrementalPdfFileWriter(io.BytesIO(WHTML(string=HTML).write_pdf()))
    append_signature_field(w, SigFieldSpec("sig-head", on_page=0, box=(20 * MM, 40 * MM, 100 * MM, 70 * MM)))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_certomancer(pki, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "certomancer"
    return wait_for(subprocess.Popen([str(exe), "--config", str(pki.certomancer_config), "animate", "--aiohttp",
                                      "--no-web-ui", "--port", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), port)


def start_fast_tsa(pki, port: int) -> subprocess.Popen:
    root = Path(__file__).resolve().parents[1]
    return wait_for(subprocess.Popen([sys.executable, "-m", "signing.testing.tsa_server", "--pki", str(pki.directory),
                                      "--port", str(port)], cwd=root, stdout=subprocess.DEVNULL), port)


def wait_for(proc: subprocess.Popen, port: int) -> subprocess.Popen:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("a local server did not start")


class _FloatRoundingOnly(logging.Filter):
    """Drop pyHanko's "Content box width/height 226.00000000000003 is too wide for container size 226" warning.

    It comes from the *stock* variants only: pyHanko's default text stamp shrinks its 278 pt text box into the
    226 pt field (``BoxConstraints`` truncates the 226.77 pt field to whole points) and ``226 / 278 * 278`` is
    226.00000000000003 in floating point (``SimpleBoxLayoutRule.fit``); the warning fires although nothing
    overflows.  qamqor's stamp does not use pyHanko's layout rules.  Only an overshoot below 1e-6 pt is dropped;
    a box that is really too wide still warns.
    """

    _pattern = re.compile(r"Content box width/height ([0-9.]+) is too wide for container size ([0-9.]+) ")

    def filter(self, record: logging.LogRecord) -> bool:
        m = self._pattern.match(record.getMessage())
        return not (m and float(m.group(1)) - float(m.group(2)) < 1e-6)


def stats(name: str, samples: list[float]) -> str:
    s = sorted(samples)
    med = statistics.median(s)
    p95 = s[min(len(s) - 1, int(round(0.95 * len(s) + 0.5)) - 1)]
    return f"{name:<58} median {med * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   {1 / med:6.1f} sig/s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=60, help="rounds (each runs every variant once)")
    args = ap.parse_args()

    logging.getLogger("pyhanko.pdf_utils.layout").addFilter(_FloatRoundingOnly())
    with tempfile.TemporaryDirectory() as tmp:
        port, tsa_port = free_port(), free_port()
        pki = build_pki(Path(tmp) / "pki", "040340001283", "160440007161", url_prefix=f"http://127.0.0.1:{port}")
        servers = [start_certomancer(pki, port), start_fast_tsa(pki, tsa_port)]
        tsa_url = f"http://127.0.0.1:{tsa_port}/tsa"
        try:
            head = pki.officer("head")
            pdf = document()
            approved = hashlib.sha256(pdf).hexdigest()
            key = load_pkcs12(head.p12, head.password)
            stamp = StampInfo("kk", head.name, "Білім бөлімінің басшысы",
                              "https://qamqor.example.kz/v/6f1c2a4e-0d8b-4a51-9a4e-2b7f1c0d9e11")
            who_signs = signers_by_role()  # who signs what: the catalogue's, as the application passes it
            bb = SigningOptions(level="B-B", trust_roots=[pki.root_cert], allowed_roles=who_signs)
            bt = SigningOptions(level="B-T", tsa_url=tsa_url, trust_roots=[pki.root_cert], allowed_roles=who_signs)

            def ours(options):
                return lambda: sign_pdf(pdf, field="sig-head", key=key, approved_sha256=approved, officer_iin=head.iin,
                                        document_kind="order", stamp=stamp, options=options)

            fresh = iter(range(10**9))

            def ours_new_url():  # one document of a batch: its own verification URL, so its own QR code
                s = StampInfo(stamp.language, stamp.signer_name, stamp.position,
                              f"https://qamqor.example.kz/v/6f1c2a4e-0d8b-4a51-9a4e-{next(fresh):012d}")
                return sign_pdf(pdf, field="sig-head", key=key, approved_sha256=approved, officer_iin=head.iin,
                                document_kind="order", stamp=s, options=bb)

            loaded_once = signers.SimpleSigner.load_pkcs12(head.p12, passphrase=head.password.encode())

            def stock(tsa: bool, reload: bool = True):
                def run():
                    signer = loaded_once
                    if reload:
                        signer = signers.SimpleSigner.load_pkcs12(head.p12, passphrase=head.password.encode())
                    timestamper = None
                    if tsa:
                        from pyhanko.sign.timestamps import HTTPTimeStamper

                        timestamper = HTTPTimeStamper(tsa_url)
                    meta = signers.PdfSignatureMetadata(field_name="sig-head", subfilter=SigSeedSubFilter.PADES)
                    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
                    return signers.PdfSigner(meta, signer=signer, timestamper=timestamper).sign_pdf(w).getvalue()

                return run

            def round_trip(url):
                import asyncio

                from pyhanko.sign.timestamps import HTTPTimeStamper

                async def go():
                    import aiohttp

                    async with aiohttp.ClientSession() as session:
                        await HTTPTimeStamper(url, session=session).async_timestamp(b"\0" * 32, "sha256")

                return lambda: asyncio.run(go())

            variants = {
                "qamqor sign_pdf  B-B RSA-2048 + Kazakh visible stamp": ours(bb),
                "qamqor sign_pdf  B-B + stamp, new verify URL (QR) each": ours_new_url,
                "qamqor sign_pdf  B-T RSA-2048 + stamp, local TSA": ours(bt),
                "stock pyHanko    B-B (load_pkcs12 + sign_pdf, defaults)": stock(False),
                "stock pyHanko    B-B, signer loaded once": stock(False, reload=False),
                "stock pyHanko    B-T (same + HTTPTimeStamper, same TSA)": stock(True),
                "(the local TSA's round trip alone, included in B-T)": round_trip(tsa_url),
                "(certomancer's TSA round trip, for reference)": round_trip(pki.tsa_url),
            }
            for fn in variants.values():  # warm-up: imports, caches, the stamp layout, TCP
                for _ in range(3):
                    fn()
            samples: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(args.n):
                for name, fn in variants.items():
                    t = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - t)
            print(f"signing one A4 page ({len(pdf) / 1024:.1f} KB), {args.n} interleaved rounds, "
                  f"Python {sys.version.split()[0]}")
            for name, s in samples.items():
                print(stats(name, s))
            import os

            print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print("note: the stock stamp is pyHanko's default Latin text stamp; stock re-loads the PKCS#12 per "
                  "document, as the stock call does")
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=5)


if __name__ == "__main__":
    main()
