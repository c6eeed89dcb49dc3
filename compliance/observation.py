"""Observations: one dated statement about the world, validated against the agreement's vocabulary."""

from __future__ import annotations

import datetime as dt
import math
import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Iterable, Literal

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from .agreement import INDEPENDENT, PARTY_CODE, Agreement, KindSpec
from .dates import parse_moment
from .errors import InputError

class Vocabulary(Protocol):
    """What observations are validated against: an agreement, or the agreements a store tracks (a Process)."""

    kinds: dict[str, KindSpec]
    known_codes: tuple[str, ...]
    tz: dt.tzinfo


MAX_TEXT = 1_000
MAX_LONG_TEXT = 10_000
LONG_TEXT_FIELDS = ("quote", "notes")
METHODS = ("seen", "heard", "imagery", "statement", "media-report")
CLAIMS = ("affirms", "denies")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # from a JSON escape or undecodable command-line bytes
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # _CONTROL or _SURROGATE
MAX_COUNT = 2**63 - 1  # the largest whole number the store can hold
_PARTY_RE = re.compile(PARTY_CODE)
_HTTP_URL = re.compile(r"^https?://[^\s/?#@]+(?:[/?#]\S*)?$", re.IGNORECASE)  # a host, then no white space

OBSERVATION_FIELDS = (
    "kind", "date", "actor", "source", "source_party", "value", "low", "high", "claim", "subject",
    "place", "lat", "lon", "date_end", "method", "supervised_by", "url", "quote", "notes", "external_id",
    "attributes",
)


def clean_text(value: Any, field: str, limit: int = MAX_TEXT) -> str:
    """Trim a string and reject empty, over-long or control-character text."""
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {type(value).__name__}", field)
    text = value.strip()
    if not text:
        raise InputError("must not be empty", field)
    if len(text) > limit:
        raise InputError(f"is {len(text):,} characters; at most {limit:,}", field)
    if _UNWANTED.search(text):  # one scan for the usual case, then which of the two
        if _CONTROL.search(text):
            raise InputError("contains a control character (only newline and tab are allowed)", field)
        raise InputError("is not valid Unicode text (an unpaired surrogate)", field)
    return text


def clean_name(value: Any, field: str) -> str:
    """A one-line name (who records: `recorded_by`): clean_text, and no newline or tab either."""
    text = clean_text(value, field)
    if "\n" in text or "\t" in text:
        raise InputError("contains a control character (a name is one line, without tabs)", field)
    return text


def count_text(fields: dict[str, Any], dash: str = "-") -> str:
    """How an observation's count reads: '1,960', '7,000-8,000', or '' when it has none."""
    if "value" in fields:
        return f"{fields['value']:,}"
    if "low" in fields:
        return f"{fields['low']:,}{dash}{fields['high']:,}"
    return ""


