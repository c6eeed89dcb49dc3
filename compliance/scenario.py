"""What-if scenarios: the YAML file `compliance whatif` reads, its model, and its resolution against a log.

A scenario is a mapping with these keys (only `as_of` is required):

    as_of: 2021-09-30            # the date both the baseline and the scenario are evaluated as of
    since: 2021-01-01            # optional period start for caps, prohibitions, linked series (as `check --since`)
    add:                         # hypothetical observations, fields as in observations.md; IDs h1, h2, ...
      - {kind: contingent.personnel, date: 2021-01-01, actor: RU, value: 2400,
         source: hypothetical survey, source_party: independent}
    exclude: [45, 52]            # live logged observations to leave out
    without_amendments: true     # or a list of amendment IDs to ignore; default false
    terms:                       # term overrides, applied after amendments
      P3-personnel-cap: {limit: 2500}
    attribute: {NK: AM}          # count one actor's conduct as another's
    declare: [XX]                # actor codes the agreement does not know, for `add` and `attribute`

Validation has two steps: `parse_scenario` checks the structure (types, unknown keys), `resolve_scenario`
checks everything against the agreement and the log (kinds, obligations, terms, amendment and
observation IDs). Errors are `InputError`s whose `where` is the field path (`add.0.value`,
`terms.P3-personnel-cap.limt`); callers prefix the file name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from .agreement import PARTY_CODE, Agreement, check_term_value, term_type
from .dates import EARLIEST_YEAR, LATEST_YEAR, not_a_date
from .errors import ComplianceError, InputError, UnknownReferenceError
from .evidence import Row, id_key
from .observation import Observation, parse_observation
from .records import OBSERVATION, RETRACTION
from .resources import read_small_text
from .yamlfile import YamlDocument, load_yaml

if TYPE_CHECKING:  # the check module pulls in the rules engine; only its type is needed here
    from .check import Snapshot

SCENARIO_KEYS = ("as_of", "since", "add", "exclude", "without_amendments", "terms", "attribute", "declare")
MAX_SCENARIO_BYTES = 5_000_000
HYPOTHETICAL_PREFIX = "h"

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTY_RE = re.compile(PARTY_CODE)


# ---- field types ---------------------------------------------------------------------------------

def _day(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date-time")
    if isinstance(value, str):
        text = value.strip()
        if not _DAY.match(text):
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)")
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(not_a_date(text, "a date (YYYY-MM-DD)")) from None
    if not isinstance(value, dt.date):
        raise ValueError(f"must be a date (YYYY-MM-DD), got {type(value).__name__}")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"year {value.year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
    return value


def _observation_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"must be an observation ID (such as 12), got {value!r}")


def _amendment_choice(value: Any) -> bool | list[str]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        ids = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ValueError(f"item {index} must be an amendment ID (such as nov-10-2020-A1), got {item!r}")
            ids.append(item.strip())
        return ids
    raise ValueError(f"must be true, false or a list of amendment IDs, got {value!r}")


def _term_value(value: Any) -> Any:
    """A term override: a date, a date-time, a number, true or false, or other text that `_resolve_terms` refuses
    in the words of the term it was meant for (a limit is a whole number: "2,500" is not one)."""
    if isinstance(value, bool):
        return value  # a flag, or the reading of a deadline (`inclusive`); checked against the term
    if isinstance(value, float):
        return value
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be a whole number >= 0, got {value}")
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, str) and not _DAY.match(value.strip()):
        return value.strip()
    if isinstance(value, (str, dt.date)):
        return _day(value)
    raise ValueError(f"must be a date (YYYY-MM-DD) or a whole number >= 0, got {value!r}")


def _code(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a party code, got {value!r}")
    code = value.strip()
    if not _PARTY_RE.match(code):
        raise ValueError(f"{code!r} is not a party code (pattern {PARTY_CODE})")
    return code


Day = Annotated[dt.date, BeforeValidator(_day)]
ObservationId = Annotated[str, BeforeValidator(_observation_id)]
AmendmentChoice = Annotated[Union[bool, list[str]], BeforeValidator(_amendment_choice)]
TermValue = Annotated[Union[bool, int, float, dt.datetime, dt.date, str], BeforeValidator(_term_value)]
Code = Annotated[str, BeforeValidator(_code)]


class Scenario(BaseModel):
    """A what-if scenario: hypothetical observations, left-out observations, term changes, attribution.

    The model checks structure only; `resolve_scenario` checks it against an agreement and a log.
    Build one from a dict with `Scenario.model_validate({...})` or `parse_scenario`, or from YAML with
    `load_scenario(path)`.
    """

    model_config = ConfigDict(extra="forbid")

    as_of: Day
    since: Day | None = None
    add: list[dict[str, Any]] = []
    exclude: list[ObservationId] = []
    without_amendments: AmendmentChoice = False
    terms: dict[str, dict[str, TermValue]] = {}
    attribute: dict[Code, Code] = {}
    declare: list[Code] = []

    @model_validator(mode="before")
    @classmethod
    def _empty_keys_are_absent(cls, data: Any) -> Any:
        # `exclude:` with nothing after it reads as null in YAML: treat it as absent
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


# ---- parsing -------------------------------------------------------------------------------------

def _first_error(error: ValidationError) -> InputError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if part != "[key]") or "scenario"
    kind = first["type"]
    if kind == "extra_forbidden":
        return InputError(f"unknown key (valid keys: {', '.join(SCENARIO_KEYS)})", field)
    if kind == "missing":
        return InputError("is required", field)
    if kind in ("dict_type", "model_type"):
        return InputError(f"must be a mapping (key: value), got {type(first['input']).__name__}", field)
    if kind == "list_type":
        return InputError(f"must be a list, got {type(first['input']).__name__}", field)
    if kind == "string_type":
        return InputError(f"must be a string, got {type(first['input']).__name__}", field)
    return InputError(first["msg"].removeprefix("Value error, "), field)


SCENARIO_SHAPE = f"a scenario must be a mapping with as_of and optional {', '.join(SCENARIO_KEYS[1:])}"


def _validate(data: dict[Any, Any]) -> Scenario:
    """The scenario model of a mapping; InputError whose `where` is the field path."""
    for key in data:
        if not isinstance(key, str):
            raise InputError(f"unknown key (valid keys: {', '.join(SCENARIO_KEYS)})", str(key))
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise _first_error(error) from None


def parse_scenario(data: Any, where: str = "scenario") -> Scenario:
    """Check a scenario's structure (a dict, as YAML loads it); InputError names `where`, the field and the reason."""
    if isinstance(data, Scenario):
        return data
    if not isinstance(data, dict):
        got = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        raise InputError(f"{SCENARIO_SHAPE}; got {got}", where)
    try:
        return _validate(data)
    except ComplianceError as error:
        raise error.located(where) from None


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario read from YAML, with the document that locates its errors at `file:line: field`."""

    scenario: Scenario
    document: YamlDocument

    def locate(self, error: ComplianceError) -> ComplianceError:
        """An error whose `where` is a field path of the scenario, at the file and line of that field."""
        return self.document.locate(error)


def read_scenario_text(text: str, where: str) -> ScenarioFile:
    """Load scenario YAML with the project's YAML loader and check its structure; errors name `where:line`,
    the field and the reason."""
    doc = load_yaml(text, where, InputError)
    data = doc.mapping(SCENARIO_SHAPE)
    try:
        return ScenarioFile(_validate(data), doc)
    except ComplianceError as error:
        raise doc.locate(error) from None


def read_scenario_file(path: str | Path) -> ScenarioFile:
    """Read and check a scenario file; errors name the file as given, the line and the field."""
    return read_scenario_text(read_small_text(Path(path), MAX_SCENARIO_BYTES, InputError), str(path))


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; errors name the file as given, the line and the field."""
    return read_scenario_file(path).scenario


