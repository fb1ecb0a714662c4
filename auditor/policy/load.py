"""Read a policies/ tree: definitions/*.json, initiatives/*.json, assignments/<ring>.toml, exemptions/*.toml and
builtins.json.

Reading never raises for a bad file: parse problems are collected, so that ``validate`` can report every
problem at once. A directory without that layout (such as a folder of built-in definitions) is read flat.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from auditor.bounded import NestedTooDeeply, loads
from auditor.jsonvalue import JsonObject, JsonValue, as_object
from auditor.package_data import data_dir
from auditor.policy import PolicyError
from auditor.policy.ids import BUILTIN_PREFIX, BUILTIN_SET_PREFIX, GUID_RE, id_key

DocKind = Literal["definition", "set"]
LAYOUT: dict[str, DocKind] = {"definitions": "definition", "initiatives": "set"}
CATALOG_FILE = "builtins.json"
EXEMPTIONS_DIR = "exemptions"


@dataclass(frozen=True)
class Document:
    """One policy definition or policy set definition file."""

    path: Path
    kind: DocKind
    data: JsonObject

    @property
    def name(self) -> str:
        """The `name` in the file, or the file stem when it has none."""
        name = self.data.get("name")
        return name if isinstance(name, str) else self.path.stem

    @property
    def properties(self) -> JsonObject:
        """The `properties` object (empty when missing or malformed)."""
        return as_object(self.data.get("properties"))

    @property
    def builtin(self) -> bool:
        """True for Microsoft's own definitions (policyType BuiltIn): our house rules do not apply to them."""
        return str(self.properties.get("policyType", "")).casefold() == "builtin"


@dataclass(frozen=True)
class RingFile:
    """assignments/<ring>.toml."""

    ring: str
    path: Path
    data: Mapping[str, object]
    """The TOML document, as read (validate checks its shape)."""


@dataclass(frozen=True)
class ExemptionFile:
    """exemptions/<name>.toml: one policy exemption; its name is the file name."""

    name: str
    path: Path
    data: Mapping[str, object]
    """The TOML document, as read (validate checks its shape)."""


@dataclass(frozen=True)
class LoadProblem:
    """A file that could not be parsed."""

    path: Path
    pointer: str
    message: str


@dataclass(frozen=True)
class BuiltinCatalog:
    """Built-in definitions known by id (policies/builtins.json)."""

    path: Path | None
    definitions: Mapping[str, JsonObject]
    sets: Mapping[str, JsonObject]

    def definition(self, definition_id: str) -> JsonObject | None:
        """The catalogue entry of a built-in definition id, if known."""
        return self._find(definition_id, BUILTIN_PREFIX, self.definitions)

    def set_definition(self, set_id: str) -> JsonObject | None:
        """The catalogue entry of a built-in initiative id, if known."""
        return self._find(set_id, BUILTIN_SET_PREFIX, self.sets)

    @staticmethod
    def _find(value: str, prefix: str, table: Mapping[str, JsonObject]) -> JsonObject | None:
        if not id_key(value).startswith(prefix.casefold()):
            return None
        name = value.rstrip("/")[len(prefix) :].lower()
        return table.get(name) if GUID_RE.match(name) else None


@dataclass(frozen=True)
class PolicyTree:
    """Everything under a policies/ directory."""

    root: Path
    documents: tuple[Document, ...]
    rings: tuple[RingFile, ...]
    catalog: BuiltinCatalog
    problems: tuple[LoadProblem, ...]
    exemptions: tuple[ExemptionFile, ...] = ()

    def local(self, kind: DocKind, name: str) -> Document | None:
        """Our own (not built-in) document of that kind and name, matched ignoring case."""
        for doc in self.documents:
            if doc.kind == kind and not doc.builtin and doc.name.casefold() == name.casefold():
                return doc
        return None

    def ring(self, name: str) -> RingFile | None:
        """assignments/<name>.toml, if present."""
        return next((ring for ring in self.rings if ring.ring == name), None)


def _read_json(path: Path, problems: list[LoadProblem]) -> JsonValue:
    try:
        parsed: JsonValue = loads(path.read_text(encoding="utf-8"))
        return parsed
    except json.JSONDecodeError as exc:
        problems.append(LoadProblem(path, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"))
    except NestedTooDeeply as exc:
        problems.append(LoadProblem(path, "", str(exc)))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(LoadProblem(path, "", f"cannot read: {exc}"))
    return None


def _read_toml(path: Path, problems: list[LoadProblem]) -> Mapping[str, object] | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        problems.append(LoadProblem(path, "", f"invalid TOML: {exc}"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(LoadProblem(path, "", f"cannot read: {exc}"))
    return None


def _document(path: Path, kind: DocKind | None, problems: list[LoadProblem]) -> Document | None:
    data = _read_json(path, problems)
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append(LoadProblem(path, "", "a policy file must hold one JSON object"))
        return None
    if kind is None:
        properties = data.get("properties")
        kind = "set" if isinstance(properties, dict) and "policyDefinitions" in properties else "definition"
    return Document(path, kind, data)


def load_catalog(path: Path | None = None) -> BuiltinCatalog:
    """Read builtins.json (the shipped one by default)."""
    path = path or data_dir("policies") / CATALOG_FILE
    try:
        data: JsonValue = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return BuiltinCatalog(None, {}, {})
    except (OSError, ValueError) as exc:
        raise PolicyError(
            f"{path}: cannot read the built-in catalogue: {exc}", "restore policies/builtins.json"
        ) from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: the built-in catalogue is not a JSON object", "restore policies/builtins.json")
    return BuiltinCatalog(path, _entries(data.get("policyDefinitions")), _entries(data.get("policySetDefinitions")))


def _entries(table: JsonValue) -> dict[str, JsonObject]:
    return {key.lower(): entry for key, entry in as_object(table).items() if isinstance(entry, dict)}


def load_tree(path: Path) -> PolicyTree:
    """Read a policies/ tree, a flat folder of policy JSON files, or a single file."""
    if not path.exists():
        raise PolicyError(f"{path} does not exist", "pass the policies/ directory or a policy file")
    problems: list[LoadProblem] = []
    docs: list[Document | None] = []
    rings: list[RingFile] = []
    exemptions: list[ExemptionFile] = []
    root = path if path.is_dir() else path.parent
    if path.is_file():
        if path.suffix == ".toml":
            data = _read_toml(path, problems)
            rings.extend([RingFile(path.stem, path, data)] if data is not None else [])
        else:
            docs.append(_document(path, None, problems))
    elif any((path / folder).is_dir() for folder in (*LAYOUT, "assignments", EXEMPTIONS_DIR)):
        for folder, kind in LAYOUT.items():
            docs.extend(_document(file, kind, problems) for file in sorted((path / folder).glob("*.json")))
        for file in sorted((path / "assignments").glob("*.toml")):
            data = _read_toml(file, problems)
            if data is not None:
                rings.append(RingFile(file.stem, file, data))
        for file in sorted((path / EXEMPTIONS_DIR).glob("*.toml")):
            data = _read_toml(file, problems)
            if data is not None:
                exemptions.append(ExemptionFile(file.stem, file, data))
    else:
        docs.extend(
            _document(file, None, problems) for file in sorted(path.glob("*.json")) if file.name != CATALOG_FILE
        )
    own_catalog = root / CATALOG_FILE
    catalog = load_catalog(own_catalog if own_catalog.is_file() else None)
    return PolicyTree(
        root, tuple(doc for doc in docs if doc), tuple(rings), catalog, tuple(problems), tuple(exemptions)
    )
