"""Ingest (pipeline/ingest/): case events in, JSON and XML alike, every input error with its place.

Everything is parsed from bytes in memory; no temporary folders.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from lxml import etree

from forms.tools.tree_to_xml import tree_to_xml
from pipeline.core import events
from pipeline.core.iin import birth_date_from_iin
from pipeline.errors import InputError, InputErrors
from pipeline.ingest import load_json_schema, parse_event, parse_tree

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NS = "urn:kz:qamqor:case-event:1"


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.suffix in (".json", ".xml"))


def story_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("C-*/*") if p.suffix in (".json", ".xml"))


def load(path: Path) -> dict:
    return parse_tree(path.read_bytes(), filename=path.name)


APPLICATION = EXAMPLES / "C-2026-0001" / "01-application.submitted.json"
DECISION = EXAMPLES / "C-2026-0001" / "05-decision.made.json"


def base(path: Path = APPLICATION) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def as_json(tree) -> bytes:
    return json.dumps(tree, ensure_ascii=False, indent=2).encode()


def findings(exc: InputError) -> list[InputError]:
    return exc.errors if isinstance(exc, InputErrors) else [exc]


def reject(data: bytes, filename: str, **kw) -> list[InputError]:
    with pytest.raises(InputError) as e:
        parse_event(data, filename=filename, **kw)
    for f in findings(e.value):  # every finding serialises for the rejection report
        json.dumps(f.to_dict())
        assert f.one_line()
    return findings(e.value)


def reject_both(tree: dict) -> tuple[list[InputError], list[InputError]]:
    return reject(as_json(tree), "e.json"), reject(tree_to_xml(tree), "e.xml")


def line_of(xml: bytes, text: str, nth: int = 1) -> int:
    """The line of the nth occurrence of ``text`` in ``xml``."""
    at = -1
    for _ in range(nth):
        at = xml.index(text.encode(), at + 1)
    return xml[:at].count(b"\n") + 1


# --- the examples ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_is_accepted(path):
    event = parse_event(path.read_bytes(), filename=path.name)
    assert event.case_id == path.parent.name
    assert path.stem.split("-", 1)[1] == event.event
    assert event.raw["format"] == events.FORMAT


def test_json_and_xml_of_one_event_are_the_same_tree():
    pairs = 0
    for p in example_files():
        if p.suffix == ".json":
            for twin in (p.with_suffix(".xml"), EXAMPLES / "twins" / p.parent.name / (p.stem + ".xml")):
                if twin.exists():
                    assert load(p) == load(twin), twin
                    pairs += 1
    assert pairs >= 3


def test_every_event_type_exists_in_json_and_in_xml():
    seen = {(p.stem.split("-", 1)[1], p.suffix) for p in example_files()}
    for event in events.EVENT_TYPES:
        assert (event, ".json") in seen and (event, ".xml") in seen, event


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_xml_form_round_trips(path):
    tree = load(path)
    assert parse_tree(tree_to_xml(tree), filename="x.xml") == tree


def test_stories_sort_in_occurred_at_order():
    for case in sorted(p for p in EXAMPLES.glob("C-*") if p.is_dir()):
        times = [parse_event(p.read_bytes(), filename=p.name).occurred_at for p in sorted(case.iterdir())]
        assert times == sorted(times), case.name
        assert all(t.utcoffset() == dt.timedelta(hours=5) for t in times)


def test_story_a_facts():
    """C-2026-0001: PSC, married, nieces/nephews aged 9 and 15 on the order date → guardianship and trusteeship."""
    app = parse_event(APPLICATION.read_bytes(), filename="a.json").data
    decision = parse_event(DECISION.read_bytes(), filename="d.json").data
    assert app.channel == "psc" and app.psc.code == "PSC-ALM-07" and app.provider.code == "ED-ALM-BOS"
    assert app.applicant.marital_status == "married" and app.spouse is not None and app.one_application_benefit
    ages = sorted(c.age_on(decision.order_date) for c in app.children)
    assert ages == [9, 15]
    assert {c.relation_to_applicant for c in app.children} == {"niece_nephew"}
    codes = {d.code for d in app.documents if d.presented}
    assert {"spouse_consent", "spouse_health_certificate", "psych_training_certificate", "child_opinion"} <= codes
    assert set(decision.children) == {c.iin for c in app.children}
    for person in (app.applicant, app.spouse, *app.children):
        assert birth_date_from_iin(person.iin) == person.birth_date


def test_story_c_is_incomplete():
    path = EXAMPLES / "C-2026-0003" / "01-application.submitted.xml"
    app = parse_event(path.read_bytes(), filename=path.name)
    docs = {d.code: d for d in app.data.documents}
    assert docs["health_certificate"].valid_until < app.occurred_at.date()
    assert not docs["spouse_consent"].presented


def test_schemas_use_the_model_s_vocabularies():
    schema = load_json_schema()
    defs = schema["$defs"]
    assert schema["properties"]["format"]["const"] == events.FORMAT
    assert tuple(schema["properties"]["event"]["enum"]) == events.EVENT_TYPES
    assert tuple(defs["document_code"]["enum"]) == events.DOCUMENT_CODES
    assert tuple(defs["child"]["properties"]["care_loss_reason"]["enum"]) == events.CARE_LOSS_REASONS
    assert tuple(defs["child"]["properties"]["relation_to_applicant"]["enum"]) == events.RELATIONS
    assert tuple(defs["ground"]["properties"]["code"]["enum"]) == events.GROUND_CODES
    assert set(defs["records"]["properties"]) == {"criminal_record", *events.RECORD_FLAGS}
    xsd = etree.parse(str(EXAMPLES.parent / "forms" / "schemas" / "case-event.xsd"))
    xs = {"xs": "http://www.w3.org/2001/XMLSchema"}
    for name, values in [("EventType", events.EVENT_TYPES), ("DocumentCode", events.DOCUMENT_CODES),
                         ("CareLossReason", events.CARE_LOSS_REASONS), ("Relation", events.RELATIONS),
                         ("GroundCode", events.GROUND_CODES)]:
        found = xsd.xpath(f"//xs:simpleType[@name='{name}']//xs:enumeration/@value", namespaces=xs)
        assert tuple(found) == values, name
    assert xsd.getroot().get("targetNamespace") == events.XML_NAMESPACE


# --- reading the file --------------------------------------------------------------------------------------


def test_file_too_large_is_refused_before_parsing():
    (f,) = reject(b"{" * 2000, "big.json", max_bytes=1000)
    assert f.code == "E-FILE-TOO-LARGE" and "2000" in f.message


def test_file_type():
    (f,) = reject(b"{}", "event.txt")
    assert f.code == "E-FILE-TYPE"


@pytest.mark.parametrize(
    "data, filename, line, column",
    [
        (b'{\n  "a": "\xff"\n}', "e.json", 2, 9),
        ('<case_event xmlns="urn:kz:qamqor:case-event:1">\n<x>Иван</x></case_event>'.encode("cp1251"), "e.xml", 2, 4),
        ('<case_event xmlns="urn:kz:qamqor:case-event:1"/>'.encode("utf-16"), "e.xml", 1, 1),
    ],
)
def test_encoding(data, filename, line, column):
    (f,) = reject(data, filename)
    assert f.code == "E-ENCODING"
    assert (f.where.line, f.where.column) == (line, column)


def test_xml_declaring_another_encoding_is_refused():
    (f,) = reject(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<case_event xmlns="urn:kz:qamqor:case-event:1"/>', "e.xml")
    assert f.code == "E-ENCODING" and "ISO-8859-1" in f.message


def test_utf8_bom_is_accepted():
    data = APPLICATION.read_bytes()
    assert parse_tree(b"\xef\xbb\xbf" + data, filename="a.json") == parse_tree(data, filename="a.json")


# --- JSON syntax -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, line, column, words",
    [
        (b'{\n  "format": "qamqor.case-event/1",\n  "event": }', 3, 12, "Expecting value"),
        (b'{\n  "a": NaN\n}', 2, 8, "NaN"),
        (b'{\n  "a": -Infinity\n}', 2, 8, "Infinity"),
        (b'{"a": 1e999}', 1, 7, "out of range"),
        (b'{"a": ' + b"7" * 5000 + b"}", 1, 7, "too long"),
    ],
)
def test_json_syntax(data, line, column, words):
    (f,) = reject(data, "e.json")
    assert f.code == "E-JSON-SYNTAX" and words in f.message
    assert (f.where.line, f.where.column) == (line, column)


def test_json_duplicate_member_is_refused_with_its_pointer():
    text = APPLICATION.read_text(encoding="utf-8").replace('"surname": "Жұмабаева",', '"surname": "Жұмабаева", "surname": "X",')
    (f,) = reject(text.encode(), "e.json")
    assert f.code == "E-JSON-SYNTAX" and '"surname" appears twice' in f.message
    assert f.where.pointer == "/data/applicant/surname"


def test_json_depth_bomb():
    (f,) = reject(b"[" * 200_000 + b"]" * 200_000, "e.json")
    assert f.code == "E-JSON-SYNTAX"
    (f,) = reject(b'{"data": ' + b"[" * 100 + b"]" * 100 + b"}", "e.json")
    assert f.code == "E-SCHEMA" and f.where.pointer.startswith("/data/0/0/0")


# --- XML syntax and forbidden constructs ---------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<case_event xmlns="urn:kz:qamqor:case-event:1"><case_id>&lol9;</case_id></case_event>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE case_event [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<case_event xmlns="urn:kz:qamqor:case-event:1"><case_id>&xxe;</case_id></case_event>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE case_event SYSTEM "http://127.0.0.1:9/evil.dtd">
<case_event xmlns="urn:kz:qamqor:case-event:1"/>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE case_event [ <!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext; ]>
<case_event xmlns="urn:kz:qamqor:case-event:1"/>
"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY],
                         ids=["billion-laughs", "xxe", "external-dtd", "parameter-entity"])
def test_doctype_and_entities_are_refused_not_expanded(data):
    (f,) = reject(data, "e.xml")
    assert f.code == "E-XML-FORBIDDEN" and "DOCTYPE" in f.message
    assert f.where.line == 2
    assert "root:" not in json.dumps(f.to_dict())  # nothing of /etc/passwd leaked into the report


def test_forbidden_inside_a_real_event_even_when_otherwise_valid():
    xml = tree_to_xml(base())
    xml = xml.replace(b"?>\n", b'?>\n<!DOCTYPE case_event [ <!ENTITY n "Nurlan"> ]>\n', 1)
    (f,) = reject(xml, "e.xml")
    assert f.code == "E-XML-FORBIDDEN"


@pytest.mark.parametrize(
    "data, line",
    [
        (b'<?xml-stylesheet href="x.xsl"?>\n<case_event xmlns="urn:kz:qamqor:case-event:1"/>', 1),
        (b'<case_event xmlns="urn:kz:qamqor:case-event:1">\n  <?php system("id"); ?>\n</case_event>', 2),
    ],
)
def test_processing_instructions_are_refused(data, line):
    (f,) = reject(data, "e.xml")
    assert f.code == "E-XML-FORBIDDEN" and "processing instruction" in f.message
    assert f.where.line == line


def test_xml_syntax():
    (f,) = reject(b'<case_event xmlns="urn:kz:qamqor:case-event:1">\n  <format>x</formt>\n</case_event>', "e.xml")
    assert f.code == "E-XML-SYNTAX" and f.where.line == 2
    (f,) = reject(b"", "e.xml")
    assert f.code == "E-XML-SYNTAX"


@pytest.mark.parametrize(
    "data, found",
    [
        (b'<case_event xmlns="urn:kz:qamqor:case-event:2"/>', "urn:kz:qamqor:case-event:2"),
        (b"<case_event/>", "no namespace"),
        (b'<event xmlns="urn:kz:qamqor:case-event:1"/>', "<event>"),
    ],
)
def test_xml_namespace(data, found):
    (f,) = reject(data, "e.xml")
    assert f.code == "E-XML-NAMESPACE" and found in f.message
    assert f.where.line == 1 and f.where.xpath.startswith("/")


def test_xml_prefixed_namespace_any_order_and_comments_are_accepted():
    tree = base()
    xml = tree_to_xml(tree).decode()
    root = etree.fromstring(xml.encode())
    # reverse the envelope's order, add a comment, and re-serialise with a prefix
    root[:] = list(reversed(list(root)))
    root.insert(0, etree.Comment(" from the PSC back office "))
    prefixed = etree.Element(f"{{{NS}}}case_event", nsmap={"q": NS})
    prefixed[:] = list(root)
    assert parse_tree(etree.tostring(prefixed, encoding="UTF-8"), filename="e.xml") == tree


def test_xml_attributes_are_not_part_of_the_contract():
    xml = tree_to_xml(base()).replace(b"<surname>", b'<surname lang="kk">', 1)
    (f,) = reject(xml, "e.xml")
    assert f.code == "E-SCHEMA" and f.where.xpath == "/case_event/data/applicant/surname"
    assert f.where.line == line_of(xml, "<surname")


# --- structure -------------------------------------------------------------------------------------------


def test_format():
    tree = base()
    tree["format"] = "qamqor.case-event/2"
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-FORMAT"
    assert j.where.pointer == "/format"
    assert (x.where.xpath, x.where.line) == ("/case_event/format", 3)
    del tree["format"]
    (j,) = reject(as_json(tree), "e.json")
    assert j.code == "E-FORMAT"


@pytest.mark.parametrize(
    "case_id",
    ["../../etc", "a/b", "x" * 65, "", "C-1\n", "C 1", "{{ 7*7 }}", "C-1/../../x", "ćase", "C-1\x00"],
)
def test_case_id(case_id):
    tree = base()
    tree["case_id"] = case_id
    (j,) = reject(as_json(tree), "e.json")
    assert j.code == "E-CASE-ID" and j.where.pointer == "/case_id"
    if "\x00" not in case_id:  # XML cannot even carry a NUL
        (x,) = reject(tree_to_xml(tree), "e.xml")
        assert x.code == "E-CASE-ID"
        assert (x.where.xpath, x.where.line) == ("/case_event/case_id", 6)


def test_case_id_of_64_characters_is_fine():
    tree = base()
    tree["case_id"] = "C-" + "9" * 62
    assert parse_tree(as_json(tree), filename="e.json")["case_id"] == tree["case_id"]


@pytest.mark.parametrize(
    "where, value, pointer, xpath",
    [
        (("data", "channel"), "pcs", "/data/channel", "/case_event/data/channel"),
        (("data", "applicant", "citizenship"), "XX", "/data/applicant/citizenship",
         "/case_event/data/applicant/citizenship"),
        (("data", "applicant", "marital_status"), "engaged", "/data/applicant/marital_status",
         "/case_event/data/applicant/marital_status"),
        (("data", "children", 1, "care_loss_reason"), "lost", "/data/children/1/care_loss_reason",
         "/case_event/data/children/child[2]/care_loss_reason"),
        (("data", "children", 0, "relation_to_applicant"), "cousin", "/data/children/0/relation_to_applicant",
         "/case_event/data/children/child[1]/relation_to_applicant"),
        (("data", "documents", 2, "code"), "passport", "/data/documents/2/code",
         "/case_event/data/documents/document[3]/code"),
        (("language",), "en", "/language", "/case_event/language"),
    ],
)
def test_vocabulary(where, value, pointer, xpath):
    tree = base()
    node = tree
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-VOCABULARY"
    assert j.where.pointer == pointer and x.where.xpath == xpath
    xml = tree_to_xml(tree)
    assert x.where.line == xml[: xml.index(f">{value}<".encode())].count(b"\n") + 1
    assert f'"{value}"' in j.message


def test_vocabulary_of_ground_codes_and_missing_documents():
    refused = load(EXAMPLES / "C-2026-0002" / "04-decision.made.xml")
    refused["data"]["grounds"][1]["code"] = "code122.14"
    (j,), (x,) = reject_both(refused)
    assert j.code == x.code == "E-VOCABULARY"
    assert j.where.pointer == "/data/grounds/1/code"
    assert x.where.xpath == "/case_event/data/grounds/ground[2]/code"
    checked = load(EXAMPLES / "C-2026-0004" / "02-documents.checked.xml")
    checked["data"]["missing"] = ["income_proof", "salary"]
    (j,), (x,) = reject_both(checked)
    assert j.code == x.code == "E-VOCABULARY"
    assert j.where.pointer == "/data/missing/1" and x.where.xpath == "/case_event/data/missing/document[2]"


@pytest.mark.parametrize(
    "field, value",
    [("occurred_at", "2026-12-14T10:32:00"), ("occurred_at", "2026-12-14 10:32:00+05:00"),
     ("occurred_at", "2026-12-32T10:32:00+05:00"), ("occurred_at", "14.12.2026")],
)
def test_date_time(field, value):
    tree = base()
    tree[field] = value
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-DATE"
    assert j.where.pointer == "/occurred_at"
    assert (x.where.xpath, x.where.line) == ("/case_event/occurred_at", 7)


@pytest.mark.parametrize("value", ["1986-02-30", "22.04.1986", "1986-4-22", "86-04-22"])
def test_date(value):
    tree = base()
    tree["data"]["applicant"]["birth_date"] = value
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-DATE"
    assert j.where.pointer == "/data/applicant/birth_date"
    assert x.where.xpath == "/case_event/data/applicant/birth_date"


def test_iin_format():
    tree = base()
    tree["data"]["children"][0]["iin"] = "17061250230"
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-IIN-FORMAT"
    assert j.where.pointer == "/data/children/0/iin"
    assert x.where.xpath == "/case_event/data/children/child[1]/iin"
    xml = tree_to_xml(tree)
    assert x.where.line == line_of(xml, "<iin>17061250230<")


def test_iin_checksum_in_a_decision():
    tree = base(DECISION)
    good = tree["data"]["children"][1]
    tree["data"]["children"][1] = good[:11] + str((int(good[11]) + 1) % 10)
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-IIN-CHECKSUM"
    assert j.where.pointer == "/data/children/1"
    assert x.where.xpath == "/case_event/data/children/child[2]"
    assert x.where.line == line_of(tree_to_xml(tree), "<child>", 2)


def test_iin_checksum_of_an_official():
    tree = base()
    tree["data"]["received_by"]["iin"] = "780322300455"
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-IIN-CHECKSUM"
    assert j.where.pointer == "/data/received_by/iin"
    assert x.where.xpath == "/case_event/data/received_by/iin"


def test_iin_birthdate():
    tree = base()
    tree["data"]["spouse"]["birth_date"] = "1984-11-04"
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-IIN-BIRTHDATE"
    assert j.where.pointer == "/data/spouse/birth_date"
    assert x.where.xpath == "/case_event/data/spouse/birth_date"
    assert x.where.line == line_of(tree_to_xml(tree), "<birth_date>1984-11-04<")
    assert "1984-11-03" in j.message


def test_schema_missing_and_unexpected_members():
    tree = base()
    del tree["data"]["applicant"]["address"]
    tree["data"]["children"][0]["nickname"] = "Әли"
    j, x = reject_both(tree)
    assert [(f.code, f.where.pointer) for f in j] == [
        ("E-SCHEMA", "/data/applicant/address"), ("E-SCHEMA", "/data/children/0/nickname")]
    assert [(f.code, f.where.xpath) for f in x] == [
        ("E-SCHEMA", "/case_event/data/applicant"), ("E-SCHEMA", "/case_event/data/children/child[1]/nickname")]
    assert "address" in x[0].message


@pytest.mark.parametrize(
    "mutate, pointer",
    [
        (lambda d: d.pop("received_by"), "/data/received_by"),
        (lambda d: d.pop("psc"), "/data/psc"),
        (lambda d: d.pop("spouse"), "/data/spouse"),
        (lambda d: d["applicant"].update(marital_status="divorced"), "/data/spouse"),
        (lambda d: d.update(channel="portal"), "/data/psc"),
    ],
)
def test_conditional_members_of_an_application(mutate, pointer):
    tree = base()
    mutate(tree["data"])
    j, x = reject_both(tree)
    assert j[0].code == x[0].code == "E-SCHEMA"
    assert j[0].where.pointer == pointer
    assert x[0].where.xpath == "/case_event/data"


@pytest.mark.parametrize(
    "mutate, pointer",
    [
        (lambda d: d.pop("order_number"), "/data/order_number"),
        (lambda d: d.pop("supervisor"), "/data/supervisor"),
        (lambda d: d.update(grounds=[{"code": "law19-1.6"}]), "/data/grounds"),
        (lambda d: d.update(outcome="refused"), "/data/grounds"),
    ],
)
def test_conditional_members_of_a_decision(mutate, pointer):
    tree = base(DECISION)
    mutate(tree["data"])
    j, x = reject_both(tree)
    assert j[0].code == x[0].code == "E-SCHEMA"
    assert j[0].where.pointer == pointer
    assert x[0].where.xpath == "/case_event/data"


def test_complete_package_contradiction():
    tree = base(EXAMPLES / "C-2026-0001" / "03-documents.checked.json")
    tree["data"]["missing"] = ["income_proof"]
    j, x = reject_both(tree)
    assert j[0].code == x[0].code == "E-SCHEMA"
    tree["data"].update(complete=False, missing=[])
    j, x = reject_both(tree)
    assert "incomplete package" in j[0].message and "incomplete package" in x[0].message


@pytest.mark.parametrize("text", ["1", "0", "yes", "True"])
def test_xml_booleans_are_true_or_false(text):
    xml = tree_to_xml(base()).replace(b"<one_application_benefit>true<", f"<one_application_benefit>{text}<".encode())
    (x,) = reject(xml, "e.xml")
    assert x.code == "E-SCHEMA" and x.where.xpath == "/case_event/data/one_application_benefit"


def test_xml_numbers_are_coerced():
    tree = load(EXAMPLES / "C-2026-0001" / "04-inspection.completed.xml")
    housing = tree["data"]["housing"]
    assert housing["rooms"] == 4 and isinstance(housing["rooms"], int)
    assert housing["total_area_m2"] == 92.4
    assert tree["data"]["income"]["applicant_monthly"] == 420000
    xml = (EXAMPLES / "C-2026-0001" / "04-inspection.completed.xml").read_bytes().replace(
        b"<rooms>4</rooms>", b"<rooms>four</rooms>")
    (x,) = reject(xml, "e.xml")
    assert x.code == "E-SCHEMA" and x.where.xpath == "/case_event/data/housing/rooms"
    assert x.where.line == line_of(xml, "<rooms>")


def test_repeated_document_and_child():
    tree = base()
    tree["data"]["documents"].append({"code": "income_proof", "presented": False})
    tree["data"]["children"].append(copy.deepcopy(tree["data"]["children"][0]))
    j, x = reject_both(tree)
    assert {f.where.pointer for f in j} == {"/data/documents/10/code", "/data/children/2/iin"}
    assert {f.where.xpath for f in x} == {"/case_event/data/documents/document[11]/code",
                                          "/case_event/data/children/child[3]/iin"}


def test_every_finding_at_once_in_document_order():
    tree = base()
    tree["case_id"] = "../x"
    tree["data"]["applicant"]["iin"] = "123"
    tree["data"]["children"][1]["birth_date"] = "2011-09-04"
    tree["data"]["documents"][0]["code"] = "passport"
    j, x = reject_both(tree)
    assert [f.code for f in j] == ["E-CASE-ID", "E-IIN-FORMAT", "E-IIN-BIRTHDATE", "E-VOCABULARY"]
    assert [f.where.pointer for f in j] == ["/case_id", "/data/applicant/iin", "/data/children/1/birth_date",
                                            "/data/documents/0/code"]
    assert [f.code for f in x] == [f.code for f in j]
    assert [f.where.line for f in x] == sorted(f.where.line for f in x)
    with pytest.raises(InputErrors) as e:
        parse_event(as_json(tree), filename="e.json")
    assert e.value.code == "E-CASE-ID" and len(e.value.to_dict()["errors"]) == 4
    assert "(+3 more)" in e.value.one_line()


def test_xml_reports_iin_findings_even_when_the_structure_is_wrong():
    tree = base()
    tree["data"]["applicant"]["iin"] = "780322300455"
    tree["data"]["applicant"]["nickname"] = "x"
    (j1, j2), (x1, x2) = reject_both(tree)
    assert {j1.code, j2.code} == {x1.code, x2.code} == {"E-SCHEMA", "E-IIN-CHECKSUM"}


def test_template_syntax_is_just_text():
    tree = base()
    tree["data"]["applicant"]["surname"] = "{{ 7*7 }}"
    tree["data"]["applicant"]["given_name"] = "{% include '/etc/passwd' %}"
    tree["data"]["children"][0]["residence"] = "<script>alert(1)</script> & ${jndi:ldap://x}"
    for data, name in ((as_json(tree), "e.json"), (tree_to_xml(tree), "e.xml")):
        event = parse_event(data, filename=name)
        assert event.data.applicant.surname == "{{ 7*7 }}"
        assert event.data.children[0].residence.startswith("<script>")


def test_control_characters_in_names_are_refused():
    tree = base()
    tree["data"]["applicant"]["surname"] = "Жұмабаева\nX"
    (j,) = reject(as_json(tree), "e.json")
    assert j.code == "E-SCHEMA" and j.where.pointer == "/data/applicant/surname"


def test_event_from_dict_gets_typed_values_from_xml():
    path = EXAMPLES / "C-2026-0001" / "04-inspection.completed.xml"
    event = parse_event(path.read_bytes(), filename=path.name)
    assert event.occurred_at == dt.datetime(2026, 12, 21, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    assert event.data.act_date == dt.date(2026, 12, 21)
    assert len(event.data.inspectors) == 2 and len(event.raw["data"]["household"]) == 4
    path = EXAMPLES / "C-2026-0001" / "02-documents.delivered.xml"
    assert parse_event(path.read_bytes(), filename=path.name).data.delivered_at.day == 15


def test_unknown_event_type():
    tree = base()
    tree["event"] = "application.withdrawn"
    (j,), (x,) = reject_both(tree)
    assert j.code == x.code == "E-VOCABULARY" and j.where.pointer == "/event"


def test_json_events_do_not_load_the_xml_schema_library():
    # issue 13: xmlschema costs ≈0.17 s of CPU at every process start (a driver, a node, a CLI command); it is
    # loaded with the XSD at the first XML input, so a burst of JSON events never pays for it
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    script = (
        "import sys; from pathlib import Path\n"
        "import pipeline.cli, pipeline.runner, pipeline.cluster.node\n"
        "from pipeline.ingest import parse_event\n"
        "json_path = next(Path('examples').rglob('01-application.submitted.json'))\n"
        "parse_event(json_path.read_bytes(), filename=json_path.name)\n"
        "print('xmlschema' in sys.modules)\n"
        "xml_path = Path('examples/C-2026-0003/01-application.submitted.xml')\n"
        "parse_event(xml_path.read_bytes(), filename=xml_path.name)\n"
        "print('xmlschema' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"], out.stdout + out.stderr
