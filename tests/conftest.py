"""Shared fixtures: the bundled agreement, small stores built from observations written in the test."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from typing import Any

import pytest

from compliance.check import check
from compliance.clauses import load_agreement
from compliance.exchange import amendment_record, ending_record, observation_record, retraction_record
from compliance.store import Store


@pytest.fixture(scope="session")
def agreement():
    """The bundled nov-10-2020 agreement."""
    return load_agreement("nov-10-2020")


def build_store(agreement, entries: list[dict[str, Any]], path=None) -> Store:
    """A store holding `entries`: observation dicts, or {"retract": ID, "reason": ...}, {"correct": ID, ...fields},
    {"amend": {...}}, {"end": {...}}; appended in order, one record each."""
    store = Store.open(path, agreement, write=True) if path else Store.memory(agreement)
    for entry in entries:
        entry = dict(entry)
        if "retract" in entry:
            record = retraction_record(entry["retract"], entry.get("reason", "test"))
        elif "correct" in entry:
            target = entry.pop("correct")
            record = observation_record(entry, agreement, supersedes=str(target))
        elif "amend" in entry:
            record = amendment_record(entry["amend"], agreement)
        elif "end" in entry:
            record = ending_record(entry["end"], agreement)
        else:
            record = observation_record(entry, agreement)
        store.append([record], "tester")
    return store


@pytest.fixture
def make_store(agreement):
    """Build an in-memory store from entries (see build_store)."""
    return lambda entries: build_store(agreement, entries)


def verdicts(store: Store, as_of: str, **options: Any) -> dict[tuple[str, str], Any]:
    """{(obligation, bearer): ObligationResult} of a check as of an ISO date."""
    for key in ("since",):
        if isinstance(options.get(key), str):
            options[key] = dt.date.fromisoformat(options[key])
    result = check(store, as_of=dt.date.fromisoformat(as_of), **options)
    return {(o.id, o.bearer): o for o in result.obligations}


# ---- PostgreSQL: the store's tests run against a real server when one answers ------------------------------

TEST_POSTGRES = os.environ.get("COMPLIANCE_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")
REQUIRE_POSTGRES = bool(os.environ.get("COMPLIANCE_REQUIRE_POSTGRES"))  # set by .ci/run: a missing server fails
_server: list[str | None] = []
_schemas = itertools.count(1)


def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run (no driver, no server at the test URL), or None."""
    if not _server:
        try:
            import psycopg
        except ImportError:
            _server.append("psycopg is not installed (pip install '.[postgres]')")
        else:
            try:
                psycopg.connect(TEST_POSTGRES, connect_timeout=3).close()
                _server.append(None)
            except psycopg.Error as error:
                reason = " ".join(str(error).split())
                _server.append(f"no PostgreSQL server answers at {TEST_POSTGRES} (COMPLIANCE_TEST_POSTGRES): {reason}")
    return _server[0]


def require_postgres() -> None:
    """Skip (saying why) when no server answers; fail instead under .ci/run, which requires the server."""
    problem = postgres_problem()
    if problem:
        (pytest.fail if REQUIRE_POSTGRES else pytest.skip)(f"PostgreSQL tests not run: {problem}")


def admin_sql(*statements: str, params: tuple = ()) -> list[tuple]:
    """Run statements on the test server as the test URL's role (a superuser on CI); the last one's rows."""
    import psycopg

    rows: list[tuple] = []
    with psycopg.connect(TEST_POSTGRES, autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement, params or None)
            rows = cursor.fetchall() if cursor.description else []
    return rows


def schema_url(schema: str, user: str | None = None) -> str:
    """The test URL pointing at `schema` (as `user`, when given)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(TEST_POSTGRES)
    netloc = parts.netloc
    if user is not None:
        netloc = user + "@" + netloc.rsplit("@", 1)[-1]
    query = "&".join(q for q in [parts.query, f"schema={schema}"] if q)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def drop_schema(schema: str) -> None:
    """Drop a test schema and the owner role its store made."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    database = conninfo_to_dict(TEST_POSTGRES).get("dbname")
    owner = f"{database}.{schema}.owner"
    with psycopg.connect(TEST_POSTGRES, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)).fetchone():
            conn.execute(f'DROP OWNED BY "{owner}" CASCADE')
            conn.execute(f'DROP ROLE "{owner}"')


@pytest.fixture
def postgres_schema():
    """A fresh schema name on the test server (no store yet), dropped after the test with what it made."""
    require_postgres()
    made: list[str] = []

    def new(label: str = "log") -> str:
        made.append(f"t{os.getpid()}_{next(_schemas)}_{uuid.uuid4().hex[:6]}_{label}"[:40])
        return made[-1]

    yield new
    for schema in made:
        drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path):
    """Where a test's store lives: a new file, or a new schema on the test server (each test, both backends).
    Call it with a name for each store the test needs."""
    if request.param == "sqlite":
        yield lambda name="log": str(tmp_path / f"{name}.db")
        return
    new = request.getfixturevalue("postgres_schema")
    yield lambda name="log": schema_url(new(name))


def store_exists(where: str) -> bool:
    """True when something is stored at a test location: the file exists, or the schema does."""
    if where.startswith("postgresql://"):
        import urllib.parse

        schema = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(where).query))["schema"]
        return bool(admin_sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", params=(schema,)))
    from pathlib import Path

    return Path(where).exists()


def author(store: Store, name: str) -> tuple[str, str | None]:
    """(recorded_by, recorded_as) of a record `name` appended: on PostgreSQL the server role records, and the name is
    kept beside it; on SQLite the name is recorded_by."""
    role = getattr(getattr(store, "location", None), "user", None)
    return (name, None) if role is None else (role, name if name != role else None)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say once, at the end, why the PostgreSQL tests were skipped (when they were)."""
    if _server and _server[0] and not REQUIRE_POSTGRES:
        terminalreporter.write_line(f"PostgreSQL store tests skipped: {_server[0]}", yellow=True)
