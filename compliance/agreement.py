"""The clause catalogue: an agreement encoded as data (quoted text beside each machine-checkable term)."""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .dates import EARLIEST_YEAR, LATEST_YEAR, parse_moment, zone
from .errors import InputError

PARTY_CODE = r"^[A-Z][A-Z0-9-]{1,15}$"
_PARTY_RE = re.compile(PARTY_CODE)
INDEPENDENT = "independent"


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


def check_term_value(name: str, value: dt.date | int) -> None:
    """Raise ValueError when an integer term is negative or outside the range the engine computes with."""
    if isinstance(value, dt.date):
        return
    low, high = TERM_RANGES.get(name, (0, None))
    if value < low or (high is not None and value > high):
        raise ValueError(f"term {name!r} must be a whole number from {low}" + (f" to {high}" if high is not None else ""))


class TextVersion(Strict):
    """One official version of the agreement's text that quotes are taken from."""

    title: str
    publisher: str
    language: str = "en"
    published: dt.date | None = None
    url: str | None = None


class Variant(Strict):
    """The same passage as another official version words it."""

    version: str
    quote: str


class QuotedText(Strict):
    """A passage of the agreement, verbatim, and the version it is quoted from."""

    quote: str = Field(min_length=1)
    version: str
    variants: list[Variant] = []


class KindSpec(Strict):
    """An observation kind of the agreement's vocabulary."""

    description: str
    count: Literal["none", "required", "optional"] = "none"
    window_days: int | None = Field(default=None, ge=0, le=3660)
    subjects: list[str] | None = None
    default_subject: str | None = None
    subject_required: bool = False


class Term(Strict):
    """A machine-checkable term with the words it encodes (OpenFisca style: a dated value beside its text)."""

    value: dt.date | int
    quote: str
    version: str
    inclusive: bool | None = None
    unit: str | None = None
    interpretation: str | None = None


class ProhibitionRule(Strict):
    """No observation of `kind` (optionally about `subject`) by the bearer: any is breach evidence."""

    shape: Literal["prohibition"]
    kind: str
    subject: str | None = None


class CapRule(Strict):
    """Counts of `kind` by the bearer must stay within the term `limit`."""

    shape: Literal["cap"]
    kind: str


class DeadlineRule(Strict):
    """A fulfilment event of `kind` (about `subject`) must happen on or before the term `deadline`."""

    shape: Literal["deadline"]
    kind: str
    subject: str | None = None


class EstablishmentRule(Strict):
    """Something must come to exist: `pending` until an observation of `kind` shows it."""

    shape: Literal["establishment"]
    kind: str
    supervised_by: str | None = None


class LinkedSeriesRule(Strict):
    """`pending` until the first `trigger_kind` observation; from then a prohibition on `kind`."""

    shape: Literal["linked-series"]
    trigger_kind: str
    kind: str


class TermRenewalRule(Strict):
    """A term from `start` of `period_years`, renewed automatically unless a Party gives notice in time."""

    shape: Literal["term-renewal"]
    kind: str


Rule = Annotated[
    Union[ProhibitionRule, CapRule, DeadlineRule, EstablishmentRule, LinkedSeriesRule, TermRenewalRule],
    Field(discriminator="shape"),
]

REQUIRED_TERMS: dict[str, tuple[str, ...]] = {
    "prohibition": (),
    "cap": ("limit",),
    "deadline": ("deadline",),
    "establishment": (),
    "linked-series": (),
    "term-renewal": ("start", "period_years", "notice_months"),
}


class Obligation(Strict):
    """One obligation of the agreement, with a stable ID, its bearers, text, rule and terms."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    point: int = Field(ge=1)
    title: str
    bearers: list[str] = Field(min_length=1)
    joint: bool = False
    text: QuotedText
    rule: Rule
    terms: dict[str, Term] = {}
    interpretation: str | None = None

    @model_validator(mode="after")
    def _terms_fit_rule(self) -> "Obligation":
        missing = [name for name in REQUIRED_TERMS[self.rule.shape] if name not in self.terms]
        if missing:
            raise ValueError(f"a {self.rule.shape} rule needs the term(s) {', '.join(missing)}")
        for name, term in self.terms.items():
            if name in ("deadline", "start") and not isinstance(term.value, dt.date):
                raise ValueError(f"term {name!r} must be a date")
            if name in ("limit", "period_years", "notice_months") and isinstance(term.value, dt.date):
                raise ValueError(f"term {name!r} must be an integer")
            if name == "deadline" and term.inclusive is None:
                raise ValueError("a deadline must say whether its date is inclusive (inclusive: true/false)")
            check_term_value(name, term.value)
        return self

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every observation kind this obligation's rule reads."""
        if isinstance(self.rule, LinkedSeriesRule):
            return (self.rule.trigger_kind, self.rule.kind)
        return (self.rule.kind,)


