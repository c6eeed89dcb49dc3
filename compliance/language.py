"""The clause language: an obligation's rule stated as data, which `compliance/rules.py` compiles to durable-rules.

A rule says what it reads, how each observation it reads is classified, how classified evidence is grouped
and graded, which events and deadlines it has, and which verdict its findings give (docs/authoring.md is the
guide). Its parts:

- `reads`: the observations the rule reads (a kind, optionally a subject or supervising body; whose conduct;
  the period; from which event on).
- `evidence`: roles, each a condition on an observation's own fields (claim, source's side, count, declared
  attributes) compared with literals or with the obligation's terms in force on the observation's own dates.
- `matters`: evidence of one role grouped into matters by window and graded (`corroborated`, `disputed`,
  `alleged`) by group predicates: `independent`, `bearer-side`, `other-side`, `two-sides`, `contradicted`.
- `events`: an event happens at the earliest evidence of a role, graded the same way (`confirmed`, `disputed`).
- `deadlines`: an event must happen by a date term, or within days or months of another event; or on an
  exact day.
- `periods`: a term that runs from a start for whole periods, renewed unless notice is given in time.
- `verdict`: an ordered table; the first entry whose condition holds gives the verdict, with its reason.

Templates (`compliance/templates/*.yaml`, or `templates:` in a clause file) are rules with `$parameters`;
an obligation names one (`rule: {template: cap, kind: contingent.personnel}`), or writes its rule inline.
The six rule shapes of earlier clause files (`rule: {shape: cap, ...}`) are read as the templates of the
same names.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ClauseFileError
from .resources import templates_dir

COMPARATORS = ("gt", "ge", "lt", "le", "eq", "ne")
SOURCE_RELATIONS = ("independent", "bearer-side", "other-side", "not-bearer-side")
GROUP_PREDICATES = ("independent", "bearer-side", "other-side", "two-sides")
DEADLINE_OUTCOMES = ("in-time", "late", "early", "overdue", "pending")
EVENT_STATES = ("happened", "absent", "confirmed", "disputed")
PERIOD_STATES = ("ended",)
TEMPORAL_ROLES = ("counted", "straddles", "before")  # every observation read gets exactly one of these
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_PARAM = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")

Literal_ = Union[bool, int, float, str]


class Strict(BaseModel):
    """Base of the language's models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{what} {value!r} must be lower case letters, digits, '-' or '_', starting with a letter")
    return value


# ---- evidence conditions -------------------------------------------------------------------------

class Comparison(Strict):
    """Comparisons of one field with literals or with a term (a string naming one of the obligation's terms)."""

    gt: Optional[Literal_] = None
    ge: Optional[Literal_] = None
    lt: Optional[Literal_] = None
    le: Optional[Literal_] = None
    eq: Optional[Literal_] = None
    ne: Optional[Literal_] = None

    @model_validator(mode="after")
    def _some(self) -> "Comparison":
        if not self.items():
            raise ValueError(f"a comparison needs one of {', '.join(COMPARATORS)}")
        return self

    def items(self) -> list[tuple[str, Literal_]]:
        """(comparator, operand) pairs, in the order of COMPARATORS."""
        return [(op, getattr(self, op)) for op in COMPARATORS if getattr(self, op) is not None]


class Condition(Strict):
    """A condition on one observation: every key given must hold (`any`: one of the listed conditions)."""

    read: Optional[str] = None
    claim: Optional[Literal["affirms", "denies"]] = None
    source: Optional[Literal["independent", "bearer-side", "other-side", "not-bearer-side"]] = None
    actor: Optional[Literal["party"]] = None
    count: Optional[Literal["present", "absent"]] = None
    low: Optional[Comparison] = None
    high: Optional[Comparison] = None
    attributes: dict[str, Comparison] = {}
    all: list["Condition"] = []
    any: list["Condition"] = []

    def term_names(self) -> set[str]:
        """The terms a count comparison names (`low: {gt: limit}`); attribute comparisons may name terms too,
        or compare with a literal string (the obligation's terms decide which)."""
        found: set[str] = set()
        for comparison in (self.low, self.high):
            if comparison is not None:
                found.update(v for _, v in comparison.items() if isinstance(v, str))
        for inner in [*self.all, *self.any]:
            found |= inner.term_names()
        return found

    def attribute_operands(self) -> set[str]:
        """Every string an attribute comparison names (a term, or a literal)."""
        found: set[str] = set()
        for comparison in self.attributes.values():
            found.update(v for _, v in comparison.items() if isinstance(v, str))
        for inner in [*self.all, *self.any]:
            found |= inner.attribute_operands()
        return found


