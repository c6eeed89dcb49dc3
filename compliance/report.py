"""Markdown compliance reports: one file per period, an index of the folder, and charts beside them.

`write_reports()` reads the store once (one snapshot at the latest as-of date; every period's verdicts
are evaluated from it), writes `DIR/<agreement>-<period>.md` for each period, the charts, and
`DIR/index.md`. `render_report()` turns the gathered `ReportData` into markdown and touches nothing
else. Every line of a report depends only on the log, the period and (for a period that has not ended)
today's date, except the one line that says when the report was generated (it starts with
`GENERATED_PREFIX`).

Example (a script):

    from compliance import open_store, write_reports
    paths = write_reports(open_store("sample"), "reports", period="2021-07")
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import quote as url_quote, urlsplit

from .agreement import INDEPENDENT, Agreement, Obligation
from .check import Snapshot, evaluate_snapshot, snapshot
from .dates import add_months, format_utc, parse_day, today as today_in, utc_now
from .errors import InputError, StoreError
from .evidence import id_key
from .explain import describe_rule
from .observation import count_text
from .periods import EVERY, Period, month, month_to_date, parse_period, quarter, series
from .records import Record
from .render import escape_markdown as esc
from .store import Store
from .terms import AgreementState, agreement_state
from .verdicts import CheckResult, ObligationResult, Verdict

GENERATED_PREFIX = "_Generated "
INDEX = "index.md"
META_PREFIX = "<!-- compliance-report "
VERDICT_CHART = "{agreement}-verdicts-{first}-{last}.png"
CAPS_CHART = "{agreement}-{label}-caps.png"
GRID_CHART = "{agreement}-{label}-verdicts.png"
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'()\[\]|\\`]+$")

__all__ = ["ReportData", "GENERATED_PREFIX", "write_reports", "render_report", "render_index", "gather",
           "alignment", "alignment_categories"]


# ---- gathering ---------------------------------------------------------------------------------


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
    outside_scope: list[Record]
    observations_to_date: int
    caps_chart: str | None = None
    series_chart: str | None = None
    series_label: str | None = None

    @property
    def ended(self) -> bool:
        """True when the report is as of the period's last day."""
        return self.as_of >= self.period.end


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


def _out_of_scope(agreement: Agreement) -> dict[str, set[str] | None]:
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


def is_outside_scope(agreement: Agreement, record: Record, read: dict[str, set[str] | None] | None = None) -> bool:
    """True for an observation no obligation reads (for nov-10-2020: ceasefire breaches on the state border)."""
    read = _out_of_scope(agreement) if read is None else read
    kind = record.body.get("kind")
    if kind not in read:
        return True
    subjects = read[kind]
    return subjects is not None and record.body.get("subject") not in subjects


def _at(snap: Snapshot, as_of: dt.date) -> Snapshot:
    """The snapshot as a check as of an earlier date would have read it (same chain head)."""
    if as_of == snap.as_of:
        return snap
    return dataclasses.replace(snap, as_of=as_of, rows=[row for row in snap.rows if row.day <= as_of])


class _Evaluator:
    """Evaluations of one snapshot, cached by (as_of, since)."""

    def __init__(self, snap: Snapshot, agreement: Agreement):
        self.snap = snap
        self.agreement = agreement
        self.cache: dict[tuple[dt.date, dt.date | None], CheckResult] = {}

    def __call__(self, as_of: dt.date, since: dt.date | None) -> CheckResult:
        key = (as_of, since)
        if key not in self.cache:
            self.cache[key] = evaluate_snapshot(_at(self.snap, as_of), agreements=[self.agreement], since=since)
        return self.cache[key]


def _as_of_for(period: Period, agreement: Agreement, today: dt.date, option: str) -> dt.date:
    """The period's last day, or today for a period that has not ended (a report `--as-of` a future date too)."""
    if period.start > today:
        raise InputError(f"{period.label} has not begun (today is {today.isoformat()})", option)
    as_of = min(period.end, today)
    if as_of < agreement.in_force_day:
        raise InputError(f"{period.label} ends before the agreement entered into force on "
                         f"{agreement.in_force_day.isoformat()}", option)
    return as_of


