"""The store interface that `check`, `report`, `whatif`, `verify`, `exchange` and the command line use, and what
every backend shares: which agreements a log tracks, opening a store by location, appending through the chain."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, NamedTuple

from ..agreement import Agreement
from ..errors import ComplianceError, InputError, StoreError
from ..process import PROCESS, Process, as_process, bundled_process_ids, load_process
from ..records import NewRecord, Record, genesis_digest
from ..settings import DEFAULT_STORE, load as load_settings

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from ..evidence import Row

SCHEMA_VERSION = "3"
SAMPLE = "sample"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Head(NamedTuple):
    """The state of the log at an `--as-recorded` time: last record included and the chain head."""

    seq: int
    digest: str


def process_of(agreements: Any) -> Process:
    """The process a new store tracks: the agreements given, or the bundled process."""
    if agreements is None:
        return load_process(bundled_process_ids())
    if isinstance(agreements, (Agreement, Process)):
        return as_process(agreements)
    if isinstance(agreements, (str, Path)):
        agreements = [agreements]
    refs = list(agreements)
    return load_process(refs) if refs else load_process(bundled_process_ids())


def ref_id(ref: str) -> str:
    """The agreement ID a track reference names (a bundled ID, or a clause file's agreement)."""
    if "/" not in ref and "\\" not in ref and not ref.endswith((".yaml", ".yml")):
        return ref
    from ..clauses import load_agreement

    return load_agreement(ref).id


def track_body(agreement: Agreement, durable: bool) -> dict[str, Any]:
    """A track record's body: a bundled agreement by ID; another by the path of its clause file. An agreement
    that has no file (built in memory) can be tracked only by a store that is never reopened (`durable` False)."""
    from ..clauses import bundled_ids as bundled_agreements, clause_path, load_agreement

    if agreement.id in bundled_agreements():
        path = str(clause_path(agreement.id).resolve())
        if agreement.source_path == path or (agreement.source_path is None and load_agreement(agreement.id).model_dump()
                                             == agreement.model_dump()):
            return {"agreement": agreement.id}
    if agreement.source_path is not None and Path(agreement.source_path).is_file():
        return {"agreement": agreement.id, "path": agreement.source_path}
    if durable:
        raise InputError(f"agreement {agreement.id} was not read from a clause file that can be read again (a pipe?): "
                         "name its file's path to track it", param="agreements")
    return {"agreement": agreement.id}


def bundled_ids(agreement: Agreement) -> frozenset[str]:
    """The IDs of the amendments and endings in the clause file, which no record of the log may take."""
    return frozenset(item.id for item in (*agreement.amendments, *agreement.endings))


def is_server_location(location: str | Path | None) -> bool:
    """True for a PostgreSQL URL (`postgresql://...` or `postgres://...`)."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


class Store(ABC):
    """An append-only, hash-chained observation log that tracks one or more agreements; reads never create it.

    `Store.open` picks the backend from the location: a SQLite file (the embedded default), a PostgreSQL URL, or
    the bundled sample log. `process` holds the tracked agreements (in tracking order): observations are validated
    against their vocabulary. A store created by this version tracks them through its first records (`track`
    records); a store of one agreement written by an earlier version tracks the agreement its meta names.
    """

    backend = "store"

    def __init__(self, process: Process, writable: bool):
        self.process = process
        self.writable = writable
        self.exists = True  # False for a store that will be created by its first write
        self._pending_tracks: list[Agreement] = []  # what a new store tracks, recorded with its first append

    @property
    def agreement(self) -> Agreement:
        """The first tracked agreement (its ID names the log's genesis)."""
        return self.process.first

    @property
    @abstractmethod
    def where(self) -> str:
        """The store's location as errors name it (a path, or a server URL without its password)."""
        raise NotImplementedError

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, location: str | Path | None = None, agreements: Any = None, *, write: bool = False) -> "Store":
        """Open the store at `location`: a SQLite file path, a PostgreSQL URL
        (`postgresql://user@host:5432/db?schema=NAME`), or 'sample' (the bundled sample log, read-only); default:
        the `store` setting (COMPLIANCE_STORE, else `observations/observations.db`).

        `agreements` (an Agreement, a Process, or bundled IDs / clause-file paths) is what a new store tracks
        (default: the `agreement` setting, COMPLIANCE_AGREEMENT, else the bundled process); an existing store
        tracks what its log says. A store that does not exist reads as an empty log; opened for writing, it is
        created by its first write."""
        if location is None or (agreements is None):
            settings = load_settings()
            location = settings.store if location is None else location
            agreements = list(settings.agreement) or None if agreements is None else agreements
        if str(location) == SAMPLE:
            if write:
                raise InputError("the sample log is read-only; use {location:PATH} to write", param="location",
                                 mentions=("location",))
            return cls.sample()
        if is_server_location(location):
            from .postgres import PostgresStore

            return PostgresStore.connect(str(location), agreements, write=write)
        from .sqlite import SQLiteStore

        return SQLiteStore.open_file(Path(location) if str(location) else DEFAULT_STORE, agreements, write=write)

    @classmethod
    def memory(cls, agreements: Any = None) -> "Store":
        """An empty in-memory log tracking `agreements` (default: the bundled process); what a missing store reads as."""
        from .sqlite import SQLiteStore

        return SQLiteStore.in_memory(agreements)

    @classmethod
    def sample(cls, agreement: Any = None) -> "Store":
        """The bundled sample log, restored into memory; read-only. (`agreement` is accepted and ignored: the
        sample log says what it tracks.)"""
        from ..exchange import read_jsonl
        from ..resources import sample_log

        path = sample_log()
        first = load_process([PROCESS[0]])  # the log the sample holds: of the process's first agreement
        store = cls.memory(first)
        records = read_jsonl(path.read_text(encoding="utf-8").splitlines(), first, str(path))
        store.append(records, recorded_by="sample")
        store.writable = False
        return store

    def close(self) -> None:
        """Close the connection."""

    def _tracked(self, first: str, track_bodies: Iterable[dict[str, Any]], given: Any) -> Process:
        """The agreements this log tracks: its first agreement (meta) and every `track` record after it."""
        if given is not None:
            return process_of(given)
        try:
            refs = [body.get("path") or body["agreement"] for body in track_bodies]
        except (ValueError, KeyError, TypeError, AttributeError):
            refs = []  # a damaged log: read as tracking its first agreement; `verify` says what is wrong
        if not refs or ref_id(refs[0]) != first:
            refs.insert(0, first)
        try:
            return load_process(refs)
        except ComplianceError as error:
            raise StoreError(f"the store tracks an agreement that cannot be loaded: {error}", self.where) from None

    # ---- writing -------------------------------------------------------------------------------

    def append(self, records: Iterable[NewRecord], recorded_by: str | None = None) -> list[str]:
        """Append records in one transaction: all are stored, or none. Returns their IDs (not those of the
        `track` records a new store writes first). `recorded_by` is the monitor's name (default: the `monitor`
        setting, COMPLIANCE_MONITOR, else the user name; on a server store, the authenticated role is
        `recorded_by` and this name is kept beside it as `recorded_as`)."""
        return self._write(records, recorded_by or load_settings().recorded_by(), keep_ids=True)[0]

    def import_records(self, records: Iterable[NewRecord], recorded_by: str | None = None) -> int:
        """Append a stream of records (read once, never held whole) in one transaction, all or none; how many.

        The chain is locked before the first record is read; an error raised while reading the stream (a bad
        line) rolls everything back. `recorded_by` as for `append`."""
        return self._write(records, recorded_by or load_settings().recorded_by(), keep_ids=False)[1]

    @abstractmethod
    def _write(self, records: Iterable[NewRecord], recorded_by: str, keep_ids: bool) -> tuple[list[str], int]:
        raise NotImplementedError

    def grant(self, right: str, role: str) -> None:
        """Give a server role a right on this store (monitor, reader or owner): a PostgreSQL store's; a SQLite
        store is a file, and its file permissions say who may read or write it."""
        raise InputError("rights are a PostgreSQL store's: a SQLite store is a file, and its file permissions say "
                         "who may read or write it", param="location")

    def _check_writable(self) -> None:
        if not self.writable:
            raise InputError("this store is read-only", param="location")

    # ---- reading -------------------------------------------------------------------------------

    def genesis(self) -> str:
        """The chain head of this log before its first record (named by the first agreement it tracks)."""
        return genesis_digest(self.process.first.id)

    @abstractmethod
    def head(self, as_recorded: dt.datetime | None = None) -> Head:
        """The last record recorded at or before `as_recorded` (default: now) and the chain head then."""
        raise NotImplementedError

    @abstractmethod
    def evidence_groups(self, head: Head, as_of: dt.date, exact_days: Iterable[dt.date] = ()) -> list["Row"]:
        """Live observations dated on or before `as_of`, grouped by every field a rule reads, as evidence rows
        (plain data: each with its count and its first IDs, at least the first 20 by ID order).

        Observations dated on (or ending on) one of `exact_days` come in groups of their own moment (`at`,
        `at_end`); a rule that starts at a moment of that day needs to know."""
        raise NotImplementedError

    @abstractmethod
    def groups_without(self, head: Head, as_of: dt.date, exact_days: Iterable[dt.date],
                       excluded: Iterable[str]) -> dict[tuple[Any, ...], "Row | None"]:
        """For a what-if that leaves out `excluded` observations: each evidence group (by `Row.key()`) that holds
        one of them, as it is without them (None when nothing is left). Other groups are unchanged."""
        raise NotImplementedError

    @abstractmethod
    def summary_problem(self) -> str | None:
        """None when the evidence summary equals the live observations grouped afresh; else what differs."""
        raise NotImplementedError

    @abstractmethod
    def records(self, head: Head | None = None) -> Iterator[Record]:
        """Every record in log order (up to `head`), corrections and retractions included."""
        raise NotImplementedError

    @abstractmethod
    def get(self, record_id: str | int) -> Record:
        """One record by ID; UnknownReferenceError when there is none."""
        raise NotImplementedError

    @abstractmethod
    def live_observations(self, head: Head, *, kind: str | None = None, actor: str | None = None,
                          since: dt.date | None = None, until: dt.date | None = None) -> list[Record]:
        """Live observations at `head`, filtered, ordered by date then ID."""
        raise NotImplementedError

    @abstractmethod
    def observations_by_id(self, ids: Iterable[str]) -> dict[str, Record]:
        """Records for these IDs (IDs not in the log are left out)."""
        raise NotImplementedError

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

    @abstractmethod
    def agreement_records(self, head: Head, record_type: str) -> list[Record]:
        """Amendments, endings or track records recorded in the log up to `head`."""
        raise NotImplementedError

    @abstractmethod
    def reading(self) -> "AbstractContextManager[None]":
        """Run the queries inside as one read transaction: they all see the same state of the log."""
        raise NotImplementedError

    @abstractmethod
    def meta(self) -> dict[str, str]:
        """The meta table (agreement, schema, last_number, record_count, head), for integrity verification."""
        raise NotImplementedError

    @abstractmethod
    def storage_problems(self) -> list[str]:
        """The database's own check of its storage (pages, indexes against tables); [] when sound."""
        raise NotImplementedError

    @abstractmethod
    def raw_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every stored row as the database holds it (ROW_COLUMNS, then ended_by), for integrity verification."""
        raise NotImplementedError

    @abstractmethod
    def is_empty(self) -> bool:
        """True when the log holds no record."""
        raise NotImplementedError
