"""The "Done when" of issue 12: one archived PDF of the demo and its root certificate copied into an empty folder,
``qamqor verify --trust root.crt --at <five years on> --report etsi`` → TOTAL-PASSED, and EU DSS agrees.

Also what delivery leaves beside each archived PDF (#12.4): its ETSI TS 119 102-2 report, valid against ETSI's XSD.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from pipeline.config import Config
from pipeline.runner import Runner
from tests.conftest import ROOT, qamqor

pytestmark = pytest.mark.slow

XSD = ROOT / "tests" / "signing" / "data" / "etsi-xsd" / "TS119102-2-v122.xsd"
VALIDATORS_JAR = ROOT / "tools" / "validators" / "target" / "validators.jar"
VR = {"vr": "http://uri.etsi.org/19102/v1.2.1#"}


@pytest.fixture(scope="module")
def archived(demo_template: Path, tmp_path_factory) -> Path:
    """The demo's examples run once (B-LTA, the demo's own TSA and OCSP on 127.0.0.1): the archive route."""
    import os

    root = tmp_path_factory.mktemp("archived") / "site"
    shutil.copytree(demo_template, root)
    old, os.environ["QAMQOR_NOW"] = os.getcwd(), "2027-01-08T12:00:00+05:00"
    try:
        os.chdir(root)
        runner = Runner(Config.load(root / "qamqor.toml"))
        runner.run_once(settle=False)
        runner.close()
    finally:
        os.chdir(old)
        os.environ.pop("QAMQOR_NOW", None)
    return root


def test_delivery_writes_a_valid_etsi_report_beside_each_archived_pdf(archived: Path):
    pdfs = sorted((archived / "outbox" / "archive").rglob("*.pdf"))
    assert pdfs
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    for pdf in pdfs:
        report = pdf.with_name(pdf.name + ".etsi-report.xml")
        doc = etree.parse(str(report))
        assert schema.validate(doc), (report, schema.error_log)
        assert doc.findtext(".//vr:MainIndication", namespaces=VR) == "urn:etsi:019102:mainindication:total-passed"
        assert json.loads(pdf.with_suffix(".json").read_text())["signature_level"] == "B-LTA"
    # only the archive keeps reports
    assert not [p for p in (archived / "outbox").rglob("*.etsi-report.xml") if "archive" not in p.parts]


def test_the_report_of_a_document_signed_in_a_render_worker_is_the_one_made_there(archived: Path):
    """#13: the validation behind the report runs once, in the worker that signed, not again at delivery."""
    from pipeline.journal import store
    from pipeline.services import Services

    services = Services.build(Config.load(archived / "qamqor.toml"))
    try:
        delivered = [d for d in store.all_documents(services.journal) if d.status == "delivered"]
    finally:
        services.close()
    made_in_worker = [d for d in delivered if Path(d.pdf_path + ".etsi-report.xml").exists()]
    assert made_in_worker, "no delivered document carried a report from its render worker"
    for d in made_in_worker:
        archived_pdf = next((archived / "outbox" / "archive").rglob(f"{d.document_id}.pdf"))
        ready = Path(d.pdf_path + ".etsi-report.xml").read_bytes()
        assert archived_pdf.with_name(archived_pdf.name + ".etsi-report.xml").read_bytes() == ready


def test_a_newcomer_verifies_a_receipt_five_years_on_and_dss_agrees(archived: Path, tmp_path: Path):
    receipt = next((archived / "outbox" / "archive").rglob("*-acceptance_receipt.pdf"))
    empty = tmp_path / "newcomer"
    empty.mkdir()
    shutil.copyfile(receipt, empty / "receipt.pdf")
    shutil.copyfile(archived / "var" / "demo-pki" / "root.crt", empty / "root.crt")
    five_years_on = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5 * 365 + 1)).replace(microsecond=0)
    at = five_years_on.strftime("%Y-%m-%dT%H:%M:%SZ")
    res = qamqor(empty, "verify", "--trust", "root.crt", "--at", at, "--report", "etsi", "receipt.pdf")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = etree.fromstring(res.stdout.encode())
    assert etree.XMLSchema(etree.parse(str(XSD))).validate(doc)
    assert doc.findtext(".//vr:MainIndication", namespaces=VR) == "urn:etsi:019102:mainindication:total-passed"
    assert sorted(p.name for p in empty.iterdir()) == ["receipt.pdf", "root.crt"]  # nothing written there

    java = shutil.which("java")
    if java is None or not VALIDATORS_JAR.is_file():
        pytest.fail("the reference validators are missing: make validators (Java 17, Maven)")
    dss = subprocess.run([java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", str(VALIDATORS_JAR), "dss",
                          str(empty / "receipt.pdf"), "--trust", str(empty / "root.crt"), "--at", at],
                         capture_output=True, text=True, timeout=600)
    report = json.loads(dss.stdout)
    [sig] = report["files"][0]["signatures"]
    assert (sig["indication"], sig["subIndication"]) == ("TOTAL_PASSED", None), sig
    assert sig["signatureFormat"] == "PAdES-BASELINE-LTA" and dss.returncode == 0
