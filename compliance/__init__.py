"""compliance: agreement-compliance tracking (clauses as data, an append-only log, a rules engine, reports).

The library API, for scripts and notebooks (names are imported lazily to keep the CLI fast):

    from compliance import open_store
    from compliance.check import check
    from compliance.whatif import whatif

    result = check(open_store("sample"), as_of=datetime.date(2021, 9, 30))
    result.verdict_of("P3-personnel-cap")

Writing: `compliance.recording` (add, correct, retract an observation; import a JSON Lines file),
`compliance.acled.import_acled`. Defaults (the store, the agreements, who records, today, the source
registry) come from `compliance.settings`: the `COMPLIANCE_*` environment variables.

`check` and `whatif` are imported from their modules: a package attribute of the same name as a
submodule would be replaced by the module on import.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_agreement": "compliance.clauses",
    "Agreement": "compliance.agreement",
    "Store": "compliance.store",
    "snapshot": "compliance.check",
    "evaluate_snapshot": "compliance.check",
    "CheckResult": "compliance.verdicts",
    "ObligationResult": "compliance.verdicts",
    "Verdict": "compliance.verdicts",
    "ComplianceError": "compliance.errors",
    "Scenario": "compliance.scenario",
    "WhatIfResult": "compliance.whatif",
    "write_reports": "compliance.report",
    "verify": "compliance.integrity",
    "Settings": "compliance.settings",
}


def open_store(location: Any = None, agreements: Any = None, *, write: bool = False):
    """Open a store by path, PostgreSQL URL or 'sample' (default: the `store` setting, COMPLIANCE_STORE, else
    observations/observations.db). A new store tracks `agreements` (an ID, a clause-file path, an Agreement, or
    a list of them; default: the `agreement` setting, else the bundled process); an existing store tracks what
    its log says."""
    from .store import Store

    if isinstance(agreements, (str, bytes)) or hasattr(agreements, "__fspath__"):
        agreements = [agreements]
    return Store.open(location, agreements, write=write)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'compliance' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = ["open_store", *_EXPORTS]