class ObservationFields(BaseModel):
    """The fields a monitor gives for an observation, checked for type and range (not yet for vocabulary)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="What was observed, from the agreement's declared vocabulary.")
    date: str = Field(description="When the observed thing happened (not when it was logged): an ISO 8601 date "
                                  "(2021-07-13) or date-time; without an offset it is read in the agreement's time "
                                  "zone. Not after today.")
    actor: str = Field(description="Whose conduct or forces the observation concerns: a party code the agreement "
                                   "knows (or one declared with --declare).")
    source: str = Field(description="Who reported it: an outlet, a ministry, a mission, the monitor's own patrol.")
    source_party: str = Field(description="Which side the source is aligned with: a party code, or 'independent'. "
                                          "May be left out when the source is in the source registry, which "
                                          "supplies it.")
    value: StrictInt | None = Field(default=None, ge=0, le=MAX_COUNT,
                                    description="A count, for kinds that have one (whole number >= 0).")
    low: StrictInt | None = Field(default=None, ge=0, le=MAX_COUNT,
                                  description="Lower end of a reported range (with high; low <= value <= high).")
    high: StrictInt | None = Field(default=None, ge=0, le=MAX_COUNT, description="Upper end of a reported range.")
    claim: Literal["affirms", "denies"] = Field(default="affirms", description="'denies' records that the source "
                                                "denies the observed thing.")
    subject: str | None = Field(default=None, description="What it is about where the kind needs it: a district, or "
                                                          "conflict-zone / state-border for ceasefire.breach.")
    place: str | None = Field(default=None, description="Where, in words.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude (with lon).")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude (with lat).")
    date_end: str | None = Field(default=None, description="For something that lasted: its last day (date <= "
                                                           "date_end), in the form of date.")
    method: Literal["seen", "heard", "imagery", "statement", "media-report"] | None = Field(
        default=None, description="How the source knows it.")
    supervised_by: str | None = Field(default=None, description="The body that supervised or verified it (UNHCR "
                                                                "for returns).")
    url: str | None = Field(default=None, description="Link to the source: an http or https URL.")
    quote: str | None = Field(default=None, description="A short attributed excerpt of the source (at most 10,000 "
                                                        "characters).")
    notes: str | None = Field(default=None, description="Free text (at most 10,000 characters).")
    external_id: str | None = Field(default=None, description=(
        "The identifier of the record in the system it came from (acled:AZE1234). An import skips a line whose "
        "external_id is already in the log with the same content, and records a correction when the content "
        "changed."))
    attributes: dict[str, Any] | None = Field(default=None, description=(
        "Values of the attributes the agreement declares for the kind (a calibre in mm, a distance in km), each "
        "checked against its declared type; a kind that declares none refuses them."))

    @field_validator("lat", "lon", mode="before")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, bool) or (value is not None and not isinstance(value, (int, float))):
            raise ValueError("must be a decimal number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number (no NaN or infinity)")
        return value

    @field_validator("date", "date_end", mode="before")
    @classmethod
    def _date_text(cls, value: Any) -> Any:
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return value


_CLEANED_FIELDS = frozenset(("kind", "actor", "source", "source_party", "subject", "place", "supervised_by", "url",
                             "quote", "notes", "method", "claim", "external_id"))  # text even when not given as text
_DEFAULTS = {name: info.default for name, info in ObservationFields.model_fields.items()}
_TEXT_FIELDS = frozenset(("kind", "date", "actor", "source", "source_party", "subject", "place", "date_end",
                          "supervised_by", "url", "quote", "notes", "external_id"))
_COUNT_FIELDS = frozenset(("value", "low", "high"))
_REQUIRED_FIELDS = ("kind", "date", "actor", "source", "source_party")


def _plain_fields(cleaned: dict[str, Any]) -> SimpleNamespace | None:
    """What ObservationFields.model_validate(cleaned) gives, without pydantic, for the common case: known
    fields only, text as str, counts as int in range, claim and method from their lists, no lat/lon.
    None for anything else, which pydantic then validates (and names the error of)."""
    for key, value in cleaned.items():
        if key in _TEXT_FIELDS:
            if type(value) is not str:
                return None
        elif key in _COUNT_FIELDS:
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                return None
        elif key == "claim":
            if type(value) is not str or value not in CLAIMS:
                return None
        elif key == "method":
            if type(value) is not str or value not in METHODS:
                return None
        else:
            return None
    for key in _REQUIRED_FIELDS:
        if key not in cleaned:
            return None
    values = dict(_DEFAULTS)  # every field, in the model's order, with its default
    values.update(cleaned)
    return SimpleNamespace(**values)


def _first_error(error: ValidationError) -> InputError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "observation"
    if first["type"] == "extra_forbidden":
        return InputError(f"unknown field (valid fields: {', '.join(OBSERVATION_FIELDS)})", field)
    if first["type"] == "missing":
        return InputError("is required", field)
    if first["type"] == "literal_error":
        return InputError(f"must be one of: {first['ctx']['expected']}", field)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"].startswith("int"):
        message = "must be a whole number" if "parsing" in first["type"] or "type" in first["type"] else message
    return InputError(message, field)


class Observation(BaseModel):
    """A validated observation: the monitor's fields, normalised, with the dates it is compared by."""

    model_config = ConfigDict(frozen=True)

    fields: dict[str, Any]
    day: dt.date
    day_end: dt.date
    instant: dt.datetime
    timed: bool = False
    instant_end: dt.datetime | None = None
    timed_end: bool = False

    @property
    def kind(self) -> str:
        """The observation kind."""
        return self.fields["kind"]

    @property
    def actor(self) -> str:
        """Whose conduct or forces the observation concerns."""
        return self.fields["actor"]

    @property
    def lo(self) -> int | None:
        """The count's lower bound (its value when exact)."""
        return self.fields.get("value", self.fields.get("low"))

    @property
    def hi(self) -> int | None:
        """The count's upper bound (its value when exact)."""
        return self.fields.get("value", self.fields.get("high"))


