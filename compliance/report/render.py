"""The markdown of one report, from its gathered `ReportData`; nothing here reads the store.

Every line depends only on the log, the period and (for a period that has not ended) today's date, except
the one line that says when the report was generated (it starts with `GENERATED_PREFIX`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Iterable
from urllib.parse import quote as url_quote, urlsplit
import re

from ..agreement import Agreement, Obligation
from ..evidence import id_key
from ..explain import describe_rule
from ..observation import count_text
from ..records import Record
from ..render import escape_markdown as esc
from ..verdicts import ObligationResult, Verdict
from .gather import Link, ProcessEntry, ReportData, alignment, grouped_findings

GENERATED_PREFIX = "_Generated "
META_PREFIX = "<!-- compliance-report "
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'()\[\]|\\`]+$")


def _value(value: object, unit: str | None = None) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}" + (f" {unit}" if unit else "")
    return str(value)


def _table(headers: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell if cell else " " for cell in row) + " |" for row in rows]
    return lines


def _what(body: dict) -> str:
    parts = [body.get("kind", "")]
    for text in (body.get("subject"), count_text(body, "–")):
        if text:
            parts.append(str(text))
    if body.get("supervised_by"):
        parts.append(f"supervised by {body['supervised_by']}")
    if body.get("claim") == "denies":
        parts.append("denial")
    if body.get("place"):  # "at Shusha", but "near Sotk", not "at near Sotk"
        place = str(body["place"])
        parts.append(place if place[:1].islower() else f"at {place}")
    return esc(", ".join(parts))


def _date(record: Record) -> str:
    day = record.day.isoformat() if record.day else str(record.body.get("date", ""))
    end = record.body.get("date_end")
    return esc(f"{day} to {end}" if end else day)


def _link(body: dict) -> str:
    url = body.get("url")
    if not url:
        return ""
    if _SAFE_URL.match(url):
        host = urlsplit(url).hostname or "link"
        return f"[{esc(host)}]({esc(url)})"
    return esc(url)


def _notes(body: dict) -> str:
    parts = []
    if body.get("quote"):
        parts.append(f"Quote: “{body['quote']}”")
    if body.get("notes"):
        parts.append(body["notes"])
    return esc("; ".join(parts))


def _source_party(agreement: Agreement, code: str) -> str:
    category = alignment(agreement, code)
    return esc(code if category == code else f"{code} ({category})")


EVIDENCE_HEADERS = ["ID", "date", "actor", "what", "source", "alignment", "method", "link", "notes"]


def evidence_row(agreement: Agreement, record: Record) -> list[str]:
    """One observation as a row of an evidence table; every field from the observation is escaped."""
    body = record.body
    ident = esc(record.id) + (f" (corrects {esc(body['supersedes'])})" if body.get("supersedes") else "")
    return [ident, _date(record), esc(body.get("actor")), _what(body), esc(body.get("source")),
            _source_party(agreement, body.get("source_party", "")), esc(body.get("method")), _link(body),
            _notes(body)]


MAX_TABLE_ROWS = 500  # a longer list of observations is no longer read by anyone: the rest is counted


def _records_table(agreement: Agreement, records: list[Record], start: dt.date | None = None,
                   end: dt.date | None = None) -> list[str]:
    """An evidence table; a period's list (with `start` and `end`) stops after MAX_TABLE_ROWS and counts the rest."""
    ordered = sorted(records, key=lambda r: (r.day or dt.date.min, id_key(r.id)))
    limit = MAX_TABLE_ROWS if start is not None and end is not None else len(ordered)
    lines = _table(EVIDENCE_HEADERS, (evidence_row(agreement, r) for r in ordered[:limit]))
    if len(ordered) > limit:
        lines += ["", f"The first {limit:,} by date are shown; {len(ordered) - limit:,} more are in the log "
                      f"(`compliance observe list --since {start.isoformat()} --until {end.isoformat()}`)."]
    return lines


def _observations(count: int) -> str:
    return f"{count:,} observation{'s' if count != 1 else ''}"


def _ids(result: ObligationResult) -> str:
    shown = ", ".join(result.evidence)
    count = result.evidence_count
    if shown:
        text = f"{shown}; {_observations(count)} considered" if count else shown
    else:
        text = f"none; {_observations(count)} considered" if count else "none"
    if result.inconclusive:
        text += f"; inconclusive: {', '.join(result.inconclusive)}"
    return esc(text)


