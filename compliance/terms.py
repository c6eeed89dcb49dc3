"""Terms in force on a date: the clause file's value changed by amendments agreed by then, and endings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from .agreement import Agreement, Amendment, Ending, Obligation


@dataclass(frozen=True)
class TermInForce:
    """A term's value on a date, its original value and the amendments that changed it."""

    name: str
    value: dt.date | int
    original: dt.date | int
    amended_by: tuple[Amendment, ...] = ()
    overridden: bool = False


@dataclass(frozen=True)
class AgreementState:
    """The terms in force and the endings in effect for every obligation, as of one date."""

    terms: dict[str, dict[str, TermInForce]]
    endings: dict[str, Ending]
    amendments_applied: tuple[Amendment, ...] = field(default=())


def agreement_state(agreement: Agreement, as_of: dt.date, amendments: list[Amendment], endings: list[Ending],
                    *, ignore_amendments: bool | set[str] = False,
                    overrides: dict[str, dict[str, dt.date | int]] | None = None) -> AgreementState:
    """Resolve terms and endings as of `as_of`.

    Amendments agreed on or before `as_of` apply in the order agreed (the latest wins); `ignore_amendments`
    is True for the original terms or a set of amendment IDs to leave out; `overrides` (what-if) apply last.
    """
    applied = sorted(
        (a for a in amendments if a.agreed_on <= as_of
         and not (ignore_amendments is True or (isinstance(ignore_amendments, set) and a.id in ignore_amendments))),
        key=lambda a: (a.agreed_on, _number(a.id)))
    terms: dict[str, dict[str, TermInForce]] = {}
    for ob in agreement.obligations:
        resolved: dict[str, TermInForce] = {}
        for name, term in ob.terms.items():
            changes = tuple(a for a in applied if a.obligation == ob.id and a.term == name)
            value = changes[-1].value if changes else term.value
            override = (overrides or {}).get(ob.id, {}).get(name)
            resolved[name] = TermInForce(name, override if override is not None else value, term.value, changes,
                                         override is not None)
        terms[ob.id] = resolved
    in_effect: dict[str, Ending] = {}
    for ending in sorted(endings, key=lambda e: e.on):
        if ending.on <= as_of and ending.obligation not in in_effect:
            in_effect[ending.obligation] = ending
    return AgreementState(terms, in_effect, tuple(applied))


@dataclass(frozen=True)
class Epoch:
    """A range of days (ordinals, inclusive) over which every term of an obligation keeps its value."""

    first: int
    last: int
    values: dict[str, Any]


def term_epochs(ob: Obligation, amendments: Iterable[Amendment], as_of: dt.date, *,
                ignore: bool | frozenset[str] | set[str] = False, overrides: dict[str, Any] | None = None) -> list[Epoch]:
    """The obligation's terms over time, up to `as_of`: the clause file's values changed by each amendment agreed
    on or before `as_of`, from the day it was agreed (the latest agreed wins; on one day, the higher number);
    what-if `overrides` hold on every day. A count is judged by the epoch of its own date; a deadline reads the
    last epoch (the terms in force on the as-of date)."""
    overrides = {name: value for name, value in (overrides or {}).items() if name in ob.terms}
    applied = sorted(
        (a for a in amendments if a.obligation == ob.id and a.term in ob.terms and a.agreed_on <= as_of
         and not (ignore is True or (not isinstance(ignore, bool) and a.id in ignore))),
        key=lambda a: (a.agreed_on, _number(a.id)))
    values = {name: term.value for name, term in ob.terms.items()}
    epochs: list[Epoch] = []
    first = 1
    for amendment in applied:
        day = amendment.agreed_on.toordinal()
        if day > first:
            epochs.append(Epoch(first, day - 1, {**values, **overrides}))
            first = day
        values = {**values, amendment.term: amendment.value}
    epochs.append(Epoch(first, 3_000_000, {**values, **overrides}))
    return epochs


def _number(amendment_id: str) -> int:
    tail = amendment_id.rsplit("-A", 1)[-1]
    return int(tail) if tail.isdigit() else 0
