"""The log's tables and queries, written once for both SQL backends (SQLite and PostgreSQL).

Queries use `?` placeholders; the PostgreSQL backend turns them into its own. Where the dialects differ (how
IDs are joined into text) the text is a template filled in by the backend.

The evidence summary: the live observations of the log's latest state grouped as `evidence_groups` groups them,
kept up to date by every append (in the same transaction), so that a check of the current log reads one row
per group instead of grouping every observation. NULLs are stored as '' and -1 (which no observation holds) so
that the key is unique. Each row names its signature (every field but the dates, in `evidence_signatures`: a
few hundred or thousand) and holds the group's count and its first IDs (at most 20, by ID order: all that an
evidence list cites). Meta 'summary' holds `SUMMARY_FORMAT` and the chain head the summary is up to date
with; any other state of the log (an --as-recorded time before the last record, a log written by a version
that kept another summary) is grouped from the records themselves.
"""

from __future__ import annotations

import datetime as dt
import json
from abc import abstractmethod
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, NamedTuple

from ..errors import UnknownReferenceError
from ..evidence import _DAYS, Row, _day
from ..records import AMENDMENT, ENDING, TRACK, Record
from ..verdicts import MAX_EVIDENCE
from .base import Head, Store

SUMMARY_FORMAT = "4:"
FIRST_IDS = MAX_EVIDENCE  # IDs a group keeps: all that any evidence list cites

SIGNATURE = "kind, actor, source_party, claim, subject, sup, lo, hi, attrs"
GROUP_KEY = "day, kind, actor, source_party, claim, subject, sup, lo, hi, attrs, day_end"
STORED_KEY = ("day, kind, actor, source_party, claim, coalesce(subject, '') AS subject, coalesce(sup, '') AS sup,"
              " coalesce(lo, -1) AS lo, coalesce(hi, -1) AS hi, coalesce(attrs, '') AS attrs, day_end")
LIVE_AT = "type = 'observation' AND seq <= ? AND (ended_by IS NULL OR ended_by > ?)"
# literal terms, so that the partial indexes of amendments, endings and track records are used
TYPE_TERM = {AMENDMENT: "'amendment'", ENDING: "'ending'", TRACK: "'track'"}
RECORD_COLUMNS = ("r.seq, r.id, r.type, r.body, r.recorded_at, r.recorded_by, r.hash, e.id, r.day, r.recorded_as")
RECORD_FROM = "records r LEFT JOIN records e ON e.seq = r.ended_by"
RAW_COLUMNS = ("seq, id, type, body, recorded_at, recorded_by, recorded_as, prev_hash, hash, kind, actor, day, day_end,"
               " source_party, claim, subject, sup, lo, hi, attrs, at, at_end, target, ended_by")

_SIGNATURE_JOIN = ("g.kind = r.kind AND g.actor = r.actor AND g.source_party = r.source_party AND g.claim = r.claim"
                   " AND g.subject = coalesce(r.subject, '') AND g.sup = coalesce(r.sup, '') AND g.lo = coalesce(r.lo, -1)"
                   " AND g.hi = coalesce(r.hi, -1) AND g.attrs = coalesce(r.attrs, '')")
# a group of the summary is (day, signature, day_end): its key in the table (the other columns name the signature's
# fields, for the integrity check)
_SUMMARY_SELECT = ("SELECT r.day, g.kind, g.actor, g.source_party, g.claim, g.subject, g.sup, g.lo, g.hi, g.attrs, r.day_end,"
                   " count(*), g.sig, {first_ids_of} FROM {rows} r JOIN evidence_signatures g ON " + _SIGNATURE_JOIN)