# ---- groups: matters and events ------------------------------------------------------------------

class Contradicted(Strict):
    """Evidence of `role` dated within the group's window; `side: other` only from a side none of the group's
    sources is on (or an independent source)."""

    role: str
    side: Literal["any", "other"] = "any"


class GroupCondition(Strict):
    """A condition on a group (matter or event) of evidence: the predicates listed must all hold."""

    predicates: tuple[str, ...] = ()
    contradicted: Optional[Contradicted] = None
    any: tuple["GroupCondition", ...] = ()

    @classmethod
    def parse(cls, data: Any) -> "GroupCondition":
        """From YAML: a predicate name, {any: [...]}, {all: [...]}, {contradicted: ROLE | {role, side}}, or {}."""
        if isinstance(data, GroupCondition):
            return data
        if data is None:
            return cls()
        if isinstance(data, str):
            if data not in GROUP_PREDICATES:
                raise ValueError(f"unknown group predicate {data!r} (known: {', '.join(GROUP_PREDICATES)}, contradicted)")
            return cls(predicates=(data,))
        if not isinstance(data, dict):
            raise ValueError(f"a group condition is a predicate name or a mapping, got {data!r}")
        unknown = set(data) - {"any", "all", "contradicted"}
        if unknown:
            raise ValueError(f"unknown key {sorted(unknown)[0]!r} in a group condition (any, all, contradicted)")
        predicates: list[str] = []
        contradicted = None
        for item in data.get("all", []) or []:
            inner = cls.parse(item)
            if inner.any:
                raise ValueError("`any` inside `all` is not supported; list the alternatives as separate entries")
            predicates += inner.predicates
            contradicted = inner.contradicted or contradicted
        if "contradicted" in data:
            value = data["contradicted"]
            contradicted = Contradicted(role=value) if isinstance(value, str) else Contradicted.model_validate(value)
        alternatives = tuple(cls.parse(item) for item in data.get("any", []) or [])
        if alternatives and (predicates or contradicted):
            raise ValueError("a group condition has either `any` or `all`/`contradicted`")
        return cls(predicates=tuple(predicates), contradicted=contradicted, any=alternatives)

    def conjuncts(self) -> list["GroupCondition"]:
        """The condition as alternatives, each a plain conjunction (no `any`)."""
        if self.any:
            return [c for alternative in self.any for c in alternative.conjuncts()]
        return [self]

    def roles(self) -> set[str]:
        """Roles this condition reads (through `contradicted`)."""
        found = {self.contradicted.role} if self.contradicted else set()
        for alternative in self.any:
            found |= alternative.roles()
        return found


class GradeEntry(Strict):
    """One row of a grade table: the status a group gets when the condition holds (first that holds wins)."""

    status: str
    when: GroupCondition

    @classmethod
    def parse(cls, data: Any) -> "GradeEntry":
        if isinstance(data, GradeEntry):
            return data
        if isinstance(data, dict) and set(data) == {"status", "when"}:
            return cls(status=data["status"], when=GroupCondition.parse(data["when"]))
        if not isinstance(data, dict) or len(data) != 1:
            raise ValueError("a grade entry is one `status: condition` pair, such as `corroborated: independent`")
        ((status, when),) = data.items()
        return cls(status=_name(str(status), "status"), when=GroupCondition.parse(when))


def _grade_table(value: Any) -> Any:
    if not isinstance(value, list):
        raise ValueError("a grade table is a list of `status: condition` entries")
    entries = [GradeEntry.parse(item) for item in value]
    if not entries or entries[-1].when != GroupCondition():
        raise ValueError("a grade table must end with an entry that always holds (`status: {}`)")
    return entries


