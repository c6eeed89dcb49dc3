"""The PostgreSQL backend: a team's store on a server, written by many monitors on many machines at once.

Layout: the store lives in its own schema (`compliance`, or `?schema=NAME` in the URL) of the named database:
the tables of `sql.py`, a `meta` table (`schema` holds the store's version, so a later release can migrate
it), and three functions. The schema and its objects belong to a role of their own, `<database>.<schema>.owner`
(NOLOGIN), made with the store; its creator is a member of it.

Writing: an append is one transaction. `begin_append()` takes the chain lock (a transaction-level advisory
lock named by the schema), then reads the server's clock: every record of the append is recorded at that
time (never earlier than the record before it), by `session_user` (the authenticated role; a `--as` name is
kept beside it in `recorded_as`). The client then validates lines, numbers records and computes the hash
chain (`chain.py`, as for SQLite, so the same records give the same chain), and sends rows a batch at a time
with COPY into a temporary table; `append_rows()` checks each batch (it continues the log's sequence and
chain, is recorded at the append's time by the session's role, numbers observations with no hole) and moves
it into the log, marks what it ends and keeps the evidence summary. Both functions are SECURITY DEFINER:
monitors have no INSERT, UPDATE, DELETE or TRUNCATE on any table, only this path.

Rights (`compliance grant monitor|reader|owner ROLE`): a reader may read; a monitor may read and call the
append functions; an owner is a member of the owner role (migrates the schema, restores an export keeping
each record's original `recorded_by`, grants rights).
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from ..errors import InputError, StoreError
from ..process import Process
from ..records import NewRecord
from .base import SCHEMA_VERSION, process_of
from .chain import ROW_COLUMNS, ChainStart, ChainWriter
from .sql import FIRST_IDS, POSTGRES, SUMMARY_FORMAT, SQLAppendSession, SQLStore, batch_upkeep

DEFAULT_SCHEMA = "compliance"
RIGHTS = ("monitor", "reader", "owner")
RETRIES = 8  # attempts of a replayable append the server asks to retry (serialisation failure, deadlock)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,47}")
_STAGING = "compliance_rows"  # the session's temporary table that COPY fills

_TABLES = """
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE records (
    seq bigint PRIMARY KEY,
    id text NOT NULL UNIQUE,
    type text NOT NULL CHECK (type IN ('observation', 'retraction', 'amendment', 'ending', 'track')),
    body text NOT NULL,
    recorded_at text NOT NULL,
    recorded_by text NOT NULL,
    recorded_as text,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    kind text, actor text, day text, day_end text, source_party text, claim text,
    subject text, sup text, lo bigint, hi bigint,
    attrs text, at text, at_end text,
    target text,
    ended_by bigint
);
CREATE INDEX records_evidence ON records (day, kind, actor, source_party, claim, subject, sup, lo, hi, day_end, ended_by, seq)
    WHERE type = 'observation';