_SUMMARY_GROUP = " GROUP BY r.day, g.sig, r.day_end"
SUMMARY_KEY = "day, sig, day_end"
_SAME_GROUP = " AND ".join(f"x.{c} = evidence_summary.{c}" for c in ("day", "kind", "actor", "source_party", "claim", "day_end")) + \
    "".join(f" AND coalesce(x.{c}, {empty}) = evidence_summary.{c}"
            for c, empty in (("subject", "''"), ("sup", "''"), ("lo", "-1"), ("hi", "-1"), ("attrs", "''")))
_ENDED_GROUP = " AND ".join(f"evidence_summary.{c} = d.{c}" for c in GROUP_KEY.split(", "))


class Dialect(NamedTuple):
    """How a backend's SQL joins a group's IDs into text (`{t}` stands for a table alias and its dot, or nothing)."""

    ids_of: str  # every ID of the group, comma-separated, in no particular order
    first_ids_of: str  # the group's first FIRST_IDS IDs by ID order, comma-separated


SQLITE = Dialect("group_concat({t}id)", "first_ids('', group_concat({t}id))")
POSTGRES = Dialect("string_agg({t}id, ',')", f"array_to_string((array_agg({{t}}id ORDER BY {{t}}seq))[1:{FIRST_IDS}], ',')")


def summary_rebuild(dialect: Dialect) -> list[str]:
    """Statements that group the live observations into the (emptied) evidence summary afresh."""
    return [f"INSERT INTO evidence_signatures ({SIGNATURE}) SELECT DISTINCT kind, actor, source_party, claim,"
            " coalesce(subject, ''), coalesce(sup, ''), coalesce(lo, -1), coalesce(hi, -1), coalesce(attrs, '')"
            " FROM records WHERE type = 'observation' AND ended_by IS NULL",
            f"INSERT INTO evidence_summary ({GROUP_KEY}, n, sig, ids) "
            + _SUMMARY_SELECT.format(first_ids_of=dialect.first_ids_of.format(t="r."), rows="records")
            + " WHERE r.type = 'observation' AND r.ended_by IS NULL" + _SUMMARY_GROUP]


def batch_upkeep(dialect: Dialect, batch: str) -> list[str]:
    """Statements that take a batch of records just inserted into `records` (in one append) into the log: mark what
    they end, and bring the evidence summary up to date (observations in, ended ones out, first IDs kept).
    `batch` is a table of the batch's rows (the backend's: a range of `records`, or the rows it staged)."""
    targets = f"SELECT target FROM {batch} b WHERE b.target IS NOT NULL"
    return [
        f"UPDATE records SET ended_by = t.seq FROM (SELECT target, min(seq) AS seq FROM {batch} b"
        f" WHERE b.target IS NOT NULL GROUP BY target) t WHERE records.id = t.target AND records.ended_by IS NULL",
        f"INSERT INTO evidence_signatures ({SIGNATURE}) SELECT DISTINCT kind, actor, source_party, claim,"
        " coalesce(subject, ''), coalesce(sup, ''), coalesce(lo, -1), coalesce(hi, -1), coalesce(attrs, '')"
        f" FROM {batch} b WHERE b.type = 'observation' ON CONFLICT DO NOTHING",
        f"INSERT INTO evidence_summary ({GROUP_KEY}, n, sig, ids) "
        + _SUMMARY_SELECT.format(first_ids_of=dialect.first_ids_of.format(t="r."), rows=batch)
        + " WHERE r.type = 'observation'" + _SUMMARY_GROUP
        # a group with its first IDs already in hand keeps them: new IDs are larger than every stored one
        + f" ON CONFLICT ({SUMMARY_KEY}) DO UPDATE SET n = evidence_summary.n + excluded.n,"
        f" ids = CASE WHEN evidence_summary.n >= {FIRST_IDS} THEN evidence_summary.ids"
        " ELSE first_ids(evidence_summary.ids, excluded.ids) END",
        # observations ended by this batch leave their group; its first IDs are read again from the records
        f"UPDATE evidence_summary SET n = evidence_summary.n - d.k, ids = (SELECT first_ids('', {dialect.ids_of.format(t='l.')})"
        f" FROM (SELECT x.id FROM records x WHERE x.type = 'observation' AND x.ended_by IS NULL AND {_SAME_GROUP}"
        f" ORDER BY x.seq LIMIT {FIRST_IDS}) l) FROM (SELECT {STORED_KEY}, count(*) AS k"
        f" FROM records WHERE type = 'observation' AND id IN ({targets}) GROUP BY {GROUP_KEY}) d WHERE {_ENDED_GROUP}",
    ]


