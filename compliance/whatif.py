"""What-if: evaluate a hypothetical against the real log, without writing anything, and show what changes.

For scripts and notebooks:

    from compliance.whatif import whatif
    result = whatif({"as_of": "2020-12-31", "without_amendments": ["nov-10-2020-A1"]}, store="sample")
    for change in result.changes:
        print(change.id, change.bearer, change.from_.value, "->", change.to.value, change.reason)
    result.scenario.verdict_of("P6-kalbajar-return")      # Verdict.VIOLATED
    result.to_json_dict()                                 # what `compliance whatif --format json` prints

`scenario` is a dict, a path to a YAML file, or a `Scenario` (compliance/scenario.py documents the keys);
`store` a `Store`, a path, or "sample". The log is read once: the baseline and the scenario are evaluated
from the same snapshot, so they always describe the same state of the log.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field

from .agreement import Agreement
from .check import evaluate_snapshot, snapshot
from .errors import ComplianceError
from .observation import count_text
from .records import canonical_json
from .render import bearer_text, escape_markdown
from .scenario import ResolvedScenario, Scenario, ScenarioFile, parse_scenario, read_scenario_file, resolve_scenario
from .store import Store
from .verdicts import CheckResult, Verdict

MAX_LISTED = 10


class Change(BaseModel):
    """One obligation and bearer whose verdict differs between the baseline and the scenario."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str
    bearer: Optional[str] = Field(description="The bearer; None for an obligation that names no bearer.")
    from_: Verdict = Field(alias="from")
    to: Verdict
    reason: str = Field(description="The scenario's reason for its verdict.")
    baseline_reason: str = Field(description="The baseline's reason for its verdict.")


class WhatIfResult(BaseModel):
    """The baseline check, the scenario's check, the verdicts that changed and the scenario's digest."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    baseline: CheckResult
    scenario: CheckResult
    changes: list[Change]
    scenario_digest: str
    normalised_scenario: dict[str, Any] = Field(
        description="The scenario as evaluated (defaults filled in, IDs sorted, added observations with their "
                    "h-IDs); scenario_digest hashes it with the baseline's log_digest.")

    def change_of(self, obligation_id: str, bearer: str | None = None) -> Change | None:
        """The change for one obligation (and bearer), or None when its verdict is the same."""
        for change in self.changes:
            if change.id == obligation_id and (bearer is None or change.bearer == bearer):
                return change
        return None

    def reasons_changed(self) -> list[Change]:
        """Obligations whose verdict is the same but whose reason differs (a term, or the evidence, changed)."""
        return verdict_changes(self.baseline, self.scenario, same_verdict=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON form `whatif --format json` prints (`from` spelled as in the contract); `baseline` and
        `scenario` are each what `check --format json` prints (cli.md), `agreement` and `since` left out as
        there when they do not apply."""
        data = self.model_dump(mode="json", by_alias=True)
        data["baseline"], data["scenario"] = self.baseline.to_json_dict(), self.scenario.to_json_dict()
        return data


def scenario_digest(normal_form: dict[str, Any], log_digest: str) -> str:
    """'sha256:' + the SHA-256 of the canonical JSON of the normalised scenario with the baseline's log digest."""
    content = canonical_json({"log_digest": log_digest, "scenario": normal_form})
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def verdict_changes(baseline: CheckResult, scenario: CheckResult, *, same_verdict: bool = False) -> list[Change]:
    """The obligations and bearers whose verdict differs, in the check's order.

    With `same_verdict`, instead those whose verdict is the same but whose reason differs.
    """
    before = {(o.id, o.bearer): o for o in baseline.obligations}
    changes = []
    for after in scenario.obligations:
        old = before.get((after.id, after.bearer))
        if old is None:
            continue
        if (old.verdict == after.verdict and old.reason != after.reason) if same_verdict else old.verdict != after.verdict:
            changes.append(Change(id=after.id, bearer=after.bearer, from_=old.verdict, to=after.verdict,
                                  reason=after.reason, baseline_reason=old.reason))
    return changes


