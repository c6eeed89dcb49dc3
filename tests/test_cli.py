"""The command line: round trips, exact output, options and their precedence, exit codes."""

from __future__ import annotations

import json

from compliance.process import bundled_process_ids
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from compliance.cli import app

runner = CliRunner()
ADD = ["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ",
       "--source", "Armenian MoD", "--source-party", "AM", "--method", "statement"]


def run(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env={"COMPLIANCE_MONITOR": "tester", **(env or {})})


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


ALL_COMMANDS = sorted(_commands(typer.main.get_command(app)))


def test_the_spec_commands_exist():
    required = {("observe", "add"), ("observe", "import"), ("observe", "list"), ("observe", "show"),
                ("observe", "correct"), ("observe", "retract"), ("observe", "export"), ("clauses", "list"),
                ("clauses", "show"), ("amend",), ("end",), ("check",)}
    assert required <= set(ALL_COMMANDS)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=[" ".join(c) for c in ALL_COMMANDS])
def test_every_command_has_help_with_an_example(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout and "compliance " in result.stdout


def test_add_list_correct_retract_show_round_trip(tmp_path):
    store = str(tmp_path / "log.db")
    assert run(*ADD, "--store", store).stdout == "1\n"
    assert run(*ADD, "--date", "2021-07-14", "--store", store).stdout == "2\n"
    assert run("observe", "correct", "1", "--place", "near Shusha", "--store", store).stdout == "3\n"
    assert run("observe", "retract", "2", "--reason", "duplicate of 1", "--store", store).stdout == "4\n"
    listed = run("observe", "list", "--store", store)
    assert listed.stdout.splitlines() == [
        "  id  date        kind              actor    subject        count    claim    source        alignment    method",
        "----  ----------  ----------------  -------  -------------  -------  -------  ------------  -----------  ---------",
        "   3  2021-07-13  ceasefire.breach  AZ       conflict-zone           affirms  Armenian MoD  AM           statement",
        "1 observation",
    ]
    shown = json.loads(run("observe", "show", "1", "--format", "json", "--store", store).stdout)
    assert [(h["id"], h["status"]) for h in shown["history"]] == [("1", "observation (ended by 3)"), ("3", "correction of 1 (current)")]
    exported = [json.loads(line) for line in run("observe", "export", "--store", store).stdout.splitlines()]
    # a new store's first records say which agreements it tracks
    assert [r["id"] for r in exported if r.get("record") == "track"] == [f"{a}-T" for a in bundled_process_ids()]
    exported = [r for r in exported if "record" not in r]
    assert [r["id"] for r in exported] == ["1", "2", "3", "4"]
    assert exported[2]["supersedes"] == "1" and exported[2]["place"] == "near Shusha"
    assert exported[3] == {**{k: exported[3][k] for k in ("recorded_at", "hash")}, "id": "4", "retracts": "2",
                           "reason": "duplicate of 1", "recorded_by": "tester"}


def test_export_restore_round_trip_through_the_cli(tmp_path):
    store, copy = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    run(*ADD, "--store", store)
    run("amend", "P3-personnel-cap", "--term", "limit", "--value", "2500", "--agreed-on", "2021-01-01",
        "--by", "AM,AZ,RU", "--source", "test", "--store", store)
    backup = tmp_path / "backup.jsonl"
    backup.write_text(run("observe", "export", "--store", store).stdout, encoding="utf-8")
    # the restore stores every record of the export: the track record, the observation, the amendment
    assert run("observe", "import", str(backup), "--store", copy).stdout == f"{2 + len(bundled_process_ids())}\n"
    a = json.loads(run("check", "--as-of", "2021-09-30", "--format", "json", "--store", store).stdout)
    b = json.loads(run("check", "--as-of", "2021-09-30", "--format", "json", "--store", copy).stdout)
    assert a == b


def test_import_is_all_or_nothing_with_a_one_line_error(tmp_path):
    good = json.dumps({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "s", "source_party": "AM"})
    bad = json.dumps({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "s", "source_party": "AM", "value": 3})
    path = tmp_path / "in.jsonl"
    path.write_text(f"{good}\n\n{bad}\n", encoding="utf-8")
    store = tmp_path / "log.db"
    result = run("observe", "import", str(path), "--store", str(store))
    assert result.exit_code == 2
    assert result.stderr == f"compliance: error: {path}:3: value: kind 'ceasefire.breach' takes no count (no value, low or high)\n"
    assert not store.exists()
    path.write_text(f"{good}\n\n{good}\n", encoding="utf-8")
    assert run("observe", "import", str(path), "--store", str(store)).stdout == "2\n"


def test_import_from_stdin(tmp_path):
    line = json.dumps({"kind": "monitoring-centre.operating", "date": "2021-01-30", "actor": "RU", "source": "Russian MoD", "source_party": "RU"})
    result = runner.invoke(app, ["observe", "import", "-", "--store", str(tmp_path / "log.db")], input=line + "\n")
    assert result.stdout == "1\n"


def test_check_json_has_the_contract_keys():
    # one agreement: `agreement` and `since` at the top, `agreements` beside them
    result = run("--store", "sample", "check", "--as-of", "2021-09-30", "--format", "json", "--agreement", "nov-10-2020")
    data = json.loads(result.stdout)
    assert {"agreement", "agreements", "as_of", "since", "log_digest", "obligations"} <= set(data)
    assert (data["agreement"], data["as_of"], data["since"]) == ("nov-10-2020", "2021-09-30", "2020-11-10")
    assert data["agreements"] == ["nov-10-2020"] and data["log_digest"].startswith("sha256:")
    keys = {"id", "point", "bearer", "verdict", "reason", "evidence", "evidence_count", "inconclusive", "due", "agreement"}
    assert all(keys <= set(o) for o in data["obligations"])
    assert len(data["obligations"]) == 22
    # the process the sample tracks: no top-level `agreement`, and no `since` unless one was given
    process = json.loads(run("--store", "sample", "check", "--as-of", "2021-09-30", "--format", "json").stdout)
    assert "agreement" not in process and "since" not in process
    assert process["agreements"] == ["nov-10-2020", "jan-11-2021", "nov-26-2021"]
    assert process["log_digest"] == data["log_digest"]  # one digest covers the whole log
    assert [o["agreement"] for o in process["obligations"]][-1] == "nov-26-2021"
    given = json.loads(run("--store", "sample", "check", "--as-of", "2021-09-30", "--since", "2021-01-01",
                           "--format", "json").stdout)
    assert given["since"] == "2021-01-01"


def test_check_markdown_and_table():
    table = run("--store", "sample", "check", "--as-of", "2021-09-30")
    assert table.exit_code == 0 and "P6-kalbajar-return" in table.stdout and "log sha256:" in table.stdout
    markdown = run("--store", "sample", "check", "--as-of", "2021-09-30", "--format", "markdown")
    assert "| obligation | bearer | verdict | due | reason | evidence |" in markdown.stdout


def test_fail_on_exit_codes():
    assert run("--store", "sample", "check", "--as-of", "2020-11-12", "--fail-on", "violated").exit_code == 0
    assert run("--store", "sample", "check", "--as-of", "2021-09-30", "--fail-on", "violated,overdue").exit_code == 1
    bad = run("--store", "sample", "check", "--fail-on", "awful")
    assert bad.exit_code == 2 and bad.stderr.startswith("compliance: error: --fail-on: unknown verdict(s) awful")


def test_option_precedence_after_then_before_then_environment(tmp_path):
    before, after, env = (str(tmp_path / n) for n in ("before.db", "after.db", "env.db"))
    run("--store", before, *ADD, "--store", after)
    assert Path(after).exists() and not Path(before).exists()
    run("--store", before, *ADD, env={"COMPLIANCE_STORE": env})
    assert Path(before).exists() and not Path(env).exists()
    run(*ADD, env={"COMPLIANCE_STORE": env})
    assert Path(env).exists()


def test_the_monitor_name_is_stored(tmp_path):
    store = str(tmp_path / "log.db")
    run(*ADD, "--store", store, "--as", "patrol-7")
    run(*ADD, "--store", store, env={"COMPLIANCE_MONITOR": "patrol-8"})
    lines = [json.loads(line) for line in run("observe", "export", "--store", store).stdout.splitlines()]
    assert [r["recorded_by"] for r in lines if "record" not in r] == ["patrol-7", "patrol-8"]


def test_read_commands_never_create_the_store(tmp_path):
    store = tmp_path / "nothing.db"
    result = run("check", "--as-of", "2021-01-01", "--format", "json", "--store", str(store))
    assert result.exit_code == 0 and not store.exists()
    assert run("observe", "list", "--store", str(store)).stdout.endswith("0 observations\n")


def test_bad_input_exits_2_and_writes_nothing(tmp_path):
    store = tmp_path / "log.db"
    result = run(*ADD[:-2], "--method", "rumour", "--store", str(store))
    assert result.exit_code == 2
    assert result.stderr == "compliance: error: method: must be one of: 'seen', 'heard', 'imagery', 'statement' or 'media-report'\n"
    assert not store.exists()
    bad_date = run("check", "--as-of", "yesterday", "--store", "sample")
    assert bad_date.exit_code == 2 and bad_date.stderr.startswith("compliance: error: --as-of: 'yesterday' is not")


def test_unknown_ids_and_chain_rules_exit_2(tmp_path):
    store = str(tmp_path / "log.db")
    run(*ADD, "--store", store)
    assert run("observe", "show", "9", "--store", store).exit_code == 2
    assert run("observe", "retract", "9", "--reason", "x", "--store", store).exit_code == 2
    run("observe", "retract", "1", "--reason", "x", "--store", store)
    again = run("observe", "correct", "1", "--date", "2021-07-14", "--store", store)
    assert again.exit_code == 2 and "already superseded or retracted" in again.stderr


def test_reads_may_evaluate_an_untracked_agreement_but_writes_need_it_tracked(tmp_path):
    store = str(tmp_path / "log.db")
    run(*ADD, "--store", store)
    fixture = str(Path(__file__).parent / "fixtures" / "example-ceasefire.yaml")
    result = run("check", "--store", store, "--agreement", fixture, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["agreement"] == "example-ceasefire"
    written = run("observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ",
                  "--source", "Armenian MoD", "--source-party", "AM", "--agreement", fixture, "--store", store)
    assert written.exit_code == 2
    assert written.stderr == ("compliance: error: --agreement: the store does not track example-ceasefire; track it "
                              f"first: compliance track example-ceasefire\n")


def test_an_unwritable_store_exits_4(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run(*ADD, "--store", str(blocker / "log.db"))
    assert result.exit_code == 4 and result.stderr.startswith("compliance: error:")


def test_amend_end_and_clauses(tmp_path):
    store = str(tmp_path / "log.db")
    amended = run("amend", "P2-aghdam-return", "--term", "deadline", "--value", "2020-11-30", "--agreed-on", "2020-11-18",
                  "--by", "AZ", "--source", "hypothetical test", "--store", store)
    assert amended.stdout == "nov-10-2020-A2\n"
    ended = run("end", "P3-personnel-cap", "--on", "2024-06-12", "--by", "AZ,RU", "--source", "test", "--store", store)
    assert ended.stdout == "nov-10-2020-E1\n"
    shown = run("clauses", "show", "P2-aghdam-return", "--as-of", "2020-12-01", "--store", store).stdout
    assert "deadline: 2020-11-30" in shown and "amended by nov-10-2020-A2" in shown
    listed = run("clauses", "list", "--as-of", "2024-07-01", "--store", store).stdout
    assert "ended 2024-06-12" in listed
    bad = run("amend", "P2-aghdam-return", "--term", "limit", "--value", "3", "--agreed-on", "2020-11-18", "--by", "AZ",
              "--source", "x", "--store", store)
    assert bad.exit_code == 2 and "has no term 'limit'" in bad.stderr


def test_the_installed_console_script_reports_errors_without_traceback(tmp_path):
    script = Path(sys.executable).with_name("compliance")
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    result = subprocess.run([str(script), "check", "--store", "sample", "--as-of", "2021-13-01"],
                            capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COMPLIANCE_MONITOR": "t"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
