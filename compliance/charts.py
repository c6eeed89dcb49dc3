"""Charts for reports (PNG bytes): reported counts against the caps, and a grid of verdicts per period.

matplotlib is drawn off-screen (the Agg canvas, no pyplot, no display) under the default style with
fixed sizes, resolution, fonts and metadata, so the same data gives the same bytes on every run.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator, Sequence

from .verdicts import VERDICTS, CheckResult

if TYPE_CHECKING:  # pragma: no cover
    from .agreement import Agreement
    from .periods import Period
    from .report import CapPanel

DPI = 100
RC = {
    "svg.hashsalt": "compliance",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "date.converter": "concise",
    "path.simplify": False,
}
PNG_METADATA = {"Software": None}

CAP_COLOUR = "#d62728"
SIDE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
INDEPENDENT_COLOUR = "#111111"
OTHER_COLOUR = "#9a9a9a"

VERDICT_COLOURS = {
    "not-in-force": "#d9d9d9",
    "pending": "#9ecae1",
    "compliant": "#74c476",
    "overdue": "#fd8d3c",
    "alleged": "#fed976",
    "disputed": "#bcbddc",
    "violated": "#cb181d",
    "unknown": "#ffffff",
    "not-assessed": "#f0f0f0",
}
VERDICT_SHORT = {
    "not-in-force": "–", "pending": "P", "compliant": "C", "overdue": "O",
    "alleged": "A", "disputed": "D", "violated": "V", "unknown": "?", "not-assessed": "n/a",
}


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context(RC):
        yield


def _figure(width: float, height: float, *, left: float, right: float, top: float, bottom: float,
            hspace: float = 0.0):
    """A figure of fixed size with fixed margins (in inches): no layout engine, so drawing is fast and stable."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                           bottom=bottom / height, hspace=hspace)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=PNG_METADATA)
    return buffer.getvalue()


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    """A fixed colour per alignment category: sides in order, then 'independent' (black) and 'other' (grey)."""
    colours: dict[str, str] = {}
    sides = [c for c in categories if c not in ("independent", "other")]
    for index, category in enumerate(sides):
        colours[category] = SIDE_COLOURS[index % len(SIDE_COLOURS)]
    colours["independent"] = INDEPENDENT_COLOUR
    colours["other"] = OTHER_COLOUR
    return colours


def caps_chart(panels: Sequence["CapPanel"], categories: Sequence[str], start: dt.date, as_of: dt.date,
               period: "Period") -> bytes:
    """One panel per cap: counts reported from `start` to `as_of` (ranges as vertical bars), the cap in force
    (labelled beside the panel, where no bar can cover it), the period shaded. The y-axis spans the counts and
    the cap, not 0, so a count just above the cap stands apart from the cap line."""
    with _style():
        return _png(caps_figure(panels, categories, start, as_of, period))


