"""Importing ACLED exports: events mapped to observations by a mapping file, kept idempotent by event ID.

An ACLED export is a CSV file with one event a row (columns `event_id_cnty`, `event_date`,
`event_type`, `sub_event_type`, `actor1`, `actor2`, `country`, `admin1`, `location`, `latitude`,
`longitude`, `source`, `notes`, and more). A mapping file (`acled_mapping.yaml`, bundled; or the
monitor's own copy) says which event types become which observation kinds, which ACLED actors are
which party codes, and which places are the conflict zone or the state border. The source
registry (`compliance.sources`) gives the alignment of the outlet ACLED names as its source.

Rows that map to nothing are counted by reason and reported, never stored. The ACLED event ID is
kept in `external_id`, so re-importing an updated export skips events already in the log with the
same content, and turns a changed event into a correction of the latest record of that event.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .agreement import INDEPENDENT, Agreement
from .errors import ComplianceError, InputError, StoreError
from .exchange import ImportPlan, latest_of_chains, observation_record, plan_reimport
from .observation import METHODS, MAX_LONG_TEXT, MAX_TEXT, check_party_code
from .records import NewRecord, canonical_json
from .sources import Registry
from .yamlfile import read_yaml_file

MAPPING_FILE = "acled_mapping.yaml"
MAX_MAPPING_BYTES = 5_000_000
REQUIRED_COLUMNS = ("event_id_cnty", "event_date", "event_type", "sub_event_type", "actor1", "actor2", "country",
                    "admin1", "location", "latitude", "longitude", "source", "notes")
MAX_FILE_BYTES = 500_000_000
PROGRESS_MIN_ROWS = 2_000
_MONTHS = {name.lower(): number for number, name in enumerate(
    ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"), start=1)}
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_LONG_DATE = re.compile(r"^(\d{1,2}) ([A-Za-z]+) (\d{4})$")
_PERIOD = re.compile(r"\(\s*\d{4}\s*-\s*(?:\d{4})?\s*\)")
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@lru_cache(maxsize=65_536)
def fold(name: str) -> str:
    """The form ACLED names are compared in: accents dropped, ə as a, ı as i, hyphens as spaces, case-folded."""
    text = name.replace("ə", "a").replace("Ə", "A").replace("ı", "i").replace("İ", "I")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _SPACE.sub(" ", text.replace("-", " ").replace("_", " ")).strip().casefold()


@lru_cache(maxsize=65_536)
def fold_actor(name: str) -> str:
    """An actor name as compared: folded, without ACLED's period in parentheses, e.g. "(2018-)"."""
    return fold(_PERIOD.sub(" ", name))


def parse_event_date(value: str) -> dt.date:
    """An ACLED `event_date`: `2023-02-16` or `16 May 2025` (the two forms ACLED exports use)."""
    text = value.strip()
    try:
        match = _ISO_DATE.match(text)
        if match:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        match = _LONG_DATE.match(text)
        if match and match[2].lower() in _MONTHS:
            return dt.date(int(match[3]), _MONTHS[match[2].lower()], int(match[1]))
    except ValueError:
        raise InputError(f"{text!r} is not a calendar date") from None
    raise InputError(f"{text!r} is not a date in a form ACLED exports (YYYY-MM-DD or D Month YYYY, "
                     f"e.g. 2023-02-16 or 16 May 2025)")


# ---- the mapping file -------------------------------------------------------------------------------

