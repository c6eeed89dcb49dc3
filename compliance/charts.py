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
    """One panel per cap: counts reported up to `as_of` (ranges as vertical bars), the cap in force, the period."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = category_colours(categories)
    with _style():
        figure = _figure(9.0, 1.2 + 2.3 * len(panels), left=1.0, right=0.25, top=0.75, bottom=1.0, hspace=0.4)
        axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        left, right = start - dt.timedelta(days=10), as_of + dt.timedelta(days=10)
        used: list[str] = []
        shapes = set()
        for ax, panel in zip(axes, panels):
            ax.set_title(panel.title, loc="left")
            ax.set_ylabel(textwrap.fill(panel.unit, 22))
            xs = [day for day, _ in panel.steps] + [as_of]
            ys = [value for _, value in panel.steps] + [panel.steps[-1][1]]
            ax.step(xs, ys, where="post", color=CAP_COLOUR, linestyle="--", linewidth=1.5, zorder=2)
            ax.annotate(f"cap {ys[-1]:,}", (as_of, ys[-1]), xytext=(-4, 4), textcoords="offset points",
                        ha="right", va="bottom", color=CAP_COLOUR, fontsize=8)
            ax.axvspan(max(period.start, start), as_of, color="#000000", alpha=0.07, linewidth=0, zorder=1)
            top = max(ys)
            for category in categories:
                mine = [p for p in panel.points if p[3] == category]
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
                top = max([top] + [high for _, _, high, _ in mine])
            if not panel.points:
                ax.text(0.5, 0.5, f"no count reported up to {as_of.isoformat()}", transform=ax.transAxes,
                        ha="center", va="center", color="#555555")
            ax.set_ylim(0, top * 1.15 if top else 1)
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
        return _png(figure)


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


def verdict_grid(agreement: "Agreement", periods: Sequence[tuple[str, CheckResult]]) -> bytes:
    """A grid of the verdict in each period (columns) for each obligation and bearer (rows), with a legend."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows = verdict_rows(agreement, [result for _, result in periods])
    codes = {verdict: index for index, verdict in enumerate(VERDICTS)}
    matrix = [[codes.get(value, codes["unknown"]) for value in cells] for _, cells in rows]
    columns = len(periods)
    with _style():
        left = 0.3 + 0.07 * max(len(label) for label, _ in rows)
        top = 0.55 + 0.075 * max(len(label) for label, _ in periods)
        figure = _figure(max(7.0, left + 0.3 + 0.4 * columns), top + 0.85 + 0.28 * len(rows),
                         left=left, right=0.3, top=top, bottom=0.85)
        ax = figure.subplots()
        cmap = ListedColormap([VERDICT_COLOURS[v] for v in VERDICTS])
        ax.pcolormesh(matrix, cmap=cmap, vmin=-0.5, vmax=len(VERDICTS) - 0.5, edgecolors="#ffffff", linewidth=1.5)
        for y, (_, cells) in enumerate(rows):
            for x, value in enumerate(cells):
                colour = "#ffffff" if value == "violated" else "#222222"
                ax.text(x + 0.5, y + 0.5, VERDICT_SHORT.get(value, ""), ha="center", va="center", fontsize=7,
                        color=colour)
        ax.set_xticks([x + 0.5 for x in range(columns)], [label for label, _ in periods], rotation=90)
        ax.set_yticks([y + 0.5 for y in range(len(rows))], [label for label, _ in rows])
        ax.set_xlim(0, columns)
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
        figure.suptitle(f"{agreement.id}: verdict in each period, {first} to {last}")
        return _png(figure)
