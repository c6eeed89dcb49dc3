"""An agreement as it stood on a date: its obligations with the terms in force, amendments, endings and the links
between agreements; what `clauses list` and `clauses show` print, for scripts too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

from .agreement import Agreement, Amendment, Ending, Obligation
from .clauses import describe_value
from .dates import day_param, today
from .errors import UnknownReferenceError
from .records import AMENDMENT, ENDING
from .terms import AgreementState, agreement_state


@dataclass
class AgreementView:
    """One agreement as of a date: the amendments and endings known then (clause file and log) and its state."""

    agreement: Agreement
    as_of: dt.date
    amendments: list[Amendment]
    endings: list[Ending]
    state: AgreementState

    def listing(self) -> dict[str, Any]:
        """The agreement's obligations as rows: ID, point, bearers, rule, terms in force, title."""
        rows = []
        for ob in self.agreement.obligations:
            terms = ", ".join(f"{name} {describe_value(t.value)}" + (" (amended)" if t.amended_by else "")
                              for name, t in self.state.terms[ob.id].items())
            ended = self.state.endings.get(ob.id)
            rows.append({"id": ob.id, "point": ob.point, "bearers": bearers_text(self.agreement, ob),
                         "rule": ob.template, "terms in force": terms + (f"; ended {ended.on}" if ended else ""),
                         "title": ob.title})
        return {"agreement": self.agreement.id, "title": self.agreement.title, "as_of": self.as_of.isoformat(),
                "obligations": rows}

    def obligation_json(self, ob: Obligation, views: Sequence["AgreementView"] = ()) -> dict[str, Any]:
        """The obligation with its rule written out in full (templates expanded), terms in force and history."""
        return {
            "agreement": self.agreement.id,
            "obligation": ob.model_dump(mode="json"),
            "as_of": self.as_of.isoformat(),
            "terms_in_force": {n: describe_value(t.value) for n, t in self.state.terms[ob.id].items()},
            "amendments": [a.model_dump(mode="json") for a in self.amendments if a.obligation == ob.id],
            "endings": [e.model_dump(mode="json") for e in self.endings if e.obligation == ob.id],
            "implemented_by": [f"{a}/{o}" for a, o in links_to(views, self.agreement.id, ob.id, "implements")],
            "reaffirmed_by": [f"{a}/{o}" for a, o in links_to(views, self.agreement.id, ob.id, "reaffirms")],
        }

    def obligation_text(self, ob: Obligation, views: Sequence["AgreementView"] = ()) -> str:
        """The obligation in words: quote, rule, terms in force with their history, endings, links."""
        agreement = self.agreement
        version = agreement.versions[ob.text.version]
        lines = [f"{ob.id}: {ob.title}",
                 f"{agreement.id}, point {ob.point}; {bearers_line(agreement, ob)}; rule: {ob.template}", "",
                 f"  \"{ob.text.quote}\"", f"  ({version.publisher})"]
        for variant in ob.text.variants:
            lines.append(f"  variant ({agreement.versions[variant.version].publisher}): \"{variant.quote}\"")
        reads = [", ".join(f"{k} {v}" for k, v in read.model_dump(exclude_defaults=True).items())
                 for read in ob.rule.reads]
        lines += ["", "rule reads: " + ("; ".join(reads) if reads else "nothing (not machine-checked)")]
        lines += ["", f"terms in force on {self.as_of.isoformat()}:" if ob.terms else "terms: none"]
        for name, term in self.state.terms[ob.id].items():
            clause = ob.terms[name]
            extra = " (inclusive)" if clause.inclusive else (" (exclusive)" if clause.inclusive is False else "")
            lines.append(f"  {name}: {describe_value(term.value)}{extra}; text: \"{clause.quote}\"")
            if clause.interpretation:
                lines.append(f"    reading: {clause.interpretation}")
            for variant in clause.variants:
                reading = "" if variant.inclusive is None else (" (inclusive)" if variant.inclusive else " (exclusive)")
                lines.append(f"    other reading ({variant.version}){reading}: \"{variant.quote}\"")
            for amendment in term.amended_by:
                lines.append(f"    amended by {amendment.id}: {describe_value(amendment.value)}, agreed "
                             f"{amendment.agreed_on} by {', '.join(amendment.by)}; source: {amendment.source}")
        for amendment in self.amendments:
            if amendment.obligation == ob.id and amendment.agreed_on > self.as_of:
                lines.append(f"  later amendment {amendment.id}: {amendment.term} {describe_value(amendment.value)}, "
                             f"agreed {amendment.agreed_on}")
        if ob.interpretation:
            lines += ["", f"interpretation: {ob.interpretation}"]
        endings = [e for e in self.endings if e.obligation == ob.id]
        lines += ["", "endings: " + ("; ".join(f"{e.id} from {e.on} by {', '.join(e.by)} ({e.source})" for e in endings)
                                    or "none")]
        links = [f"implements {link}" for link in ob.implements] + [f"reaffirms {link}" for link in ob.reaffirms]
        links += [f"implemented by {a}/{o}" for a, o in links_to(views, agreement.id, ob.id, "implements")]
        links += [f"reaffirmed by {a}/{o}" for a, o in links_to(views, agreement.id, ob.id, "reaffirms")]
        if links:
            lines += ["", "links: " + "; ".join(links)]
        return "\n".join(lines)


