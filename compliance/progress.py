"""Progress bars for long runs, on stderr and only on a terminal; silent (a plain pass-through) otherwise.

    from compliance.progress import progress
    for row in progress(rows, len(rows), "validating"):
        ...

When the loop may stop early (an error), use `tracked`, which removes the bar before the error is shown:

    with tracked(rows, len(rows), "validating") as rows:
        for row in rows:
            ...

Nothing is ever written to stdout, so piped output stays clean. The bar is drawn with `rich`
(installed with typer) when stderr is a terminal and `COMPLIANCE_NO_PROGRESS` is not set; without
rich, or off a terminal, the iterable is returned unchanged.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

def enabled() -> bool:
    """True when a bar would be shown: stderr is a terminal and progress is not switched off (the `no_progress`
    setting)."""
    from .settings import load

    if load().no_progress:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress(iterable: Iterable[T], total: int | None, label: str, *, min_total: int = 0) -> Iterable[T]:
    """`iterable`, with a transient progress bar on stderr when it is a terminal and `total >= min_total`."""
    if not enabled() or (total is not None and total < min_total):
        return iterable
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:  # rich is optional: no bar
        return iterable
    return _bar(iterable, total, label, Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(file=sys.stderr), transient=True))


def _bar(iterable: Iterable[T], total: int | None, label: str, bar) -> Iterator[T]:
    with bar:
        task = bar.add_task(label, total=total)
        for item in iterable:
            yield item
            bar.advance(task)


@contextmanager
def tracked(iterable: Iterable[T], total: int | None, label: str, *, min_total: int = 0) -> Iterator[Iterable[T]]:
    """`progress(...)` as a context: on leaving it, early or by an error, the bar is removed from the terminal."""
    wrapped = progress(iterable, total, label, min_total=min_total)
    try:
        yield wrapped
    finally:
        if wrapped is not iterable:
            wrapped.close()  # type: ignore[attr-defined]  # our generator: stops and clears the bar
