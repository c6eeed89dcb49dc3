"""The source registry: known sources (ministries, agencies, outlets, international bodies) and their alignment.

Two layers: the bundled registry (`compliance/sources.yaml`) and the monitor's own registry, a
`sources.yaml` beside the store (or a path given, or the `sources` setting: `COMPLIANCE_SOURCES`). The monitor's
entries take precedence: a user entry that shares any name or alias with a bundled entry replaces
that bundled entry, aliases included. Names match case-insensitively, with runs of whitespace read
as one space.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .agreement import INDEPENDENT, PARTY_CODE
from .errors import InputError, StoreError
from .resources import read_small_text
from .yamlfile import load_yaml

REGISTRY_FILE = "sources.yaml"
MAX_REGISTRY_BYTES = 5_000_000
_PARTY_RE = re.compile(PARTY_CODE)
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_USER_HEADER = """\
# Source registry of this monitor: who a source is aligned with (a party code or `independent`).
# Entries here take precedence over the registry bundled with `compliance`.
# Add entries with: compliance sources add "NAME" --party CODE [--alias OTHER-NAME ...]
"""


def normalise(name: str) -> str:
    """The form names are compared in: trimmed, case-folded, whitespace runs as one space."""
    return _SPACE.sub(" ", name).strip().casefold()


def _name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = _SPACE.sub(" ", value).strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > 1_000:
        raise ValueError(f"is {len(text):,} characters; at most 1,000")
    if _CONTROL.search(text):
        raise ValueError("contains a control character")
    return text


def check_party(code: Any) -> str:
    """A party code (pattern of spec/observations.md) or `independent`; ValueError otherwise."""
    if not isinstance(code, str) or not (code == INDEPENDENT or _PARTY_RE.match(code)):
        raise ValueError(f"{code!r} is not a party code (pattern {PARTY_CODE}) or 'independent'")
    return code


class SourceEntry(BaseModel):
    """One known source: its name, alignment, other names, and optionally what it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    party: str
    aliases: list[str] = Field(default_factory=list)
    type: str | None = None
    note: str | None = None
    reason: str | None = None  # one line: why this alignment (audit trail for the monitor's judgment)

    @field_validator("name", "type", "note", "reason", mode="before")
    @classmethod
    def _text(cls, value: Any, info: ValidationInfo) -> Any:
        return None if value is None else _name(value)

    @field_validator("aliases", mode="before")
    @classmethod
    def _aliases(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError("must be a list of names")
        return [_name(item) for item in value]

    @field_validator("party", mode="before")
    @classmethod
    def _party(cls, value: Any) -> Any:
        return check_party(value)

    def keys(self) -> list[str]:
        """The normalised name and aliases."""
        return [normalise(self.name), *(normalise(a) for a in self.aliases)]


@dataclass(frozen=True)
class Found:
    """A registry match: the entry, and which registry it came from (`bundled`, or the user file's path)."""

    entry: SourceEntry
    origin: str


REGISTRY_SHAPE = "a source registry is a YAML mapping with one key, `sources`, holding a list of entries (name, party, aliases)"
ENTRY_FIELDS = "name, party, aliases, type, note, reason"


def parse_registry(text: str, where: str) -> list[SourceEntry]:
    """Entries of a registry file's text (a mapping with one key, `sources`, a list of entries); errors name
    `where:line`, the field path (`sources.3.party`) and the reason."""
    doc = load_yaml(text, where, InputError)
    if doc.data is None:
        return []
    data = doc.mapping(REGISTRY_SHAPE)
    for key in data:
        if key != "sources":
            raise doc.at((key,), "unknown key (a source registry has one key, `sources`)")
    items = data.get("sources") or []
    if not isinstance(items, list):
        raise doc.at(("sources",), "must be a list of entries (name, party, aliases)")
    entries: list[SourceEntry] = []
    seen: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise doc.at(("sources", index), "an entry must be a mapping (name, party, aliases)")
        try:
            entry = SourceEntry.model_validate(item)
        except ValidationError as error:
            first = error.errors()[0]
            reason = "is required" if first["type"] == "missing" else first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                reason = f"unknown field (valid fields: {ENTRY_FIELDS})"
            raise doc.at(("sources", index, *first["loc"]), reason) from None
        for position, key in enumerate(entry.keys()):  # the name, then the aliases
            if key in seen and seen[key] != entry.name:
                field = ("name",) if position == 0 else ("aliases", position - 1)
                raise doc.at(("sources", index, *field),
                             f"name {key!r} of {entry.name!r} is already a name of {seen[key]!r} in this registry")
            seen[key] = entry.name
        entries.append(entry)
    return entries


def _read(path: Path) -> str:
    return read_small_text(path, MAX_REGISTRY_BYTES, InputError)


def bundled_path() -> Path:
    """The registry shipped with the package."""
    return Path(__file__).resolve().parent / REGISTRY_FILE


def user_registry_path(registry: str | Path | None = None, store: str | None = None) -> Path:
    """The monitor's registry: `registry` if given, else the `sources` setting (COMPLIANCE_SOURCES), else
    `sources.yaml` beside the store (default: the `store` setting)."""
    from .settings import load

    settings = load({"sources": registry, "store": store})
    if settings.sources is not None:
        return settings.sources
    store = settings.store
    if store == "sample":
        return Path("observations") / REGISTRY_FILE
    return Path(store).expanduser().parent / REGISTRY_FILE


class Registry:
    """The bundled entries and the monitor's, looked up by any name or alias; the monitor's win."""

    def __init__(self, bundled: Iterable[SourceEntry], user: Iterable[SourceEntry] = (), user_path: Path | None = None):
        self.bundled = list(bundled)
        self.user = list(user)
        self.user_path = user_path
        self._user_index = {key: e for e in self.user for key in e.keys()}
        self._bundled_index: dict[str, SourceEntry] = {}
        for entry in self.bundled:
            for key in entry.keys():
                self._bundled_index.setdefault(key, entry)
        # a bundled entry sharing any name with a user entry is replaced by it, aliases included
        self._replaced: dict[str, SourceEntry] = {}
        for entry in self.bundled:
            winner = next((self._user_index[k] for k in entry.keys() if k in self._user_index), None)
            if winner is not None:
                self._replaced[entry.name] = winner

    @property
    def user_origin(self) -> str:
        """How the user registry is named in output."""
        return str(self.user_path) if self.user_path else "user"

    def lookup(self, name: str) -> Found | None:
        """The entry for a source name (case-insensitive, whitespace-normalised), or None."""
        key = normalise(name)
        if key in self._user_index:
            return Found(self._user_index[key], self.user_origin)
        entry = self._bundled_index.get(key)
        if entry is None:
            return None
        if entry.name in self._replaced:
            return Found(self._replaced[entry.name], self.user_origin)
        return Found(entry, "bundled")

    def replaced_by(self, entry: SourceEntry) -> SourceEntry | None:
        """The user entry that replaces a bundled entry, if any."""
        return self._replaced.get(entry.name)

    def alignment(self, source: str, give: str | None = None) -> str:
        """The registered alignment of `source`; InputError (field source_party) telling how to add it, and
        what to give instead (`give`; default: the parameter source_party)."""
        found = self.lookup(source)
        if found is None:
            raise unknown_source_error(source, give)
        return found.entry.party


def unknown_source_error(source: str, give: str | None = None) -> InputError:
    """The error for a source with no alignment given and none registered; `give` words the missing input
    (default: the parameter source_party)."""
    shown = source.replace('"', "'")
    named = "{source_party}" if give is None else give
    return InputError(f"source {source!r} is not in the source registry and no source_party was given; give {named}, "
                      f"or register it: {{register_source:{shown}}}", "source_party",
                      mentions=("source_party", "register_source"))


def source_rows(registry: Registry, party: str | None = None,
                known_codes: Iterable[str] | Callable[[], Iterable[str]] = ()) -> list[dict[str, Any]]:
    """The known sources as rows (name, party, aliases, type, note, origin, replaced_by): the monitor's first,
    then the bundled ones; only those of `party` if given. A party no entry has, that is not among `known_codes`
    either (the agreement's; a function giving them is called only then), is an InputError naming the parameter
    `party` (a typo lists nothing)."""
    rows = [source_row(e, registry.user_origin) for e in registry.user]
    for entry in registry.bundled:
        winner = registry.replaced_by(entry)
        rows.append(source_row(entry, "bundled", winner.name if winner else None))
    if party is None:
        return rows
    present = sorted({r["party"] for r in rows})
    if party not in present:
        from .observation import check_party_code

        try:
            known = known_codes() if callable(known_codes) else known_codes
            check_party_code(party, "party", [*known, *present], allow_independent=True, declarable=False)
        except InputError as error:
            raise error.as_param("party") from None
    return [r for r in rows if r["party"] == party]


def source_row(entry: SourceEntry, origin: str, replaced_by: str | None = None) -> dict[str, Any]:
    """One registry entry as a row of `sources list` (and its JSON)."""
    return {"name": entry.name, "party": entry.party, "aliases": list(entry.aliases), "type": entry.type,
            "note": entry.note, "origin": origin, "replaced_by": replaced_by}


def register_source(path: Path, name: str, party: str, aliases: Iterable[str] = (), type_: str | None = None,
                    note: str | None = None, *, known_codes: Iterable[str] = (),
                    declared: Iterable[str] = ()) -> tuple[SourceEntry, dict[str, str]]:
    """Add a source to the monitor's registry at `path` (`add_source`), its party checked against `known_codes`
    and `declared` ones; the new entry, and the bundled entries it replaces (name: party)."""
    from .observation import check_party_code

    try:
        check_party_code(party, "party", known_codes, declared, allow_independent=True)
    except InputError as error:
        raise error.as_param("party") from None
    registry = load_registry(path)
    before = [registry.lookup(n) for n in [name, *aliases]]
    entry = add_source(path, name, party, aliases, type_, note)
    return entry, {found.entry.name: found.entry.party for found in before
                   if found is not None and found.origin == "bundled"}


def load_registry(user_path: Path | None) -> Registry:
    """The bundled registry plus the monitor's file at `user_path` (a missing file is an empty registry)."""
    bundled = parse_registry(_read(bundled_path()), "bundled sources.yaml")
    user: list[SourceEntry] = []
    if user_path is not None and user_path.exists():
        if user_path.is_dir():
            raise InputError("is a folder, not a source registry file", str(user_path))
        user = parse_registry(_read(user_path), str(user_path))
    return Registry(bundled, user, user_path)


def _entry_yaml(entry: SourceEntry) -> str:
    data = entry.model_dump(exclude_none=True)
    if not data.get("aliases"):
        data.pop("aliases", None)
    return yaml.safe_dump([data], sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if path.exists():
                os.chmod(temp, path.stat().st_mode & 0o777)
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except OSError as error:
        raise StoreError(f"cannot write the source registry: {error.strerror or error}", str(path)) from None


def add_source(path: Path, name: str, party: str, aliases: Iterable[str] = (), type_: str | None = None,
               note: str | None = None) -> SourceEntry:
    """Append an entry to the monitor's registry at `path` (created if missing); atomic (temp file + rename).

    A name or alias already in that file is an error (edit the file to change an entry); sharing a
    name with a bundled entry is allowed and replaces that entry.
    """
    try:
        entry = SourceEntry(name=name, party=party, aliases=list(aliases), type=type_, note=note)
    except ValidationError as error:
        first = error.errors()[0]
        name_of = {"name": "name", "party": "party", "aliases": "aliases", "type": "type_", "note": "note"}
        param = name_of.get(str(first["loc"][0]) if first["loc"] else "")
        raise InputError(first["msg"].removeprefix("Value error, "), None if param else "source", param=param) from None
    keys = entry.keys()
    if len(set(keys)) != len(keys):
        raise InputError("an alias repeats the name or another alias", param="aliases")
    text = _read(path) if path.exists() else ""
    existing = parse_registry(text, str(path))
    for other in existing:
        clash = set(keys) & set(other.keys())
        if clash:
            raise InputError(f"{sorted(clash)[0]!r} is already a name of {other.name!r} (party {other.party}) in "
                             f"this registry; edit the file to change that entry", str(path))
    if not text.strip():
        new_text = _USER_HEADER + "sources:\n" + _entry_yaml(entry)
    else:
        new_text = text + ("" if text.endswith("\n") else "\n") + _entry_yaml(entry)
        try:  # appending keeps the file's comments; if its layout does not allow it, write it anew
            appended = parse_registry(new_text, str(path))
        except InputError:
            appended = []
        if appended != [*existing, entry]:
            new_text = _USER_HEADER + yaml.safe_dump(
                {"sources": [e.model_dump(exclude_none=True) for e in [*existing, entry]]},
                sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    _write_atomic(path, new_text)
    return entry
