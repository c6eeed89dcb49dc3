"""Integrity verification: walk the stored log and prove it is the log the tool wrote.

`verify(store)` reads every row as the database holds it (`Store.raw_rows`) inside one read
transaction and checks, record by record, in `seq` order:

- the hash chain: `prev_hash` links to the previous record's `hash` (the first one to the
  agreement's genesis digest), and each `hash` is recomputed from the stored body, ID, type,
  `recorded_at`, `recorded_by` and (when set) `recorded_as`;
- the body text is exactly the canonical JSON of its parsed value (so the hashed form is the stored form);
- `seq` strictly increases, `recorded_at` is a well-formed UTC time that never goes back;
- the ID scheme: observations and retractions are numbered 1, 2, 3... (increasing, never above their `seq`),
  amendments and endings are `<agreement>-A<n>` / `<agreement>-E<n>`, no ID twice;
- the body re-validates against the agreement, and every derived column the queries read (kind,
  actor, day, day_end, source_party, claim, subject, sup, lo, hi, target) equals what re-validation gives;
- targets (`supersedes`, `retracts`) name an earlier observation that nothing ended before, and
  `ended_by` is the `seq` of the first record that targets the row;
- the meta table: the agreement, the schema, `last_number`, and the record count and chain head
  written in the same transaction as every append (what catches a log cut short at its end);
- the database's own check of its storage (SQLite's `PRAGMA integrity_check`: pages, and indexes that match
  their table);
- derived tables the store keeps for queries (the evidence summary, when the store has one);
- optionally, that a chain head published earlier (a report's `log_digest`) is one of the log's heads.

The first mismatch raises `IntegrityError` naming the record and what does not match (exit 3).
Verification never writes: it only reads, and the CLI opens the store read-only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .dates import format_utc, parse_utc
from .errors import ComplianceError, InputError, IntegrityError, StoreError
from .exchange import agreement_of_track, amendment_record, ending_record, retraction_record, track_record
from .observation import parse_observation
from .process import Process
from .records import (AMENDMENT, ENDING, OBSERVATION, RECORD_TYPES, RETRACTION, TRACK, NewRecord, canonical_json,
                      chain_hash_of_text, track_id)
from .store import SCHEMA_VERSION, Store
from .store.base import bundled_ids
from .store.chain import DERIVED as DERIVED_FROM_BODY
from .store.chain import derived as _derived

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# the derived columns of `records`, in `raw_rows` order after the stored fields
DERIVED = (*DERIVED_FROM_BODY, "target")


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification saw: how many records, of which types, and the chain head."""

    agreement: str
    records: int
    head: str
    last_seq: int
    by_type: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the command line: `ok: 54 records, chain head sha256:...`."""
        return f"ok: {self.records} record{'s' if self.records != 1 else ''}, chain head {self.head}"


def _fail(record_id: Any, reason: str) -> IntegrityError:
    return IntegrityError(reason, f"record {record_id}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expected_body(record_type: str, body: dict[str, Any], process: Process) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """Re-validate a stored body against the agreements tracked at that point of the log: (the body validation
    gives, its derived columns, its target)."""
    agreement = process
    if record_type == TRACK:
        return track_record(dict(body)).body, {}, None
    if record_type == OBSERVATION:
        fields = {k: v for k, v in body.items() if k != "supersedes"}
        # actor codes declared with --declare are not stored; a code that fits the pattern was accepted then
        declared = frozenset(v for k, v in fields.items() if k in ("actor", "source_party") and isinstance(v, str))
        obs = parse_observation(fields, agreement, declared, normalize=False)
        target = body.get("supersedes")
        rebuilt = dict(obs.fields)
        if "supersedes" in body:
            if not isinstance(target, str) or not target.strip():
                raise ComplianceError("must be an observation ID", "supersedes")
            rebuilt["supersedes"] = target
        return rebuilt, _derived(NewRecord(OBSERVATION, rebuilt, observation=obs)), target
    if record_type == RETRACTION:
        unknown = set(body) - {"retracts", "reason"}
        if unknown:
            raise ComplianceError("is not a field of a retraction", sorted(unknown)[0])
        if not isinstance(body.get("retracts"), str):
            raise ComplianceError("must be an observation ID", "retracts")
        record = retraction_record(body["retracts"], body.get("reason"))
        return record.body, {}, record.target
    if record_type == AMENDMENT:
        return amendment_record(dict(body), agreement).body, {}, None
    return ending_record(dict(body), agreement).body, {}, None


def _check_id(seq: int, record_id: str, record_type: str, body: dict[str, Any], state: "_Walk") -> None:
    if record_type in (OBSERVATION, RETRACTION):
        if not re.fullmatch(r"[1-9][0-9]*", record_id) or int(record_id) > seq:
            raise _fail(record_id, f"a {record_type} ID must be a whole number no larger than its sequence number {seq}")
        if int(record_id) <= state.number:
            raise _fail(record_id, f"observation IDs must increase (the one before is {state.number})")
        state.number = int(record_id)
    elif record_type == TRACK:
        agreement_id = body.get("agreement") if isinstance(body, dict) else None
        if not isinstance(agreement_id, str) or record_id != track_id(agreement_id):
            raise _fail(record_id, "a track record's ID must be <agreement>-T, for the agreement it tracks")
    else:
        letter = "A" if record_type == AMENDMENT else "E"
        obligation = body.get("obligation") if isinstance(body, dict) else None
        owner = state.process.obligation_owner(obligation) if isinstance(obligation, str) else None
        if owner is None:
            raise _fail(record_id, f"an {record_type} names an obligation of no tracked agreement: {_show(obligation)}")
        if not re.fullmatch(rf"{re.escape(owner.id)}-{letter}[1-9][0-9]*", record_id):
            raise _fail(record_id, f"an {record_type} ID must be {owner.id}-{letter}<n>")
        if record_id in bundled_ids(owner):
            raise _fail(record_id, f"an {record_type} ID that the clause file of {owner.id} already uses")


def _check_row(row: tuple[Any, ...], store: Store, state: "_Walk") -> None:
    (seq, record_id, record_type, body_text, recorded_at, recorded_by, recorded_as, prev_hash, digest,
     *derived_columns) = row
    stored_derived = dict(zip(DERIVED, derived_columns[:len(DERIVED)]))
    ended_by = derived_columns[len(DERIVED)]
    if not isinstance(record_id, str) or not record_id:
        raise _fail(f"at seq {seq}", "has no ID")
    if not isinstance(seq, int) or seq <= state.seq:
        raise _fail(record_id, f"sequence number {seq!r} does not follow {state.seq}")
    if record_id in state.types:
        raise _fail(record_id, "ID appears twice in the log")
    if record_type not in RECORD_TYPES:
        raise _fail(record_id, f"unknown record type {_show(record_type)}")

    # the chain
    if prev_hash != state.head:
        after = f"record {state.last_id}" if state.last_id else "the genesis digest"
        raise _fail(record_id, f"prev_hash does not link to {after} (chain broken: expected {state.head}, "
                               f"stored {_show(prev_hash)})")
    if not isinstance(body_text, str):
        raise _fail(record_id, "body is not text")
    try:
        body = json.loads(body_text)
        canonical = canonical_json(body)
    except (ValueError, RecursionError):
        raise _fail(record_id, "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _fail(record_id, "body is not a JSON object")
    if canonical != body_text:
        raise _fail(record_id, "body text is not in canonical form (it was edited outside the tool)")
    _check_id(seq, record_id, record_type, body, state)
    if not isinstance(recorded_at, str) or not isinstance(recorded_by, str):
        raise _fail(record_id, "recorded_at and recorded_by must be text")
    if recorded_as is not None and not isinstance(recorded_as, str):
        raise _fail(record_id, "recorded_as must be text")
    expected = chain_hash_of_text(state.head, record_id, record_type, canonical, recorded_at, recorded_by, recorded_as)
    if digest != expected:
        raise _fail(record_id, f"hash does not match the record's content (stored {_show(digest)}, "
                               f"recomputed {expected})")

    # times
    try:
        normal_at = format_utc(parse_utc(recorded_at))
    except ComplianceError:
        normal_at = None
    if normal_at != recorded_at:
        raise _fail(record_id, f"recorded_at {_show(recorded_at)} is not a UTC time as the store writes it")
    if recorded_at < state.recorded_at:
        raise _fail(record_id, f"recorded_at {recorded_at} is earlier than record {state.last_id}'s {state.recorded_at}")
    if not recorded_by.strip():
        raise _fail(record_id, "recorded_by is empty")

    # the body re-validated, and the columns queries read
    try:
        rebuilt, derived, target = _expected_body(record_type, body, state.process)
    except ComplianceError as error:
        where = f"{error.where}: " if error.where else ""
        raise _fail(record_id, f"body does not validate against the agreements tracked at that point "
                               f"({', '.join(state.process.ids) or 'none'}): {where}{error.reason}") from None
    if rebuilt != body:
        changed = sorted(k for k in set(rebuilt) | set(body) if rebuilt.get(k, ...) != body.get(k, ...))
        raise _fail(record_id, f"body is not what validation gives (field {changed[0] if changed else '?'})")
    derived = {**{name: None for name in DERIVED}, **derived, "target": target}
    for name in DERIVED:
        if stored_derived[name] != derived[name] or type(stored_derived[name]) is not type(derived[name]):
            raise _fail(record_id, f"column {name} holds {_show(stored_derived[name])}, the body gives {_show(derived[name])}")

    # links between records
    if target is not None:
        field_name = "supersedes" if record_type == OBSERVATION else "retracts"
        if target not in state.types:
            raise _fail(record_id, f"{field_name} {target}: no earlier record has that ID")
        if state.types[target] != OBSERVATION:
            raise _fail(record_id, f"{field_name} {target}: that record is a {state.types[target]}, not an observation")
        if target in state.first_target:
            raise _fail(record_id, f"{field_name} {target}: already ended by the record at seq {state.first_target[target]}")
        state.first_target[target] = seq
    state.ended_by[record_id] = ended_by
    if record_type == ENDING:
        _check_ending_link(record_id, body, state)

    if record_type == TRACK:
        try:
            tracked = agreement_of_track(NewRecord(TRACK, body))
            state.process = state.process.with_agreement(tracked) if tracked.id not in state.process.ids else state.process
        except ComplianceError as error:
            raise _fail(record_id, f"tracks an agreement that cannot be tracked: {error}") from None
    state.types[record_id] = record_type
    state.by_type[record_type] = state.by_type.get(record_type, 0) + 1
    state.seq, state.head, state.recorded_at, state.last_id = seq, digest, recorded_at, record_id


def _check_ending_link(record_id: str, body: dict[str, Any], state: "_Walk") -> None:
    """An ending that `supersedes` another names an earlier ending of the same obligation, superseded once."""
    target = body.get("supersedes")
    if target is not None:
        if target not in state.endings:
            raise _fail(record_id, f"supersedes {target}: no earlier ending has that ID")
        if state.endings[target] != body["obligation"]:
            raise _fail(record_id, f"supersedes {target}: that ending ends {state.endings[target]}, not {body['obligation']}")
        if target in state.superseded_endings:
            raise _fail(record_id, f"supersedes {target}: already superseded by {state.superseded_endings[target]}")
        state.superseded_endings[target] = record_id
    state.endings[record_id] = body["obligation"]


@dataclass
class _Walk:
    """The verifier's running state."""

    head: str
    process: Process = field(default_factory=Process.empty)
    number: int = 0
    seq: int = 0
    recorded_at: str = ""
    last_id: str = ""
    types: dict[str, str] = field(default_factory=dict)
    first_target: dict[str, int] = field(default_factory=dict)
    ended_by: dict[str, Any] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    endings: dict[str, str] = field(default_factory=dict)  # ending ID -> obligation (the clause file's first)
    superseded_endings: dict[str, str] = field(default_factory=dict)  # ending ID -> the ending that superseded it


