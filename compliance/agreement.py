"""The clause catalogue: an agreement encoded as data (quoted text beside each machine-checkable term).

An obligation's `rule` is written in the clause language (`compliance/language.py`, docs/authoring.md):
a template with parameters, or a rule written out.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from .dates import EARLIEST_YEAR, LATEST_YEAR, parse_moment, zone
from .errors import InputError
from .language import RuleBody, Template, bundled_templates, resolve_rule

PARTY_CODE = r"^[A-Z][A-Z0-9-]{1,15}$"
_PARTY_RE = re.compile(PARTY_CODE)
INDEPENDENT = "independent"
LINK = re.compile(r"^[a-z0-9][a-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class Strict(BaseModel):
    """Base for clause-file models: unknown keys are errors, strings are trimmed, dates within 1900-2199."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @field_validator("*")
    @classmethod
    def _year_in_range(cls, value: object) -> object:
        if isinstance(value, dt.date) and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            raise ValueError(f"year {value.year} is outside {EARLIEST_YEAR}-{LATEST_YEAR}")
        return value


# integer terms the engine does calendar arithmetic with, and the values it can compute with
# (a renewal period of 0 years would never end; huge ones leave the calendar)
TERM_RANGES = {"period_years": (1, 100), "notice_months": (0, 1200)}

TermValue = Union[bool, int, float, dt.datetime, dt.date]


def term_type(value: TermValue) -> str:
    """The type of a term value: 'date', 'moment', 'count' (a whole number), 'number' or 'flag'."""
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, dt.datetime):
        return "moment"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, int):
        return "count"
    return "number"


def check_term_value(name: str, value: TermValue) -> None:
    """Raise ValueError when an integer term is negative or outside the range the engine computes with."""
    if term_type(value) != "count":
        return
    low, high = TERM_RANGES.get(name, (0, None))
    if value < low or (high is not None and value > high):
        raise ValueError(f"term {name!r} must be a whole number from {low}" + (f" to {high}" if high is not None else ""))


class TextVersion(Strict):
    """One official version of the agreement's text that quotes are taken from."""

    title: str
    publisher: str
    language: str = "en"
    published: Optional[dt.date] = None
    url: Optional[str] = None


class Variant(Strict):
    """The same passage as another official version words it."""

    version: str
    quote: str


class QuotedText(Strict):
    """A passage of the agreement, verbatim, and the version it is quoted from."""

    quote: str = Field(min_length=1)
    version: str
    variants: list[Variant] = []


AttributeType = Literal["integer", "number", "string", "boolean"]


class AttributeSpec(Strict):
    """An attribute an observation of a kind may carry (`attributes: {name: value}`)."""

    type: AttributeType
    unit: Optional[str] = None
    description: str = ""
    required: bool = False


class KindSpec(Strict):
    """An observation kind of the agreement's vocabulary."""

    description: str
    count: Literal["none", "required", "optional"] = "none"
    window_days: Optional[int] = Field(default=None, ge=0, le=3660)
    subjects: Optional[list[str]] = None
    default_subject: Optional[str] = None
    subject_required: bool = False
    attributes: dict[str, AttributeSpec] = {}
    context: bool = False  # recorded and reported for context: no rule reads it (lint does not warn)

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, value: dict[str, AttributeSpec]) -> dict[str, AttributeSpec]:
        for name in value:
            if not re.match(r"^[a-z][a-z0-9_]*$", name):
                raise ValueError(f"attribute name {name!r} must be lower case letters, digits and '_'")
        return value


class TermVariant(Strict):
    """Another reading of a term, as another version words it (a what-if can take it)."""

    version: str
    quote: str
    value: Optional[TermValue] = None
    inclusive: Optional[bool] = None
    interpretation: Optional[str] = None


class Term(Strict):
    """A machine-checkable term with the words it encodes (OpenFisca style: a dated value beside its text)."""

    value: TermValue
    quote: str
    version: str
    inclusive: Optional[bool] = None
    unit: Optional[str] = None
    interpretation: Optional[str] = None
    variants: list[TermVariant] = []

    @property
    def type(self) -> str:
        """'date', 'moment', 'count', 'number' or 'flag'."""
        return term_type(self.value)


