"""Loading clause files: bundled agreements by ID, or a YAML file or folder by path, validated with pydantic;
and `validate_clause_file`, which adds lint warnings for an author."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .agreement import Agreement, Template, validate_agreement
from .errors import ClauseFileError, StoreError, UnknownReferenceError
from .resources import clauses_dir, read_small_text
from .yamlfile import YamlDocument, first_validation_error, load_yaml

MAX_CLAUSE_FILE_BYTES = 5_000_000
# pydantic location parts that are not keys of the document (union members, tagged values)
_NOT_KEYS = frozenset({"date", "int", "bool", "float", "datetime", "str", "function-after", "function-before",
                       "function-wrap", "list[str]", "dict[str,any]"})


_READ_ONCE: dict[str, Agreement] = {}


def bundled_ids() -> list[str]:
    """IDs of the agreements shipped with the package."""
    return sorted(path.stem for path in clauses_dir().glob("*.yaml"))


def _validate(doc: YamlDocument) -> Agreement:
    data = doc.mapping("a clause file must be a YAML mapping of agreement fields", ClauseFileError)
    templates = data.get("templates")
    if isinstance(templates, dict):
        for name, raw in templates.items():
            try:
                Template.model_validate({"name": name, **raw} if isinstance(raw, dict) and "name" not in raw else raw)
            except ValidationError as error:
                raise first_validation_error(doc, error, ClauseFileError, _NOT_KEYS, ("templates", name)) from None
    try:
        return validate_agreement(data)
    except ValidationError as error:
        raise first_validation_error(doc, error, ClauseFileError, _NOT_KEYS) from None


def parse_agreement(text: str, where: str) -> Agreement:
    """Validate clause-file text; errors name the file, the line, the field path and the reason."""
    return _validate(load_yaml(text, where, ClauseFileError))


def _read(path: Path) -> str:
    return read_small_text(path, MAX_CLAUSE_FILE_BYTES, ClauseFileError)


@lru_cache(maxsize=32)
def _load_path(path: Path, mtime: float) -> Agreement:
    agreement = parse_agreement(_read(path), str(path))
    agreement._source_path = str(path)
    return agreement


def clause_path(ref: str | Path) -> Path:
    """The clause file a reference names: a bundled agreement ID (`nov-10-2020`), or a file or folder path."""
    text = str(ref)
    candidate = Path(text).expanduser()
    bundled = clauses_dir() / f"{text}.yaml"
    if "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml")) and bundled.is_file():
        return bundled
    if candidate.is_dir():
        files = sorted([*candidate.glob("*.yaml"), *candidate.glob("*.yml")])
        if len(files) != 1:
            raise ClauseFileError(f"a clause folder must hold exactly one .yaml agreement file, found {len(files)}", str(candidate))
        return files[0]
    if candidate.exists():  # a file, or a pipe (`<(...)`), a device, a socket: read as it comes
        return candidate
    raise UnknownReferenceError(
        f"no bundled agreement or clause file {text!r} (bundled: {', '.join(bundled_ids()) or 'none'})", param="agreements")


def load_agreement(ref: str | Path) -> Agreement:
    """Load a bundled agreement by ID (`nov-10-2020`) or a clause file or folder by path."""
    path = clause_path(ref)
    if not path.is_file():  # a pipe or a device can be read once: kept for the rest of the run
        if str(path) not in _READ_ONCE:
            _READ_ONCE[str(path)] = parse_agreement(_read(path), str(path))
        return _READ_ONCE[str(path)]
    path = path.resolve()
    try:
        mtime = path.stat().st_mtime
    except OSError as error:
        raise StoreError(f"cannot read: {error.strerror or error}", str(path)) from None
    return _load_path(path, mtime)


# ---- validation for authors -------------------------------------------------------------------------

@dataclass
class ValidationReport:
    """A clause file that loaded, and what an author may want to look at (warnings do not stop loading)."""

    agreement: Agreement
    path: str
    warnings: list[str] = field(default_factory=list)


def lint(agreement: Agreement, doc: YamlDocument | None = None) -> list[str]:
    """Warnings about a valid clause file: kinds nothing reads, terms no rule reads, attributes without a unit,
    deadlines counted from a kind no rule reads or from an event nothing produces."""
    where = (lambda *loc: doc.where_of(loc)) if doc is not None else (lambda *loc: agreement.id)
    warnings: list[str] = []
    read_kinds = {kind for ob in agreement.obligations for kind in ob.kinds}
    for kind, spec in agreement.kinds.items():
        if kind not in read_kinds and not spec.context:
            warnings.append(f"{where('kinds', kind)}: kind {kind!r} is declared but no rule reads it")
        for name, attribute in spec.attributes.items():
            if attribute.type in ("integer", "number") and not attribute.unit:
                warnings.append(f"{where('kinds', kind, 'attributes', name)}: attribute {name!r} of {kind!r} has no unit")
    for index, ob in enumerate(agreement.obligations):
        used = ob.rule.term_names() | {name for name in ob.rule.evidence for name in ()}
        for condition in ob.rule.evidence.values():
            used |= {name for name in condition.attribute_operands() if name in ob.terms}
        for name in ob.terms:
            if name not in used:
                warnings.append(f"{where('obligations', index, 'terms', name)}: term {name!r} of {ob.id} is not read by its rule")
        for name, deadline in ob.rule.deadlines.items():
            ref = deadline.after
            if ref is None:
                continue
            if ref.kind is not None and ref.kind not in read_kinds:
                warnings.append(f"{where('obligations', index, 'rule')}: deadline {name!r} of {ob.id} counts from the "
                                f"first {ref.kind!r}, which no rule reads")
            if ref.obligation is not None:
                other = agreement.obligation_or_none(ref.obligation)
                event = other.rule.events.get(ref.event) if other else None
                if event is not None and not other.rule.reads:
                    warnings.append(f"{where('obligations', index, 'rule')}: deadline {name!r} of {ob.id} counts from "
                                    f"{ref.obligation}'s {ref.event}, which reads no observations")
    return warnings


def validate_clause_file(path: str | Path) -> ValidationReport:
    """Load a clause file as `load_agreement` does (errors as file:line and field path) and lint it."""
    file = clause_path(path)
    doc = load_yaml(_read(file), str(path), ClauseFileError)
    agreement = _validate(doc)
    return ValidationReport(agreement, str(path), lint(agreement, doc))


def describe_value(value: Any) -> str:
    """A term value as reports print it."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
