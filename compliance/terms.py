"""Terms in force on a date: the clause file's value changed by amendments agreed by then, and endings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .agreement import Agreement, Amendment, Ending


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
        key=lambda a: (a.agreed_on, int(a.id.rsplit("-A", 1)[1])))
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
