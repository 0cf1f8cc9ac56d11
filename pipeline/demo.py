"""``qamqor demo``: a working setup in the current folder — configuration, a test PKI shaped like Kazakhstan's
(a head, two inspectors, a PSC operator and the provider's system seal of one demo provider and one demo PSC),
and the example events in ``inbox/``.  Everything it makes says it is NOT FOR PRODUCTION.

The demo signs at PAdES B-LTA (issue 12 #6: what an archive can live with) with its own timestamp authority,
OCSP responder and CRLs: certomancer's Animator for the demo PKI (each key loaded once:
:mod:`signing.testing.animator`), on 127.0.0.1 at the port its certificates name.  It needs no daemon and no
step of its own: the first demo command that signs with it (``qamqor run``, ``queue approve``, the desk; from
B-T up, or with ``check_revocation``: :func:`needs_services`) starts it as a child process
(:func:`ensure_services`), unless something already answers on that port (another demo command's), and it ends
with that command.
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
#: ports of those not yet seen listening
_starting: set[int] = set()


def stop_services() -> None:
    """Stop the demo services this process started (at its exit, or when a benchmark is done with a site)."""
    for port, proc in list(_services.items()):
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        _services.pop(port, None)
        _starting.discard(port)


def needs_services(config) -> bool:
    """Whether a signature asks the demo's servers anything: a timestamp from B-T up (and status data from B-LT),
    or the signer's status with ``check_revocation``.  At B-B without it nothing waits for them (issue 13: a
    burst's first documents need not wait the servers' start-up)."""
    return config.signing.level != "B-B" or bool(config.signing.check_revocation)


def ensure_services(config, *, wait: bool = True) -> int | None:
    """The demo's TSA and OCSP/CRL server (module docstring), started if its signatures need it
    (:func:`needs_services`) and nothing answers on its port yet; with ``wait`` (the default) returns once it (and
    its GOST twin, for ``qamqor demo --gost``) listens.  ``wait=False`` starts them and returns at once: the
    driver does that first and waits only before its first render.

    Only for an insecure demo configuration whose ``tsa_url`` is on 127.0.0.1 and whose state folder holds the
    demo PKI's certomancer configuration; returns the port, or None when this is not such a demo or nothing
    needs the server."""
    from urllib.parse import urlsplit

    if not needs_services(config):
        return None
    url = urlsplit(config.signing.tsa_url or "")
    if config.demo:
        _ensure_gost_services(config, wait)  # issue 16: the GOST PKI's TSA, OCSP and CRLs (qamqor demo --gost)
    pki_config = config.state / "demo-pki" / "certomancer.yml"
    if not config.demo or url.hostname != "127.0.0.1" or not url.port or not pki_config.is_file():
        return None
    port = url.port
    if not re.search(rf"127\.0\.0\.1:{port}\b", pki_config.read_text(encoding="utf-8")):
        return None  # a TSA of its own on another port (a drill, a test): not the demo PKI's server to start
    # certomancer's Animator, each signing key loaded once (signing.testing.animator: ≈36 ms a response less)
    cmd = [sys.executable, "-m", "signing.testing.animator", "--config", str(pki_config), "animate", "--aiohttp",
           "--no-web-ui", "--port", str(port)]
    _serve(config, port, cmd, pki_config.parent, "the demo's TSA and OCSP server", wait)
    return port


def _ensure_gost_services(config, wait: bool) -> None:
    """``qamqor demo --gost``: the GOST services (:mod:`signing.testing.gost_services`) on the port of
    ``gost_tsa_url``, started as the RSA ones are, when nothing answers there yet."""
    from urllib.parse import urlsplit

    url = urlsplit(config.signing.gost_tsa_url or "")
    if url.hostname != "127.0.0.1" or not url.port:
        return  # not a GOST demo: nothing to start (nor the GOST modules to import, #13's start-up)
    from signing.testing.gost_demo import services_command

    cmd = services_command(config.state / "demo-pki" / "gost", url.port or 0)
    if cmd is not None:
        _serve(config, url.port, cmd, config.state, "the demo's GOST services", wait)


def _serve(config, port: int, cmd: list[str], cwd: Path, what: str, wait: bool) -> None:
    """Start ``cmd`` as this process's child unless it runs already (this process's) or something answers on
    ``port`` (another demo command's); with ``wait``, until it listens."""
    proc = _services.get(port)
    if proc is None or proc.poll() is not None:
        if _listening(port):
            return
        log_file = open(config.state / "demo-services.log", "ab")  # noqa: SIM115 - the child's, for its life
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        log_file.close()
        _services[port] = proc
        _starting.add(port)
        if len(_services) == 1:
            atexit.register(stop_services)
    if not wait or port not in _starting:
        return
    deadline = time.monotonic() + SERVICES_START_S
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            from .errors import ConfigError

            raise ConfigError(f"{what} did not start on 127.0.0.1:{port}",
                              remedy=f"see {config.state / 'demo-services.log'}")
        time.sleep(0.1)  # waiting for a child server to listen
    _starting.discard(port)


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


def _demo_verify_url() -> str:
    """The QR address of the demo's documents: the public check page (``/v/…``) where ``qamqor serve`` listens by
    default (``[web] host`` and ``port``)."""
    from .config import WebTable

    web = WebTable()
    return f"http://{web.host}:{web.port}/v/{{document_id}}?k={{token}}"


def make_demo(root: Path, *, force: bool = False, gost: bool = False) -> Path:
    """``gost``: the head signs with a GOST 2015/512 key of the GOST test PKI (issue 16), the others RSA."""
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
    gost_demo = None
    if gost:
        from signing.testing.gost_demo import free_port, make_gost_demo

        gost_demo = make_gost_demo(pki_dir / "gost", head=pki.officers["head"], port=free_port())
    roots = [str(p.relative_to(root)) for p in pki.trust_roots]
    roots += [str(gost_demo.root.relative_to(root))] if gost_demo else []
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
        "[service]",
        "# the QR code opens the public check page of the local desk (`qamqor serve`), not a public address",
        f"verify_url = {_toml_value(_demo_verify_url())}",
        "",
        "[signing]",
        "# B-LTA, as an archive needs (issue 12): the demo's own TSA, OCSP and CRLs on 127.0.0.1, started by the",
        "# first demo command that signs (certomancer's Animator for var/demo-pki; its log: var/demo-services.log)",
        'level = "B-LTA"',
        f"tsa_url = {_toml_value(pki.tsa_url)}",
        f"trust_roots = {_toml_value(roots)}",
        *([f"gost_tsa_url = {_toml_value(gost_demo.tsa_url)}  # the GOST test PKI's TSA (the head's key)"]
          if gost_demo else []),
        "",
    ]
    def key_file(o) -> Path:  # --gost: the head's GOST key file (issue 16), the others' PKCS#12
        return gost_demo.key_file if gost_demo and o.id == "head" else Path(o.p12)

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
            f"key = {_toml_value(str(Path(key_file(o)).resolve().relative_to(root.resolve())))}",
            f"secret_env = {_toml_value('QAMQOR_SECRET_' + o.id.upper().replace('-', '_'))}",
            f"secret = {_toml_value(gost_demo.password if gost_demo and o.id == 'head' else o.password)}"
            "  # demo only",
            "",
        ]
    accounts = demo_web_accounts(pki.officers.values())
    lines += _web_account_lines(accounts)
    config_path.write_text("\n".join(lines), encoding="utf-8")
    print_web_accounts(accounts)
    inbox = root / "inbox"
    inbox.mkdir(exist_ok=True)
    for f in files:
        shutil.copyfile(f, inbox / f"{f.parent.name}-{f.name}")
    return config_path