class Obligation(Strict):
    """One obligation of the agreement, with a stable ID, its bearers, text, rule and terms."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    point: int = Field(ge=1)
    title: str
    bearers: list[str] = []
    joint: bool = False
    text: QuotedText
    rule: RuleBody
    terms: dict[str, Term] = {}
    interpretation: Optional[str] = None
    implements: list[str] = []
    reaffirms: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _no_bearer(cls, data: Any) -> Any:
        if isinstance(data, dict) and "bearer" in data:
            if data["bearer"] is not None or "bearers" in data:
                raise ValueError("use `bearers: [CODE, ...]`, or `bearer: null` for an obligation that names no bearer")
            data = {key: value for key, value in data.items() if key != "bearer"}
            data["bearers"] = []
        return data

    @field_validator("rule", mode="before")
    @classmethod
    def _rule(cls, value: Any, info: ValidationInfo) -> Any:
        templates = (info.context or {}).get("templates") or bundled_templates()
        return resolve_rule(value, templates)

    @field_validator("implements", "reaffirms")
    @classmethod
    def _links(cls, value: list[str]) -> list[str]:
        for link in value:
            if not LINK.match(link):
                raise ValueError(f"{link!r} is not AGREEMENT/OBLIGATION (such as nov-10-2020/P9-transport-links)")
        return value

    @model_validator(mode="after")
    def _terms_fit_rule(self) -> "Obligation":
        for name in sorted(self.rule.term_names()):
            if name not in self.terms:
                raise ValueError(f"the rule reads the term {name!r}, which the obligation does not give "
                                 f"(terms: {', '.join(self.terms) or 'none'})")
        for name, deadline in self.rule.deadlines.items():
            for count in (deadline.days, deadline.months):
                if isinstance(count, str) and self.terms[count].type != "count":
                    raise ValueError(f"term {count!r} must be a whole number (deadline {name!r} counts with it)")
            if deadline.term is not None and self.terms[deadline.term].type not in ("date", "moment"):
                raise ValueError(f"term {deadline.term!r} must be a date (deadline {name!r} reads it)")
            if deadline.term is not None and not deadline.exact and self.terms[deadline.term].inclusive is None \
                    and deadline.inclusive is None:
                raise ValueError(f"deadline term {deadline.term!r} must say whether its date is inclusive (inclusive: true/false)")
        if self.rule.periods is not None:
            periods = self.rule.periods
            if self.terms[periods.start].type not in ("date", "moment"):
                raise ValueError(f"term {periods.start!r} must be a date")
            for name in (periods.years, periods.notice_months):
                if self.terms[name].type != "count":
                    raise ValueError(f"term {name!r} must be an integer")
        if self.rule.starts is not None and self.terms[self.rule.starts].type not in ("date", "moment"):
            raise ValueError(f"term {self.rule.starts!r} must be a date or a moment (the rule starts from it)")
        for name, term in self.terms.items():
            if name == "limit" and term.type != "count":
                raise ValueError("term 'limit' must be an integer")
            if name in TERM_RANGES and term.type != "count":
                raise ValueError(f"term {name!r} must be an integer")
            check_term_value(name, term.value)
        if self.joint and len(self.bearers) < 1:
            raise ValueError("a joint obligation names its bearers")
        return self

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every observation kind this obligation's rule reads."""
        return self.rule.kinds

    @property
    def template(self) -> str:
        """The rule's template name, or 'rule' for a rule written out."""
        return self.rule.template or "rule"

    @property
    def not_assessed(self) -> bool:
        """True for a provision with no machine-checkable test."""
        return self.rule.not_assessed

    @property
    def units(self) -> list[Optional[str]]:
        """What the obligation is evaluated for: each bearer, or one unit (None) when it is joint or names none."""
        if self.joint or not self.bearers:
            return [None]
        return list(self.bearers)


class Amendment(Strict):
    """A change to one term of one obligation, agreed on a date by some parties; never an edit of the term."""

    id: str
    obligation: str
    term: str
    value: TermValue
    agreed_on: dt.date
    by: list[str] = Field(min_length=1)
    requested_by: list[str] = []
    relayed_by: list[str] = []
    source: str
    note: Optional[str] = None


class Ending(Strict):
    """The date from which an obligation stopped applying, who agreed and the source."""

    id: str
    obligation: str
    on: dt.date
    by: list[str] = Field(min_length=1)
    source: str
    note: Optional[str] = None
    supersedes: Optional[str] = None


