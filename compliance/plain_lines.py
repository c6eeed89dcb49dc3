"""The import's fast path: a plain observation line, validated by pydantic-core straight from its bytes and turned
directly into what the store writes (the body, its canonical JSON and the derived columns).

A plain line holds known observation fields only, every one given (no nulls), text as text with nothing to trim
and no control character, counts as whole numbers in range, claim and method from their lists; no coordinates,
attributes, corrections or store fields. It is checked against the vocabulary exactly as
`observation.parse_observation` checks it. Any other line, and any line this path does not accept, takes the
full path (`exchange.parse_line`), which validates it and words its error: the fast path never rejects anything
itself, and gives the same record as the full path for every line it accepts (`tests/test_differential.py`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import orjson
from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from .agreement import INDEPENDENT
from .dates import format_utc
from .errors import InputError
from .observation import (_HTTP_URL, CLAIMS, MAX_COUNT, MAX_LONG_TEXT, MAX_TEXT, METHODS, _PARTY_RE, Vocabulary,
                          _moment, _no_offset, _with_offset, has_time)
from .records import canonical_json

# a character that may stand anywhere in a text (not a control character), and one that may start or end it
# (not white space either: what str.strip() would remove makes a line not plain)
_INNER = r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]"
_EDGE = r"[^\s\x00-\x1f\x7f-\x9f]"
_PLAIN_TEXT = rf"^{_EDGE}(?:{_INNER}*{_EDGE})?$"


def _text(limit: int) -> cs.CoreSchema:
    return cs.str_schema(strict=True, min_length=1, max_length=limit, pattern=_PLAIN_TEXT, regex_engine="rust-regex")


_COUNT = cs.int_schema(strict=True, ge=0, le=MAX_COUNT)
_FIELDS = {
    "kind": _text(MAX_TEXT), "date": _text(MAX_TEXT), "actor": _text(MAX_TEXT), "source": _text(MAX_TEXT),
    "source_party": _text(MAX_TEXT), "value": _COUNT, "low": _COUNT, "high": _COUNT,
    "claim": cs.literal_schema(list(CLAIMS)), "subject": _text(MAX_TEXT), "place": _text(MAX_TEXT),
    "date_end": _text(MAX_TEXT), "method": cs.literal_schema(list(METHODS)), "supervised_by": _text(MAX_TEXT),
    "url": _text(MAX_TEXT), "quote": _text(MAX_LONG_TEXT), "notes": _text(MAX_LONG_TEXT), "external_id": _text(MAX_TEXT),
}
_REQUIRED = ("kind", "date", "actor", "source", "source_party")
_VALIDATOR = SchemaValidator(cs.typed_dict_schema(
    {name: cs.typed_dict_field(schema, required=name in _REQUIRED) for name, schema in _FIELDS.items()},
    extra_behavior="forbid"))


@lru_cache(maxsize=8192)
def _date_parts(text: str, tz: dt.tzinfo) -> tuple[str, dt.date, dt.datetime, str, str | None]:
    """What a record takes from a date text, remembered (a log repeats its dates): the text as a new record
    stores it (with the time zone's offset when it has none), its day and instant, the day as stored, and the
    instant as stored when the text has a time of day (else None)."""
    day, instant = _moment(text, tz)
    return (_with_offset(text, tz) if _no_offset(text) else text, day, instant, day.isoformat(),
            format_utc(instant) if has_time(text) else None)


def _plain_json(body: dict[str, Any]) -> str:
    """canonical_json of a plain line's body (text and whole numbers), by orjson: the same text, in a fifth of the
    time; a text orjson refuses (a lone surrogate) is left to canonical_json."""
    try:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return canonical_json(body)


class PlainLines:
    """The fast path for one vocabulary (the agreements a store tracks) and the actor codes a monitor declared."""

    def __init__(self, vocabulary: Vocabulary, declared: frozenset[str] = frozenset()):
        self.kinds = vocabulary.kinds
        self.actors = frozenset(vocabulary.known_codes) | declared
        self.tz = vocabulary.tz

    def prepare(self, raw: bytes) -> tuple[dict[str, Any], str, tuple[Any, ...]] | None:
        """(body, its canonical JSON, the derived columns) of a plain line that validates; None for any other."""
        try:
            fields = _VALIDATOR.validate_json(raw)
        except ValidationError:
            return None
        try:
            return self._checked(fields)
        except InputError:  # the full path says what is wrong
            return None

    def _checked(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str, tuple[Any, ...]] | None:
        kind = fields["kind"]
        spec = self.kinds.get(kind)
        if spec is None:
            return None
        claim = fields.get("claim", "affirms")
        if claim == "affirms" and any(a.required for a in spec.attributes.values()):
            return None
        actor, party = fields["actor"], fields["source_party"]
        if actor not in self.actors or not _PARTY_RE.match(actor):
            return None
        if party != INDEPENDENT and (party not in self.actors or not _PARTY_RE.match(party)):
            return None
        date = fields["date"]
        stored_date, day, instant, day_text, at = _date_parts(date, self.tz)
        date_end = fields.get("date_end")
        if date_end is None:
            stored_end, day_end_text, at_end = None, day_text, at
        else:
            stored_end, day_end, instant_end, day_end_text, at_end = _date_parts(date_end, self.tz)
            if day_end < day or instant_end < instant and at is not None and at_end is not None:
                return None
        value, low, high = fields.get("value"), fields.get("low"), fields.get("high")
        has_count = value is not None or low is not None or high is not None
        if (low is None) != (high is None) or (low is not None and low > high):
            return None
        if value is not None and low is not None and not low <= value <= high:
            return None
        if spec.count == "none" and has_count:
            return None
        if spec.count == "required" and claim == "affirms" and not has_count:
            return None
        if spec.count == "optional" and claim == "affirms" and (value == 0 or high == 0):
            return None
        subject = fields.get("subject", spec.default_subject)
        if subject is None and spec.subject_required:
            return None
        if subject is not None and spec.subjects is not None and subject not in spec.subjects:
            return None
        url = fields.get("url")
        if url is not None and not _HTTP_URL.match(url):
            return None
        body = dict(fields)
        body["claim"] = claim
        if subject is not None:
            body["subject"] = subject
        body["date"] = stored_date
        if stored_end is not None:
            body["date_end"] = stored_end
        sup = fields.get("supervised_by")
        # (a moment without date_end ends when it starts: at_end is at)
        columns = (kind, actor, day_text, day_end_text, party, claim, subject, sup.upper() if sup else None,
                   value if value is not None else low, value if value is not None else high, None, at, at_end)
        return body, _plain_json(body), columns
