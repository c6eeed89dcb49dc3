"""Docs that run: every ```console block of README.md, docs/*.md and examples/README.md is executed, and what it
prints must be what the block shows; the README's command table must be the commands' own.

How a document is run (in the manner of sqlite-utils' cog-checked docs):

- Only ```console blocks run; ```sh blocks (installation, a team's server at an example host) are illustrative.
  Every document with a console block must be listed in DOCS below, so a new one cannot go unchecked.
- A block is `$ ` command lines, each followed by its output up to the next `$ ` line or the block's end; a
  trailing backslash continues a command on the next line. A command is `compliance ...` (run in-process with
  typer's CliRunner, as `compliance` would run it), optionally piped into `head -N` or `grep [-A N] PATTERN`
  (which read stdout; stderr goes to the terminal, as in a shell). A shell comment may follow (`# exit 1: why`
  says which exit code the command must give).
- The blocks of one document run in order, in one fresh temporary folder made to look like what the document
  says it was run in (DocSetup below: a clone of the repository, for README.md, or a folder holding copies of
  the files the document reads), so state carries through the blocks of a document (the store
  `observations/observations.db` a write creates, the registry `sources add` writes, `reports/`), and never
  from one document to another or into the repository. `--store sample` reads the bundled sample log.
- The clock is pinned with COMPLIANCE_TODAY=TODAY (each document says so where its examples begin), the monitor
  is the one the document names, and every other COMPLIANCE_* variable is unset.
- Output is what a terminal shows: stdout and stderr in the order written. Trailing spaces and trailing blank
  lines are ignored. What varies from run to run is masked on both sides before comparing: record times
  (`2026-06-30T10:00:00.123456Z`), the temporary folder's path, and the `sha256:` digests of commands that do not
  read the sample log (those of a store written by the run depend on its record times; the sample log's digests
  are fixed and compared as they are).
- A line `...` in a block (any indentation) stands for any run of lines, including none.
- The exit code must be 0, or 2 when the block shows an error line (`compliance: error: ...`), unless a `# exit
  N` comment says otherwise.

When the program's output changes on purpose, `python tests/test_docs.py README.md` prints every block of a
document as it runs now, to paste back after reading the difference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import re
import shlex
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from typer.testing import CliRunner  # noqa: E402

from compliance.cli import app  # noqa: E402

TODAY = "2026-06-30"


@dataclasses.dataclass(frozen=True)
class DocSetup:
    """The folder a document's examples run in, and who runs them."""
    links: tuple[str, ...] = ()                 # repository folders the folder reaches by the same relative path
    copies: tuple[tuple[str, str], ...] = ()    # (name in the folder, repository path) files copied in
    monitor: str = "alice"                      # COMPLIANCE_MONITOR
    min_blocks: int = 1                         # at least this many console blocks must run
    teaches: tuple[str, ...] = ()               # command words some example must use


FIXTURES = "tests/fixtures"
DOCS: dict[str, DocSetup] = {
    # the tour runs from the root of a clone with no store of its own yet
    "README.md": DocSetup(links=("examples", "tests"), min_blocks=8,
                          teaches=("check", "observe add", "observe correct", "observe retract", "observe show",
                                   "observe import", "verify", "clauses show", "amend", "end", "report", "whatif",
                                   "sources add", "sources lookup")),
    "docs/authoring.md": DocSetup(links=("examples", "tests"), min_blocks=8,
                                  teaches=("clauses validate", "clauses list", "clauses show", "--format json",
                                           "whatif")),
    # "an empty folder holding copies of" the files it names
    "docs/monitor-workflow.md": DocSetup(
        copies=(("acled_sample.csv", f"{FIXTURES}/acled_sample.csv"),
                ("acled_update.csv", f"{FIXTURES}/acled_update.csv"),
                ("acled_update2.csv", f"{FIXTURES}/docs/acled_update2.csv"),
                ("bad_date.csv", f"{FIXTURES}/docs/bad_date.csv"),
                ("my_mapping.yaml", f"{FIXTURES}/docs/my_mapping.yaml"),
                ("feed.jsonl", f"{FIXTURES}/docs/feed.jsonl"),
                ("feed-later.jsonl", f"{FIXTURES}/docs/feed-later.jsonl")),
        monitor="monitor-a", min_blocks=10,
        teaches=("observe import --format acled", "sources add", "sources lookup", "sources list", "observe show",
                 "observe list", "check", "schema")),
    "examples/README.md": DocSetup(links=("examples",), min_blocks=2, teaches=("whatif", "--format json")),
}