CREATE INDEX records_recorded_at ON records (recorded_at);
CREATE INDEX records_target ON records (target) WHERE target IS NOT NULL;
CREATE INDEX records_amendments ON records (seq) WHERE type = 'amendment';
CREATE INDEX records_endings ON records (seq) WHERE type = 'ending';
CREATE INDEX records_tracks ON records (seq) WHERE type = 'track';
CREATE INDEX records_spans ON records (day_end) WHERE type = 'observation' AND day_end <> day;
CREATE TABLE evidence_signatures (
    sig bigserial PRIMARY KEY,
    kind text NOT NULL, actor text NOT NULL, source_party text NOT NULL, claim text NOT NULL,
    subject text NOT NULL, sup text NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL, attrs text NOT NULL,
    UNIQUE (kind, actor, source_party, claim, subject, sup, lo, hi, attrs)
);
CREATE TABLE evidence_summary (
    day text NOT NULL, kind text NOT NULL, actor text NOT NULL, source_party text NOT NULL, claim text NOT NULL,
    subject text NOT NULL, sup text NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL, attrs text NOT NULL,
    day_end text NOT NULL, n bigint NOT NULL, sig bigint NOT NULL, ids text NOT NULL,
    PRIMARY KEY (day, sig, day_end)
);
CREATE FUNCTION first_ids(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(string_agg(i::text, ',' ORDER BY i), '') FROM (
        SELECT DISTINCT x::bigint AS i FROM unnest(string_to_array(concat_ws(',', nullif(a, ''), nullif(b, '')), ',')) x
        ORDER BY 1 LIMIT {first_ids}) t
$$;
CREATE FUNCTION genesis_digest(agreement text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'sha256:' || encode(sha256(convert_to('compliance-log:' || agreement, 'UTF8')), 'hex')
$$
"""

_BEGIN_APPEND = """
CREATE FUNCTION begin_append(OUT last_seq bigint, OUT last_hash text, OUT last_at text, OUT agreement text,
                             OUT last_number bigint, OUT record_count bigint, OUT now_utc text, OUT author text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_catalog AS $$
BEGIN
    -- the chain lock, then the clock: no record is ever recorded before the one it follows
    PERFORM pg_advisory_xact_lock(hashtext('compliance-chain'), hashtext({schema_text}));
    SELECT r.seq, r.hash, r.recorded_at INTO last_seq, last_hash, last_at FROM records r ORDER BY r.seq DESC LIMIT 1;
    SELECT value INTO agreement FROM meta WHERE key = 'agreement';
    SELECT value::bigint INTO last_number FROM meta WHERE key = 'last_number';
    SELECT value::bigint INTO record_count FROM meta WHERE key = 'record_count';
    now_utc := greatest(to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), last_at);
    author := session_user;
    PERFORM set_config('compliance.append_at', now_utc, true);
END
$$
"""

_APPEND_ROWS = """
CREATE FUNCTION append_rows(restore boolean, first_agreement text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_catalog AS $$
DECLARE
    append_at text := current_setting('compliance.append_at', true);
    log_end bigint; chain_head text; end_at text; number bigint; genesis text; marker text;
    first_seq bigint; last_seq bigint; rows bigint; odd text;
BEGIN
    IF append_at IS NULL OR append_at = '' THEN
        RAISE EXCEPTION 'append_rows: call begin_append() first, in the same transaction';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('compliance-chain'), hashtext({schema_text}));
    IF restore AND NOT pg_has_role(session_user, {owner_text}, 'MEMBER') THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'restoring an export (records that keep their recorded_by) needs the owner right';
    END IF;
    SELECT r.seq, r.hash, r.recorded_at INTO log_end, chain_head, end_at FROM records r ORDER BY r.seq DESC LIMIT 1;
    IF log_end IS NULL THEN
        IF restore AND first_agreement IS NOT NULL THEN  -- a log that says what it tracks: its genesis names its first
            UPDATE meta SET value = first_agreement WHERE key = 'agreement';
            UPDATE meta SET value = '{summary_format}' || genesis_digest(first_agreement) WHERE key = 'summary';
        END IF;
        log_end := 0;
        chain_head := genesis_digest((SELECT value FROM meta WHERE key = 'agreement'));
        end_at := '';
    ELSIF restore THEN
        RAISE EXCEPTION 'append_rows: an export is restored only into an empty store';
    END IF;
    SELECT value::bigint INTO number FROM meta WHERE key = 'last_number';
    SELECT min(s.seq), max(s.seq), count(*) INTO first_seq, last_seq, rows FROM pg_temp.{staging} s;
    IF rows = 0 THEN
        RETURN;
    END IF;
    IF first_seq <> log_end + 1 OR last_seq <> log_end + rows THEN
        RAISE EXCEPTION 'append_rows: rows % to % do not continue the log after record %', first_seq, last_seq, log_end;
    END IF;
    SELECT s.id INTO odd FROM (SELECT id, {staging}.prev_hash AS linked, lag(hash) OVER (ORDER BY seq) AS before
                               FROM pg_temp.{staging}) s
        WHERE s.linked IS DISTINCT FROM coalesce(s.before, chain_head) LIMIT 1;
    IF odd IS NOT NULL THEN
        RAISE EXCEPTION 'append_rows: record % does not link to the chain', odd;
    END IF;
    IF restore THEN
        SELECT s.id INTO odd FROM (SELECT id, recorded_at, lag(recorded_at) OVER (ORDER BY seq) AS before
                                   FROM pg_temp.{staging}) s
            WHERE s.recorded_at < coalesce(s.before, end_at) LIMIT 1;
        IF odd IS NOT NULL THEN
            RAISE EXCEPTION 'append_rows: record % is recorded before the record it follows', odd;
        END IF;
        SELECT coalesce(max(s.id::bigint), number) INTO number FROM pg_temp.{staging} s
            WHERE s.type IN ('observation', 'retraction');
    ELSE
        SELECT s.id INTO odd FROM pg_temp.{staging} s
            WHERE s.recorded_by IS DISTINCT FROM session_user OR s.recorded_at IS DISTINCT FROM append_at LIMIT 1;
        IF odd IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = format('record %s must be recorded by %s at %s (the store records who and when)',
                                 odd, session_user, append_at);
        END IF;
        SELECT s.id INTO odd FROM (SELECT id, row_number() OVER (ORDER BY seq) AS k FROM pg_temp.{staging}
                                   WHERE type IN ('observation', 'retraction')) s
            WHERE s.id IS DISTINCT FROM (number + s.k)::text LIMIT 1;
        IF odd IS NOT NULL THEN
            RAISE EXCEPTION 'append_rows: observation % is not numbered after %', odd, number;
        END IF;
        number := number + (SELECT count(*) FROM pg_temp.{staging} WHERE type IN ('observation', 'retraction'));
    END IF;
    INSERT INTO records ({columns}) SELECT {columns} FROM pg_temp.{staging} ORDER BY seq;
    -- a log that has doubled since the planner last counted it (a large import, in this very transaction) is
    -- counted again, so that what follows uses the indexes, not scans of the whole log
    IF (SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass) < last_seq / 2 THEN
        ANALYZE records;
        ANALYZE evidence_summary;
    END IF;
    SELECT value INTO marker FROM meta WHERE key = 'summary';
    {ended_by};
    IF marker = '{summary_format}' || chain_head THEN
        {summary};
        UPDATE meta SET value = '{summary_format}' || (SELECT hash FROM records WHERE seq = last_seq) WHERE key = 'summary';
    END IF;
    UPDATE meta SET value = number::text WHERE key = 'last_number';
    UPDATE meta SET value = (value::bigint + rows)::text WHERE key = 'record_count';
    UPDATE meta SET value = (SELECT hash FROM records WHERE seq = last_seq) WHERE key = 'head';
END
$$
"""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("a PostgreSQL store needs the psycopg driver: pip install 'compliance[postgres]'",
                         param="location") from None
    return psycopg


class ServerLocation:
    """A PostgreSQL URL taken apart: connection parameters (password included, never shown) and the schema."""

    def __init__(self, url: str):
        parts = urllib.parse.urlsplit(url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        self.schema = schemas[-1] if schemas else DEFAULT_SCHEMA
        if not _NAME.fullmatch(self.schema):
            raise InputError(f"schema {self.schema!r} is not a plain lower-case name (letters, digits, _)", param="location")
        rest = urllib.parse.urlencode([(k, v) for k, v in query if k != "schema"])
        self.conninfo = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(self.conninfo)
        except Exception:
            raise InputError("not a PostgreSQL URL this tool can read (postgresql://user@host:5432/dbname)",
                             param="location") from None
        self.password = params.get("password") or ""
        self.user = params.get("user") or os.environ.get("PGUSER") or _os_user()
        self.host = params.get("host") or os.environ.get("PGHOST") or "localhost"
        self.port = str(params.get("port") or os.environ.get("PGPORT") or 5432)
        self.database = params.get("dbname") or os.environ.get("PGDATABASE") or self.user
        self.owner_role = f"{self.database}.{self.schema}.owner"
        if len(self.owner_role.encode()) > 63:
            raise InputError("the database and schema names are too long for the store's owner role "
                             "(at most 56 bytes together)", param="location")

    @property
    def shown(self) -> str:
        """The URL as errors name it: user, host, port, database and schema; never the password."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}?schema={self.schema}"

    def scrub(self, text: str) -> str:
        """`text` with the password removed (a server message never holds it; this makes sure)."""
        text = " ".join(str(text).split())
        return text.replace(self.password, "***") if self.password else text


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


class PostgresStore(SQLStore):
    """An observation log in a schema of a PostgreSQL database."""

    backend = "postgresql"
    DIALECT = POSTGRES

    def __init__(self, connection: Any, location: ServerLocation, process: Process, writable: bool):
        super().__init__(process, writable)
        self._conn = connection
        self.location = location
        self.path = None
        self._reading = False
        self._agreements: Any = None

    @property
    def where(self) -> str:
        return self.location.shown

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def connect(cls, url: str, agreements: Any = None, *, write: bool = False) -> "PostgresStore":
        """The store at a PostgreSQL URL; a schema that does not exist is a store that does not exist (it reads
        as an empty log and, opened for writing, is created by the first write)."""
        psycopg = _psycopg()
        location = ServerLocation(url)
        try:
            conn = psycopg.connect(location.conninfo, autocommit=True, connect_timeout=10,
                                   application_name="compliance")
        except psycopg.Error as error:
            raise StoreError(f"cannot connect to the PostgreSQL server at {location.host}:{location.port}: "
                             f"{_reason(location, error)}", location.shown) from None
        store = cls(conn, location, Process.empty(), write)
        with store._errors("open"):
            conn.execute(f"SET search_path TO {_quote(location.schema)}")
            store._load(agreements)
        return store

    def _load(self, agreements: Any) -> None:
        """Find the schema (and its version) and the agreements the log tracks."""
        schema = self.location.schema
        found = self._conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        has_meta = found and self._conn.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'meta'", (schema,)).fetchone()
        if not found:
            self.exists = False
            self._agreements = agreements
            self.process = process_of(agreements)
            self._pending_tracks = list(self.process.agreements)
            return
        if not has_meta:
            raise StoreError(f"schema {schema} exists but holds no compliance store (no meta table)", self.where)
        if not self._conn.execute("SELECT has_schema_privilege(%s, 'USAGE')", (schema,)).fetchone()[0]:
            raise StoreError(self._missing_right("read", f"no USAGE on schema {schema}"), self.where)
        meta = self.meta()
        version = meta.get("schema", "")
        if version != SCHEMA_VERSION:
            raise StoreError(f"the store's schema version is {version!r}; this version of the tool reads "
                             f"{SCHEMA_VERSION!r}" + (" (upgrade the tool)" if version > SCHEMA_VERSION else ""),
                             self.where)
        self.process = self._tracked(meta["agreement"], self._track_bodies(), None)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # ---- SQL ---------------------------------------------------------------------------------------

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        with self._errors("read"):
            return self._conn.execute(_dialect(sql), tuple(params))

    def _stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[tuple[Any, ...]]:
        with self._errors("read"), self._read_transaction():
            with self._conn.cursor(name="compliance_stream") as cursor:
                cursor.itersize = 2000
                cursor.execute(_dialect(sql), tuple(params))
                yield from cursor

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        # inside a transaction already (a read, or an import's write that reads the log to plan a re-import): its own
        if not self.exists or self._reading or \
                self._conn.info.transaction_status != _psycopg().pq.TransactionStatus.IDLE:
            yield
            return
        with self._errors("read"), self._conn.transaction():
            self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            self._reading = True
            try:
                yield
            finally:
                self._reading = False

    def storage_problems(self) -> list[str]:
        """PostgreSQL keeps its own pages and indexes consistent (checksums, WAL); nothing to add here."""
        return []

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Server errors as one line naming the store: a missing right (exit 4), a lost connection (exit 4)."""
        psycopg = _psycopg()
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as error:
            raise StoreError(self._missing_right(doing, error), self.where) from None
        except psycopg.Error as error:
            raise StoreError(f"the PostgreSQL server at {self.location.host}:{self.location.port} refused to {doing}: "
                             f"{_reason(self.location, error)}", self.where) from None

    def _missing_right(self, doing: str, error: Any) -> str:
        """The one line of a refused write or read: who, what, and which right (and who can give it)."""
        user = self.location.user
        needs = {"read": "reader", "open": "reader", "append": "monitor", "grant": "owner", "create": "owner",
                 "restore": "owner"}[doing]
        if doing == "create":
            return (f"role {user} may not create the store: it needs CREATE on database {self.location.database} and "
                    f"the right to create roles ({_reason(self.location, error)})")
        return (f"role {user} may not {doing} this store: it needs the {needs} right "
                f"(compliance grant {needs} {user}, by an owner) ({_reason(self.location, error)})")

    # ---- creating ------------------------------------------------------------------------------

    def _create(self) -> None:
        """Create the store's schema, owner role, tables and functions (inside the caller's transaction, which
        also writes the first records: a failed first write leaves no store)."""
        conn = self._conn
        loc = self.location
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('compliance-create'), hashtext(%s))", (loc.schema,))
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (loc.schema,)).fetchone():
            self.exists = True  # another writer created it meanwhile
            self._load(self._agreements)
            return
        owner = _quote(loc.owner_role)
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (loc.owner_role,)).fetchone():
            conn.execute(f"CREATE ROLE {owner} NOLOGIN")
        conn.execute(f"GRANT {owner} TO {_quote(loc.user)} WITH ADMIN OPTION")
        schema = _quote(loc.schema)
        conn.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
        conn.execute(f"SET LOCAL ROLE {owner}")
        fill = {"schema": schema, "schema_text": _literal(loc.schema), "owner_text": _literal(loc.owner_role),
                "staging": _STAGING, "summary_format": SUMMARY_FORMAT, "first_ids": FIRST_IDS,
                "columns": ", ".join(ROW_COLUMNS)}
        for statement in filter(str.strip, _TABLES.format(**fill).split(";\n")):
            conn.execute(statement)
        conn.execute(_BEGIN_APPEND.format(**fill))
        upkeep = batch_upkeep(POSTGRES, f"pg_temp.{_STAGING}")
        conn.execute(_APPEND_ROWS.format(**fill, ended_by=upkeep[0], summary=";\n        ".join(upkeep[1:])))
        for function in ("begin_append()", "append_rows(boolean, text)"):
            conn.execute(f"REVOKE ALL ON FUNCTION {schema}.{function} FROM PUBLIC")
        process = process_of(self._agreements)
        conn.execute("INSERT INTO meta VALUES ('agreement', %s), ('schema', %s), ('last_number', '0'),"
                     " ('record_count', '0'), ('head', genesis_digest(%s)), ('summary', %s || genesis_digest(%s))",
                     (process.first.id, SCHEMA_VERSION, process.first.id, SUMMARY_FORMAT, process.first.id))
        conn.execute("RESET ROLE")
        self.exists = True

    # ---- writing -------------------------------------------------------------------------------

    def _write(self, records: Iterable[NewRecord], recorded_by: str, keep_ids: bool) -> tuple[list[str], int]:
        self._check_writable()
        psycopg = _psycopg()
        replayable = isinstance(records, (list, tuple))
        for attempt in range(RETRIES):
            existed = self.exists
            try:
                with self._errors("append"), _retried(psycopg):
                    with self._conn.transaction():
                        if not self.exists:
                            with self._errors("create"):
                                self._create()
                        writer = ChainWriter(_PostgresAppend(self), self.process, self._pending_tracks, True)
                        result = writer.run(records, recorded_by, keep_ids)
                break
            except _Retry:
                self.exists = existed
                if not replayable or attempt == RETRIES - 1:
                    raise StoreError("the server kept asking to retry this write (other writers at the same moment); "
                                     "nothing was written: run it again", self.where) from None
                time.sleep(0.01 * (attempt + 1))
            except BaseException:
                self.exists = existed
                raise
        self.process, self._pending_tracks = writer.tracked, []
        return result

    # ---- rights --------------------------------------------------------------------------------

    def grant(self, right: str, role: str) -> None:
        """Give an existing server role a right on this store: monitor (read, append through the store's own
        path), reader (read), owner (membership in the store's owner role: migrate, restore, grant)."""
        if right not in RIGHTS:
            raise InputError(f"unknown right {right!r} (monitor, reader or owner)", param="right")
        if not self.exists:
            raise StoreError("no store here yet: write to it first (its first write creates it)", self.where)
        loc = self.location
        with self._errors("grant"), self._conn.transaction():
            if not self._conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                raise InputError(f"no role {role!r} on the server at {loc.host}:{loc.port} (create it first: "
                                 f"CREATE ROLE ... LOGIN)", param="role")
            schema, who = _quote(loc.schema), _quote(role)
            if right == "owner":
                self._conn.execute(f"GRANT {_quote(loc.owner_role)} TO {who} WITH ADMIN OPTION")
                return
            self._conn.execute(f"GRANT USAGE ON SCHEMA {schema} TO {who}")
            self._conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {who}")
            if right == "monitor":
                self._conn.execute(f"GRANT EXECUTE ON FUNCTION {schema}.begin_append(), "
                                   f"{schema}.append_rows(boolean, text) TO {who}")
                self._conn.execute(f"GRANT TEMPORARY ON DATABASE {_quote(loc.database)} TO {who}")


class _Retry(Exception):
    """The server asked for the transaction to be tried again."""


@contextmanager
def _retried(psycopg: Any) -> Iterator[None]:
    try:
        yield
    except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
        raise _Retry() from None


def _reason(location: ServerLocation, error: Any) -> str:
    """A server error in one line, without its hints and never with the password."""
    if isinstance(error, str):
        return location.scrub(error)
    diag = getattr(error, "diag", None)
    text = (getattr(diag, "message_primary", None) if diag is not None else None) or str(error).strip().splitlines()[0]
    text = re.sub(r'^(connection failed: )?connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: ', "", text)
    return location.scrub(text)


def _dialect(sql: str) -> str:
    """A query written with `?` placeholders in psycopg's form."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresAppend(SQLAppendSession):
    """The chain writer's session in a PostgreSQL write transaction: `begin_append()` holds the chain lock."""

    batch_rows = 20_000  # fewer, larger batches: each group of the evidence summary is written fewer times

    def __init__(self, store: PostgresStore):
        super().__init__(store)
        self.conn = store._conn
        self.first = None

    def start(self) -> ChainStart:
        conn = self.conn
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} (LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        conn.execute(f"GRANT SELECT ON {_STAGING} TO {_quote(self.store.location.owner_role)}")
        seq, digest, at, agreement, number, count, now, author = conn.execute(
            "SELECT * FROM begin_append()").fetchone()
        return ChainStart((seq, digest, at) if seq is not None else None, agreement, number, count, now, author)

    def first_agreement(self, agreement_id: str) -> None:
        self.first = agreement_id

    def write(self, rows: list[tuple[Any, ...]], ids: list[str], lines: list[int | None], restore: bool) -> None:
        psycopg = _psycopg()
        conn = self.conn
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY {_STAGING} ({', '.join(ROW_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            try:
                with conn.transaction():  # a savepoint: a duplicate ID is reported, not left half-done
                    cursor.execute("SELECT append_rows(%s, %s)", (restore, self.first))
            except psycopg.errors.UniqueViolation as error:
                found = re.search(r"\(id\)=\((.*)\)", getattr(error.diag, "message_detail", "") or "")
                record_id = found.group(1) if found else "?"
                line = lines[ids.index(record_id)] if record_id in ids else None
                raise InputError(f"record ID {record_id} is already in the log",
                                 None if line is not None else "id", line=line) from None
            except psycopg.errors.InsufficientPrivilege as error:
                doing = "restore" if restore else "append"
                raise StoreError(self.store._missing_right(doing, error), self.store.where) from None
            cursor.execute(f"TRUNCATE {_STAGING}")

    def finish(self, last_number: int, record_count: int, head: str) -> None:
        """The server function kept the counters and head with every batch."""