def first_ids(*lists: str | None) -> str:
    """The first FIRST_IDS of the comma-separated observation IDs in `lists`, by ID order, comma-separated."""
    ids = {int(i) for text in lists if text for i in text.split(",")}
    return ",".join(str(i) for i in sorted(ids)[:FIRST_IDS])


class SQLStore(Store):
    """Reads (and the meta and summary tables) in SQL shared by the SQLite and PostgreSQL backends."""

    DIALECT = SQLITE

    @abstractmethod
    def _execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """Run one statement (with `?` placeholders); a cursor."""
        raise NotImplementedError

    def _stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query that may be large, read as they are consumed."""
        yield from self._execute(sql, params)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run the queries inside as one read transaction: they all see the same state of the log."""
        with self._read_transaction():
            yield

    @abstractmethod
    def _read_transaction(self) -> Any:
        raise NotImplementedError

    # ---- reading -------------------------------------------------------------------------------

    def head(self, as_recorded: dt.datetime | None = None) -> Head:
        """The last record recorded at or before `as_recorded` (default: now) and the chain head then."""
        from ..dates import format_utc

        if not self.exists:
            return Head(0, self.genesis())
        if as_recorded is None:
            row = self._execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        else:
            row = self._execute("SELECT seq, hash FROM records WHERE recorded_at <= ? ORDER BY seq DESC LIMIT 1",
                                (format_utc(as_recorded),)).fetchone()
        return Head(row[0], row[1]) if row else Head(0, self.genesis())

    def evidence_groups(self, head: Head, as_of: dt.date, exact_days: Iterable[dt.date] = ()) -> list[Row]:
        """Live observations dated on or before `as_of`, grouped by every field a rule reads, as evidence rows
        (plain data: each with its count and its first IDs, at least the first 20 by ID order; a check reads 200k
        of them at 1M observations).

        Observations dated on (or ending on) one of `exact_days` come in groups of their own moment (`at`,
        `at_end`: the UTC instant of a date-time, None for a plain date): a rule that starts at a moment of
        that day needs to know. At the log's latest state the other groups come from the evidence summary; at
        any other state they are grouped from the records."""
        if not self.exists:
            return []
        day = as_of.isoformat()
        exact = sorted({d.isoformat() for d in exact_days if d <= as_of})
        marks = ",".join("?" * len(exact))
        not_exact = f" AND day NOT IN ({marks}) AND day_end NOT IN ({marks})" if exact else ""
        first_ids_of = self.DIALECT.first_ids_of.format(t="")
        with self._read_transaction():  # the summary, its marker and the last record: one state of the log
            last = self._execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
            marker = self._execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
            rows: list[Row] = []
            if (last is not None and tuple(last) == tuple(head) and marker is not None
                    and marker[0] == SUMMARY_FORMAT + head.digest):
                days = _DAYS
                signatures = {row[0]: row[1:] for row in self._execute(
                    "SELECT sig, kind, actor, source_party, claim, NULLIF(subject, ''), NULLIF(sup, ''), NULLIF(lo, -1),"
                    " NULLIF(hi, -1), NULLIF(attrs, '') FROM evidence_signatures")}
                append = rows.append
                for d, sig, day_end, n, ids in self._execute(
                        f"SELECT day, sig, day_end, n, ids FROM evidence_summary WHERE day <= ? AND n > 0{not_exact}",
                        (day, *exact, *exact)):
                    kind, actor, party, claim, subject, sup, lo, hi, attrs = signatures[sig]
                    append(Row(kind, actor, days.get(d) or _day(d), days.get(day_end) or _day(day_end), party, claim,
                               subject, sup, lo, hi, n, ids, attrs, None, None, sig))
            else:
                rows = [Row(kind, actor, _day(d), _day(day_end), party, claim, subject, sup, lo, hi, n, ids, attrs)
                        for kind, actor, d, day_end, party, claim, subject, sup, lo, hi, attrs, n, ids in self._execute(
                            f"SELECT kind, actor, day, day_end, source_party, claim, subject, sup, lo, hi, attrs,"
                            f" count(*), {first_ids_of} FROM records WHERE {LIVE_AT} AND day <= ?{not_exact}"
                            f" GROUP BY {GROUP_KEY}", (head.seq, head.seq, day, *exact, *exact))]
            if exact:
                rows += [Row(kind, actor, _day(d), _day(day_end), party, claim, subject, sup, lo, hi, n, ids, attrs,
                             at=at, at_end=at_end)
                         for kind, actor, d, day_end, party, claim, subject, sup, lo, hi, attrs, at, at_end, n, ids
                         in self._execute(
                            f"SELECT kind, actor, day, day_end, source_party, claim, subject, sup, lo, hi, attrs, at,"
                            f" at_end, count(*), {first_ids_of} FROM records WHERE {LIVE_AT} AND day <= ?"
                            f" AND (day IN ({marks}) OR day_end IN ({marks}))"
                            f" GROUP BY {GROUP_KEY}, at, at_end", (head.seq, head.seq, day, *exact, *exact))]
            return rows

    def groups_without(self, head: Head, as_of: dt.date, exact_days: Iterable[dt.date],
                       excluded: Iterable[str]) -> dict[tuple[Any, ...], Row | None]:
        """For a what-if that leaves out `excluded` observations: each evidence group (by `Row.key()`) that holds
        one of them, as it is without them (None when nothing is left). Other groups are unchanged."""
        wanted = sorted(set(excluded))
        if not wanted or not self.exists:
            return {}
        exact = {d.isoformat() for d in exact_days if d <= as_of}
        columns = "kind, actor, day, day_end, source_party, claim, subject, sup, lo, hi, attrs, at, at_end"
        found: dict[tuple[Any, ...], Row | None] = {}
        with self._read_transaction():
            members: list[tuple[Any, ...]] = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                members += self._execute(f"SELECT {columns} FROM records WHERE {LIVE_AT} AND day <= ? AND id IN"
                                         f" ({','.join('?' * len(chunk))})",
                                         (head.seq, head.seq, as_of.isoformat(), *chunk)).fetchall()
            gone = set(wanted)
            for kind, actor, d, day_end, party, claim, subject, sup, lo, hi, attrs, at, at_end in members:
                timed = d in exact or day_end in exact
                row = Row(kind, actor, _day(d), _day(day_end), party, claim, subject, sup, lo, hi, 0, "", attrs,
                          at if timed else None, at_end if timed else None)
                if row.key() in found:
                    continue
                query = (f"SELECT id FROM records WHERE {LIVE_AT} AND day = ? AND day_end = ? AND kind = ? AND actor = ?"
                         " AND source_party = ? AND claim = ? AND coalesce(subject, '') = ? AND coalesce(sup, '') = ?"
                         " AND coalesce(lo, -1) = ? AND coalesce(hi, -1) = ? AND coalesce(attrs, '') = ?")
                params: list[Any] = [head.seq, head.seq, d, day_end, kind, actor, party, claim, subject or "", sup or "",
                                     -1 if lo is None else lo, -1 if hi is None else hi, attrs or ""]
                if timed:
                    query += " AND coalesce(at, '') = ? AND coalesce(at_end, '') = ?"
                    params += [at or "", at_end or ""]
                else:
                    marks = ",".join("?" * len(exact))
                    query += f" AND day NOT IN ({marks}) AND day_end NOT IN ({marks})" if exact else ""
                    params += [*sorted(exact), *sorted(exact)]
                kept = [i for (i,) in self._execute(query, params) if i not in gone]
                row.n, row.id_text = len(kept), first_ids(",".join(kept))
                found[row.key()] = row if kept else None
        return found

    def summary_problem(self) -> str | None:
        """None when the evidence summary (if the store keeps one) equals the live observations grouped afresh;
        else what differs. For integrity verification: the summary is derived data, like the derived columns."""
        if not self.exists:
            return None
        marker = self._execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
        if marker is None or not marker[0].startswith(SUMMARY_FORMAT):
            return None  # kept by an earlier version: never read, rebuilt on the next write
        odd = self._execute(
            "SELECT count(*) FROM evidence_summary e LEFT JOIN evidence_signatures g ON g.sig = e.sig"
            " WHERE g.sig IS NULL OR " + " OR ".join(f"e.{c} <> g.{c}" for c in SIGNATURE.split(", "))).fetchone()[0]
        if odd:
            return f"the evidence summary does not match its signatures ({odd} rows name another signature)"
        stored = {(*row[:-1], first_ids(row[-1])) for row in self._execute(
            f"SELECT {GROUP_KEY}, n, ids FROM evidence_summary WHERE n <> 0")}
        fresh = {(*row[:-1], first_ids(row[-1])) for row in self._execute(
            f"SELECT {STORED_KEY}, count(*), {self.DIALECT.ids_of.format(t='')} FROM records WHERE type = 'observation'"
            f" AND ended_by IS NULL GROUP BY {GROUP_KEY}")}
        unlisted = self._execute("SELECT count(*) FROM evidence_summary WHERE n <> 0 AND"
                                 " ids <> first_ids('', ids)").fetchone()[0]
        if stored != fresh or unlisted:
            odd = sorted(stored ^ fresh, key=repr)[0] if stored != fresh else "IDs out of order"
            return (f"the evidence summary does not match the live observations "
                    f"({len(stored - fresh)} summary rows differ; first: {odd!r})")
        return None

    def _record(self, row: tuple[Any, ...]) -> Record:
        seq, rid, rtype, body, at, by, digest, ended_by, day, shown = row
        return Record(seq, rid, rtype, json.loads(body), at, by, digest, ended_by,
                      dt.date.fromisoformat(day) if day else None, shown)

    def records(self, head: Head | None = None) -> Iterator[Record]:
        """Every record in log order (up to `head`), corrections and retractions included."""
        if not self.exists:
            return
        limit = head.seq if head is not None else None
        query = f"SELECT {RECORD_COLUMNS} FROM {RECORD_FROM}" + (" WHERE r.seq <= ?" if limit is not None else "")
        for row in self._stream(query + " ORDER BY r.seq", (limit,) if limit is not None else ()):
            yield self._record(row)

    def get(self, record_id: str | int) -> Record:
        """One record by ID; UnknownReferenceError when there is none."""
        row = None
        if self.exists:
            try:
                row = self._execute(f"SELECT {RECORD_COLUMNS} FROM {RECORD_FROM} WHERE r.id = ?",
                                    (str(record_id),)).fetchone()
            except UnicodeEncodeError:  # undecodable bytes given on the command line: no ID is like that
                row = None
        if row is None:
            raise UnknownReferenceError(f"no record with ID {record_id!r}" if not str(record_id).isprintable()
                                        else f"no record with ID {record_id}", param="record_id")
        return self._record(row)

    def live_observations(self, head: Head, *, kind: str | None = None, actor: str | None = None,
                          since: dt.date | None = None, until: dt.date | None = None) -> list[Record]:
        """Live observations at `head`, filtered, ordered by date then ID."""
        if not self.exists:
            return []
        query = (f"SELECT {RECORD_COLUMNS} FROM {RECORD_FROM} WHERE r.type = 'observation' AND r.seq <= ?"
                 " AND (r.ended_by IS NULL OR r.ended_by > ?)")
        params: list[Any] = [head.seq, head.seq]
        for column, value in (("kind", kind), ("actor", actor)):
            if value is not None:
                query += f" AND r.{column} = ?"
                params.append(value)
        if since is not None:
            query += " AND r.day >= ?"
            params.append(since.isoformat())
        if until is not None:
            query += " AND r.day <= ?"
            params.append(until.isoformat())
        return [self._record(row) for row in self._execute(query + " ORDER BY r.day, r.seq", params)]

    def observations_by_id(self, ids: Iterable[str]) -> dict[str, Record]:
        """Records for these IDs (IDs not in the log are left out)."""
        wanted = sorted(set(ids))
        found: dict[str, Record] = {}
        if not self.exists:
            return found
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._execute(f"SELECT {RECORD_COLUMNS} FROM {RECORD_FROM} WHERE r.id IN ({marks})", chunk):
                found[row[1]] = self._record(row)
        return found

    def agreement_records(self, head: Head, record_type: str) -> list[Record]:
        """Amendments, endings or track records recorded in the log up to `head`."""
        if not self.exists:
            return []
        return [self._record(row) for row in self._execute(
            f"SELECT {RECORD_COLUMNS} FROM {RECORD_FROM} WHERE r.type = {TYPE_TERM[record_type]} AND r.seq <= ?"
            " ORDER BY r.seq", (head.seq,))]

    def meta(self) -> dict[str, str]:
        """The meta table (agreement, schema, last_number, record_count, head), for integrity verification."""
        if not self.exists:
            return {}
        return dict(self._execute("SELECT key, value FROM meta").fetchall())

    def raw_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every stored row as the database holds it (ROW_COLUMNS, then ended_by), for integrity verification."""
        if self.exists:
            yield from self._stream(f"SELECT {RAW_COLUMNS} FROM records ORDER BY seq")

    def is_empty(self) -> bool:
        """True when the log holds no record."""
        return not self.exists or self._execute("SELECT 1 FROM records LIMIT 1").fetchone() is None

    def _track_bodies(self) -> list[dict[str, Any]]:
        """The bodies of the log's track records (none when they cannot be read: `verify` says what is wrong)."""
        try:
            bodies = [json.loads(body) for (body,) in self._execute(
                "SELECT body FROM records WHERE type = 'track' ORDER BY seq")]
        except (ValueError, TypeError):
            return []
        return [body for body in bodies if isinstance(body, dict)]


class SQLAppendSession:
    """What the append sessions of both SQL backends read alike, inside their write transaction (`chain.AppendSession`)."""

    def __init__(self, store: SQLStore):
        self.store = store

    def lookup(self, record_id: str) -> tuple[str, str | None] | None:
        """(type, ID of the record that ended it or None) of a stored record, or None."""
        row = self.store._execute("SELECT r.type, e.id FROM records r LEFT JOIN records e ON e.seq = r.ended_by"
                                  " WHERE r.id = ?", (record_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def agreement_ids(self) -> set[str]:
        """The IDs of stored amendments, endings and track records."""
        return {row[0] for row in self.store._execute(
            # one query per type, so that each reads its partial index (`type IN (...)` read the whole table)
            " UNION ALL ".join(f"SELECT id FROM records WHERE type = '{t}'" for t in ("amendment", "ending", "track")))}

    def endings(self) -> list[tuple[str, dict[str, Any]]]:
        """(ID, body) of every stored ending, in log order."""
        return [(row[0], json.loads(row[1])) for row in self.store._execute(
            "SELECT id, body FROM records WHERE type = 'ending' ORDER BY seq")]