def _change(previous: dict[tuple[str, str], Verdict] | None, result: ObligationResult) -> str:
    if previous is None or (result.id, result.bearer) not in previous:
        return "new"
    before = previous[(result.id, result.bearer)]
    return "unchanged" if before == result.verdict else f"{before.value} → {result.verdict.value}"


def _version(agreement: Agreement, version_id: str) -> str:
    version = agreement.versions[version_id]
    bits = [version.title, version.publisher] + ([version.published.isoformat()] if version.published else [])
    return esc(", ".join(bits)) + f" (version {esc(version_id)})"


def _quote_block(agreement: Agreement, ob: Obligation) -> list[str]:
    lines = [f"> {esc(ob.text.quote)}", ">", f"> — {_version(agreement, ob.text.version)}", ""]
    for variant in ob.text.variants:
        lines += [f"Other version: “{esc(variant.quote)}” — {_version(agreement, variant.version)}", ""]
    return lines


def _rule(ob: Obligation) -> str:
    return describe_rule(ob)


def _terms(data: ReportData, ob: Obligation) -> list[str]:
    if not ob.terms:
        return ["Terms: none (the rule has no dated or counted term).", ""]
    rows = []
    for name, clause in ob.terms.items():
        term = data.state.terms[ob.id][name]
        value = _value(term.value, clause.unit)
        if clause.inclusive is not None:
            value += " (inclusive)" if clause.inclusive else " (exclusive)"
        history = []
        for change in term.amended_by:
            detail = f"{change.id}: {_value(change.value, clause.unit)}, agreed {change.agreed_on.isoformat()} by {', '.join(change.by)}"
            if change.requested_by:
                detail += f" at the request of {', '.join(change.requested_by)}"
            if change.relayed_by:
                detail += f", relayed by {', '.join(change.relayed_by)}"
            detail += f"; source: {change.source}" + (f" (note: {change.note})" if change.note else "")
            history.append(detail)
        text = f"“{clause.quote}” ({clause.version})" + (f"; reading: {clause.interpretation}" if clause.interpretation else "")
        rows.append([esc(name), esc(value), esc(_value(term.original, clause.unit)), esc(text),
                     esc(" / ".join(history)) if history else "not amended"])
    return [f"Terms in force on {data.as_of.isoformat()}:", ""] + _table(
        ["term", "in force", "original", "text", "amendment history"], rows) + [""]


def render_report(data: ReportData, *, generated_at: str) -> str:
    """The markdown of one report; only the line starting with GENERATED_PREFIX depends on `generated_at`."""
    agreement, period = data.agreement, data.period
    in_force = agreement.in_force_day.isoformat()
    label = period.label if period.kind != "to-date" else f"{period.start.isoformat()} to {period.end.isoformat()}"
    meta = {"agreement": agreement.id, "period": period.label, "kind": period.kind, "start": period.start.isoformat(),
            "end": period.end.isoformat(), "as_of": data.as_of.isoformat(), "log_digest": data.cumulative.log_digest,
            "in_force": agreement.in_force_day.isoformat(), "summary": data.summary.to_json(),
            "process": {entry.agreement: entry.in_force.isoformat() for entry in data.process}}
    if period.kind == "to-date" and data.ended:
        as_of_line = f"- As of: **{data.as_of.isoformat()}**"
    elif data.ended:
        as_of_line = f"- As of: **{data.as_of.isoformat()}**, the period's last day"
    else:
        as_of_line = (f"- As of: **{data.as_of.isoformat()}** (today). This period has not ended: it runs to "
                      f"{period.end.isoformat()}, so it is reported as of today and its verdicts may still change.")
    title = f"{agreement.id}: compliance report " + (f"as of {period.label}" if period.kind == "to-date" else f"for {period.label}")
    lines = [
        META_PREFIX + json.dumps(meta, sort_keys=True) + " -->",
        f"# {esc(title)}",
        "",
        f"- Agreement: **{esc(agreement.id)}**, {esc(agreement.title)} (signed {agreement.signed.isoformat()}, "
        f"in force from {in_force})",
        f"- Period: **{esc(period.label)}**, {period.describe()}"
        + (f"; the agreement entered into force on {in_force}, so the period's verdicts count from then"
           if period.start < agreement.in_force_day else ""),
        as_of_line,
        f"- Log digest: `{data.cumulative.log_digest}`",
        f"- Observations of the agreement's kinds: {data.observations_to_date:,} in the log dated on or before "
        f"{data.as_of.isoformat()}, {len(data.in_period):,} of them dated in the period",
        "",
        f"{GENERATED_PREFIX}{generated_at} by compliance; re-running this report on the same log changes no other line._",
        "",
        "Verdicts are derived by the agreement's rules from observations as they were reported; observations are "
        "reports, not findings of fact. The vocabulary is explained at the end.",
        "",
    ]
    lines += _process(data, label)
    lines += _findings(data, label)
    lines += _summary(data, label)
    charts = []
    if data.caps_chart:
        charts += [f"![Reported counts against the caps, up to {data.as_of.isoformat()}]({url_quote(data.caps_chart)})",
                   "", "Reported counts of the bearer's contingent by date, coloured by the source's alignment; a "
                   "vertical bar is a reported range; the line is the cap in force; the shaded band is the period.", ""]
    if data.series_chart:
        charts += [f"![Verdicts per period, {esc(data.series_label)}]({url_quote(data.series_chart)})", "",
                   f"Verdict in each period from {esc(data.series_label)}, per obligation and bearer: this report's "
                   "period and the ones of the same length before it.", ""]
    if charts:
        lines += ["## Charts", ""] + charts
    lines += _points(data, label)
    lines += ["## Observations no obligation reads", "",
              "Observations of the agreement's kinds that no rule reads: they bear on no verdict."
              + (f" {esc(agreement.unread_note)}" if agreement.unread_note else ""), ""]
    if data.unread:
        lines += _records_table(agreement, data.unread, period.start, data.as_of) + [""]
    else:
        lines += [f"None reported dated from {period.start.isoformat()} to {data.as_of.isoformat()}.", ""]
    lines += _upcoming(data)
    lines += ["## Observations dated in the period", ""]
    if data.in_period:
        lines += [f"{_observations(len(data.in_period))} of the agreement's kinds dated from "
                  f"{period.start.isoformat()} to {data.as_of.isoformat()}, as the log stands (corrections applied, "
                  "retractions left out).", ""]
        lines += _records_table(agreement, data.in_period, period.start, data.as_of) + [""]
    else:
        lines += [f"None dated from {period.start.isoformat()} to {data.as_of.isoformat()}.", ""]
    lines += _vocabulary()
    return "\n".join(lines).rstrip("\n") + "\n"


