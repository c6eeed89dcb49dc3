"""`verify` and `compliance verify`: every kind of alteration behind the tool's back is found and named.

Each test alters a store file with plain SQL, the way someone with the file and a SQLite shell would,
then expects verify to fail naming the record (exit 3 from the command line). The `rechain` helper
plays a capable attacker who recomputes every hash and the meta rows after an edit, so that the
semantic checks (IDs, times, derived columns, links) are each shown to catch what the chain alone
would not.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from compliance.clauses import load_agreement
from compliance.errors import IntegrityError
from compliance.exchange import amendment_record, ending_record, export_lines, read_jsonl
from compliance.integrity import verify
from compliance.records import chain_hash, genesis_digest
from compliance.resources import sample_log
from compliance.store import Store

AGREEMENT = load_agreement("nov-10-2020")
SAMPLE_LINES = sample_log().read_text(encoding="utf-8").splitlines()
SAMPLE_RECORDS = sum(1 for line in SAMPLE_LINES if line.strip())                  # 111: the sample log
SAMPLE_RETRACTIONS = sum(1 for line in SAMPLE_LINES if '"retracts"' in line)      # 5
SAMPLE_TRACKS = sum(1 for line in SAMPLE_LINES if '"record": "track"' in line)     # 2: jan-11-2021, nov-26-2021
BUILT_RECORDS = SAMPLE_RECORDS + 3                                                  # build_store adds 3
CLI = [str(Path(sys.executable).with_name("compliance"))]  # the console script of this environment


def build_store(path: Path, *, extra: bool = True) -> Path:
    """The sample log restored into a store file, then (with `extra`) new observations, an amendment and an ending."""
    store = Store.open(path, AGREEMENT, write=True)
    store.append(read_jsonl(SAMPLE_LINES, AGREEMENT, "sample"), recorded_by="restore")
    if extra:
        store.append(read_jsonl([json.dumps({"kind": "contingent.personnel", "date": "2021-10-01", "actor": "RU",
                                             "value": 1960, "source": "Russian MoD", "source_party": "RU"})],
                                AGREEMENT, "new"), recorded_by="tester")
        store.append([amendment_record({"obligation": "P3-personnel-cap", "term": "limit", "value": 2000,
                                        "agreed_on": "2021-10-02", "by": ["AM", "AZ", "RU"], "source": "test"}, AGREEMENT)],
                     recorded_by="tester")
        store.append([ending_record({"obligation": "P9-transport-links", "on": "2021-10-03", "by": "AM,AZ",
                                     "source": "test"}, AGREEMENT)], recorded_by="tester")
    store.close()
    return path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return build_store(tmp_path / "log.db")


def run_verify(path: Path, **kwargs) -> object:
    store = Store.open(path, AGREEMENT)
    try:
        return verify(store, **kwargs)
    finally:
        store.close()


def sql(path: Path, statement: str, params: tuple = ()) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute(statement, params)
    db.close()


def rechain(path: Path) -> None:
    """Recompute every prev_hash and hash, and the meta rows, as an attacker covering their tracks would."""
    db = sqlite3.connect(path)
    with db:
        prev = genesis_digest(AGREEMENT.id)
        rows = db.execute("SELECT seq, id, type, body, recorded_at, recorded_by, recorded_as FROM records ORDER BY seq").fetchall()
        for seq, rid, rtype, body, at, by, shown in rows:
            digest = chain_hash(prev, rid, rtype, json.loads(body), at, by, shown)
            db.execute("UPDATE records SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, seq))
            prev = digest
        db.execute("UPDATE meta SET value = ? WHERE key = 'head'", (prev,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'record_count'", (str(len(rows)),))
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_number'", (str(rows[-1][0] if rows else 0),))
    db.close()
    sql(path, "DELETE FROM meta WHERE key = 'summary'")  # derived data the store keeps for queries: rebuilt as well
    Store.open(path, AGREEMENT, write=True).close()  # (by the next open for writing)


def expect_failure(path: Path, *words: str) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        run_verify(path)
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert caught.value.exit_code == 3
    return caught.value


def body_of(path: Path, record_id: str) -> dict:
    db = sqlite3.connect(path)
    (body,) = db.execute("SELECT body FROM records WHERE id = ?", (record_id,)).fetchone()
    db.close()
    return json.loads(body)


# ---- a log the tool wrote verifies ---------------------------------------------------------------


def test_clean_log_verifies_and_reports_count_and_head(db_path: Path) -> None:
    report = run_verify(db_path)
    assert report.records == BUILT_RECORDS
    assert report.by_type == {"observation": SAMPLE_RECORDS - SAMPLE_RETRACTIONS - SAMPLE_TRACKS + 1,
                              "retraction": SAMPLE_RETRACTIONS, "track": SAMPLE_TRACKS, "amendment": 1, "ending": 1}
    store = Store.open(db_path, AGREEMENT)
    assert report.head == store.head().digest
    store.close()
    assert report.summary() == f"ok: {BUILT_RECORDS} records, chain head {report.head}"


def test_empty_and_sample_logs_verify() -> None:
    assert run_empty().records == 0
    sample = Store.sample(AGREEMENT)
    assert verify(sample).records == SAMPLE_RECORDS


def run_empty():
    return verify(Store.memory(AGREEMENT))


def test_restore_rebuilds_a_chain_that_verifies(db_path: Path, tmp_path: Path) -> None:
    original = Store.open(db_path, AGREEMENT)
    lines = list(export_lines(original.records()))
    head = original.head().digest
    original.close()
    restored = Store.open(tmp_path / "restored.db", AGREEMENT, write=True)
    restored.append(read_jsonl(lines, AGREEMENT, "backup.jsonl"), recorded_by="restore")
    report = verify(restored)
    assert report.records == BUILT_RECORDS and report.head == head


def test_verify_never_writes(db_path: Path) -> None:
    before = hashlib.sha256(db_path.read_bytes()).hexdigest(), db_path.stat().st_mtime_ns
    run_verify(db_path)
    result = subprocess.run([*CLI, "--store", str(db_path), "verify"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (hashlib.sha256(db_path.read_bytes()).hexdigest(), db_path.stat().st_mtime_ns) == before


# ---- the chain -------------------------------------------------------------------------------------


def test_edited_body_breaks_its_hash(db_path: Path) -> None:
    body = body_of(db_path, "12")
    body["source"] = "someone else"
    sql(db_path, "UPDATE records SET body = ? WHERE id = '12'", (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),))
    expect_failure(db_path, "record 12", "hash does not match")


def test_edited_store_fields_break_the_hash(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET recorded_by = 'mallory' WHERE id = '30'")
    expect_failure(db_path, "record 30", "hash does not match")


def test_rehashing_one_record_breaks_the_link_to_the_next(db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    seq, rid, rtype, body, at, by, prev = db.execute(
        "SELECT seq, id, type, body, recorded_at, recorded_by, prev_hash FROM records WHERE id = '12'").fetchone()
    data = json.loads(body)
    data["source"] = "someone else"
    with db:
        db.execute("UPDATE records SET body = ?, hash = ? WHERE seq = ?",
                   (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
                    chain_hash(prev, rid, rtype, data, at, by), seq))
    db.close()
    expect_failure(db_path, "record 13", "prev_hash does not link to record 12")


def test_deleted_middle_record_breaks_the_chain(db_path: Path) -> None:
    sql(db_path, "DELETE FROM records WHERE id = '7'")
    expect_failure(db_path, "record 8", "prev_hash")


def test_non_canonical_body_is_found_even_though_its_hash_matches(db_path: Path) -> None:
    # same JSON value, other spelling: the hash (over the parsed value) still matches, the text check does not
    body = body_of(db_path, "3")
    sql(db_path, "UPDATE records SET body = ? WHERE id = '3'", (json.dumps(body, indent=1),))
    expect_failure(db_path, "record 3", "canonical")


def test_body_that_is_not_json(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET body = 'not json' WHERE id = '5'")
    expect_failure(db_path, "record 5", "not valid JSON")


def test_first_record_must_link_to_the_genesis_digest(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET prev_hash = 'sha256:00' WHERE seq = 1")
    expect_failure(db_path, "record 1", "genesis")


# ---- the end of the log ----------------------------------------------------------------------------


def test_deleted_last_record_is_found_by_last_number(db_path: Path) -> None:
    # last_number counts observations and retractions: remove the last of them (and what follows it)
    sql(db_path, "DELETE FROM records WHERE seq >= (SELECT max(seq) FROM records WHERE type = 'observation')")
    expect_failure(db_path, "meta", "last_number")


def test_deleted_last_records_with_last_number_fixed_are_found_by_count_and_head(db_path: Path) -> None:
    sql(db_path, f"DELETE FROM records WHERE seq > {SAMPLE_RECORDS}")
    sql(db_path, f"UPDATE meta SET value = '{SAMPLE_RECORDS}' WHERE key = 'last_number'")
    expect_failure(db_path, "meta", f"ends at {SAMPLE_RECORDS} records", f"recorded '{BUILT_RECORDS}' records")


def test_removed_meta_head_is_found(db_path: Path) -> None:
    sql(db_path, "DELETE FROM meta WHERE key IN ('head', 'record_count')")
    expect_failure(db_path, "meta", "missing")


def test_truncation_with_meta_rewritten_is_found_only_against_a_published_head(db_path: Path) -> None:
    published = run_verify(db_path).head
    sql(db_path, f"DELETE FROM records WHERE seq > {SAMPLE_RECORDS}")
    rechain(db_path)  # meta now agrees with the shorter log: the chain alone cannot tell
    assert run_verify(db_path).records == SAMPLE_RECORDS
    with pytest.raises(IntegrityError, match="is not in this log"):
        run_verify(db_path, expect_head=published)


def test_published_head_of_an_earlier_state_is_accepted(db_path: Path) -> None:
    store = Store.open(db_path, AGREEMENT)
    earlier = [r.hash for r in store.records()][20]
    store.close()
    assert run_verify(db_path, expect_head=earlier).records == BUILT_RECORDS
    assert run_verify(db_path, expect_head=genesis_digest(AGREEMENT.id)).records == BUILT_RECORDS


def test_rewritten_log_is_found_against_a_published_head(db_path: Path) -> None:
    published = run_verify(db_path).head
    body = body_of(db_path, "12")
    body["source"] = "someone else"
    sql(db_path, "UPDATE records SET body = ? WHERE id = '12'", (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),))
    rechain(db_path)
    run_verify(db_path)  # a full rewrite is consistent in itself
    with pytest.raises(IntegrityError, match="is not in this log"):
        run_verify(db_path, expect_head=published)


# ---- semantic checks, with the chain recomputed -----------------------------------------------------


def test_derived_column_edited_without_the_body(db_path: Path) -> None:
    # queries read the columns: an actor changed there alone would change verdicts, not hashes
    sql(db_path, "UPDATE records SET actor = 'AZ' WHERE id = '53'")
    expect_failure(db_path, "record 53", "column actor holds 'AZ'", "'AM'")


@pytest.mark.parametrize("column, value", [("kind", "ceasefire.breach"), ("day", "2020-01-01"), ("lo", 1),
                                           ("hi", 99999), ("claim", "denies"), ("source_party", "independent"),
                                           ("subject", "Lachin"), ("sup", "UNHCR"), ("day_end", "2030-01-01")])
def test_every_derived_column_is_checked(db_path: Path, column: str, value: object) -> None:
    sql(db_path, f"UPDATE records SET {column} = ? WHERE id = '1'", (value,))
    expect_failure(db_path, "record 1", f"column {column}")


def test_evidence_summary_edited(db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    has_summary = db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'evidence_summary'").fetchone()
    db.close()
    if not has_summary:
        pytest.skip("this store keeps no evidence summary")
    sql(db_path, "UPDATE evidence_summary SET n = n + 1 WHERE kind = 'ceasefire.breach'")
    expect_failure(db_path, "evidence summary", "does not match")


def test_derived_columns_of_other_records_must_be_empty(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET kind = 'ceasefire.breach' WHERE type = 'amendment'")
    expect_failure(db_path, "record nov-10-2020-A2", "column kind")


def test_retracted_observation_brought_back_by_clearing_ended_by(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET ended_by = NULL WHERE id = '20'")
    expect_failure(db_path, "record 20", "ended_by", "seq 54")


def test_observation_ended_by_nothing(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET ended_by = 3 WHERE id = '58'")   # 58: an observation nothing ends
    expect_failure(db_path, "record 58", "ended_by", "no record")


def test_target_column_edited(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET target = '19' WHERE id = '54'")
    expect_failure(db_path, "record 54", "column target")


def test_body_edited_and_rechained_no_longer_validates(db_path: Path) -> None:
    body = body_of(db_path, "12")
    body["kind"] = "no.such.kind"
    sql(db_path, "UPDATE records SET body = ? WHERE id = '12'", (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),))
    rechain(db_path)
    expect_failure(db_path, "record 12", "does not validate", "unknown kind")


def test_body_not_in_validated_form(db_path: Path) -> None:
    body = body_of(db_path, "1")
    del body["claim"]  # validation always writes claim (default affirms)
    sql(db_path, "UPDATE records SET body = ? WHERE id = '1'", (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),))
    rechain(db_path)
    expect_failure(db_path, "record 1", "not what validation gives", "claim")


def test_retraction_of_a_record_that_does_not_exist(db_path: Path) -> None:
    body = body_of(db_path, "54")
    body["retracts"] = "999"
    sql(db_path, "UPDATE records SET body = ?, target = '999' WHERE id = '54'",
        (json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False),))
    sql(db_path, "UPDATE records SET ended_by = NULL WHERE id = '20'")
    rechain(db_path)
    expect_failure(db_path, "record 54", "retracts 999", "no earlier record")


def test_second_end_of_the_same_observation(db_path: Path) -> None:
    # a second retraction of 20, appended by hand
    db = sqlite3.connect(db_path)
    last = db.execute("SELECT max(seq), max(recorded_at) FROM records").fetchone()
    with db:
        db.execute("INSERT INTO records (seq, id, type, body, recorded_at, recorded_by, prev_hash, hash, target)"
                   " VALUES (?, ?, 'retraction', ?, ?, 'mallory', '', '', '20')",
                   (last[0] + 1, str(last[0] + 1), '{"reason":"again","retracts":"20"}', last[1]))
    db.close()
    rechain(db_path)
    expect_failure(db_path, f"record {last[0] + 1}", "already ended")


def test_id_that_is_not_its_sequence_number(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET id = '1000' WHERE id = '10'")
    rechain(db_path)
    expect_failure(db_path, "record 1000", "sequence number 10")


def test_amendment_id_scheme(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET id = 'nov-10-2020-X2' WHERE type = 'amendment'")
    rechain(db_path)
    expect_failure(db_path, "record nov-10-2020-X2", "nov-10-2020-A<n>")


def test_recorded_at_going_back(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET recorded_at = '2020-01-01T00:00:00.000000Z' WHERE id = '40'")
    rechain(db_path)
    expect_failure(db_path, "record 40", "earlier than record 39")


def test_recorded_at_not_as_the_store_writes_it(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET recorded_at = 'yesterday' WHERE seq = (SELECT max(seq) FROM records)")
    rechain(db_path)
    expect_failure(db_path, "record nov-10-2020-E1", "recorded_at")


def test_records_reordered(db_path: Path) -> None:
    # swap the seq of two records and rechain: the IDs no longer match their sequence numbers
    sql(db_path, "UPDATE records SET seq = -1 WHERE seq = 30")
    sql(db_path, "UPDATE records SET seq = 30 WHERE seq = 31")
    sql(db_path, "UPDATE records SET seq = 31 WHERE seq = -1")
    rechain(db_path)
    expect_failure(db_path, "record 31", "sequence number 30")


def test_meta_agreement_altered_under_an_open_store(db_path: Path) -> None:
    store = Store.open(db_path, AGREEMENT)
    sql(db_path, "UPDATE meta SET value = 'other' WHERE key = 'agreement'")
    with pytest.raises(IntegrityError, match="agreement 'other'"):
        verify(store)
    store.close()


def test_index_out_of_step_with_its_table(db_path: Path) -> None:
    # an index entry changed behind the table: queries reading the index would see another log
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA writable_schema = ON")
    with db:
        db.execute("UPDATE sqlite_schema SET sql = replace(sql, 'recorded_at)', 'recorded_by)') "
                   "WHERE name = 'records_recorded_at'")
    db.close()
    expect_failure(db_path, "store", "damaged")


def test_damaged_file(db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    (root,) = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'records'").fetchone()
    db.close()
    data = bytearray(db_path.read_bytes())
    start = (root - 1) * page_size  # the records table's root page: scramble its header
    data[start:start + 12] = bytes(b ^ 0x5A for b in data[start:start + 12])
    db_path.write_bytes(bytes(data))
    expect_failure(db_path, "store", "damaged")
    result = cli("--store", str(db_path), "verify")
    assert result.returncode == 3 and len(result.stderr.splitlines()) == 1, result.stderr


# ---- the command -----------------------------------------------------------------------------------


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COMPLIANCE_MONITOR": "tester"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def test_cli_ok(db_path: Path) -> None:
    result = cli("--store", str(db_path), "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ok: {BUILT_RECORDS} records, chain head sha256:")
    assert cli("verify", "--store", "sample").stdout.startswith(f"ok: {SAMPLE_RECORDS} records")


def test_cli_altered_log_exits_3_with_one_line(db_path: Path) -> None:
    sql(db_path, "UPDATE records SET actor = 'AZ' WHERE id = '53'")
    result = cli("--store", str(db_path), "verify")
    assert result.returncode == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("compliance: error: record 53: column actor"), result.stderr


def test_cli_published_head(db_path: Path) -> None:
    head = cli("--store", str(db_path), "verify").stdout.split()[-1]
    assert cli("--store", str(db_path), "verify", "--head", head).returncode == 0
    result = cli("--store", str(db_path), "verify", "--head", "sha256:" + "0" * 64)
    assert result.returncode == 3 and "--head" in result.stderr


def test_cli_missing_store_is_an_environment_error(tmp_path: Path) -> None:
    result = cli("--store", str(tmp_path / "typo.db"), "verify")
    assert result.returncode == 4
    assert "no store here" in result.stderr
    assert not (tmp_path / "typo.db").exists()


def test_cli_import_then_verify_then_export_restore_verify(tmp_path: Path) -> None:
    store = tmp_path / "a.db"
    assert cli("--store", str(store), "observe", "import", str(sample_log())).returncode == 0
    assert cli("--store", str(store), "observe", "retract", "58", "--reason", "test").returncode == 0
    first = cli("--store", str(store), "verify")
    assert first.returncode == 0, first.stderr
    backup = tmp_path / "backup.jsonl"
    backup.write_text(cli("--store", str(store), "observe", "export").stdout)
    assert cli("--store", str(tmp_path / "b.db"), "observe", "import", str(backup)).returncode == 0
    second = cli("--store", str(tmp_path / "b.db"), "verify")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
