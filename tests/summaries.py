"""Typed summaries in tests: read one as summary.json spells it, or build one from a partial dict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from auditor.compliance.summary import Summary
from auditor.reports.json import load_summary, load_tree, plain


def js(summary: Summary | Any) -> Any:
    """The summary (or any part of it) as summary.json spells it: plain dicts and lists."""
    return plain(summary)


def typed(data: Mapping[str, Any]) -> Summary:
    """A typed summary from a dict that may leave keys out: a missing count is 0, text '', a list empty, an
    optional value None, and a missing block is built the same way from nothing."""
    return load_summary(data, fill=_blank)


def _blank(path: str, kind: Any) -> Any:
    origin = get_origin(kind)
    if origin in (UnionType, Union) and type(None) in get_args(kind):
        return None
    if is_dataclass(kind):
        return load_tree(kind, {}, fill=_blank, path=path)
    if origin is tuple:
        return ()
    if origin in (Mapping, dict):
        return {}
    return {int: 0, float: 0.0, str: "", bool: False}[kind]


def assert_same_figures(live: Path, offline: Path) -> None:
    """A live pack's summary.json equals the offline one's in every key but `scope`: the live scan's names what
    Azure showed, the snapshot's what the snapshot recorded; both name the same subscriptions. The text before
    `scope` is compared byte for byte, and every other key by value."""
    texts = [(pack / "summary.json").read_text(encoding="utf-8") for pack in (live, offline)]
    documents = [json.loads(text) for text in texts]
    scopes = [document.pop("scope") for document in documents]
    assert (scopes[0]["kind"], scopes[1]["kind"]) == ("azure", "snapshot")
    scanned = sorted(s["id"] for s in scopes[0]["subscriptions_scanned"])
    assert scanned == sorted(scopes[1]["subscriptions"] or scanned)
    assert texts[0].split('\n  "scope": ')[0] == texts[1].split('\n  "scope": ')[0]
    assert documents[0] == documents[1]