MATTER_GRADES = [{"corroborated": {"any": ["independent", "bearer-side", "two-sides"]}},
                 {"disputed": {"contradicted": "contradiction"}}, {"alleged": {}}]


class MattersSpec(Strict):
    """Evidence of role `of` grouped into matters (within `window_days` of each other, transitively), graded."""

    of: str = "breach"
    window_days: Optional[int] = Field(default=None, ge=0, le=3660)
    grade: list[GradeEntry] = Field(default_factory=lambda: _grade_table(MATTER_GRADES))

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: Any) -> Any:
        return _grade_table(value)


class EventSpec(Strict):
    """An event: it happens at the earliest evidence of role `first`; all that evidence is graded together."""

    first: str
    window_days: Optional[int] = Field(default=None, ge=0, le=3660)
    grade: list[GradeEntry] = Field(default_factory=lambda: _grade_table([{"confirmed": {}}]))

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: Any) -> Any:
        return _grade_table(value)


class EventRef(Strict):
    """An event another deadline counts from: this rule's (`event`), another obligation's (`obligation` and
    `event`), the first observation of a kind (`kind`), or the agreement's entry into force (`entry_into_force`)."""

    event: Optional[str] = None
    obligation: Optional[str] = None
    kind: Optional[str] = None
    entry_into_force: bool = False

    @model_validator(mode="after")
    def _one(self) -> "EventRef":
        forms = [self.kind is not None, self.entry_into_force, self.event is not None]
        if sum(forms) != 1:
            raise ValueError("name one of: event (with obligation for another obligation's), kind, entry_into_force: true")
        if self.obligation is not None and self.event is None:
            raise ValueError("obligation goes with event (the name of one of its events)")
        return self

    def describe(self) -> str:
        """The reference in words."""
        if self.entry_into_force:
            return "entry into force"
        if self.kind is not None:
            return f"the first {self.kind}"
        return f"{self.obligation}'s event '{self.event}'" if self.obligation else f"{self.event}"


class DeadlineSpec(Strict):
    """An event that must happen by a date term, within `days`/`months` of another event, or on an exact day.

    `days` and `months` are whole numbers, or the name of a term that holds one (so a what-if can change it)."""

    event: str
    term: Optional[str] = None
    after: Optional[EventRef] = None
    days: Optional[Union[int, str]] = None
    months: Optional[Union[int, str]] = None
    inclusive: Optional[bool] = None
    exact: bool = False

    @field_validator("days", "months")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and not 0 <= value <= 36600):
            raise ValueError("must be a whole number from 0 to 36600, or the name of a term")
        return value

    @model_validator(mode="after")
    def _form(self) -> "DeadlineSpec":
        if (self.term is None) == (self.after is None):
            raise ValueError("a deadline has either `term` (a date term) or `after` (an event) with days or months")
        if self.after is not None and self.days is None and self.months is None:
            raise ValueError("a deadline counted from an event needs `days` or `months`")
        if self.term is not None and (self.days is not None or self.months is not None):
            raise ValueError("`days` and `months` go with `after`, not with `term`")
        return self


class PeriodsSpec(Strict):
    """A term that runs from `start` for periods of `years`, renewed unless evidence of role `notice` falls on or
    before the notice deadline (`notice_months` before a period ends)."""

    start: str = "start"
    years: str = "period_years"
    notice_months: str = "notice_months"
    notice: str = "notice"


# ---- reads ---------------------------------------------------------------------------------------

class Read(Strict):
    """Observations a rule reads."""

    kind: str
    subject: Optional[str] = None
    supervised_by: Optional[str] = None
    actor: Optional[str] = None
    conduct: Literal["bearer", "any"] = "bearer"
    period: Literal["window", "record"] = "window"
    after: Optional[str] = None
    name: Optional[str] = None

    @property
    def label(self) -> str:
        """How evidence conditions name this read (`read: LABEL`)."""
        return self.name or self.kind


# ---- verdicts ------------------------------------------------------------------------------------

