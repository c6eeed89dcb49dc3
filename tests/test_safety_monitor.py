"""--as / COMPLIANCE_MONITOR is checked and trimmed on write, so that any log the tool wrote exports and restores
with the same log_digest."""

from __future__ import annotations

from compliance.process import bundled_process_ids

import json

import pytest

from compliance.clauses import load_agreement
from compliance.exchange import observation_record
from compliance.store import Store

from safety_cli import run

ADD = ["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--actor", "AZ",
       "--source", "Armenian MoD", "--source-party", "AM"]


def test_a_name_with_spaces_round_trips_through_export_and_restore(tmp_path):
    store, copy = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    assert run(*ADD, "--store", store, "--as", "alice ").exit_code == 0
    assert run(*ADD, "--store", store, env={"COMPLIANCE_MONITOR": "  bob"}).exit_code == 0
    assert run("--as", " carol ", "end", "P3-personnel-cap", "--on", "2024-06-12", "--by", "AZ,RU", "--source", "x",
               "--store", store).exit_code == 0
    exported = run("observe", "export", "--store", store).stdout
    assert [json.loads(line)["recorded_by"] for line in exported.splitlines()
            if json.loads(line).get("record") != "track"] == ["alice", "bob", "carol"]
    backup = tmp_path / "backup.jsonl"
    backup.write_text(exported, encoding="utf-8")
    restored = run("observe", "import", str(backup), "--store", copy)
    assert restored.exit_code == 0, restored.stderr
    heads = [run("verify", "--store", path).stdout for path in (store, copy)]
    assert heads[0] == heads[1] and heads[0].startswith(f"ok: {3 + len(bundled_process_ids())} records, chain head sha256:")


@pytest.mark.parametrize("name, where, reason", [
    ("al\x01ice", "--as", "control character"),
    ("al\nice", "--as", "control character"),
    ("x" * 1001, "--as", "is 1,001 characters; at most 1,000"),
    ("   ", "--as", "must not be empty"),
])
def test_a_name_that_cannot_be_restored_is_refused_on_write(tmp_path, name, where, reason):
    store = tmp_path / "log.db"
    result = run(*ADD, "--store", str(store), "--as", name)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"compliance: error: {where}: ") and reason in result.stderr
    assert not store.exists()
    from_env = run(*ADD, "--store", str(store), env={"COMPLIANCE_MONITOR": name})
    if name.strip():  # an empty variable is no variable: the user name is used
        assert from_env.exit_code == 2 and from_env.stderr.startswith("compliance: error: COMPLIANCE_MONITOR: ")


def test_the_store_trims_and_checks_the_name_from_python_too():
    agreement = load_agreement("nov-10-2020")
    store = Store.memory(agreement)
    record = observation_record({"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "s",
                                 "source_party": "AM"}, agreement)
    store.append([record], " alice ")
    assert next(store.records()).recorded_by == "alice"
    with pytest.raises(Exception, match="control character"):
        store.append([record], "a\x1bb")
