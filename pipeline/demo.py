"""``qamqor demo``: a working setup in the current folder — configuration, a test PKI shaped like Kazakhstan's
(a head, two inspectors, a PSC operator and the provider's system seal of one demo provider and one demo PSC),
and the example events in ``inbox/``.  Everything it makes says it is NOT FOR PRODUCTION.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME, PACKAGE_ROOT
from .errors import StateConflict

EXAMPLES = PACKAGE_ROOT / "examples"


def example_files() -> list[Path]:
    """The example events the demo drops, in story order (``examples/later/`` is left out: it needs a month)."""
    return sorted(p for p in EXAMPLES.glob("*/*") if p.suffix in (".json", ".xml") and p.is_file())


def _officials(files: list[Path]) -> dict[str, Any]:
    """The offices and officials named by the examples, so the demo's certificates match them."""
    from .ingest import parse_event

    found: dict[str, Any] = {"provider": None, "psc": None, "inspectors": [], "head": None, "operator": None}
    for f in files:
        ev = parse_event(f.read_bytes(), filename=f.name)
        raw = ev.raw["data"]
        if ev.event == "application.submitted":
            found["provider"] = found["provider"] or raw["provider"]
            if raw.get("psc"):
                found["psc"] = found["psc"] or raw["psc"]
                found["operator"] = found["operator"] or raw.get("received_by")
        elif ev.event == "inspection.completed":
            for o in raw["inspectors"]:
                if o not in found["inspectors"]:
                    found["inspectors"].append(o)
        elif ev.event == "decision.made":
            found["head"] = found["head"] or raw["signatory"]
    return found


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def make_demo(root: Path, *, force: bool = False) -> Path:
    from signing.testing import create_demo_pki

    config_path = root / CONFIG_NAME
    if config_path.exists() and not force:
        raise StateConflict(f"{config_path} exists", remedy="use --force to make the demo again")
    files = example_files()
    people = _officials(files)
    provider = people["provider"] or {"code": "DEMO-PROVIDER", "bin": "990340000017"}
    psc = people["psc"] or {"code": "DEMO-PSC"}
    pki_dir = root / "var" / "demo-pki"
    if pki_dir.exists():
        shutil.rmtree(pki_dir)
    overrides = {}
    for oid, who in (("head", people["head"]), ("operator", people["operator"])):
        if who:
            overrides[oid] = who
    for i, who in enumerate(people["inspectors"][:2], 1):
        overrides[f"inspector-{i}"] = who
    pki = create_demo_pki(
        pki_dir, provider_bin=provider.get("bin") or "990340000017", psc_bin="990340000025",
        provider_code=provider["code"], psc_code=psc["code"], people=overrides,
    )
    lines = [
        "# qamqor DEMO configuration — NOT FOR PRODUCTION.",
        "# The officers' passwords sit in this file: insecure by design, for trying qamqor out.",
        "",
        "[demo]",
        "insecure = true",
        "",
        "[paths]",
        'inbox = "inbox"',
        'outbox = "outbox"',
        'state = "var"',
        "",
        "[pipeline]",
        "settle_seconds = 0.5",
        "",
        "[signing]",
        'level = "B-B"',
        "# B-T and above need a timestamp authority; the demo PKI has one:",
        "#   .venv/bin/python -m signing.testing.tsa_server --pki var/demo-pki --port 9778",
        '# then: level = "B-T" and tsa_url = "http://127.0.0.1:9778/tsa"',
        f"trust_roots = {_toml_value([str(p.relative_to(root)) for p in pki.trust_roots])}",
        "",
    ]
    for o in pki.officers.values():
        who = overrides.get(o.id, {})
        lines += [
            "[[officers]]",
            f"id = {_toml_value(o.id)}",
            f"name = {_toml_value(o.name)}",
            f"iin = {_toml_value(o.iin or '')}",
            f"role = {_toml_value(o.role)}",
            f"office = {_toml_value(o.office_code)}",
            f"position_kk = {_toml_value(who.get('position_kk', 'Демо лауазымы'))}",
            f"position_ru = {_toml_value(who.get('position_ru', 'Демо-должность'))}",
            'backend = "pkcs12"',
            f"key = {_toml_value(str(Path(o.p12).resolve().relative_to(root.resolve())))}",
            f"secret_env = {_toml_value('QAMQOR_SECRET_' + o.id.upper().replace('-', '_'))}",
            f"secret = {_toml_value(o.password)}  # demo only",
            "",
        ]
    config_path.write_text("\n".join(lines), encoding="utf-8")
    inbox = root / "inbox"
    inbox.mkdir(exist_ok=True)
    for f in files:
        shutil.copyfile(f, inbox / f"{f.parent.name}-{f.name}")
    return config_path
