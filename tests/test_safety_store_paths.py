"""A mistyped --store on a read command: one line on stderr saying so, the normal (empty) output, exit 0, and no
store file created."""

from __future__ import annotations

import json

import pytest

from safety_cli import run as cli


def run(*args: str):
    return cli(*args, env={"COMPLIANCE_STORE": ""})


@pytest.mark.parametrize("args", [
    ["check", "--as-of", "2021-01-01", "--format", "json"],
    ["observe", "list"],
    ["observe", "export"],
    ["clauses", "list", "--as-of", "2021-01-01"],
    ["clauses", "show", "P3-personnel-cap"],
])
def test_a_read_of_a_missing_store_says_so_and_reads_an_empty_log(tmp_path, args):
    typo = tmp_path / "obsevations.db"
    result = run(*args, "--store", str(typo))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (f"compliance: warning: {typo}: no store here (check --store or COMPLIANCE_STORE); "
                             "reading an empty log\n")
    assert not typo.exists()


def test_the_empty_log_is_what_is_read(tmp_path):
    typo = tmp_path / "typo.db"
    result = run("check", "--as-of", "2021-01-01", "--format", "json", "--store", str(typo))
    assert json.loads(result.stdout)["log_digest"] == json.loads(
        run("check", "--as-of", "2021-01-01", "--format", "json", "--store", str(tmp_path / "other.db")).stdout)["log_digest"]
    assert run("observe", "list", "--store", str(typo)).stdout.endswith("0 observations\n")


def test_a_report_or_whatif_on_a_missing_store_says_so(tmp_path):
    typo = tmp_path / "typo.db"
    scenario = tmp_path / "s.yaml"
    scenario.write_text("as_of: 2021-01-31\n", encoding="utf-8")
    for args in (["whatif", str(scenario)], ["report", "--period", "2021-01", "--out", str(tmp_path / "r")]):
        result = run(*args, "--store", str(typo))
        assert result.exit_code == 0, result.stderr
        assert result.stderr.startswith(f"compliance: warning: {typo}: no store here")
    assert not typo.exists()


def test_the_sample_and_an_existing_store_say_nothing(tmp_path):
    assert run("--store", "sample", "observe", "list").stderr == ""
