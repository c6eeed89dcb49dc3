"""Recording into a store: what the write commands do, for scripts too.

    from compliance import open_store
    from compliance.recording import add_observation, correct_observation, import_jsonl

    store = open_store("observations/observations.db", write=True)
    new_id = add_observation(store, {"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AM",
                                     "source": "Russian MoD"})          # source_party from the source registry
    correct_observation(store, new_id, {"date": "2021-07-12"})
    count, plan = import_jsonl(store, "observations.jsonl")

Every function validates against the agreements the store tracks, refuses an observation dated after today,
and appends all or nothing. `recorded_by` defaults to the `monitor` setting (COMPLIANCE_MONITOR, else the user
name); `registry` is a source registry or the monitor's registry file (default: `sources.user_registry_path`),
read only when a source's alignment is needed. An ACLED export is imported by `acled.import_acled`; an
amendment, ending or track record is one record: `store.append([amendment_record(...)])`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from .dates import today
from .errors import ComplianceError, StoreError
from .exchange import (ImportPlan, correction_record, observation_record, planning_reimport, refusing_future,
                       reject_future, retraction_record)
from .observation import attributes_from_text
from .records import NewRecord
from .sources import Registry, load_registry, user_registry_path

PROGRESS_MIN_BYTES = 400_000  # about 2,000 lines: smaller imports show no progress bar


def source_registry(store: Any, registry: Registry | str | Path | None = None) -> Registry:
    """The source registry: `registry` itself, or the bundled entries and the monitor's file (`registry` as a
    path; default: the `sources` setting, else `sources.yaml` beside the store)."""
    if isinstance(registry, Registry):
        return registry
    path = getattr(store, "path", None)
    return load_registry(user_registry_path(registry, str(path) if path is not None else None))


def _registered(store: Any, registry: Registry | str | Path | None, source: Any) -> str | None:
    """The registered alignment of `source`; None (the field stays missing) when no source is given."""
    if not isinstance(source, str) or not source.strip():
        return None
    return source_registry(store, registry).alignment(source)


def add_observation(store: Any, fields: dict[str, Any], *, attributes: Iterable[str] = (),
                    declared: Iterable[str] = (), registry: Registry | str | Path | None = None,
                    recorded_by: str | None = None) -> str:
    """Validate one observation (fields as in the exchange format; without `source_party`, the source
    registry's alignment of its source) and append it; its ID. `attributes` are `name=value` texts."""
    fields = {key: value for key, value in fields.items() if value is not None}
    if "source_party" not in fields:
        party = _registered(store, registry, fields.get("source"))
        if party is not None:
            fields["source_party"] = party
    attributes = list(attributes)
    if attributes:
        fields["attributes"] = attributes_from_text(attributes, fields.get("kind"), store.process)
    record = observation_record(fields, store.process, frozenset(declared))
    reject_future([record], today(store.process.tz))
    (new_id,) = store.append([record], recorded_by)
    return new_id


def correct_observation(store: Any, observation_id: str | int, changes: dict[str, Any], *,
                        attributes: Iterable[str] = (), declared: Iterable[str] = (),
                        registry: Registry | str | Path | None = None, recorded_by: str | None = None) -> str:
    """Append a corrected copy of an observation (the latest of its chain) that supersedes it; the new ID.

    `changes` are the fields that change (None: no change); a new `source` without `source_party` takes the
    source registry's alignment. `attributes` are `name=value` texts (`name=` drops one)."""
    from .errors import InputError

    changes = {key: value for key, value in changes.items() if value is not None}
    attributes = list(attributes)
    if not changes and not attributes:
        raise InputError("give at least one field to change (for example {date:2021-07-14})", param="changes",
                         mentions=("date",))
    if "source" in changes and "source_party" not in changes:
        party = _registered(store, registry, changes["source"])
        if party is not None:
            changes["source_party"] = party
    record = correction_record(store.get(observation_id), changes, store.process, frozenset(declared), attributes)
    if "date" in changes:
        reject_future([record], today(store.process.tz))
    (new_id,) = store.append([record], recorded_by)
    return new_id


def retract_observation(store: Any, observation_id: str | int, reason: str, *, recorded_by: str | None = None) -> str:
    """Append a retraction of an observation (the original stays in the log); the retraction's ID."""
    (new_id,) = store.append([retraction_record(observation_id, reason)], recorded_by)
    return new_id


def import_jsonl(store: Any, source: str | Path | BinaryIO, *, where: str | None = None,
                 declared: Iterable[str] = (), registry: Registry | str | Path | None = None,
                 recorded_by: str | None = None) -> tuple[int, ImportPlan]:
    """Import a JSON Lines file (a path, or a binary file such as standard input, named `where`) into the store,
    all lines or none; (how many records were stored, the re-import plan).

    The file is read in a second process as it is appended, in one transaction: a bad line, or one dated in the
    future, rolls it all back. Lines with an `external_id` already in the log are skipped, or become corrections.
    A line may leave out `source_party` when the source registry knows its source. Errors name `file:line`."""
    from .progress import tracked
    from .readahead import validated_records
    from .store.chain import ChainGuess, GuessedStream

    process = store.process
    if isinstance(source, (str, Path)):
        where = where or str(source)
        try:
            size: int | None = Path(source).stat().st_size
            open(source, "rb").close()  # noqa: SIM115 - readable: say so now, not from the reading process
        except OSError as error:
            raise StoreError(f"cannot read: {error.strerror or error}", where) from None
    else:
        where, size = where or getattr(source, "name", None) or "<stdin>", None
    loaded: list[Registry] = []

    def alignment(source_name: str) -> str:  # the registry is read only if a line leaves out source_party
        if not loaded:
            loaded.append(source_registry(store, registry))
        return loaded[0].alignment(source_name, give="source_party on the line")

    def open_lines() -> Iterator[bytes]:
        return _lines(open(source, "rb") if isinstance(source, (str, Path)) else source)  # noqa: SIM115

    plan = ImportPlan([], 0, 0, 0, 0)
    guess = ChainGuess()  # filled in by the store's writer before it reads the first record
    records = validated_records(open_lines, process, where, frozenset(declared), alignment,
                                lambda lines: refusing_future(lines, today(process.tz), where), guess)
    records = planning_reimport(records, store, where, plan)
    with tracked(records, None if size is None or size >= PROGRESS_MIN_BYTES else 0, "importing",
                 min_total=1) as shown:
        count = append_located(store, GuessedStream(shown, guess), recorded_by, where)
    return count, plan


def append_located(store: Any, records: Iterable[NewRecord], recorded_by: str | None, where: str) -> int:
    """Append a stream of records read from the file `where`, all or none; how many. A record the store refuses
    is reported at that file's line."""
    try:
        return store.import_records(records, recorded_by)
    except ComplianceError as error:
        raise (error.at(where) if error.file is None and error.line is not None else error) from None


def _lines(source: Any) -> Iterator[bytes]:
    """The lines of a binary file as they are read (split at \\n, \\r\\n and \\r, as bytes.splitlines does)."""
    for raw in source:
        if b"\r" in raw:
            yield from raw.splitlines()
        else:
            yield raw[:-1] if raw.endswith(b"\n") else raw


__all__ = ["add_observation", "correct_observation", "retract_observation", "import_jsonl", "source_registry",
           "append_located", "PROGRESS_MIN_BYTES"]