GRID_PERIODS = 12  # the periods a report's own verdict grid shows: its own and the ones before it


def history(period: Period, agreement: Agreement, today: dt.date) -> list[tuple[Period, dt.date]]:
    """The columns of the verdict grid a report embeds, with their as-of dates: the report's period and up to
    GRID_PERIODS - 1 periods of the same length before it (not before the one in which the agreement entered
    into force). A report as of a date has the months before its own, then itself. Nothing after the report's
    own period is in it, and nothing depends on a series the report is written in."""
    step = quarter if period.kind == "quarter" else month
    periods = [period]
    while len(periods) < GRID_PERIODS and periods[0].start > agreement.in_force_day:
        periods.insert(0, step(periods[0].start - dt.timedelta(days=1)))
    return [(p, min(p.end, today)) for p in periods]


def gather(store: Store, snap: Snapshot, evaluator: _Evaluator, period: Period, as_of: dt.date,
           today: dt.date) -> ReportData:
    """Collect one report's verdicts, terms and observations from a snapshot."""
    agreement = evaluator.agreement
    view = _at(snap, as_of)
    current = evaluator(as_of, period.start)
    cumulative = evaluator(as_of, None)
    previous_period = period.previous()
    previous = (evaluator(previous_period.end, previous_period.start)
                if previous_period.end >= agreement.in_force_day else None)
    state = agreement_state(agreement, as_of, view.amendments_of(agreement), view.endings_of(agreement))
    wanted = {i for result in (current, cumulative) for o in result.obligations for i in (*o.evidence, *o.inconclusive)}
    found = store.observations_by_id(i for i in wanted if i.isdigit())
    records = {record.id: record for record in found.values()}
    in_period = store.live_observations(snap.head, since=period.start, until=as_of)
    read = _out_of_scope(agreement)
    outside = [r for r in in_period if is_outside_scope(agreement, r, read)]
    return ReportData(agreement=agreement, period=period, as_of=as_of, today=today, period_result=current,
                      cumulative=cumulative, previous_period=previous_period, previous=previous, state=state,
                      records=records, in_period=in_period, outside_scope=outside,
                      observations_to_date=sum(row.n for row in view.rows))


# ---- writing -----------------------------------------------------------------------------------


def _day(value: dt.date | str | None, option: str, agreement: Agreement) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return parse_day(value, agreement.tz)
    except InputError as error:
        raise InputError(error.reason, option) from None


def _text(value: dt.date | str | Period | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Period):
        return value.label
    return value.isoformat()


def plan(agreement: Agreement, *, as_of: dt.date | str | None = None, period: str | Period | None = None,
         start: dt.date | str | None = None, end: dt.date | str | None = None, every: str | None = None,
         today: dt.date | None = None) -> tuple[list[tuple[Period, dt.date]], bool]:
    """The periods to report with their as-of dates, and whether they form a series (`--from/--to`)."""
    today = today or today_in(agreement.tz)
    given = [name for name, value in (("--as-of", as_of), ("--period", period), ("--from", start), ("--to", end))
             if value is not None]
    is_series = start is not None or end is not None
    if as_of is not None and len(given) > 1:
        raise InputError(f"give one of --as-of, --period or --from/--to (got {', '.join(given)})", "--as-of")
    if period is not None and is_series:
        raise InputError("give one of --as-of, --period or --from/--to, not both", "--period")
    if every is not None and not is_series:
        raise InputError("goes with --from and --to", "--every")
    if is_series and (start is None or end is None):
        raise InputError("a series needs both --from and --to", "--from" if start is None else "--to")
    if is_series:
        periods = series(_text(start), _text(end), every or "month")
        planned = [(p, _as_of_for(p, agreement, today, "--from" if i == 0 else "--to")) for i, p in enumerate(periods)]
        return planned, True
    if period is not None:
        chosen = period if isinstance(period, Period) else parse_period(period, "--period")
        return [(chosen, _as_of_for(chosen, agreement, today, "--period"))], False
    day = _day(as_of, "--as-of", agreement) or today
    chosen = month_to_date(day)
    return [(chosen, _as_of_for(chosen, agreement, today, "--as-of"))], False


