"""The layers: the library never imports the command line, and never names its options. A library error names
its parameter (`as_of`, `period`, `start`, ...); the command line shows it as its option (`--as-of`, `--period`,
`--from`, ...), with one table of names in compliance/cli/common.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from compliance.cli.common import OPTIONS, cli_words
from compliance.errors import InputError

PACKAGE = Path(__file__).resolve().parent.parent / "compliance"
LIBRARY = sorted(p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts)
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")

# Text that names a command-line option as prose meant for people, not in an error: a report tells its reader
# which command lists the observations it counts, the monitor's registry file how to add entries, and the
# observation schema's description who may declare an actor.
ALLOWED = {
    ("report/render.py", "compliance observe list --since"),
    ("report/render.py", " --until "),
    ("sources.py", "# Add entries with: compliance sources add"),
    ("observation.py", "one declared with --declare"),
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]


def test_the_library_is_every_module_but_the_command_line():
    names = {str(p.relative_to(PACKAGE)) for p in LIBRARY}
    assert {"check.py", "settings.py", "recording.py", "report/plan.py", "store/base.py"} <= names
    assert not any(name.startswith("cli") for name in names)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_library_module_imports_the_command_line(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            absolute = module == "compliance.cli" or module.startswith("compliance.cli.")
            relative = node.level > 0 and (module == "cli" or module.startswith("cli."))
            named = node.level > 0 and not module and any(a.name == "cli" for a in node.names)
            assert not (absolute or relative or named), f"{path.name}:{node.lineno} imports the command line"
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("compliance.cli") for a in node.names), f"{path.name}:{node.lineno}"


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_library_text_names_an_option(path):
    relative = str(path.relative_to(PACKAGE))
    flagged = [(line, text) for line, text in _strings(path) if FLAG.search(text)
               and not any(relative == where and snippet in text for where, snippet in ALLOWED)]
    assert flagged == [], f"{relative} names command-line options (name the parameter instead): {flagged}"


def test_the_check_finds_a_flag_in_an_error():
    tree = 'raise InputError("give one of --as-of or --period", "--as-of")\n'
    assert [FLAG.findall(value) for value in (n.value for n in ast.walk(ast.parse(tree))
                                              if isinstance(n, ast.Constant))] == [["--as-of", "--period"], ["--as-of"]]


def test_an_error_names_its_parameter_and_the_command_line_its_option():
    error = InputError("give one of {as_of}, {period} or {start}/{end}", param="period",
                       mentions=("as_of", "period", "start", "end"))
    assert str(error) == "period: give one of as_of, period or start/end"
    assert error.describe(cli_words) == ("--period", "give one of --as-of, --period or --from/--to")


def test_a_mention_with_a_value_and_an_unlisted_brace_are_worded_as_such():
    error = InputError("unknown code 'XX' ({declared:XX}); text {kept}", "actor", mentions=("declared",))
    assert error.reason == "unknown code 'XX' (declared XX); text {kept}"
    assert error.describe(cli_words)[1] == "unknown code 'XX' (--declare XX); text {kept}"


def test_a_location_is_data_not_text():
    error = InputError("does not match", "hash").at(line=12)
    assert (error.file, error.line, error.field, error.where) == (None, 12, "hash", "line 12: hash")
    located = error.at("backup.jsonl")
    assert (located.file, located.line, located.where) == ("backup.jsonl", 12, "backup.jsonl:12: hash")


def test_every_option_the_table_names_is_an_option_or_an_argument():
    assert all(FLAG.fullmatch(option) or option.isupper() or option in ("correct", "schema")
               for option in OPTIONS.values())
