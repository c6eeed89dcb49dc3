"""The observation log: an append-only, hash-chained SQLite store that knows the agreements it tracks."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import time
from contextlib import contextmanager
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple

from .agreement import Agreement
from .dates import format_utc, parse_utc, utc_now
from .errors import ComplianceError, InputError, StoreError, UnknownReferenceError
from .observation import clean_name
from .process import Process, as_process, bundled_process_ids, load_process
from .records import AMENDMENT, ENDING, OBSERVATION, RETRACTION, TRACK, NewRecord, Record, genesis_digest, track_id

if TYPE_CHECKING:
    from .evidence import Row

SCHEMA_VERSION = "2"
DEFAULT_STORE = Path("observations") / "observations.db"
SAMPLE = "sample"
BUSY_TIMEOUT_SECONDS = 120

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL CHECK (type IN ('observation', 'retraction', 'amendment', 'ending', 'track')),
    body TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    kind TEXT, actor TEXT, day TEXT, day_end TEXT, source_party TEXT, claim TEXT,
    subject TEXT, sup TEXT, lo INTEGER, hi INTEGER,
    target TEXT,
    ended_by INTEGER,
    attrs TEXT, at TEXT, at_end TEXT
);
CREATE INDEX IF NOT EXISTS records_evidence ON records
    (day, kind, actor, source_party, claim, subject, sup, lo, hi, day_end, ended_by, seq)
    WHERE type = 'observation';
CREATE INDEX IF NOT EXISTS records_recorded_at ON records (recorded_at);
CREATE INDEX IF NOT EXISTS records_target ON records (target) WHERE target IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_amendments ON records (seq) WHERE type = 'amendment';
CREATE INDEX IF NOT EXISTS records_endings ON records (seq) WHERE type = 'ending';
CREATE INDEX IF NOT EXISTS records_tracks ON records (seq) WHERE type = 'track';
CREATE INDEX IF NOT EXISTS records_spans ON records (day_end) WHERE type = 'observation' AND day_end <> day;
"""
# Version 1 stores (written before the clause language and the process) lack the columns attrs, at and
# at_end and cannot hold `track` records; they are rebuilt in place on their first write by this version.
_V1_COLUMNS = ("seq, id, type, body, recorded_at, recorded_by, prev_hash, hash, kind, actor, day, day_end,"
               " source_party, claim, subject, sup, lo, hi, target, ended_by")
