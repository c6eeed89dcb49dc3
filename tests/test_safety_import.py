"""`observe import` of JSON Lines: a byte-order mark, re-imports of lines with an external_id, restores."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from compliance.cli import app

runner = CliRunner()
LINE = {"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "Armenian MoD", "source_party": "AM"}


def run(*args: str, input: str | bytes | None = None, env: dict | None = None):
    return runner.invoke(app, list(args), input=input,
                         env={"COMPLIANCE_MONITOR": "tester", "COMPLIANCE_DEBUG": "", **(env or {})})


def test_a_file_starting_with_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(LINE).encode() + b"\n" + json.dumps(LINE).encode() + b"\n")
    store = str(tmp_path / "log.db")
    result = run("observe", "import", str(path), "--store", store)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2\n"
    piped = run("observe", "import", "-", "--store", store, input=path.read_bytes())
    assert piped.exit_code == 0 and piped.stdout == "2\n"


def test_a_byte_order_mark_later_in_the_file_is_still_refused(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(json.dumps(LINE).encode() + b"\n\xef\xbb\xbf" + json.dumps(LINE).encode() + b"\n")
    result = run("observe", "import", str(path), "--store", str(tmp_path / "log.db"))
    assert result.exit_code == 2 and result.stderr.startswith(f"compliance: error: {path}:2: not valid JSON")
