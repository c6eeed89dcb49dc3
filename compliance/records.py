"""Log records: what the store appends (observations, corrections, retractions, amendments, endings)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
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


def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 kept; the form that is hashed."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def track_id(agreement_id: str) -> str:
    """The ID of the record that makes a store track an agreement: `<agreement>-T`."""
    return f"{agreement_id}-T"


def genesis_digest(agreement_id: str) -> str:
    """The chain head of an empty log whose first tracked agreement is `agreement_id`."""
    return "sha256:" + hashlib.sha256(f"compliance-log:{agreement_id}".encode()).hexdigest()


def chain_hash(prev_hash: str, record_id: str, record_type: str, body: dict[str, Any], recorded_at: str, recorded_by: str) -> str:
    """The hash of one record chained to the previous one."""
    content = canonical_json({"id": record_id, "type": record_type, "body": body,
                              "recorded_at": recorded_at, "recorded_by": recorded_by})
    return "sha256:" + hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


@dataclass(frozen=True)
class NewRecord:
    """A record about to be appended; store fields are set only when restoring an export."""

    type: str
    body: dict[str, Any]
    observation: Observation | None = None
    target: str | None = None
    id: str | None = None
    recorded_at: str | None = None
    recorded_by: str | None = None
    hash: str | None = None
    line: int | None = None

    @property
    def is_restore(self) -> bool:
        """True when the record carries store fields (an export line being restored)."""
        return any(value is not None for value in (self.id, self.recorded_at, self.recorded_by, self.hash))


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

    @property
    def target(self) -> str | None:
        """The ID this record supersedes or retracts, if any."""
        return self.body.get("supersedes") or self.body.get("retracts")

    def export(self) -> dict[str, Any]:
        """The record as one export line (store fields included)."""
        head: dict[str, Any] = {"record": self.type} if self.type in AGREEMENT_RECORDS else {}
        return {**head, "id": self.id, **self.body, "recorded_at": self.recorded_at,
                "recorded_by": self.recorded_by, "hash": self.hash}
