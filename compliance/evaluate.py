"""Evaluating every obligation for each bearer: evidence rows in, verdicts with reasons and evidence out.

The store groups observations into rows; each obligation's rule shape selects its rows and turns
them into clause-level facts; the compiled rules (compliance/rules.py) classify the evidence, grade
matters and decide verdicts, in three stages of one durable-rules session.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .agreement import INDEPENDENT, Agreement, Obligation
from .dates import add_months
from .evidence import Matter, Row, SpanIndex, first_ids, group_matters, total
from .rules import RuleEngine
from .terms import AgreementState
from .verdicts import MAX_EVIDENCE, ObligationResult, Verdict


@dataclass(frozen=True)
class Context:
    """Everything a check reads: the agreement, the terms in force, the window and the evidence rows."""

    agreement: Agreement
    state: AgreementState
    as_of: dt.date
    since: dt.date
    attribute: dict[str, str]
    rows_by_kind: dict[str, list[Row]]
    _by_actor: dict[str, dict[str, list[Row]]] = field(default_factory=dict, compare=False, repr=False)

    def actor_of(self, row: Row) -> str:
        """Whose conduct a row is counted as (explicit attribution only, never implied)."""
        return self.attribute.get(row.actor, row.actor)

    def rows_of(self, kind: str, actor: str) -> list[Row]:
        """The rows of `kind` whose conduct is counted as `actor`'s (grouped once per kind, in row order)."""
        groups = self._by_actor.get(kind)
        if groups is None:
            groups = self._by_actor[kind] = defaultdict(list)
            attribute = self.attribute
            for row in self.rows_by_kind.get(kind, ()):
                groups[attribute.get(row.actor, row.actor)].append(row)
        return groups.get(actor, [])


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _alignment(source_party: str) -> str:
    return "an independent source" if source_party == INDEPENDENT else f"a source aligned with {source_party}"


class ObligationEvaluation:
    """The evaluation of one obligation for one bearer (or for all bearers at once when it is joint)."""

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        self.ctx = ctx
        self.ob = ob
        self.bearer = bearer
        self.bearers = (bearer,) if bearer else tuple(ob.bearers)
        self.bearer_sides = {ctx.agreement.side_of(b) for b in self.bearers}
        self.terms = ctx.state.terms[ob.id]
        self.roles: dict[str, list[Row]] = defaultdict(list)
        self.signatures: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
        self.in_force, self.off_reason = self._in_force()
        self.counted: list[Row] = []
        self._relations: dict[str, str] = {}

    # ---- selection ---------------------------------------------------------------------------

    def _in_force(self) -> tuple[bool, str]:
        agreement, as_of = self.ctx.agreement, self.ctx.as_of
        if as_of < agreement.in_force_day:
            return False, f"not in force before {agreement.in_force_day.isoformat()} (entry into force)"
        ending = self.ctx.state.endings.get(self.ob.id)
        if ending is not None:
            return False, (f"not in force from {ending.on.isoformat()}: ended ({ending.id}, agreed by "
                           f"{', '.join(ending.by)}; source: {ending.source})")
        return True, ""

    def rel(self, source_party: str) -> str:
        """The source's relation to the bearer: 'independent', 'bearer' (the bearer's side) or 'other'."""
        relation = self._relations.get(source_party)
        if relation is None:
            if source_party == INDEPENDENT:
                relation = "independent"
            else:
                relation = "bearer" if self.ctx.agreement.side_of(source_party) in self.bearer_sides else "other"
            self._relations[source_party] = relation
        return relation

    def select(self, kind: str, *, any_actor: bool = False, subject: str | None = None, sup: str | None = None,
               start: dt.date | None = None) -> list[Row]:
        """Rows of `kind` that bear on this obligation and bearer, dated from `start` to the as-of date."""
        ctx = self.ctx
        if any_actor:
            rows = ctx.rows_by_kind.get(kind, ())
        elif len(self.bearers) == 1:
            rows = ctx.rows_of(kind, self.bearers[0])
        else:
            rows = [row for row in ctx.rows_by_kind.get(kind, ()) if ctx.actor_of(row) in self.bearers]
        as_of, start = ctx.as_of, start or dt.date.min
        supervised = None if sup is None else sup.upper()
        return [row for row in rows if start <= row.day <= as_of and (subject is None or row.subject == subject)
                and (supervised is None or row.sup == supervised)]

    # ---- stages --------------------------------------------------------------------------------

    def stage1(self) -> list[tuple[dict[str, Any], list[Row]]]:
        """Evidence-signature facts with the rows each stands for."""
        return [({**self._fact_of(key), "ob": self.ob.id}, rows) for key, rows in self.signatures.items()]

    def _fact_of(self, key: tuple[Any, ...]) -> dict[str, Any]:
        raise NotImplementedError

    def classified(self, outcomes: list[str], rows: list[Row]) -> None:
        """Receive the stage-1 outcomes of one signature."""
        for outcome in outcomes:
            self.roles[outcome].extend(rows)

    def stage2(self) -> list[dict[str, Any]]:
        """Matter facts (graded shapes only)."""
        return []

    def graded_matters(self, statuses: list[list[str]]) -> None:
        """Receive the stage-2 outcomes, one list per matter fact."""

    def stage3(self) -> dict[str, Any]:
        """The summary fact the verdict rules read."""
        raise NotImplementedError

    def results(self, verdict: str) -> list[ObligationResult]:
        """One result per bearer (joint obligations: the same verdict and evidence for each)."""
        reason, breach, contradicting, compliance, inconclusive, due, term_end = self.explain(Verdict(verdict))
        evidence: list[str] = []
        for rows in (breach, contradicting, compliance):  # one ID may play two roles: listed once, first role
            seen = set(evidence)
            evidence += [i for i in first_ids(rows, MAX_EVIDENCE + len(seen)) if i not in seen][:MAX_EVIDENCE - len(evidence)]
        return [ObligationResult(
            id=self.ob.id, point=self.ob.point, bearer=bearer, verdict=Verdict(verdict), reason=reason,
            evidence=evidence, evidence_count=total(self.counted) if verdict != Verdict.NOT_IN_FORCE or self.in_force else 0,
            inconclusive=first_ids(inconclusive, MAX_EVIDENCE), due=due, term_end=term_end,
            title=self.ob.title, rule=self.ob.rule.shape) for bearer in self.bearers]

    def explain(self, verdict: Verdict) -> tuple[str, list[Row], list[Row], list[Row], list[Row], str | None, str | None]:
        """The reason, the evidence rows by role, `due` and `term_end` for a verdict."""
        raise NotImplementedError


