"""Evidence rows (groups of like observations), matters, and the ordering of evidence IDs."""

from __future__ import annotations

import datetime as dt
import heapq
from operator import attrgetter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence


def id_key(observation_id: str) -> tuple[int, int, str]:
    """Sort key for observation IDs: logged IDs numerically, then hypothetical ones (h1, h2, ...)."""
    if observation_id.isdigit():
        return (0, int(observation_id), "")
    if observation_id[:1] == "h" and observation_id[1:].isdigit():
        return (1, int(observation_id[1:]), "")
    return (2, 0, observation_id)


_DAYS: dict[str, dt.date] = {}


def _day(text: str) -> dt.date:
    """An ISO date, parsed once per process (a log has a few thousand distinct days)."""
    day = _DAYS.get(text)
    if day is None:
        day = _DAYS[text] = dt.date.fromisoformat(text)
    return day


@dataclass(slots=True)
class Row:
    """Observations that share every field a rule reads: how many, and their first IDs (plain data, read whole
    from the store: a row holds no connection)."""

    kind: str
    actor: str
    day: dt.date
    day_end: dt.date
    source_party: str
    claim: str
    subject: str | None
    sup: str | None
    lo: int | None
    hi: int | None
    n: int
    id_text: str  # comma-separated IDs: all of them, or at least the first 20 by ID order (all any evidence list cites)
    attrs: str | None = None  # the attributes' canonical JSON, or None
    at: str | None = None  # the UTC instant of a date-time (rows on a moment's day only), None for a plain date
    at_end: str | None = None  # likewise for date_end
    sig: Any = None  # the store's number for every field but the dates (None: not known; compare the fields)
    _ids: list[str] | None = field(default=None, repr=False)

    def signature(self) -> Any:
        """Every field a rule reads but the dates: the store's number for them, or the fields themselves."""
        if self.sig is not None:
            return self.sig
        return (self.kind, self.actor, self.source_party, self.claim, self.subject, self.sup, self.lo, self.hi,
                self.attrs)

    @classmethod
    def of_observation(cls, obs: Any, ids: str) -> "Row":
        """A row of one validated observation (a what-if's hypothetical ones), with its moments."""
        from .dates import format_utc
        from .records import canonical_json

        fields = obs.fields
        sup = fields.get("supervised_by")
        attributes = fields.get("attributes")
        at_end = (format_utc(obs.instant_end) if obs.timed_end else
                  format_utc(obs.instant) if obs.timed and "date_end" not in fields else None)
        return cls(fields["kind"], fields["actor"], obs.day, obs.day_end, fields["source_party"],
                   fields.get("claim", "affirms"), fields.get("subject"), sup.strip().upper() if sup else None,
                   obs.lo, obs.hi, 1, ids, canonical_json(attributes) if attributes else None,
                   format_utc(obs.instant) if obs.timed else None, at_end)

    def key(self) -> tuple:
        """The group this row is (day first, its moments last): how a what-if finds the groups it changes."""
        return (self.day.isoformat(), self.kind, self.actor, self.source_party, self.claim, self.subject, self.sup,
                self.lo, self.hi, self.attrs, self.day_end.isoformat(), self.at, self.at_end)

    def ids(self) -> list[str]:
        """The observation IDs this row holds (its first ones, at least 20 of them), sorted."""
        if self._ids is None:
            self._ids = sorted(self.id_text.split(","), key=id_key) if self.id_text else []
        return self._ids


def first_ids(rows: Iterable[Row], limit: int) -> list[str]:
    """The first `limit` observation IDs of these rows, by date then ID."""
    if limit <= 0:
        return []
    rows = list(rows)
    if len(rows) > 4 * limit:
        # every row holds at least one ID, so the first `limit` IDs lie on or before the day of the
        # `limit`-th earliest row: sort only the rows up to that day
        cutoff = heapq.nsmallest(limit, [r.day for r in rows])[-1]
        rows = [r for r in rows if r.day <= cutoff]
    ordered = sorted(rows, key=lambda r: r.day)
    result: list[str] = []
    index = 0
    while index < len(ordered) and len(result) < limit:
        day = ordered[index].day
        same_day: list[str] = []
        while index < len(ordered) and ordered[index].day == day:
            same_day.extend(ordered[index].ids())
            index += 1
        result.extend(sorted(same_day, key=id_key))
    return result[:limit]


def total(rows: Iterable[Row]) -> int:
    """How many observations these rows hold."""
    return sum(row.n for row in rows)


@dataclass
class Matter:
    """Breach evidence close enough in time to be one matter (grouping is transitive)."""

    start: dt.date
    end: dt.date
    rows: list[Row]


_day_then_end = attrgetter("day", "day_end")


def group_matters(rows: Sequence[Row], window_days: int) -> list[Matter]:
    """Group breach rows into matters: spans widened by the window that touch belong together."""
    window = dt.timedelta(days=window_days)
    matters: list[Matter] = []
    current: Matter | None = None
    reach = dt.date.min  # the current matter's end plus the window
    for row in sorted(rows, key=_day_then_end):
        if current is not None and row.day <= reach:
            current.rows.append(row)
            if row.day_end > current.end:
                current.end = row.day_end
                reach = current.end + window
        else:
            current = Matter(row.day, row.day_end, [row])
            matters.append(current)
            reach = current.end + window
    return matters

