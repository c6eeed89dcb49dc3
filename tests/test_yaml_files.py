"""Every YAML file the tool reads (clause file, what-if scenario, source registry, ACLED mapping) goes through
one loader with one set of rules: the same hostile input gives, for each, exit 2, nothing on stdout and one
line `compliance: error: <file>:<line>: <field>: <reason>`; nothing is executed and nothing is written."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from compliance.acled import bundled_mapping_path
from compliance.resources import clauses_dir

from safety_cli import one_error_line, run

ACLED_EXPORT = Path(__file__).parent / "fixtures" / "acled_sample.csv"


@dataclass(frozen=True)
class FileType:
    """A kind of YAML file: a valid text, one of its lines (`key: value`) and that key's field path, a line of
    it with a date in place of its value and that field's path, what its top level must be, and the command
    that reads a file of it."""

    base: str
    line: str
    field: str
    dated: tuple[str, str]  # (a line of `base`, the same line with an invalid date as its value)
    date_field: str
    shape: str
    read: Callable[[Path, Path], object]


def _line_of(text: str, needle: str, after: int = 0) -> int:
    return next(n for n, row in enumerate(text.splitlines(), start=1) if n > after and needle in row)


FILE_TYPES = {
    "clause file": FileType(
        (clauses_dir() / "nov-10-2020.yaml").read_text(encoding="utf-8"), "signed: 2020-11-09", "signed",
        ("signed: 2020-11-09", "signed: 2021-02-30"), "signed", "a clause file must be a YAML mapping of agreement fields",
        lambda path, tmp: run("--agreement", str(path), "clauses", "list")),
    "scenario": FileType(
        "as_of: 2021-03-31\nterms: {P3-personnel-cap: {limit: 2500}}\n", "as_of: 2021-03-31", "as_of",
        ("as_of: 2021-03-31", "as_of: 2021-02-30"), "as_of", "a scenario must be a mapping with as_of and optional since, add, exclude, "
        "without_amendments, terms, attribute, declare",
        lambda path, tmp: run("--store", "sample", "whatif", str(path))),
    "source registry": FileType(
        "sources:\n- name: Test Outlet\n  party: independent\n  note: first read in March\n", "  party: independent",
        "sources.0.party", ("  note: first read in March", "  note: 2021-02-30"), "sources.0.note",
        "a source registry is a YAML mapping with one key, `sources`, holding a list of entries (name, party, aliases)",
        lambda path, tmp: run("sources", "list", "--registry", str(path))),
    "ACLED mapping": FileType(
        bundled_mapping_path().read_text(encoding="utf-8"), "method: media-report", "method",
        ("method: media-report", "method: 2021-02-30"), "method", "an ACLED mapping is a YAML mapping (events, actors, subjects)",
        lambda path, tmp: run("observe", "import", "--format", "acled", str(ACLED_EXPORT), "--mapping", str(path),
                              "--store", str(tmp / "log.db"))),
}

# "billion laughs": nine levels of nine aliases each, 9**9 strings once expanded, in a few hundred bytes
BOMB = '\nlol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"lol{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))


def _refused(kind: str, tmp_path: Path, text: str, line: int | None, field: str) -> str:
    """Read `text` as a file of `kind`: one error line at `file:line: field: `, exit 2, nothing on stdout, no
    store written; return the reason."""
    file_type = FILE_TYPES[kind]
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    assert text != file_type.base
    where = f"{path}:{line}" if line is not None else f"{path}"
    message = one_error_line(file_type.read(path, tmp_path), f"{where}: {field}")
    assert not (tmp_path / "log.db").exists()
    return message.removeprefix(f"compliance: error: {where}: {field}: ")


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_the_valid_file_is_read(kind: str, tmp_path: Path) -> None:
    # the premise of every case below: the file without the hostile change is accepted
    path = tmp_path / "valid.yaml"
    path.write_text(FILE_TYPES[kind].base, encoding="utf-8")
    result = FILE_TYPES[kind].read(path, tmp_path)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_a_duplicate_key_is_refused_at_its_second_line(kind: str, tmp_path: Path) -> None:
    file_type = FILE_TYPES[kind]
    text = file_type.base.replace(file_type.line, f"{file_type.line}\n{file_type.line}", 1)
    first = _line_of(text, file_type.line)
    key = file_type.line.strip().split(":")[0]
    reason = _refused(kind, tmp_path, text, first + 1, file_type.field)
    assert reason == f"not valid YAML: duplicate key {key!r} (first on line {first})"


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_an_alias_bomb_is_refused_in_well_under_a_second(kind: str, tmp_path: Path) -> None:
    text = FILE_TYPES[kind].base.rstrip("\n") + "\n" + BOMB
    started = time.perf_counter()
    reason = _refused(kind, tmp_path, text, _line_of(text, "lol5:"), "lol5")
    assert time.perf_counter() - started < 0.5
    assert reason == "not valid YAML: aliases expand to more than 200,000 nodes beyond the document's own"


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_a_python_tag_is_refused_and_not_executed(kind: str, tmp_path: Path) -> None:
    file_type = FILE_TYPES[kind]
    marker = tmp_path / "executed"
    key = file_type.line.split(":")[0]
    text = file_type.base.replace(file_type.line, f"{key}: !!python/object/apply:os.system ['touch {marker}']", 1)
    reason = _refused(kind, tmp_path, text, _line_of(text, "!!python"), file_type.field)
    assert reason == ("not valid YAML: no constructor for the tag '!!python/object/apply:os.system' "
                      "(only plain data is read)")
    assert not marker.exists()


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_a_top_level_that_is_not_a_mapping_is_refused(kind: str, tmp_path: Path) -> None:
    reason = _refused(kind, tmp_path, "- as_of\n- 2021-03-31\n", 1, "(top level)")
    assert reason == f"{FILE_TYPES[kind].shape}; got a list"


@pytest.mark.parametrize("kind", FILE_TYPES)
def test_a_date_that_is_not_a_day_of_the_calendar_names_its_field(kind: str, tmp_path: Path) -> None:
    file_type = FILE_TYPES[kind]
    text = file_type.base.replace(*file_type.dated, 1)
    reason = _refused(kind, tmp_path, text, _line_of(text, "2021-02-30"), file_type.date_field)
    assert reason == "2021-02-30 is not a day of the calendar"


def test_an_unquoted_invalid_date_in_a_scenario_reads_as_a_quoted_one(tmp_path: Path) -> None:
    unquoted = _refused("scenario", tmp_path, "add: []\nas_of: 2021-02-30\n", 2, "as_of")
    quoted = _refused("scenario", tmp_path, 'add: []\nas_of: "2021-02-30"\n', 2, "as_of")
    assert unquoted == quoted == "2021-02-30 is not a day of the calendar"


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    reason = _refused("scenario", tmp_path, "as_of: 2021-03-31\nexclude: &ids [1, *ids]\n", 2, "exclude.1")
    assert reason == "not valid YAML: an alias refers to a node that contains it"


def test_aliases_that_expand_a_little_are_read(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("as_of: 2021-03-31\nterms:\n  P3-apc-cap: &cap {limit: 90}\n  P3-vehicle-cap: *cap\n",
                    encoding="utf-8")
    result = run("--store", "sample", "whatif", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"P3-vehicle-cap": {\n        "limit": 90' in result.stdout
