"""Safe rendering: data prints as written (sandbox + autoescape), and WeasyPrint fetches only forms/ assets."""

import socket
import threading

import pytest
from formtools import _render, context_with, flat
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from weasyprint import HTML

from forms.render import FORMS_DIR


@pytest.mark.parametrize("surname", ["{{ 7*7 }}", "<b>Жұмабек</b>", "{% raw %}x{% endraw %}", "Қ&amp;Ұ"])
def test_data_prints_exactly_as_written(renderer, tmp_path, surname):
    ctx = context_with("order", "kk", application__applicant__surname=surname)
    assert surname in flat(_render(renderer, tmp_path, "order", "kk", ctx).text())


def test_templates_run_in_a_sandbox(renderer):
    assert isinstance(renderer.env, SandboxedEnvironment) and renderer.env.autoescape
    with pytest.raises(SecurityError):
        renderer.env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


@pytest.fixture
def listener():
    """A local TCP server that records whether anyone connected (it must stay untouched)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits = []

    def serve():
        try:
            conn, _ = server.accept()
            hits.append(conn)
            conn.close()
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    server.close()
    thread.join()


def test_fetcher_refuses_network_and_files_outside_forms(renderer, listener, tmp_path):
    port, hits = listener
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG")
    html = (f'<img src="http://127.0.0.1:{port}/x.png"><img src="{outside.as_uri()}">'
            f'<img src="file:///etc/hostname"><link rel="stylesheet" href="../../pyproject.toml">'
            f'<img src="../fonts/LiberationSerif-Regular.ttf">')
    fetcher = renderer.fetcher
    fetcher.refused.clear()
    HTML(string=html, base_url=renderer.base_url, url_fetcher=fetcher).render()
    assert not hits, "the renderer opened a network connection"
    refused = " ".join(fetcher.refused)
    assert f"127.0.0.1:{port}" in refused and "secret.png" in refused and "/etc/hostname" in refused
    assert "pyproject.toml" in refused
    assert "LiberationSerif-Regular.ttf" not in refused          # the project's own asset is allowed


def test_fetcher_allows_only_forms_files_and_data(renderer):
    fetcher = renderer.fetcher
    font = (FORMS_DIR / "fonts" / "DejaVuSerif.ttf").as_uri()
    assert fetcher(font).read(4) == (FORMS_DIR / "fonts" / "DejaVuSerif.ttf").read_bytes()[:4]
    assert fetcher("data:text/plain,hi").read() == b"hi"
    for url in ("https://example.com/a.css", "ftp://example.com/x", "file:///etc/passwd",
                (FORMS_DIR / "fonts" / ".." / ".." / "pyproject.toml").as_uri()):
        with pytest.raises(ValueError, match="refused"):
            fetcher(url)
