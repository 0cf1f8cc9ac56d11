"""An NCALayer stand-in that returns a GOST CMS, embedded and verified by the desk (issue 16, its test line).

The head of the demo district holds a GOST R 34.10-2015 512-bit key of the GOST test PKI
(:mod:`signing.testing.gost_pki`, its TSA, OCSP responder and CRLs served on 127.0.0.1) and signs in the desk
with NCALayer (the stand-in of tests/web/ncalayer_standin.py in GOST mode, the real protocol over a WebSocket).
The installation signs at B-LTA (the demo's level): the desk must embed NCALayer's CAdES-BES with a GOST
signature timestamp, the GOST OCSP responses and CRLs in the DSS and a GOST document timestamp; the desk's own
verification and ``qamqor verify --trust gost-root.crt`` (a real process) must say TOTAL-PASSED.  A CMS over other
bytes, or made with another officer's GOST key, is refused with the same words and codes as for RSA, a CMS with
NCALayer's own timestamp is refused deliberately, and the document still waits for the head (¶11: the order is
the head's to sign).

Pure-Python GOST is slow: the PKI is built once per module.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from asn1crypto import pem

from pipeline.journal import store
from pipeline.web.passwords import hash_password
from signing import gost, gost_cms, gost_sign, gost_tsp
from signing.testing.gost_pki import build_gost_pki
from signing.testing.gost_services import GostServices, GostServiceServer
from tests.web.conftest import csrf_of, sign_in
from tests.web.ncalayer_standin import StandInNCALayer, desk_finish, desk_prepare, free_port, officer_key

ORDER = "C-2026-0001-order"
REFUSAL = "C-2026-0002-reasoned_refusal"
PASSWORD = "gost-key-pass-1"
DESK_PASSWORD = "gost-desk-pass-1"


@pytest.fixture(scope="module")
def gost_env(web_template, tmp_path_factory):
    """The GOST test PKI for the demo's head (same name, IIN, BIN) and another head, served on a free port."""
    pki_json = json.loads((web_template / "var/demo-pki/pki.json").read_text())
    head = next(o for o in pki_json["officers"] if o["id"] == "head")
    port = free_port()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pki = build_gost_pki(now=now, url_prefix=f"http://127.0.0.1:{port}/gost", officers=[
        {"id": "head", "name": head["name"], "iin": head["iin"], "role": "head", "bin": head["bin"]},
        {"id": "other", "name": "Оспанов Нұрлан Серікұлы", "role": "head", "bin": head["bin"]}])
    d = tmp_path_factory.mktemp("gost-pki")
    files = pki.write(d, password=PASSWORD)
    (d / "head-gost-cert.pem").write_bytes(
        pem.armor("CERTIFICATE", pki.officers["head"].cert.dump()) + pem.armor("CERTIFICATE", pki.ca.dump()))
    with GostServiceServer(GostServices(pki), port=port).start():
        yield pki, files, d


