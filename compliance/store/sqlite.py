"""The SQLite backend: one file (the embedded default), WAL, one write transaction per append (`BEGIN IMMEDIATE`,
which is also the chain lock), a two-minute busy wait."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..dates import format_utc, utc_now
from ..errors import InputError, StoreError
from ..process import Process
from ..records import NewRecord, genesis_digest
from .base import SCHEMA_VERSION, process_of, track_body
from .chain import BATCH_ROWS, ROW_COLUMNS, ChainStart, ChainWriter
from .sql import (FIRST_IDS, GROUP_KEY, SIGNATURE, SQLITE, SUMMARY_FORMAT, SUMMARY_KEY, SQLAppendSession, SQLStore,
                  batch_upkeep, first_ids, summary_rebuild)

BUSY_TIMEOUT_SECONDS = 120
PAGE_SIZE = 16384  # bytes per page of a new store file

SCHEMA = """
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
    attrs TEXT, at TEXT, at_end TEXT,
    recorded_as TEXT
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
SUMMARY_SCHEMA = """
CREATE TABLE evidence_signatures (
    sig INTEGER PRIMARY KEY,
    kind TEXT NOT NULL, actor TEXT NOT NULL, source_party TEXT NOT NULL, claim TEXT NOT NULL,
    subject TEXT NOT NULL, sup TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, attrs TEXT NOT NULL,
    UNIQUE (kind, actor, source_party, claim, subject, sup, lo, hi, attrs)
);
CREATE TABLE evidence_summary (
    day TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, source_party TEXT NOT NULL, claim TEXT NOT NULL,
    subject TEXT NOT NULL, sup TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, attrs TEXT NOT NULL,
    day_end TEXT NOT NULL, n INTEGER NOT NULL, sig INTEGER NOT NULL, ids TEXT NOT NULL,
    PRIMARY KEY (day, sig, day_end)
) WITHOUT ROWID;
"""
# Version 1 stores (written before the clause language and the process) lack the columns attrs, at and at_end
# and cannot hold `track` records: they are rebuilt in place on their first write. Version 2 lacks recorded_as.
_V1_COLUMNS = ("seq, id, type, body, recorded_at, recorded_by, prev_hash, hash, kind, actor, day, day_end,"
               " source_party, claim, subject, sup, lo, hi, target, ended_by")
_LATER_COLUMNS = ("attrs", "at", "at_end", "recorded_as")
_INSERT = f"INSERT INTO records ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})"
_TARGET, _KIND, _ATTRS = (ROW_COLUMNS.index(c) for c in ("target", "kind", "attrs"))
# a batch's groups into the evidence summary (as the third statement of `batch_upkeep` adds them in SQL)
_SUMMARY_ADD = (f"INSERT INTO evidence_summary ({GROUP_KEY}, n, sig, ids) VALUES ({', '.join('?' * 14)})"
                f" ON CONFLICT ({SUMMARY_KEY}) DO UPDATE SET n = evidence_summary.n + excluded.n,"
                f" ids = CASE WHEN evidence_summary.n >= {FIRST_IDS} THEN evidence_summary.ids"
                " ELSE first_ids(evidence_summary.ids, excluded.ids) END")
# of `batch_upkeep`, SQLite runs only the last statement (observations a batch ends leave their groups): a batch's
# ended_by marks and its groups are written from the rows in hand (`_SQLiteAppend.write`)
_ENDED_LEAVE_GROUPS = batch_upkeep(SQLITE, "(SELECT * FROM records WHERE seq BETWEEN :first AND :last)")[-1]


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


def _being_created(path: Path) -> bool:
    """True for a file that holds no table yet: a store another process is creating (it reads as no store)."""
    try:
        if path.stat().st_size == 0:
            return True
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            return db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0
        finally:
            db.close()
    except (OSError, sqlite3.DatabaseError):
        return False  # opened as usual, which names the problem


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    db.create_function("first_ids", 2, first_ids, deterministic=True)
    return db


