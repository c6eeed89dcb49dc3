"""What the tests/test_safety_*.py files share: the command line run in-process, and the one-line error rule
(`compliance: error: <where>: <reason>`, nothing on stdout, the exit code)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from compliance.cli import app
from test_hostile_input import one_error_line as _one_error_line

runner = CliRunner()


def run(*args: str, env: dict | None = None, input: str | bytes | None = None):
    """`compliance ARGS` in-process, as monitor `tester`, without COMPLIANCE_DEBUG."""
    return runner.invoke(app, list(args), input=input,
                         env={"COMPLIANCE_MONITOR": "tester", "COMPLIANCE_DEBUG": "", **(env or {})})


def one_error_line(result, where: str, *words: str) -> str:
    """The result is one error line naming `where` and holding each of `words`, exit 2 (the hostile-input rule)."""
    return _one_error_line(result, f"{where}: ", *words)


def refused_import(path: Path, store: Path, where: str, reason: str) -> str:
    """`observe import PATH` into STORE, which does not exist yet: one error line at `where` whose reason starts
    with `reason`, and no store file (nor its side files) left behind."""
    line = one_error_line(run("observe", "import", str(path), "--store", str(store)), where)
    assert line.startswith(f"compliance: error: {where}: {reason}"), line
    assert not list(store.parent.glob(f"{store.name}*"))
    return line
