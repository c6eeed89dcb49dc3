"""The JSON Lines exchange format, and turning user input into records the store appends."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .agreement import Agreement, Amendment, Ending, check_term_value
from .dates import parse_day, parse_moment
from .errors import ComplianceError, InputError
from .observation import check_party_code, clean_text, parse_observation
from .process import Process, as_process
from .records import (AMENDMENT, ENDING, OBSERVATION, RECORDED_AS, RETRACTION, TRACK, NewRecord, Record, canonical_json,
                      track_id)

MAX_LINE_BYTES = 1_000_000
MAX_NUMBER_DIGITS = 4_000
_SURROGATE = re.compile("[\ud800-\udfff]")


def observation_record(fields: dict[str, Any], agreement: Agreement | Process, declared: frozenset[str] = frozenset(),
                       supersedes: str | None = None, **store_fields: Any) -> NewRecord:
    """A new observation (or, with `supersedes`, a correction) validated against the agreement(s) it is for."""
    restore = any(value is not None for value in store_fields.values())
    obs = parse_observation(fields, agreement, declared, normalize=not restore)
    body = dict(obs.fields)
    if supersedes is not None:
        body["supersedes"] = str(supersedes)
    return NewRecord(OBSERVATION, body, observation=obs, target=body.get("supersedes"), **store_fields)


def reject_future(records: Iterable[NewRecord], today: dt.date, where: str | None = None) -> None:
    """Refuse a new observation (or correction) dated after `today` (in the agreement's time zone): a log
    records what has happened. Restored records keep their history and are not checked. `where` names the
    file whose lines the records are."""
    for _ in refusing_future(records, today, where):
        pass


def refusing_future(records: Iterable[NewRecord], today: dt.date, where: str | None = None) -> Iterator[NewRecord]:
    """The records of a stream, as they come, refusing (as `reject_future`) one dated after `today`."""
    limit = today.isoformat()
    for record in records:
        if record.type == OBSERVATION and not record.is_restore:
            obs = record.observation
            day = obs.day.isoformat() if obs is not None else record.columns[2] if record.columns else None
            if day is not None and day > limit:
                located = where is not None and record.line is not None
                raise InputError(f"{record.body['date']} is after today ({limit} in the agreement's time zone); an "
                                 "observation records what has already happened", "date",
                                 file=where if located else None, line=record.line if located else None)
        yield record


def correction_record(current: Record, changes: dict[str, Any], agreement: Agreement | Process,
                      declared: frozenset[str] = frozenset(), attributes: Iterable[str] = ()) -> NewRecord:
    """The corrected copy of observation `current`: its fields with `changes` applied (None values are no change;
    a new count `value` replaces a range `low`/`high`, and a range a count), attributes given as `name=value`
    texts (`name=` drops one), validated and superseding it."""
    from .observation import attributes_from_text

    if current.type != OBSERVATION:
        raise InputError(f"record {current.id} is a {current.type}, not an observation", param="observation_id")
    changes = {key: value for key, value in changes.items() if value is not None}
    fields = {key: value for key, value in current.body.items() if key != "supersedes"}
    if "value" in changes and "low" not in changes:
        fields.pop("low", None), fields.pop("high", None)
    if ("low" in changes or "high" in changes) and "value" not in changes:
        fields.pop("value", None)
    fields.update(changes)
    attributes = list(attributes)
    if attributes:
        fields["attributes"] = attributes_from_text(attributes, fields["kind"], agreement, fields.get("attributes") or {})
    return observation_record(fields, agreement, declared, supersedes=current.id)


def retraction_record(target: str | int, reason: Any, **store_fields: Any) -> NewRecord:
    """A retraction of observation `target`, with its reason."""
    text = clean_text(reason, "reason")
    target = clean_text(str(target), "retracts")  # an ID from the command line may hold anything
    return NewRecord(RETRACTION, {"retracts": target, "reason": text}, target=target, **store_fields)


def owner_of(vocabulary: Agreement | Process, obligation: str) -> tuple[Agreement, Any]:
    """The agreement an obligation ID belongs to, and the obligation; InputError naming the known IDs."""
    process = as_process(vocabulary)
    found = process.obligation(obligation)
    if found is None:
        raise InputError(f"unknown obligation {obligation!r} (known: {', '.join(process.obligation_ids())})", "obligation")
    return found


def _term_value(vocabulary: Agreement | Process, obligation: str, term: str, value: Any) -> Any:
    agreement, ob = owner_of(vocabulary, obligation)
    if term not in ob.terms:
        raise InputError(f"{obligation} has no term {term!r} (terms: {', '.join(ob.terms) or 'none'})", "term")
    kind = ob.terms[term].type
    if kind == "date":
        return _date_field(value, agreement, "value") if not isinstance(value, dt.date) else value
    if kind == "moment":
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=agreement.tz)
        day, instant = parse_moment(value, agreement.tz)
        return instant.astimezone(agreement.tz)
    if kind == "flag":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise InputError(f"term {term!r} takes true or false, got {value!r}", "value")
    if kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        raise InputError("must be a whole number", "value")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():  # not '²': int() rejects it
        value = int(value.strip())
    if isinstance(value, int) and value >= 0:
        try:
            check_term_value(term, value)
        except ValueError as error:
            raise InputError(str(error), "value") from None
        return value
    raise InputError(f"term {term!r} takes a whole number >= 0, got {value!r}", "value")


def _parties(value: Any, agreement: Agreement | Process, field: str = "by") -> list[str]:
    codes = value.split(",") if isinstance(value, str) else value
    if not isinstance(codes, list) or not codes:
        raise InputError("must list one or more party codes (AM,AZ)", field)
    result = []
    for code in codes:
        code = clean_text(code, field)
        if code not in agreement.known_codes:
            check_party_code(code, field, agreement.known_codes, declarable=False)
        result.append(code)
    return result


def _date_field(value: Any, agreement: Agreement | Process, field: str) -> dt.date:
    try:
        return parse_day(value, agreement.tz)
    except InputError as error:
        raise InputError(error.reason, field) from None


def amendment_record(data: dict[str, Any], agreement: Agreement | Process, **store_fields: Any) -> NewRecord:
    """A recorded change to one term of one obligation."""
    allowed = {"obligation", "term", "value", "agreed_on", "by", "requested_by", "relayed_by", "source", "note"}
    _only(data, allowed)
    for key in ("obligation", "term", "value", "agreed_on", "by", "source"):
        if data.get(key) in (None, ""):
            raise InputError("is required", key)
    obligation, term = clean_text(data["obligation"], "obligation"), clean_text(data["term"], "term")
    value = _term_value(agreement, obligation, term, data["value"])
    owner, _ = owner_of(agreement, obligation)
    body: dict[str, Any] = {
        "obligation": obligation, "term": term,
        "value": value.isoformat() if isinstance(value, dt.date) else value,
        "agreed_on": _date_field(data["agreed_on"], owner, "agreed_on").isoformat(),
        "by": _parties(data["by"], agreement),
        "source": clean_text(data["source"], "source"),
    }
    for key in ("requested_by", "relayed_by"):
        if data.get(key):
            body[key] = _parties(data[key], agreement, key)
    if data.get("note"):
        body["note"] = clean_text(data["note"], "note", 10_000)
    return NewRecord(AMENDMENT, body, **store_fields)


def ending_record(data: dict[str, Any], agreement: Agreement | Process, **store_fields: Any) -> NewRecord:
    """A record that an obligation stopped applying on a date; with `supersedes`, the correction of an earlier
    ending of the same obligation, which then no longer applies."""
    _only(data, {"obligation", "on", "by", "source", "note", "supersedes"})
    for key in ("obligation", "on", "by", "source"):
        if data.get(key) in (None, ""):
            raise InputError("is required", key)
    obligation = clean_text(data["obligation"], "obligation")
    owner, _ = owner_of(agreement, obligation)
    body: dict[str, Any] = {
        "obligation": obligation, "on": _date_field(data["on"], owner, "on").isoformat(),
        "by": _parties(data["by"], agreement), "source": clean_text(data["source"], "source"),
    }
    if data.get("note"):
        body["note"] = clean_text(data["note"], "note", 10_000)
    if data.get("supersedes") is not None:  # the ending this one corrects (a wrong date, say)
        body["supersedes"] = clean_text(data["supersedes"], "supersedes")
    return NewRecord(ENDING, body, **store_fields)


def track_record(ref: str | Any, process: Process | None = None, **store_fields: Any) -> NewRecord:
    """A record that makes a store track an agreement (a bundled ID, or a clause file's path); checked against
    the agreements already tracked (obligation IDs unique, one vocabulary)."""
    from .clauses import bundled_ids, clause_path, load_agreement

    if isinstance(ref, dict):
        _only(ref, {"agreement", "path"})
        if not isinstance(ref.get("agreement"), str) or not ref["agreement"].strip():
            raise InputError("is required", "agreement")
        path = ref.get("path")
        agreement = load_agreement(path if path else ref["agreement"])
        if agreement.id != ref["agreement"].strip():
            raise InputError(f"{path} holds agreement {agreement.id}, not {ref['agreement']}", "agreement")
    else:
        agreement = load_agreement(ref)
        text = str(ref)
        path = None if text in bundled_ids() and "/" not in text else str(clause_path(ref).resolve())
    if process is not None:
        process.with_agreement(agreement)
    body: dict[str, Any] = {"agreement": agreement.id}
    if path:
        body["path"] = str(path)
    return NewRecord(TRACK, body, id=store_fields.pop("id", None), **store_fields)


def agreement_of_track(record: NewRecord | Record) -> Agreement:
    """The agreement a track record names (bundled by ID, or loaded from its path)."""
    from .clauses import load_agreement

    body = record.body
    return load_agreement(body.get("path") or body["agreement"])


def _only(data: dict[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            raise InputError(f"unknown field (valid fields: {', '.join(sorted(allowed))})", key)


class _Rejected:
    """A JSON number this format does not accept, kept until the field holding it is known."""

    made = 0  # how many were ever made: a line that made none and holds no surrogate needs no walk

    def __init__(self, text: str):
        self.text = text
        _Rejected.made += 1


def _reject_constant(name: str) -> Any:
    return _Rejected(name)


def _parse_int(text: str) -> Any:
    # Python refuses to convert integers of more than 4,300 digits (a ValueError json does not wrap)
    return int(text) if len(text) <= MAX_NUMBER_DIGITS else _Rejected(f"a number of {len(text):,} digits")


def _parse_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _Rejected(text)  # 1e400 reads as infinity


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # how an unpaired surrogate can be written in JSON


def _decode(raw: str) -> Any:
    """json.loads(raw, parse_constant=..., parse_int=..., parse_float=...) with one decoder for every line."""
    if raw.startswith("\ufeff"):  # as json.loads does
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
    return _DECODER.decode(raw)


def _reject_unacceptable(data: Any) -> None:
    """Raise InputError naming the field that holds a number this format rejects (NaN, infinity, too long)
    or text that is not valid Unicode (an unpaired surrogate such as "\\ud800", which no store can write)."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Rejected):
            raise InputError(f"{value.text} is not a number this format accepts (NaN, infinities and numbers of "
                             f"more than {MAX_NUMBER_DIGITS:,} digits are rejected)", path or None)
        if isinstance(value, str) and _SURROGATE.search(value):
            raise InputError("is not valid Unicode text (an unpaired surrogate)", path or None)
        if isinstance(value, dict):
            if any(_SURROGATE.search(key) for key in value):
                raise InputError("a field name is not valid Unicode text (an unpaired surrogate)", path or None)
            stack.extend((f"{path}.{key}" if path else key, item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))


def parse_line(data: Any, agreement: Agreement | Process, declared: frozenset[str],
               source_party: Callable[[str], str] | None = None) -> NewRecord:
    """One decoded JSON line to a record: an observation, correction, retraction, amendment or ending.

    `source_party`, when given, supplies the alignment of an observation that names its `source` but
    leaves out `source_party` (the source registry's lookup; it raises InputError when it has none).
    """
    if not isinstance(data, dict):
        raise InputError("each line must be a JSON object")
    data = dict(data)
    store: dict[str, Any] = {}
    for key in ("id", "recorded_at", "recorded_by", "hash"):
        if key in data:
            value = data.pop(key)
            if key == "id" and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            store[key] = clean_text(value, key)
    if RECORDED_AS in data:  # the display name beside an authenticated role: restored with the other store fields
        shown = clean_text(data.pop(RECORDED_AS), RECORDED_AS)
        if not store:
            raise InputError("is a store field: accepted only on a restored line (with id, recorded_at, recorded_by)",
                             RECORDED_AS)
        store[RECORDED_AS] = shown
    record_type = data.pop("record", None)
    if record_type == TRACK:
        return track_record(data, None, **store)
    if record_type == AMENDMENT:
        return amendment_record(data, agreement, **store)
    if record_type == ENDING:
        return ending_record(data, agreement, **store)
    if record_type not in (None, OBSERVATION, RETRACTION):
        raise InputError(f"unknown record type {record_type!r} (observation, retraction, amendment, ending, track)", "record")
    if "retracts" in data or record_type == RETRACTION:
        _only(data, {"retracts", "reason"})
        if "retracts" not in data:
            raise InputError("is required", "retracts")
        target = data["retracts"]
        if isinstance(target, bool) or not isinstance(target, (str, int)):
            raise InputError("must be an observation ID", "retracts")
        if "reason" not in data:
            raise InputError("is required", "reason")
        return retraction_record(str(target).strip(), data["reason"], **store)
    supersedes = data.pop("supersedes", None)
    if supersedes is not None and (isinstance(supersedes, bool) or not isinstance(supersedes, (str, int))):
        raise InputError("must be an observation ID", "supersedes")
    if source_party is not None and not store and data.get("source_party") is None \
            and isinstance(data.get("source"), str) and data["source"].strip():
        data["source_party"] = source_party(data["source"])
    return observation_record(data, agreement, declared, None if supersedes is None else str(supersedes).strip(), **store)


def read_jsonl(lines: Iterable[str | bytes], agreement: Agreement | Process, where: str,
               declared: frozenset[str] = frozenset(), source_party: Callable[[str], str] | None = None) -> list[NewRecord]:
    """Validate every line; the first invalid one raises InputError naming `where:line`, the field and the reason.
    (`iter_jsonl`, all at once: for a file small enough to hold.)"""
    return list(iter_jsonl(lines, agreement, where, declared, source_party))


def iter_jsonl(lines: Iterable[str | bytes], agreement: Agreement | Process, where: str,
               declared: frozenset[str] = frozenset(), source_party: Callable[[str], str] | None = None) -> Iterator[NewRecord]:
    """The records of JSON Lines, validated one by one as they are read (a stream: `Store.import_records` appends
    them as they come, and an invalid line, raised as InputError naming `where:line`, the field and the reason,
    rolls the whole import back).

    Lines are validated against `agreement` (the agreements the store tracks) and every agreement a `track` line
    before them adds. A restore (lines with store fields) whose first line is a `track` record starts from
    nothing: the export's own track records say what it tracks."""
    from .plain_lines import PlainLines

    first_restore: bool | None = None
    first_line = 0
    process = as_process(agreement)
    plain = PlainLines(process, declared) if process.agreements else None
    for number, raw in enumerate(lines, start=1):
        if number == 1:  # a UTF-8 byte-order mark starts the file, not the JSON (as the ACLED import reads it)
            raw = raw.removeprefix(b"\xef\xbb\xbf") if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
        try:
            if isinstance(raw, bytes):
                if len(raw) > MAX_LINE_BYTES:
                    raise InputError(f"line is longer than {MAX_LINE_BYTES:,} bytes")
                prepared = plain.prepare(raw) if plain is not None and first_restore is not True else None
                if prepared is not None:  # a plain observation, validated from its bytes (the fast path)
                    body, body_json, columns = prepared
                    if first_restore is None:
                        first_restore, first_line = False, number
                    yield NewRecord(OBSERVATION, body, line=number, body_json=body_json, columns=columns)
                    continue
                try:
                    raw = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise InputError("not UTF-8 text") from None
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(f"line is longer than {MAX_LINE_BYTES:,} characters")
            try:
                made = _Rejected.made
                data = _decode(raw)
            except json.JSONDecodeError as error:
                raise InputError(f"not valid JSON ({error.msg} at column {error.colno})") from None
            except RecursionError:
                raise InputError("not valid JSON (nested too deeply)") from None
            if _Rejected.made != made or _SURROGATE.search(raw) or _ESCAPED_SURROGATE.search(raw):
                _reject_unacceptable(data)
            if first_restore is None and isinstance(data, dict) and "id" in data:  # a restore
                if data.get("record") == TRACK:
                    process = Process.empty()  # a log that says what it tracks
                elif process.agreements:
                    process = Process([process.first])  # a log written before track records: its first agreement
                plain = None  # (a restore's lines take the full path)
            record = parse_line(data, process, declared, source_party)
            if record.type == TRACK:
                tracked = agreement_of_track(record)
                if tracked.id in process.ids:
                    raise InputError(f"agreement {tracked.id} is tracked already", "agreement")
                process = process.with_agreement(tracked)
                plain = PlainLines(process, declared)
                if record.is_restore and record.id != track_id(tracked.id):
                    raise InputError(f"a track record's ID is {track_id(tracked.id)}, got {record.id!r}", "id")
        except ComplianceError as error:
            raise error.at(where, number) from None
        object.__setattr__(record, "line", number)  # a record parse_line has just made, shared with nothing
        restore = not (record.id is None and record.recorded_at is None and record.recorded_by is None
                       and record.hash is None)  # record.is_restore, without a generator per line
        if first_restore is None:
            first_restore, first_line = restore, number
        if restore != first_restore:
            raise InputError("store fields (id, recorded_at, recorded_by, hash) must be on every line or on none "
                             f"(line {first_line} {'has' if first_restore else 'has none'})", file=where,
                             line=number)
        yield record


def export_lines(records: Iterable[Record]) -> Iterator[str]:
    """Records as export lines (JSON, one per record, store fields included)."""
    for record in records:
        yield json.dumps(record.export(), ensure_ascii=False)


def amendment_model(record: NewRecord | Record, agreement: Agreement | Process) -> Amendment:
    """A stored amendment record as the clause model."""
    body = record.body
    return Amendment(id=record.id, obligation=body["obligation"], term=body["term"],
                     value=_term_value(agreement, body["obligation"], body["term"], body["value"]),
                     agreed_on=dt.date.fromisoformat(body["agreed_on"]), by=body["by"],
                     requested_by=body.get("requested_by", []), relayed_by=body.get("relayed_by", []),
                     source=body["source"], note=body.get("note"))


def ending_model(record: NewRecord | Record) -> Ending:
    """A stored ending record as the clause model."""
    body = record.body
    return Ending(id=record.id, obligation=body["obligation"], on=dt.date.fromisoformat(body["on"]),
                  by=body["by"], source=body["source"], note=body.get("note"), supersedes=body.get("supersedes"))


# ---- re-imports: lines that carry an external_id ---------------------------------------------------


@dataclass
class ImportPlan:
    """What an import appends (new observations and corrections) and what it leaves out, and why."""

    records: list[NewRecord]
    new: int
    corrections: int
    unchanged: int
    retracted: int
    skipped: Any = None  # ACLED rows mapped to nothing (`acled.Skipped`), counted by reason
    rows: int = 0
    logged: dict[str, list[Record]] = field(default_factory=dict, repr=False)  # external_id -> its records
    missing: list[str] = field(default_factory=list)  # logged external IDs an export no longer has (kept)
    external: int = 0  # lines that carried an external_id (a stream's plan counts them as they pass)

    def summary(self, stored: int | None = None, shown: int = 10) -> str:
        """The stderr line: `imported N (K new, C corrections); skipped M unmapped (...); ...`."""
        stored = len(self.records) if stored is None else stored
        text = f"imported {stored}"
        if self.corrections:
            text += f" ({self.new} new, {self.corrections} correction{'s' if self.corrections != 1 else ''})"
        if self.skipped is not None and self.skipped.total:
            text += f"; skipped {self.skipped.total} unmapped ({self.skipped.describe()})"
        if self.unchanged:
            text += f"; skipped {self.unchanged} already in the log unchanged"
        if self.retracted:
            text += f"; skipped {self.retracted} retracted in the log"
        if self.missing:
            named = ", ".join(self.missing[:shown]) + (f" and {len(self.missing) - shown:,} more"
                                                        if len(self.missing) > shown else "")
            text += (f"; {len(self.missing):,} logged event{'s' if len(self.missing) != 1 else ''} not in this "
                     f"export, kept in the log: {named}")
        return text


def _content(body: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in body.items() if k != "supersedes"})


def plan_reimport(records: list[NewRecord], store: Any, where: str | None = None, *,
                  read_log: bool = False) -> ImportPlan:
    """Compare new observations that carry an `external_id` with the log; every other record passes as it is.

    An external ID with no record in the log is new. One whose content equals any record of it in the log
    (the imported original, an earlier update) is skipped, so a monitor's own correction is not undone by
    importing the same file again. One with new content becomes a correction that supersedes the latest
    record of its chain. One whose chain ends in a retraction is skipped. The same external ID twice in one
    file is one event: again with the same content it is skipped, with other content it is an error at
    `where:line`. Restores (records with store fields) are not planned. The log is read only when some record
    has an external ID, or `read_log` asks for its external IDs (`ImportPlan.logged`) anyway.
    """
    wanted: dict[str, NewRecord] = {}
    passing: list[NewRecord] = []
    duplicates = 0
    for record in records:
        external = record.body.get("external_id") if record.type == OBSERVATION else None
        if external is None or record.target is not None or record.is_restore:
            passing.append(record)
            continue
        earlier = wanted.get(external)
        if earlier is None:
            wanted[external] = record
        elif _content(earlier.body) == _content(record.body):
            duplicates += 1
        else:
            raise InputError(f"external_id {external} is also on line {earlier.line} with different content; a "
                             "file holds each event once", None if where else "external_id",
                                 file=where, line=record.line if where else None)
    if not wanted and not read_log:
        return ImportPlan(list(records), len(records), 0, duplicates, 0)
    logged: dict[str, list[Record]] = {}
    for record in store.records():
        external = record.body.get("external_id") if record.type == OBSERVATION else None
        if external is not None:
            logged.setdefault(external, []).append(record)
    planned: list[NewRecord] = []
    corrections = retracted = 0
    unchanged = duplicates
    for external, candidate in wanted.items():
        chain = logged.get(external)
        if chain is None:
            planned.append(candidate)
            continue
        if _content(candidate.body) in {_content(r.body) for r in chain}:
            unchanged += 1
            continue
        latest = latest_of_chains(store, chain)
        if latest is None:
            retracted += 1
            continue
        body = {**candidate.body, "supersedes": latest.id}
        planned.append(NewRecord(OBSERVATION, body, observation=candidate.observation, target=latest.id,
                                 line=candidate.line))
        corrections += 1
    merged = sorted(passing + planned, key=lambda r: r.line or 0)  # in the file's order
    return ImportPlan(merged, len(merged) - corrections, corrections, unchanged, retracted, logged=logged)


def planning_reimport(records: Iterable[NewRecord], store: Any, where: str | None, plan: ImportPlan) -> Iterator[NewRecord]:
    """`plan_reimport` for a stream: the records as they come, with those that carry an external_id planned against
    the log as `plan_reimport` plans them (new, a correction of the latest record of its chain, or left out), and
    counted in `plan`. Run inside the append's transaction (the log is read once, at the first external_id)."""
    seen: dict[str, tuple[str, int | None]] = {}  # external_id -> (content, line) in this file
    logged: dict[str, list[Record]] | None = None
    for record in records:
        external = record.body.get("external_id") if record.type == OBSERVATION else None
        if external is None or record.target is not None or record.is_restore:
            plan.new += 1
            yield record
            continue
        plan.external += 1
        content = _content(record.body)
        earlier = seen.get(external)
        if earlier is not None:
            if earlier[0] != content:
                raise InputError(f"external_id {external} is also on line {earlier[1]} with different content; a "
                                 "file holds each event once", None if where else "external_id",
                                 file=where, line=record.line if where else None)
            plan.unchanged += 1
            continue
        seen[external] = (content, record.line)
        if logged is None:
            logged = {}
            for stored in store.records():
                key = stored.body.get("external_id") if stored.type == OBSERVATION else None
                if key is not None:
                    logged.setdefault(key, []).append(stored)
        chain = logged.get(external)
        if chain is None:
            plan.new += 1
            yield record
            continue
        if content in {_content(r.body) for r in chain}:
            plan.unchanged += 1
            continue
        latest = latest_of_chains(store, chain)
        if latest is None:
            plan.retracted += 1
            continue
        plan.corrections += 1
        yield NewRecord(OBSERVATION, {**record.body, "supersedes": latest.id}, observation=record.observation,
                        target=latest.id, line=record.line, columns=record.columns)


def latest_of_chains(store: Any, records: list[Record]) -> Record | None:
    """The live end of the chains these records belong to (highest sequence), or None if all were retracted."""
    ends: dict[str, Any] = {}
    for record in records:
        current = record
        while current.ended_by is not None:
            current = store.get(current.ended_by)
        if current.type == OBSERVATION:
            ends[current.id] = current
    return max(ends.values(), key=lambda r: r.seq) if ends else None