@pytest.fixture
def gost_site(site, gost_env, acts_signed):
    """The desk's site with a GOST officer signing with NCALayer: the head again, ``head-gost``; the GOST root
    trusted, the GOST TSA configured; the inspectors' acts signed (¶10) so the head may sign the order (¶11)."""
    pki, files, d = gost_env
    toml = site / "qamqor.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"^trust_roots = \[", f"trust_roots = [{json.dumps(str(files['gost-root.crt']))}, ", text,
                  count=1, flags=re.M)
    text = text.replace("[signing]\n", f"[signing]\ngost_tsa_url = {json.dumps(pki.tsa_url)}\n", 1)
    head = pki.officers["head"]
    text += "\n".join([
        "", "[[officers]]  # the head again, with a GOST 2015/512 key in NCALayer (issue 16)",
        'id = "head-gost"', f"name = {json.dumps(head.name, ensure_ascii=False)}", f'iin = "{head.iin}"',
        'role = "head"', 'office = "ED-ALM-BOS"', 'position_kk = "Білім бөлімінің басшысы"',
        'position_ru = "Руководитель отдела образования"', 'backend = "external"',
        f"key = {json.dumps(str(d / 'head-gost-cert.pem'))}",
        "", "[[web.accounts]]", 'officer = "head-gost"', f'password_hash = "{hash_password(DESK_PASSWORD)}"', ""])
    toml.write_text(text, encoding="utf-8")
    return site


@pytest.fixture
def gost_client(gost_site, app_factory):
    from starlette.testclient import TestClient

    with TestClient(app_factory(), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def gost_nca(gost_env):
    _pki, files, _d = gost_env
    with StandInNCALayer(files["GOST512_head.p12"], PASSWORD) as s:
        yield s


def _finish(client, csrf: str, prep: dict, cms: bytes):
    return desk_finish(client, csrf, prep, {"status": True, "body": {"result": [base64.b64encode(cms).decode()]}})


def test_the_stand_in_builds_a_gost_cades_bes_as_kalkan_does(gost_nca, gost_env):
    pki, _files, _d = gost_env
    der = gost_nca.cms(b"the bytes of the byte range")
    signed = asn1_cms.ContentInfo.load(der)["content"]
    si = signed["signer_infos"][0]
    assert si["signature_algorithm"]["algorithm"].dotted == gost.SIG_2015_512
    assert si["digest_algorithm"]["algorithm"].dotted == gost.STREEBOG_512
    assert {a["type"].native for a in si["signed_attrs"]} == {
        "content_type", "signing_time", "signing_certificate_v2", "message_digest"}
    assert signed["encap_content_info"]["content"].native is None  # detached, as the desk asks
    assert gost_cms.signature_verdict(signed, gost.streebog512(b"the bytes of the byte range")).passed
    assert not gost_cms.signature_verdict(signed, gost.streebog512(b"other bytes")).passed


def test_a_gost_officer_signs_with_ncalayer_and_the_desk_verifies(gost_client, gost_nca, gost_env, gost_site):
    """B-LTA with the GOST TSA and OCSP: embedded, delivered, TOTAL-PASSED for the desk and ``qamqor verify``."""
    _pki, files, _d = gost_env
    client = gost_client
    sign_in(client, "head-gost", DESK_PASSWORD)
    client.get("/lang/kk?next=/queue")
    csrf = csrf_of(client.get("/queue").text)
    prep = desk_prepare(client, csrf, ORDER)
    done = _finish(client, csrf, prep, gost_nca.cms(base64.b64decode(prep["data"])))
    body = done.json()
    assert done.status_code == 200 and body["ok"] and body["valid"] and body["status"] == "delivered", body
    assert body["message"] == "қол қойылды", body["message"]
    journal = client.app.state.desk.services.journal
    doc = store.get_document(journal, ORDER)
    assert doc.signed_by[-1]["iin"] == _pki.officers["head"].iin and doc.signed_by[-1]["level"] == "B-LTA"

    # the desk's own verification of the delivered file: the GOST signature at B-LTA, every signature trusted
    report = client.app.state.desk.verification(Path(doc.pdf_path).read_bytes())
    assert report.valid, report.format_text()
    gost_sig = next(s for s in report.signatures if s.signer_iin == _pki.officers["head"].iin and s.kind == "signature")
    assert gost_sig.level == "B-LTA" and gost_sig.timestamp_valid and gost_sig.ok
    assert any(s.kind == "document_timestamp" and s.ok for s in report.signatures)

    # qamqor verify, a real process, trusting only the GOST root: the head's GOST signature TOTAL-PASSED
    qamqor = str(Path(sys.executable).parent / "qamqor")
    out = subprocess.run([qamqor, "verify", "--no-policy", "--trust", str(files["gost-root.crt"]), doc.pdf_path],
                         capture_output=True, text=True, timeout=120)
    assert re.search(rf"- {re.escape(prep_field(doc))}: TOTAL-PASSED", out.stdout), out.stdout + out.stderr


def prep_field(doc) -> str:
    """The signature field the head signed (the last signature of the order)."""
    from io import BytesIO

    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(Path(doc.pdf_path).read_bytes()), strict=False)
    return reader.embedded_regular_signatures[-1].field_name


def test_a_gost_cms_over_other_bytes_or_of_another_officer_is_refused_as_for_rsa(
        gost_client, gost_nca, gost_env, site):
    pki, files, _d = gost_env
    client = gost_client
    journal = client.app.state.desk.services.journal

    # what the RSA head (head-nca) is told for a CMS over other bytes: the words and codes to match
    sign_in(client, "head-nca")
    client.get("/lang/ru?next=/queue")
    csrf = csrf_of(client.get("/queue").text)
    with StandInNCALayer(*officer_key(site, "head")) as rsa_nca:
        prep = desk_prepare(client, csrf, ORDER)
        rsa_other = _finish(client, csrf, prep, rsa_nca.cms(b"not the prepared bytes"))
    assert rsa_other.status_code == 409

    sign_in(client, "head-gost", DESK_PASSWORD)
    client.get("/lang/ru?next=/queue")
    csrf = csrf_of(client.get("/queue").text)
    prep = desk_prepare(client, csrf, ORDER)
    gost_other = _finish(client, csrf, prep, gost_nca.cms(b"not the prepared bytes"))
    assert gost_other.status_code == 409
    assert (gost_other.json()["code"], gost_other.json()["error"]) == (rsa_other.json()["code"],
                                                                       rsa_other.json()["error"])
    assert gost_other.json()["code"] == "E-SIGN-FAILED"

    # the officer picks another officer's GOST key in NCALayer's dialog: refused with that officer's name
    prep = desk_prepare(client, csrf, ORDER)
    gost_nca.offer(files["GOST512_other.p12"], PASSWORD)
    wrong = _finish(client, csrf, prep, gost_nca.cms(base64.b64decode(prep["data"])))
    assert wrong.status_code == 409 and wrong.json()["code"] == "E-SIGN-OTHER-KEY"
    assert "Выбран ключ другого человека" in wrong.json()["error"]
    assert pki.officers["other"].name in wrong.json()["error"]
    assert store.get_document(journal, ORDER).status == "queued"  # still the head's to sign

    # NCALayer's own timestamp (tsaProfile given): refused deliberately, as qamqor could not verify the NCA's
    gost_nca.offer(files["GOST512_head.p12"], PASSWORD)
    prep = desk_prepare(client, csrf, ORDER)
    ci = asn1_cms.ContentInfo.load(gost_nca.cms(base64.b64decode(prep["data"])))
    signature = ci["content"]["signer_infos"][0]["signature"].native
    stamped = gost_sign._with_signature_timestamp(ci, gost_tsp.timestamp(pki.tsa_url, gost.streebog512(signature)))
    own = _finish(client, csrf, prep, stamped.dump())
    assert own.status_code == 409 and own.json()["code"] == "E-SIGN-FAILED"
    assert own.json()["error"] == gost_other.json()["error"]  # "not signed", in the officer's words
    assert store.get_document(journal, ORDER).status == "queued"