# ---- resolution against an agreement and a log -----------------------------------------------------

@dataclass(frozen=True)
class ResolvedScenario:
    """A scenario checked against the agreement and the log, ready to evaluate."""

    scenario: Scenario
    agreements: tuple[Agreement, ...]
    as_of: dt.date
    since: dt.date | None
    observations: tuple[Observation, ...]
    excluded: frozenset[str]
    ignore_amendments: bool | frozenset[str]
    overrides: dict[str, dict[str, dt.date | int]]
    attribute: dict[str, str]
    declared: frozenset[str]
    # the evidence groups that hold an excluded ID, as they are without it (None: nothing left), by Row.key()
    excluded_groups: dict[tuple[Any, ...], Row | None] = field(default_factory=dict)

    @staticmethod
    def hypothetical_id(index: int) -> str:
        """The ID of the `index`-th (0-based) added observation: h1, h2, ..."""
        return f"{HYPOTHETICAL_PREFIX}{index + 1}"

    def hypothetical_rows(self) -> list[Row]:
        """Evidence rows for the added observations dated on or before the as-of date (as the store reads)."""
        rows = []
        for index, obs in enumerate(self.observations):
            if obs.day > self.as_of:
                continue
            rows.append(Row.of_observation(obs, self.hypothetical_id(index)))
        return rows

    def rows(self, logged: list[Row]) -> list[Row]:
        """The scenario's evidence: logged rows less the excluded IDs, plus the hypothetical rows."""
        if self.excluded:
            changed = self.excluded_groups
            kept = [row if row is r or row is None else dataclasses.replace(row, sig=r.sig)
                    for r in logged for row in (changed.get(r.key(), r),) if row is not None]
        else:
            kept = list(logged)
        return kept + self.hypothetical_rows()

    def ignore_argument(self) -> bool | set[str]:
        """`ignore_amendments` as `evaluate_snapshot` takes it."""
        return self.ignore_amendments if isinstance(self.ignore_amendments, bool) else set(self.ignore_amendments)

    def normal_form(self) -> dict[str, Any]:
        """The scenario with defaults filled in, values normalised and sets sorted: what its digest hashes."""
        return {
            "agreements": [a.id for a in self.agreements],
            "as_of": self.as_of.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "add": [{"id": self.hypothetical_id(i), **obs.fields} for i, obs in enumerate(self.observations)],
            "exclude": sorted(self.excluded, key=id_key),
            "without_amendments": (self.ignore_amendments if isinstance(self.ignore_amendments, bool)
                                   else sorted(self.ignore_amendments)),
            "terms": {ob: {name: value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
                           for name, value in sorted(terms.items())}
                      for ob, terms in sorted(self.overrides.items()) if terms},
            "attribute": dict(sorted(self.attribute.items())),
            "declare": sorted(self.declared),
        }


