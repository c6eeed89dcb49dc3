"""An obligation ends once: `end` twice is refused ("already ended by <ID> on <date>") unless the new ending names
the one it corrects (`--supersedes ID`); the superseded ending no longer applies; export, restore and verify keep
working with it."""

from __future__ import annotations

from compliance.process import bundled_process_ids

TRACKS = len(bundled_process_ids())  # a new store's first records say which agreements it tracks

import json
import sqlite3

import pytest

from compliance.check import check
from compliance.clauses import load_agreement
from compliance.errors import IntegrityError
from compliance.integrity import verify
from compliance.records import chain_hash, genesis_digest
from compliance.store import Store

from safety_cli import refused_import, run

AGREEMENT = load_agreement("nov-10-2020")
END = ["end", "P3-personnel-cap", "--by", "AZ,RU", "--source", "RU MoD"]


def verdict(store_path, day: str) -> str:
    import datetime as dt

    store = Store.open(store_path, AGREEMENT)
    try:
        result = check(store, as_of=dt.date.fromisoformat(day))
    finally:
        store.close()
    return result.verdict_of("P3-personnel-cap").value


def test_a_second_end_is_refused_and_a_superseding_one_corrects_the_date(tmp_path):
    store = tmp_path / "log.db"
    assert run(*END, "--on", "2024-06-12", "--store", str(store)).stdout == "nov-10-2020-E1\n"
    again = run(*END, "--on", "2024-06-20", "--store", str(store))
    assert again.exit_code == 2
    assert again.stderr == ("compliance: error: OBLIGATION: P3-personnel-cap is already ended by nov-10-2020-E1 on "
                            "2024-06-12; to correct that ending, record the new one with --supersedes nov-10-2020-E1\n")
    assert verdict(store, "2024-06-15") == "not-in-force"
    fixed = run(*END, "--on", "2024-06-20", "--supersedes", "nov-10-2020-E1", "--store", str(store))
    assert fixed.stdout == "nov-10-2020-E2\n"
    assert verdict(store, "2024-06-15") != "not-in-force"  # E1 no longer applies
    assert verdict(store, "2024-06-20") == "not-in-force"
    shown = run("clauses", "show", "P3-personnel-cap", "--as-of", "2024-07-01", "--store", str(store)).stdout
    assert "endings: nov-10-2020-E2 from 2024-06-20" in shown and "E1" not in shown.split("endings:")[1]
    assert run("verify", "--store", str(store)).stdout.startswith(f"ok: {TRACKS + 2} records")


@pytest.mark.parametrize("supersedes, reason", [
    ("nov-10-2020-E9", "no ending with ID nov-10-2020-E9"),
    ("nov-10-2020-E1", "ending nov-10-2020-E1 was already superseded by nov-10-2020-E2"),
])
def test_what_supersedes_names_is_checked(tmp_path, supersedes, reason):
    store = str(tmp_path / "log.db")
    run(*END, "--on", "2024-06-12", "--store", store)
    run(*END, "--on", "2024-06-20", "--supersedes", "nov-10-2020-E1", "--store", store)
    result = run(*END, "--on", "2024-06-21", "--supersedes", supersedes, "--store", store)
    assert result.exit_code == 2 and result.stderr.startswith(f"compliance: error: --supersedes: {reason}")


def test_an_ending_of_another_obligation_cannot_be_superseded(tmp_path):
    store = str(tmp_path / "log.db")
    run(*END, "--on", "2024-06-12", "--store", store)
    result = run("end", "P3-apc-cap", "--by", "AZ,RU", "--source", "x", "--on", "2024-06-12", "--supersedes",
                 "nov-10-2020-E1", "--store", store)
    assert result.stderr == "compliance: error: --supersedes: ending nov-10-2020-E1 ends P3-personnel-cap, not P3-apc-cap\n"
    assert run("end", "P3-apc-cap", "--by", "AZ,RU", "--source", "x", "--on", "2024-06-12", "--store", store).exit_code == 0