class GradedEvaluation(ObligationEvaluation):
    """Shapes whose breach evidence is grouped into matters and graded: caps, prohibitions, linked series."""

    window_kind: str

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        super().__init__(ctx, ob, bearer)
        self.matters: list[Matter] = []
        self.statuses: list[str] = []
        self.contradicting: list[Row] = []
        self.pending = False

    @property
    def window(self) -> int:
        """The corroboration window of the kind whose breaches form matters."""
        return self.ctx.agreement.window(self.window_kind)

    def breach_rows(self) -> list[Row]:
        """Breach evidence after classification."""
        return self.roles["breach"]

    def stage2(self) -> list[dict[str, Any]]:
        if self.pending or not self.in_force:
            return []
        self.matters = group_matters(self.breach_rows(), self.window)
        contradictions = SpanIndex((r.day, r.day_end) for r in self.roles["contradiction"])
        facts = []
        for matter in self.matters:
            parties = {row.source_party for row in matter.rows}
            sides = {self.ctx.agreement.side_of(p) for p in parties if p != INDEPENDENT}
            facts.append({
                "t": "matter", "ob": self.ob.id,
                "independent": int(INDEPENDENT in parties),
                "admission": int(bool(sides & self.bearer_sides)),
                "sides": len(sides),
                "contradicted": int(contradictions.any_near(matter.start, matter.end, self.window)),
            })
        matter_spans = SpanIndex((m.start, m.end) for m in self.matters)
        window = self.window
        self.contradicting = [r for r in self.roles["contradiction"] if matter_spans.any_near(r.day, r.day_end, window)]
        return facts

    def graded_matters(self, statuses: list[list[str]]) -> None:
        self.statuses = [s[0] for s in statuses]

    def stage3(self) -> dict[str, Any]:
        return {"t": "grade", "ob": self.ob.id, "in_force": int(self.in_force), "pending": int(self.pending),
                "corroborated": self.statuses.count("corroborated"), "alleged": self.statuses.count("alleged"),
                "disputed": self.statuses.count("disputed"), "compliance": total(self.roles["compliance"])}

    def matters_summary(self) -> str:
        """'3 matters: 1 corroborated, 1 alleged, 1 disputed'."""
        return (f"{_plural(len(self.matters), 'matter')} of breach evidence: {self.statuses.count('corroborated')} "
                f"corroborated, {self.statuses.count('alleged')} alleged, {self.statuses.count('disputed')} disputed")

    def what(self) -> str:
        """What breach evidence means for this rule, in words."""
        raise NotImplementedError

    def explain(self, verdict: Verdict):
        breach = self.breach_rows()
        if verdict == Verdict.NOT_IN_FORCE:
            return self.off_reason, [], [], [], [], None, None
        decisive = breach
        if verdict == Verdict.VIOLATED:
            corroborated = [matter for matter, status in zip(self.matters, self.statuses) if status == "corroborated"]
            decisive = [row for matter in corroborated for row in matter.rows]
            first = corroborated[0]  # matters are in date order: the reason names the earliest
            reason = (f"{self.what()}: {self.matters_summary()}; corroborated matter from {first.start.isoformat()} "
                      f"({self._corroboration(first.rows)})")
        elif verdict in (Verdict.ALLEGED, Verdict.DISPUTED):
            first = min(breach, key=lambda r: r.day)
            reason = (f"{self.what()}: {self.matters_summary()}; none corroborated (earliest {first.day.isoformat()}, "
                      f"reported by {_alignment(first.source_party)})"
                      + ("; every matter denied from the bearer's side" if verdict == Verdict.DISPUTED else ""))
        else:
            reason = self.no_breach_reason(verdict)
        return (reason, decisive, self.contradicting, self.roles["compliance"], self.roles["inconclusive"],
                self.due(), None)

    def _corroboration(self, rows: list[Row]) -> str:
        parties = {r.source_party for r in rows}
        sides = {self.ctx.agreement.side_of(p) for p in parties if p != INDEPENDENT}
        if INDEPENDENT in parties:
            return "an independent source"
        if sides & self.bearer_sides:
            return "an admission from the bearer's side"
        return f"sources on {len(sides)} sides: {', '.join(sorted(sides))}"

    def no_breach_reason(self, verdict: Verdict) -> str:
        """The reason when there is no breach evidence."""
        raise NotImplementedError

    def due(self) -> str | None:
        """Graded shapes have no deadline."""
        return None


