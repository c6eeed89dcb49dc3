"""What one report shows, gathered from one snapshot of the log: verdicts, terms, observations, the links
between obligations of different agreements, the process around it, and the caps chart's data."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Sequence

from ..agreement import INDEPENDENT, Agreement
from ..check import Snapshot, evaluate_snapshot
from ..dates import add_months
from ..periods import Period
from ..records import Record
from ..store import Store
from ..terms import AgreementState, agreement_state
from ..verdicts import CheckResult, ObligationResult

FINDINGS = ("violated", "overdue", "alleged", "disputed")  # the verdicts a findings block lists, most serious first
LINKS = (("implements", "implements", "implemented by"), ("reaffirms", "reaffirms", "reaffirmed by"))


def alignment_categories(agreement: Agreement) -> list[str]:
    """The alignment categories charts colour by: one per side ('AM-side', ..., 'RU'), 'independent', 'other'."""
    return [f"{side[0]}-side" if len(side) > 1 else side[0] for side in agreement.sides] + [INDEPENDENT, "other"]


def alignment(agreement: Agreement, source_party: str) -> str:
    """The alignment category of a source: its side, 'independent', or 'other' for a code on no declared side."""
    if source_party == INDEPENDENT:
        return INDEPENDENT
    for side in agreement.sides:
        if source_party in side:
            return f"{side[0]}-side" if len(side) > 1 else side[0]
    return "other"


def subjects_read(agreement: Agreement) -> dict[str, set[str] | None]:
    """Per kind, the subjects some obligation reads (None: every subject); kinds no rule reads are absent."""
    read: dict[str, set[str] | None] = {}
    for ob in agreement.obligations:
        for rule_read in ob.rule.reads:
            kind, subject = rule_read.kind, rule_read.subject
            if subject is None:
                read[kind] = None
            elif read.get(kind, set()) is not None:
                read.setdefault(kind, set()).add(subject)
    return read


def is_unread(agreement: Agreement, record: Record, read: dict[str, set[str] | None] | None = None) -> bool:
    """True for an observation no obligation of the agreement reads (for nov-10-2020: ceasefire breaches on the
    state border)."""
    read = subjects_read(agreement) if read is None else read
    kind = record.body.get("kind")
    if kind not in read:
        return True
    subjects = read[kind]
    return subjects is not None and record.body.get("subject") not in subjects


def at(snap: Snapshot, as_of: dt.date) -> Snapshot:
    """The snapshot as a check as of an earlier date would have read it (same chain head)."""
    if as_of == snap.as_of:
        return snap
    return dataclasses.replace(snap, as_of=as_of, rows=[row for row in snap.rows if row.day <= as_of])


class Evaluator:
    """Evaluations of one snapshot, one agreement at a time, cached by (agreement, as_of, since)."""

    def __init__(self, snap: Snapshot):
        self.snap = snap
        self.cache: dict[tuple[str, dt.date, dt.date | None], CheckResult] = {}
        self.views: dict[dt.date, Snapshot] = {}

    def __call__(self, agreement: Agreement, as_of: dt.date, since: dt.date | None) -> CheckResult:
        key = (agreement.id, as_of, since)
        if key not in self.cache:
            if as_of not in self.views:
                self.views[as_of] = at(self.snap, as_of)
            self.cache[key] = evaluate_snapshot(self.views[as_of], agreements=[agreement], since=since)
        return self.cache[key]


@dataclass
class Link:
    """An obligation of another agreement this one implements or reaffirms (or that implements or reaffirms
    this one), with its verdicts in the report's period."""

    relation: str  # 'implements', 'implemented by', 'reaffirms', 'reaffirmed by'
    agreement: str
    obligation: str
    verdicts: str | None  # 'compliant', or 'AM: compliant, AZ: alleged'; None when the log does not track it
    file: str | None = None  # the report of the other agreement for the same period, when this run wrote it

    @property
    def ref(self) -> str:
        """'jan-11-2021/J2-first-meeting'."""
        return f"{self.agreement}/{self.obligation}"


@dataclass
class ReportSummary:
    """What a report says in brief, for the process summary and the index: the verdicts in the period that are
    not compliant, and the verdicts that changed since the previous period."""

    findings: list[tuple[str, str, list[str]]]  # (verdict, obligation, bearers), most serious first
    changes: list[tuple[str, list[str], str, str]]  # (obligation, bearers, before, now)
    previous: str | None  # the previous period's label; None when it ended before entry into force

    def to_json(self) -> dict:
        """The form a report's first line carries (the index reads it back)."""
        return {"findings": [list(f) for f in self.findings], "changes": [list(c) for c in self.changes],
                "previous": self.previous}

    @classmethod
    def from_json(cls, data: object) -> "ReportSummary | None":
        """Read back `to_json()`; None for a report written before summaries were recorded, or a damaged one."""
        if not isinstance(data, dict):
            return None
        try:
            findings = [(str(v), str(o), [str(b) for b in bs]) for v, o, bs in data.get("findings", [])]
            changes = [(str(o), [str(b) for b in bs], str(old), str(new)) for o, bs, old, new in data.get("changes", [])]
        except (TypeError, ValueError):
            return None
        previous = data.get("previous")
        return cls(findings, changes, previous if isinstance(previous, str) else None)


