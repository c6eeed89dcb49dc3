"""Shared CLI plumbing: the global options and their precedence, the library's parameters in the command
line's words, and turning errors into exit codes."""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

import typer
from typer.core import TyperGroup

try:  # typer vendors click from 0.2x on; before, it uses click itself
    from typer._click import exceptions as click_exceptions
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions  # type: ignore[no-redef]
    from click.globals import get_current_context  # type: ignore[no-redef]

F = TypeVar("F", bound=Callable[..., Any])

STORE_HELP = ("The observation log: a SQLite file, or a PostgreSQL URL for a team (postgresql://user@host:5432/db, "
              "?schema=NAME; the password from PGPASSWORD or ~/.pgpass); 'sample' opens the bundled sample log "
              "read-only. [env: COMPLIANCE_STORE]")
AGREEMENT_HELP = ("Which agreements to evaluate (or, for a new store, to track): bundled IDs or clause file/folder paths; "
                  "repeatable or comma-separated. [env: COMPLIANCE_AGREEMENT]")
AS_HELP = ("Who is recording (stored as recorded_by; on PostgreSQL recorded_by is the server role and this name is "
           "kept beside it). [env: COMPLIANCE_MONITOR]")

StoreOption = typer.Option(None, "--store", help=STORE_HELP, show_default="observations/observations.db")
AgreementOption = typer.Option(None, "--agreement", help=AGREEMENT_HELP,
                               show_default="the store's tracked agreements; for a new store, the bundled process")
AsOption = typer.Option(None, "--as", help=AS_HELP, show_default="your user name")


@dataclass
class GlobalOptions:
    """Values of --store, --agreement and --as given before the subcommand."""

    store: Optional[str] = None
    agreement: Optional[list[str]] = None
    monitor: Optional[str] = None


def _root(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalOptions):
        root.obj = GlobalOptions()
    return root.obj


def settings(ctx: typer.Context, store: Optional[str] = None, agreement: Optional[list[str]] = None,
             monitor: Optional[str] = None):
    """The command's settings (spec/cli.md): each of --store, --agreement and --as given after the subcommand,
    else before it; then the environment; then the default. The one place the command line applies that order."""
    from ..settings import load

    root = _root(ctx)
    return load({"store": store or root.store, "agreement": agreement or root.agreement,
                 "monitor": monitor or root.monitor})


def resolve(ctx: typer.Context, name: str, given: Optional[str]) -> str:
    """The store's location (`store`) or who records (`monitor`), by the order of `settings`. The monitor's name
    is checked and trimmed as every stored text is, naming where it came from."""
    if name == "monitor":
        return settings(ctx, monitor=given).recorded_by()
    return settings(ctx, store=given).store


def agreement_refs(ctx: typer.Context, agreement: Optional[list[str]]) -> list[str]:
    """The agreements named (--agreement after the subcommand, then before it, then COMPLIANCE_AGREEMENT), split
    on commas; empty when none was given (every agreement the store tracks)."""
    return list(settings(ctx, agreement=agreement).agreement)


def open_store(ctx: typer.Context, store: Optional[str], agreement: Optional[list[str]], *, write: bool = False,
               quiet: bool = False):
    """Open the store; reads never create it, and a read of a store that does not exist says so on stderr (one
    line) and reads an empty log. A new store tracks the agreements named (default: the bundled process); a write
    to an existing store with --agreement naming one it does not track is an error."""
    from ..errors import InputError
    from ..store import SAMPLE, Store, is_server_location

    chosen = settings(ctx, store=store, agreement=agreement)
    location, refs = chosen.store, list(chosen.agreement)
    server = is_server_location(location)
    new_file = location != SAMPLE and not server and not os.path.lexists(location)
    if new_file and write:  # (a server rolls a failed first write back whole, schema and all)
        _CREATED.append([None, location])
    db = Store.open(location, refs or None, write=write)
    if new_file and write:
        _CREATED[-1][0] = db
    if (new_file or (server and not db.exists)) and not write and not quiet:  # (a schema that does not exist)
        warn(db.where, "no store here (check --store or COMPLIANCE_STORE); reading an empty log")
    if write and refs:
        from ..check import resolve_agreements

        for chosen in resolve_agreements(db, refs):
            if chosen.id not in db.process.ids:
                raise InputError(f"the store does not track {chosen.id}; track it first: compliance track {chosen.id}",
                                 param="agreements")
    return db