class SQLiteStore(SQLStore):
    """An observation log in a SQLite file (or in memory)."""

    backend = "sqlite"

    def __init__(self, connection: sqlite3.Connection | None, process: Process, path: Path | None, writable: bool):
        super().__init__(process, writable)
        self._db = connection
        self.path = path

    @property
    def where(self) -> str:
        """The file's path ('memory' for an in-memory log)."""
        return str(self.path) if self.path is not None else "memory"

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open_file(cls, path: Path, agreements: Any = None, *, write: bool = False) -> "SQLiteStore":
        """The store in the file at `path`. A missing file reads as an empty log; opened for writing, it is created
        (empty, tracking `agreements`: the command line removes it again if its write fails)."""
        if not path.exists() or (not write and _being_created(path)):
            if not write:
                store = cls.in_memory(agreements)
                store.exists, store.writable, store.path = False, False, path
                return store
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the store's folder: {error.strerror or error}", str(path)) from None
        if path.is_dir():
            raise StoreError("is a folder, not a store file", str(path))
        store = cls(None, Process.empty(), path, write)
        if not write:
            version_1 = store._read_version_1(agreements)
            if version_1 is not None:
                return version_1
        store._connect_file(create=write, agreements=agreements)  # (a file another process is creating right now)
        return store

    def _read_version_1(self, agreements: Any) -> "SQLiteStore | None":
        """A read of a store written before stores tracked several agreements (no `attrs` column): the file is left
        as it is (its first write rebuilds it in place); the read sees an in-memory copy rebuilt with this version's
        columns. None for any other file."""
        try:
            db = _connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                old = db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'records'").fetchone() is not None and \
                    "attrs" not in {row[1] for row in db.execute("PRAGMA table_info(records)")}
                if not old:
                    return None
                copy = _connect(":memory:")
                db.backup(copy)
            finally:
                db.close()
        except sqlite3.DatabaseError:
            return None  # opened as usual, which names the problem
        store = type(self)(copy, Process.empty(), None, True)
        store._prepare(create=True, agreements=agreements)
        store.path, store.writable = self.path, False
        return store

    @classmethod
    def in_memory(cls, agreements: Any = None) -> "SQLiteStore":
        """An empty in-memory log tracking `agreements` (default: the bundled process)."""
        store = cls(_connect(":memory:"), Process.empty(), None, True)
        store._prepare(create=True, agreements=agreements)
        return store

    def _connect_file(self, create: bool, agreements: Any = None) -> None:
        path = self.path
        try:
            if self.writable:
                db = _connect(str(path))
            else:
                db = _connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            self._db = db
            self._prepare(create=create, agreements=agreements)
        except sqlite3.DatabaseError as error:
            raise StoreError(f"cannot open the store: {error}", str(self.path)) from None

    def _columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(records)")}

    def _prepare(self, create: bool, agreements: Any = None) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = %d" % (BUSY_TIMEOUT_SECONDS * 1000))
        if self.writable and self.path is not None:
            # a new file's pages: 16 KiB rather than SQLite's 4 KiB, for fewer page splits as the log and its
            # indexes grow (an import writes its rows about a sixth faster); a file that exists keeps its own
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            _retry_busy(lambda: db.execute("PRAGMA journal_mode = WAL"))
            db.execute("PRAGMA synchronous = FULL")
        if self.writable:
            db.execute("BEGIN IMMEDIATE")
            try:
                new = db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'records'").fetchone() is None
                if new and not create:
                    raise StoreError("not a compliance store (no records table)", self.where)
                columns = set() if new else self._columns()
                if not new and "attrs" not in columns:
                    self._migrate_v1()
                elif not new and "recorded_as" not in columns:
                    db.execute("ALTER TABLE records ADD COLUMN recorded_as TEXT")
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                if db.execute("SELECT 1 FROM meta WHERE key = 'agreement'").fetchone() is None:
                    process = process_of(agreements)
                    db.execute("INSERT INTO meta VALUES ('agreement', ?)", (process.first.id,))
                    self._pending_tracks = list(process.agreements)
                    if self.path is not None:  # what a new file will track, until its first append writes it
                        db.execute("INSERT INTO meta VALUES ('tracking', ?)",
                                   (json.dumps([track_body(a, True) for a in process.agreements]),))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))
                db.execute("INSERT OR IGNORE INTO meta VALUES ('last_number', '0')")
                marker = db.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
                if marker is None or not marker[0].startswith(SUMMARY_FORMAT):
                    self._rebuild_summary()  # a new store, or one kept by a version with another summary
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        else:
            missing = [c for c in _LATER_COLUMNS if c not in self._columns()]
            if missing:  # a store written by an earlier version, read as it is: the columns it lacks read as NULL
                db.execute("CREATE TEMP VIEW records AS SELECT *, " + ", ".join(f"NULL AS {c}" for c in missing)
                           + " FROM main.records")
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()
        except sqlite3.OperationalError:
            raise StoreError("not a compliance store (no meta table)", self.where) from None
        if row is None:
            raise StoreError("not a compliance store (no agreement recorded)", self.where)
        if self._pending_tracks:
            self.process = Process(self._pending_tracks)
            return
        tracking = db.execute("SELECT value FROM meta WHERE key = 'tracking'").fetchone()
        if tracking is not None and db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is None:
            self.process = self._tracked(row[0], (), [b.get("path") or b["agreement"] for b in json.loads(tracking[0])])
            self._pending_tracks = list(self.process.agreements)
            return
        self.process = self._tracked(row[0], self._track_bodies(), None)

    def _migrate_v1(self) -> None:
        """Rebuild a version 1 `records` table with this version's columns (inside the caller's transaction)."""
        from ..dates import parse_moment
        from ..observation import has_time
        from ..process import load_process

        db = self._db
        db.execute("ALTER TABLE records RENAME TO records_v1")
        for index in ("records_evidence", "records_recorded_at", "records_target", "records_amendments", "records_endings"):
            db.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in filter(str.strip, SCHEMA.split(";")):
            db.execute(statement)
        db.execute(f"INSERT INTO records ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM records_v1")
        db.execute("DROP TABLE records_v1")
        first = db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()
        tz = load_process([first[0]]).tz if first else dt.timezone.utc
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

    def _rebuild_summary(self) -> None:
        """Group the live observations into the evidence summary afresh (inside a write transaction)."""
        db = self._db
        db.execute("DROP TABLE IF EXISTS evidence_summary")
        db.execute("DROP TABLE IF EXISTS evidence_signatures")
        for statement in filter(str.strip, SUMMARY_SCHEMA.split(";")):
            db.execute(statement)
        for statement in summary_rebuild(SQLITE):
            db.execute(statement)
        last = db.execute("SELECT hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        first = db.execute("SELECT value FROM meta WHERE key = 'agreement'").fetchone()
        db.execute("INSERT OR REPLACE INTO meta VALUES ('summary', ?)",
                   (SUMMARY_FORMAT + (last[0] if last else genesis_digest(first[0] if first else "")),))

    def close(self) -> None:
        """Close the connection."""
        if self._db is not None:
            self._db.close()

    # ---- SQL ---------------------------------------------------------------------------------------

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self._db.execute(sql, tuple(params))

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        if not self.exists or self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("ROLLBACK")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the queries inside as one read transaction: they all see the same state of the log. A file SQLite
        cannot read as a database is an IntegrityError (damaged); a busy or unreadable one a StoreError."""
        try:
            with self._read_transaction():
                yield
        except sqlite3.OperationalError as error:
            raise StoreError(f"cannot read the store: {error}", self.where) from None
        except sqlite3.DatabaseError as error:  # a damaged file (not a busy or missing one)
            from ..errors import IntegrityError

            raise IntegrityError(f"the database file is damaged: {error}", "store") from None

    def _track_bodies(self) -> list[dict[str, Any]]:
        try:
            return super()._track_bodies()
        except sqlite3.OperationalError:
            raise
        except sqlite3.DatabaseError:  # a damaged file: read as tracking its first agreement; `verify` says so
            return []

    def storage_problems(self) -> list[str]:
        """SQLite's own check of the file: pages, and every index against its table."""
        if not self.exists:
            return []
        problems = [row[0] for row in self._db.execute("PRAGMA integrity_check").fetchall()]
        return [] if problems == ["ok"] else problems

    # ---- writing -----------------------------------------------------------------------------------

    def _write(self, records: Iterable[NewRecord], recorded_by: str, keep_ids: bool) -> tuple[list[str], int]:
        self._check_writable()
        return self._append(records, recorded_by, keep_ids)

    def _append(self, records: Iterable[NewRecord], recorded_by: str, keep_ids: bool) -> tuple[list[str], int]:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreError(f"cannot write the store: {error}", self.where) from None
        try:
            writer = ChainWriter(_SQLiteAppend(self), self.process, self._pending_tracks, self.path is not None)
            result = writer.run(records, recorded_by, keep_ids)
            db.execute("COMMIT")
        except BaseException as error:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(error, sqlite3.OperationalError):
                raise StoreError(f"cannot write the store: {error}", self.where) from None
            raise
        self.process, self._pending_tracks = writer.tracked, []
        return result


def _summary_groups(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Any]]:
    """A batch's observations grouped as `batch_upkeep` groups them in SQL, by (day, signature fields, day_end):
    [count, first IDs]. (Grouping a batch in SQL cost several times more.)"""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        if row[2] != "observation":
            continue
        kind, actor, day, day_end, party, claim, subject, sup, lo, hi, attrs = row[_KIND:_ATTRS + 1]
        key = (day, (kind, actor, party, claim, subject or "", sup or "", -1 if lo is None else lo,
                     -1 if hi is None else hi, attrs or ""), day_end)
        group = groups.get(key)
        if group is None:
            groups[key] = [1, [row[1]]]
        else:
            group[0] += 1
            group[1].append(row[1])
    for group in groups.values():
        group[1] = first_ids(",".join(group[1]))
    return groups