@dataclass
class ProcessEntry:
    """One agreement of the process in a period: its report (if it has one) and what it says in brief."""

    agreement: str
    in_force: dt.date
    file: str | None
    summary: ReportSummary | None


@dataclass
class ReportData:
    """Everything one report shows, gathered from one snapshot of the log."""

    agreement: Agreement
    period: Period
    as_of: dt.date
    today: dt.date
    period_result: CheckResult
    cumulative: CheckResult
    previous_period: Period
    previous: CheckResult | None
    state: AgreementState
    records: dict[str, Record]
    in_period: list[Record]
    unread: list[Record]
    observations_to_date: int
    links: dict[str, list[Link]] = field(default_factory=dict)
    process: list[ProcessEntry] = field(default_factory=list)
    caps_chart: str | None = None
    series_chart: str | None = None
    series_label: str | None = None

    @property
    def ended(self) -> bool:
        """True when the report is as of the period's last day."""
        return self.as_of >= self.period.end

    @property
    def file(self) -> str:
        """The report's file name: `<agreement>-<period>.md`."""
        return report_file(self.agreement.id, self.period)

    @property
    def summary(self) -> ReportSummary:
        """The report in brief: findings and changes."""
        order = {ob.id: index for index, ob in enumerate(self.agreement.obligations)}
        rank = {verdict: index for index, verdict in enumerate(FINDINGS)}
        findings = [(verdict, ob_id, [r.bearer for r in results])
                    for (verdict, ob_id), results in grouped_findings(self).items()]
        changed: dict[tuple[str, str, str], list[str]] = {}
        if self.previous is not None:
            before = {(o.id, o.bearer): o.verdict.value for o in self.previous.obligations}
            for o in self.period_result.obligations:
                old = before.get((o.id, o.bearer))
                if old is not None and old != o.verdict.value:
                    changed.setdefault((o.id, old, o.verdict.value), []).append(o.bearer)
        changes = [(ob_id, bearers, old, new) for (ob_id, old, new), bearers in sorted(
            changed.items(), key=lambda item: (rank.get(item[0][2], len(rank)), order[item[0][0]]))]
        previous = self.previous_period
        return ReportSummary(findings, changes, None if self.previous is None else previous.label)


def report_file(agreement_id: str, period: Period) -> str:
    """`nov-10-2020-2021-07.md`."""
    return f"{agreement_id}-{period.label}.md"


def grouped_findings(data: ReportData) -> dict[tuple[str, str], list[ObligationResult]]:
    """The period's verdicts that are not compliant, by (verdict, obligation), most serious first."""
    order = {ob.id: index for index, ob in enumerate(data.agreement.obligations)}
    rank = {verdict: index for index, verdict in enumerate(FINDINGS)}
    found: dict[tuple[str, str], list[ObligationResult]] = {}
    for o in data.period_result.obligations:
        if o.verdict.value in rank:
            found.setdefault((o.verdict.value, o.id), []).append(o)
    return dict(sorted(found.items(), key=lambda item: (rank[item[0][0]], order[item[0][1]])))


def verdicts_text(results: Sequence[ObligationResult]) -> str:
    """'compliant' when every bearer has the same verdict, else 'AM: compliant, AZ: alleged'."""
    verdicts = [r.verdict.value for r in results]
    if len(set(verdicts)) == 1:
        return verdicts[0]
    return ", ".join(f"{r.bearer}: {r.verdict.value}" for r in results)


@dataclass
class Run:
    """One `write_reports()` call: the snapshot, its evaluations, the agreements it knows, and the files it
    writes (to link reports of the same period)."""

    store: Store
    snap: Snapshot
    evaluate: Evaluator
    today: dt.date
    known: dict[str, Agreement]  # every agreement the log tracks, and those the run reports on
    files: set[str] = field(default_factory=set)