def store_vocabulary(ctx: typer.Context, store: Optional[str], agreement: Optional[list[str]]):
    """The agreements the store tracks (for a store not yet written, those it will track), without creating it:
    what new observations are validated against."""
    db = open_store(ctx, store, agreement, quiet=True)
    try:
        return db.process
    finally:
        db.close()


def selected_agreements(ctx: typer.Context, db, agreement: Optional[list[str]]):
    """The agreements a read evaluates: those named by --agreement, or every one the store tracks."""
    from ..check import resolve_agreements

    return resolve_agreements(db, agreement_refs(ctx, agreement))


def open_agreement(ctx: typer.Context, agreement: Optional[list[str]]):
    """The first agreement named by --agreement (or the first of the bundled process)."""
    from ..clauses import load_agreement
    from ..process import bundled_process_ids

    refs = agreement_refs(ctx, agreement) or bundled_process_ids()
    return load_agreement(refs[0])


# Stores the running command created: if it fails, one it left empty (or could not open) is removed again, so
# that a refused write (a tampered restore, a correction of an unknown ID, an agreement that does not load)
# leaves no store file behind.
_CREATED: list[list[Any]] = []


def _discard_created() -> None:
    while _CREATED:
        db, location = _CREATED.pop()
        try:
            if db is not None:
                if not db.is_empty():
                    continue
                db.close()
            for path in (location, f"{location}-wal", f"{location}-shm", f"{location}-journal"):
                if os.path.lexists(path):
                    os.unlink(path)
        except (OSError, sqlite3.Error):  # best effort: the error being reported matters more
            pass


def declared_codes(declare: Optional[list[str]]) -> frozenset[str]:
    """Actor codes the monitor declares: those of --declare and of COMPLIANCE_DECLARED_ACTORS, together."""
    from ..settings import load

    return frozenset(declare or ()) | frozenset(load().declared_actors)


# The library's parameters (and the fields it asks for) in the command line's words: an error that names a
# parameter is shown with the option (or argument) that gives it.
OPTIONS = {
    "location": "--store", "agreements": "--agreement", "agreement": "--agreement", "monitor": "--as",
    "store": "--store", "as_of": "--as-of", "since": "--since", "until": "--until", "as_recorded": "--as-recorded",
    "period": "--period", "start": "--from", "end": "--to", "every": "--every", "expect_head": "--head",
    "default_source_party": "--default-source-party", "mapping": "--mapping", "declared": "--declare",
    "attributes": "--attr", "kind": "--kind", "actor": "--actor", "date": "--date", "source_party": "--source-party",
    "supersedes": "--supersedes", "party": "--party", "aliases": "--alias", "type_": "--type", "note": "--note",
    "name": "NAME", "obligation_id": "ID", "record_id": "ID", "observation_id": "ID", "changes": "correct",
    "right": "RIGHT", "role": "ROLE", "fail_on": "--fail-on", "schema": "schema",
}


def cli_words(name: str, value: Optional[str] = None) -> str:
    """A library parameter (or a parameter given a value) as the command line names it."""
    if name == "register_source":
        return f'compliance sources add "{value}" --party CODE'
    option = OPTIONS.get(name, name)
    return option if value is None else f"{option} {value}"


def _debug() -> bool:
    """The `debug` setting (COMPLIANCE_DEBUG); off when the settings themselves cannot be read."""
    from ..errors import ComplianceError
    from ..settings import load

    try:
        return load().debug
    except ComplianceError:
        return False


