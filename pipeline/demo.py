"""``qamqor demo``: a working setup in the current folder — configuration, a test PKI shaped like Kazakhstan's
(a head, two inspectors, a PSC operator and the provider's system seal of one demo provider and one demo PSC),
and the example events in ``inbox/``.  Everything it makes says it is NOT FOR PRODUCTION.

The demo signs at PAdES B-LTA (issue 12 #6: what an archive can live with) with its own timestamp authority,
OCSP responder and CRLs: certomancer's Animator for the demo PKI, on 127.0.0.1 at the port its certificates
name.  It needs no daemon and no step of its own: the first demo command that signs (``qamqor run``, ``queue
approve``, the desk) or renews starts it as a child process (:func:`ensure_services`), unless something already
answers on that port (another demo command's), and it ends with that command.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME, PACKAGE_ROOT
from .errors import StateConflict

EXAMPLES = PACKAGE_ROOT / "examples"
#: how long the demo's TSA and OCSP server may take to listen (the port: :func:`_demo_port`)
SERVICES_START_S = 30.0


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _demo_port() -> int:
    """A port for this demo's services.  Each demo PKI gets its own, free when it is made: two demos on one
    machine (the test suite's parallel workers make one each) would otherwise both name 9777 in their
    certificates, and one's TSA would answer for the other's, whose signatures then fail."""
    if os.environ.get("QAMQOR_DEMO_PORT"):
        return int(os.environ["QAMQOR_DEMO_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_services: dict[int, subprocess.Popen] = {}


def _stop_services() -> None:
    for port, proc in list(_services.items()):
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        _services.pop(port, None)


def ensure_services(config) -> int | None:
    """The demo's TSA and OCSP/CRL server (module docstring), started if nothing answers on its port yet.

    Only for an insecure demo configuration whose ``tsa_url`` is on 127.0.0.1 and whose state folder holds the
    demo PKI's certomancer configuration; returns the port, or None when this is not such a demo."""
    from urllib.parse import urlsplit

    url = urlsplit(config.signing.tsa_url or "")
    pki_config = config.state / "demo-pki" / "certomancer.yml"
    if not config.demo or url.hostname != "127.0.0.1" or not url.port or not pki_config.is_file():
        return None
    port = url.port
    if not re.search(rf"127\.0\.0\.1:{port}\b", pki_config.read_text(encoding="utf-8")):
        return None  # a TSA of its own on another port (a drill, a test): not the demo PKI's server to start
    proc = _services.get(port)
    if (proc is not None and proc.poll() is None) or _listening(port):
        return port
    exe = Path(sys.executable).with_name("certomancer")
    cmd = [str(exe) if exe.exists() else "certomancer", "--config", str(pki_config), "animate", "--aiohttp",
           "--no-web-ui", "--port", str(port)]
    log_file = open(config.state / "demo-services.log", "ab")  # noqa: SIM115 - the child's, for its life
    proc = subprocess.Popen(cmd, cwd=pki_config.parent, stdout=log_file, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log_file.close()
    _services[port] = proc
    if len(_services) == 1:
        atexit.register(_stop_services)
    deadline = time.monotonic() + SERVICES_START_S
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            from .errors import ConfigError

            raise ConfigError(f"the demo's TSA and OCSP server did not start on 127.0.0.1:{port}",
                              remedy=f"see {config.state / 'demo-services.log'}")
        time.sleep(0.1)  # waiting for a child server to listen
    return port


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
        url_prefix=f"http://127.0.0.1:{_demo_port()}",
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
        "# B-LTA, as an archive needs (issue 12): the demo's own TSA, OCSP and CRLs on 127.0.0.1, started by the",
        "# first demo command that signs (certomancer's Animator for var/demo-pki; its log: var/demo-services.log)",
        'level = "B-LTA"',
        f"tsa_url = {_toml_value(pki.tsa_url)}",
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