def test_an_import_that_ends_an_obligation_twice_names_its_line(tmp_path):
    ending = {"record": "ending", "obligation": "P3-personnel-cap", "on": "2024-06-12", "by": ["AZ", "RU"], "source": "x"}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(ending) + "\n" + json.dumps({**ending, "on": "2024-06-13"}) + "\n", encoding="utf-8")
    refused_import(path, tmp_path / "log.db", f"{path}:2", "obligation: P3-personnel-cap is already ended by "
                                                           "nov-10-2020-E1")


def test_export_and_restore_keep_a_superseded_ending(tmp_path):
    store, copy = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run(*END, "--on", "2024-06-12", "--store", store)
    run(*END, "--on", "2024-06-20", "--supersedes", "nov-10-2020-E1", "--store", store)
    backup = tmp_path / "backup.jsonl"
    backup.write_text(run("observe", "export", "--store", store).stdout, encoding="utf-8")
    assert json.loads(backup.read_text().splitlines()[TRACKS + 1])["supersedes"] == "nov-10-2020-E1"
    assert run("observe", "import", str(backup), "--store", copy).exit_code == 0
    assert run("verify", "--store", store).stdout == run("verify", "--store", copy).stdout
    assert verdict(copy, "2024-06-15") == verdict(store, "2024-06-15")


def test_a_log_that_ended_an_obligation_twice_before_still_restores(tmp_path):
    """A log written before this rule may hold two endings of one obligation: its export must restore."""
    ending = {"record": "ending", "obligation": "P3-personnel-cap", "by": ["AZ", "RU"], "source": "x"}
    prev, lines = genesis_digest(AGREEMENT.id), []
    for number, on in ((1, "2024-06-12"), (2, "2024-06-13")):
        body = {k: v for k, v in {**ending, "on": on}.items() if k != "record"}
        record_id, at = f"nov-10-2020-E{number}", f"2024-07-0{number}T00:00:00.000000Z"
        prev = chain_hash(prev, record_id, "ending", body, at, "old-version")
        lines.append({"record": "ending", "id": record_id, **body, "recorded_at": at, "recorded_by": "old-version",
                      "hash": prev})
    backup = tmp_path / "old.jsonl"
    backup.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = run("observe", "import", str(backup), "--store", str(tmp_path / "b.db"))
    assert result.exit_code == 0, result.stderr
    assert run("verify", "--store", str(tmp_path / "b.db")).stdout.endswith(f"chain head {prev}\n")


def test_verify_checks_what_an_ending_supersedes(tmp_path):
    path = tmp_path / "log.db"
    run(*END, "--on", "2024-06-12", "--store", str(path))
    run(*END, "--on", "2024-06-20", "--supersedes", "nov-10-2020-E1", "--store", str(path))
    db = sqlite3.connect(path)
    with db:  # the correction made to name an ending that does not exist, and the chain recomputed
        (body,) = db.execute("SELECT body FROM records WHERE id = 'nov-10-2020-E2'").fetchone()
        changed = {**json.loads(body), "supersedes": "nov-10-2020-E7"}
        db.execute("UPDATE records SET body = ? WHERE id = 'nov-10-2020-E2'",
                   (json.dumps(changed, sort_keys=True, separators=(",", ":")),))
        prev = genesis_digest(AGREEMENT.id)
        for seq, rid, rtype, text, at, by in db.execute(
                "SELECT seq, id, type, body, recorded_at, recorded_by FROM records ORDER BY seq").fetchall():
            prev = chain_hash(prev, rid, rtype, json.loads(text), at, by)
            db.execute("UPDATE records SET hash = ?, prev_hash = (SELECT coalesce((SELECT hash FROM records WHERE"
                       " seq < ? ORDER BY seq DESC LIMIT 1), ?)) WHERE seq = ?", (prev, seq, genesis_digest(AGREEMENT.id), seq))
        db.execute("UPDATE meta SET value = ? WHERE key = 'head'", (prev,))
    db.close()
    store = Store.open(path, AGREEMENT)
    with pytest.raises(IntegrityError, match="supersedes nov-10-2020-E7: no earlier ending"):
        verify(store)
