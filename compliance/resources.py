"""Where the data shipped with the package lives: bundled clause files and the sample log."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(installed_name: str, source_name: str) -> Path:
    """The folder as installed inside the package, or the repository folder when running from a checkout."""
    installed = _PACKAGE / installed_name
    return installed if installed.is_dir() else _PACKAGE.parent / source_name


def clauses_dir() -> Path:
    """The folder of bundled clause files (`clauses/` in the repository)."""
    return _data_dir("clauses", "clauses")


def sample_log() -> Path:
    """The bundled sample observation log (`observations/sample.jsonl` in the repository)."""
    return _data_dir("samples", "observations") / "sample.jsonl"