def _check_code(code: str, field: str, agreement: Any, declared: frozenset[str]) -> None:
    if code not in agreement.known_codes and code not in declared:
        known = ", ".join([*agreement.known_codes, *sorted(declared)])
        raise UnknownReferenceError(f"unknown actor code {code!r} (known: {known}; declare it under `declare`)", field)


def _scenario_words(name: str, value: str | None) -> str:
    """A parameter an added observation's error names, in the scenario's words (`declared` is its `declare`)."""
    if name == "declared":
        return f"declare: [{value}] in the scenario" if value is not None else "declare"
    return name if value is None else f"{name} {value}"


def _resolve_add(scenario: Scenario, agreement: Any, declared: frozenset[str]) -> tuple[Observation, ...]:
    observations = []
    for index, data in enumerate(scenario.add):
        try:
            observations.append(parse_observation(data, agreement, declared))
        except ComplianceError as error:
            where, reason = error.describe(_scenario_words)
            raise type(error)(reason, f"add.{index}" + (f".{where}" if where else "")) from None
    return tuple(observations)


def _resolve_exclude(scenario: Scenario, snap: "Snapshot", store: Any) -> frozenset[str]:
    if scenario.exclude and store is None:
        raise InputError("leaving out observations needs the store the snapshot was read from", "exclude")
    excluded: set[str] = set()
    for index, observation_id in enumerate(scenario.exclude):
        field = f"exclude.{index}"
        try:
            record = store.get(observation_id)
        except UnknownReferenceError:
            record = None
        if record is None or record.seq > snap.head.seq:
            raise UnknownReferenceError(f"no observation with ID {observation_id} in the log", field)
        if record.type != OBSERVATION:
            raise InputError(f"record {observation_id} is a {record.type}, not an observation", field)
        if record.ended_by is not None:
            ender = store.get(record.ended_by)
            if ender.seq <= snap.head.seq:
                if ender.type == RETRACTION:
                    raise InputError(f"observation {observation_id} was retracted by record {ender.id}, "
                                     "so the log already leaves it out", field)
                raise InputError(f"observation {observation_id} was superseded by record {ender.id}; "
                                 f"exclude the current record of its chain instead", field)
        excluded.add(record.id)
    return frozenset(excluded)


