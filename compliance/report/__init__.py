"""Markdown compliance reports: one file per agreement and period, an index of the folder, charts beside them.

`write_reports()` reads the store once (one snapshot at the latest as-of date; every period's verdicts are
evaluated from it) and writes `DIR/<agreement>-<period>.md` for each agreement in force in each period, the
charts, and `DIR/index.md`. The modules: `plan` (which periods), `gather` (what a report shows), `render`
(its markdown), `index` (the folder's index), `write` (the files).

Example (a script):

    from compliance import open_store, write_reports
    paths = write_reports(open_store("sample"), "reports", period="2021-07")
"""

from .gather import (CapPanel, Evaluator, ReportData, ReportSummary, alignment, alignment_categories, caps_panels,
                     caps_start, gather)
from .index import INDEX, render_index
from .plan import history, plan
from .render import GENERATED_PREFIX, render_report
from .write import write_reports

__all__ = ["ReportData", "ReportSummary", "GENERATED_PREFIX", "INDEX", "write_reports", "render_report",
           "render_index", "gather", "plan", "history", "alignment", "alignment_categories", "CapPanel",
           "caps_panels", "caps_start", "Evaluator"]