class VerdictCondition(Strict):
    """A condition on an obligation's findings: every key given must hold (`any`: one of the alternatives)."""

    matters: Optional[str] = None
    event: dict[str, Literal["happened", "absent", "confirmed", "disputed"]] = {}
    deadline: dict[str, Literal["in-time", "late", "early", "overdue", "pending"]] = {}
    evidence: Optional[str] = None
    no_evidence: Optional[str] = None
    periods: Optional[Literal["ended"]] = None
    together: Optional[tuple[str, str, Union[int, str]]] = None
    apart: Optional[tuple[str, str, Union[int, str]]] = None
    any: list["VerdictCondition"] = []

    @field_validator("together", "apart", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        if isinstance(value, dict):
            events = value.get("events")
            if not (isinstance(events, list) and len(events) == 2) or set(value) != {"events", "within_days"}:
                raise ValueError("give {events: [A, B], within_days: N}")
            return (events[0], events[1], value["within_days"])
        return value

    def conjuncts(self) -> list["VerdictCondition"]:
        """The condition as alternatives without `any` (each keeps the other keys)."""
        base = self.model_copy(update={"any": []})
        if not self.any:
            return [base]
        result = []
        for alternative in self.any:
            for inner in alternative.conjuncts():
                merged = base.model_dump(exclude_defaults=True)
                for key, value in inner.model_dump(exclude_defaults=True).items():
                    merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
                result.append(VerdictCondition.model_validate(merged))
        return result


class Cite(Strict):
    """Which observations a verdict cites, in three lists (breach, contradicting, compliance evidence).

    Each list names sources of rows: a role (its evidence), `matters` (every matter's evidence),
    `matters.STATUS` (the evidence of matters graded STATUS), `event.NAME` (the evidence of an event), or
    `contradicting` (evidence that contradicted a matter or event, within its window)."""

    breach: list[str] = []
    contradicting: list[str] = []
    compliance: list[str] = []

    def selectors(self) -> list[str]:
        """Every selector named, in order."""
        return [*self.breach, *self.contradicting, *self.compliance]


class VerdictEntry(Strict):
    """One row of the verdict table: the verdict when the condition holds, its reason (text with fields) and
    the evidence it cites."""

    verdict: str
    when: VerdictCondition = VerdictCondition()
    reason: str
    cite: Cite = Cite()


# ---- the rule ------------------------------------------------------------------------------------

class RuleBody(Strict):
    """An obligation's rule in the clause language (docs/authoring.md)."""

    reads: list[Read] = []
    evidence: dict[str, Condition] = {}
    matters: Optional[MattersSpec] = None
    events: dict[str, EventSpec] = {}
    deadlines: dict[str, DeadlineSpec] = {}
    periods: Optional[PeriodsSpec] = None
    starts: Optional[str] = None
    due: Literal["first", "latest"] = "first"  # which deadline `due` reports: the first not met, or the latest
    verdict: list[VerdictEntry] = Field(min_length=1)
    what: str = ""
    describe: str = ""
    template: Optional[str] = None

    @field_validator("evidence", "events", "deadlines")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            _name(key, "name")
            if key in TEMPORAL_ROLES:
                raise ValueError(f"{key!r} is a built-in role name; choose another")
        return value

    @model_validator(mode="after")
    def _references(self) -> "RuleBody":
        labels = [read.label for read in self.reads]
        if len(set(labels)) != len(labels):
            raise ValueError("two reads have the same name; give one a `name`")
        roles = set(self.evidence)
        for role, condition in self.evidence.items():
            for read in _reads_named(condition):
                if read not in labels:
                    raise ValueError(f"evidence.{role}: no read named {read!r} (reads: {', '.join(labels)})")
        needed: list[tuple[str, str]] = []
        if self.matters is not None:
            needed.append(("matters.of", self.matters.of))
            needed += [("matters.grade", role) for e in self.matters.grade for role in e.when.roles()]
        for name, event in self.events.items():
            needed.append((f"events.{name}.first", event.first))
            needed += [(f"events.{name}.grade", role) for e in event.grade for role in e.when.roles()]
        if self.periods is not None:
            needed.append(("periods.notice", self.periods.notice))
        for where, role in needed:
            if role not in roles:
                raise ValueError(f"{where}: no evidence role {role!r} (roles: {', '.join(roles) or 'none'})")
        for read in self.reads:
            if read.after is not None and read.after not in self.events:
                raise ValueError(f"reads.{read.label}.after: no event {read.after!r}")
            if read.after is not None and any(r.label == read.label for r in self._reads_of_event(read.after)):
                raise ValueError(f"reads.{read.label}.after: the event {read.after!r} is read from this same read")
        for name, deadline in self.deadlines.items():
            if deadline.event not in self.events:
                raise ValueError(f"deadlines.{name}.event: no event {deadline.event!r}")
            ref = deadline.after
            if ref is not None and ref.event is not None and ref.obligation is None and ref.event not in self.events:
                raise ValueError(f"deadlines.{name}.after: no event {ref.event!r}")
        for index, entry in enumerate(self.verdict):
            for condition in entry.when.conjuncts():
                self._check_verdict_condition(condition, f"verdict.{index}")
            for selector in entry.cite.selectors():
                self._check_selector(selector, f"verdict.{index}.cite")
        if self.verdict[-1].when != VerdictCondition():
            raise ValueError("the verdict table must end with an entry that always holds (no `when`)")
        return self

    def _reads_of_event(self, event: str) -> list[Read]:
        role = self.events[event].first
        condition = self.evidence.get(role)
        names = _reads_named(condition) if condition is not None else set()
        return [r for r in self.reads if not names or r.label in names]

    def _check_verdict_condition(self, condition: VerdictCondition, where: str) -> None:
        if condition.matters is not None:
            if self.matters is None:
                raise ValueError(f"{where}: `matters` needs a `matters` section")
            statuses = {e.status for e in self.matters.grade}
            if condition.matters not in statuses:
                raise ValueError(f"{where}: matters have no status {condition.matters!r} ({', '.join(sorted(statuses))})")
        for name, state in condition.event.items():
            if name not in self.events:
                raise ValueError(f"{where}: no event {name!r}")
            if state in ("confirmed", "disputed") and state not in {e.status for e in self.events[name].grade}:
                raise ValueError(f"{where}: event {name!r} has no status {state!r}")
        for name in condition.deadline:
            if name not in self.deadlines:
                raise ValueError(f"{where}: no deadline {name!r}")
        for role in (condition.evidence, condition.no_evidence):
            if role is not None and role not in self.evidence and role not in TEMPORAL_ROLES:
                raise ValueError(f"{where}: no evidence role {role!r}")
        if condition.periods is not None and self.periods is None:
            raise ValueError(f"{where}: `periods` needs a `periods` section")
        for pair in (condition.together, condition.apart):
            if pair is not None:
                for name in pair[:2]:
                    if name not in self.events:
                        raise ValueError(f"{where}: no event {name!r}")

    def _check_selector(self, selector: str, where: str) -> None:
        head, _, tail = selector.partition(".")
        if selector in self.evidence or selector == "contradicting":
            return
        if head == "matters" and self.matters is not None and (not tail or tail in {e.status for e in self.matters.grade}):
            return
        if head == "event" and tail in self.events:
            return
        raise ValueError(f"{where}: {selector!r} names no role, matters status or event")

    def term_names(self) -> set[str]:
        """Every term this rule reads (date terms of deadlines, periods, starts, terms compared with)."""
        names: set[str] = set()
        for condition in self.evidence.values():
            names |= condition.term_names()
        names.update(d.term for d in self.deadlines.values() if d.term)
        names.update(v for d in self.deadlines.values() for v in (d.days, d.months) if isinstance(v, str))
        for entry in self.verdict:
            for condition in entry.when.conjuncts():
                for pair in (condition.together, condition.apart):
                    if pair is not None and isinstance(pair[2], str):
                        names.add(pair[2])
        if self.periods is not None:
            names.update((self.periods.start, self.periods.years, self.periods.notice_months))
        if self.starts:
            names.add(self.starts)
        return names

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every observation kind this rule reads, in order."""
        return tuple(dict.fromkeys(read.kind for read in self.reads))

    @property
    def not_assessed(self) -> bool:
        """True for a provision with no machine-checkable test."""
        return not self.reads and all(entry.verdict == "not-assessed" for entry in self.verdict)


def _reads_named(condition: Condition) -> set[str]:
    names = {condition.read} if condition.read else set()
    for inner in [*condition.all, *condition.any]:
        names |= _reads_named(inner)
    return names


# ---- templates -----------------------------------------------------------------------------------

class Param(Strict):
    """A template parameter."""

    description: str = ""
    required: bool = True
    default: Optional[Any] = None


class Template(Strict):
    """A rule with `$parameters`: what a clause file names with `rule: {template: NAME, ...}`."""

    name: str
    description: str
    params: dict[str, Param] = {}
    terms: dict[str, str] = {}
    rule: dict[str, Any]

    def instantiate(self, values: dict[str, Any], where: str = "rule") -> RuleBody:
        """The rule with parameters substituted; ValueError names a missing or unknown parameter."""
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise ValueError(f"template {self.name!r} has no parameter {unknown[0]!r} "
                             f"(parameters: {', '.join(self.params) or 'none'})")
        resolved: dict[str, Any] = {}
        for name, param in self.params.items():
            if name in values and values[name] is not None:
                resolved[name] = values[name]
            elif param.required:
                raise ValueError(f"template {self.name!r} needs the parameter {name!r} ({param.description})")
            else:
                resolved[name] = param.default
        body = _substitute(self.rule, resolved)
        body["template"] = self.name
        return RuleBody.model_validate(body)


_MISSING = object()


def _substitute(value: Any, params: dict[str, Any]) -> Any:
    """Replace every string `$name` by the parameter's value; a key whose value is an absent parameter is dropped."""
    if isinstance(value, str):
        found = _PARAM.match(value)
        if found:
            name = found.group(1)
            if name not in params:
                raise ValueError(f"template uses ${name}, which it does not declare")
            return _MISSING if params[name] is None else params[name]
        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: str(params.get(m.group(1), "")), value)
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            new = _substitute(item, params)
            if new is not _MISSING:
                result[key] = new
        return result
    if isinstance(value, list):
        return [item for item in (_substitute(item, params) for item in value) if item is not _MISSING]
    return value


