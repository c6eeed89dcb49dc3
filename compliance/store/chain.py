"""The hash chain, written once for every backend: IDs, `recorded_at`, `recorded_by`, hashes and the columns
queries read, record by record, inside a backend's write transaction.

A backend gives the writer an `AppendSession` (its write transaction, with the chain lock held) and stores
the rows the writer hands it; everything that decides what a record's ID, time, author and hash are lives
here, so that the same records give the same chain in every store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Protocol

from ..agreement import Agreement
from ..dates import format_utc, parse_utc
from ..errors import InputError, UnknownReferenceError
from ..process import Process
from ..records import (AMENDMENT, ENDING, OBSERVATION, RETRACTION, TRACK, NewRecord, canonical_json, chain_hash_of_text,
                       genesis_digest, track_id)
from .base import bundled_ids

# the columns of a stored row, in the order `ChainWriter` hands them to a backend (ended_by is the backend's)
ROW_COLUMNS = ("seq", "id", "type", "body", "recorded_at", "recorded_by", "recorded_as", "prev_hash", "hash", "kind",
               "actor", "day", "day_end", "source_party", "claim", "subject", "sup", "lo", "hi", "attrs", "at", "at_end",
               "target")
# the columns derived from an observation's body (None for other records), in ROW_COLUMNS order
DERIVED = ("kind", "actor", "day", "day_end", "source_party", "claim", "subject", "sup", "lo", "hi", "attrs", "at",
           "at_end")
_NOT_DERIVED = (None,) * len(DERIVED)
BATCH_ROWS = 5000  # rows handed to the backend at a time (unless it says otherwise: AppendSession.batch_rows)


def derived_values(record: NewRecord) -> tuple[Any, ...]:
    """The derived columns of a record, in DERIVED order (all None for records other than observations)."""
    obs = record.observation
    if obs is None:
        return _NOT_DERIVED
    fields = obs.fields
    sup = fields.get("supervised_by")
    attributes = fields.get("attributes")
    return (fields["kind"], fields["actor"], obs.day.isoformat(), obs.day_end.isoformat(), fields["source_party"],
            fields.get("claim", "affirms"), fields.get("subject"), sup.strip().upper() if sup else None, obs.lo, obs.hi,
            canonical_json(attributes) if attributes else None,
            format_utc(obs.instant) if obs.timed else None,
            # the end's instant: date_end's when it has a time; a moment without date_end ends when it starts
            (format_utc(obs.instant_end) if obs.timed_end and obs.instant_end is not None
             else format_utc(obs.instant) if obs.timed and "date_end" not in fields else None))


def derived(record: NewRecord) -> dict[str, Any]:
    """The derived columns of an observation by name ({} for other records)."""
    if record.observation is None:
        return {}
    return dict(zip(DERIVED, derived_values(record)))


@dataclass(frozen=True)
class ChainStart:
    """What a write transaction finds when it has the chain lock: the log's end and the store's counters."""

    last: tuple[int, str, str] | None  # (seq, hash, recorded_at) of the last record, None for an empty log
    agreement: str  # meta 'agreement': the first tracked agreement, which names the genesis digest
    last_number: int  # the last observation or retraction number handed out
    record_count: int  # how many records the log holds
    now: str  # the clock, read after the lock was taken (the server's, for a server store), as format_utc writes it
    author: str | None  # the authenticated role (a server store): recorded_by, the `--as` name then kept beside it


class AppendSession(Protocol):
    """A backend's write transaction, chain lock held: the writer reads the log's end and hands it rows."""

    batch_rows: int  # how many rows to hand it at a time

    def start(self) -> ChainStart: ...

    def first_agreement(self, agreement_id: str) -> None:
        """A restore of a log that says what it tracks: its first track record names the genesis."""

    def lookup(self, record_id: str) -> tuple[str, str | None] | None:
        """(type, ID of the record that ended it or None) of a stored record, or None."""

    def agreement_ids(self) -> set[str]:
        """The IDs of stored amendments, endings and track records."""

    def endings(self) -> list[tuple[str, dict[str, Any]]]:
        """(ID, body) of every stored ending, in log order."""

    def write(self, rows: list[tuple[Any, ...]], ids: list[str], lines: list[int | None], restore: bool) -> None:
        """Store rows (ROW_COLUMNS order, in seq order; `restore`: records that keep their store fields): mark the
        targets they end, keep derived tables up to date. A duplicate ID raises InputError naming its record (and
        line)."""

    def finish(self, last_number: int, record_count: int, head: str) -> None:
        """Record the counters and chain head of this append (in the same transaction)."""


def _restore_fields(record: NewRecord, process: Process, number: int, prev_at: str) -> tuple[str, str]:
    """The ID and recorded_at a restored record keeps, checked: numbers increase, IDs follow the scheme, times
    never go back."""
    if record.id is None or record.recorded_at is None or record.recorded_by is None:
        missing = [n for n, v in (("id", record.id), ("recorded_at", record.recorded_at), ("recorded_by", record.recorded_by)) if v is None]
        raise InputError("a restored record needs id, recorded_at and recorded_by", missing[0])
    if record.type in (OBSERVATION, RETRACTION):
        if not re.fullmatch(r"[1-9][0-9]*", record.id):  # not '²', '007'
            raise InputError(f"observation IDs are whole numbers, got {record.id!r}", "id")
        if int(record.id) <= number:
            raise InputError(f"record ID {record.id} is out of order (after record {number})", "id")
    elif record.type == TRACK:
        if record.id != track_id(record.body["agreement"]):
            raise InputError(f"a track record's ID is {track_id(record.body['agreement'])}, got {record.id!r}", "id")
    else:
        owner = process.obligation_owner(record.body["obligation"]) if process.agreements else None
        letter = "A" if record.type == AMENDMENT else "E"
        prefix = re.escape(owner.id) if owner else r"[a-z0-9][a-z0-9._-]*"
        if not re.fullmatch(rf"{prefix}-{letter}[1-9][0-9]*", record.id):
            raise InputError(f"{record.type} IDs are <agreement>-{letter}<n>"
                             + (f" ({owner.id}-{letter}<n>)" if owner else "") + f", got {record.id!r}", "id")
        if owner is not None and record.id in bundled_ids(owner):
            raise InputError(f"{record.id} is the ID of an {record.type} in the clause file of {owner.id}; "
                             "a log's amendments and endings are numbered after the clause file's", "id")
    at = format_utc(parse_utc(record.recorded_at))
    if at < prev_at:
        raise InputError(f"recorded_at {record.recorded_at} is earlier than the record before it", "recorded_at")
    return record.id, at


def _next_number(prefix: str, owner: Agreement, record_type: str, taken: set[str]) -> int:
    numbers = [int(record_id[len(prefix):]) for record_id in taken
               if record_id.startswith(prefix) and record_id[len(prefix):].isdigit()]
    bundled = owner.amendments if record_type == AMENDMENT else owner.endings
    numbers += [int(item.id[len(prefix):]) for item in bundled if item.id.startswith(prefix)]
    return max(numbers, default=0) + 1


_STORE_FIELD_NAMES = "store fields (id, recorded_at, recorded_by, hash)"


def _authors(recorded_by: str, role: str | None) -> tuple[str, str | None]:
    """(recorded_by, recorded_as) of new records: the name given, or on a server the authenticated role with the
    name given kept beside it when it differs."""
    if role is None:
        return recorded_by, None
    return role, (recorded_by if recorded_by and recorded_by != role else None)


class ChainGuess:
    """Where the chain of a stream's records will start, guessed by the writer once it holds the chain lock, so that
    the process reading the stream can hash its plain observations ahead (`readahead`): the writer uses a record's
    guessed hash only when the record follows the hash and takes the ID the guess assumed, and hashes it itself
    otherwise (a line a re-import skips, a record of another type, a restore)."""

    def __init__(self) -> None:
        self.start: tuple[str, int, str, str, str | None] | None = None  # (hash, number, recorded_at, by, as)

    def chain(self, records: Iterable[NewRecord]) -> Iterator[NewRecord]:
        """The records, each plain observation with `chained` set, from the start the writer guessed, until the
        first record that is not one (after it, the guess no longer knows the IDs)."""
        if self.start is None:
            yield from records
            return
        prev_hash, number, at, by, shown = self.start
        records = iter(records)
        for record in records:
            if record.type != OBSERVATION or record.target is not None or record.is_restore:
                yield record
                break
            number += 1
            record_id = str(number)
            digest = chain_hash_of_text(prev_hash, record_id, OBSERVATION,
                                        record.body_json or canonical_json(record.body), at, by, shown)
            record.chained = (prev_hash, record_id, digest)
            prev_hash = digest
            yield record
        yield from records


class GuessedStream:
    """A stream of records whose reader hashes ahead with `guess` (what the writer looks for: `chain_guess`)."""

    def __init__(self, records: Iterable[NewRecord], guess: ChainGuess):
        self.records = records
        self.chain_guess = guess

    def __iter__(self) -> Iterator[NewRecord]:
        return iter(self.records)


class ChainWriter:
    """Appends records to one backend's log inside its write transaction: all of them, or (an error) none."""

    def __init__(self, session: AppendSession, process: Process, pending_tracks: list[Agreement], durable: bool):
        self.session = session
        self.process = process
        self.pending_tracks = pending_tracks  # a new store's agreements, written as its first records
        self.durable = durable  # a store that is reopened (a file, a server): its track records name files
        self.tracked = process  # what the log tracks once the append is committed

    def run(self, records: Iterable[NewRecord], recorded_by: str, keep_ids: bool = True) -> tuple[list[str], int]:
        """Append `records` (a list or a stream, read once) as `recorded_by`; (their IDs if `keep_ids`, how many).

        The session's start (the chain lock) comes before the first record is read. A record that fails, or an
        exception raised while the stream is read, leaves the caller to roll the transaction back."""
        from ..exchange import agreement_of_track
        from ..observation import clean_name
        from .base import track_body

        session = self.session
        batch_rows = getattr(session, "batch_rows", BATCH_ROWS)
        start = session.start()
        guess: ChainGuess | None = getattr(records, "chain_guess", None)
        if guess is not None:
            guess.start = self._guess(start, recorded_by)
        stream: Iterator[NewRecord] = iter(records)
        first = next(stream, None)
        if first is None:
            return [], 0
        restore = first.is_restore
        if not restore:  # as a restore reads it back: trimmed, no control characters, at most 1,000 characters
            recorded_by = clean_name(recorded_by, "recorded_by")
        if restore and start.last is not None:
            raise InputError("lines carrying store fields (id, recorded_at, recorded_by, hash) are accepted only "
                             "into an empty store (a restore); remove them to add the observations as new", "import")
        leading: list[NewRecord] = []
        if start.last is None and not restore and self.pending_tracks:  # a new store's first records
            leading = [NewRecord(TRACK, track_body(a, self.durable)) for a in self.pending_tracks]
        agreement = start.agreement
        process = self.process
        if start.last is None and restore:
            if first.type == TRACK:
                agreement = first.body["agreement"]  # a log that says what it tracks: its genesis names its first
                session.first_agreement(agreement)
                process = Process.empty()
            else:  # a log written before track records: it tracks the agreement its genesis names
                process = Process([self.process.first])
        seq, prev_hash, prev_at = start.last if start.last else (0, genesis_digest(agreement), "")
        number = start.last_number
        now = start.now
        by, shown = _authors(recorded_by, start.author)
        # the reading process hashed plain observations ahead from this start (if the writer guessed it right)
        guessed = (guess is not None and guess.start is not None and not restore
                   and guess.start[2:] == (now if now > prev_at else prev_at, by, shown))
        taken = session.agreement_ids()
        next_numbers: dict[str, int] = {}
        endings_in_batch: list[tuple[str, dict[str, Any]]] = []
        ended_in_batch: dict[str, str] = {}  # targets this append ends, so a later record cannot end them again
        pending_types: dict[str, str] = {}  # ID -> type of the rows not yet handed to the backend
        rows: list[tuple[Any, ...]] = []
        row_ids: list[str] = []
        row_lines: list[int | None] = []
        ids: list[str] = []
        count = 0

        def flush() -> None:
            if rows:
                session.write(rows, row_ids, row_lines, restore)
                rows.clear()
                row_ids.clear()
                row_lines.clear()
                pending_types.clear()

        def chained() -> Iterator[tuple[NewRecord, bool]]:
            for record in leading:
                yield record, True
            yield first, False
            for record in stream:
                yield record, False

        for record, is_leading in chained():
            try:
                if not is_leading and record.is_restore != restore:
                    raise InputError(f"{_STORE_FIELD_NAMES} must be on every line or on none")
                new_seq = seq + 1
                if restore:
                    record_id, at = _restore_fields(record, process, number, prev_at)
                    record_by, record_as = record.recorded_by, record.recorded_as
                    if record.type in (OBSERVATION, RETRACTION):
                        number = int(record_id)
                else:
                    at = now if now > prev_at else prev_at
                    record_by, record_as = by, shown
                    if record.type in (OBSERVATION, RETRACTION):
                        number += 1
                        record_id = str(number)
                    elif record.type == TRACK:
                        record_id = track_id(record.body["agreement"])
                    else:
                        owner = process.obligation_owner(record.body["obligation"])
                        prefix = f"{(owner or process.first).id}-{'A' if record.type == AMENDMENT else 'E'}"
                        if prefix not in next_numbers:
                            next_numbers[prefix] = _next_number(prefix, owner or process.first, record.type, taken)
                        record_id = f"{prefix}{next_numbers[prefix]}"
                        next_numbers[prefix] += 1
                if record.type == TRACK:
                    if record_id in taken:
                        raise InputError(f"the store tracks {record.body['agreement']} already", "agreement")
                    if not is_leading:
                        tracked = agreement_of_track(record)
                        process = process.with_agreement(tracked) if tracked.id not in process.ids else process
                    taken.add(record_id)
                if record.type in (AMENDMENT, ENDING) and restore:
                    if record_id in taken:
                        raise InputError(f"record ID {record_id} is already in the log (or in the clause file)", "id")
                    taken.add(record_id)
                target = record.target
                if target is not None:
                    self._check_target(record, target, ended_in_batch, pending_types)
                if record.type == ENDING:
                    self._check_ending(record, process, restore, endings_in_batch)
                    endings_in_batch.append((record_id, record.body))
                body_json = record.body_json or canonical_json(record.body)
                ahead = record.chained
                if guessed and ahead is not None and ahead[0] == prev_hash and ahead[1] == record_id:
                    digest = ahead[2]  # hashed ahead, from this very hash and ID (and the guessed time and author)
                else:
                    digest = chain_hash_of_text(prev_hash, record_id, record.type, body_json, at, record_by, record_as)
                if restore and record.hash is not None and record.hash != digest:  # a line of the file: bad input
                    raise InputError(f"does not match the rebuilt chain (expected {digest}): the export was changed "
                                     "after it was written, or is not whole", "hash")
                columns = record.columns if record.columns is not None else derived_values(record)
                rows.append((new_seq, record_id, record.type, body_json, at, record_by, record_as, prev_hash, digest,
                             *columns, target))
                row_ids.append(record_id)
                row_lines.append(record.line)
                pending_types[record_id] = record.type
            except Exception as error:
                flush()  # an earlier line's duplicate ID is the first error
                if isinstance(error, InputError) and record.line is not None:
                    raise error.at(line=record.line) from None
                raise
            if target is not None:
                ended_in_batch[target] = record_id
            if len(rows) >= batch_rows:
                flush()
            seq, prev_hash, prev_at = new_seq, digest, at
            if not is_leading:
                count += 1
                if keep_ids:
                    ids.append(record_id)
        flush()
        session.finish(number, start.record_count + count + len(leading), prev_hash)
        self.tracked = process
        return ids, count

    def _guess(self, start: ChainStart, recorded_by: str) -> tuple[str, int, str, str, str | None] | None:
        """Where the chain of new records (not a restore) starts: after the log's last record, or after the track
        records a new store writes first; None when the author's name is refused (the append fails anyway)."""
        from ..observation import clean_name
        from .base import track_body

        try:
            by, shown = _authors(clean_name(recorded_by, "recorded_by"), start.author)
        except InputError:
            return None
        prev_hash, prev_at = (start.last[1], start.last[2]) if start.last else (genesis_digest(start.agreement), "")
        at = start.now if start.now > prev_at else prev_at
        if start.last is None:
            for agreement in self.pending_tracks:
                prev_hash = chain_hash_of_text(prev_hash, track_id(agreement.id), TRACK,
                                               canonical_json(track_body(agreement, self.durable)), at, by, shown)
        return prev_hash, start.last_number, at, by, shown

    def _check_ending(self, record: NewRecord, process: Process, restore: bool,
                      batch: list[tuple[str, dict[str, Any]]]) -> None:
        """One ending in effect per obligation: another is refused unless it names (`supersedes`) the ending it
        corrects, an ending of the same obligation that nothing superseded yet. A restore keeps what the log
        recorded (endings recorded twice by an earlier version included) and checks only what it supersedes."""
        obligation = record.body["obligation"]
        endings = [(e.id, {"obligation": e.obligation, "on": e.on.isoformat()})
                   for agreement in process.agreements for e in agreement.endings]
        endings += self.session.endings()
        endings += batch
        superseded = {body["supersedes"]: ending_id for ending_id, body in endings if body.get("supersedes")}
        target = record.body.get("supersedes")
        if target is not None:
            named = dict(endings).get(target)
            if named is None:
                raise UnknownReferenceError(f"no ending with ID {target}", "supersedes")
            if named["obligation"] != obligation:
                raise InputError(f"ending {target} ends {named['obligation']}, not {obligation}", "supersedes")
            if target in superseded:
                raise InputError(f"ending {target} was already superseded by {superseded[target]}; only the latest "
                                 "ending can be corrected", "supersedes")
            return
        live = [(i, body) for i, body in endings if body["obligation"] == obligation and i not in superseded]
        if live and not restore:
            ending_id, body = live[-1]
            raise InputError(f"{obligation} is already ended by {ending_id} on {body['on']}; to correct that ending, "
                             f"record the new one with {{supersedes:{ending_id}}}", "obligation",
                             mentions=("supersedes",))

    def _check_target(self, record: NewRecord, target: str, ended_in_batch: dict[str, str],
                      pending_types: dict[str, str]) -> None:
        field = "supersedes" if record.type == OBSERVATION else "retracts"
        ended_by = ended_in_batch.get(target)
        record_type = pending_types.get(target)
        if record_type is None:
            found = self.session.lookup(target)
            if found is None:
                raise UnknownReferenceError(f"no observation with ID {target}", field)
            record_type, stored_end = found
            ended_by = ended_by or stored_end
        if record_type != OBSERVATION:
            raise InputError(f"record {target} is a {record_type}, not an observation", field)
        if ended_by is not None:
            raise InputError(f"observation {target} was already superseded or retracted by record {ended_by}; "
                             f"only the latest record of a chain can be corrected or retracted", field)