def links_of(run: Run, agreement: Agreement, period: Period, as_of: dt.date) -> dict[str, list[Link]]:
    """Per obligation, its links to obligations of other agreements, both ways, with their verdicts in the period."""
    def later(agreement_id: str) -> bool:  # an agreement not yet in force on the as-of date is not linked yet
        other = run.known.get(agreement_id)
        return other is not None and other.in_force_day > as_of

    def verdicts(agreement_id: str, obligation_id: str) -> str | None:
        other = run.known.get(agreement_id)
        if other is None or other.obligation_or_none(obligation_id) is None:
            return None
        results = [o for o in run.evaluate(other, as_of, period.start).obligations if o.id == obligation_id]
        return verdicts_text(results) if results else None

    def file(agreement_id: str) -> str | None:
        name = report_file(agreement_id, period)
        return name if name in run.files else None

    links: dict[str, list[Link]] = {}
    for ob in agreement.obligations:
        for attribute, forward, _ in LINKS:
            for ref in getattr(ob, attribute):
                other_id, _, other_ob = ref.partition("/")
                if later(other_id):
                    continue
                links.setdefault(ob.id, []).append(Link(forward, other_id, other_ob, verdicts(other_id, other_ob),
                                                        file(other_id)))
    for other in run.known.values():
        if other.id == agreement.id or later(other.id):
            continue
        for other_ob in other.obligations:
            for attribute, _, backward in LINKS:
                for ref in getattr(other_ob, attribute):
                    target_agreement, _, target = ref.partition("/")
                    if target_agreement == agreement.id and agreement.obligation_or_none(target) is not None:
                        links.setdefault(target, []).append(Link(backward, other.id, other_ob.id,
                                                                 verdicts(other.id, other_ob.id), file(other.id)))
    return links


def gather(run: Run, agreement: Agreement, period: Period, as_of: dt.date,
           live: list[Record] | None = None) -> ReportData:
    """Collect one report's verdicts, terms, links and observations from the run's snapshot; `live` is the
    log's observations dated in the period (read once for every agreement of the period)."""
    snap, evaluate = run.snap, run.evaluate
    view = at(snap, as_of)
    current = evaluate(agreement, as_of, period.start)
    cumulative = evaluate(agreement, as_of, None)
    previous_period = period.previous()
    previous = (evaluate(agreement, previous_period.end, previous_period.start)
                if previous_period.end >= agreement.in_force_day else None)
    state = agreement_state(agreement, as_of, view.amendments_of(agreement), view.endings_of(agreement))
    wanted = {i for result in (current, cumulative) for o in result.obligations for i in (*o.evidence, *o.inconclusive)}
    found = run.store.observations_by_id(i for i in wanted if i.isdigit())
    records = {record.id: record for record in found.values()}
    if live is None:
        live = run.store.live_observations(snap.head, since=period.start, until=as_of)
    kinds = set(agreement.kinds)
    in_period = [r for r in live if r.body.get("kind") in kinds]
    read = subjects_read(agreement)
    unread = [r for r in in_period if is_unread(agreement, r, read)]
    return ReportData(agreement=agreement, period=period, as_of=as_of, today=run.today, period_result=current,
                      cumulative=cumulative, previous_period=previous_period, previous=previous, state=state,
                      records=records, in_period=in_period, unread=unread,
                      observations_to_date=sum(row.n for row in view.rows if row.kind in kinds),
                      links=links_of(run, agreement, period, as_of))


# ---- the caps chart's data ---------------------------------------------------------------------


@dataclass
class CapPanel:
    """One cap for the chart: its title, the cap in force over time, and the reported counts."""

    title: str
    unit: str
    steps: list[tuple[dt.date, int]]
    points: list[tuple[dt.date, int, int, str]] = field(default_factory=list)


def caps_panels(snap: Snapshot, data: ReportData) -> list[CapPanel]:
    """For every cap: its term in force from entry into force to the as-of date, and every count by its bearer."""
    agreement = data.agreement
    panels = []
    for ob in agreement.obligations:
        if ob.template != "cap":
            continue
        term = ob.terms["limit"]
        steps = [(agreement.in_force_day, int(term.value))]
        for change in sorted((a for a in snap.amendments_of(agreement)
                              if a.obligation == ob.id and a.term == "limit" and a.agreed_on <= data.as_of),
                             key=lambda a: (a.agreed_on, int(a.id.rsplit("-A", 1)[1]))):
            steps.append((max(change.agreed_on, agreement.in_force_day), int(change.value)))
        points = []  # from the snapshot's rows: one point per day, source alignment and count, no record read
        for row in snap.rows:
            if (row.kind != ob.kinds[0] or row.day > data.as_of or row.actor not in ob.bearers
                    or row.claim != "affirms" or row.lo is None):
                continue
            points.append((row.day, int(row.lo), int(row.hi), alignment(agreement, row.source_party)))
        points.sort(key=lambda point: (point[0], point[1], point[2], point[3]))
        panels.append(CapPanel(f"{ob.id}: {ob.kinds[0]} ({', '.join(ob.bearers)})", term.unit or "count", steps, points))
    return panels


def caps_start(panels: list[CapPanel], data: ReportData) -> dt.date:
    """Where a report's caps chart starts: at the first count reported in the year before the period (what a
    reader compares the period with), else at the period's start; never before entry into force."""
    in_force = data.agreement.in_force_day
    window = max(in_force, add_months(data.period.start, -12))
    days = [point[0] for panel in panels for point in panel.points if window <= point[0] <= data.as_of]
    return max(in_force, min([data.period.start, *days]))