def _write(path: Path, data: str | bytes) -> None:
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8", newline="\n")
        else:
            path.write_bytes(data)
    except OSError as error:
        raise StoreError(f"cannot write: {error.strerror or error}", str(path)) from None


def write_reports(store: Store, out_dir: str | Path = "reports", *, as_of: dt.date | str | None = None,
                  period: str | Period | None = None, start: dt.date | str | None = None,
                  end: dt.date | str | None = None, every: str | None = None, today: dt.date | None = None,
                  as_recorded: dt.datetime | None = None, generated_at: str | None = None,
                  charts: bool = True) -> list[Path]:
    """Write markdown reports (and their charts) into `out_dir`, refresh `out_dir/index.md`; return the paths.

    Give one of: `as_of` (a report of that date's month to date, named by the date; default today),
    `period` (`2021-07` or `2021-Q3`), or `start`/`end` with `every` (`month` or `quarter`) for a series.
    A period that has not ended is reported as of `today` (default: today in the agreement's time zone).
    The paths come back period reports first (in period order), then `index.md`, then the charts.
    """
    agreement = store.agreement
    today = today or today_in(agreement.tz)
    if every is not None and every not in EVERY:
        raise InputError(f"{every!r} is not one of: {', '.join(EVERY)}", "--every")
    planned, is_series = plan(agreement, as_of=as_of, period=period, start=start, end=end, every=every, today=today)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the report folder: {error.strerror or error}", str(out)) from None
    snap = snapshot(store, max(day for _, day in planned), as_recorded)
    evaluator = _Evaluator(snap, agreement)
    reports = [gather(store, snap, evaluator, p, day, today) for p, day in planned]
    generated = generated_at or format_utc(utc_now()).split(".")[0] + "Z"
    chart_paths: list[Path] = []
    if charts:
        try:
            from . import charts as chart_module  # matplotlib is imported only when charts are drawn
            import matplotlib  # noqa: F401
        except ImportError as error:
            raise StoreError(f"charts need matplotlib, which cannot be imported ({error}); "
                             "install it with: pip install matplotlib", "report") from None

        for data in reports:
            caps = caps_panels(store, snap, data)
            if caps:
                name = CAPS_CHART.format(agreement=agreement.id, label=data.period.label)
                _write(out / name, chart_module.caps_chart(caps, alignment_categories(agreement),
                                                           caps_start(caps, data), data.as_of, data.period))
                data.caps_chart = name
                chart_paths.append(out / name)
            # the report's own grid: its period and the ones before it, nothing after (the same file whether
            # the report is written alone or in a series)
            columns = [(p.label, evaluator(day, p.start)) for p, day in history(data.period, agreement, today)]
            name = GRID_CHART.format(agreement=agreement.id, label=data.period.label)
            _write(out / name, chart_module.verdict_grid(agreement, columns))
            data.series_chart, data.series_label = name, f"{columns[0][0]} to {columns[-1][0]}"
            chart_paths.append(out / name)
        if is_series:  # the whole series, for the index
            first, last = reports[0].period.label, reports[-1].period.label
            series_name = VERDICT_CHART.format(agreement=agreement.id, first=first, last=last)
            _write(out / series_name, chart_module.verdict_grid(
                agreement, [(r.period.label, r.period_result) for r in reports]))
            chart_paths.append(out / series_name)
    paths = []
    for data in reports:
        path = out / f"{agreement.id}-{data.period.label}.md"
        _write(path, render_report(data, generated_at=generated))
        paths.append(path)
    index = out / INDEX
    _write(index, render_index(out))
    return paths + [index] + chart_paths