class Amendment(Strict):
    """A change to one term of one obligation, agreed on a date by some parties; never an edit of the term."""

    id: str
    obligation: str
    term: str
    value: dt.date | int
    agreed_on: dt.date
    by: list[str] = Field(min_length=1)
    requested_by: list[str] = []
    relayed_by: list[str] = []
    source: str
    note: str | None = None


class Ending(Strict):
    """The date from which an obligation stopped applying, who agreed and the source."""

    id: str
    obligation: str
    on: dt.date
    by: list[str] = Field(min_length=1)
    source: str
    note: str | None = None


class Agreement(Strict):
    """An agreement: parties, vocabulary, sides, obligations, amendments and endings."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    title: str
    signed: dt.date
    in_force: dt.datetime
    timezone: str
    reading_of_deadlines: str
    versions: dict[str, TextVersion] = Field(min_length=1)
    parties: dict[str, str] = Field(min_length=1)
    actors: dict[str, str] = {}
    sides: list[list[str]] = []
    default_window_days: int = Field(default=31, ge=0, le=3660)
    kinds: dict[str, KindSpec] = Field(min_length=1)
    obligations: list[Obligation] = Field(min_length=1)
    amendments: list[Amendment] = []
    endings: list[Ending] = []

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
                if bearer not in self.parties:
                    raise ValueError(f"{where}: bearer {bearer!r} is not a party ({', '.join(self.parties)})")
            for kind in ob.kinds:
                if kind not in self.kinds:
                    raise ValueError(f"{where}: rule reads unknown kind {kind!r}")
            if ob.rule.shape == "cap" and self.kinds[ob.rule.kind].count == "none":
                raise ValueError(f"{where}: a cap needs a kind with a count, {ob.rule.kind!r} has none")
            for version in [ob.text.version, *(v.version for v in ob.text.variants), *(t.version for t in ob.terms.values())]:
                if version not in self.versions:
                    raise ValueError(f"{where}: unknown text version {version!r}")
        for index, amendment in enumerate(self.amendments):
            self.check_amendment(amendment, f"amendments.{index}")
        for index, ending in enumerate(self.endings):
            if ending.obligation not in ids:
                raise ValueError(f"endings.{index}: unknown obligation {ending.obligation!r}")
            if not re.fullmatch(rf"{re.escape(self.id)}-E\d+", ending.id):
                raise ValueError(f"endings.{index}: ID must be {self.id}-E<n>")
        return self

    def check_amendment(self, amendment: Amendment, where: str) -> None:
        """Raise ValueError when an amendment names an unknown obligation or term, or a value of the wrong type."""
        if not re.fullmatch(rf"{re.escape(self.id)}-A\d+", amendment.id):
            raise ValueError(f"{where}: ID must be {self.id}-A<n>")
        ob = self.obligation_or_none(amendment.obligation)
        if ob is None:
            raise ValueError(f"{where}: unknown obligation {amendment.obligation!r}")
        if amendment.term not in ob.terms:
            raise ValueError(f"{where}: {ob.id} has no term {amendment.term!r} (terms: {', '.join(ob.terms) or 'none'})")
        if isinstance(ob.terms[amendment.term].value, dt.date) != isinstance(amendment.value, dt.date):
            raise ValueError(f"{where}: term {amendment.term!r} takes a {'date' if isinstance(ob.terms[amendment.term].value, dt.date) else 'whole number'}")
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

    def obligation_or_none(self, obligation_id: str) -> Obligation | None:
        """The obligation with this ID, or None."""
        return self._by_id.get(obligation_id)

    @cached_property
    def _by_id(self) -> dict[str, Obligation]:
        return {ob.id: ob for ob in self.obligations}

    def side_of(self, code: str) -> str | None:
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