def evaluate_scenario(scenario: Scenario | ScenarioFile, store: Store, *, where: str = "scenario",
                      agreements: Sequence[str | Path | Agreement] | None = None) -> WhatIfResult:
    """Evaluate a scenario against a store: read the log once, evaluate the baseline and the scenario, for every
    agreement the store tracks (or those named).

    Scenario errors are InputErrors naming the field path: for a `ScenarioFile`, at its file and line; else at
    `where`. Nothing is written.
    """
    from .check import resolve_agreements

    source = scenario if isinstance(scenario, ScenarioFile) else None
    scenario = source.scenario if source is not None else scenario
    chosen = resolve_agreements(store, agreements)
    snap = snapshot(store, scenario.as_of, agreements=chosen)
    try:
        resolved: ResolvedScenario = resolve_scenario(scenario, snap, chosen, store)
    except ComplianceError as error:
        raise (source.locate(error) if source is not None else error.located(where)) from None
    baseline = evaluate_snapshot(snap, agreements=chosen, since=resolved.since)
    result = evaluate_snapshot(snap, agreements=chosen, since=resolved.since, ignore_amendments=resolved.ignore_argument(),
                               overrides=resolved.overrides or None, attribute=resolved.attribute or None,
                               rows=resolved.rows(snap.rows))
    normal = resolved.normal_form()
    return WhatIfResult(as_of=baseline.as_of, baseline=baseline, scenario=result,
                        changes=verdict_changes(baseline, result),
                        scenario_digest=scenario_digest(normal, baseline.log_digest), normalised_scenario=normal)


def _scenario_model(scenario: Scenario | ScenarioFile | Mapping[str, Any] | str | Path) -> Scenario | ScenarioFile:
    if isinstance(scenario, (Scenario, ScenarioFile)):
        return scenario
    if isinstance(scenario, (str, Path)):
        return read_scenario_file(scenario)
    if isinstance(scenario, Mapping):
        return parse_scenario(dict(scenario), "scenario")
    raise TypeError(f"a scenario is a dict, a path or a Scenario, not {type(scenario).__name__}")


def whatif(scenario: Scenario | ScenarioFile | Mapping[str, Any] | str | Path, *, store: Store | str | Path | None = None,
           agreements: Sequence[str | Path | Agreement] | None = None) -> WhatIfResult:
    """Evaluate a what-if scenario against the log; never writes to it.

    scenario: a dict (keys as in the scenario file), a path (str or Path) to a YAML scenario file, a `Scenario`,
        or a `ScenarioFile` (from `read_scenario_file`).
    store: a `Store`, a path to a store file, or "sample" for the bundled sample log; None opens the store the
        `store` setting names (COMPLIANCE_STORE, else observations/observations.db), read-only. A path that does
        not exist reads as an empty log.
    agreements: which agreements to evaluate (IDs the store tracks, bundled IDs, clause-file paths or
        `Agreement`s); default: the `agreement` setting (COMPLIANCE_AGREEMENT), else every agreement the store
        tracks.

    Returns a `WhatIfResult`: `baseline` and `scenario` checks, `changes` (verdicts that differ) and
    `scenario_digest`. Raises `ComplianceError` subclasses (an invalid scenario is an `InputError` naming the
    file and line, or "scenario", the field path and the reason).
    """
    model = _scenario_model(scenario)
    if isinstance(store, Store):
        return evaluate_scenario(model, store, agreements=agreements)
    db = Store.open(store, write=False)
    try:
        return evaluate_scenario(model, db, agreements=agreements)
    finally:
        db.close()


# ---- rendering -------------------------------------------------------------------------------------

def _override_text(name: str, value: Any) -> str:
    """'limit 2,500', 'deadline 2020-11-19', 'inclusive: no (the exclusive reading)'."""
    if isinstance(value, bool):
        return f"{name}: {'yes' if value else 'no'}" + ("" if name != "inclusive" else
                                                        " (the inclusive reading)" if value else " (the exclusive reading)")
    if isinstance(value, int):
        return f"{name} {value:,}"
    return f"{name} {value}"