MAX_ERROR_LINE = 1_000  # characters of one error line, whatever the input it quotes
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # how bytes that are not UTF-8 reach Python in arguments


def error_line(where: Optional[str], reason: str, label: str = "error") -> str:
    """`compliance: error: <where>: <reason>`: one line, control characters and undecodable bytes escaped,
    at most MAX_ERROR_LINE characters."""
    prefix = f"{where}: " if where else ""
    text = f"compliance: {label}: {prefix}{reason}".replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    text = _UNPRINTABLE.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)
    return text if len(text) <= MAX_ERROR_LINE else text[:MAX_ERROR_LINE - 1] + "…"


def fail(where: Optional[str], reason: str, code: int = 2) -> None:
    """Print one error line and exit with `code`."""
    print(error_line(where, reason), file=sys.stderr)
    raise typer.Exit(code)


def warn(where: Optional[str], reason: str) -> None:
    """Print one warning line on stderr; the command goes on."""
    print(error_line(where, reason, "warning"), file=sys.stderr)


def _param_name(param: Any) -> str:
    """How the user names a parameter: its longest option (`--format`) or an argument's metavar (`ID`)."""
    opts = [o for o in getattr(param, "opts", []) if o.startswith("-")]
    if opts:
        return max(opts, key=len)
    return getattr(param, "metavar", None) or (getattr(param, "name", None) or "argument").upper()


def _accepts(param: Any) -> tuple[str, bool]:
    """What a parameter accepts, in words (its choices, its number type, or its help text), and whether that
    is a type (choices or a number) rather than help text."""
    from enum import Enum

    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)  # typer's own parameters
    click_type = getattr(param, "type", None)  # typer before 0.2x: click's parameter types
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices: Any = [member.value for member in annotation]
    else:
        choices = getattr(click_type, "choices", None)
    if choices:
        return "one of: " + ", ".join(str(getattr(c, "value", c)) for c in choices), True
    number = annotation if annotation in (int, float) else {"integer": int, "float": float}.get(
        getattr(click_type, "name", ""))
    if number is not None:
        return ("a whole number" if number is int else "a decimal number"), True
    return (getattr(param, "help", None) or "").strip().rstrip("."), False


def _usage_error(error: Any) -> tuple[str, str]:
    """(where, reason) of a click usage error: the option or argument, and what it accepts."""
    ctx = getattr(error, "ctx", None)
    command = ctx.command_path if ctx is not None else "compliance"
    param = getattr(error, "param", None)
    message = str(getattr(error, "message", "") or "").removeprefix("Value error, ").strip().rstrip(".")
    if isinstance(error, click_exceptions.MissingParameter) and param is not None:
        accepts, _ = _accepts(param)
        return _param_name(param), f"is required for {command}" + (f" ({accepts})" if accepts else "")
    if isinstance(error, click_exceptions.BadParameter) and param is not None:
        accepts, typed = _accepts(param)
        if typed:  # say it in the tool's words: "'yaml' is not one of: table, json, markdown"
            given = re.search(r"'[^']*'", message)
            message = f"{given.group()} is not {accepts}" if given else f"must be {accepts}"
        return _param_name(param), message
    if isinstance(error, click_exceptions.NoSuchOption):
        options = sorted({_param_name(p) for p in ctx.command.params if getattr(p, "opts", None)
                          and not getattr(p, "hidden", False)} | {"--help"}) if ctx is not None else []
        return error.option_name, f"no such option for {command}" + (f" (options: {', '.join(options)})" if options else "")
    if isinstance(error, click_exceptions.BadOptionUsage):
        return error.option_name, message
    if ctx is not None and hasattr(ctx.command, "list_commands") and message.startswith("No such command"):
        name = message.split("'", 2)[1] if message.count("'") >= 2 else message
        return name, f"no such command of {command} (commands: {', '.join(ctx.command.list_commands(ctx))})"
    return command, message[:1].lower() + message[1:]