class CapEvaluation(GradedEvaluation):
    """A count of the bearer's must stay within the term `limit`."""

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        super().__init__(ctx, ob, bearer)
        self.window_kind = ob.rule.kind
        self.limit = int(self.terms["limit"].value)
        if self.in_force:
            self.counted = self.select(ob.rule.kind, start=ctx.since)
            # the cap rules compare a count's lo and hi with the limit and nothing else: counts on the same
            # side of the limit make one signature (a fact per distinct figure would be thousands at scale)
            limit = self.limit
            for row in self.counted:  # a count as the rules see it: none (-1), within the limit, or above it
                lo = -1 if row.lo is None else limit if row.lo <= limit else limit + 1
                hi = -1 if row.hi is None else limit if row.hi <= limit else limit + 1
                self.signatures[(self.rel(row.source_party), row.claim, lo, hi)].append(row)

    def _fact_of(self, key):
        rel, claim, lo, hi = key
        return {"t": "count", "rel": rel, "claim": claim, "lo": lo, "hi": hi, "limit": self.limit}

    def what(self) -> str:
        return f"{self.ob.rule.kind} counts against the cap of {self.limit:,}"

    def no_breach_reason(self, verdict: Verdict) -> str:
        inconclusive = total(self.roles["inconclusive"])
        if verdict == Verdict.UNKNOWN:
            if inconclusive:
                return (f"no count decides the cap of {self.limit:,} from {self.ctx.since.isoformat()}: "
                        f"{_plural(inconclusive, 'reported range')} straddle it")
            return f"no {self.ob.rule.kind} count reported from {self.ctx.since.isoformat()} to check against the cap of {self.limit:,}"
        latest = max(self.roles["compliance"], key=lambda r: r.day)
        return (f"{_plural(total(self.roles['compliance']), 'count')} within the cap of {self.limit:,} "
                f"(latest {latest.hi:,} on {latest.day.isoformat()}, reported by {_alignment(latest.source_party)}); "
                f"no count above it" + (f"; {inconclusive} inconclusive" if inconclusive else ""))