def scenario_summary(normal: dict[str, Any]) -> list[str]:
    """One line per scenario change, in words (the header of the table and markdown forms)."""
    lines = []
    added = normal.get("add", [])
    for item in added[:MAX_LISTED]:
        subject = f" ({item['subject']})" if item.get("subject") else ""
        claim = " denies" if item.get("claim") == "denies" else ""
        count = f", {count_text(item)}" if count_text(item) else ""
        lines.append(f"added {item['id']}: {item['kind']}{subject} by {item['actor']}{claim}, {item['date']}"
                     f"{' to ' + item['date_end'] if item.get('date_end') else ''}"
                     f"{count}; source {item['source']} ({item['source_party']})")
    if len(added) > MAX_LISTED:
        lines.append(f"added {len(added) - MAX_LISTED:,} more hypothetical observations")
    if normal.get("exclude"):
        lines.append("left out: " + ", ".join(normal["exclude"]))
    ignored = normal.get("without_amendments")
    if ignored is True:
        lines.append("original terms (every amendment ignored)")
    elif ignored:
        lines.append("amendments ignored: " + ", ".join(ignored))
    for ob, terms in normal.get("terms", {}).items():
        lines.append(f"term override: {ob} " + ", ".join(_override_text(name, value) for name, value in terms.items()))
    for actor, counted_as in normal.get("attribute", {}).items():
        lines.append(f"attribution: {actor}'s conduct counted as {counted_as}'s")
    return lines


def _heading(result: WhatIfResult) -> str:
    base = result.baseline
    period = f" (period from {base.since})" if base.since else ""
    return f"{', '.join(base.agreements)} what-if as of {base.as_of}{period}"


def whatif_table(result: WhatIfResult) -> str:
    """Plain text: as-of date, log and scenario digests, the scenario in words, then the verdicts that change."""
    from tabulate import tabulate

    lines = [_heading(result), f"log      {result.baseline.log_digest}", f"scenario {result.scenario_digest}"]
    lines += ["  " + line for line in scenario_summary(result.normalised_scenario)]
    lines.append("")
    if result.changes:
        lines.append(f"{len(result.changes)} verdict{'s' if len(result.changes) != 1 else ''} change:")
        rows = [(c.id, bearer_text(c.bearer), c.from_.value, c.to.value, c.reason) for c in result.changes]
        lines.append(tabulate(rows, headers=["obligation", "bearer", "baseline", "scenario", "reason"],
                              tablefmt="simple", maxcolwidths=[None, None, None, None, 80]))
    else:
        lines.append(f"no verdict changes: all {len(result.scenario.obligations)} verdicts are the same "
                     "in the scenario as in the baseline")
    same = result.reasons_changed()
    if same:
        lines += ["", f"same verdict, different reason in the scenario ({len(same)}):"]
        rows = [(c.id, bearer_text(c.bearer), c.to.value, c.reason) for c in same]
        lines.append(tabulate(rows, headers=["obligation", "bearer", "verdict", "scenario reason"],
                              tablefmt="simple", maxcolwidths=[None, None, None, 80]))
    return "\n".join(lines)


def whatif_markdown(result: WhatIfResult) -> str:
    """A markdown table of the verdicts that change, with the scenario and digests above it."""
    lines = [f"# {escape_markdown(_heading(result))}", "",
             f"- Log digest: `{result.baseline.log_digest}`", f"- Scenario digest: `{result.scenario_digest}`"]
    lines += [f"- {escape_markdown(line)}" for line in scenario_summary(result.normalised_scenario)]
    lines.append("")
    if result.changes:
        lines += ["| obligation | bearer | baseline | scenario | reason |", "|---|---|---|---|---|"]
        for c in result.changes:
            lines.append(f"| {escape_markdown(c.id)} | {escape_markdown(bearer_text(c.bearer))} | {c.from_.value} | "
                         f"**{c.to.value}** | {escape_markdown(c.reason)} |")
    else:
        lines.append(f"No verdict changes: all {len(result.scenario.obligations)} verdicts are the same in the "
                     "scenario as in the baseline.")
    same = result.reasons_changed()
    if same:
        lines += ["", "Same verdict, different reason in the scenario:", "",
                  "| obligation | bearer | verdict | scenario reason |", "|---|---|---|---|"]
        for c in same:
            lines.append(f"| {escape_markdown(c.id)} | {escape_markdown(bearer_text(c.bearer))} | {c.to.value} | "
                         f"{escape_markdown(c.reason)} |")
    return "\n".join(lines) + "\n"


def whatif_json(result: WhatIfResult) -> str:
    """The JSON `whatif --format json` prints."""
    return json.dumps(result.to_json_dict(), indent=2, ensure_ascii=False)
