"""The PostgreSQL store against the real test server: who may do what, many writers on one schema, a killed
import, tampering found by verify, the same log and digest in both stores, and the errors a team sees.

Every test uses schemas of its own (dropped after it) and roles of its own (dropped after it); the tests skip,
saying why, when no server answers at COMPLIANCE_TEST_POSTGRES, and fail instead under .ci/run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from compliance.check import check
from compliance.clauses import load_agreement
from compliance.errors import IntegrityError, StoreError
from compliance.exchange import export_lines, observation_record, read_jsonl
from compliance.integrity import verify
from compliance.resources import sample_log
from compliance.store import Store

from conftest import TEST_POSTGRES, admin_sql, require_postgres, schema_url

AGREEMENT = load_agreement("nov-10-2020")
CLI = [str(Path(sys.executable).with_name("compliance"))]
CTX = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
BREACH = ["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ",
          "--source", "Armenian MoD", "--source-party", "AM"]
AS_OF = "2021-09-30"
SAMPLE_RECORDS = len(sample_log().read_text(encoding="utf-8").splitlines())


def cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COMPLIANCE_MONITOR": "tester", **env})


def one_line_error(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("compliance: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def roles():
    """Make login roles on the test server (trust authentication, as on CI); dropped after the test."""
    require_postgres()
    made: list[str] = []

    def new(label: str) -> str:
        made.append(f"ct_{label}_{uuid.uuid4().hex[:8]}")
        admin_sql(f'CREATE ROLE "{made[-1]}" LOGIN')
        return made[-1]

    yield new
    for role in made:
        admin_sql(f'DROP OWNED BY "{role}" CASCADE', f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def sample_store(postgres_schema) -> str:
    """A PostgreSQL store holding the sample log (restored by the test URL's role, its owner)."""
    url = schema_url(postgres_schema("sample"))
    result = cli("--store", url, "observe", "import", str(sample_log()))
    assert result.returncode == 0 and result.stdout == f"{SAMPLE_RECORDS}\n", result.stderr
    return url


def _schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


# ---- who may do what ---------------------------------------------------------------------------------


def test_a_monitor_appends_as_its_role_and_cannot_change_or_delete_a_record(sample_store, roles):
    monitor = roles("monitor")
    assert cli("--store", sample_store, "grant", "monitor", monitor).returncode == 0
    as_monitor = schema_url(_schema(sample_store), user=monitor)
    added = cli("--store", as_monitor, *BREACH, "--as", "Alice Example")
    assert added.returncode == 0 and added.stdout.strip().isdigit(), added.stderr
    line = json.loads(cli("--store", as_monitor, "observe", "export").stdout.splitlines()[-1])
    assert (line["recorded_by"], line["recorded_as"]) == (monitor, "Alice Example")  # the role, and the name beside it
    import psycopg

    schema = _schema(sample_store)
    with psycopg.connect(schema_url(schema, user=monitor).split("?")[0], autocommit=True) as conn:
        for statement in (f"UPDATE {schema}.records SET body = '{{}}' WHERE id = '1'",
                          f"DELETE FROM {schema}.records WHERE id = '1'",
                          f"TRUNCATE {schema}.records",
                          f"UPDATE {schema}.meta SET value = '0' WHERE key = 'last_number'",
                          f"INSERT INTO {schema}.records (seq, id, type, body, recorded_at, recorded_by, prev_hash, hash)"
                          " VALUES (99, '99', 'observation', '{}', 'x', 'x', 'x', 'x')",
                          f"DELETE FROM {schema}.evidence_summary"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert cli("--store", sample_store, "verify").stdout.startswith(f"ok: {SAMPLE_RECORDS + 1} records")


def test_the_store_path_refuses_records_under_another_name(sample_store, roles):
    # a monitor who calls the append functions directly, with rows it made itself, cannot write as another
    import psycopg

    from compliance.records import canonical_json, chain_hash_of_text

    monitor = roles("forger")
    assert cli("--store", sample_store, "grant", "monitor", monitor).returncode == 0
    schema = _schema(sample_store)
    with psycopg.connect(schema_url(schema, user=monitor).split("?")[0]) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute("CREATE TEMP TABLE compliance_rows (LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        conn.execute(f'GRANT SELECT ON compliance_rows TO "test.{schema}.owner"')
        seq, head, _at, _agreement, number, _count, now, author = conn.execute("SELECT * FROM begin_append()").fetchone()
        assert author == monitor
        body = canonical_json({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "claim": "affirms",
                               "source": "s", "source_party": "AM"})
        digest = chain_hash_of_text(head, str(number + 1), "observation", body, now, "sample-curator")
        conn.execute("INSERT INTO compliance_rows (seq, id, type, body, recorded_at, recorded_by, prev_hash, hash)"
                     " VALUES (%s, %s, 'observation', %s, %s, 'sample-curator', %s, %s)",
                     (seq + 1, str(number + 1), body, now, head, digest))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be recorded by"):
            conn.execute("SELECT append_rows(false, NULL)")
        conn.rollback()
    assert cli("--store", sample_store, "verify").stdout.startswith(f"ok: {SAMPLE_RECORDS} records")


def test_a_reader_reads_and_cannot_write(sample_store, roles):
    reader = roles("reader")
    assert cli("--store", sample_store, "grant", "reader", reader).returncode == 0
    as_reader = schema_url(_schema(sample_store), user=reader)
    assert json.loads(cli("--store", as_reader, "check", "--as-of", AS_OF, "--format", "json").stdout)["log_digest"] == \
        json.loads(cli("--store", sample_store, "check", "--as-of", AS_OF, "--format", "json").stdout)["log_digest"]
    message = one_line_error(cli("--store", as_reader, *BREACH), 4, f"role {reader} may not append",
                             "needs the monitor right", f"compliance grant monitor {reader}")
    assert "127.0.0.1" in message or "localhost" in message
    assert cli("--store", sample_store, "verify").stdout.startswith(f"ok: {SAMPLE_RECORDS} records")


def test_a_role_with_no_right_cannot_read(sample_store, roles):
    stranger = roles("stranger")
    one_line_error(cli("--store", schema_url(_schema(sample_store), user=stranger), "check"), 4,
                   f"role {stranger} may not read", "needs the reader right")


def test_only_an_owner_restores_an_export(sample_store, roles, postgres_schema):
    monitor = roles("restorer")
    export = cli("--store", sample_store, "observe", "export").stdout
    target = postgres_schema("target")
    assert cli("--store", schema_url(target), *BREACH).returncode == 0  # made by the owner...
    admin_sql(f"DELETE FROM {target}.records", f"UPDATE {target}.meta SET value = '0' WHERE key IN"
              " ('last_number', 'record_count')")  # ...and emptied behind its back, for this test
    assert cli("--store", schema_url(target), "grant", "monitor", monitor).returncode == 0
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{target}.jsonl"
    path.write_text(export, encoding="utf-8")
    try:
        one_line_error(cli("--store", schema_url(target, user=monitor), "observe", "import", str(path)), 4,
                       "may not restore", "needs the owner right")
        owner = roles("owner")
        assert cli("--store", schema_url(target), "grant", "owner", owner).returncode == 0
        restored = cli("--store", schema_url(target, user=owner), "observe", "import", str(path))
        assert restored.returncode == 0 and restored.stdout == f"{SAMPLE_RECORDS}\n", restored.stderr
    finally:
        path.unlink()
    records = [json.loads(line) for line in cli("--store", schema_url(target), "observe", "export").stdout.splitlines()]
    assert [r["recorded_by"] for r in records] == [json.loads(line)["recorded_by"] for line in export.splitlines()]
    assert owner not in {r["recorded_by"] for r in records}  # each record's original recorded_by, kept


def _edit_body(schema: str, record_id: str, **changes: str) -> None:
    """Change fields of a record's body as the owner could with SQL, keeping its text canonical."""
    from compliance.records import canonical_json

    (body,) = admin_sql(f"SELECT body FROM {schema}.records WHERE id = %s", params=(record_id,))[0]
    admin_sql(f"UPDATE {schema}.records SET body = %s WHERE id = %s",
              params=(canonical_json({**json.loads(body), **changes}), record_id))


def test_verify_finds_a_change_the_owner_made_behind_the_tools_back(sample_store):
    schema = _schema(sample_store)
    _edit_body(schema, "12", source="someone else")
    one_line_error(cli("--store", sample_store, "verify"), 3, "record 12", "hash does not match")
    store = Store.open(sample_store, AGREEMENT)
    try:
        with pytest.raises(IntegrityError, match="record 12"):
            verify(store)
    finally:
        store.close()


def test_verify_finds_a_derived_column_changed_alone(sample_store):
    schema = _schema(sample_store)
    (record_id,) = admin_sql(f"SELECT id FROM {schema}.records WHERE type = 'observation' AND actor <> 'AZ'"
                             " ORDER BY seq LIMIT 1")[0]
    admin_sql(f"UPDATE {schema}.records SET actor = 'AZ' WHERE id = %s", params=(record_id,))
    one_line_error(cli("--store", sample_store, "verify"), 3, f"record {record_id}", "column actor")


def test_verify_finds_records_cut_from_the_end(sample_store):
    schema = _schema(sample_store)
    last = admin_sql(f"SELECT seq FROM {schema}.records ORDER BY seq DESC LIMIT 1")[0][0]
    admin_sql(f"DELETE FROM {schema}.records WHERE seq = {last}",
              f"UPDATE {schema}.records SET ended_by = NULL WHERE ended_by = {last}")
    one_line_error(cli("--store", sample_store, "verify"), 3, "meta", "removed from the end")


def test_grant_on_a_sqlite_store_is_refused(tmp_path):
    store = tmp_path / "log.db"
    assert cli("--store", str(store), *BREACH).returncode == 0
    one_line_error(cli("--store", str(store), "grant", "reader", "alice"), 2, "SQLite store is a file")


def test_grant_of_a_role_that_does_not_exist(sample_store):
    one_line_error(cli("--store", sample_store, "grant", "monitor", "no_such_role_x"), 2, "no role 'no_such_role_x'")


# ---- many writers on one schema ------------------------------------------------------------------------

WRITERS = 8
APPENDS = 20
BULK = 3000


def _writer(url: str, writer: int, barrier) -> list[str]:
    barrier.wait()
    ids: list[str] = []
    for number in range(APPENDS):
        store = Store.open(url, AGREEMENT, write=True)  # opened each time, as a command would
        try:
            ids += store.append([observation_record({"kind": "contingent.personnel", "date": "2021-01-01", "actor": "RU",
                                                     "value": writer * 1000 + number, "source": f"writer {writer}",
                                                     "source_party": "RU"}, AGREEMENT)], f"writer-{writer}")
        finally:
            store.close()
    return ids


def test_eight_writers_and_a_bulk_import_on_one_schema(postgres_schema, tmp_path):
    url = schema_url(postgres_schema("busy"))  # not created yet: the writers race to create it too
    bulk = tmp_path / "bulk.jsonl"
    bulk.write_text("".join(json.dumps({"kind": "ceasefire.breach", "date": "2021-07-01", "actor": "AM", "source": "bulk",
                                        "source_party": "AZ", "notes": f"line {n}"}) + "\n" for n in range(BULK)))
    with CTX.Manager() as manager, CTX.Pool(WRITERS) as pool:
        barrier = manager.Barrier(WRITERS + 1)
        pending = pool.starmap_async(_writer, [(url, w, barrier) for w in range(WRITERS)])
        barrier.wait()
        imported = cli("--store", url, "observe", "import", str(bulk), timeout=300)
        results = pending.get(timeout=300)
    assert imported.returncode == 0 and imported.stdout == f"{BULK}\n", imported.stderr
    returned = [int(i) for ids in results for i in ids]
    assert len(returned) == len(set(returned)) == WRITERS * APPENDS
    for ids in results:  # each writer's records in the order it wrote them
        assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    store = Store.open(url, AGREEMENT)
    try:
        records = [r for r in store.records() if r.type == "observation"]
        assert [r.id for r in records] == [str(n) for n in range(1, WRITERS * APPENDS + BULK + 1)]  # no hole, no reuse
        bulk_seqs = [r.seq for r in records if r.body["source"] == "bulk"]
        assert bulk_seqs == list(range(bulk_seqs[0], bulk_seqs[0] + BULK))  # one transaction: one unbroken run
        assert [r.body["notes"] for r in records if r.body["source"] == "bulk"] == [f"line {n}" for n in range(BULK)]
        times = [r.recorded_at for r in store.records()]
        assert times == sorted(times)  # never earlier than the record before
        assert verify(store).by_type["observation"] == WRITERS * APPENDS + BULK
        assert store.summary_problem() is None
    finally:
        store.close()


def test_a_killed_import_leaves_all_or_nothing(postgres_schema, tmp_path):
    url = schema_url(postgres_schema("killed"))
    assert cli("--store", url, *BREACH).returncode == 0
    big = tmp_path / "big.jsonl"
    lines = 60_000
    big.write_text("".join(json.dumps({"kind": "ceasefire.breach", "date": "2021-07-01T12:00:00", "actor": "AM",
                                       "source": "bulk source", "source_party": "AZ", "notes": f"line {n}"}) + "\n"
                           for n in range(lines)))
    schema = _schema(url)
    proc = subprocess.Popen([*CLI, "--store", url, "observe", "import", str(big)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "COMPLIANCE_MONITOR": "tester"})
    # wait until the import holds the chain lock and has moved a batch into the log, inside its transaction
    size = f"SELECT pg_relation_size('{schema}.records')"
    empty = admin_sql(size)[0][0]
    written = False
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not written:
        locked = admin_sql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                           " WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'compliance'")[0][0]
        written = bool(locked) and admin_sql(size)[0][0] > empty + 2_000_000  # uncommitted rows in the table's pages
        time.sleep(0.01)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert running and written, "the import finished (or never wrote) before it was killed: the premise failed"
    time.sleep(0.5)  # the server notices the closed connection and rolls the transaction back
    store = Store.open(url, AGREEMENT)
    try:
        assert [r.type for r in store.records() if r.type != "track"] == ["observation"]  # nothing of the import
        assert verify(store).by_type == {"track": len(store.process.agreements), "observation": 1}
    finally:
        store.close()
    after = cli("--store", url, *BREACH)
    assert after.returncode == 0 and after.stdout == "2\n", after.stderr  # the number the killed import took is free


# ---- one log, two stores ------------------------------------------------------------------------------


def test_sqlite_to_postgresql_and_back_gives_the_same_log_digest_and_verdicts(tmp_path, postgres_schema):
    laptop = tmp_path / "laptop.db"
    assert cli("--store", str(laptop), "observe", "import", str(sample_log())).returncode == 0
    live = json.loads(cli("--store", str(laptop), "observe", "list", "--format", "json").stdout)
    assert cli("--store", str(laptop), "observe", "retract", live[0]["id"], "--reason", "duplicate").returncode == 0
    assert cli("--store", str(laptop), "amend", "P3-personnel-cap", "--term", "limit", "--value", "2500", "--agreed-on",
               "2022-01-01", "--by", "AM,AZ,RU", "--source", "test").returncode == 0
    export = tmp_path / "laptop.jsonl"
    export.write_text(cli("--store", str(laptop), "observe", "export").stdout, encoding="utf-8")
    team = schema_url(postgres_schema("team"))
    moved = cli("--store", team, "observe", "import", str(export))
    assert moved.returncode == 0, moved.stderr
    # the team writes on (its role records, the --as name beside it), then the log goes back to a file
    assert cli("--store", team, *BREACH, "--as", "Field Monitor 7").returncode == 0
    back = tmp_path / "back.jsonl"
    back.write_text(cli("--store", team, "observe", "export").stdout, encoding="utf-8")
    assert json.loads(back.read_text().splitlines()[-1])["recorded_as"] == "Field Monitor 7"
    copy = tmp_path / "copy.db"
    assert cli("--store", str(copy), "observe", "import", str(back)).returncode == 0
    checks = [json.loads(cli("--store", where, "check", "--as-of", AS_OF, "--format", "json").stdout)
              for where in (str(laptop), team, str(copy))]
    heads = [cli("--store", where, "verify").stdout.split()[-1] for where in (str(laptop), team, str(copy))]
    assert checks[0]["log_digest"] == heads[0] != heads[1] and heads[1] == heads[2]  # one more record on the team's
    assert checks[1] == checks[2]
    before_the_new_one = {**checks[1], "log_digest": checks[0]["log_digest"]}
    assert checks[0] == {**before_the_new_one, "obligations": checks[0]["obligations"]}
    assert cli("--store", team, "observe", "export").stdout == back.read_text()
    assert cli("--store", str(copy), "observe", "export").stdout == back.read_text()  # the same log, line for line


def test_the_same_records_give_the_same_digest_through_the_library(postgres_schema, tmp_path):
    lines = sample_log().read_text(encoding="utf-8").splitlines()
    heads = []
    for where in (str(tmp_path / "a.db"), schema_url(postgres_schema("lib"))):
        store = Store.open(where, AGREEMENT, write=True)
        store.append(read_jsonl(lines, AGREEMENT, "sample"), "restorer")
        heads.append((store.head().digest, check(store, as_of=AS_OF).model_dump(),
                      list(export_lines(store.records()))))
        store.close()
    assert heads[0] == heads[1]


# ---- errors ---------------------------------------------------------------------------------------------

SECRET = "s3cret-Pa55word"


def _url_with(host_port: str, user: str = "root", database: str = "test") -> str:
    return f"postgresql://{user}:{SECRET}@{host_port}/{database}"


def test_an_unreachable_server_is_one_line_naming_host_and_port(tmp_path):
    require_postgres()
    for args in (("check",), tuple(BREACH), ("verify",)):
        result = cli("--store", _url_with("127.0.0.1:1"), *args)
        message = one_line_error(result, 4, "127.0.0.1:1", "cannot connect")
        assert SECRET not in result.stderr + result.stdout and "Traceback" not in result.stderr, message


def test_a_refused_login_and_a_missing_database_are_one_line_each():
    require_postgres()
    host = TEST_POSTGRES.split("@", 1)[1].split("/", 1)[0]
    refused = cli("--store", _url_with(host, user="no_such_role_for_compliance"), "check")
    one_line_error(refused, 4, host.split(":")[0], "no_such_role_for_compliance")
    missing = cli("--store", _url_with(host, database="no_such_database_for_compliance"), "check")
    one_line_error(missing, 4, "no_such_database_for_compliance", "does not exist")
    for result in (refused, missing):
        assert SECRET not in result.stderr + result.stdout


def test_the_password_is_never_shown_in_help_or_errors():
    require_postgres()
    env = {"COMPLIANCE_STORE": _url_with("127.0.0.1:1")}
    for args in (("--help",), ("check", "--help"), ("observe", "import", "--help")):
        result = cli(*args, **env)
        assert result.returncode == 0 and SECRET not in result.stdout + result.stderr
    result = cli("check", **env)
    assert result.returncode == 4 and SECRET not in result.stdout + result.stderr


def test_a_schema_that_does_not_exist_reads_as_an_empty_log_and_is_not_created(postgres_schema, tmp_path):
    schema = postgres_schema("absent")
    url = schema_url(schema)
    result = cli("--store", url, "check", "--as-of", AS_OF, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"compliance: warning: {url}: no store here (check --store or "
                                          "COMPLIANCE_STORE); reading an empty log"]
    assert cli("--store", url, "observe", "list").stdout.endswith("0 observations\n")
    one_line_error(cli("--store", url, "verify"), 4, "no store here")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"kind": "ceasefire.breach", "date": "2021-07-01", "actor": "AZ", "source": "s",
                               "source_party": "AM"}) + "\n" + json.dumps({"kind": "nope"}) + "\n")
    one_line_error(cli("--store", url, "observe", "import", str(bad)), 2, f"{bad}:2")
    assert admin_sql("SELECT count(*) FROM pg_namespace WHERE nspname = %s", params=(schema,)) == [(0,)]


