"""Verdicts and the results a check returns (the JSON shapes of spec/verdicts.md)."""

from __future__ import annotations

from enum import Enum
from typing import Optional

from pydantic import BaseModel, ConfigDict


class Verdict(str, Enum):
    """The verdict vocabulary."""

    NOT_IN_FORCE = "not-in-force"
    PENDING = "pending"
    COMPLIANT = "compliant"
    OVERDUE = "overdue"
    ALLEGED = "alleged"
    DISPUTED = "disputed"
    VIOLATED = "violated"
    UNKNOWN = "unknown"
    NOT_ASSESSED = "not-assessed"

    def __str__(self) -> str:
        return self.value


VERDICTS = tuple(v.value for v in Verdict)
MAX_EVIDENCE = 20


class ObligationResult(BaseModel):
    """One obligation's verdict for one bearer, with its reason and decisive evidence."""

    model_config = ConfigDict(frozen=True)

    id: str
    point: int
    bearer: Optional[str]
    verdict: Verdict
    reason: str
    evidence: list[str]
    evidence_count: int
    inconclusive: list[str]
    due: str | None
    term_end: str | None = None
    title: str = ""
    rule: str = ""
    agreement: str = ""


class CheckResult(BaseModel):
    """Every obligation of the agreements evaluated, for each bearer, as of one date."""

    model_config = ConfigDict(frozen=True)

    agreement: Optional[str] = None
    agreements: list[str]
    as_of: str
    since: Optional[str] = None
    as_recorded: str | None = None
    without_amendments: bool = False
    log_digest: str
    obligations: list[ObligationResult]

    def verdict_of(self, obligation_id: str, bearer: str | None = None) -> Verdict:
        """The verdict of one obligation (and bearer, when it has several)."""
        return self.result_of(obligation_id, bearer).verdict

    def result_of(self, obligation_id: str, bearer: str | None = None) -> ObligationResult:
        """The result of one obligation (and bearer, when it has several)."""
        for item in self.obligations:
            if item.id == obligation_id and (bearer is None or item.bearer == bearer):
                return item
        raise KeyError(f"{obligation_id} {bearer or ''}".strip())

    def to_json_dict(self) -> dict:
        """The JSON form `check --format json` prints: `agreement` when one agreement was evaluated, `since`
        when one agreement was evaluated or `--since` was given (spec/process.md)."""
        data = self.model_dump(mode="json")
        if data["agreement"] is None:
            data.pop("agreement")
        if data["since"] is None:
            data.pop("since")
        return data
