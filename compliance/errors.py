"""The exception hierarchy: one root, one subclass per way things go wrong, each with its exit code.

An error carries its location as data: the `file` and `line` of an input, the `field` (or any other place) it
concerns, or the library `param` it names. The reason may name other parameters as `{name}` (or `{name:value}`
for "give this parameter this value"), listed in `mentions`; `str(error)` shows them as the library names
them, and a front end shows them in its own words (the command line, as its options) with `describe()`.
"""

from __future__ import annotations

import copy
import re
from typing import Callable, Iterable, Optional

# name, value -> how a front end words a parameter (or a parameter given a value) inside a reason
Namer = Callable[[str, Optional[str]], str]

# How the library words a mention that is not just its parameter's name.
_LIBRARY_WORDS = {"register_source": 'compliance.sources.add_source(path, "{value}", party)'}
_MENTION = re.compile(r"\{([a-z_]+)(?::([^{}]*))?\}")


def library_name(name: str, value: Optional[str]) -> str:
    """A mention as the library words it: the parameter's name (and the value to give it)."""
    words = _LIBRARY_WORDS.get(name)
    if words is not None:
        return words.format(value=value or "")
    return name if value is None else f"{name} {value}"


class ComplianceError(Exception):
    """Root of every error the tool raises on purpose; `where` names the file, line, field or parameter."""

    exit_code = 2

    def __init__(self, reason: str, where: str | None = None, *, param: str | tuple[str, str] | None = None,
                 file: str | None = None, line: int | None = None, mentions: Iterable[str] = ()):
        self.template = reason
        self.field = where  # the field (or other place) within the file and line, if any
        self.param = param  # the library parameter whose value is wrong (or (parameter, item)), if any
        self.file = file
        self.line = line
        self.mentions = tuple(mentions)
        super().__init__(reason)

    # ---- how it reads ----------------------------------------------------------------------------

    def describe(self, namer: Namer = library_name) -> tuple[str | None, str]:
        """(where, reason), with parameters worded by `namer` (default: as the library names them)."""
        head = f"{self.file}:{self.line}" if self.file and self.line else self.file or (
            f"line {self.line}" if self.line is not None else None)
        param = (self.param, None) if isinstance(self.param, str) else self.param
        parts = [head, namer(*param) if param else None, self.field]
        where = ": ".join(part for part in parts if part)
        reason = self.template
        if self.mentions:
            def word(found: re.Match[str]) -> str:
                name = found.group(1)
                return namer(name, found.group(2)) if name in self.mentions else found.group(0)

            reason = _MENTION.sub(word, reason)
        return where or None, reason

    @property
    def where(self) -> str | None:
        """The location as one text: `file:line: field`, `line N: field`, the field, or the parameter."""
        return self.describe()[0]

    @property
    def reason(self) -> str:
        """Why, with parameters named as the library names them."""
        return self.describe()[1]

    def __str__(self) -> str:
        where, reason = self.describe()
        return f"{where}: {reason}" if where else reason

    def __reduce__(self):  # pickled whole (an error found in a reading process)
        return _rebuild, (type(self), self.__dict__.copy())

    # ---- locating --------------------------------------------------------------------------------

    def _copy(self, **changes: object) -> "ComplianceError":
        new = copy.copy(self)
        new.__dict__.update(changes)
        return new

    def at(self, file: str | None = None, line: int | None = None) -> "ComplianceError":
        """The same error found in `file` (at `line`); a location it had already becomes its field's prefix."""
        if self.file is None and (line is None or self.line is None):
            return self._copy(file=file or self.file, line=self.line if line is None else line)
        inner = ": ".join(part for part in (self.describe()[0],) if part)
        return self._copy(file=file, line=line, param=None, field=inner or None)

    def located(self, where: str) -> "ComplianceError":
        """The same error within `where` (a place that is no file and line, such as a scenario's name)."""
        inner = self.where
        return self._copy(file=None, line=None, param=None, field=f"{where}: {inner}" if inner else where)

    def in_field(self, field: str | None) -> "ComplianceError":
        """The same error, concerning `field` (a parameter it named becomes that field)."""
        return self._copy(field=field, param=None)

    def as_param(self, param: str | tuple[str, str]) -> "ComplianceError":
        """The same error, concerning the parameter `param` (a field it named becomes that parameter)."""
        return self._copy(field=None, param=param)


def _rebuild(cls: type, state: dict) -> ComplianceError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("template", ""))
    error.__dict__.update(state)
    return error


class InputError(ComplianceError):
    """Bad input from the user: an invalid observation, option, scenario or file line (exit 2)."""


class ClauseFileError(InputError):
    """A clause file that cannot be loaded or does not validate (exit 2)."""


class UnknownReferenceError(InputError):
    """A reference to an ID, obligation, term, kind or party that does not exist (exit 2)."""


class StoreMismatchError(InputError):
    """A store used with an agreement other than the one it belongs to (exit 2)."""


class SettingsError(InputError):
    """A setting (an environment variable, or the option that overrides it) that is not valid (exit 2)."""


class StoreError(ComplianceError):
    """The environment failed: the store or a file cannot be opened, read or written (exit 4)."""

    exit_code = 4


class IntegrityError(ComplianceError):
    """The log was altered behind the tool's back (exit 3)."""

    exit_code = 3


class EngineError(ComplianceError):
    """The rules engine lost, delayed or failed an action; never shown as a verdict (exit 4)."""

    exit_code = 4
