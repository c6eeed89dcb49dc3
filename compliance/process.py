"""A process: the agreements judged on one log (a store tracks them), and the vocabulary they share.

Observations are facts about the world; agreements are the lenses that judge them (spec/process.md).
A store tracks one or more agreements, in order; the first one's time zone reads date-times without an
offset; obligation IDs are unique across them; a kind declared by two agreements means the same thing.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

from .agreement import Agreement, KindSpec, Obligation
from .errors import InputError, UnknownReferenceError

# The bundled agreements of the peace process, in the order a new store tracks them.
PROCESS = ("nov-10-2020", "jan-11-2021", "nov-26-2021")


def _kind_meaning(agreement: Agreement, spec: KindSpec) -> dict:
    """What a kind means for validation and grouping: everything but its description, with its window."""
    meaning = spec.model_dump(exclude={"description", "window_days", "context"})
    meaning["window_days"] = agreement.window(next(k for k, v in agreement.kinds.items() if v is spec))
    return meaning


class Process:
    """Agreements in tracking order, with their merged vocabulary (kinds, actor codes) and time zone."""

    def __init__(self, agreements: Sequence[Agreement]):
        self.agreements: tuple[Agreement, ...] = ()
        for agreement in agreements:
            self._add(agreement)

    @classmethod
    def empty(cls) -> "Process":
        """No agreement yet (a restore that starts with its own track records)."""
        return cls([])

    def _add(self, agreement: Agreement) -> None:
        if any(a.id == agreement.id for a in self.agreements):
            raise InputError(f"agreement {agreement.id} is tracked already", param="agreements")
        for ob in agreement.obligations:
            owner = self.obligation_owner(ob.id)
            if owner is not None:
                raise InputError(f"obligation ID {ob.id} of {agreement.id} is also an obligation of {owner.id}; "
                                 "obligation IDs must be unique across the agreements a store tracks", param="agreements")
        for kind, spec in agreement.kinds.items():
            for other in self.agreements:
                theirs = other.kinds.get(kind)
                if theirs is not None and _kind_meaning(other, theirs) != _kind_meaning(agreement, spec):
                    mine, known = _kind_meaning(agreement, spec), _kind_meaning(other, theirs)
                    field = next(k for k in mine if mine[k] != known.get(k))
                    raise InputError(f"kind {kind!r} is declared differently by {other.id} and {agreement.id} "
                                     f"({field}: {known.get(field)!r} vs {mine[field]!r}); one process has one "
                                     "vocabulary", param="agreements")
        self.agreements = (*self.agreements, agreement)
        self.__dict__.pop("kinds", None)
        self.__dict__.pop("known_codes", None)

    def with_agreement(self, agreement: Agreement) -> "Process":
        """This process plus one more agreement (checked: IDs unique, one vocabulary)."""
        grown = Process(self.agreements)
        grown._add(agreement)
        return grown

    @property
    def first(self) -> Agreement:
        """The first tracked agreement: its ID names the log's genesis, its time zone reads naive date-times."""
        if not self.agreements:
            raise InputError("no agreement is tracked yet", param="agreements")
        return self.agreements[0]

    @property
    def ids(self) -> list[str]:
        """The tracked agreements' IDs, in tracking order."""
        return [a.id for a in self.agreements]

    @property
    def tz(self) -> dt.tzinfo:
        """The time zone date-times without an offset are read in."""
        return self.first.tz if self.agreements else dt.timezone.utc

    @cached_property
    def kinds(self) -> dict[str, KindSpec]:
        """Every kind of every tracked agreement (a kind declared twice means the same thing)."""
        merged: dict[str, KindSpec] = {}
        for agreement in self.agreements:
            for kind, spec in agreement.kinds.items():
                merged.setdefault(kind, spec)
        return merged

    @cached_property
    def known_codes(self) -> tuple[str, ...]:
        """Parties and declared actors of every tracked agreement, each once."""
        return tuple(dict.fromkeys(code for a in self.agreements for code in a.known_codes))

    def agreement(self, agreement_id: str) -> Agreement:
        """A tracked agreement by ID."""
        for agreement in self.agreements:
            if agreement.id == agreement_id:
                return agreement
        raise UnknownReferenceError(f"the store does not track {agreement_id!r} (tracked: {', '.join(self.ids)})",
                                    param="agreements")

    def obligation_owner(self, obligation_id: str) -> Agreement | None:
        """The tracked agreement an obligation ID belongs to, or None."""
        for agreement in self.agreements:
            if agreement.obligation_or_none(obligation_id) is not None:
                return agreement
        return None

    def obligation(self, obligation_id: str) -> tuple[Agreement, Obligation] | None:
        """(agreement, obligation) for an obligation ID of any tracked agreement, or None."""
        owner = self.obligation_owner(obligation_id)
        return None if owner is None else (owner, owner.obligation_or_none(obligation_id))

    def obligation_ids(self) -> list[str]:
        """Every obligation ID, agreement by agreement."""
        return [ob.id for a in self.agreements for ob in a.obligations]


def as_process(vocabulary: "Agreement | Process") -> "Process":
    """A process from an agreement (one agreement) or a process (itself)."""
    return vocabulary if isinstance(vocabulary, Process) else Process([vocabulary])


def bundled_process_ids() -> list[str]:
    """The bundled process's agreement IDs that this installation ships, in order."""
    from .clauses import bundled_ids

    shipped = set(bundled_ids())
    return [agreement_id for agreement_id in PROCESS if agreement_id in shipped]


def load_process(refs: Iterable[str | Path]) -> Process:
    """A process of the agreements these references name (bundled IDs or clause-file paths), in order."""
    from .clauses import load_agreement

    return Process([load_agreement(ref) for ref in refs])

