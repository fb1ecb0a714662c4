"""The only resources WeasyPrint may load while it lays out the PDF: files of the package's own report_templates/.

The HTML is autoescaped, so no value from the data can add a tag today. This is the second wall: were a template
ever to mark a value `|safe`, an `<img src="file:///etc/passwd">` or `http://169.254.169.254/…` in a tag value
still could not embed a local file in the pack or make the scan call out. Every other URL (http, https, ftp, data,
file outside the templates) is refused; WeasyPrint logs the refusal and lays out the page without the resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint.urls import URLFetcher, URLFetcherResponse


class TemplateFetcher(URLFetcher):  # type: ignore[misc]
    """A URL fetcher confined to one directory tree: `file:` URLs of regular files under `root`, nothing else."""

    def __init__(self, root: Path) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()

    def allows(self, url: str) -> bool:
        """Whether `url` names a regular file under the templates (after resolving `..` and symlinks)."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
            return False
        path = Path(url2pathname(unquote(parts.path))).resolve()
        return path.is_file() and self.root in path.parents

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """Fetch a template file; ValueError (a warning in WeasyPrint's log, no fetch) for anything else."""
        if not self.allows(url):
            raise ValueError(f"refused {url[:200]!r}: the PDF may load only auditor's own report templates")
        return super().fetch(url, headers)
