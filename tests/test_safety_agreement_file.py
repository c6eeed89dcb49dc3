"""--agreement naming a file: a missing one is bad input (exit 2), one that exists but cannot be read is the
environment (exit 4), and a pipe (`--agreement <(...)`) is read like a file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from safety_cli import run


FIXTURE = Path(__file__).parent / "fixtures" / "example-ceasefire.yaml"
CLI = Path(sys.executable).with_name("compliance")


def test_a_missing_clause_file_is_bad_input(tmp_path):
    result = run("--agreement", str(tmp_path / "missing.yaml"), "clauses", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("compliance: error: --agreement: no bundled agreement or clause file")


def test_a_clause_file_that_exists_but_cannot_be_read_is_exit_4(tmp_path):
    path = tmp_path / "agreement.yaml"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))  # a socket: it exists, and opening it fails
        result = run("--agreement", str(path), "clauses", "list")
    finally:
        server.close()
    assert result.exit_code == 4, result.stderr
    assert result.stderr.startswith(f"compliance: error: {path}: cannot read") and result.stderr.count("\n") == 1


def test_a_clause_file_from_a_pipe(tmp_path):
    if not CLI.exists() or not Path("/bin/bash").exists():
        pytest.skip("needs the console script and bash")
    proc = subprocess.run(["/bin/bash", "-c", f'"{CLI}" --agreement <(cat "{FIXTURE}") clauses list'],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "COMPLIANCE_MONITOR": "t"})
    assert proc.returncode == 0, proc.stderr
    assert "terms in force" in proc.stdout