_SUMMARY_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence_signatures (
    sig INTEGER PRIMARY KEY,
    kind TEXT NOT NULL, actor TEXT NOT NULL, source_party TEXT NOT NULL, claim TEXT NOT NULL,
    subject TEXT NOT NULL, sup TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, attrs TEXT NOT NULL,
    UNIQUE (kind, actor, source_party, claim, subject, sup, lo, hi, attrs)
);
CREATE TABLE IF NOT EXISTS evidence_summary (
    day TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, source_party TEXT NOT NULL, claim TEXT NOT NULL,
    subject TEXT NOT NULL, sup TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, attrs TEXT NOT NULL,
    day_end TEXT NOT NULL, n INTEGER NOT NULL, sig INTEGER NOT NULL,
    PRIMARY KEY (day, kind, actor, source_party, claim, subject, sup, lo, hi, attrs, day_end)
) WITHOUT ROWID;
"""

# The evidence summary: the live observations of the log's latest state grouped as `evidence_groups` groups
# them, kept up to date by every append (in the same transaction), so that a check of the current log reads
# one row per group instead of grouping every observation. NULLs are stored as '' and -1 (which no
# observation holds) so that the key is unique. Each row also names its signature (every field but the
# dates, in evidence_signatures: a few hundred or thousand), so that a check reads four columns a row
# (day, sig, day_end, n), in key order. meta 'summary' holds "2:" and the chain head the summary is up to
# date with; any other state of the log (an --as-recorded time before the last record, a log written by a
# version that did not keep the summary) is grouped from the records themselves, exactly as before.
_SUMMARY_FORMAT = "3:"
_SIGNATURE = "kind, actor, source_party, claim, subject, sup, lo, hi, attrs"
_GROUP_KEY = "day, kind, actor, source_party, claim, subject, sup, lo, hi, attrs, day_end"
_STORED_KEY = ("day, kind, actor, source_party, claim, coalesce(subject, ''), coalesce(sup, ''), coalesce(lo, -1),"
               " coalesce(hi, -1), coalesce(attrs, ''), day_end")
_SUMMARY_CHANGE = (f"INSERT INTO evidence_summary ({_GROUP_KEY}, n, sig) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                   " ON CONFLICT DO UPDATE SET n = n + excluded.n")
_INSERT = ("INSERT INTO records (seq, id, type, body, recorded_at, recorded_by, prev_hash, hash, kind, actor, day,"
           " day_end, source_party, claim, subject, sup, lo, hi, attrs, at, at_end, target) VALUES"
           " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_SIGNATURES_REBUILD = (f"INSERT INTO evidence_signatures ({_SIGNATURE}) SELECT DISTINCT kind, actor, source_party, claim,"
                       " coalesce(subject, ''), coalesce(sup, ''), coalesce(lo, -1), coalesce(hi, -1),"
                       " coalesce(attrs, '') FROM records WHERE type = 'observation' AND ended_by IS NULL")
_SUMMARY_REBUILD = (f"INSERT INTO evidence_summary ({_GROUP_KEY}, n, sig) SELECT r.day, r.kind, r.actor, r.source_party,"
                    " r.claim, g.subject, g.sup, g.lo, g.hi, g.attrs, r.day_end, count(*), g.sig FROM records r"
                    " JOIN evidence_signatures g ON g.kind = r.kind AND g.actor = r.actor AND g.source_party = r.source_party"
                    " AND g.claim = r.claim AND g.subject = coalesce(r.subject, '') AND g.sup = coalesce(r.sup, '')"
                    " AND g.lo = coalesce(r.lo, -1) AND g.hi = coalesce(r.hi, -1) AND g.attrs = coalesce(r.attrs, '')"
                    " WHERE r.type = 'observation' AND r.ended_by IS NULL"
                    " GROUP BY r.day, r.kind, r.actor, r.source_party, r.claim, g.subject, g.sup, g.lo, g.hi, g.attrs,"
                    " r.day_end")
_LIVE_AT = "type = 'observation' AND seq <= ? AND (ended_by IS NULL OR ended_by > ?)"
# literal terms, so that SQLite can use the partial indexes of amendments and endings
_TYPE_TERM = {AMENDMENT: "'amendment'", ENDING: "'ending'", TRACK: "'track'"}


class GroupIds:
    """The IDs of groups read from the evidence summary, fetched from the log only when asked for.

    Most groups are never asked (evidence lists stop at 20 IDs, earliest first): the groups of one day
    are read together, with one indexed query, when the first of them is asked for; once many days have
    been asked (a what-if that excludes IDs asks for all), every group is read at once.
    """

    DAY_BY_DAY = 256

    def __init__(self, db: sqlite3.Connection, head: "Head", as_of: str):
        self._db, self._head, self._as_of = db, head, as_of
        self._days: set[str] = set()
        self._texts: dict[tuple[Any, ...], str] = {}
        self._all = False
        self._keys_of: dict[frozenset[str], set[tuple[Any, ...]]] = {}

    def text(self, key: tuple[Any, ...]) -> str:
        """The comma-separated IDs of one group, by its key (in `_GROUP_KEY` order, day first)."""
        day = key[0]
        if not self._all and day not in self._days:
            seq = self._head.seq
            if len(self._days) < self.DAY_BY_DAY:
                self._days.add(day)
                rows = self._db.execute(f"SELECT {_GROUP_KEY}, group_concat(id) FROM records INDEXED BY records_evidence"
                                        f" WHERE {_LIVE_AT} AND day = ? GROUP BY {_GROUP_KEY}", (seq, seq, day))
            else:
                self._all = True
                rows = self._db.execute(f"SELECT {_GROUP_KEY}, group_concat(id) FROM records WHERE {_LIVE_AT}"
                                        f" AND day <= ? GROUP BY {_GROUP_KEY}", (seq, seq, self._as_of))
            self._texts.update((tuple(row[:-1]), row[-1]) for row in rows)
        return self._texts.get(key, "")

    def keys_of(self, ids: frozenset[str]) -> set[tuple[Any, ...]]:
        """The group keys (as `text` takes them) of those of `ids` that are live observations: the only groups
        from which a what-if that excludes `ids` removes anything."""
        found = self._keys_of.get(ids)
        if found is None:
            seq = self._head.seq
            wanted = sorted(ids)
            found = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                found.update(tuple(row) for row in self._db.execute(
                    f"SELECT {_GROUP_KEY} FROM records WHERE {_LIVE_AT} AND day <= ? AND id IN"
                    f" ({','.join('?' * len(chunk))})", (seq, seq, self._as_of, *chunk)))
            self._keys_of[ids] = found
        return found


class Head(NamedTuple):
    """The state of the log at an `--as-recorded` time: last record included and the chain head."""

    seq: int
    digest: str


_DERIVED = ("kind", "actor", "day", "day_end", "source_party", "claim", "subject", "sup", "lo", "hi", "attrs", "at",
            "at_end")
_NOT_DERIVED = (None,) * len(_DERIVED)


def _derived_values(record: NewRecord) -> tuple[Any, ...]:
    """The derived columns of a record, in _DERIVED order (all None for records other than observations)."""
    obs = record.observation
    if obs is None:
        return _NOT_DERIVED
    fields = obs.fields
    sup = fields.get("supervised_by")
    attributes = fields.get("attributes")
    return (fields["kind"], fields["actor"], obs.day.isoformat(), obs.day_end.isoformat(), fields["source_party"],
            fields.get("claim", "affirms"), fields.get("subject"), sup.strip().upper() if sup else None, obs.lo, obs.hi,
            _canonical_json(attributes) if attributes else None,
            format_utc(obs.instant) if obs.timed else None,
            # the end's instant: date_end's when it has a time; a moment without date_end ends when it starts
            (format_utc(obs.instant_end) if obs.timed_end and obs.instant_end is not None
             else format_utc(obs.instant) if obs.timed and "date_end" not in fields else None))


def _derived(record: NewRecord) -> dict[str, Any]:
    if record.observation is None:
        return {}
    return dict(zip(_DERIVED, _derived_values(record)))


# json.dumps(s, ensure_ascii=False) and records.canonical_json, with their encoders made once, not per call
_json_text = json.JSONEncoder(ensure_ascii=False).encode
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


_store_fields = attrgetter("id", "recorded_at", "recorded_by", "hash")  # NewRecord.is_restore: any of them set
_NO_STORE_FIELDS = (None, None, None, None)


def _chain_hash(prev_hash: str, record_id: str, record_type: str, body_json: str, recorded_at: str,
                recorded_by: str) -> str:
    """records.chain_hash, from the body's canonical JSON made once for both the hash and the stored body:
    the canonical JSON of {body, id, recorded_at, recorded_by, type} (sorted keys, no spaces), written out."""
    text = _quoted
    content = (f'{{"body":{body_json},"id":{_json_text(record_id)},"recorded_at":{text(recorded_at)},'
               f'"recorded_by":{text(recorded_by)},"type":{text(record_type)}}}')
    return "sha256:" + hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


@lru_cache(maxsize=1024)
def _quoted(value: str) -> str:
    """_json_text, remembered: one append repeats the same time, monitor and record type."""
    return _json_text(value)


def _summary_key(derived: tuple[Any, ...]) -> tuple[Any, ...]:
    """An observation's evidence-summary key (NULLs as '' and -1), from its _derived_values."""
    kind, actor, day, day_end, source_party, claim, subject, sup, lo, hi, attrs, _at, _at_end = derived
    return (day, kind, actor, source_party, claim, subject or "", sup or "", -1 if lo is None else lo,
            -1 if hi is None else hi, attrs or "", day_end)