@lru_cache(maxsize=8192)
def _moment(text: str, tz: dt.tzinfo) -> tuple[dt.date, dt.datetime]:
    """parse_moment, remembered: a log repeats the same dates many times."""
    return parse_moment(text, tz)


def has_time(text: str) -> bool:
    """True when an ISO date text carries a time of day (a moment), False for a plain date."""
    return len(text.strip()) > 10


def _with_offset(text: str, tz: dt.tzinfo) -> str:
    """A date-time without an offset, with the offset of `tz` at that local time (one instant everywhere)."""
    moment = dt.datetime.fromisoformat(text.strip())
    if moment.tzinfo is not None:
        return text
    return moment.replace(tzinfo=tz).isoformat()


def _no_offset(text: str) -> bool:
    try:
        return has_time(text) and dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")).tzinfo is None
    except ValueError:
        return False


def parse_attribute_text(spec: KindSpec, kind: str, name: str, text: str) -> Any:
    """A command-line `--attr name=value` value as the attribute's declared type."""
    declared = spec.attributes.get(name)
    if declared is None:
        known = ", ".join(spec.attributes) or "none"
        raise InputError(f"kind {kind!r} declares no attribute {name!r} (declared: {known})", f"attributes.{name}")
    text = text.strip()
    if declared.type == "integer":
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        raise InputError(f"must be a whole number{_unit(declared)}, got {text!r}", f"attributes.{name}")
    if declared.type == "number":
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"must be a number{_unit(declared)}, got {text!r}", f"attributes.{name}") from None
        if not math.isfinite(value):
            raise InputError("must be a finite number (no NaN or infinity)", f"attributes.{name}")
        return int(value) if re.fullmatch(r"[+-]?\d+", text) else value
    if declared.type == "boolean":
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise InputError(f"must be true or false, got {text!r}", f"attributes.{name}")
    return text


def _unit(declared: Any) -> str:
    return f" ({declared.unit})" if declared.unit else ""


def attributes_from_text(texts: Iterable[str], kind: str, vocabulary: "Vocabulary",
                         current: dict[str, Any] | None = None, param: str = "attributes") -> dict[str, Any]:
    """Attributes given as `name=value` texts, typed and checked against the kind's declaration, over `current`
    (a corrected observation's attributes; `name=` with no value drops one). InputError naming the parameter
    `param` (and the attribute) otherwise."""
    spec = check_kind(kind, vocabulary)
    if not spec.attributes:
        raise InputError(f"kind {kind!r} declares no attributes", param=param)
    declared = ", ".join(spec.attributes)
    result = dict(current or {})
    given: set[str] = set()
    for text in texts:
        name, equals, value = text.partition("=")
        name = name.strip()
        if not equals or not name:
            raise InputError(f"{text!r} is not NAME=VALUE (kind {kind!r} declares {declared})", param=param)
        if name in given:
            raise InputError(f"attribute {name!r} is given twice", param=param)
        given.add(name)
        if name not in spec.attributes:
            raise InputError(f"kind {kind!r} declares no attribute {name!r} (declared: {declared})", param=param)
        if not value.strip() and current is not None:
            result.pop(name, None)
            continue
        try:
            result[name] = _attribute_value(parse_attribute_text(spec, kind, name, value), spec.attributes[name],
                                            f"attributes.{name}")
        except InputError as error:
            raise error.as_param((param, name)) from None
    return result