def caps_figure(panels: Sequence["CapPanel"], categories: Sequence[str], start: dt.date, as_of: dt.date,
                period: "Period"):
    """The figure `caps_chart` draws (call it under the charts' style)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = category_colours(categories)
    figure = _figure(9.0, 1.2 + 2.3 * len(panels), left=1.0, right=1.0, top=0.75, bottom=1.0, hspace=0.4)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    left, right = start - dt.timedelta(days=10), as_of + dt.timedelta(days=10)
    used: list[str] = []
    shapes = set()
    for ax, panel in zip(axes, panels):
        ax.set_title(panel.title, loc="left")
        ax.set_ylabel(textwrap.fill(panel.unit, 22))
        in_force = [(day, value) for day, value in panel.steps if day <= start]
        steps = in_force[-1:] + [(day, value) for day, value in panel.steps if day > start]
        xs = [max(day, left) for day, _ in steps] + [as_of]
        ys = [value for _, value in steps] + [steps[-1][1]]
        ax.step(xs, ys, where="post", color=CAP_COLOUR, linestyle="--", linewidth=1.5, zorder=2)
        ax.annotate(f"cap\n{ys[-1]:,}", (1, ys[-1]), xycoords=("axes fraction", "data"), xytext=(6, 0),
                    textcoords="offset points", ha="left", va="center", color=CAP_COLOUR, fontsize=8,
                    annotation_clip=False)
        ax.axvspan(max(period.start, start), as_of, color="#000000", alpha=0.07, linewidth=0, zorder=1)
        points = [p for p in panel.points if start <= p[0] <= as_of]
        values = list(ys) + [v for _, low, high, _ in points for v in (low, high)]
        for category in categories:
            mine = [p for p in points if p[3] == category]
            if not mine:
                continue
            if category not in used:
                used.append(category)
            exact = [(day, low) for day, low, high, _ in mine if low == high]
            ranges = [(day, low, high) for day, low, high, _ in mine if low != high]
            shapes.update("count" if low == high else "range" for _, low, high, _ in mine)
            if exact:
                ax.scatter([d for d, _ in exact], [v for _, v in exact], s=28, color=colours[category],
                           edgecolors="white", linewidths=0.6, zorder=4)
            if ranges:
                ax.vlines([d for d, _, _ in ranges], [lo for _, lo, _ in ranges], [hi for _, _, hi in ranges],
                          color=colours[category], linewidth=5, zorder=3)
        if not points:
            ax.text(0.5, 0.82, f"no count reported from {start.isoformat()} to {as_of.isoformat()}",
                    transform=ax.transAxes, ha="center", va="center", color="#555555")
        low, high = min(values), max(values)
        pad = max((high - low) * 0.12, high * 0.02, 1)
        ax.set_ylim(max(low - pad, 0), high + pad)
        ax.set_xlim(left, right)
        ax.yaxis.set_major_formatter(_thousands())
    handles = [Line2D([], [], marker="s", linestyle="", color=colours[c], label=f"source: {c}") for c in used]
    if "count" in shapes:
        handles.append(Line2D([], [], marker="o", linestyle="", color="#555555", label="reported count"))
    if "range" in shapes:
        handles.append(Line2D([], [], marker="|", markersize=12, markeredgewidth=4, linestyle="", color="#555555",
                              label="reported range (low to high)"))
    handles += [Line2D([], [], color=CAP_COLOUR, linestyle="--", label="cap in force"),
                Patch(color="#000000", alpha=0.07, label=f"period {period.label}")]
    figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=min(len(handles), 4),
                  frameon=False)
    figure.suptitle(f"Reported counts against the caps, {start.isoformat()} to {as_of.isoformat()}", y=1 - 0.15 / figure.get_figheight())
    return figure


def _thousands():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def verdict_rows(agreement: "Agreement", results: Sequence[CheckResult]) -> list[tuple[str, list[str]]]:
    """Rows of the grid: one per obligation and bearer (one per joint obligation), verdicts per period."""
    joint = {ob.id for ob in agreement.obligations if ob.joint}
    labels: list[str] = []
    cells: dict[str, list[str]] = {}
    for column, result in enumerate(results):
        for o in result.obligations:
            if o.id in joint:
                bearers = next(ob.bearers for ob in agreement.obligations if ob.id == o.id)
                label = f"{o.id} ({'+'.join(bearers)})"
            else:
                label = f"{o.id} ({o.bearer})"
            if label not in cells:
                labels.append(label)
                cells[label] = ["" for _ in results]
            cells[label][column] = o.verdict.value
    return [(label, cells[label]) for label in labels]


MAX_GRID_COLUMNS = 12  # a longer grid is split by year, one panel per year


def verdict_grid(agreement: "Agreement", periods: Sequence[tuple[str, CheckResult]]) -> bytes:
    """A grid of the verdict in each period (columns) for each obligation and bearer (rows), with a legend; more
    than MAX_GRID_COLUMNS periods are drawn as one panel per year, so the grid stays readable at page width."""
    with _style():
        return _png(verdict_figure(agreement, periods))


def verdict_figure(agreement: "Agreement", periods: Sequence[tuple[str, CheckResult]]):
    """The figure `verdict_grid` draws (call it under the charts' style)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows = verdict_rows(agreement, [result for _, result in periods])
    codes = {verdict: index for index, verdict in enumerate(VERDICTS)}
    spans: list[tuple[int, int]] = []  # [start, end) of each panel's columns
    for index, (label, _) in enumerate(periods):
        if spans and (len(periods) <= MAX_GRID_COLUMNS or label[:4] == periods[spans[-1][0]][0][:4]):
            spans[-1] = (spans[-1][0], index + 1)
        else:
            spans.append((index, index + 1))
    width = max(end - start for start, end in spans)
    left = 0.3 + 0.07 * max(len(label) for label, _ in rows)
    label_height = 0.2 + 0.075 * max(len(label) for label, _ in periods)
    panel_height = label_height + 0.28 * len(rows)
    top = 0.45
    figure = _figure(max(7.0, left + 0.3 + 0.4 * width), top + 0.85 + panel_height * len(spans) + 0.2 * (len(spans) - 1),
                     left=left, right=0.3, top=top + label_height, bottom=0.85,
                     hspace=label_height / (0.28 * len(rows)) if len(spans) > 1 else 0.0)
    axes = figure.subplots(len(spans), 1, squeeze=False)[:, 0]
    cmap = ListedColormap([VERDICT_COLOURS[v] for v in VERDICTS])
    for ax, (start, end) in zip(axes, spans):
        matrix = [[codes.get(value, codes["unknown"]) for value in cells[start:end]] for _, cells in rows]
        ax.pcolormesh(matrix, cmap=cmap, vmin=-0.5, vmax=len(VERDICTS) - 0.5, edgecolors="#ffffff", linewidth=1.5)
        for verdict, letter in VERDICT_SHORT.items():  # one marker artist per letter: fast to draw
            cells = [(x + 0.5, y + 0.5) for y, (_, row) in enumerate(rows)
                     for x, value in enumerate(row[start:end]) if value == verdict]
            if cells:
                ax.scatter([x for x, _ in cells], [y for _, y in cells], marker=f"$\\mathrm{{{letter}}}$", s=30, linewidths=0,
                           color="#ffffff" if verdict == "violated" else "#222222", zorder=3)
        ax.set_xticks([x + 0.5 for x in range(end - start)], [label for label, _ in periods[start:end]], rotation=90)
        ax.set_yticks([y + 0.5 for y in range(len(rows))], [label for label, _ in rows])
        ax.set_xlim(0, width)
        ax.set_ylim(len(rows), 0)
        ax.grid(False)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.xaxis.tick_top()
    handles = [Patch(facecolor=VERDICT_COLOURS[v], edgecolor="#888888", linewidth=0.5,
                     label=f"{VERDICT_SHORT[v]}  {v}") for v in VERDICTS]
    figure.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=4, frameon=False)
    first, last = periods[0][0], periods[-1][0]
    figure.suptitle(f"{agreement.id}: verdict in each period, {first} to {last}", y=1 - 0.2 / figure.get_figheight())
    return figure