def _check_meta(meta: dict[str, str], store: Store, state: _Walk) -> None:
    count = len(state.types)
    if meta.get("agreement") != store.process.first.id:
        raise IntegrityError(f"the store records agreement {_show(meta.get('agreement'))}, not {store.process.first.id!r}", "meta")
    if meta.get("schema") != SCHEMA_VERSION:
        raise IntegrityError(f"schema version {_show(meta.get('schema'))}, expected {SCHEMA_VERSION!r}", "meta")
    last_number = meta.get("last_number", "")
    # an earlier version counted every record; this one counts observations and retractions only
    if last_number not in (str(state.number), str(state.seq)):
        raise IntegrityError(f"last_number is {_show(last_number)} but the last observation is number {state.number} "
                             "(records were removed from the end of the log, or added outside the tool)", "meta")
    if "head" not in meta or "record_count" not in meta:
        if count == 0:
            return  # never written to
        raise IntegrityError("the count and chain head of the last append are missing (the meta rows were removed, "
                             "or the store was written by a version that did not record them)", "meta")
    if meta.get("record_count") != str(count) or meta.get("head") != state.head:
        raise IntegrityError(
            f"the log ends at {count} records, chain head {state.head}, but its last append recorded "
            f"{_show(meta['record_count'])} records, chain head {_show(meta['head'])} "
            "(records were removed from the end of the log, or added outside the tool)", "meta")