class OneLineErrors(TyperGroup):
    """The root command: every usage error (missing option, bad choice, unknown command or option, ...) is one
    line, `compliance: error: <where>: <reason>`, and exit 2; nothing escapes as exit code 1."""

    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except getattr(click_exceptions, "NoArgsIsHelpError", ()) as error:  # no arguments: the help is the answer
            error.show()
            sys.exit(error.exit_code)
        except click_exceptions.UsageError as error:
            print(error_line(*_usage_error(error)), file=sys.stderr)
            sys.exit(2)
        except click_exceptions.ClickException as error:
            print(error_line(None, error.format_message()), file=sys.stderr)
            sys.exit(error.exit_code if error.exit_code not in (0, 1) else 2)
        except (typer.Abort, getattr(click_exceptions, "Abort", typer.Abort)):
            print(error_line(None, "aborted"), file=sys.stderr)
            sys.exit(130)
        except KeyboardInterrupt:
            print(error_line(None, "interrupted"), file=sys.stderr)
            sys.exit(130)
        except Exception as error:  # a bug outside a command body: one line, never exit code 1
            if _debug():
                raise
            print(error_line("internal error", f"{type(error).__name__}: {error} (set COMPLIANCE_DEBUG=1 for a "
                                               "traceback)"), file=sys.stderr)
            sys.exit(4)
        sys.exit(result if isinstance(result, int) else 0)


def _undecodable_argument() -> Optional[str]:
    """The first option or argument (of the command or the root) holding bytes that are not UTF-8."""
    ctx = get_current_context(silent=True)
    while ctx is not None:
        for param in ctx.command.params:
            value = ctx.params.get(param.name)
            values = value if isinstance(value, (list, tuple)) else [value]
            if any(isinstance(v, str) and _SURROGATE.search(v) for v in values):
                return _param_name(param)
        ctx = ctx.parent
    return None


def handles_errors(func: F) -> F:
    """Run a command body; turn errors into one line on stderr and the documented exit code."""
    from ..errors import ComplianceError

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        undecodable = _undecodable_argument()
        if undecodable is not None:  # bytes that are not UTF-8 reach Python as unpaired surrogates
            fail(undecodable, "is not valid Unicode text (bytes that are not UTF-8)", 2)
        try:
            try:
                return func(*args, **kwargs)
            except BaseException as error:
                if not (isinstance(error, typer.Exit) and error.exit_code in (0, 1)):
                    _discard_created()
                raise
            finally:
                _CREATED.clear()
        except ComplianceError as error:
            where, reason = error.describe(cli_words)
            fail(where, reason.replace("\n", " "), error.exit_code)
        except BrokenPipeError:  # the reader went away (`compliance ... | head`): stop quietly
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            raise typer.Exit(0)
        except sqlite3.DatabaseError as error:
            fail("store", str(error), 4)
        except OSError as error:
            fail(getattr(error, "filename", None), error.strerror or str(error), 4)
        except KeyboardInterrupt:
            fail(None, "interrupted", 130)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:  # a bug: one line, never a bare traceback, never exit code 1
            if _debug():
                raise
            fail("internal error", f"{type(error).__name__}: {error} (set COMPLIANCE_DEBUG=1 for a traceback)", 4)

    return wrapper  # type: ignore[return-value]


def parse_fail_on(value: Optional[str]) -> set[str]:
    """The --fail-on list of verdicts."""
    from ..errors import InputError
    from ..verdicts import VERDICTS

    if not value:
        return set()
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    unknown = wanted - set(VERDICTS)
    if unknown:
        raise InputError(f"unknown verdict(s) {', '.join(sorted(unknown))} (valid: {', '.join(VERDICTS)})", "--fail-on")
    return wanted