# ---- parsing ----------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Example:
    doc: str
    line: int          # of the `$ ` line in the document
    command: str
    expected: list[str]


def console_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(line number of the first line inside the block, its lines) for every ```console block."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```console":
            start, body = i + 2, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append((start, body))
        i += 1
    return blocks


def parse_block(doc: str, start: int, lines: list[str]) -> list[Example]:
    examples: list[Example] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise AssertionError(f"{doc}:{start + i}: a console block starts with a `$ ` command: {lines[i]!r}")
        at, command = start + i, lines[i][2:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        examples.append(Example(doc, at, command, output))
    return examples


def doc_examples(doc: str) -> list[list[Example]]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [parse_block(doc, start, lines) for start, lines in console_blocks(text)]


# ---- comparing --------------------------------------------------------------------------------------------------

TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def masked(text: str, *, digests: bool, folder: str | None = None) -> list[str]:
    """The lines of `text` with what varies replaced, trailing spaces and trailing blank lines dropped."""
    if folder:
        for path in {folder, os.path.realpath(folder)}:
            text = text.replace(path, "<tmp>")
    text = TIME.sub("<time>", text)
    if digests:
        text = DIGEST.sub("sha256:<digest>", text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` is `expected`, where an expected line `...` stands for any run of lines (none included)."""
    memo: dict[tuple[int, int], bool] = {}

    def match(e: int, a: int) -> bool:
        if (e, a) not in memo:
            if e == len(expected):
                memo[e, a] = a == len(actual)
            elif expected[e].strip() == "...":
                memo[e, a] = any(match(e + 1, k) for k in range(a, len(actual) + 1))
            else:
                memo[e, a] = a < len(actual) and expected[e] == actual[a] and match(e + 1, a + 1)
        return memo[e, a]

    return match(0, 0)


# ---- running ----------------------------------------------------------------------------------------------------

class TerminalRunner(CliRunner):
    """CliRunner whose stdout and stderr are line-buffered, as on a terminal, so that its mixed output has the
    lines in the order a terminal shows them (a warning printed before the output comes first)."""

    @contextlib.contextmanager
    def isolation(self, *args, **kwargs):
        with super().isolation(*args, **kwargs) as streams:
            sys.stdout.reconfigure(line_buffering=True)
            sys.stderr.reconfigure(line_buffering=True)
            yield streams


@dataclasses.dataclass
class Ran:
    shown: str          # what a terminal shows
    exit_code: int
    error: str | None   # a Python exception that escaped, formatted


def environment(setup: DocSetup) -> dict[str, str | None]:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("COMPLIANCE_")}
    env.update(COMPLIANCE_TODAY=TODAY, COMPLIANCE_MONITOR=setup.monitor, COMPLIANCE_NO_PROGRESS="1")
    return env


def make_folder(setup: DocSetup, folder: Path) -> None:
    for name in setup.links:
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    for name, source in setup.copies:
        shutil.copyfile(ROOT / source, folder / name)


def _filter(stage: list[str], text: str) -> str:
    lines = text.splitlines(keepends=True)
    if stage[0] == "head" and len(stage) == 2 and re.fullmatch(r"-\d+", stage[1]):
        return "".join(lines[:int(stage[1][1:])])
    if stage[0] == "grep":
        after, rest = 0, stage[1:]
        if rest and re.fullmatch(r"-A\d+", rest[0]):
            after, rest = int(rest[0][2:]), rest[1:]
        elif len(rest) > 1 and rest[0] == "-A":
            after, rest = int(rest[1]), rest[2:]
        assert len(rest) == 1, f"grep takes one pattern here: {stage}"
        keep: set[int] = set()
        for i, line in enumerate(lines):
            if re.search(rest[0], line):
                keep.update(range(i, min(i + after + 1, len(lines))))
        return "".join(lines[i] for i in sorted(keep))
    raise AssertionError(f"a docs example may pipe only into head -N or grep [-A N]: {stage}")


def run_command(command: str, setup: DocSetup, folder: Path) -> Ran:
    """Run one `$ ` line in `folder` (the current directory for the duration)."""
    words = shlex.split(command, comments=True)
    stages: list[list[str]] = [[]]
    for word in words:
        if word == "|":
            stages.append([])
        else:
            assert word not in (">", ">>", "<", "&&", ";"), f"a docs example is one command and its pipes: {command}"
            stages[-1].append(word)
    program, *args = stages[0]
    previous = os.getcwd()
    os.chdir(folder)
    try:
        if program != "compliance":
            raise AssertionError(f"a docs example runs `compliance`, not {program!r}: {command}")
        result = TerminalRunner().invoke(app, args, env=environment(setup))
        stdout, stderr, exit_code = result.stdout, result.stderr, result.exit_code
        error = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            error = "".join(traceback.format_exception(*result.exc_info))
        if len(stages) > 1:
            for stage in stages[1:]:
                stdout = _filter(stage, stdout)
            shown = stderr + stdout
        else:
            shown = result.output
    finally:
        os.chdir(previous)
    return Ran(shown, exit_code, error)


def expected_exit(example: Example) -> int:
    said = re.search(r"\s#\s*exit (\d+)\b", example.command)
    if said:
        return int(said.group(1))
    return 2 if any(line.startswith("compliance: error:") for line in example.expected) else 0


def reads_sample(command: str) -> bool:
    return bool(re.search(r"--store[ =]sample\b", command))


def check_example(example: Example, ran: Ran, folder: Path) -> str | None:
    """None when the example holds, else what is wrong (with a diff)."""
    where = f"{example.doc}:{example.line}: $ {example.command}"
    if ran.error:
        return f"{where}\nraised:\n{ran.error}"
    digests = not reads_sample(example.command)
    want = masked("\n".join(example.expected), digests=digests)
    got = masked(ran.shown, digests=digests, folder=str(folder))
    problems = []
    if not matches(want, got):
        diff = "\n".join(difflib.unified_diff(want, got, "the document", "the program", lineterm="", n=2))
        problems.append(f"prints something else:\n{diff}")
    if ran.exit_code != expected_exit(example):
        problems.append(f"exit code {ran.exit_code}, expected {expected_exit(example)}")
    return f"{where}\n" + "\n".join(problems) if problems else None


def run_doc(doc: str, folder: Path) -> tuple[list[list[Example]], list[Ran]]:
    setup = DOCS[doc]
    make_folder(setup, folder)
    blocks = doc_examples(doc)
    runs = [run_command(example.command, setup, folder) for block in blocks for example in block]
    return blocks, runs


# ---- the tests --------------------------------------------------------------------------------------------------

def _docs_with_console_blocks() -> set[str]:
    paths = [ROOT / "README.md", ROOT / "examples" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return {str(p.relative_to(ROOT)) for p in paths if console_blocks(p.read_text(encoding="utf-8"))}


def test_every_document_with_console_examples_is_run_here():
    assert _docs_with_console_blocks() == set(DOCS)


@pytest.mark.parametrize("doc", list(DOCS))
def test_every_console_example_prints_what_the_document_shows(doc, tmp_path):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert f"COMPLIANCE_TODAY={TODAY}" in text, f"{doc} must say the date its examples were run as of"
    blocks, runs = run_doc(doc, tmp_path)
    assert len(blocks) >= DOCS[doc].min_blocks, f"{doc}: {len(blocks)} console blocks"
    examples = [example for block in blocks for example in block]
    commands = " ".join(example.command for example in examples)
    for wanted in DOCS[doc].teaches:
        assert wanted in commands, f"{doc} has no console example of {wanted!r}"
    failures = [f for f in (check_example(e, r, tmp_path) for e, r in zip(examples, runs)) if f]
    assert not failures, f"{len(failures)} of {len(examples)} examples of {doc} drifted:\n\n" + "\n\n".join(failures)


# ---- the README's command table is the commands' own -------------------------------------------------------------

def _command_tree() -> dict[str, object]:
    """{"observe add": click command, ...}: every command the app runs (groups' subcommands, not the groups)."""
    import typer

    found: dict[str, object] = {}

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                if not sub.hidden:
                    walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def _choices(param) -> list[str] | None:
    """The values a parameter accepts when they are a fixed set (an Enum, or a click Choice)."""
    import enum

    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [member.value for member in annotation]
    choices = getattr(getattr(param, "type", None), "choices", None)
    return list(choices) if choices else None


def readme_command_table() -> list[tuple[int, str]]:
    """(line, code span) for every code span of the first column of the README's "## Commands" table."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("## Commands")
    spans = []
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line.startswith("## "):
            break
        if not line.startswith("| `"):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]
        spans += [(number, span.replace("\\|", "|")) for span in re.findall(r"`([^`]+)`", first)]
    return spans


def check_command_table(spans: list[tuple[int, str]], tree: dict[str, object]) -> tuple[set[str], list[str]]:
    """The commands the spans name, and what in them the program does not accept."""
    groups = {name.split()[0] for name in tree if " " in name}
    named: set[str] = set()
    problems: list[str] = []
    for line, span in spans:
        words = span.replace("[", " ").replace("]", " ").split()
        if words and words[0].startswith("--"):
            problems.append(f"README.md:{line}: `{span}`: options go in their command's code span, to be checked")
            continue
        if not words or not re.fullmatch(r"[a-z]+(\|[a-z]+)*", words[0]):
            continue                               # not a command (`-` for stdin)
        head = words.pop(0)
        if head in groups:
            sub = words.pop(0) if words else ""
            commands = [f"{head} {name}" for name in sub.split("|")]
        else:
            commands = [head]
        unknown = [name for name in commands if name not in tree]
        if unknown:
            problems.append(f"README.md:{line}: `{span}`: no command {', '.join(unknown)}")
            continue
        named.update(commands)
        for name in commands:
            command = tree[name]
            options = {opt: param for param in command.params for opt in param.opts if opt.startswith("-")}
            arguments = [param for param in command.params if param.param_type_name == "argument"]
            previous = None
            for word in words:
                if word == "|":
                    continue
                if word.startswith("--"):
                    if word not in options:
                        problems.append(f"README.md:{line}: `{name}` has no option {word}")
                    previous = word
                    continue
                if "|" in word and word != word.upper() and len(commands) == 1:   # (ID|PATH is a placeholder)
                    values = word.split("|")
                    param = options.get(previous) if previous else next(
                        (a for a in arguments if _choices(a)), None)
                    accepted = _choices(param) if param is not None else None
                    if accepted is None:
                        problems.append(f"README.md:{line}: `{name}` {previous or 'argument'} takes no fixed "
                                        f"values, the table lists {word}")
                    elif sorted(values) != sorted(accepted):
                        problems.append(f"README.md:{line}: `{name}` {previous or 'argument'} accepts "
                                        f"{'|'.join(accepted)}, the table lists {word}")
                previous = None                    # a placeholder (D, ID) or the values just read
    return named, problems


def test_the_readme_command_table_names_every_command_and_only_what_they_accept():
    tree = _command_tree()
    named, problems = check_command_table(readme_command_table(), tree)
    assert not problems, "\n".join(problems)
    assert named == set(tree), f"missing from the table: {sorted(set(tree) - named)}"
    # the options the text under the table says go before the subcommand (or after it, where a command uses them)
    import typer

    root = {opt for param in typer.main.get_command(app).params for opt in param.opts}
    assert {"--store", "--agreement", "--as"} <= root


def test_the_command_table_check_catches_a_wrong_option_choice_or_command():
    tree = _command_tree()
    _, problems = check_command_table([(1, "check [--as-off D] [--format table|json|yaml]"),
                                       (2, "observe lst"), (3, "report [--every month|year]"),
                                       (4, "grant monitor|reader ROLE")], tree)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "`check` has no option --as-off",
        "`check` --format accepts table|json|markdown, the table lists table|json|yaml",
        "`observe lst`: no command observe lst",
        "`report` --every accepts month|quarter, the table lists month|year",
        "`grant` argument accepts monitor|reader|owner, the table lists monitor|reader"]


# ---- the README's verdicts "today" ----------------------------------------------------------------------------

def test_the_readme_table_of_todays_verdicts_is_the_checks():
    """The table after the tour's first example: the 2020 statement's verdicts on the sample log as of TODAY."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"nov-10-2020`, as of {TODAY};" in text
    section = text.split("The 2020 statement's verdicts on the sample log today", 1)[1].split("\n\n", 2)[1]
    table: dict[tuple[str, str], str] = {}
    for row in section.splitlines()[2:]:
        obligations, bearers, verdict = [cell.strip() for cell in row.strip("|").split("|")]
        for obligation in obligations.split(", "):
            for bearer in bearers.split(", "):
                assert (obligation, bearer) not in table, row
                table[obligation, bearer] = verdict.split()[0]
    import datetime

    from compliance import open_store
    from compliance.check import check

    result = check(open_store("sample"), as_of=datetime.date.fromisoformat(TODAY), agreements=["nov-10-2020"])
    assert table == {(o.id, o.bearer): o.verdict.value for o in result.obligations}


# ---- the comparator cannot pass vacuously -------------------------------------------------------------------------

def test_the_comparator_rejects_a_changed_line_and_accepts_elision(tmp_path):
    example = Example("README.md", 1, "compliance --store sample check --as-of 2021-09-30 --format json",
                      ["{", "...", '      "id": "P3-personnel-cap",', "...", "}"])
    ran = run_command(example.command, DOCS["README.md"], tmp_path)
    assert '"verdict": "alleged"' in ran.shown
    assert check_example(example, ran, tmp_path) is None
    real = ran.shown.splitlines()
    exact = Example(example.doc, 1, example.command, real)
    assert check_example(exact, ran, tmp_path) is None
    at = next(i for i, line in enumerate(real) if '"verdict": "alleged"' in line)
    changed = Example(example.doc, 1, example.command, real[:at] + [real[at].replace("alleged", "violated")]
                      + real[at + 1:])
    failure = check_example(changed, ran, tmp_path)
    assert failure and '-      "verdict": "violated",' in failure and '+      "verdict": "alleged",' in failure
    # a line missing, or one more, is drift too; so is another digest of the sample log, or another exit code
    assert check_example(Example(example.doc, 1, example.command, real[:-1]), ran, tmp_path)
    assert check_example(Example(example.doc, 1, example.command, real + ["}"]), ran, tmp_path)
    digest = [DIGEST.sub("sha256:" + "0" * 64, line) for line in real]
    assert digest != real and check_example(Example(example.doc, 1, example.command, digest), ran, tmp_path)
    error = Example(example.doc, 1, example.command, real + ["compliance: error: x: y"])
    assert "exit code 0, expected 2" in (check_example(error, Ran(ran.shown, 0, None), tmp_path) or "")


def test_elision_and_masks():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "  ...", "b"], ["a", "b"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["a", "c"], ["a", "b", "c"])
    assert masked("at 2026-11-23T17:44:00.940407Z, sha256:" + "a" * 64 + "  \n\n", digests=True) == [
        "at <time>, sha256:<digest>"]
    assert masked("sha256:" + "a" * 64, digests=False) == ["sha256:" + "a" * 64]


def test_the_parser_reads_commands_continuations_and_outputs():
    text = "x\n```console\n$ compliance a \\\n    --b c\nout 1\n\nout 2\n$ compliance d   # exit 1\n```\n"
    (block,) = [parse_block("t.md", start, lines) for start, lines in console_blocks(text)]
    assert [(e.line, e.command, e.expected) for e in block] == [
        (3, "compliance a --b c", ["out 1", "", "out 2"]), (8, "compliance d   # exit 1", [])]
    assert expected_exit(block[1]) == 1 and expected_exit(block[0]) == 0


# ---- printing the blocks as they run now --------------------------------------------------------------------------

def main(argv: list[str]) -> None:
    """Print every console block of the documents named (default: all) as the program runs it now."""
    for doc in argv or list(DOCS):
        with tempfile.TemporaryDirectory() as tmp:
            blocks, runs = run_doc(doc, Path(tmp))
            ran = iter(runs)
            for block in blocks:
                print(f"\n=== {doc}:{block[0].line}")
                for example in block:
                    result = next(ran)
                    print(f"$ {example.command}")
                    print(result.error or result.shown.replace(tmp, "<tmp>"), end="")
                    status = check_example(example, result, Path(tmp))
                    print(f"--- exit {result.exit_code}; {'ok' if status is None else 'DRIFTED'}")


if __name__ == "__main__":
    main(sys.argv[1:])