class _SQLiteAppend(SQLAppendSession):
    """The chain writer's session in a SQLite write transaction (`BEGIN IMMEDIATE` holds the file's write lock)."""

    batch_rows = BATCH_ROWS

    def __init__(self, store: SQLiteStore):
        super().__init__(store)
        self.db = store._db
        self.summary = False
        self._signature_ids: dict[tuple[Any, ...], int] | None = None

    def start(self) -> ChainStart:
        db = self.db
        last = db.execute("SELECT seq, hash, recorded_at FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('agreement', 'last_number', 'record_count',"
                               " 'summary')"))
        head = last[1] if last else genesis_digest(meta["agreement"])
        self.summary = meta.get("summary") == SUMMARY_FORMAT + head  # up to date: kept so; else rebuilt at the end
        count = int(meta["record_count"]) if "record_count" in meta else \
            db.execute("SELECT count(*) FROM records").fetchone()[0]
        return ChainStart(tuple(last) if last else None, meta["agreement"], int(meta["last_number"]), count,
                          format_utc(utc_now()), None)

    def first_agreement(self, agreement_id: str) -> None:
        self.db.execute("UPDATE meta SET value = ? WHERE key = 'agreement'", (agreement_id,))
        self.summary = False  # its marker names the other genesis: rebuilt at the end

    def write(self, rows: list[tuple[Any, ...]], ids: list[str], lines: list[int | None], restore: bool) -> None:
        """Write a batch: its rows, what it ends, and how its observations group into the evidence summary. (On
        this thread: a second one writing while the next batch was chained made a 1M import 1 to 3 s slower,
        since sqlite3 binds each row's values holding Python's lock.)"""
        db = self.db
        db.execute("SAVEPOINT rows")
        try:
            db.executemany(_INSERT, rows)
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO rows")
            for row, record_id, line in zip(rows, ids, lines):
                try:
                    db.execute(_INSERT, row)
                except sqlite3.IntegrityError:
                    raise InputError(f"record ID {record_id} is already in the log",
                                     None if line is not None else "id", line=line) from None
        finally:
            db.execute("RELEASE rows")
        ends: dict[str, int] = {}  # what the batch ends, by its first record that ends it (rows are in seq order)
        for row in rows:
            if row[_TARGET] is not None:
                ends.setdefault(row[_TARGET], row[0])
        if ends:
            db.executemany("UPDATE records SET ended_by = ? WHERE id = ? AND ended_by IS NULL",
                           [(seq, target) for target, seq in ends.items()])
        if self.summary:  # (else it is rebuilt at the end)
            self._add_to_summary(_summary_groups(rows))
            if ends:  # observations ended by the batch leave their groups
                db.execute(_ENDED_LEAVE_GROUPS, {"first": rows[0][0], "last": rows[-1][0]})

    def _add_to_summary(self, groups: dict[tuple[Any, ...], list[Any]]) -> None:
        """Count a batch's groups (`_summary_groups`) into the evidence summary, adding the signatures it lacks."""
        db, signatures = self.db, self._signatures()
        added = []
        for (day, signature, day_end), (n, ids) in groups.items():
            sig = signatures.get(signature)
            if sig is None:
                sig = signatures[signature] = db.execute(
                    f"INSERT INTO evidence_signatures ({SIGNATURE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    signature).lastrowid
            added.append((day, *signature, day_end, n, sig, ids))
        db.executemany(_SUMMARY_ADD, added)

    def _signatures(self) -> dict[tuple[Any, ...], int]:
        """The evidence summary's signatures by their fields (read once per append)."""
        if self._signature_ids is None:
            self._signature_ids = {tuple(row[1:]): row[0] for row in self.db.execute(
                f"SELECT sig, {SIGNATURE} FROM evidence_signatures")}
        return self._signature_ids

    def finish(self, last_number: int, record_count: int, head: str) -> None:
        db = self.db
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_number'", (str(last_number),))
        # the record count and chain head, in the same transaction: verify compares them with the log's end
        db.execute("INSERT OR REPLACE INTO meta VALUES ('record_count', ?), ('head', ?)", (str(record_count), head))
        db.execute("DELETE FROM meta WHERE key = 'tracking'")  # written as records now (or a restore says its own)
        if self.summary:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('summary', ?)", (SUMMARY_FORMAT + head,))
        else:
            self.store._rebuild_summary()
