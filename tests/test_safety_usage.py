"""Usage errors, undecodable arguments and over-long messages: one line on stderr, `compliance: error:
<where>: <reason>`, exit 2 (never Typer's box, never a traceback, never exit code 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from safety_cli import one_error_line as one_line, run


CLI = str(Path(sys.executable).with_name("compliance"))


@pytest.mark.parametrize("args, where, words", [
    (["observe", "retract", "9"], "--reason", ["is required"]),
    (["observe", "add", "--kind", "ceasefire.breach", "--date", "2021-07-13", "--source", "s"], "--actor",
     ["is required", "Party code"]),
    (["check", "--format", "yaml"], "--format", ["'yaml' is not one of: table, json, markdown"]),
    (["--store", "sample", "report", "--from", "2021-01", "--to", "2021-03", "--every", "week"], "--every",
     ["'week' is not one of: month, quarter"]),
    (["schema", "obs"], "observation|scenario|check", ["'obs' is not one of: observation, scenario, check"]),
    (["nosuch"], "nosuch", ["no such command", "observe", "check"]),
    (["observe", "lst"], "lst", ["no such command", "list"]),
    (["check", "--bogus"], "--bogus", ["no such option", "--as-of"]),
    (["observe", "add", "--value", "many"], "--value", ["a whole number"]),
    (["observe", "add", "--lat", "north"], "--lat", ["a decimal number"]),
    (["observe", "show"], "ID", ["is required"]),
    (["check", "--store"], "--store", ["requires an argument"]),
])
def test_usage_errors_are_one_line_naming_the_option(args, where, words):
    one_line(run(*args), where, *words)


def test_help_still_prints_usage():
    result = run("observe", "add", "--help")
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")
    assert run("--help").stdout.startswith("Usage: ")


def test_usage_errors_from_the_installed_command_are_one_line_exit_2(tmp_path):
    if not Path(CLI).exists():
        pytest.skip("console script not installed in this environment")
    for args in (["observe", "retract", "9"], ["check", "--format", "yaml"], ["nosuch"]):
        proc = subprocess.run([CLI, *args], capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == "" and proc.stderr.count("\n") == 1 and proc.stderr.startswith("compliance: error: ")


def test_undecodable_bytes_in_options_name_the_option(tmp_path):
    if not Path(CLI).exists():
        pytest.skip("console script not installed in this environment")
    env = {**os.environ, "COMPLIANCE_MONITOR": "tester"}
    for args, where in (([b"--as", b"\xff", b"--store", b"sample", b"observe", b"list"], "--as"),
                        ([b"--store", b"sample", b"observe", b"list", b"--kind", b"\xff"], "--kind"),
                        ([b"observe", b"add", b"--kind", b"ceasefire.breach", b"--date", b"2021-07-01", b"--actor",
                          b"AM", b"--source", b"x", b"--source-party", b"AZ", b"--as", b"\xfe"], "--as")):
        proc = subprocess.run([os.fsencode(CLI), *args], capture_output=True, env=env, cwd=tmp_path, timeout=60)
        stderr = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 2, stderr
        assert stderr.startswith(f"compliance: error: {where}: ") and stderr.count("\n") == 1, stderr
    assert not (tmp_path / "observations").exists()


def test_an_error_line_is_bounded_and_escaped():
    from compliance.cli.common import MAX_ERROR_LINE, error_line

    line = error_line("x", "a" * 50_000 + "\x1b[31m")
    assert len(line) == MAX_ERROR_LINE and "\n" not in line
    assert error_line("w", "bell\x07 and \udcff") == "compliance: error: w: bell\\x07 and \\udcff"
    result = run("--store", "sample", "check", "--as-of", "9" * 20_000)
    line = one_line(result, "--as-of")
    assert len(line) <= MAX_ERROR_LINE