class ProhibitionEvaluation(GradedEvaluation):
    """No act of `kind` by the bearer: any affirming report is breach evidence."""

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        super().__init__(ctx, ob, bearer)
        self.window_kind = ob.rule.kind
        if self.in_force:
            self.counted = self.select(ob.rule.kind, subject=getattr(ob.rule, "subject", None), start=ctx.since)
            signatures, rel = self.signatures, self.rel
            for row in self.counted:
                signatures[(rel(row.source_party), row.claim)].append(row)

    def _fact_of(self, key):
        rel, claim = key
        return {"t": "act", "rel": rel, "claim": claim}

    def what(self) -> str:
        subject = getattr(self.ob.rule, "subject", None)
        return f"reported {self.ob.rule.kind}{f' ({subject})' if subject else ''} by {'/'.join(self.bearers)}"

    def no_breach_reason(self, verdict: Verdict) -> str:
        denials = total(self.roles["contradiction"]) + total(self.roles["noted"])
        return (f"no report of {self.ob.rule.kind} by {'/'.join(self.bearers)} from {self.ctx.since.isoformat()} "
                f"to {self.ctx.as_of.isoformat()}" + (f" ({_plural(denials, 'denial')} recorded)" if denials else ""))


class LinkedSeriesEvaluation(ProhibitionEvaluation):
    """Pending until the first trigger (deployment complete); from then a prohibition on `kind`."""

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        super().__init__(ctx, ob, bearer)
        self.trigger_day: dt.date | None = None
        if self.in_force:
            self.triggers = self.select(ob.rule.trigger_kind, any_actor=True)
            for row in self.triggers:
                self.signatures[("trigger", row.claim)].append(row)

    def _fact_of(self, key):
        if key[0] == "trigger":
            return {"t": "trigger", "claim": key[1]}
        return super()._fact_of(key)

    def classified(self, outcomes: list[str], rows: list[Row]) -> None:
        super().classified(outcomes, rows)
        if "trigger" in outcomes:
            first = min(r.day for r in rows)
            self.trigger_day = first if self.trigger_day is None else min(self.trigger_day, first)

    def stage2(self) -> list[dict[str, Any]]:
        self.pending = self.trigger_day is None
        if self.in_force:
            after = self.trigger_day or dt.date.max
            for role in ("breach", "contradiction", "noted"):
                self.roles[role] = [r for r in self.roles[role] if r.day >= after]
            self.counted = [r for r in self.counted if r.day >= after] + self.triggers
        return super().stage2()

    def explain(self, verdict: Verdict):
        if verdict == Verdict.PENDING:
            return (f"pending: no report yet that {self.ob.rule.trigger_kind} (the series it follows)",
                    [], [], [], [], None, None)
        reason, *rest = super().explain(verdict)
        if verdict != Verdict.NOT_IN_FORCE:
            reason = f"{self.ob.rule.trigger_kind} first reported on {self.trigger_day.isoformat()}; {reason}"
        return (reason, *rest)


class FulfilmentEvaluation(ObligationEvaluation):
    """Shapes met by a fulfilment report (deadlines, establishments), disputed when only the bearer's side reports it."""

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        super().__init__(ctx, ob, bearer)
        self.fulfilled_on: dt.date | None = None
        self.disputed = False
        self.disputing: list[Row] = []  # denials from another side near a report: the contradicting evidence
        if self.in_force:
            rule = ob.rule
            self.counted = self.select(rule.kind, any_actor=ob.joint, subject=getattr(rule, "subject", None),
                                       sup=getattr(rule, "supervised_by", None))
            for row in self.counted:
                self.signatures[(row.claim,)].append(row)

    def _fact_of(self, key):
        return {"t": "report", "claim": key[0]}

    def _settle(self) -> None:
        reports, denials = self.roles["fulfilment"], self.roles["denial"]
        if not reports:
            return
        self.fulfilled_on = min(r.day for r in reports)
        parties = {r.source_party for r in reports}
        sides = {self.ctx.agreement.side_of(p) for p in parties if p != INDEPENDENT}
        one_bearer_side = INDEPENDENT not in parties and len(sides) == 1 and sides <= self.bearer_sides
        if one_bearer_side:
            window = self.ctx.agreement.window(self.ob.rule.kind)
            spans = SpanIndex((r.day, r.day_end) for r in reports)
            (side,) = sides
            self.disputing = [d for d in denials if self.ctx.agreement.side_of(d.source_party) != side
                              and spans.any_near(d.day, d.day_end, window)]
            self.disputed = bool(self.disputing)

    def _evidence(self, verdict: Verdict) -> tuple[list[Row], list[Row], list[Row]]:
        reports = self.roles["fulfilment"]
        if verdict == Verdict.DISPUTED:
            return [], self.disputing, reports
        if verdict == Verdict.VIOLATED:
            return reports, [], []
        return [], [], reports

    def _described(self) -> str:
        rule = self.ob.rule
        detail = getattr(rule, "subject", None) or (f"supervised by {rule.supervised_by}" if getattr(rule, "supervised_by", None) else None)
        return f"{rule.kind}{f' ({detail})' if detail else ''}"