def _findings(data: ReportData, label: str) -> list[str]:
    """The block that leads a report's own verdicts: the period's verdicts that are not compliant, most serious
    first, and the verdicts that changed since the previous period; an obligation's bearers with one verdict
    share one line."""
    found = grouped_findings(data)
    lines = ["## Findings", ""]
    if found:
        lines += [f"Verdicts in {esc(label)} that are not compliant, most serious first (every verdict is in the "
                  "summary below, with its evidence under its point):", ""]
        for (verdict, ob_id), results in found.items():
            reasons = list(dict.fromkeys(r.reason for r in results))
            lines.append(f"- **{verdict}**: {esc(ob_id)} ({esc(', '.join(r.bearer for r in results))}), "
                         f"{esc(results[0].title or '')}: {esc('; '.join(reasons))}")
        lines.append("")
    else:
        lines += [f"No obligation is violated, overdue, alleged or disputed in {esc(label)}.", ""]
    prev = data.previous_period
    prev_label = esc(prev.label if prev.kind != "to-date" else prev.describe())
    if data.previous is None:
        return lines + [f"No change to report: the previous period of the same length ({prev_label}) ended before "
                        "the agreement entered into force.", ""]
    changes = data.summary.changes
    if not changes:
        return lines + [f"No verdict changed since {prev_label}.", ""]
    lines += [f"Changes since {prev_label}:", ""]
    lines += [f"- {esc(ob_id)} ({esc(', '.join(bearers))}): {old} → **{new}**" for ob_id, bearers, old, new in changes]
    return lines + [""]


def process_rows(entries: list[ProcessEntry], period_end: dt.date, own: str | None = None) -> list[list[str]]:
    """The rows of a process summary table: per agreement, its report, its findings and its changes."""
    rows = []
    for entry in entries:
        name = esc(entry.agreement)
        cell = f"[{name}]({url_quote(entry.file)})" if entry.file else name
        if entry.agreement == own:
            cell += " (this report)"
        summary = entry.summary
        if summary is None:
            if entry.file:
                why = "see the report (written before reports recorded their summary)"
            elif entry.in_force > period_end:
                why = f"not in force in the period (in force from {entry.in_force.isoformat()})"
            else:
                why = "no report for this period"
            rows.append([cell, why, " "])
            continue
        by_verdict: dict[str, list[str]] = {}
        for verdict, ob_id, bearers in summary.findings:
            by_verdict.setdefault(verdict, []).append(f"{ob_id} ({', '.join(bearers)})")
        findings = "; ".join(f"**{verdict}**: {esc(', '.join(items))}" for verdict, items in by_verdict.items())
        if summary.previous is None:
            changes = "every verdict new (the previous period ended before entry into force)"
        elif summary.changes:
            changes = "; ".join(f"{esc(ob_id)} ({esc(', '.join(bearers))}): {old} → **{new}**"
                                for ob_id, bearers, old, new in summary.changes)
        else:
            changes = f"none since {esc(summary.previous)}"
        rows.append([cell, findings or "none", changes])
    return rows


