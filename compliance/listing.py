"""The log as people read it: the live observations filtered (`observe list`), and one observation's history in
words (`observe show`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from .dates import day_param
from .errors import InputError
from .observation import check_actor, check_kind, clean_text
from .records import Record


def list_observations(store: Any, *, kind: str | None = None, actor: str | None = None,
                      since: dt.date | str | None = None, until: dt.date | str | None = None,
                      declared: Iterable[str] = ()) -> list[Record]:
    """The live observations (not superseded or retracted), by date then ID, filtered. The filters are checked
    as an observation's fields are: an unknown kind or actor, or `since` after `until`, is an InputError naming
    the parameter, not an empty list. Dates may be ISO text, read in the agreements' time zone."""
    process = store.process
    try:
        if kind is not None:
            kind = clean_text(kind, "kind")
            check_kind(kind, process, "kind")
    except InputError as error:
        raise error.as_param("kind") from None
    try:
        if actor is not None:
            actor = clean_text(actor, "actor")
            check_actor(actor, process, frozenset(declared), "actor")
    except InputError as error:
        raise error.as_param("actor") from None
    first, last = day_param(since, process.tz, "since"), day_param(until, process.tz, "until")
    if first is not None and last is not None and first > last:
        raise InputError(f"{first.isoformat()} is after {{until}} {last.isoformat()}", param="since",
                         mentions=("until",))
    return store.live_observations(store.head(), kind=kind, actor=actor, since=first, until=last)


def history_status(record: Record) -> str:
    """A record of an observation's chain in words: an observation or a correction (current, or ended by
    which record), or a retraction with its reason."""
    if record.type == "retraction":
        return f"retraction of {record.body['retracts']}: {record.body['reason']}"
    text = f"correction of {record.body['supersedes']}" if record.body.get("supersedes") else "observation"
    return text + (f" (ended by {record.ended_by})" if record.ended_by is not None else " (current)")