class Agreement(Strict):
    """An agreement: parties, vocabulary, sides, obligations, amendments and endings."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    signed: dt.date
    in_force: dt.datetime
    timezone: str
    reading_of_deadlines: str
    unread_note: Optional[str] = None  # what the observations of its kinds that no rule reads are (reports)
    versions: dict[str, TextVersion] = Field(min_length=1)
    parties: dict[str, str] = Field(min_length=1)
    actors: dict[str, str] = {}
    sides: list[list[str]] = []
    default_window_days: int = Field(default=31, ge=0, le=3660)
    kinds: dict[str, KindSpec] = Field(min_length=1)
    templates: dict[str, Template] = {}
    obligations: list[Obligation] = Field(min_length=1)
    amendments: list[Amendment] = []
    endings: list[Ending] = []
    _source_path: Optional[str] = PrivateAttr(default=None)

    @property
    def source_path(self) -> Optional[str]:
        """The clause file this agreement was loaded from (None when built in memory)."""
        return self._source_path

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except InputError as error:
            raise ValueError(error.reason) from None
        return value

    @field_validator("parties", "actors")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code in value:
            if not _PARTY_RE.match(code):
                raise ValueError(f"party code {code!r} must match {PARTY_CODE}")
        return value

    @model_validator(mode="after")
    def _references(self) -> "Agreement":
        known = set(self.parties) | set(self.actors)
        seen: set[str] = set()
        for index, side in enumerate(self.sides):
            for code in side:
                if code not in known:
                    raise ValueError(f"sides.{index}: unknown party {code!r}")
                if code in seen:
                    raise ValueError(f"sides.{index}: {code!r} is on two sides")
                seen.add(code)
        ids: set[str] = set()
        for index, ob in enumerate(self.obligations):
            where = f"obligations.{index} ({ob.id})"
            if ob.id in ids:
                raise ValueError(f"{where}: duplicate obligation ID")
            ids.add(ob.id)
            for bearer in ob.bearers:
                if bearer not in known:
                    raise ValueError(f"{where}: bearer {bearer!r} is neither a party nor a declared actor "
                                     f"({', '.join(self.known_codes)})")
            for read in ob.rule.reads:
                spec = self.kinds.get(read.kind)
                if spec is None:
                    raise ValueError(f"{where}: rule reads unknown kind {read.kind!r}")
                if read.subject is not None and spec.subjects is not None and read.subject not in spec.subjects:
                    raise ValueError(f"{where}: {read.subject!r} is not a subject of {read.kind!r}")
            self._check_conditions(ob, where)
            for version in [ob.text.version, *(v.version for v in ob.text.variants),
                            *(t.version for t in ob.terms.values()),
                            *(v.version for t in ob.terms.values() for v in t.variants)]:
                if version not in self.versions:
                    raise ValueError(f"{where}: unknown text version {version!r}")
            for name, deadline in ob.rule.deadlines.items():
                ref = deadline.after
                if ref is not None and ref.kind is not None and ref.kind not in self.kinds:
                    raise ValueError(f"{where}: deadline {name!r} counts from unknown kind {ref.kind!r}")
        for index, ob in enumerate(self.obligations):
            for name, deadline in ob.rule.deadlines.items():
                ref = deadline.after
                if ref is not None and ref.obligation is not None:
                    other = self.obligation_or_none(ref.obligation)
                    if other is None:
                        raise ValueError(f"obligations.{index} ({ob.id}): deadline {name!r} counts from unknown "
                                         f"obligation {ref.obligation!r}")
                    if ref.event not in other.rule.events:
                        raise ValueError(f"obligations.{index} ({ob.id}): {other.id} has no event {ref.event!r}")
        for index, amendment in enumerate(self.amendments):
            self.check_amendment(amendment, f"amendments.{index}")
        for index, ending in enumerate(self.endings):
            if ending.obligation not in ids:
                raise ValueError(f"endings.{index}: unknown obligation {ending.obligation!r}")
            if not re.fullmatch(rf"{re.escape(self.id)}-E\d+", ending.id):
                raise ValueError(f"endings.{index}: ID must be {self.id}-E<n>")
        return self

    def _check_conditions(self, ob: Obligation, where: str) -> None:
        """Every attribute a condition compares exists on a kind the rule reads, with a comparable type."""
        kinds = [self.kinds[k] for k in ob.rule.kinds]
        declared: dict[str, AttributeSpec] = {}
        for spec in kinds:
            declared.update(spec.attributes)

        def walk(condition: Any, role: str) -> None:
            for name, comparison in condition.attributes.items():
                if name not in declared:
                    raise ValueError(f"{where}: evidence.{role} compares attribute {name!r}, which no kind the "
                                     f"rule reads declares")
                for _, operand in comparison.items():
                    if isinstance(operand, str) and operand in ob.terms:
                        continue
                    typ = declared[name].type
                    ok = {"integer": (int, float), "number": (int, float), "string": (str,), "boolean": (bool,)}[typ]
                    if not isinstance(operand, ok) or (typ != "boolean" and isinstance(operand, bool)):
                        raise ValueError(f"{where}: evidence.{role} compares {typ} attribute {name!r} with {operand!r}")
            for comparison, field in ((condition.low, "low"), (condition.high, "high")):
                if comparison is None:
                    continue
                for _, operand in comparison.items():
                    if isinstance(operand, str) and operand not in ob.terms:
                        raise ValueError(f"{where}: evidence.{role} compares {field} with {operand!r}, which is not "
                                         f"a term of {ob.id} (terms: {', '.join(ob.terms) or 'none'})")
            for inner in [*condition.all, *condition.any]:
                walk(inner, role)

        for role, condition in ob.rule.evidence.items():
            walk(condition, role)

    def check_amendment(self, amendment: Amendment, where: str) -> None:
        """Raise ValueError when an amendment names an unknown obligation or term, or a value of the wrong type."""
        if not re.fullmatch(rf"{re.escape(self.id)}-A\d+", amendment.id):
            raise ValueError(f"{where}: ID must be {self.id}-A<n>")
        ob = self.obligation_or_none(amendment.obligation)
        if ob is None:
            raise ValueError(f"{where}: unknown obligation {amendment.obligation!r}")
        if amendment.term not in ob.terms:
            raise ValueError(f"{where}: {ob.id} has no term {amendment.term!r} (terms: {', '.join(ob.terms) or 'none'})")
        wanted, given = ob.terms[amendment.term].type, term_type(amendment.value)
        if wanted != given and not ({wanted, given} <= {"date", "moment"}) and not ({wanted, given} <= {"count", "number"}):
            raise ValueError(f"{where}: term {amendment.term!r} takes a {_TYPE_WORDS[wanted]}")
        try:
            check_term_value(amendment.term, amendment.value)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None

    @cached_property
    def tz(self) -> dt.tzinfo:
        """The agreement's time zone, in which every calendar date is read."""
        return zone(self.timezone)

    @cached_property
    def in_force_day(self) -> dt.date:
        """The calendar date (agreement time zone) the agreement entered into force."""
        return parse_moment(self.in_force, self.tz)[0]

    @cached_property
    def known_codes(self) -> tuple[str, ...]:
        """Parties then other known actors."""
        return (*self.parties, *self.actors)

    def obligation_or_none(self, obligation_id: str) -> Optional[Obligation]:
        """The obligation with this ID, or None."""
        return self._by_id.get(obligation_id)

    @cached_property
    def _by_id(self) -> dict[str, Obligation]:
        return {ob.id: ob for ob in self.obligations}

    def side_of(self, code: str) -> Optional[str]:
        """The side a party code belongs to (its first member names it); None for `independent`."""
        if code == INDEPENDENT:
            return None
        return self._side_index.get(code, code)

    @cached_property
    def _side_index(self) -> dict[str, str]:
        return {code: side[0] for side in self.sides for code in side}

    def window(self, kind: str) -> int:
        """The kind's corroboration window in days."""
        spec = self.kinds[kind]
        return self.default_window_days if spec.window_days is None else spec.window_days


_TYPE_WORDS = {"date": "date", "moment": "date-time", "count": "whole number", "number": "number", "flag": "true or false"}


def validate_agreement(data: Any) -> Agreement:
    """Validate clause-file data: the clause file's own templates first, then the agreement with them."""
    templates: dict[str, Template] = dict(bundled_templates())
    if isinstance(data, dict) and isinstance(data.get("templates"), dict):
        own = {name: ({"name": name, **raw} if isinstance(raw, dict) and "name" not in raw else raw)
               for name, raw in data["templates"].items()}
        data = {**data, "templates": own}
        for name, raw in own.items():
            if isinstance(raw, dict):
                templates[str(name)] = Template.model_validate(raw)
    return Agreement.model_validate(data, context={"templates": templates})