def _resolve_amendments(scenario: Scenario, snap: "Snapshot", agreements: tuple[Agreement, ...]) -> bool | frozenset[str]:
    choice = scenario.without_amendments
    if isinstance(choice, bool):
        return choice
    known = {a.id for agreement in agreements for a in snap.amendments_of(agreement)}
    for index, amendment_id in enumerate(choice):
        if amendment_id not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise UnknownReferenceError(f"unknown amendment {amendment_id!r} (known: {listed})",
                                        f"without_amendments.{index}")
    return frozenset(choice) if choice else False


def _resolve_terms(scenario: Scenario, agreements: tuple[Agreement, ...]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for ob_id, terms in scenario.terms.items():
        ob = next((a.obligation_or_none(ob_id) for a in agreements if a.obligation_or_none(ob_id)), None)
        if ob is None:
            raise UnknownReferenceError(
                f"unknown obligation {ob_id!r} (known: {', '.join(o.id for a in agreements for o in a.obligations)})",
                f"terms.{ob_id}")
        for name, value in terms.items():
            field = f"terms.{ob_id}.{name}"
            if name == "inclusive" and any(d.term for d in ob.rule.deadlines.values()):
                if not isinstance(value, bool):
                    raise InputError("takes true (the date itself is in time: \"by\") or false (\"before\")", field)
                continue
            if name not in ob.terms:
                has = f"{ob_id} has: {', '.join(ob.terms)}" if ob.terms else f"{ob_id} has no terms"
                raise UnknownReferenceError(f"unknown term {name!r} ({has})", field)
            wanted = ob.terms[name].type
            if isinstance(value, str) and wanted in ("count", "number", "flag"):
                words = {"count": f"a {name} is a whole number >= 0, written without separators (2500)",
                         "number": f"a {name} is a number", "flag": f"a {name} is true or false"}
                raise InputError(f"{words[wanted]}; got {value!r}", field)
            given = term_type(value) if not isinstance(value, str) else "text"
            fits = (given == wanted or {given, wanted} <= {"date", "moment"}
                    or (wanted == "number" and given == "count"))
            if not fits:
                shown = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
                words = {"date": "a date (YYYY-MM-DD)", "moment": "a date-time", "count": "a whole number >= 0",
                         "number": "a number", "flag": "true or false"}
                raise InputError(f"term {name!r} of {ob_id} takes {words[wanted]}, got {shown}", field)
            try:  # a renewal period of 0 years would never end
                check_term_value(name, value)
            except ValueError as error:
                raise InputError(str(error), field) from None
        if terms:
            overrides[ob_id] = dict(terms)
    return overrides


def resolve_scenario(scenario: Scenario, snap: "Snapshot", agreements: Any = None, store: Any = None) -> ResolvedScenario:
    """Check a scenario against the agreements it evaluates (default: every one the store tracks) and the log;
    InputError names the field path and reason.

    `snap` must be read as of `scenario.as_of` from `store`, where excluded IDs (and the groups that hold them)
    are looked up.
    """
    from .process import Process

    chosen = tuple(agreements or snap.process.agreements)
    agreement = Process([*snap.process.agreements, *(a for a in chosen if a.id not in snap.process.ids)])
    if snap.as_of != scenario.as_of:
        raise InputError(f"the snapshot is as of {snap.as_of.isoformat()}, the scenario as of "
                         f"{scenario.as_of.isoformat()}", "as_of")
    declared = frozenset(scenario.declare)
    if scenario.since is not None and scenario.since > scenario.as_of:
        raise InputError(f"{scenario.since.isoformat()} is after as_of {scenario.as_of.isoformat()}", "since")
    # a period that starts before every agreement entered into force is the same as none
    since = scenario.since if scenario.since and scenario.since > min(a.in_force_day for a in chosen) else None
    observations = _resolve_add(scenario, agreement, declared)
    excluded = _resolve_exclude(scenario, snap, store)
    groups = store.groups_without(snap.head, snap.as_of, snap.exact_days, excluded) if excluded else {}
    ignore = _resolve_amendments(scenario, snap, chosen)
    overrides = _resolve_terms(scenario, chosen)
    for actor, counted_as in scenario.attribute.items():
        _check_code(actor, f"attribute.{actor}", agreement, declared)
        _check_code(counted_as, f"attribute.{actor}", agreement, declared)
    return ResolvedScenario(scenario, chosen, scenario.as_of, since, observations, excluded, ignore, overrides,
                            dict(scenario.attribute), declared, groups)