def _attribute_value(item: Any, declared: Any, field: str) -> Any:
    """One attribute's value checked against its declared type (text trimmed); InputError naming `field`."""
    if declared.type == "integer":
        if isinstance(item, bool) or not isinstance(item, int) or not -MAX_COUNT <= item <= MAX_COUNT:
            raise InputError(f"must be a whole number{_unit(declared)}", field)
    elif declared.type == "number":
        if isinstance(item, bool) or not isinstance(item, (int, float)) or (isinstance(item, float) and not math.isfinite(item)):
            raise InputError(f"must be a finite number{_unit(declared)}", field)
    elif declared.type == "boolean":
        if not isinstance(item, bool):
            raise InputError("must be true or false", field)
    else:
        item = clean_text(item, field)
    return item


def _attributes(value: Any, kind: str, spec: KindSpec) -> dict[str, Any]:
    """Validate an observation's attributes against the kind's declarations."""
    if not isinstance(value, dict):
        raise InputError(f"must be a mapping of attribute names to values, got {type(value).__name__}", "attributes")
    if not spec.attributes:
        raise InputError(f"kind {kind!r} declares no attributes", "attributes")
    result: dict[str, Any] = {}
    for name, item in value.items():
        field = f"attributes.{name}"
        declared = spec.attributes.get(name)
        if declared is None:
            raise InputError(f"kind {kind!r} declares no attribute {name!r} (declared: {', '.join(spec.attributes)})", field)
        if item is None:
            continue
        result[name] = _attribute_value(item, declared, field)
    for name, declared in spec.attributes.items():
        if declared.required and name not in result:
            raise InputError(f"kind {kind!r} needs the attribute {name!r}", f"attributes.{name}")
    return dict(sorted(result.items()))


def check_party_code(code: str, field: str, known: Iterable[str], declared: Iterable[str] = (),
                     allow_independent: bool = False, declarable: bool = True) -> None:
    """A party code the agreement knows (or the monitor declares), or `independent` where allowed; InputError
    naming `field` otherwise. A code in the wrong case (`am`) is told the code it means (`AM`)."""
    if allow_independent and code == INDEPENDENT:
        return
    known = list(known)
    listed = list(dict.fromkeys([*known, *sorted(declared), *([INDEPENDENT] if allow_independent else [])]))
    if code in listed:
        return
    meant = next((c for c in listed if c.casefold() == code.casefold()), None)
    if meant is not None:
        raise InputError(f"unknown party code {code!r}: codes are case-sensitive; did you mean {meant}?", field)
    if not _PARTY_RE.match(code):
        raise InputError(f"{code!r} is not a party code (pattern {PARTY_CODE}{' or independent' if allow_independent else ''})", field)
    hint = f"; declare a new actor with {{declared:{code}}}" if declarable else ""
    raise InputError(f"unknown party code {code!r} (known: {', '.join(listed)}{hint})", field, mentions=("declared",))


def check_kind(kind: str, agreement: Agreement, field: str = "kind") -> Any:
    """The agreement's declaration of `kind`; InputError naming `field`, with the valid kinds, when it has none."""
    spec = agreement.kinds.get(kind)
    if spec is None:
        raise InputError(f"unknown kind {kind!r} (valid kinds: {', '.join(agreement.kinds)})", field)
    return spec


def check_actor(code: str, agreement: Agreement, declared: frozenset[str] = frozenset(), field: str = "actor") -> None:
    """An actor code the agreement knows or the monitor declares; InputError naming `field` otherwise."""
    _check_code(code, field, agreement, declared, allow_independent=False)


def _check_code(code: str, field: str, agreement: Agreement, declared: frozenset[str], allow_independent: bool) -> None:
    if (allow_independent and code == INDEPENDENT) or code in agreement.known_codes or code in declared:
        return
    check_party_code(code, field, agreement.known_codes, declared, allow_independent)