@lru_cache(maxsize=1)
def bundled_templates() -> dict[str, Template]:
    """The templates shipped with the package (`compliance/templates/*.yaml`), by name."""
    from .yamlfile import first_validation_error, load_yaml

    found: dict[str, Template] = {}
    for path in sorted(templates_dir().glob("*.yaml")):
        doc = load_yaml(path.read_text(encoding="utf-8"), str(path), ClauseFileError)
        try:
            template = Template.model_validate(doc.data)
        except ValidationError as error:
            raise first_validation_error(doc, error, ClauseFileError) from None
        found[template.name] = template
    return found


LEGACY_SHAPES = ("prohibition", "cap", "deadline", "establishment", "linked-series", "term-renewal")


def resolve_rule(data: Any, templates: dict[str, Template]) -> RuleBody:
    """An obligation's `rule` as a RuleBody: a template with parameters (`template:` or the older `shape:`),
    or a rule written out in the language."""
    if isinstance(data, RuleBody):
        return data
    if not isinstance(data, dict):
        raise ValueError("a rule is a mapping: {template: NAME, ...parameters} or a rule written out")
    data = dict(data)
    name = data.pop("template", None)
    shape = data.pop("shape", None)
    if name is not None and shape is not None:
        raise ValueError("give `template` or `shape`, not both")
    name = name if name is not None else shape
    if name is None:
        return RuleBody.model_validate(data)
    if not isinstance(name, str):
        raise ValueError(f"a template is named by text, got {name!r}")
    template = templates.get(name)
    if template is None:
        raise ValueError(f"unknown template {name!r} (known: {', '.join(sorted(templates))})")
    return template.instantiate(data)
