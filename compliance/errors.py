"""The exception hierarchy: one root, one subclass per way things go wrong, each with its exit code."""

from __future__ import annotations


class ComplianceError(Exception):
    """Root of every error the tool raises on purpose; `where` names the file, line, field or option."""

    exit_code = 2

    def __init__(self, reason: str, where: str | None = None):
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)

    def located(self, where: str) -> "ComplianceError":
        """Return the same error with `where` prefixed (for example a file and line number)."""
        inner = f"{where}: {self.where}" if self.where else where
        return type(self)(self.reason, inner)


class InputError(ComplianceError):
    """Bad input from the user: an invalid observation, option, scenario or file line (exit 2)."""


class ClauseFileError(InputError):
    """A clause file that cannot be loaded or does not validate (exit 2)."""


class UnknownReferenceError(InputError):
    """A reference to an ID, obligation, term, kind or party that does not exist (exit 2)."""


class StoreMismatchError(InputError):
    """A store used with an agreement other than the one it belongs to (exit 2)."""


class StoreError(ComplianceError):
    """The environment failed: the store or a file cannot be opened, read or written (exit 4)."""

    exit_code = 4


class IntegrityError(ComplianceError):
    """The log was altered behind the tool's back (exit 3)."""

    exit_code = 3


class EngineError(ComplianceError):
    """The rules engine lost, delayed or failed an action; never shown as a verdict (exit 4)."""

    exit_code = 4
