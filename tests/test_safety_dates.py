"""A well-formed date that does not exist is said to be one ("2021-02-30 is not a day of the calendar"), wherever a
date is read, and the error names the option or field that held it."""

from __future__ import annotations

import pytest

from safety_cli import run


@pytest.mark.parametrize("args, where", [
    (["--store", "sample", "check", "--as-of", "2021-02-30"], "--as-of"),
    (["--store", "sample", "check", "--since", "2021-02-30"], "--since"),
    (["--store", "sample", "check", "--as-recorded", "2021-02-30T10:00:00Z"], "--as-recorded"),
    (["--store", "sample", "observe", "list", "--until", "2021-02-30"], "--until"),
    (["--store", "sample", "report", "--from", "2021-02-30", "--to", "2021-03"], "--from"),
    (["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-02-30", "--actor", "AM", "--source", "x",
      "--source-party", "AZ"], "date"),
    (["amend", "P6-kalbajar-return", "--term", "deadline", "--value", "2020-02-30", "--agreed-on", "2020-11-15",
      "--by", "AM,AZ", "--source", "x"], "--value"),
    (["amend", "P6-kalbajar-return", "--term", "deadline", "--value", "2020-11-25", "--agreed-on", "2020-02-30",
      "--by", "AM,AZ", "--source", "x"], "--agreed-on"),
    (["end", "P3-personnel-cap", "--on", "2024-02-30", "--by", "AZ,RU", "--source", "x"], "--on"),
])
def test_a_date_that_does_not_exist_is_named_as_such(tmp_path, args, where):
    result = run(*args, "--store", str(tmp_path / "log.db")) if args[0] != "--store" else run(*args)
    assert result.exit_code == 2, result.stderr
    day = next(a for a in args if a.startswith("20") and "-02-30" in a)[:10]
    assert result.stderr == f"compliance: error: {where}: {day} is not a day of the calendar\n"
    assert not (tmp_path / "log.db").exists()


def test_a_malformed_date_is_still_not_an_iso_date():
    result = run("--store", "sample", "check", "--as-of", "2021-2-3")
    assert result.stderr == "compliance: error: --as-of: '2021-2-3' is not an ISO 8601 date (YYYY-MM-DD) or date-time\n"


def test_amend_value_that_is_no_date_names_value(tmp_path):
    result = run("amend", "P6-kalbajar-return", "--term", "deadline", "--value", "2020-12-40", "--agreed-on",
                 "2020-11-15", "--by", "AM,AZ", "--source", "x", "--store", str(tmp_path / "log.db"))
    assert result.stderr == "compliance: error: --value: 2020-12-40 is not a day of the calendar\n"


def test_a_scenario_date_that_does_not_exist(tmp_path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text('as_of: "2021-02-30"\n', encoding="utf-8")
    result = run("--store", "sample", "whatif", str(scenario))
    assert result.stderr == f"compliance: error: {scenario}:1: as_of: 2021-02-30 is not a day of the calendar\n"