# --- the desk's demo accounts (issue 15 #1) ------------------------------------------------------------------
#: who signs in to the demo desk: every officer but the provider's system seal (it is a key, not a person)
WEB_ROLES = ("head", "inspector", "operator")


def demo_web_accounts(officers: Any) -> list[dict[str, str]]:
    """One desk account per demo officer, with a known demo password (``<id>-demo``): NOT FOR PRODUCTION."""
    return [{"officer": o.id, "name": o.name, "iin": o.iin or "", "role": o.role, "password": f"{o.id}-demo"}
            for o in officers if o.role in WEB_ROLES]


def _web_account_lines(accounts: list[dict[str, str]]) -> list[str]:
    # the desk's hashes (pipeline/web/passwords.py), without importing the desk
    from argon2 import PasswordHasher

    hash_password = PasswordHasher().hash
    lines = ["# the desk (qamqor serve): sign in by login or IIN; the demo passwords are printed by `qamqor demo`"]
    for a in accounts:
        lines += ["[[web.accounts]]", f"officer = {_toml_value(a['officer'])}  # password: {a['password']} (demo only)",
                  f"password_hash = {_toml_value(hash_password(a['password']))}", ""]
    return lines


def print_web_accounts(accounts: list[dict[str, str]], out: Any = None) -> None:
    """The demo desk's accounts, once, grouped by role (the output of ``qamqor demo`` and so of ``make run``)."""
    out = out or sys.stdout
    print("the desk (qamqor serve, http://127.0.0.1:8480): sign in by login or IIN — demo passwords:", file=out)
    for role in WEB_ROLES:
        for a in (a for a in accounts if a["role"] == role):
            print(f"  {role:<10} login {a['officer']:<12} IIN {a['iin']:<12}  password {a['password']}  ({a['name']})",
                  file=out)