def test_a_store_of_a_later_version_is_refused(sample_store):
    admin_sql(f"UPDATE {_schema(sample_store)}.meta SET value = '99' WHERE key = 'schema'")
    one_line_error(cli("--store", sample_store, "check"), 4, "schema version is '99'", "upgrade")


def test_a_snapshot_is_plain_data_evaluated_after_the_store_is_closed(sample_store):
    from compliance.check import evaluate_snapshot, snapshot

    store = Store.open(sample_store, AGREEMENT)
    expected = check(store, as_of=AS_OF)
    import datetime as dt

    snap = snapshot(store, dt.date.fromisoformat(AS_OF))
    store.close()
    assert evaluate_snapshot(snap) == expected


def test_store_errors_are_store_errors_in_the_library(sample_store, roles):
    reader = roles("libreader")
    assert cli("--store", sample_store, "grant", "reader", reader).returncode == 0
    store = Store.open(schema_url(_schema(sample_store), user=reader), AGREEMENT, write=True)
    try:
        with pytest.raises(StoreError, match="needs the monitor right"):
            store.append([observation_record({"kind": "ceasefire.breach", "date": "2021-07-01", "actor": "AZ",
                                              "source": "s", "source_party": "AM"}, AGREEMENT)], "x")
    finally:
        store.close()