class DeadlineEvaluation(FulfilmentEvaluation):
    """The earliest fulfilment decides: in time, late (with the delay in days), overdue or pending."""

    def stage3(self) -> dict[str, Any]:
        self._settle()
        deadline = self.terms["deadline"].value
        return {"t": "grade", "ob": self.ob.id, "in_force": int(self.in_force),
                "fulfilled": int(self.fulfilled_on is not None), "disputed": int(self.disputed),
                "fulfilled_on": (self.fulfilled_on or dt.date.min).toordinal(),
                "deadline": deadline.toordinal(), "as_of": self.ctx.as_of.toordinal()}

    def explain(self, verdict: Verdict):
        term = self.terms["deadline"]
        deadline = term.value
        inclusive = self.ob.terms["deadline"].inclusive is not False
        due = deadline.isoformat() if verdict != Verdict.NOT_IN_FORCE or not self.ctx.state.endings.get(self.ob.id) else None
        amended = f", amended by {term.amended_by[-1].id} from {term.original.isoformat()}" if term.amended_by else ""
        amended += " (what-if override)" if term.overridden else ""
        rule = f"deadline {deadline.isoformat()} ({'inclusive' if inclusive else 'exclusive'}{amended})"
        breach, contradicting, compliance = self._evidence(verdict)
        first = f"{self._described()} first reported for {self.fulfilled_on.isoformat()}" if self.fulfilled_on else ""
        if verdict == Verdict.NOT_IN_FORCE:
            return self.off_reason, [], [], [], [], due, None
        if verdict == Verdict.COMPLIANT:
            reason = f"{rule}: {first}, in time"
        elif verdict == Verdict.VIOLATED:
            reason = f"{rule}: {first}, late by {_plural((self.fulfilled_on - deadline).days, 'day')}"
        elif verdict == Verdict.DISPUTED:
            reason = (f"{rule}: {first}, reported only from the bearer's side and denied from another side")
        elif verdict == Verdict.OVERDUE:
            reason = f"{rule}: passed with no record that {self._described()} happened"
        else:
            reason = f"{rule}: not yet reached; no record yet that {self._described()} happened"
        return reason, breach, contradicting, compliance, [], due, None


class EstablishmentEvaluation(FulfilmentEvaluation):
    """Pending until observed, then compliant (disputed when only the bearer's side reports it and another side denies it)."""

    def stage3(self) -> dict[str, Any]:
        self._settle()
        return {"t": "grade", "ob": self.ob.id, "in_force": int(self.in_force),
                "observed": int(self.fulfilled_on is not None), "disputed": int(self.disputed)}

    def explain(self, verdict: Verdict):
        breach, contradicting, compliance = self._evidence(verdict)
        if verdict == Verdict.NOT_IN_FORCE:
            return self.off_reason, [], [], [], [], None, None
        if verdict == Verdict.PENDING:
            return f"pending: no report yet of {self._described()}", [], [], [], [], None, None
        reason = f"{self._described()} first reported for {self.fulfilled_on.isoformat()}"
        if verdict == Verdict.DISPUTED:
            reason += ", reported only from the bearer's side and denied from another side"
        return reason, breach, contradicting, compliance, [], None, None