def verify(store: Store, expect_head: str | None = None) -> VerifyReport:
    """Check the whole log (see the module docstring); raise IntegrityError at the first mismatch.

    `expect_head` is a chain head published earlier (a report's `log_digest`): the log must contain it,
    which is what catches a log rewritten from some record onwards with every hash recomputed. A store that
    does not exist is a StoreError: verifying nothing would hide a wrong location.
    """
    if not store.exists:
        raise StoreError("no store here (nothing to verify)", store.where)
    if expect_head is not None and not _DIGEST.fullmatch(expect_head):
        raise InputError(f"{_show(expect_head)} is not a chain head (sha256: and 64 hexadecimal digits, as a "
                         "report's log_digest)", param="expect_head")
    state = _Walk(head=store.genesis(), endings={e.id: e.obligation for a in store.process.agreements for e in a.endings})
    seen_expected = expect_head is None or expect_head == state.head
    with store.reading():
        problems = store.storage_problems()
        if problems:
            raise IntegrityError(f"the database file is damaged: {_show(problems[0])}", "store")
        meta = store.meta()
        for row in store.raw_rows():
            if not state.types and (len(row) < 3 or row[2] != TRACK):
                state.process = Process([store.process.first])  # a log written before track records
            try:
                _check_row(row, store, state)
                seen_expected = seen_expected or state.head == expect_head
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as error:
                raise _fail(row[1] if len(row) > 1 else "?", f"cannot be read ({type(error).__name__}: {error})") from None
        for record_id, stored in state.ended_by.items():
            expected = state.first_target.get(record_id)
            if stored != expected:
                raise _fail(record_id, f"column ended_by holds {_show(stored)}, but "
                                       + (f"the first record that ends it has seq {expected}" if expected is not None
                                          else "no record supersedes or retracts it"))
        _check_meta(meta, store, state)
        # derived tables the store keeps for queries (the evidence summary), checked against the records
        problem = store.summary_problem()
        if problem:
            raise IntegrityError(problem, "evidence summary")
    if not seen_expected:
        raise IntegrityError(f"chain head {expect_head} is not in this log: the log was rewritten or cut short "
                             f"since that head was published (it now ends at {state.head})", param="expect_head")
    return VerifyReport(agreement=store.process.first.id, records=len(state.types), head=state.head,
                        last_seq=state.seq, by_type=dict(state.by_type))