# ---- charts' data ------------------------------------------------------------------------------


@dataclass
class CapPanel:
    """One cap for the chart: its title, the cap in force over time, and the reported counts."""

    title: str
    unit: str
    steps: list[tuple[dt.date, int]]
    points: list[tuple[dt.date, int, int, str]] = field(default_factory=list)


def caps_panels(store: Store, snap: Snapshot, data: ReportData) -> list[CapPanel]:
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


# ---- rendering ---------------------------------------------------------------------------------


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
            "end": period.end.isoformat(), "as_of": data.as_of.isoformat(), "log_digest": data.cumulative.log_digest}
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
        f"- Observations: {data.observations_to_date:,} in the log dated on or before {data.as_of.isoformat()}, "
        f"{len(data.in_period):,} of them dated in the period",
        "",
        f"{GENERATED_PREFIX}{generated_at} by compliance; re-running this report on the same log changes no other line._",
        "",
        "Verdicts are derived by the agreement's rules from observations as they were reported; observations are "
        "reports, not findings of fact. The vocabulary is explained at the end.",
        "",
    ]
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
    lines += ["## Incidents outside the agreement's scope", "",
              "Reported incidents that no obligation reads (for this agreement, ceasefire breaches on the "
              "state border, which point 1 does not cover). They bear on no verdict.", ""]
    if data.outside_scope:
        lines += _records_table(agreement, data.outside_scope, period.start, data.as_of) + [""]
    else:
        lines += [f"None reported dated from {period.start.isoformat()} to {data.as_of.isoformat()}.", ""]
    lines += _upcoming(data)
    lines += ["## Observations dated in the period", ""]
    if data.in_period:
        lines += [f"{_observations(len(data.in_period))} dated from {period.start.isoformat()} to "
                  f"{data.as_of.isoformat()}, as the log stands (corrections applied, retractions left out).", ""]
        lines += _records_table(agreement, data.in_period, period.start, data.as_of) + [""]
    else:
        lines += [f"None dated from {period.start.isoformat()} to {data.as_of.isoformat()}.", ""]
    lines += _vocabulary()
    return "\n".join(lines).rstrip("\n") + "\n"


FINDINGS = ("violated", "overdue", "alleged", "disputed")  # the verdicts a findings block lists, most serious first


def _findings(data: ReportData, label: str) -> list[str]:
    """The block that leads a report: the period's verdicts that are not compliant, most serious first, and the
    verdicts that changed since the previous period; an obligation's bearers with one verdict share one line."""
    order = {ob.id: index for index, ob in enumerate(data.agreement.obligations)}
    rank = {verdict: index for index, verdict in enumerate(FINDINGS)}
    found: dict[tuple[str, str], list[ObligationResult]] = {}
    for o in data.period_result.obligations:
        if o.verdict.value in rank:
            found.setdefault((o.verdict.value, o.id), []).append(o)
    lines = ["## Findings", ""]
    if found:
        lines += [f"Verdicts in {esc(label)} that are not compliant, most serious first (every verdict is in the "
                  "summary below, with its evidence under its point):", ""]
        for (verdict, ob_id), results in sorted(found.items(), key=lambda item: (rank[item[0][0]], order[item[0][1]])):
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
    before = {(o.id, o.bearer): o.verdict.value for o in data.previous.obligations}
    changed: dict[tuple[str, str, str], list[str]] = {}
    for o in data.period_result.obligations:
        old = before.get((o.id, o.bearer))
        if old is not None and old != o.verdict.value:
            changed.setdefault((o.id, old, o.verdict.value), []).append(o.bearer)
    if not changed:
        return lines + [f"No verdict changed since {prev_label}.", ""]
    lines += [f"Changes since {prev_label}:", ""]
    for (ob_id, old, new), bearers in sorted(changed.items(), key=lambda item: (
            rank.get(item[0][2], len(rank)), order[item[0][0]])):
        lines.append(f"- {esc(ob_id)} ({esc(', '.join(bearers))}): {old} → **{new}**")
    return lines + [""]


