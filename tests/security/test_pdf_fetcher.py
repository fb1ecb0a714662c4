"""Finding 10: WeasyPrint ran with its default URL fetcher. One `|safe` in a template would have let a tag value
embed local files or call out; now only the package's own templates can be loaded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from weasyprint.urls import URLFetcher

from auditor.reports.pdf.document import templates_dir, write_pdf
from auditor.reports.pdf.fetcher import TemplateFetcher


@pytest.fixture()
def listener() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/svg+xml")
            self.end_headers()
            self.wfile.write(b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_a_hostile_value_in_the_html_fetches_nothing_outside_the_templates(
    listener: tuple[str, list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, hits = listener
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="5" height="5"/>')
    fetched: list[str] = []
    real_fetch = URLFetcher.fetch

    def spy(self: URLFetcher, url: str, headers: object = None) -> object:
        fetched.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(URLFetcher, "fetch", spy)
    # What a `|safe` on a tag value would let through.
    hostile = (
        f'<img src="file:///etc/passwd"><img src="{secret.as_uri()}"><img src="{base}/beacon.svg">'
        f'<link rel="stylesheet" href="{base}/style.css"><div style="background: url({base}/bg.svg)">x</div>'
        f'<img src="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22%3E%3Cimage href=%22{base}/nested%22/%3E%3C/svg%3E">'
    )
    html = f"<html><head><title>t</title></head><body><h1>Audit</h1>{hostile}</body></html>"
    write_pdf(html, tmp_path / "out.pdf", files=[], stamp=datetime(2026, 11, 1, tzinfo=UTC))
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")
    assert hits == []  # the loopback listener was never called
    allowed_root = templates_dir().resolve().as_uri()
    assert all(url.startswith(allowed_root) for url in fetched)  # nothing outside the templates reached a fetch
    refused = " ".join(r.getMessage() for r in caplog.records)
    for url in ("file:///etc/passwd", secret.as_uri(), f"{base}/beacon.svg", f"{base}/style.css", f"{base}/bg.svg"):
        assert f"refused '{url}'" in refused


def test_the_fetcher_allows_only_regular_files_under_the_templates(tmp_path: Path) -> None:
    fetcher = TemplateFetcher(templates_dir())
    css = (templates_dir() / "audit-pack.css").resolve()
    assert fetcher.allows(css.as_uri())
    for url in (
        "file:///etc/passwd",
        (templates_dir() / ".." / "pyproject.toml").as_uri(),
        f"{templates_dir().resolve().as_uri()}/../../etc/passwd",
        f"{templates_dir().resolve().as_uri()}/%2e%2e/%2e%2e/etc/passwd",
        "http://127.0.0.1:1/x",
        "https://example.com/x.png",
        "data:text/plain,hello",
        f"file://evil.example{css}",
        templates_dir().resolve().as_uri(),  # a directory
    ):
        assert not fetcher.allows(url), url
        with pytest.raises(ValueError, match="only auditor's own report templates"):
            fetcher.fetch(url)
