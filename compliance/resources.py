"""Where the data shipped with the package lives: bundled clause files and the sample log."""

from __future__ import annotations

from pathlib import Path

from .errors import ComplianceError, StoreError

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(installed_name: str, source_name: str) -> Path:
    """The folder as installed inside the package, or the repository folder when running from a checkout."""
    installed = _PACKAGE / installed_name
    return installed if installed.is_dir() else _PACKAGE.parent / source_name


def clauses_dir() -> Path:
    """The folder of bundled clause files (`clauses/` in the repository)."""
    return _data_dir("clauses", "clauses")


def templates_dir() -> Path:
    """The folder of bundled rule templates (`compliance/templates/`)."""
    return _PACKAGE / "templates"


def sample_log() -> Path:
    """The bundled sample observation log (`observations/sample.jsonl` in the repository)."""
    return _data_dir("samples", "observations") / "sample.jsonl"


def read_small_text(path: Path, max_bytes: int, error: type[ComplianceError]) -> str:
    """Read a UTF-8 data file no larger than `max_bytes`; too large or not UTF-8 raises `error`, unreadable StoreError."""
    try:
        if path.stat().st_size > max_bytes:
            raise error(f"larger than {max_bytes:,} bytes", str(path))
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error("not UTF-8 text", str(path)) from None
    except OSError as failure:
        raise StoreError(f"cannot read: {failure.strerror or failure}", str(path)) from None
