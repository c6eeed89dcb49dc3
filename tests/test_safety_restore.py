"""Restores and writes into a store that does not exist yet: a refused one leaves no store file behind; a
tampered export names its file and line (exit 2); IDs of the clause file's amendments and endings are refused."""

from __future__ import annotations

from compliance.process import bundled_process_ids

TRACKS = len(bundled_process_ids())  # a new store's first records say which agreements it tracks

import json
import sqlite3

import pytest

from compliance.clauses import load_agreement
from compliance.errors import IntegrityError
from compliance.integrity import verify
from compliance.store import Store

from safety_cli import refused_import, run

ADD = ["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ",
       "--source", "Armenian MoD", "--source-party", "AM"]


def export(tmp_path, *writes: list[str]) -> list[dict]:
    store = str(tmp_path / "source.db")
    for args in writes:
        assert run(*args, "--store", store).exit_code == 0
    return [json.loads(line) for line in run("observe", "export", "--store", store).stdout.splitlines()]


def write_lines(path, lines: list[dict]) -> None:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")


def test_a_tampered_export_names_its_line_and_leaves_no_store(tmp_path):
    lines = export(tmp_path, ADD, ADD + ["--notes", "second"], ADD + ["--notes", "third"])
    lines[TRACKS + 1]["source"] = "Azerbaijani MoD"  # the second observation, changed after export, hash kept
    backup = tmp_path / "backup.jsonl"
    write_lines(backup, lines)
    refused_import(backup, tmp_path / "restored.db", f"{backup}:{TRACKS + 2}", "hash: does not match the rebuilt chain")


@pytest.mark.parametrize("args", [
    ["observe", "correct", "5", "--place", "x"],
    ["observe", "retract", "5", "--reason", "x"],
])
def test_a_refused_write_into_a_new_store_leaves_no_file(tmp_path, args):
    target = tmp_path / "new.db"
    result = run(*args, "--store", str(target))
    assert result.exit_code == 2
    assert not target.exists() and not list(tmp_path.glob("new.db*"))


def test_a_refused_write_into_an_existing_store_keeps_it(tmp_path):
    target = tmp_path / "log.db"
    run(*ADD, "--store", str(target))
    assert run("observe", "correct", "5", "--place", "x", "--store", str(target)).exit_code == 2
    assert target.exists() and run("verify", "--store", str(target)).stdout.startswith(
        f"ok: {TRACKS + 1} records,")


@pytest.mark.parametrize("record_id", ["nov-10-2020-A1"])
def test_a_restored_amendment_may_not_take_a_clause_file_id(tmp_path, record_id):
    lines = export(tmp_path, ["amend", "P3-personnel-cap", "--term", "limit", "--value", "2500", "--agreed-on",
                              "2022-01-01", "--by", "AM,AZ,RU", "--source", "x"])
    lines = lines[TRACKS:]  # an export of a store that says what it tracks, less the track records: an older log
    assert lines[0]["id"] == "nov-10-2020-A2"
    lines[0]["id"] = record_id
    del lines[0]["hash"]
    backup = tmp_path / "backup.jsonl"
    write_lines(backup, lines)
    refused_import(backup, tmp_path / "restored.db", f"{backup}:1",
                   f"id: {record_id} is the ID of an amendment in the clause file of nov-10-2020")


def test_verify_finds_a_clause_file_id_in_the_log(tmp_path):
    target = tmp_path / "log.db"
    run("amend", "P3-personnel-cap", "--term", "limit", "--value", "2500", "--agreed-on", "2022-01-01", "--by",
        "AM,AZ,RU", "--source", "x", "--store", str(target))
    with sqlite3.connect(target) as db:  # renamed behind the tool's back (hashes not even recomputed)
        db.execute("UPDATE records SET id = 'nov-10-2020-A1' WHERE type = 'amendment'")
    store = Store.open(target, load_agreement("nov-10-2020"))
    with pytest.raises(IntegrityError, match="clause file of nov-10-2020 already uses"):
        verify(store)