def _retry_busy(action: Callable[[], Any]) -> Any:
    """Run `action`, retrying while the database is busy: switching to WAL can fail at once, without waiting
    on the busy timeout, while another process creates or opens the same new store."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            return action()
        except sqlite3.OperationalError as error:
            if not str(getattr(error, "sqlite_errorname", "")).startswith("SQLITE_BUSY") or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def bundled_ids(agreement: Agreement) -> frozenset[str]:
    """The IDs of the amendments and endings in the clause file, which no record of the log may take."""
    return frozenset(item.id for item in (*agreement.amendments, *agreement.endings))


def _process_of(agreements: Any) -> Process:
    """The process a new store tracks: the agreements given, or the bundled process."""
    if agreements is None:
        return load_process(bundled_process_ids())
    if isinstance(agreements, (Agreement, Process)):
        return as_process(agreements)
    if isinstance(agreements, (str, Path)):
        agreements = [agreements]
    refs = list(agreements)
    return load_process(refs) if refs else load_process(bundled_process_ids())


class Store:
    """An observation log backed by SQLite, tracking one or more agreements; reads never create it.

    `process` holds the tracked agreements (in tracking order): observations are validated against their
    vocabulary. A store created by this version tracks them through its first records (`track` records);
    a store of one agreement written by an earlier version tracks the agreement its meta table names, and
    grows with `track` records appended later.
    """

    def __init__(self, connection: sqlite3.Connection, process: Process, path: Path | None, writable: bool):
        self._db = connection
        self.process = process
        self.path = path
        self.writable = writable
        self._pending_tracks: list[Agreement] = []  # what a new store tracks, recorded with its first append

    @property
    def agreement(self) -> Agreement:
        """The first tracked agreement (its ID names the log's genesis)."""
        return self.process.first

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, location: str | Path | None, agreements: Any = None, *, write: bool = False) -> "Store":
        """Open the store at `location` ('sample' for the bundled sample log, read-only).

        `agreements` (an Agreement, a Process, or bundled IDs / clause-file paths) is what a new store tracks
        (default: the bundled process); an existing store tracks what its log says."""
        if str(location) == SAMPLE:
            if write:
                raise InputError("the sample log is read-only; use --store PATH to write", "--store")
            return cls.sample()
        path = Path(location) if location else DEFAULT_STORE
        if not path.exists():
            if not write:
                return cls.memory(agreements)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the store's folder: {error.strerror or error}", str(path)) from None
        if path.is_dir():
            raise StoreError("is a folder, not a store file", str(path))
        try:
            if write:
                db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            else:
                db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            store = cls(db, Process.empty(), path, write)
            if not write and store._is_version_1():
                return store._read_version_1(agreements)
            store._prepare(create=write, agreements=agreements)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open the store: {error}", str(path)) from None
        return store

    @classmethod
    def memory(cls, agreements: Any = None) -> "Store":
        """An empty in-memory log tracking `agreements` (default: the bundled process); what a missing store reads as."""
        store = cls(sqlite3.connect(":memory:", isolation_level=None), Process.empty(), None, True)
        store._prepare(create=True, agreements=agreements)
        return store

    @classmethod
    def sample(cls, agreement: Any = None) -> "Store":
        """The bundled sample log, restored into memory; read-only. (`agreement` is accepted and ignored: the
        sample log says what it tracks.)"""
        from .exchange import read_jsonl  # the exchange module depends on records, not on the store
        from .resources import sample_log

        path = sample_log()
        first = load_process(["nov-10-2020"])
        store = cls.memory(first)
        records = read_jsonl(path.read_text(encoding="utf-8").splitlines(), first, str(path))
        store.append(records, recorded_by="sample")
        store.writable = False
        return store

    def _is_version_1(self) -> bool:
        """True for a store written before stores tracked several agreements (no `attrs` column yet)."""
        try:
            has_records = self._db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'records'").fetchone()
        except sqlite3.DatabaseError:
            return False
        return has_records is not None and "attrs" not in self._columns()

    def _read_version_1(self, agreements: Any) -> "Store":
        """A read of a version 1 store: the file is left as it is (its first write rebuilds it in place); the
        read sees an in-memory copy rebuilt with this version's columns."""
        copy = sqlite3.connect(":memory:", isolation_level=None)
        self._db.backup(copy)
        self._db.close()
        store = type(self)(copy, Process.empty(), None, True)
        store._prepare(create=True, agreements=agreements)
        store.path, store.writable = self.path, False
        return store

    def _columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(records)")}

    def _prepare(self, create: bool, agreements: Any = None) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = %d" % (BUSY_TIMEOUT_SECONDS * 1000))
        if create:
            if self.path is not None:
                _retry_busy(lambda: db.execute("PRAGMA journal_mode = WAL"))
                db.execute("PRAGMA synchronous = FULL")
            db.execute("BEGIN IMMEDIATE")
            try:
                new = db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'records'").fetchone() is None
                if not new and "attrs" not in self._columns():
                    self._migrate_v1()
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                if db.execute("SELECT 1 FROM meta WHERE key = 'agreement'").fetchone() is None:
                    process = _process_of(agreements)
                    db.execute("INSERT INTO meta VALUES ('agreement', ?)", (process.first.id,))
                    self._pending_tracks = list(process.agreements)
                    if self.path is not None:  # what a new file will track, until its first append writes it
                        db.execute("INSERT INTO meta VALUES ('tracking', ?)",
                                   (json.dumps([_track_body(a, True) for a in process.agreements]),))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('last_number', '0')")
                marker = db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
                if marker is None or not marker[0].startswith(_SUMMARY_FORMAT):
                    self._rebuild_summary()  # a new store, or one kept by a version without this summary
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()
        except sqlite3.OperationalError:
            raise StoreError("not a compliance store (no meta table)", str(self.path)) from None
        if row is None:
            raise StoreError("not a compliance store (no agreement recorded)", str(self.path))
        if self._pending_tracks:
            self.process = Process(self._pending_tracks)
            return
        tracking = db.execute("SELECT value FROM meta WHERE key = 'tracking'").fetchone()
        if tracking is not None and db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None:
            self.process = self._tracked(row[0], [b.get("path") or b["agreement"] for b in json.loads(tracking[0])])
            self._pending_tracks = list(self.process.agreements)
            return
        self.process = self._tracked(row[0], None)

    def _tracked(self, first: str, given: Any) -> Process:
        """The agreements this log tracks: its first agreement (meta) and every `track` record after it."""
        if given is not None:
            return _process_of(given)
        refs: list[str] = []
        try:
            for (body,) in self._db.execute("SELECT body FROM records WHERE type = 'track' ORDER BY seq"):
                data = json.loads(body)
                refs.append(data.get("path") or data["agreement"])
        except sqlite3.OperationalError:
            raise
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError):
            refs = []  # a damaged log: read as tracking its first agreement; `verify` says what is wrong
        if not refs or _ref_id(refs[0]) != first:
            refs.insert(0, first)
        try:
            return load_process(refs)
        except ComplianceError as error:
            raise StoreError(f"the store tracks an agreement that cannot be loaded: {error}", str(self.path or "store")) from None

    def _migrate_v1(self) -> None:
        """Rebuild a version 1 `records` table with this version's columns (inside the caller's transaction)."""
        db = self._db
        db.execute("ALTER TABLE records RENAME TO records_v1")
        for index in ("records_evidence", "records_recorded_at", "records_target", "records_amendments", "records_endings"):
            db.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            db.execute(statement)
        db.execute(f"INSERT INTO records ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM records_v1")
        db.execute("DROP TABLE records_v1")
        from .dates import parse_moment
        from .observation import has_time
        from .process import load_process as _load

        first = db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()
        tz = _load([first[0]]).tz if first else dt.timezone.utc
        updates = []
        for seq, body in db.execute("SELECT seq, body FROM records WHERE type = 'observation' AND body LIKE '%T%'"):
            fields = json.loads(body)
            at = at_end = None
            if isinstance(fields.get("date"), str) and has_time(fields["date"]):
                at = format_utc(parse_moment(fields["date"], tz)[1])
            if isinstance(fields.get("date_end"), str) and has_time(fields["date_end"]):
                at_end = format_utc(parse_moment(fields["date_end"], tz)[1])
            if at or at_end:
                updates.append((at, at_end, seq))
        db.executemany("UPDATE records SET at = ?, at_end = ? WHERE seq = ?", updates)
        db.execute("DELETE FROM meta WHERE key = 'summary'")

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    # ---- writing -------------------------------------------------------------------------------

    def append(self, records: list[NewRecord], recorded_by: str) -> list[str]:
        """Append records in one transaction: all are stored, or none. Returns their IDs (not those of the
        `track` records a new store writes first)."""
        if not self.writable:
            raise InputError("this store is read-only", "--store")
        if not records:
            return []
        restore = records[0].is_restore
        if not restore:  # as a restore reads it back: trimmed, no control characters, at most 1,000 characters
            recorded_by = clean_name(recorded_by, "recorded_by")
        if len({_store_fields(r) == _NO_STORE_FIELDS for r in records}) > 1:  # some is_restore, some not
            raise InputError("store fields (id, recorded_at, recorded_by, hash) must be on every line or on none")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreError(f"cannot write the store: {error}", str(self.path)) from None
        try:
            ids = self._append_in_tx(records, recorded_by, restore)
            db.execute("COMMIT")
            self.process, self._pending_tracks = self._after_commit, []
        except BaseException as error:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(error, sqlite3.OperationalError):
                raise StoreError(f"cannot write the store: {error}", str(self.path)) from None
            raise
        return ids

    def _append_in_tx(self, records: list[NewRecord], recorded_by: str, restore: bool) -> list[str]:
        from .exchange import agreement_of_track, track_record

        db = self._db
        last = db.execute("SELECT seq, hash, recorded_at FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        if restore and last is not None:
            raise InputError("lines carrying store fields (id, recorded_at, recorded_by, hash) are accepted only "
                             "into an empty store (a restore); remove them to add the observations as new", "import")
        leading: list[NewRecord] = []
        if last is None and not restore and self._pending_tracks:  # a new store's first records
            leading = [NewRecord(TRACK, _track_body(a, self.path is not None)) for a in self._pending_tracks]
        if last is None and restore:
            if records[0].type == TRACK:
                first = records[0].body["agreement"]  # a log that says what it tracks: its genesis names its first
                db.execute("UPDATE meta SET value = ? WHERE key = 'agreement'", (first,))
                process = Process.empty()
            else:  # a log written before track records: it tracks the agreement its genesis names
                process = Process([self.process.first])
        genesis = genesis_digest(db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()[0])
        seq, prev_hash, prev_at = last if last else (0, genesis, "")
        meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('last_number', 'record_count', 'summary')"))
        number = int(meta["last_number"])
        summary = meta.get("summary") == _SUMMARY_FORMAT + prev_hash  # up to date: keep it so; else rebuild it at the end
        now = format_utc(utc_now())
        taken = {row[0] for row in db.execute("SELECT id FROM records WHERE type IN ('amendment', 'ending', 'track')")}
        if not (last is None and restore):
            process = self.process
        next_numbers: dict[str, int] = {}
        # targets that this batch ends, so a later line cannot end them again
        ended_in_batch: dict[str, str] = {}
        endings_in_batch: list[tuple[str, dict[str, Any]]] = []
        ids: list[str] = []
        # rows are inserted a few thousand at a time (before any query that must see them), and the
        # evidence summary changes once per group at the end
        pending: list[tuple[tuple[Any, ...], str, int | None]] = []
        deltas: dict[tuple[Any, ...], int] = {}
        for record in [*leading, *records]:
            if record.target is not None:
                self._insert(pending)  # its target may be among them
            try:
                new_seq = seq + 1
                if restore:
                    record_id, at, by = self._restore_fields(record, number, prev_at)
                    if record.type in (OBSERVATION, RETRACTION):
                        number = int(record_id)
                else:
                    at = max(now, prev_at)
                    by = recorded_by
                    if record.type in (OBSERVATION, RETRACTION):
                        number += 1
                        record_id = str(number)
                    elif record.type == TRACK:
                        record_id = track_id(record.body["agreement"])
                    else:
                        owner = process.obligation_owner(record.body["obligation"])
                        prefix = f"{(owner or process.first).id}-{'A' if record.type == AMENDMENT else 'E'}"
                        if prefix not in next_numbers:
                            next_numbers[prefix] = self._next_number(prefix, owner or process.first, record.type, taken)
                        record_id = f"{prefix}{next_numbers[prefix]}"
                        next_numbers[prefix] += 1
                if record.type == TRACK:
                    if record_id in taken:
                        raise InputError(f"the store tracks {record.body['agreement']} already", "agreement")
                    if record not in leading:
                        tracked = agreement_of_track(record)
                        process = process.with_agreement(tracked) if tracked.id not in process.ids else process
                    taken.add(record_id)
                if record.type in (AMENDMENT, ENDING) and restore:
                    if record_id in taken:
                        raise InputError(f"record ID {record_id} is already in the log (or in the clause file)", "id")
                    taken.add(record_id)
                if record.target is not None:
                    self._check_target(record, ended_in_batch)
                if record.type == ENDING:
                    self._check_ending(record, restore, endings_in_batch)
                    endings_in_batch.append((record_id, record.body))
                body_json = _canonical_json(record.body)
                digest = _chain_hash(prev_hash, record_id, record.type, body_json, at, by)
                if restore and record.hash is not None and record.hash != digest:  # a line of the file: bad input
                    raise InputError(f"does not match the rebuilt chain (expected {digest}): the export was changed "
                                     "after it was written, or is not whole", "hash")
                derived = _derived_values(record)
                pending.append(((new_seq, record_id, record.type, body_json, at, by, prev_hash, digest, *derived,
                                 record.target), record_id, record.line))
                if summary and record.type == OBSERVATION:
                    key = _summary_key(derived)
                    deltas[key] = deltas.get(key, 0) + 1
            except Exception as error:
                self._insert(pending)  # an earlier line's duplicate ID is the first error, as before
                if isinstance(error, InputError) and record.line is not None:
                    raise error.located(f"line {record.line}")
                raise
            if record.target is not None or len(pending) >= 5000:
                self._insert(pending)
            if record.target is not None:
                ended = db.execute("UPDATE records SET ended_by = ? WHERE id = ? AND ended_by IS NULL",
                                   (new_seq, record.target)).rowcount
                if summary and ended:
                    key = db.execute(f"SELECT {_STORED_KEY} FROM records WHERE id = ? AND type = 'observation'",
                                     (record.target,)).fetchone()
                    if key is not None:
                        deltas[tuple(key)] = deltas.get(tuple(key), 0) - 1
                ended_in_batch[record.target] = record_id
            seq, prev_hash, prev_at = new_seq, digest, at
            if record not in leading:
                ids.append(record_id)
        self._insert(pending)
        if summary:
            signatures: dict[tuple[Any, ...], int] = {}
            db.executemany(_SUMMARY_CHANGE, [(*key, delta, self._signature(key[1:10], signatures))
                                             for key, delta in deltas.items() if delta])
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_number'", (str(number),))
        # the record count and chain head, in the same transaction: verify compares them with the log's end
        if "record_count" in meta:  # every record of the batch was inserted, or the transaction fails
            count = int(meta["record_count"]) + len(ids) + len(leading)
        else:
            count = db.execute("SELECT count(*) FROM records").fetchone()[0]
        db.execute("INSERT OR REPLACE INTO meta VALUES ('record_count', ?), ('head', ?)", (str(count), prev_hash))
        db.execute("DELETE FROM meta WHERE key = 'tracking'")  # written as records now (or a restore says its own)
        if summary:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('summary', ?)", (_SUMMARY_FORMAT + prev_hash,))
        else:
            self._rebuild_summary()
        self._after_commit = process
        return ids

    def _insert(self, pending: list[tuple[tuple[Any, ...], str, int | None]]) -> None:
        """Insert pending rows (row, record ID, line number) together; empties `pending`. A duplicate ID raises
        InputError naming its record and line, as a one-by-one insert would."""
        if not pending:
            return
        db = self._db
        db.execute("SAVEPOINT rows")
        try:
            db.executemany(_INSERT, [row for row, _, _ in pending])
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO rows")
            for row, record_id, line in pending:
                try:
                    db.execute(_INSERT, row)
                except sqlite3.IntegrityError:
                    raise InputError(f"record ID {record_id} is already in the log",
                                     f"line {line}" if line is not None else "id") from None
        finally:
            db.execute("RELEASE rows")
        pending.clear()

    def _signature(self, fields: tuple[Any, ...], known: dict[tuple[Any, ...], int]) -> int:
        """The evidence signature number of (kind, actor, source_party, claim, subject, sup, lo, hi, attrs), stored
        ('' and -1 for NULLs), made when new."""
        sig = known.get(fields)
        if sig is None:
            row = self._db.execute(f"SELECT sig FROM evidence_signatures WHERE ({_SIGNATURE}) = (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                   fields).fetchone()
            sig = known[fields] = row[0] if row else self._db.execute(
                f"INSERT INTO evidence_signatures ({_SIGNATURE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", fields).lastrowid
        return sig

    def _rebuild_summary(self) -> None:
        """Group the live observations into the evidence summary afresh (inside a write transaction)."""
        db = self._db
        db.execute("DROP TABLE IF EXISTS evidence_summary")
        db.execute("DROP TABLE IF EXISTS evidence_signatures")
        for statement in filter(str.strip, _SUMMARY_SCHEMA.split(";")):
            db.execute(statement)
        db.execute(_SIGNATURES_REBUILD)
        db.execute(_SUMMARY_REBUILD)
        last = db.execute("SELECT hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        first = db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()
        db.execute("INSERT OR REPLACE INTO meta VALUES ('summary', ?)",
                   (_SUMMARY_FORMAT + (last[0] if last else genesis_digest(first[0] if first else "")),))

    def _restore_fields(self, record: NewRecord, number: int, prev_at: str) -> tuple[str, str, str]:
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
            owner = self.process.obligation_owner(record.body["obligation"]) if self.process.agreements else None
            letter = "A" if record.type == AMENDMENT else "E"
            prefix = (owner.id if owner else r"[a-z0-9][a-z0-9._-]*")
            if not re.fullmatch(rf"{re.escape(owner.id) if owner else prefix}-{letter}[1-9][0-9]*", record.id):
                raise InputError(f"{record.type} IDs are <agreement>-{letter}<n>"
                                 + (f" ({owner.id}-{letter}<n>)" if owner else "") + f", got {record.id!r}", "id")
            if owner is not None and record.id in bundled_ids(owner):
                raise InputError(f"{record.id} is the ID of an {record.type} in the clause file of {owner.id}; "
                                 "a log's amendments and endings are numbered after the clause file's", "id")
        at = format_utc(parse_utc(record.recorded_at))
        if at < prev_at:
            raise InputError(f"recorded_at {record.recorded_at} is earlier than the record before it", "recorded_at")
        return record.id, at, record.recorded_by

    def _check_target(self, record: NewRecord, ended_in_batch: dict[str, str]) -> None:
        field = "supersedes" if record.type == OBSERVATION else "retracts"
        target = record.target
        row = self._db.execute("SELECT type, ended_by FROM records WHERE id = ?", (target,)).fetchone()
        if row is None:
            raise UnknownReferenceError(f"no observation with ID {target}", field)
        if row[0] != OBSERVATION:
            raise InputError(f"record {target} is a {row[0]}, not an observation", field)
        ended_by = ended_in_batch.get(target)
        if ended_by is None and row[1] is not None:
            ended_by = self._db.execute("SELECT id FROM records WHERE seq = ?", (row[1],)).fetchone()[0]
        if ended_by is not None:
            raise InputError(f"observation {target} was already superseded or retracted by record {ended_by}; "
                             f"only the latest record of a chain can be corrected or retracted", field)

    def _check_ending(self, record: NewRecord, restore: bool, batch: list[tuple[str, dict[str, Any]]]) -> None:
        """One ending in effect per obligation: another is refused unless it names (`supersedes`) the ending it
        corrects, an ending of the same obligation that nothing superseded yet. A restore keeps what the log
        recorded (endings recorded twice by an earlier version included) and checks only what it supersedes."""
        obligation = record.body["obligation"]
        endings = [(e.id, {"obligation": e.obligation, "on": e.on.isoformat()})
                   for agreement in self.process.agreements for e in agreement.endings]
        endings += [(row[0], json.loads(row[1])) for row in self._db.execute(
            f"SELECT id, body FROM records WHERE type = {_TYPE_TERM[ENDING]} ORDER BY seq")]
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
                             f"record the new one with --supersedes {ending_id}", "obligation")

    def _next_number(self, prefix: str, owner: Agreement, record_type: str, taken: set[str]) -> int:
        numbers = [int(record_id[len(prefix):]) for record_id in taken
                   if record_id.startswith(prefix) and record_id[len(prefix):].isdigit()]
        bundled = owner.amendments if record_type == AMENDMENT else owner.endings
        numbers += [int(item.id[len(prefix):]) for item in bundled if item.id.startswith(prefix)]
        return max(numbers, default=0) + 1

    # ---- reading -------------------------------------------------------------------------------

    def genesis(self) -> str:
        """The chain head of this log before its first record (named by the first agreement it tracks)."""
        return genesis_digest(self.process.first.id)

    def head(self, as_recorded: dt.datetime | None = None) -> Head:
        """The last record recorded at or before `as_recorded` (default: now) and the chain head then."""
        if as_recorded is None:
            row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        else:
            row = self._db.execute("SELECT seq, hash FROM records WHERE recorded_at <= ? ORDER BY seq DESC LIMIT 1",
                                   (format_utc(as_recorded),)).fetchone()
        return Head(row[0], row[1]) if row else Head(0, self.genesis())

    def evidence_groups(self, head: Head, as_of: dt.date, exact_days: Iterable[dt.date] = ()) -> list["Row"]:
        """Live observations dated on or before `as_of`, grouped by every field a rule reads, as evidence rows
        (`compliance.evidence.Row`: a check reads 200k of them at 1M observations).

        Observations dated on (or ending on) one of `exact_days` come in groups of their own moment (`at`,
        `at_end`: the UTC instant of a date-time, None for a plain date): a rule that starts at a moment of
        that day needs to know. At the log's latest state the other groups come from the evidence summary and
        their IDs (a `GroupIds`) are read when asked for; at any other state they are grouped from the records."""
        from .evidence import _DAYS, Row, _day  # the evidence module builds on this one

        db = self._db
        day = as_of.isoformat()
        exact = sorted({d.isoformat() for d in exact_days if d <= as_of})
        marks = ",".join("?" * len(exact))
        not_exact = f" AND day NOT IN ({marks}) AND day_end NOT IN ({marks})" if exact else ""
        in_transaction = db.in_transaction
        if not in_transaction:
            db.execute("BEGIN")  # the summary, its marker and the last record: one state of the log
        try:
            last = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
            marker = db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
            rows: list[Row] = []
            if (last is not None and tuple(last) == tuple(head) and marker is not None
                    and marker[0] == _SUMMARY_FORMAT + head.digest):
                ids = GroupIds(db, head, day)
                days = _DAYS
                signatures = {row[0]: row[1:] for row in db.execute(
                    "SELECT sig, kind, actor, source_party, claim, NULLIF(subject, ''), NULLIF(sup, ''), NULLIF(lo, -1),"
                    " NULLIF(hi, -1), NULLIF(attrs, '') FROM evidence_signatures")}
                append = rows.append
                for d, sig, day_end, n in db.execute(
                        f"SELECT day, sig, day_end, n FROM evidence_summary WHERE day <= ? AND n > 0{not_exact}",
                        (day, *exact, *exact)):
                    kind, actor, party, claim, subject, sup, lo, hi, attrs = signatures[sig]
                    append(Row(kind, actor, days.get(d) or _day(d), days.get(day_end) or _day(day_end), party, claim,
                               subject, sup, lo, hi, n, ids, attrs, None, None, sig))
            else:
                rows = [Row(kind, actor, _day(d), _day(day_end), party, claim, subject, sup, lo, hi, n, seqs, attrs)
                        for kind, actor, d, day_end, party, claim, subject, sup, lo, hi, attrs, n, seqs in db.execute(
                            f"SELECT kind, actor, day, day_end, source_party, claim, subject, sup, lo, hi, attrs,"
                            f" count(*), group_concat(id) FROM records WHERE {_LIVE_AT} AND day <= ?{not_exact}"
                            f" GROUP BY {_GROUP_KEY}", (head.seq, head.seq, day, *exact, *exact))]
            if exact:
                rows += [Row(kind, actor, _day(d), _day(day_end), party, claim, subject, sup, lo, hi, n, seqs, attrs,
                             at=at, at_end=at_end)
                         for kind, actor, d, day_end, party, claim, subject, sup, lo, hi, attrs, at, at_end, n, seqs
                         in db.execute(
                            f"SELECT kind, actor, day, day_end, source_party, claim, subject, sup, lo, hi, attrs, at,"
                            f" at_end, count(*), group_concat(id) FROM records WHERE {_LIVE_AT} AND day <= ?"
                            f" AND (day IN ({marks}) OR day_end IN ({marks}))"
                            f" GROUP BY {_GROUP_KEY}, at, at_end", (head.seq, head.seq, day, *exact, *exact))]
            return rows
        finally:
            if not in_transaction:
                db.execute("COMMIT")

    def summary_problem(self) -> str | None:
        """None when the evidence summary (if the store keeps one) equals the live observations grouped afresh;
        else what differs. For integrity verification: the summary is derived data, like the derived columns."""
        db = self._db
        try:
            marker = db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
        except sqlite3.OperationalError:
            return None
        if marker is None:
            return None
        if not marker[0].startswith(_SUMMARY_FORMAT):
            return None  # kept by an earlier version: never read, rebuilt on the next write
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE name LIKE 'evidence_%'")}
        if not {"evidence_summary", "evidence_signatures"} <= tables:
            return "meta names an evidence summary but the store has none"
        odd = db.execute(f"SELECT count(*) FROM evidence_summary e LEFT JOIN evidence_signatures g ON g.sig = e.sig"
                         f" WHERE g.sig IS NULL OR ({', '.join('e.' + c for c in _SIGNATURE.split(', '))})"
                         f" IS NOT ({', '.join('g.' + c for c in _SIGNATURE.split(', '))})").fetchone()[0]
        if odd:
            return f"the evidence summary does not match its signatures ({odd} rows name another signature)"
        stored = set(db.execute(f"SELECT {_GROUP_KEY}, n FROM evidence_summary WHERE n != 0"))
        fresh = set(db.execute(f"SELECT {_STORED_KEY}, count(*) FROM records WHERE type = 'observation'"
                               f" AND ended_by IS NULL GROUP BY {_GROUP_KEY}"))
        if stored != fresh:
            odd = sorted(stored ^ fresh, key=repr)[0]
            return (f"the evidence summary does not match the live observations "
                    f"({len(stored - fresh)} summary rows differ; first: {odd!r})")
        return None

    def _record(self, row: tuple[Any, ...]) -> Record:
        seq, rid, rtype, body, at, by, digest, ended_by, day = row
        return Record(seq, rid, rtype, json.loads(body), at, by, digest,
                      None if ended_by is None else self._id_of(ended_by),
                      dt.date.fromisoformat(day) if day else None)

    def _id_of(self, seq: int) -> str:
        return self._db.execute("SELECT id FROM records WHERE seq = ?", (seq,)).fetchone()[0]

    _COLUMNS = "seq, id, type, body, recorded_at, recorded_by, hash, ended_by, day"

    def records(self, head: Head | None = None) -> Iterator[Record]:
        """Every record in log order (up to `head`), corrections and retractions included."""
        limit = head.seq if head is not None else None
        query = f"SELECT {self._COLUMNS} FROM records" + (" WHERE seq <= ?" if limit is not None else "") + " ORDER BY seq"
        for row in self._db.execute(query, (limit,) if limit is not None else ()):
            yield self._record(row)

    def get(self, record_id: str | int) -> Record:
        """One record by ID; UnknownReferenceError when there is none."""
        try:
            row = self._db.execute(f"SELECT {self._COLUMNS} FROM records WHERE id = ?", (str(record_id),)).fetchone()
        except UnicodeEncodeError:  # undecodable bytes given on the command line: no ID is like that
            row = None
        if row is None:
            raise UnknownReferenceError(f"no record with ID {record_id!r}" if not str(record_id).isprintable()
                                        else f"no record with ID {record_id}", "ID")
        return self._record(row)

    def live_observations(self, head: Head, *, kind: str | None = None, actor: str | None = None,
                          since: dt.date | None = None, until: dt.date | None = None) -> list[Record]:
        """Live observations at `head`, filtered, ordered by date then ID."""
        query = (f"SELECT {self._COLUMNS} FROM records WHERE type = 'observation' AND seq <= ?"
                 " AND (ended_by IS NULL OR ended_by > ?)")
        params: list[Any] = [head.seq, head.seq]
        for column, value in (("kind", kind), ("actor", actor)):
            if value is not None:
                query += f" AND {column} = ?"
                params.append(value)
        if since is not None:
            query += " AND day >= ?"
            params.append(since.isoformat())
        if until is not None:
            query += " AND day <= ?"
            params.append(until.isoformat())
        return [self._record(row) for row in self._db.execute(query + " ORDER BY day, seq", params)]

    def observations_by_id(self, ids: Iterable[str]) -> dict[str, Record]:
        """Records for these IDs (IDs not in the log are left out)."""
        wanted = sorted(set(ids))
        found: dict[str, Record] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT {self._COLUMNS} FROM records WHERE id IN ({marks})", chunk):
                found[row[1]] = self._record(row)
        return found

    def history(self, record_id: str | int) -> list[Record]:
        """The chain of records an observation belongs to: what it corrected, what corrected or retracted it."""
        record = self.get(record_id)
        chain = [record]
        current = record
        while current.body.get("supersedes"):
            current = self.get(current.body["supersedes"])
            chain.insert(0, current)
        current = record
        while current.ended_by is not None:
            current = self.get(current.ended_by)
            chain.append(current)
        return chain

    def agreement_records(self, head: Head, record_type: str) -> list[Record]:
        """Amendments, endings or track records recorded in the log up to `head`."""
        return [self._record(row) for row in self._db.execute(
            f"SELECT {self._COLUMNS} FROM records WHERE type = {_TYPE_TERM[record_type]} AND seq <= ? ORDER BY seq",
            (head.seq,))]

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the queries inside as one read transaction: they all see the same state of the log."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("ROLLBACK")

    def meta(self) -> dict[str, str]:
        """The meta table (agreement, schema, last_number, record_count, head), for integrity verification."""
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def sqlite_check(self) -> list[tuple[Any, ...]]:
        """SQLite's own check of the file: pages, and every index against its table."""
        return self._db.execute("PRAGMA integrity_check").fetchall()

    def raw_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every stored row as the database holds it, for integrity verification."""
        yield from self._db.execute(
            "SELECT seq, id, type, body, recorded_at, recorded_by, prev_hash, hash, kind, actor, day, day_end,"
            " source_party, claim, subject, sup, lo, hi, attrs, at, at_end, target, ended_by FROM records ORDER BY seq")

    def is_empty(self) -> bool:
        """True when the log holds no record."""
        return self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None



def _ref_id(ref: str) -> str:
    """The agreement ID a track reference names (a bundled ID, or a clause file's agreement)."""
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        return ref
    from .clauses import load_agreement

    return load_agreement(ref).id


def _track_body(agreement: Agreement, durable: bool) -> dict[str, Any]:
    """A track record's body: a bundled agreement by ID; another by the path of its clause file. An agreement
    that has no file (built in memory) can be tracked only by a store that is never reopened (`durable` False)."""
    from .clauses import bundled_ids, clause_path, load_agreement

    if agreement.id in bundled_ids():
        path = str(clause_path(agreement.id).resolve())
        if agreement.source_path == path or (agreement.source_path is None and load_agreement(agreement.id).model_dump()
                                             == agreement.model_dump()):
            return {"agreement": agreement.id}
    if agreement.source_path is not None and Path(agreement.source_path).is_file():
        return {"agreement": agreement.id, "path": agreement.source_path}
    if durable:
        raise InputError(f"agreement {agreement.id} was not read from a clause file that can be read again (a pipe?): "
                         "name its file's path to track it", "--agreement")
    return {"agreement": agreement.id}
