"""auditor: a patch-compliance auditor for Azure Update Manager.

The callable core is :func:`auditor.scan`; the CLI is a thin layer over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from auditor.scan import ScanResult, scan

__all__ = ["ScanResult", "__version__", "scan"]


def __getattr__(name: str) -> Any:
    # Importing the scan pipeline pulls in DuckDB; keep `import auditor` cheap for the CLI's --help.
    if name in ("scan", "ScanResult"):
        from auditor import scan as _scan_module

        return getattr(_scan_module, name)
    raise AttributeError(name)
