"""``qamqor archive renew`` of a GOST B-LTA (issue 16; the RSA renewal is issue 12 #3): a real process in an
installation whose archive holds an order signed by the head with a GOST 2015/512 key (the NCA's PKCS#12 of
the GOST test PKI).  The renewal must add fresh GOST status data for the archive timestamp's TSA to the DSS
(OCSP and CRLs produced after that timestamp) and a new GOST document timestamp from the GOST TSA, and the
archive's verdict must still be TOTAL-PASSED, for the renewal's own report and for ``qamqor verify``.

The GOST services stood an hour earlier when the order was signed (their clock is injected) and on the real
clock when the renewal runs, so "fresh" is seen in the data, not guessed from the seconds a test takes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from io import BytesIO

import pytest
from conftest import VENV_BIN, free_port
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_helpers import make_pdf, signing_options

from signing import StampInfo, gost_cms, gost_pades, load_pkcs12, sign_pdf
from signing.testing.gost_pki import build_gost_pki
from signing.testing.gost_services import GostServices, GostServiceServer

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EARLIER = NOW - dt.timedelta(hours=1)
BIN = "040340001283"
PASSWORD = "Qwerty12"


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    """The GOST services (clock settable), and an installation whose archive holds one GOST B-LTA order."""
    port = free_port()
    pki = build_gost_pki(now=EARLIER, url_prefix=f"http://127.0.0.1:{port}/gost")
    d = tmp_path_factory.mktemp("gost-renew")
    files = pki.write(d / "pki", password=PASSWORD)
    clock = [EARLIER]  # None: the real clock
    with GostServiceServer(GostServices(pki, clock=lambda: clock[0] or dt.datetime.now(dt.UTC)), port=port).start():
        key = load_pkcs12(files["GOST512_head.p12"], PASSWORD)
        pdf = make_pdf(["sig-official"])
        options = signing_options(level="B-LTA", tsa_url=pki.tsa_url, trust_roots=[files["gost-root.crt"]])
        # ¶11: the order is the head's to sign
        signed = sign_pdf(pdf, field="sig-official", key=key, approved_sha256=hashlib.sha256(pdf).hexdigest(),
                          officer_iin=pki.officer_iin, document_kind="order", organisation_bin=None,
                          stamp=StampInfo(language="kk", signer_name=pki.officers["head"].name,
                                          position="Бөлім басшысы", verify_url="https://qamqor.example.kz/v/1"),
                          options=options)
        site = d / "site"
        folder = site / "outbox" / "archive" / EARLIER.strftime("%Y/%m") / "C-2026-0077"
        folder.mkdir(parents=True)
        archived = folder / "C-2026-0077-order.pdf"
        archived.write_bytes(signed)
        (folder / "C-2026-0077-order.json").write_text(json.dumps({"document_id": "C-2026-0077-order"}))
        (site / "qamqor.toml").write_text(
            "[signing]\n"
            'tsa_url = "http://127.0.0.1:9/no-rsa-tsa-needed"\n'
            f'gost_tsa_url = "{pki.tsa_url}"\n'
            f'trust_roots = ["{files["gost-root.crt"]}"]\n', encoding="utf-8")
        yield pki, files, site, archived, signed, clock


def _reader(data: bytes) -> PdfFileReader:
    return PdfFileReader(BytesIO(data), strict=False)


def _qamqor(site, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=site, capture_output=True, text=True,
                          timeout=300, env={"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(site), "TZ": "UTC"})


def test_qamqor_archive_renew_adds_fresh_gost_status_and_a_gost_timestamp(installation):
    pki, files, site, archived, signed, clock = installation
    assert len(list(_reader(signed).embedded_timestamp_signatures)) == 1
    clock[0] = None  # the services an hour on: what they issue now is newer than the archive timestamp

    # the TSA certificate ends within 3 years: due with --before 2000 (days)
    run = _qamqor(site, "archive", "renew", "--before", "2000")
    assert run.returncode == 0 and "1 renewed, 0 failed" in run.stdout, run.stdout + run.stderr
    renewed = archived.read_bytes()
    assert renewed.startswith(signed)  # incremental: the signed revisions are untouched

    reader = _reader(renewed)
    first, second = list(reader.embedded_timestamp_signatures)
    assert gost_cms.is_gost_cms(second.signed_data)  # the new one is GOST, from the GOST TSA
    assert second.self_reported_timestamp >= NOW
    _certs, ocsps, crls = gost_pades.dss_contents(reader)
    tsa_serial = pki.tsa_cert.serial_number
    fresh = [o for o in ocsps
             if o.basic_ocsp_response["tbs_response_data"]["produced_at"].native > first.self_reported_timestamp
             and o.basic_ocsp_response["tbs_response_data"]["responses"][0]["cert_id"]["serial_number"].native
             == tsa_serial]
    assert fresh, "no OCSP response for the archive timestamp's TSA issued after it"
    assert any(c["tbs_cert_list"]["this_update"].native > first.self_reported_timestamp for c in crls)

    # the archive's verdict after the renewal: its ETSI report (written by the renewal) and qamqor verify
    report = archived.with_name(archived.name + ".etsi-report.xml").read_text(encoding="utf-8")
    assert "mainindication:total-passed" in report and "mainindication:indeterminate" not in report
    assert "mainindication:total-failed" not in report
    verify = _qamqor(site, "verify", "--no-policy", "--trust", str(files["gost-root.crt"]), str(archived))
    assert verify.returncode == 0 and "- sig-official: TOTAL-PASSED" in verify.stdout, verify.stdout + verify.stderr