def parse_observation(data: Any, agreement: "Vocabulary", declared: frozenset[str] = frozenset(), *,
                      normalize: bool = True) -> Observation:
    """Validate one observation's fields against the vocabulary (an agreement, or the agreements a store tracks);
    raise InputError naming the field and reason.

    With `normalize` (new records), a date-time without an offset is stored with the offset of the vocabulary's
    time zone, so that it is one instant for every agreement; a restored record keeps its text as it was hashed."""
    if not isinstance(data, dict):
        raise InputError("an observation must be a JSON object")
    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if key == "attributes":
            cleaned[key] = value
            continue
        if isinstance(value, str) or key in _CLEANED_FIELDS:
            value = clean_text(value, key, MAX_LONG_TEXT if key in LONG_TEXT_FIELDS else MAX_TEXT)
        cleaned[key] = value
    fields = _plain_fields(cleaned)
    if fields is None:
        try:
            fields = ObservationFields.model_validate(cleaned)
        except ValidationError as error:
            raise _first_error(error) from None

    spec = agreement.kinds.get(fields.kind) or check_kind(fields.kind, agreement)
    attributes = None
    if fields.attributes is not None:
        attributes = _attributes(fields.attributes, fields.kind, spec) or None
    elif any(a.required for a in spec.attributes.values()) and fields.claim == "affirms":
        missing = next(name for name, a in spec.attributes.items() if a.required)
        raise InputError(f"kind {fields.kind!r} needs the attribute {missing!r}", f"attributes.{missing}")
    _check_code(fields.actor, "actor", agreement, declared, allow_independent=False)
    _check_code(fields.source_party, "source_party", agreement, declared, allow_independent=True)

    try:
        day, instant = _moment(fields.date, agreement.tz)
    except InputError as error:
        raise InputError(error.reason, "date") from None
    day_end, instant_end = day, instant
    if fields.date_end is not None:
        try:
            day_end, instant_end = _moment(fields.date_end, agreement.tz)
        except InputError as error:
            raise InputError(error.reason, "date_end") from None
        if day_end < day or instant_end < instant and has_time(fields.date) and has_time(fields.date_end):
            raise InputError(f"{fields.date_end} is before date {fields.date}", "date_end")

    has_count = fields.value is not None or fields.low is not None or fields.high is not None
    if (fields.low is None) != (fields.high is None):
        raise InputError("low and high go together: give both, or neither", "low" if fields.low is None else "high")
    if fields.low is not None and fields.high is not None and fields.low > fields.high:
        raise InputError(f"low {fields.low} is greater than high {fields.high}", "low")
    if fields.value is not None and fields.low is not None and not fields.low <= fields.value <= fields.high:
        raise InputError(f"value {fields.value} is outside low-high {fields.low}-{fields.high}", "value")
    if spec.count == "none" and has_count:
        raise InputError(f"kind {fields.kind!r} takes no count (no value, low or high)", "value" if fields.value is not None else "low")
    if spec.count == "required" and fields.claim == "affirms" and not has_count:
        raise InputError(f"kind {fields.kind!r} needs a count: give value, or low and high", "value")
    if spec.count == "optional" and fields.claim == "affirms" and (fields.value == 0 or fields.high == 0):
        raise InputError("a count of 0 is not a presence: record 'nothing present' with claim denies", "value")

    subject = fields.subject if fields.subject is not None else spec.default_subject
    if subject is None and spec.subject_required:
        raise InputError(f"kind {fields.kind!r} needs a subject ({', '.join(spec.subjects or [])})", "subject")
    if subject is not None and spec.subjects is not None and subject not in spec.subjects:
        raise InputError(f"{subject!r} is not a subject of {fields.kind!r} (valid: {', '.join(spec.subjects)})", "subject")
    if (fields.lat is None) != (fields.lon is None):
        raise InputError("lat and lon go together", "lat" if fields.lat is None else "lon")
    if fields.url is not None and not _HTTP_URL.match(fields.url):
        raise InputError(f"must be an http or https URL (http://... or https://...), got {fields.url[:80]!r}", "url")

    normal = {key: value for key, value in fields.__dict__.items() if value is not None}  # model_dump(exclude_none=True)
    if subject is not None:
        normal["subject"] = subject
    if attributes is not None:
        normal["attributes"] = attributes
    else:
        normal.pop("attributes", None)
    if normalize:
        for key in ("date", "date_end"):
            if key in normal and _no_offset(normal[key]):
                normal[key] = _with_offset(normal[key], agreement.tz)
    for key in ("lat", "lon"):
        if key in normal:
            normal[key] = float(normal[key])
    return Observation(fields=normal, day=day, day_end=day_end, instant=instant, timed=has_time(fields.date),
                       instant_end=instant_end, timed_end=fields.date_end is not None and has_time(fields.date_end))