def _summary(data: ReportData, label: str) -> list[str]:
    prev = data.previous_period
    previous = None if data.previous is None else {(o.id, o.bearer): o.verdict for o in data.previous.obligations}
    cumulative = {(o.id, o.bearer): o for o in data.cumulative.obligations}
    rows = []
    for o in data.period_result.obligations:
        whole = cumulative[(o.id, o.bearer)]
        rows.append([str(o.point), esc(f"{o.id}: {o.title}"), esc(o.bearer), o.verdict.value, whole.verdict.value,
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


# ---- index -------------------------------------------------------------------------------------


def _meta(path: Path) -> dict | None:
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not (first.startswith(META_PREFIX) and first.endswith("-->")):
        return None
    try:
        meta = json.loads(first[len(META_PREFIX):-3])
    except json.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) else None


_SPAN = re.compile(r"^(\d{4}-(?:\d{2}|Q\d)(?:-\d{2})?)-(\d{4}-(?:\d{2}|Q\d)(?:-\d{2})?)$")


def _span(text: str) -> str:
    """'2020-Q4-2023-Q4' as '2020-Q4 to 2023-Q4' (the first and last period of a series chart's name)."""
    found = _SPAN.match(text)
    return f"{found.group(1)} to {found.group(2)}" if found else text


_KIND_TITLES = (("quarter", "Quarterly reports"), ("month", "Monthly reports"), ("to-date", "Reports as of a date"))


def render_index(out_dir: str | Path) -> str:
    """The markdown of `index.md`: every report in the folder (by agreement and kind) and the verdict charts."""
    folder = Path(out_dir)
    reports: dict[str, dict[str, list[tuple[str, dict]]]] = {}
    others = []
    for path in sorted(folder.glob("*.md")):
        if path.name == INDEX:
            continue
        meta = _meta(path)
        if meta is None or meta.get("kind") not in dict(_KIND_TITLES):
            others.append(path.name)
            continue
        reports.setdefault(str(meta.get("agreement")), {}).setdefault(meta["kind"], []).append((path.name, meta))
    charts = sorted(p.name for p in folder.glob("*-verdicts-*.png"))
    lines = ["# Compliance reports", "",
             "Every report in this folder, with the period it covers, its as-of date and the log digest it read. "
             "This index is rewritten each time reports are written here.", ""]
    for agreement in sorted(reports):
        lines += [f"## {esc(agreement)}", ""]
        for kind, title in _KIND_TITLES:
            entries = sorted(reports[agreement].get(kind, []), key=lambda item: (item[1].get("start", ""), item[0]))
            if not entries:
                continue
            rows = [[f"[{esc(meta.get('period'))}]({url_quote(name)})",
                     esc(f"{meta.get('start')} to {meta.get('end')}"), esc(meta.get("as_of")),
                     f"`{esc(meta.get('log_digest'))}`"] for name, meta in entries]
            lines += [f"### {title}", ""] + _table(["report", "period", "as of", "log digest"], rows) + [""]
        mine = [c for c in charts if c.startswith(f"{agreement}-verdicts-")]
        if mine:
            lines += ["### Verdicts per period", ""]
            spans = [_span(name[len(f"{agreement}-verdicts-"):-len(".png")]) for name in mine]
            lines += [f"- [{esc(span)}]({url_quote(name)})" for name, span in zip(mine, spans)] + [""]
            for name, span in zip(mine, spans):
                lines += [f"![Verdicts per period, {esc(span)}]({url_quote(name)})", ""]
    rest = [c for c in charts if not any(c.startswith(f"{a}-verdicts-") for a in reports)]
    if others or rest:
        lines += ["## Other files", ""] + [f"- [{esc(name)}]({url_quote(name)})" for name in others + rest] + [""]
    if not reports and not others and not rest:
        lines += ["No reports yet.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"
