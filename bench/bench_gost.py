"""GOST benchmark (issue 16; on demand: ``.venv/bin/python bench/bench_gost.py [-n 5]``; never a timed test).

In one process, on the same one-page order with an empty 80×30 mm signature field and the visible stamp:
- ``sign_pdf`` B-B and B-T with an officer's GOST R 34.10-2015 512-bit key file (the GOST test PKI, its TSA
  on 127.0.0.1 in this process) beside the same with the demo PKI's RSA-2048 PKCS#12 (its fast TSA);
- verification of each result: the desk's ``verify_pdf`` (both), the archive's ``validate_archive`` (GOST:
  offline from what the file carries; the RSA demo PKI's status data would need certomancer running);
- where a GOST signature's time goes: Streebog-512 over the byte range, one GOST signature, the rest;
- opening the officer's key file once per batch: the NCA's GOST PKCS#12 container (``GOST512_*.p12``,
  signing/gost_p12.py) beside the RSA PKCS#12;
- what a batch of 50 orders costs to sign (50 × the median, one process; the work is CPU-bound pure Python,
  so N processes divide it by about N).
Rounds are interleaved (each round runs every variant once) so that the machine's noise hits them alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "signing"))

from bench_sign import document, free_port  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402

from forms.catalogue import signers_by_role  # noqa: E402
from signing import (  # noqa: E402
    SigningOptions,
    StampInfo,
    gost,  # noqa: E402
    load_pkcs12,
    sign_pdf,
    verify_pdf,
)
from signing.ltv import validate_archive  # noqa: E402
from signing.testing.gost_pki import build_gost_pki  # noqa: E402
from signing.testing.gost_services import GostServices, GostServiceServer  # noqa: E402
from signing.testing.pki import build_pki  # noqa: E402
from signing.testing.tsa_server import TimestampServer, load_tsa_from_pki  # noqa: E402

BIN = "040340001283"


def _stamp(name: str) -> StampInfo:
    return StampInfo(language="kk", signer_name=name, position="Бөлім басшысы",
                     verify_url="https://qamqor.example.kz/v/bench")


def _sign(pdf: bytes, key, iin: str, options: SigningOptions) -> bytes:
    return sign_pdf(pdf, field="sig-head", key=key, approved_sha256=hashlib.sha256(pdf).hexdigest(),
                    officer_iin=iin, document_kind="order", stamp=_stamp("Бенчмарк"), options=options,
                    organisation_bin=BIN)


def _timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help="rounds (each signs and verifies every variant once)")
    args = ap.parse_args(argv)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    roles = signers_by_role()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rsa = build_pki(tmp / "rsa", BIN, "160440007161", now=now)
        head = rsa.officer("head")
        rsa_key = load_pkcs12(head.p12, head.password)
        port = free_port()
        gpki = build_gost_pki(now=now, url_prefix=f"http://127.0.0.1:{port}/gost",
                              officers=[{"id": "head", "name": "Бенчмарк Басшы", "role": "head", "bin": BIN}])
        files = gpki.write(tmp / "gost", password="bench")
        gost_key = load_pkcs12(files["GOST512_head.p12"], "bench")
        pdf = document()
        with TimestampServer(load_tsa_from_pki(rsa.directory)).start() as tsa, \
                GostServiceServer(GostServices(gpki), port=port).start():
            variants = {}
            for level in ("B-B", "B-T"):
                variants[f"RSA-2048 {level}"] = (rsa_key, head.iin, SigningOptions(
                    allowed_roles=roles, level=level, tsa_url=tsa.url, trust_roots=[rsa.root_cert]), rsa.root_cert)
                variants[f"GOST-512 {level}"] = (gost_key, gpki.officers["head"].iin, SigningOptions(
                    allowed_roles=roles, level=level, tsa_url=tsa.url, gost_tsa_url=gpki.tsa_url,
                    trust_roots=[files["gost-root.crt"]]), files["gost-root.crt"])
            times: dict[str, dict[str, list[float]]] = {v: {"sign": [], "verify": [], "archive": []} for v in variants}
            parts = {"streebog": [], "gost_sign": [], "open_gost": [], "open_rsa": []}
            for _round in range(args.n):
                for name, (key, iin, options, root) in variants.items():
                    t, signed = _timed(lambda key=key, iin=iin, options=options: _sign(pdf, key, iin, options))
                    times[name]["sign"].append(t)
                    if name.startswith("GOST"):
                        gost_signed = signed
                        gost_br = list(PdfFileReader(io.BytesIO(signed), strict=False).embedded_regular_signatures[0]
                                       .byte_range)
                    t, rep = _timed(lambda signed=signed, root=root: verify_pdf(signed, trust_roots=[root]))
                    assert rep.valid, rep.format_text()
                    times[name]["verify"].append(t)
                    gost._verify_cached.cache_clear()  # every document's verification from scratch
                    if name.startswith("GOST"):  # the RSA demo PKI's status data needs certomancer: not here
                        t, arch = _timed(lambda signed=signed, root=root: validate_archive(signed,
                                                                                           trust_roots=[root]))
                        assert arch.passed, arch.format_text()
                        times[name]["archive"].append(t)
                        gost._verify_cached.cache_clear()
                signed_bytes = gost_signed[:gost_br[1]] + gost_signed[gost_br[2]:]
                parts["streebog"].append(_timed(lambda signed_bytes=signed_bytes: gost.streebog512(signed_bytes))[0])
                parts["gost_sign"].append(_timed(lambda: gpki.officers["head"].key.sign(b"x" * 300))[0])
                parts["open_gost"].append(_timed(lambda: load_pkcs12(files["GOST512_head.p12"], "bench"))[0])
                parts["open_rsa"].append(_timed(lambda: load_pkcs12(head.p12, head.password))[0])
    med = statistics.median
    print(f"{'variant':16} {'sign':>9} {'desk verify':>12} {'archive':>9}   (medians of {args.n}, seconds)")
    for name, t in times.items():
        archive = f"{med(t['archive']):9.3f}" if t["archive"] else f"{'—':>9}"
        print(f"{name:16} {med(t['sign']):9.3f} {med(t['verify']):12.3f} {archive}")
    print(f"\nwhere a GOST B-B signature's time goes: Streebog-512 of the {len(signed_bytes) // 1024} KB signed "
          f"bytes {med(parts['streebog']):.3f} s, one GOST 2015/512 signature {med(parts['gost_sign']):.3f} s "
          "(B-T: twice, the TSA's token), the CRLs fetched and parsed, pyHanko's field and stamp the rest")
    print(f"opening the key file (once a batch): NCA GOST PKCS#12 {med(parts['open_gost']):.3f} s (the 1024-round "
          f"PKCS#12 KDF, 3DES, RC2-40, the key checked against its certificate), RSA PKCS#12 "
          f"{med(parts['open_rsa']):.3f} s")
    for level in ("B-B", "B-T"):
        g, r = med(times[f"GOST-512 {level}"]["sign"]), med(times[f"RSA-2048 {level}"]["sign"])
        print(f"a batch of 50 orders at {level}: GOST {50 * g:.1f} s, RSA {50 * r:.1f} s (one process; ×{g / r:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