def bearers_text(agreement: Agreement, ob: Obligation) -> str:
    """'AM', 'AM,AZ (joint)', 'NK (not a signatory)', or 'none (any actor)'."""
    if not ob.bearers:
        return "none (any actor)"
    text = ",".join(ob.bearers) + (" (joint)" if ob.joint else "")
    outside = [b for b in ob.bearers if b not in agreement.parties]
    return text + (f" ({', '.join(outside)} not a signatory)" if outside else "")


def bearers_line(agreement: Agreement, ob: Obligation) -> str:
    """The bearers in a sentence."""
    if not ob.bearers:
        return "no bearer named: evaluated on the conduct of any actor"
    return f"bearer{'s' if len(ob.bearers) > 1 else ''} {bearers_text(agreement, ob).replace(',', ', ')}"


def links_to(views: Sequence[AgreementView], agreement_id: str, obligation_id: str, kind: str) -> list[tuple[str, str]]:
    """(agreement, obligation) of every obligation in `views` that implements (or reaffirms) this one."""
    target = f"{agreement_id}/{obligation_id}"
    return [(view.agreement.id, ob.id) for view in views for ob in view.agreement.obligations
            if target in getattr(ob, kind)]


def agreement_views(store: Any, agreements: Sequence[Agreement] | None = None,
                    as_of: dt.date | str | None = None) -> list[AgreementView]:
    """The agreements (default: those `check` would evaluate) as of a date (default: today; ISO text is read in
    the first agreement's time zone), with the amendments and endings the store's log records. Only those
    records are read, not the evidence."""
    from .check import resolve_agreements
    from .exchange import amendment_model, ending_model

    agreements = list(agreements) if agreements else resolve_agreements(store, None)
    day = day_param(as_of, agreements[0].tz, "as_of") or today(agreements[0].tz)
    head = store.head()
    process = store.process
    amendment_records, ending_records = store.agreement_records(head, AMENDMENT), store.agreement_records(head, ENDING)
    views = []
    for agreement in agreements:
        ids = {ob.id for ob in agreement.obligations}
        vocabulary = process if agreement.id in process.ids else agreement
        amendments = list(agreement.amendments) + [amendment_model(r, vocabulary) for r in amendment_records
                                                   if r.body.get("obligation") in ids]
        endings = list(agreement.endings) + [ending_model(r) for r in ending_records
                                             if r.body.get("obligation") in ids]
        superseded = {e.supersedes for e in endings if e.supersedes}  # a corrected ending no longer applies
        endings = [e for e in endings if e.id not in superseded]
        state = agreement_state(agreement, day, amendments, endings)
        views.append(AgreementView(agreement, day, amendments, endings, state))
    return views


def find_obligation(views: Sequence[AgreementView], obligation_id: str) -> tuple[AgreementView, Obligation]:
    """The view and obligation for an ID; UnknownReferenceError listing the known IDs."""
    for view in views:
        ob = view.agreement.obligation_or_none(obligation_id)
        if ob is not None:
            return view, ob
    known = ", ".join(ob.id for view in views for ob in view.agreement.obligations)
    raise UnknownReferenceError(f"unknown obligation {obligation_id!r} (known: {known})", param="obligation_id")
