"""The observation log: append-only, IDs never reused, corrections and retractions as new records; every test runs
on both backends (a SQLite file, a schema on the PostgreSQL test server: `location` in conftest.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest

from compliance.check import check
from compliance.clauses import parse_agreement
from compliance.errors import InputError, StoreMismatchError, UnknownReferenceError
from compliance.exchange import amendment_record, export_lines, observation_record, read_jsonl, retraction_record
from compliance.records import genesis_digest
from compliance.resources import clauses_dir
from compliance.store import Store

from conftest import author, store_exists

BREACH = {"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "Armenian MoD", "source_party": "AM"}


def add(store, agreement, fields, by="monitor-a"):
    return store.append([observation_record(fields, agreement)], by)[0]


def test_ids_and_store_fields_are_assigned_by_the_store(location, agreement):
    store = Store.open(location(), agreement, write=True)
    first = add(store, agreement, BREACH)
    second = add(store, agreement, {**BREACH, "date": "2021-07-14"}, by="monitor-b")
    assert (first, second) == ("1", "2")
    record = store.get(2)
    assert (record.recorded_by, record.recorded_as) == author(store, "monitor-b")
    assert record.recorded_at.endswith("Z") and record.recorded_at >= store.get(1).recorded_at
    assert record.hash.startswith("sha256:") and record.hash != store.get(1).hash


def test_a_correction_supersedes_and_the_original_stays(location, agreement):
    store = Store.open(location(), agreement, write=True)
    add(store, agreement, BREACH)
    new_id = store.append([observation_record({**BREACH, "date": "2021-07-12"}, agreement, supersedes="1")], "m")[0]
    assert new_id == "2"
    assert store.get(1).body["date"] == "2021-07-13" and store.get(1).ended_by == "2"
    assert [r.id for r in store.history(1)] == ["1", "2"]
    live = store.live_observations(store.head())
    assert [(r.id, r.body["date"]) for r in live] == [("2", "2021-07-12")]


def test_only_the_latest_record_of_a_chain_can_be_corrected_or_retracted(location, agreement):
    store = Store.open(location(), agreement, write=True)
    add(store, agreement, BREACH)
    store.append([observation_record(BREACH, agreement, supersedes="1")], "m")
    with pytest.raises(InputError, match="already superseded or retracted by record 2"):
        store.append([retraction_record("1", "mistake")], "m")
    store.append([retraction_record("2", "duplicate")], "m")
    with pytest.raises(InputError, match="already superseded or retracted by record 3"):
        store.append([observation_record(BREACH, agreement, supersedes="2")], "m")
    with pytest.raises(UnknownReferenceError):
        store.append([retraction_record("99", "no such")], "m")
    assert [r.id for r in store.records() if r.type != "track"] == ["1", "2", "3"]


def test_ids_are_never_reused_after_a_failed_write(location, agreement):
    store = Store.open(location(), agreement, write=True)
    add(store, agreement, BREACH)
    with pytest.raises(UnknownReferenceError):
        store.append([observation_record(BREACH, agreement), retraction_record("42", "x")], "m")
    assert add(store, agreement, BREACH) == "2"


def test_import_is_all_or_nothing_and_names_the_line_and_field(tmp_path, agreement):
    lines = [json.dumps(BREACH), "", json.dumps({**BREACH, "date": "2021-07-14"}), json.dumps({**BREACH, "actor": "XX"})]
    with pytest.raises(InputError) as error:
        read_jsonl(lines, agreement, "in.jsonl")
    assert str(error.value).startswith("in.jsonl:4: actor: unknown party code 'XX'")
    assert not (tmp_path / "log.db").exists()


def test_store_fields_are_rejected_into_a_non_empty_store(location, agreement):
    store = Store.open(location(), agreement, write=True)
    add(store, agreement, BREACH)
    records = read_jsonl([json.dumps({**BREACH, "id": "7", "recorded_at": "2021-07-14T00:00:00Z", "recorded_by": "x"})],
                         agreement, "in.jsonl")
    with pytest.raises(InputError, match="only into an empty store"):
        store.append(records, "m")


def test_export_then_restore_reproduces_verdicts_and_digest(location, agreement):
    source = Store.open(location("a"), agreement, write=True)
    add(source, agreement, BREACH)
    add(source, agreement, {**BREACH, "source_party": "RU", "source": "Russian MoD"})
    source.append([retraction_record("2", "wrong actor")], "m")
    source.append([amendment_record({"obligation": "P3-personnel-cap", "term": "limit", "value": 2500,
                                     "agreed_on": "2021-01-01", "by": "AM,AZ,RU", "source": "test"}, agreement)], "m")
    lines = list(export_lines(source.records()))
    assert json.loads(lines[-1])["id"] == "nov-10-2020-A2"
    target = Store.open(location("b"), agreement, write=True)
    target.append(read_jsonl(lines, agreement, "export.jsonl"), "restorer")
    assert target.head().digest == source.head().digest
    as_of = dt.date(2021, 9, 30)
    assert check(target, as_of=as_of) == check(source, as_of=as_of)
    assert [(r.recorded_by, r.recorded_as) for r in target.records() if r.type != "track"] == \
        [author(source, "monitor-a")] * 2 + [author(source, "m")] * 2  # a restore keeps them


def test_a_store_tracks_what_its_log_says_whatever_agreement_it_is_opened_with(location, agreement):
    where = location()
    store = Store.open(where, agreement, write=True)
    add(store, agreement, BREACH)
    other_text = (clauses_dir() / "nov-10-2020.yaml").read_text(encoding="utf-8").replace(
        "id: nov-10-2020", "id: other-agreement").replace("nov-10-2020-A1", "other-agreement-A1")
    other = parse_agreement(other_text, "other.yaml")
    assert Store.open(where, other).process.ids == ["nov-10-2020"]


def test_reading_a_missing_store_is_an_empty_log_and_creates_nothing(location, agreement):
    where = location("missing")
    store = Store.open(where, agreement)
    assert not store.exists and store.is_empty() and store.head().digest == genesis_digest("nov-10-2020")
    assert list(store.records()) == [] and check(store, as_of=dt.date(2021, 1, 1)).log_digest == store.head().digest
    assert not store_exists(where)


def test_as_recorded_reads_the_log_as_it_stood(location, agreement):
    store = Store.open(location(), agreement, write=True)
    add(store, agreement, {**BREACH, "source_party": "independent", "source": "ICRC"})
    before = store.head()
    moment = dt.datetime.fromisoformat(store.get(1).recorded_at.replace("Z", "+00:00"))
    store.append([retraction_record("1", "misattributed")], "m")
    as_of = dt.date(2021, 7, 31)
    assert check(store, as_of=as_of).verdict_of("P1-ceasefire-AZ").value == "compliant"
    then = check(store, as_of=as_of, as_recorded=moment)
    assert then.verdict_of("P1-ceasefire-AZ").value == "violated"
    assert then.log_digest == before.digest != store.head().digest


def test_amendments_recorded_in_the_log_continue_the_agreement_numbering(location, agreement):
    store = Store.open(location(), agreement, write=True)
    ids = store.append([amendment_record({"obligation": "P2-aghdam-return", "term": "deadline", "value": "2020-11-30",
                                          "agreed_on": "2020-11-18", "by": ["AZ"], "source": "test"}, agreement)], "m")
    assert ids == ["nov-10-2020-A2"]
    result = check(store, as_of=dt.date(2020, 11, 25))
    assert next(o for o in result.obligations if o.id == "P2-aghdam-return").due == "2020-11-30"


@pytest.mark.parametrize("data, field", [
    ({"obligation": "P9-teleport", "term": "deadline", "value": "2021-01-01"}, "obligation"),
    ({"obligation": "P2-aghdam-return", "term": "limit", "value": "5"}, "term"),
    ({"obligation": "P3-personnel-cap", "term": "limit", "value": "many"}, "value"),
    ({"obligation": "P2-aghdam-return", "term": "deadline", "value": "soon"}, "date"),
])
def test_bad_amendments_name_the_field(agreement, data, field):
    with pytest.raises(InputError) as error:
        amendment_record({**data, "agreed_on": "2020-11-18", "by": "AZ", "source": "s"}, agreement)
    assert error.value.where == field or field in str(error.value)


def test_the_sample_log_is_read_only_and_loads_with_stable_ids(agreement):
    store = Store.open("sample", agreement)
    assert not store.writable
    with pytest.raises(InputError, match="read-only"):
        store.append([observation_record(BREACH, agreement)], "m")
    assert store.get(1).body["kind"] == "contingent.personnel"
    assert store.head().digest == Store.open("sample", agreement).head().digest


# An import appends in batches (BATCH_ROWS rows). A record of an earlier batch must be found, corrected and counted
# as if it were written at once.

def _batch_lines(count: int, **lines: dict) -> bytes:
    """`count` breach lines, one per day from 2021-01-01; `lines` replaces line N (key `line_N`) with its fields."""
    out = []
    for number in range(1, count + 1):
        day = dt.date(2021, 1, 1) + dt.timedelta(days=number % 700)
        out.append(lines.get(f"line_{number}", {**BREACH, "date": day.isoformat()}))
    return "".join(json.dumps(line) + "\n" for line in out).encode()


def test_an_import_corrects_a_record_of_an_earlier_batch(location, agreement):
    from compliance.recording import import_jsonl
    from compliance.store.chain import BATCH_ROWS

    lines = 2 * BATCH_ROWS + 500
    later = BATCH_ROWS + 1500  # in the second batch; line 3000 (ID 3000 in a new store) is in the first
    correction = {**BREACH, "date": "2021-02-02", "actor": "AM", "supersedes": "3000"}
    store = Store.open(location(), agreement, write=True)
    count, _ = import_jsonl(store, io.BytesIO(_batch_lines(lines, **{f"line_{later}": correction})), where="big.jsonl")
    assert count == lines
    assert store.get(3000).ended_by == str(later)
    assert store.get(later).body["supersedes"] == "3000"
    assert store.summary_problem() is None  # the evidence summary counts the live observations only
    live = [r for r in store.records() if r.type == "observation" and r.ended_by is None]
    assert len(live) == lines - 1


def test_an_import_that_fails_in_its_last_batch_writes_nothing(location, agreement):
    from compliance.recording import import_jsonl
    from compliance.store.chain import BATCH_ROWS

    lines = 2 * BATCH_ROWS + 500
    bad = 2 * BATCH_ROWS + 400  # after two batches were handed to the store
    store = Store.open(location(), agreement, write=True)
    add(store, agreement, BREACH)
    head = store.head()
    with pytest.raises(InputError) as raised:
        import_jsonl(store, io.BytesIO(_batch_lines(lines, **{f"line_{bad}": {**BREACH, "kind": "ceasfire.breach"}})),
                     where="big.jsonl")
    assert (raised.value.file, raised.value.line, raised.value.field) == ("big.jsonl", bad, "kind")
    assert store.head() == head and [r.id for r in store.records() if r.type == "observation"] == ["1"]
    assert store.summary_problem() is None


def test_a_new_store_file_has_16k_pages_and_an_older_file_keeps_its_own(tmp_path, agreement):
    import shutil
    import sqlite3

    from compliance.store.sqlite import PAGE_SIZE

    def page_size(path) -> int:
        with sqlite3.connect(path) as db:
            return db.execute("PRAGMA page_size").fetchone()[0]

    new = tmp_path / "new.db"
    add(Store.open(str(new), agreement, write=True), agreement, BREACH)
    assert page_size(new) == PAGE_SIZE == 16384
    old = tmp_path / "old.db"
    shutil.copy(Path(__file__).parent / "fixtures" / "store-v1.db", old)
    before = page_size(old)
    assert before != PAGE_SIZE  # the premise: a file written with SQLite's default pages
    add(Store.open(str(old), agreement, write=True), agreement, BREACH)
    assert page_size(old) == before


# The reading process of an import hashes plain observations ahead, from where the writer guessed the chain starts
# (`store.chain.ChainGuess`); the writer uses such a hash only when the record follows that very hash and takes the
# ID the guess assumed, and hashes the record itself otherwise.

def _hashes_in_this_process(monkeypatch) -> list[str]:
    """Count the chain hashes the writer makes in this process (the reading process's are its own)."""
    import compliance.store.chain as chain

    made: list[str] = []
    real = chain.chain_hash_of_text

    def counted(*args):
        made.append(args[1])
        return real(*args)
    monkeypatch.setattr(chain, "chain_hash_of_text", counted)
    return made


def test_an_import_is_hashed_ahead_and_its_chain_verifies(location, agreement, monkeypatch):
    from compliance.integrity import verify
    from compliance.recording import import_jsonl

    store = Store.open(location(), agreement, write=True)
    made = _hashes_in_this_process(monkeypatch)
    count, _ = import_jsonl(store, io.BytesIO(_batch_lines(600)), where="plain.jsonl")
    assert count == 600
    tracks = [r.id for r in store.records() if r.type == "track"]
    assert made == tracks + tracks  # the guess (after the new store's track records), then the track records
    assert verify(store).records == 600 + len(tracks)


def test_an_import_the_guess_got_wrong_is_hashed_by_the_writer(location, agreement, monkeypatch):
    from compliance.integrity import verify
    from compliance.recording import import_jsonl

    store = Store.open(location(), agreement, write=True)
    add(store, agreement, {**BREACH, "external_id": "e-1"})
    made = _hashes_in_this_process(monkeypatch)
    # line 1 is in the log already (left out: every later ID is one less than guessed); line 300 retracts
    lines = _batch_lines(400, line_1={**BREACH, "external_id": "e-1"},
                         line_300={"retracts": "1", "reason": "duplicate"})
    count, plan = import_jsonl(store, io.BytesIO(lines), where="again.jsonl")
    assert (count, plan.unchanged) == (399, 1)
    assert len(made) >= 399 and store.get(1).ended_by is not None
    assert verify(store).records == 400 + len([r for r in store.records() if r.type == "track"])
