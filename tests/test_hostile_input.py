"""Hostile input: files and arguments built to break the parser. Each one must give exit 2, one line on
stderr naming the file, the line and the field (`compliance: error: FILE:LINE: FIELD: reason`), no
traceback, and nothing stored: the store file is not created, or is byte-for-byte unchanged.

Most cases run the command in-process (typer's runner, the same `handles_errors` path as the console
script); a few run the installed `compliance` script to see the real process's exit code and stderr.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.clauses import load_agreement
from compliance.exchange import read_jsonl
from compliance.resources import clauses_dir, sample_log
from compliance.store import Store

runner = CliRunner()
AGREEMENT = load_agreement("nov-10-2020")
SAMPLE_RECORDS = sum(1 for line in sample_log().read_text(encoding="utf-8").splitlines() if line.strip())
CLI = [str(Path(sys.executable).with_name("compliance"))]
VALID = {"kind": "contingent.personnel", "date": "2020-11-20", "actor": "RU", "value": 1960,
         "source": "Russian MoD", "source_party": "RU"}
BUNDLED = (clauses_dir() / "nov-10-2020.yaml").read_text(encoding="utf-8")


def run(*args: str):
    return runner.invoke(app, list(args), env={"COMPLIANCE_MONITOR": "tester", "COMPLIANCE_DEBUG": ""})


def one_error_line(result, prefix: str, *words: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"compliance: error: {prefix}"), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def line(**changes) -> str:
    data = {**VALID, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}, ensure_ascii=False)


def raw_line(field: str, raw: str) -> str:
    """A line whose `field` holds `raw` JSON text as written (what json.dumps would never write)."""
    return json.dumps({**VALID, field: "@@"}).replace('"@@"', raw)


# (second line of the file, field named, words of the reason)
OBSERVATION_CASES = {
    "not JSON": ('{"kind": "ceasefire.breach", date: 2021}', None, "not valid JSON"),
    "truncated JSON": ('{"kind": "ceasefire.breach",', None, "not valid JSON"),
    "JSON array": ("[1, 2, 3]", None, "must be a JSON object"),
    "JSON string": ('"an observation"', None, "must be a JSON object"),
    "JSON null": ("null", None, "must be a JSON object"),
    "count as text": (line(value="1960"), "value", "whole number"),
    "count as decimal": (line(value=1960.5), "value", "whole number"),
    "count as boolean": (line(value=True), "value", "whole number"),
    "negative count": (line(value=-1), "value", "greater than or equal to 0"),
    "count beyond 64 bits": (line(value=2**64), "value", "less than or equal to 9223372036854775807"),
    "count of 5,000 digits": (raw_line("value", "9" * 5000), "value", "5,000 digits"),
    "latitude as text": (line(lat="north", lon=1.0), "lat", "decimal number"),
    "latitude out of range": (line(lat=91.0, lon=1.0), "lat", "less than or equal to 90"),
    "kind as number": (line(kind=5), "kind", "must be a string"),
    "kind as object": (line(kind={"a": 1}), "kind", "must be a string"),
    "date as number": (line(date=20201120), "date", "valid string"),
    "unknown field": (line(colour="red"), "colour", "unknown field"),
    "unknown kind": (line(kind="ceasefire.brech"), "kind", "unknown kind"),
    "undeclared actor": (line(actor="XX"), "actor", "unknown party code"),
    "actor not a code": (line(actor="armenia"), "actor", "not a party code"),
    "NaN": (raw_line("value", "NaN"), "value", "NaN is not a number"),
    "Infinity": (raw_line("lat", "Infinity"), "lat", "Infinity is not a number"),
    "-Infinity": (raw_line("lon", "-Infinity"), "lon", "-Infinity is not a number"),
    "1e400 (reads as infinity)": (raw_line("lat", "1e400"), "lat", "1e400 is not a number"),
    "NaN deep inside": (raw_line("notes", '{"a": [1, NaN]}'), "notes.a.1", "NaN"),
    "low above high": (line(value=..., low=5, high=3), "low", "low 5 is greater than high 3"),
    "value outside low-high": (line(value=10, low=1, high=5), "value", "outside low-high"),
    "low without high": (line(value=..., low=5), "high", "go together"),
    "year 0001": (line(date="0001-01-01"), "date", "year 1 is outside 1900-2199"),
    "year 9999": (line(date="9999-12-31"), "date", "year 9999 is outside 1900-2199"),
    "year 1899": (line(date="1899-12-31T23:00:00"), "date", "year 1899"),
    "month 13, day 45": (line(date="2020-13-45"), "date", "2020-13-45 is not a day of the calendar"),
    "30 February": (line(date="2021-02-30"), "date", "2021-02-30 is not a day of the calendar"),
    "hour 25": (line(date="2021-07-01T25:00:00"), "date", "not an ISO 8601 date"),
    "offset +99:00": (line(date="2021-07-01T12:00:00+99:00"), "date", "not an ISO 8601 date"),
    "end before start": (line(date_end="2020-11-19"), "date_end", "before date"),
    "empty source": (line(source=""), "source", "must not be empty"),
    "blank source": (line(source=" \t "), "source", "must not be empty"),
    "source of 1,001 characters": (line(source="s" * 1001), "source", "1,001 characters; at most 1,000"),
    "place of 5,000 characters": (line(place="p" * 5000), "place", "at most 1,000"),
    "quote of 10,001 characters": (line(quote="q" * 10_001), "quote", "10,001 characters; at most 10,000"),
    "notes of 50,000 characters": (line(notes="n" * 50_000), "notes", "at most 10,000"),
    "NUL in source": (line(source="Russian\x00MoD"), "source", "control character"),
    "terminal escape in notes": (line(notes="\x1b[2J\x1b[31mred"), "notes", "control character"),
    "C1 control in place": (line(place="a\x85b"), "place", "control character"),
    "unpaired surrogate": (raw_line("source", '"\\ud800"'), "source", "not valid Unicode"),
    "surrogate in a field name": ('{"\\udfff": 1}', None, "not valid Unicode"),
    "surrogate in the ID a correction names": (raw_line("supersedes", '"1\\ud800"'), "supersedes", "not valid Unicode"),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, None, "nested too deeply"),
    "nested inside a field": (raw_line("kind", "[" * 500 + "]" * 500), "kind", "must be a string"),
    "correction of a non-ID": (line(supersedes={"id": 1}), "supersedes", "must be an observation ID"),
    "unknown record type": (line(record="deletion"), "record", "unknown record type"),
    "retraction without reason": ('{"retracts": "1"}', "reason", "is required"),
    "amendment with a renewal period of 0 years": (json.dumps({
        "record": "amendment", "obligation": "P4-term", "term": "period_years", "value": 0, "agreed_on": "2021-01-01",
        "by": ["AM", "AZ"], "source": "s"}), "value", "from 1 to 100"),
    "amendment with a superscript digit": (json.dumps({
        "record": "amendment", "obligation": "P3-personnel-cap", "term": "limit", "value": "²", "agreed_on": "2021-01-01",
        "by": ["AM"], "source": "s"}), "value", "whole number"),
    "store fields on one line only": (line(id="2", recorded_at="2021-01-01T00:00:00Z", recorded_by="x"), None,
                                      "on every line or on none"),
}


@pytest.mark.parametrize("case", sorted(OBSERVATION_CASES))
def test_hostile_observation_lines(tmp_path: Path, case: str) -> None:
    second, field, reason = OBSERVATION_CASES[case]
    path = tmp_path / "in.jsonl"
    path.write_text(line() + "\n" + second + "\n", encoding="utf-8")
    store = tmp_path / "log.db"
    result = run("--store", str(store), "observe", "import", str(path))
    one_error_line(result, f"{path}:2: {field + ': ' if field else ''}", reason)
    assert not store.exists(), "a store was created by a failed import"


def test_every_observation_field_limit_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the limits themselves are accepted: 1,000 characters, 10,000 for quote and notes
    monkeypatch.setenv("COMPLIANCE_TODAY", "2199-12-31")  # a date after today is refused: the clock at the last year
    path = tmp_path / "in.jsonl"
    path.write_text(line(source="s" * 1000, quote="q" * 10_000, notes="n" * 10_000, date="1900-01-01T00:00:00+03:00")
                    + "\n" + line(date="2199-12-31", value=2**63 - 1) + "\n", encoding="utf-8")
    result = run("--store", str(tmp_path / "log.db"), "observe", "import", str(path))
    assert result.exit_code == 0 and result.stdout == "2\n", result.stderr


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(line().encode() + b"\n" + bytes(range(0x80, 0x100)) * 4 + b"\n")
    one_error_line(run("--store", str(tmp_path / "log.db"), "observe", "import", str(path)), f"{path}:2: ", "not UTF-8")
    assert not (tmp_path / "log.db").exists()


def test_a_two_megabyte_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(line() + "\n" + line(notes="n" * 2_000_000) + "\n", encoding="utf-8")
    one_error_line(run("--store", str(tmp_path / "log.db"), "observe", "import", str(path)), f"{path}:2: ",
                   "longer than 1,000,000 bytes")
    assert not (tmp_path / "log.db").exists()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sample_store(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    store = Store.open(path, AGREEMENT, write=True)
    store.append(read_jsonl(sample_log().read_text(encoding="utf-8").splitlines(), AGREEMENT, "sample"), "tester")
    store.close()
    return path


@pytest.mark.parametrize("second, where, reason", [
    (line(value=-5), ":2: value: ", "greater than or equal to 0"),
    (raw_line("value", "NaN"), ":2: value: ", "NaN"),
    # refused by the store, inside its transaction: rolled back, and named with the file and line
    (line(supersedes="999"), ":2: supersedes: ", "no observation with ID 999"),
    (line(supersedes="54"), ":2: supersedes: ", "is a retraction"),
    ('{"retracts": "20", "reason": "again"}', ":2: retracts: ", "already superseded or retracted"),
])
def test_a_store_is_left_byte_for_byte_unchanged(tmp_path: Path, sample_store: Path, second: str, where: str,
                                                 reason: str) -> None:
    before = _digest(sample_store)
    path = tmp_path / "in.jsonl"
    path.write_text(line() + "\n" + second + "\n", encoding="utf-8")
    prefix = f"{path}{where}"
    one_error_line(run("--store", str(sample_store), "observe", "import", str(path)), prefix, reason)
    assert _digest(sample_store) == before
    assert run("--store", str(sample_store), "verify").stdout.startswith(f"ok: {SAMPLE_RECORDS} records")


def test_restore_lines_with_hostile_ids_into_an_empty_store(tmp_path: Path) -> None:
    store = tmp_path / "log.db"  # not created yet: a store is created by its first write, whole or not at all
    for record_id, reason in (("²", "whole numbers"), ("007", "whole numbers"), ("0", "whole numbers"),
                              ("nov-10-2020-A1", "whole numbers")):
        path = tmp_path / "in.jsonl"
        path.write_text(line(id=record_id, recorded_at="2021-01-01T00:00:00Z", recorded_by="x") + "\n", encoding="utf-8")
        one_error_line(run("--store", str(store), "observe", "import", str(path)), f"{path}:1: id: ", reason)
        assert not store.exists() and not list(tmp_path.glob(".log.db*"))
    amendment = {"record": "amendment", "obligation": "P3-personnel-cap", "term": "limit", "value": 2000,
                 "agreed_on": "2021-01-01", "by": ["AM"], "source": "s", "recorded_at": "2021-01-01T00:00:00Z",
                 "recorded_by": "x"}
    for record_id in ("nov-10-2020-A01", "nov-10-2020-A٣", "nov-10-2020-A0", "other-A2"):
        path = tmp_path / "in.jsonl"
        path.write_text(json.dumps({**amendment, "id": record_id}, ensure_ascii=False) + "\n", encoding="utf-8")
        one_error_line(run("--store", str(store), "observe", "import", str(path)), f"{path}:1: id: ", "amendment IDs are")
        assert not store.exists() and not list(tmp_path.glob(".log.db*"))


# ---- command-line arguments ---------------------------------------------------------------------


def test_undecodable_bytes_in_arguments(tmp_path: Path, sample_store: Path) -> None:
    # bytes that are not UTF-8 reach Python as unpaired surrogates; they must not reach SQLite
    env = {**os.environ, "COMPLIANCE_MONITOR": "tester"}
    before = _digest(sample_store)
    for args, prefix in (
        (["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-01", "--actor", "AM",
          "--source", b"\xff\xfeMoD", "--source-party", "AZ"], "--source: "),
        (["observe", "show", b"\xff"], "ID: "),
        (["observe", "correct", b"1\xff", "--notes", "x"], "ID: "),
        (["observe", "retract", b"\xff", "--reason", "x"], "ID: "),
    ):
        argv = [os.fsencode(a) if isinstance(a, str) else a for a in [*CLI, "--store", str(sample_store), *args]]
        result = subprocess.run(argv, capture_output=True, env=env, timeout=60)
        stderr = result.stderr.decode("utf-8", "replace")
        assert result.returncode == 2, stderr
        assert stderr.startswith(f"compliance: error: {prefix}") and stderr.count("\n") == 1, stderr
    assert _digest(sample_store) == before


# ---- clause files -------------------------------------------------------------------------------


def _clause(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "agreement.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _line_of(text: str, needle: str) -> int:
    return next(n for n, row in enumerate(text.splitlines(), start=1) if needle in row)


CLAUSE_CASES = {
    # name: (old, new, field path or None, words of the reason, line to name: the replaced one)
    "wrong type": ("    point: 3\n", "    point: three\n", "obligations.3.point", "valid integer"),
    "unknown field": ("    point: 3\n", "    point: 3\n    colour: red\n", "obligations.3.colour", "unknown key"),
    "unknown top-level field": ("default_window_days: 31\n", "default_window_days: 31\nsecret: 1\n", "secret", "unknown key"),
    "month 13, day 45": ("signed: 2020-11-09", "signed: 2020-13-45", "signed", "2020-13-45 is not a day of the calendar"),
    "30 February": ("      deadline:\n        value: 2020-11-20", "      deadline:\n        value: 2020-02-30", None,
                    "2020-02-30 is not a day of the calendar"),
    "year 0001": ("signed: 2020-11-09", "signed: 0001-01-01", "signed", "year 1 is outside 1900-2199"),
    "year 9999": ("in_force: 2020-11-10T00:00:00+03:00", "in_force: 9999-12-31T23:59:59-12:00", "in_force", "year 9999"),
    "amendment dated 2500": ("    agreed_on: 2020-11-15", "    agreed_on: 2500-11-15", "amendments.0.agreed_on", "year 2500"),
    "NaN window": ("    window_days: 1\n", "    window_days: .nan\n", "kinds.ceasefire.breach.window_days", "finite"),
    "infinite default window": ("default_window_days: 31", "default_window_days: .inf", "default_window_days", "finite"),
    "time zone that is a folder": ('timezone: "+03:00"', "timezone: Europe", "timezone", "unknown time zone"),
    "time zone path": ('timezone: "+03:00"', "timezone: ../../etc/passwd", "timezone", "unknown time zone"),
    "renewal period of 0 years": ("        value: 5\n        unit: years", "        value: 0\n        unit: years",
                                  "obligations.7", "'period_years' must be a whole number from 1 to 100"),
    "negative limit": ("        value: 1960\n", "        value: -1960\n", "obligations.3", "'limit' must be a whole number from 0"),
    "amendment of 0 years": ("    term: deadline\n    value: 2020-11-25", "    term: period_years\n    value: 0",
                             "amendments.0", None),
    "empty quote": ("      quote: All economic and transport links in the region shall be unblocked.",
                    "      quote: ''", "obligations.16.text.quote", "at least 1 character"),
    "control character": ("title: >-\n", "title: \"a\\0b\"\nx: >-\n", None, None),
    "number of 5,000 digits": ("    point: 3\n", "    point: " + "9" * 5000 + "\n", None, "not a valid int"),
    "tag with an invalid value": ("    point: 3\n", "    point: !!int 0x\n", None, "'0x' is not a valid int"),
    "bool tag on text": ("    joint: true\n", "    joint: !!bool perhaps\n", None, "not a valid bool"),
    "timestamp tag on text": ("signed: 2020-11-09", "signed: !!timestamp soon", "signed", "'soon' is not a date"),
}


@pytest.mark.parametrize("case", sorted(CLAUSE_CASES))
def test_hostile_clause_values(tmp_path: Path, case: str) -> None:
    old, new, field, reason = CLAUSE_CASES[case]
    assert BUNDLED.count(old) >= 1, old
    text = BUNDLED.replace(old, new, 1)
    path = _clause(tmp_path, text)
    store = tmp_path / "log.db"
    result = run("--agreement", str(path), "--store", str(store), "observe", "add", "--kind", "ceasefire.breach",
                 "--date", "2021-07-01", "--actor", "AM", "--source", "s", "--source-party", "AZ")
    message = one_error_line(result, f"{path}:", *([reason] if reason else []))
    where = message.removeprefix(f"compliance: error: {path}:")
    number = int(where.split(":", 1)[0])
    first_changed = next(n for n, (a, b) in enumerate(zip(BUNDLED.splitlines(), text.splitlines()), start=1) if a != b)
    if field is not None:
        assert f": {field}" in where, message
    if case not in ("renewal period of 0 years", "negative limit", "amendment of 0 years"):  # these name the obligation
        assert number == first_changed or number == first_changed + 1, (number, first_changed, message)
    assert not store.exists()


@pytest.mark.parametrize("text, reason", [
    ("id: [unclosed\n", "not valid YAML"),
    ("key: value\n  bad indent: x\n", "not valid YAML"),
    ("- a\n- b\n", "must be a YAML mapping"),
    ("", "must be a YAML mapping"),
    ("just text", "must be a YAML mapping"),
    ("a: 1\n---\nb: 2\n", "not valid YAML"),
    ("a: *nowhere\n", "not valid YAML"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", ""),
    ("a: \x00\n", "not valid YAML"),
    ("? [a, b]\n: c\n", "not valid YAML"),
])
def test_files_that_are_not_clause_files(tmp_path: Path, text: str, reason: str) -> None:
    path = _clause(tmp_path, text)
    one_error_line(run("--agreement", str(path), "clauses", "list"), f"{path}", reason)


def test_random_bytes_as_a_clause_file(tmp_path: Path) -> None:
    path = _clause(tmp_path, bytes(range(256)) * 8)
    one_error_line(run("--agreement", str(path), "clauses", "list"), f"{path}: ", "not UTF-8")


def test_a_clause_file_over_the_size_limit(tmp_path: Path) -> None:
    path = _clause(tmp_path, BUNDLED + "# " + "x" * 5_000_000 + "\n")
    one_error_line(run("--agreement", str(path), "clauses", "list"), f"{path}: ", "larger than 5,000,000 bytes")


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/object:subprocess.Popen {{args: ['touch', '{marker}']}}",
    "!!python/name:os.system",
])
def test_python_tags_are_rejected_not_executed(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "executed"
    text = BUNDLED.replace("    point: 3\n", f"    point: {payload.format(marker=marker)}\n", 1)
    path = _clause(tmp_path, text)
    message = one_error_line(run("--agreement", str(path), "clauses", "list"), f"{path}:{_line_of(text, 'python/')}: ",
                             "not valid YAML")
    assert "constructor" in message
    assert not marker.exists()


def test_hostile_clause_file_from_the_installed_command(tmp_path: Path) -> None:
    path = _clause(tmp_path, BUNDLED.replace("signed: 2020-11-09", "signed: 2020-13-45"))
    store = tmp_path / "log.db"
    result = subprocess.run([*CLI, "--agreement", str(path), "--store", str(store), "check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == (f"compliance: error: {path}:{_line_of(BUNDLED, 'signed:')}: signed: "
                             "2020-13-45 is not a day of the calendar\n")
    assert not store.exists()


def test_hostile_import_from_the_installed_command(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(line() + "\n" + raw_line("value", "1" * 5000) + "\n", encoding="utf-8")
    store = tmp_path / "log.db"
    result = subprocess.run([*CLI, "--store", str(store), "observe", "import", str(path)], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "COMPLIANCE_MONITOR": "tester"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"compliance: error: {path}:2: value: a number of 5,000 digits is not a number this "
                             "format accepts (NaN, infinities and numbers of more than 4,000 digits are rejected)\n")
    assert not store.exists()


def test_a_what_if_renewal_period_of_0_years_is_refused_not_run_forever(tmp_path: Path) -> None:
    # the term-renewal rule steps through periods until the as-of date: a period of 0 years never ends
    path = tmp_path / "scenario.yaml"
    path.write_text("as_of: 2021-09-30\nterms:\n  P4-term: {period_years: 0}\n", encoding="utf-8")
    result = subprocess.run([*CLI, "--store", "sample", "whatif", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"compliance: error: {path}:3: terms.P4-term.period_years: term 'period_years' must be "
                             "a whole number from 1 to 100\n")
