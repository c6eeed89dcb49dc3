"""An observation dated after today (in the agreement's time zone, UTC+3 for nov-10-2020) is refused on every
write path; the clock is pinned with COMPLIANCE_TODAY."""

from __future__ import annotations

from compliance.process import bundled_process_ids

TRACKS = len(bundled_process_ids())  # a new store's first records say which agreements it tracks

import json
from pathlib import Path

from safety_cli import run as cli


TODAY = "2021-07-12"
ADD = ["observe", "add", "--kind", "ceasefire.breach", "--actor", "AZ", "--source", "Armenian MoD", "--source-party", "AM"]
LINE = {"kind": "ceasefire.breach", "actor": "AZ", "source": "Armenian MoD", "source_party": "AM"}
ACLED = Path(__file__).parent / "fixtures" / "acled_sample.csv"


def run(*args: str, today: str = TODAY):
    return cli(*args, env={"COMPLIANCE_TODAY": today})


def refused(result, where: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr == (f"compliance: error: {where}: 2021-07-13 is after today (2021-07-12 in the agreement's "
                             "time zone); an observation records what has already happened\n")


def test_add_today_is_accepted_tomorrow_refused(tmp_path):
    store = tmp_path / "log.db"
    refused(run(*ADD, "--date", "2021-07-13", "--store", str(store)), "date")
    assert not store.exists()
    assert run(*ADD, "--date", "2021-07-12", "--store", str(store)).stdout == "1\n"


def test_the_day_is_the_agreements_day(tmp_path):
    store = str(tmp_path / "log.db")
    # 22:00 UTC on the 12th is already the 13th in UTC+3
    result = run(*ADD, "--date", "2021-07-12T22:00:00Z", "--store", store)
    assert result.exit_code == 2 and "is after today (2021-07-12" in result.stderr
    assert run(*ADD, "--date", "2021-07-12T20:59:00Z", "--store", store).exit_code == 0


def test_a_correction_to_a_future_date_is_refused(tmp_path):
    store = str(tmp_path / "log.db")
    run(*ADD, "--date", "2021-07-10", "--store", store)
    refused(run("observe", "correct", "1", "--date", "2021-07-13", "--store", store), "date")
    assert run("observe", "correct", "1", "--place", "x", "--store", store).exit_code == 0


def test_an_import_line_dated_in_the_future_names_its_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({**LINE, "date": "2021-07-01"}) + "\n" + json.dumps({**LINE, "date": "2021-07-13"}) + "\n",
                    encoding="utf-8")
    store = tmp_path / "log.db"
    refused(run("observe", "import", str(path), "--store", str(store)), f"{path}:2: date")
    assert not store.exists()


def test_an_acled_event_dated_in_the_future_is_refused(tmp_path):
    store = tmp_path / "log.db"
    result = run("observe", "import", "--format", "acled", str(ACLED), "--store", str(store), today="2020-01-01")
    assert result.exit_code == 2 and "is after today (2020-01-01" in result.stderr
    assert not store.exists()


def test_a_restore_keeps_its_history_whatever_the_clock(tmp_path):
    store, copy = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run(*ADD, "--date", "2021-07-12", "--store", store)
    backup = tmp_path / "backup.jsonl"
    backup.write_text(run("observe", "export", "--store", store).stdout, encoding="utf-8")
    assert run("observe", "import", str(backup), "--store", copy, today="2021-01-01").stdout == f"{TRACKS + 1}\n"


def test_a_pinned_today_that_is_no_date_is_refused():
    result = run("--store", "sample", "check", today="2021-02-30")
    assert result.exit_code == 2
    assert result.stderr == ("compliance: error: COMPLIANCE_TODAY: is not a day of the calendar; set it to a date "
                             "(YYYY-MM-DD), or unset it to use the clock\n")