class TermRenewalEvaluation(ObligationEvaluation):
    """A term renewed automatically unless a Party gives notice on or before the notice deadline."""

    def __init__(self, ctx: Context, ob: Obligation, bearer: str | None):
        super().__init__(ctx, ob, bearer)
        self.outcome: tuple[bool, str, str | None, str | None, list[Row]] | None = None
        if self.in_force:
            self.counted = self.select(ob.rule.kind, any_actor=True)
            parties = ctx.agreement.parties
            for row in self.counted:
                self.signatures[(row.claim, int(row.actor in parties))].append(row)

    def _fact_of(self, key):
        return {"t": "notice", "claim": key[0], "party": key[1]}

    def _periods(self) -> tuple[bool, str, str | None, str | None, list[Row]]:
        start = self.terms["start"].value
        years = int(self.terms["period_years"].value)
        months = int(self.terms["notice_months"].value)
        notices = sorted(self.roles["notice"], key=lambda r: r.day)
        previous_deadline = dt.date.min
        number = 1
        term_start = start
        while True:
            term_end = add_months(start, 12 * years * number)
            deadline = add_months(term_end, -months)
            given = [r for r in notices if previous_deadline < r.day <= deadline]
            if given:
                who = ", ".join(sorted({r.actor for r in given}))
                if self.ctx.as_of >= term_end:
                    return (False, f"not in force from {term_end.isoformat()}: notice given by {who} on "
                            f"{given[0].day.isoformat()} ended the provision at the end of term {number}", None,
                            term_end.isoformat(), given)
                return (True, f"term {number} ({term_start.isoformat()} to {term_end.isoformat()}) running; notice given "
                        f"by {who} on {given[0].day.isoformat()}: the provision ends on {term_end.isoformat()}", None,
                        term_end.isoformat(), given)
            if self.ctx.as_of < term_end:
                next_deadline = deadline if self.ctx.as_of <= deadline else add_months(term_end, 12 * years - months)
                late = [r for r in notices if r.day > deadline]
                tail = f"; a notice given after {deadline.isoformat()} counts for the next term" if late else ""
                return (True, f"term {number} ({term_start.isoformat()} to {term_end.isoformat()}) running; no notice "
                        f"given for it; next notice deadline {next_deadline.isoformat()}{tail}",
                        next_deadline.isoformat(), term_end.isoformat(), late)
            previous_deadline, term_start, number = deadline, term_end, number + 1

    def stage3(self) -> dict[str, Any]:
        if self.in_force:
            self.outcome = self._periods()
        return {"t": "grade", "ob": self.ob.id, "in_force": int(self.in_force and self.outcome[0])}

    def explain(self, verdict: Verdict):
        if self.outcome is None:
            return self.off_reason, [], [], [], [], None, None
        _running, reason, due, term_end, rows = self.outcome
        return reason, [], [], rows, [], due, term_end


EVALUATIONS: dict[str, type[ObligationEvaluation]] = {
    "cap": CapEvaluation,
    "prohibition": ProhibitionEvaluation,
    "linked-series": LinkedSeriesEvaluation,
    "deadline": DeadlineEvaluation,
    "establishment": EstablishmentEvaluation,
    "term-renewal": TermRenewalEvaluation,
}


def evaluate(ctx: Context, engine: RuleEngine) -> list[ObligationResult]:
    """Evaluate every obligation for each bearer, in clause-file order, bearers in listed order."""
    evaluations: list[ObligationEvaluation] = []
    for ob in ctx.agreement.obligations:
        make = EVALUATIONS[ob.rule.shape]
        if ob.joint:
            evaluations.append(make(ctx, ob, None))
        else:
            evaluations.extend(make(ctx, ob, bearer) for bearer in ob.bearers)

    with engine.session() as session:
        stage1 = [(ev, fact, rows) for ev in evaluations for fact, rows in ev.stage1()]
        for (ev, _fact, rows), outcomes in zip(stage1, session.assert_facts([fact for _, fact, _ in stage1])):
            ev.classified(outcomes, rows)
        stage2 = [(ev, fact) for ev in evaluations for fact in ev.stage2()]
        statuses: dict[int, list[list[str]]] = defaultdict(list)
        for (ev, _fact), outcome in zip(stage2, session.assert_facts([fact for _, fact in stage2])):
            statuses[id(ev)].append(outcome)
        for ev in evaluations:
            ev.graded_matters(statuses.get(id(ev), []))
        verdicts = session.assert_facts([ev.stage3() for ev in evaluations])

    results: list[ObligationResult] = []
    for ev, outcome in zip(evaluations, verdicts):
        if len(outcome) != 1:
            from .errors import EngineError
            raise EngineError(f"{ev.ob.id}: verdict rules gave {outcome}, expected exactly one")
        results.extend(ev.results(outcome[0]))
    return results
