"""`write_reports()`: plan the periods, read the store once, gather each agreement's reports, draw the charts,
write the files and the folder's index."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable

from ..agreement import Agreement
from ..check import resolve_agreements, snapshot
from ..dates import format_utc, today as today_in, utc_now
from ..errors import InputError, StoreError
from ..periods import EVERY, Period
from ..store import Store
from .gather import Evaluator, ProcessEntry, ReportData, Run, alignment_categories, caps_panels, caps_start, gather, \
    report_file
from .index import INDEX, render_index
from .plan import history, in_force_by, plan
from .render import render_report

VERDICT_CHART = "{agreement}-verdicts-{first}-{last}.png"
CAPS_CHART = "{agreement}-{label}-caps.png"
GRID_CHART = "{agreement}-{label}-verdicts.png"


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
                  charts: bool = True, agreements: Iterable[str | Path | Agreement] | None = None) -> list[Path]:
    """Write markdown reports (and their charts) into `out_dir`, refresh `out_dir/index.md`; return the paths.

    Give one of: `as_of` (a report of that date's month to date, named by the date; default today),
    `period` (`2021-07` or `2021-Q3`), or `start`/`end` with `every` (`month` or `quarter`) for a series.
    `agreements` chooses which agreements get reports (tracked IDs, bundled IDs or clause files; default: every
    agreement the log tracks): one file `<agreement>-<period>.md` per agreement in force in the period.
    A period that has not ended is reported as of `today` (default: today in the agreements' time zone).
    The paths come back period reports first (in period order, agreements in tracking order), then
    `index.md`, then the charts.
    """
    chosen = resolve_agreements(store, agreements)
    today = today or today_in(chosen[0].tz)
    if every is not None and every not in EVERY:
        raise InputError(f"{every!r} is not one of: {', '.join(EVERY)}", param="every")
    planned, is_series = plan(chosen, as_of=as_of, period=period, start=start, end=end, every=every, today=today)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the report folder: {error.strerror or error}", str(out)) from None
    snap = snapshot(store, max(day for _, day in planned), as_recorded, chosen)
    known = {a.id: a for a in store.process.agreements}
    known.update({a.id: a for a in chosen})
    run = Run(store, snap, Evaluator(snap), today, known)
    jobs = [(agreement, p, day) for p, day in planned for agreement in chosen if in_force_by(agreement, day)]
    run.files = {report_file(agreement.id, p) for agreement, p, _ in jobs}
    reports: list[ReportData] = []
    for p, day in planned:
        live = store.live_observations(snap.head, since=p.start, until=day)
        batch = [gather(run, agreement, p, day, live) for agreement, q, _ in jobs if q == p]
        entries = [ProcessEntry(a.id, a.in_force_day, report_file(a.id, p) if report_file(a.id, p) in run.files
                                else None, None) for a in chosen]
        summaries = {data.agreement.id: data.summary for data in batch}
        for entry in entries:
            entry.summary = summaries.get(entry.agreement)
        for data in batch:
            data.process = entries
        reports += batch
    generated = generated_at or format_utc(utc_now()).split(".")[0] + "Z"
    chart_paths = _charts(run, reports, out, is_series) if charts else []
    paths = []
    for data in reports:
        path = out / data.file
        _write(path, render_report(data, generated_at=generated))
        paths.append(path)
    index = out / INDEX
    _write(index, render_index(out))
    return paths + [index] + chart_paths


def _charts(run: Run, reports: list[ReportData], out: Path, is_series: bool) -> list[Path]:
    """Draw each report's caps chart and verdict grid (and, for a series, each agreement's grid of the whole
    series); record their names in the reports; return the paths."""
    from .. import charts as chart_module  # matplotlib (a dependency) is imported only when charts are drawn

    paths: list[Path] = []
    for data in reports:
        agreement = data.agreement
        caps = caps_panels(run.snap, data)
        if caps:
            name = CAPS_CHART.format(agreement=agreement.id, label=data.period.label)
            _write(out / name, chart_module.caps_chart(caps, alignment_categories(agreement),
                                                       caps_start(caps, data), data.as_of, data.period))
            data.caps_chart = name
            paths.append(out / name)
        # the report's own grid: its period and the ones before it, nothing after (the same file whether the
        # report is written alone or in a series)
        columns = [(p.label, run.evaluate(agreement, day, p.start)) for p, day in history(data.period, agreement,
                                                                                            run.today)]
        name = GRID_CHART.format(agreement=agreement.id, label=data.period.label)
        _write(out / name, chart_module.verdict_grid(agreement, columns))
        data.series_chart, data.series_label = name, f"{columns[0][0]} to {columns[-1][0]}"
        paths.append(out / name)
    if is_series:  # each agreement's whole series, for the index
        by_agreement: dict[str, list[ReportData]] = {}
        for data in reports:
            by_agreement.setdefault(data.agreement.id, []).append(data)
        for agreement_id, mine in by_agreement.items():
            first, last = mine[0].period.label, mine[-1].period.label
            name = VERDICT_CHART.format(agreement=agreement_id, first=first, last=last)
            _write(out / name, chart_module.verdict_grid(mine[0].agreement,
                                                         [(r.period.label, r.period_result) for r in mine]))
            paths.append(out / name)
    return paths