class EventRule(BaseModel):
    """event_type (and sub_event_type, unless left out) -> kind; the ACLED column that gives the actor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: str
    sub_event_type: str | None = None
    kind: str
    actor: Literal["actor1", "actor2"] = "actor1"


class PlaceRule(BaseModel):
    """A subject for rows whose country, admin areas, location and actors match every condition given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    country: list[str] | None = None
    admin: list[str] | None = None
    location: list[str] | None = None
    actor: list[str] | None = None

    _folded: dict[str, frozenset[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _has_condition(self) -> "PlaceRule":
        if not any((self.country, self.admin, self.location, self.actor)):
            raise ValueError("a subject rule needs at least one condition: country, admin, location or actor")
        return self

    def model_post_init(self, context: Any) -> None:
        for name in ("country", "admin", "location"):
            values = getattr(self, name)
            if values:
                self._folded[name] = frozenset(fold(v) for v in values)
        if self.actor:
            self._folded["actor"] = frozenset(self.actor)

    def matches(self, row: dict[str, str], codes: set[str]) -> bool:
        """True when every condition given holds for the row (actor: a party code among the row's actors)."""
        wanted = self._folded
        if "country" in wanted and fold(row.get("country") or "") not in wanted["country"]:
            return False
        if "admin" in wanted and not any(fold(row.get(col) or "") in wanted["admin"]
                                         for col in ("admin1", "admin2", "admin3")):
            return False
        if "location" in wanted and fold(row.get("location") or "") not in wanted["location"]:
            return False
        if "actor" in wanted and not codes & wanted["actor"]:
            return False
        return True


class Mapping(BaseModel):
    """How ACLED rows become observations (see the bundled acled_mapping.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = "media-report"
    external_id_prefix: str = "acled:"
    default_source_party: str | None = None
    events: list[EventRule] = Field(min_length=1)
    actors: dict[str, list[str]] = Field(min_length=1)
    subjects: dict[str, list[PlaceRule]] = {}
    _events: dict[tuple[str, str | None], EventRule] = PrivateAttr(default_factory=dict)
    _actors: list[tuple[str, str]] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any) -> None:
        for rule in self.events:  # the first rule for a type and sub-type wins
            key = (fold(rule.event_type), None if rule.sub_event_type is None else fold(rule.sub_event_type))
            self._events.setdefault(key, rule)
        # longest names first, so that a unit's own entry wins over its parent force
        self._actors = sorted(((fold_actor(name), code) for code, names in self.actors.items() for name in names),
                              key=lambda item: -len(item[0]))

    @field_validator("method")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        if value is not None and value not in METHODS:
            raise ValueError(f"must be one of: {', '.join(METHODS)}")
        return value

    def kind_of(self, event_type: str, sub_event_type: str) -> EventRule | None:
        """The first event rule matching the row, or None."""
        event, sub = fold(event_type), fold(sub_event_type)
        exact, general = self._events.get((event, sub)), self._events.get((event, None))
        if exact is None or general is None:
            return exact or general
        return exact if self.events.index(exact) < self.events.index(general) else general

    def party_of(self, actor: str) -> str | None:
        """The party code of an ACLED actor name: exact, or the longest listed name it starts with."""
        name = fold_actor(actor)
        if not name:
            return None
        for key, code in self._actors:
            if name == key or name.startswith(key + " "):
                return code
        return None

    def subject_of(self, kind: str, row: dict[str, str], codes: set[str]) -> str | None:
        """The subject the first matching place rule gives, or None."""
        for rule in self.subjects.get(kind, []):
            if rule.matches(row, codes):
                return rule.subject
        return None


def bundled_mapping_path() -> Path:
    """The mapping shipped with the package."""
    return Path(__file__).resolve().parent / MAPPING_FILE


MAPPING_SHAPE = "an ACLED mapping is a YAML mapping (events, actors, subjects)"


def load_mapping(path: Path | None, agreement: Agreement, declared: frozenset[str] = frozenset()) -> Mapping:
    """Read and check a mapping file (the bundled one when `path` is None) against the agreement; errors name
    the file, the line, the field path and the reason."""
    doc = read_yaml_file(path or bundled_mapping_path(), MAX_MAPPING_BYTES, InputError)
    data = doc.mapping(MAPPING_SHAPE)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        reason = {"missing": "is required", "extra_forbidden": "unknown field"}.get(
            first["type"], first["msg"].removeprefix("Value error, "))
        raise doc.at(first["loc"], reason) from None

    def fail(reason: str, loc: tuple[Any, ...], mentions: tuple[str, ...] = ()) -> None:
        error = doc.at(loc, reason)
        error.mentions = mentions
        raise error

    known = set(agreement.known_codes) | set(declared)
    for index, rule in enumerate(mapping.events):
        if rule.kind not in agreement.kinds:
            fail(f"unknown kind {rule.kind!r} (valid kinds: {', '.join(agreement.kinds)})", ("events", index, "kind"))
        spec = agreement.kinds[rule.kind]
        if spec.count == "required":
            fail(f"kind {rule.kind!r} needs a count, which ACLED rows do not give", ("events", index, "kind"))
        if spec.subjects is not None and not mapping.subjects.get(rule.kind):
            fail(f"kind {rule.kind!r} takes a subject ({', '.join(spec.subjects)}): give subject rules for it "
                 f"under `subjects`", ("events", index, "kind"))
    for code in mapping.actors:
        if code not in known:
            fail(f"unknown party code {code!r} (known: {', '.join(sorted(known))}; declare a new actor with "
                 f"{{declared:{code}}})", ("actors", code), mentions=("declared",))
    for kind, rules in mapping.subjects.items():
        spec = agreement.kinds.get(kind)
        if spec is None:
            fail(f"unknown kind {kind!r} (valid kinds: {', '.join(agreement.kinds)})", ("subjects", kind))
        for index, rule in enumerate(rules):
            if spec.subjects is not None and rule.subject not in spec.subjects:
                fail(f"{rule.subject!r} is not a subject of {kind!r} (valid: {', '.join(spec.subjects)})",
                     ("subjects", kind, index, "subject"))
            for code in rule.actor or []:
                if code not in known:
                    fail(f"unknown party code {code!r}", ("subjects", kind, index, "actor"))
    if mapping.default_source_party is not None:
        _check_alignment(mapping.default_source_party, known, "default_source_party")
    return mapping


def _check_alignment(code: str, known: set[str], where: str | None) -> str:
    """An alignment the agreement knows; InputError naming the field `where` (None: the parameter
    `default_source_party`) otherwise."""
    try:
        if code != INDEPENDENT and code not in known:
            if code.upper() in known or code.lower() == INDEPENDENT:  # says which code it means
                check_party_code(code, where or "default_source_party", sorted(known), allow_independent=True)
            raise InputError(f"unknown party code {code!r} (known: {', '.join(sorted(known))}, independent)", where)
    except InputError as error:
        raise (error if where else error.as_param("default_source_party")) from None
    return code


# ---- reading rows -----------------------------------------------------------------------------------

@dataclass
class Skipped:
    """Rows that mapped to nothing, counted by reason."""

    event_types: Counter = field(default_factory=Counter)
    actors: Counter = field(default_factory=Counter)
    places: Counter = field(default_factory=Counter)

    @property
    def total(self) -> int:
        """How many rows were skipped as unmapped."""
        return sum(self.event_types.values()) + sum(self.actors.values()) + sum(self.places.values())

    def describe(self) -> str:
        """`event types: A 2, B 1; actors: X 1; places: Y 1` (most frequent first)."""
        parts = []
        for label, counter in (("event types", self.event_types), ("actors", self.actors), ("places", self.places)):
            if counter:
                parts.append(f"{label}: " + ", ".join(f"{name} {n}" for name, n in
                                                      sorted(counter.items(), key=lambda item: (-item[1], item[0]))))
        return "; ".join(parts)


@dataclass
class Candidate:
    """A mapped row: its line, ACLED event ID and validated observation."""

    line: int
    event_id: str
    record: NewRecord


@dataclass
class AcledRows:
    """What a file holds: mapped rows, and the unmapped ones by reason."""

    candidates: list[Candidate]
    skipped: Skipped
    rows: int
    event_ids: set[str] = field(default_factory=set)  # every event of the file (mapped or not), with the prefix


def _text(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _fit(text: str, limit: int) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _coordinate(row: dict[str, str], column: str, low: float, high: float) -> float | None:
    text = _text(row, column)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a decimal number", column) from None
    if not (low <= value <= high):
        raise InputError(f"{text} is outside {low:g}..{high:g}", column)
    return value


def _source_party(row: dict[str, str], registry: Registry, default: str | None) -> tuple[str | None, str | None]:
    """(alignment, problem): every outlet named must be registered and of one alignment, else the default."""
    names = [n.strip() for n in _text(row, "source").split(";") if n.strip()]
    if not names:
        raise InputError("is empty; every mapped event needs its source", "source")
    found = {name: registry.lookup(name) for name in names}
    unknown = [name for name, hit in found.items() if hit is None]
    parties = {hit.entry.party for hit in found.values() if hit is not None}
    if not unknown and len(parties) == 1:
        return parties.pop(), None
    if default is not None:
        return default, None
    if unknown:
        return None, unknown[0]
    listed = ", ".join(f"{name} {hit.entry.party}" for name, hit in found.items() if hit is not None)
    raise InputError(f"names outlets of different alignments ({listed}); give {{default_source_party}} to record "
                     f"such events with one alignment, or edit the row", "source", mentions=("default_source_party",))


def _notes(row: dict[str, str], event_id: str) -> str:
    actor1 = _text(row, "actor1")
    if _text(row, "assoc_actor_1"):
        actor1 += f" with {_text(row, 'assoc_actor_1')}"
    parts = [f"ACLED {event_id}: {_text(row, 'event_type')} / {_text(row, 'sub_event_type')}",
             f"actor1: {actor1}"]
    if _text(row, "actor2"):
        actor2 = _text(row, "actor2") + (f" with {_text(row, 'assoc_actor_2')}" if _text(row, "assoc_actor_2") else "")
        parts.append(f"actor2: {actor2}")
    if _text(row, "fatalities"):
        parts.append(f"fatalities: {_text(row, 'fatalities')}")
    if _text(row, "source_scale"):
        parts.append(f"source scale: {_text(row, 'source_scale')}")
    head = "; ".join(parts) + "."
    body = _text(row, "notes")
    return _fit(f"{head} {body}" if body else head, MAX_LONG_TEXT)


def _place(row: dict[str, str]) -> str | None:
    parts: list[str] = []
    for column in ("location", "admin2", "admin1", "country"):
        value = _text(row, column)
        if value and value.casefold() not in {p.casefold() for p in parts}:
            parts.append(value)
    return _fit(", ".join(parts), MAX_TEXT) if parts else None


def _rows(text: str, where: str) -> Iterable[tuple[int, dict[str, str]]]:
    """(line where the row starts, row) for each data row; the header is checked for required columns."""
    handle = io.StringIO(text, newline="")
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file; an ACLED export starts with a header row", file=where, line=1) from None
    except csv.Error as error:
        raise InputError(f"not valid CSV ({error})", file=where, line=1) from None
    columns = [c.strip().lower() for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"not an ACLED export: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                         file=where, line=1)
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InputError(f"not valid CSV ({error})", file=where, line=start) from None
        if not any(v.strip() for v in values):
            start = reader.line_num + 1
            continue
        if len(values) != len(columns):
            raise InputError(f"has {len(values)} fields; the header has {len(columns)}", file=where, line=start)
        yield start, dict(zip(columns, values))
        start = reader.line_num + 1


def read_acled(text: str, where: str, agreement: Agreement, mapping: Mapping, registry: Registry,
               declared: frozenset[str] = frozenset(), default_source_party: str | None = None,
               show_progress: bool = True) -> AcledRows:
    """Map and validate every row of an ACLED export; the first invalid row raises InputError at `where:line`."""
    known = set(agreement.known_codes) | set(declared)
    default = default_source_party if default_source_party is not None else mapping.default_source_party
    if default is not None:
        _check_alignment(default, known, None)
    rows = list(_rows(text.removeprefix("\ufeff"), where))
    if not show_progress:
        return _read_rows(rows, where, agreement, mapping, registry, declared, default)
    from .progress import tracked

    with tracked(rows, len(rows), "validating ACLED rows", min_total=PROGRESS_MIN_ROWS) as shown:
        return _read_rows(shown, where, agreement, mapping, registry, declared, default)


def _read_rows(rows: Iterable[tuple[int, dict[str, str]]], where: str, agreement: Agreement, mapping: Mapping,
               registry: Registry, declared: frozenset[str], default: str | None) -> AcledRows:
    candidates: list[Candidate] = []
    skipped = Skipped()
    seen: dict[str, Candidate] = {}
    event_ids: set[str] = set()
    unknown_sources: dict[str, int] = {}
    count = 0
    for line, row in rows:
        count += 1
        try:
            event_id = _text(row, "event_id_cnty")
            if not event_id:
                raise InputError("is empty; every ACLED event has an ID", "event_id_cnty")
            event_ids.add(_fit(mapping.external_id_prefix + event_id, MAX_TEXT))
            try:
                day = parse_event_date(row.get("event_date") or "")
            except InputError as error:
                raise InputError(error.reason, "event_date") from None
            event_type, sub_event_type = _text(row, "event_type"), _text(row, "sub_event_type")
            rule = mapping.kind_of(event_type, sub_event_type)
            if rule is None:
                skipped.event_types[f"{event_type} / {sub_event_type}"] += 1
                continue
            actor_name = _text(row, rule.actor)
            actor = mapping.party_of(actor_name)
            if actor is None:
                skipped.actors[actor_name or f"(no {rule.actor})"] += 1
                continue
            codes = {c for c in (mapping.party_of(_text(row, "actor1")), mapping.party_of(_text(row, "actor2"))) if c}
            subject = None
            if agreement.kinds[rule.kind].subjects is not None:
                subject = mapping.subject_of(rule.kind, row, codes)
                if subject is None:
                    place = ", ".join(v for v in (_text(row, "admin1"), _text(row, "country")) if v) or "(no place)"
                    skipped.places[place] += 1
                    continue
            source_party, unknown = _source_party(row, registry, default)
            if unknown is not None:
                unknown_sources.setdefault(unknown, line)
                continue
            lat = _coordinate(row, "latitude", -90, 90)
            lon = _coordinate(row, "longitude", -180, 180)
            fields: dict[str, Any] = {
                "kind": rule.kind, "date": day.isoformat(), "actor": actor,
                "source": _fit(_text(row, "source"), MAX_TEXT), "source_party": source_party,
                "subject": subject, "place": _place(row), "lat": lat, "lon": lon,
                "method": mapping.method, "notes": _notes(row, event_id),
                "external_id": _fit(mapping.external_id_prefix + event_id, MAX_TEXT),
            }
            record = observation_record(fields, agreement, declared)
        except ComplianceError as error:
            raise error.at(where, line) from None
        record = dataclasses.replace(record, line=line)
        earlier = seen.get(event_id)
        if earlier is not None:
            if canonical_json(earlier.record.body) != canonical_json(record.body):
                raise InputError(f"event {event_id} is also on line {earlier.line} with different content; an "
                                 f"export holds each event once", file=where, line=line)
            continue
        candidate = Candidate(line, event_id, record)
        seen[event_id] = candidate
        candidates.append(candidate)
    if unknown_sources:
        name, line = next(iter(unknown_sources.items()))
        others = [n for n in unknown_sources if n != name]
        more = ""
        if others:
            shown = ", ".join(repr(n) for n in others[:5]) + (", ..." if len(others) > 5 else "")
            more = f" ({len(others)} other unregistered outlet{'s' if len(others) > 1 else ''} in this file: {shown})"
        shown_name = name.replace('"', "'")
        raise InputError(f"outlet {name!r} is not in the source registry{more}; register it: "
                         f"{{register_source:{shown_name}}}, or give {{default_source_party}}", "source", file=where,
                         line=line, mentions=("register_source", "default_source_party"))
    return AcledRows(candidates, skipped, count, event_ids)


# ---- against the log --------------------------------------------------------------------------------

MISSING_SHOWN = 10  # event IDs named in the summary; the rest are counted


def plan_import(rows: AcledRows, store: Any, prefix: str = "acled:") -> ImportPlan:
    """Compare mapped rows with the log by event ID (`exchange.plan_reimport`), and find the events the log
    holds (live, with the mapping's `prefix`) that this export no longer has: they are kept, and reported."""
    plan = plan_reimport([c.record for c in rows.candidates], store, read_log=True)
    plan.skipped, plan.rows = rows.skipped, rows.rows
    plan.missing = sorted(external for external, chain in plan.logged.items()
                          if external.startswith(prefix) and external not in rows.event_ids
                          and latest_of_chains(store, chain) is not None)
    return plan


def import_acled(source: str | Path | BinaryIO, agreement: Agreement | Any, store: Any,
                 recorded_by: str | None = None, *, mapping: Mapping | str | Path | None = None,
                 registry: Registry | str | Path | None = None, declared: Iterable[str] = frozenset(),
                 default_source_party: str | None = None, where: str | None = None,
                 show_progress: bool = True) -> tuple[ImportPlan, list[str]]:
    """Read an ACLED export (a path, or a binary file such as standard input, named `where`), map and validate
    every row, refuse events dated after today, and append what is new or changed, all or nothing; return the
    plan (what was new, corrected, unchanged or skipped) and the new IDs.

    `mapping` is a Mapping or a mapping file (default: the bundled one); `registry` the source registry or the
    monitor's registry file (default: as `sources.user_registry_path`); `recorded_by` as for `Store.append`."""
    from .dates import today
    from .exchange import reject_future
    from .sources import load_registry, user_registry_path

    declared = frozenset(declared)
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(Path(mapping) if mapping is not None else None, agreement, declared)
    if not isinstance(registry, Registry):
        registry = load_registry(user_registry_path(registry, getattr(store, "path", None) and str(store.path)))
    if isinstance(source, (str, Path)):
        where = where or str(source)
        text = read_text(Path(source))
    else:
        where = where or getattr(source, "name", None) or "<stdin>"
        try:
            text = source.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError(f"not UTF-8 text (byte {error.start})", where) from None
    rows = read_acled(text, where, agreement, mapping, registry, declared, default_source_party,
                      show_progress=show_progress)
    reject_future([c.record for c in rows.candidates], today(agreement.tz), where)
    plan = plan_import(rows, store, mapping.external_id_prefix)
    try:
        return plan, store.append(plan.records, recorded_by)
    except ComplianceError as error:  # a record the store refuses, at the line of the export it came from
        raise (error.at(where) if error.file is None and error.line is not None else error) from None


def read_text(path: Path) -> str:
    """An export file's text (UTF-8, a byte-order mark allowed)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"larger than {MAX_FILE_BYTES:,} bytes", str(path))
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text (byte {error.start})", str(path)) from None
    except OSError as error:
        raise StoreError(f"cannot read: {error.strerror or error}", str(path)) from None