PROCESS_HEADERS = ["agreement", "not compliant in the period", "changed since the previous period"]


def _process(data: ReportData, label: str) -> list[str]:
    """The process-level summary that opens a report written with other agreements' reports of the same period."""
    if len(data.process) < 2:
        return []
    return ([f"## The process in {esc(label)}", "",
             "Every agreement this run reported on, in the same period: its verdicts that are not compliant and "
             "the verdicts that changed since the previous period. Each agreement's report has the reasons and "
             "the evidence.", ""]
            + _table(PROCESS_HEADERS, process_rows(data.process, data.period.end, data.agreement.id)) + [""])


def _summary(data: ReportData, label: str) -> list[str]:
    prev = data.previous_period
    previous = None if data.previous is None else {(o.id, o.bearer): o.verdict for o in data.previous.obligations}
    cumulative = {(o.id, o.bearer): o for o in data.cumulative.obligations}
    joint = {ob.id for ob in data.agreement.obligations if ob.joint}
    rows, shown = [], set()
    for o in data.period_result.obligations:
        if o.id in shown:  # a joint obligation has one verdict for all its bearers: one row for them all
            continue
        whole = cumulative[(o.id, o.bearer)]
        bearers = o.bearer
        if o.id in joint:
            shown.add(o.id)
            bearers = ", ".join(r.bearer for r in data.period_result.obligations if r.id == o.id)
        rows.append([str(o.point), esc(f"{o.id}: {o.title}"), esc(bearers), o.verdict.value, whole.verdict.value,
                     _change(previous, o)])
    prev_label = prev.label if prev.kind != "to-date" else prev.describe()
    if data.previous is None:
        note = (f"The previous period of the same length ({esc(prev_label)}) ended before the agreement entered into "
                f"force, so every verdict is new.")
    else:
        note = f"Change: compared with the verdicts in the previous period of the same length, {esc(prev_label)}"
        note += f" ({prev.describe()})." if prev.kind != "to-date" else "."
    return (["## Summary", ""]
            + _table(["point", "obligation", "bearer", f"verdict in {esc(label)}",
                      f"cumulative since {data.cumulative.since}", "change since previous period"], rows)
            + ["", note, ""])


def _points(data: ReportData, label: str) -> list[str]:
    agreement = data.agreement
    period_results = {(o.id, o.bearer): o for o in data.period_result.obligations}
    cumulative = {(o.id, o.bearer): o for o in data.cumulative.obligations}
    lines: list[str] = []
    for point in sorted({ob.point for ob in agreement.obligations}):
        lines += [f"## Point {point}", ""]
        shown_quote = shown_reading = None
        for ob in (o for o in agreement.obligations if o.point == point):
            lines += [f"### {esc(ob.id)}: {esc(ob.title)}", ""]
            if ob.text.quote != shown_quote:
                lines += _quote_block(agreement, ob)
                shown_quote = ob.text.quote
            else:
                lines += ["Text: as quoted above.", ""]
            lines += [f"Bearer{'s' if len(ob.bearers) > 1 else ''}: {esc(', '.join(ob.bearers))}"
                      + (" (jointly)" if ob.joint else "") + f". Rule: {esc(_rule(ob))}.", ""]
            lines += _links(data.links.get(ob.id, []), label)
            if ob.interpretation and ob.interpretation == shown_reading:
                lines += ["Reading: as above.", ""]
            elif ob.interpretation:
                lines += [f"Reading: {esc(ob.interpretation)}", ""]
                shown_reading = ob.interpretation
            ending = data.state.endings.get(ob.id)
            if ending is not None:
                lines += [f"Ended: not in force from {ending.on.isoformat()} ({esc(ending.id)}, agreed by "
                          f"{esc(', '.join(ending.by))}; source: {esc(ending.source)})"
                          + (f"; note: {esc(ending.note)}" if ending.note else ""), ""]
            lines += _terms(data, ob)
            rows, ids = [], set()
            # a joint obligation has one verdict for all its bearers: one row for them all
            groups = [(", ".join(ob.bearers), ob.bearers[0])] if ob.joint else [(b, b) for b in ob.bearers]
            for shown, bearer in groups:
                for scope, result in ((label, period_results.get((ob.id, bearer))),
                                      (f"since {data.cumulative.since}", cumulative.get((ob.id, bearer)))):
                    if result is None:
                        continue
                    rows.append([esc(shown), esc(scope), result.verdict.value, esc(result.reason), _ids(result)])
                    ids.update(result.evidence)
                    ids.update(result.inconclusive)
            lines += ["Verdicts:", ""] + _table(["bearer", "period", "verdict", "reason", "decisive evidence"], rows) + [""]
            records = [data.records[i] for i in ids if i in data.records]
            if records:
                lines += ["Evidence:", ""] + _records_table(agreement, records) + [""]
            else:
                lines += ["Evidence: no observation is decisive for these verdicts.", ""]
    return lines


