"""Log records: what the store appends (observations, corrections, retractions, amendments, endings)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .observation import Observation

OBSERVATION = "observation"
RETRACTION = "retraction"
AMENDMENT = "amendment"
ENDING = "ending"
TRACK = "track"
RECORD_TYPES = (OBSERVATION, RETRACTION, AMENDMENT, ENDING, TRACK)
AGREEMENT_RECORDS = (AMENDMENT, ENDING, TRACK)  # exported with a `record` key naming their type
STORE_FIELDS = ("id", "recorded_at", "recorded_by", "hash")
# a store field an export carries only when set: the display name a PostgreSQL store keeps beside the
# authenticated role in `recorded_by` (the `--as` name); hashed with the record when present
RECORDED_AS = "recorded_as"

_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
_json_text = json.JSONEncoder(ensure_ascii=False).encode


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept; the form that is hashed."""
    return _canonical(data)


def track_id(agreement_id: str) -> str:
    """The ID of the record that makes a store track an agreement: `<agreement>-T`."""
    return f"{agreement_id}-T"


def genesis_digest(agreement_id: str) -> str:
    """The chain head of an empty log whose first tracked agreement is `agreement_id`."""
    return "sha256:" + hashlib.sha256(f"compliance-log:{agreement_id}".encode()).hexdigest()


def chain_hash(prev_hash: str, record_id: str, record_type: str, body: dict[str, Any], recorded_at: str,
               recorded_by: str, recorded_as: str | None = None) -> str:
    """The hash of one record chained to the previous one: SHA-256 of the previous hash, a newline and the canonical
    JSON of {body, id, recorded_as (only when set), recorded_at, recorded_by, type}."""
    return chain_hash_of_text(prev_hash, record_id, record_type, canonical_json(body), recorded_at, recorded_by,
                              recorded_as)


def chain_hash_of_text(prev_hash: str, record_id: str, record_type: str, body_json: str, recorded_at: str,
                       recorded_by: str, recorded_as: str | None = None) -> str:
    """`chain_hash` from the body's canonical JSON, made once for the hash and the stored body (what the store and
    `verify` use): the content is written out around it, as canonical_json of the whole would write it."""
    text = _quoted
    display = f'"recorded_as":{_json_text(recorded_as)},' if recorded_as is not None else ""
    quoted_id = f'"{record_id}"' if record_id.isdigit() else _json_text(record_id)  # an observation's number
    content = (f'{{"body":{body_json},"id":{quoted_id},{display}"recorded_at":{text(recorded_at)},'
               f'"recorded_by":{text(recorded_by)},"type":{text(record_type)}}}')
    return "sha256:" + hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


@lru_cache(maxsize=1024)
def _quoted(value: str) -> str:
    """JSON text of a string, remembered: one append repeats the same time, monitor and record type."""
    return _json_text(value)


@dataclass(slots=True)
class NewRecord:
    """A record about to be appended; store fields are set only when restoring an export. Treated as immutable
    (not frozen: an import makes one per line, and a frozen dataclass takes seven times as long to make)."""

    type: str
    body: dict[str, Any]
    observation: Observation | None = None
    target: str | None = None
    id: str | None = None
    recorded_at: str | None = None
    recorded_by: str | None = None
    hash: str | None = None
    line: int | None = None
    recorded_as: str | None = None
    # made ahead (by the process that validated the record): the body's canonical JSON and the derived columns
    # (`store.chain.DERIVED`); such an observation's `body` may be left empty, since the store reads neither
    body_json: str | None = None
    columns: tuple[Any, ...] | None = None
    # chained ahead on a guess (`store.chain.ChainGuess`): (previous hash, ID, hash), used only where the guess holds
    chained: tuple[str, str, str] | None = None

    @property
    def is_restore(self) -> bool:
        """True when the record carries store fields (an export line being restored)."""
        return not (self.id is None and self.recorded_at is None and self.recorded_by is None and self.hash is None)


@dataclass(frozen=True)
class Record:
    """A stored record with its store fields."""

    seq: int
    id: str
    type: str
    body: dict[str, Any]
    recorded_at: str
    recorded_by: str
    hash: str
    ended_by: str | None = None
    day: dt.date | None = field(default=None, compare=False)
    recorded_as: str | None = None

    @property
    def target(self) -> str | None:
        """The ID this record supersedes or retracts, if any."""
        return self.body.get("supersedes") or self.body.get("retracts")

    def export(self) -> dict[str, Any]:
        """The record as one export line (store fields included)."""
        head: dict[str, Any] = {"record": self.type} if self.type in AGREEMENT_RECORDS else {}
        shown = {RECORDED_AS: self.recorded_as} if self.recorded_as is not None else {}
        return {**head, "id": self.id, **self.body, "recorded_at": self.recorded_at,
                "recorded_by": self.recorded_by, **shown, "hash": self.hash}