def _links(links: list[Link], label: str) -> list[str]:
    """'Implemented by jan-11-2021/J2-first-meeting: compliant', one line per linked obligation, grouped by relation."""
    lines: list[str] = []
    for relation in dict.fromkeys(link.relation for link in links):
        lines.append(f"{relation[0].upper()}{relation[1:]} (verdicts in {esc(label)}):")
        lines.append("")
        for link in (item for item in links if item.relation == relation):
            ref = f"[{esc(link.ref)}]({url_quote(link.file)})" if link.file else esc(link.ref)
            verdict = esc(link.verdicts) if link.verdicts else "not tracked by this log"
            lines.append(f"- {ref}: {verdict}")
        lines.append("")
    return lines


def _upcoming(data: ReportData) -> list[str]:
    shapes = {ob.id: ob for ob in data.agreement.obligations}
    found: dict[tuple[str, str, str], tuple[list[str], str]] = {}
    for o in data.cumulative.obligations:
        ob = shapes[o.id]
        items = []
        if o.due and dt.date.fromisoformat(o.due) > data.as_of:
            what = ("last day to give notice of termination for the current term" if ob.rule.periods is not None
                    else "deadline" + (" (inclusive)" if ob.terms.get("deadline") and ob.terms["deadline"].inclusive else ""))
            items.append((o.due, what))
        if o.term_end and dt.date.fromisoformat(o.term_end) > data.as_of:
            items.append((o.term_end, "end of the current term"))
        for day, what in items:
            key = (day, o.id, what)
            bearers, verdict = found.get(key, ([], o.verdict.value))
            found[key] = (bearers + [o.bearer], verdict)
    order = {ob.id: index for index, ob in enumerate(data.agreement.obligations)}
    rows = [[day, esc(f"{oid}: {shapes[oid].title}"), esc(", ".join(bearers)), esc(what), verdict]
            for (day, oid, what), (bearers, verdict) in sorted(found.items(), key=lambda kv: (kv[0][0], order[kv[0][1]]))]
    lines = ["## Upcoming deadlines and notice dates", ""]
    if rows:
        lines += _table(["date", "obligation", "bearer", "what", f"verdict on {data.as_of.isoformat()}"], rows)
    else:
        lines += [f"None after {data.as_of.isoformat()}."]
    return lines + [""]


_VOCABULARY = [
    ("not-in-force", "the as-of date is before the obligation applies, or after it ended"),
    ("not-assessed", "a provision no observation can test (a pledge, a reaffirmation): its text and the reason are "
                     "shown; never counted as compliant"),
    ("pending", "not yet due and not yet met"),
    ("compliant", "met on the evidence: done in time, counts within the cap, or no breach evidence"),
    ("overdue", "the deadline has passed with no record that it was met (absence of evidence, not evidence of breach)"),
    ("alleged", "breach evidence, none of it corroborated, and some of it not contradicted by the bearer's side"),
    ("disputed", "breach evidence, none of it corroborated, and all of it contradicted by the bearer's side"),
    ("violated", "corroborated breach evidence (an independent source, an admission, or sources on two sides), "
                 "or a deadline met late"),
    ("unknown", "a cap with no count in the period (or only ranges that straddle the cap)"),
]


def _vocabulary() -> list[str]:
    return (["## How to read this report", "",
             "The verdict in the period counts, for caps and prohibitions, only observations dated in the period; "
             "deadlines and establishments read the whole record. The cumulative verdict counts everything since "
             "entry into force. Decisive evidence lists the observation IDs a verdict rests on (at most 20), with "
             "how many observations bore on it.", ""]
            + _table(["verdict", "meaning"], [[v, m] for v, m in _VOCABULARY]) + [""])


