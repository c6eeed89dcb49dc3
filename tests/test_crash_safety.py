"""A large import killed with SIGKILL at any moment leaves all of it or none of it, and a log that verifies.

`compliance observe import` runs as a subprocess on a generated file. The store already holds a few
records and was closed cleanly, so its write-ahead log (`-wal`) only grows once the import is inside
its write transaction: the test waits for that, then kills the process after a different delay in
each trial. SQLite's recovery must then show the log exactly as before the import (or, if the kill
came after the commit, with every line of it), readable, writable and verifying.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compliance.clauses import load_agreement
from compliance.exchange import observation_record
from compliance.integrity import verify
from compliance.store import Store

if sys.platform == "win32":  # pragma: no cover
    pytest.skip("SIGKILL is POSIX", allow_module_level=True)

AGREEMENT = load_agreement("nov-10-2020")
CLI = [str(Path(sys.executable).with_name("compliance"))]
# big enough for a write transaction of about a second; COMPLIANCE_CRASH_LINES=100000 for a long run
LINES = int(os.environ.get("COMPLIANCE_CRASH_LINES", "12000"))
SEED = 3
# seconds after the -wal file starts growing (the import is writing inside its transaction)
KILL_DELAYS = (0.0, 0.15, 0.4)
WAL_STARTED = 64 * 1024


def _env() -> dict[str, str]:
    return {**os.environ, "COMPLIANCE_MONITOR": "tester"}


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n in range(LINES):
            out.write(json.dumps({"kind": "ceasefire.breach", "date": "2021-07-01T12:00:00", "actor": "AM",
                                  "subject": "conflict-zone", "source": "bulk source", "source_party": "AZ",
                                  "method": "heard", "notes": f"line {n} " + "lorem ipsum " * 80}) + "\n")
    return path


def _seeded_store(path: Path) -> Path:
    store = Store.open(path, AGREEMENT, write=True)
    store.append([observation_record({"kind": "ceasefire.breach", "date": "2021-07-01", "actor": "AZ",
                                      "source": f"seed {n}", "source_party": "AM"}, AGREEMENT) for n in range(SEED)],
                 recorded_by="seed")
    store.close()  # a clean close checkpoints and removes the -wal: from now on it grows only inside a write
    assert not Path(f"{path}-wal").exists()
    return path


def _state(path: Path) -> tuple[int, int]:
    """(records other than the track records a new store starts with, records from the bulk file), read through
    the library; verify must pass."""
    store = Store.open(path, AGREEMENT)
    try:
        report = verify(store)
        bulk = sum(1 for r in store.records() if r.body.get("source") == "bulk source")
        return report.records - report.by_type.get("track", 0), bulk
    finally:
        store.close()


def _import_and_kill(stores: list[Path], big_file: Path, delays: tuple[float, ...]) -> list[int | None]:
    """Start one import per store (in parallel, to bound the test's time); kill each `delay` seconds after its
    -wal starts growing, that is once it is writing inside its transaction. Return codes (-9 if killed)."""
    procs = [subprocess.Popen([*CLI, "--store", str(store), "observe", "import", str(big_file)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()) for store in stores]
    writing_since: list[float | None] = [None] * len(procs)
    deadline = time.monotonic() + 120
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        now = time.monotonic()
        for n, (proc, store) in enumerate(zip(procs, stores)):
            if proc.poll() is not None:
                continue
            wal = Path(f"{store}-wal")
            if writing_since[n] is None and wal.exists() and wal.stat().st_size > WAL_STARTED:
                writing_since[n] = now
            if writing_since[n] is not None and now - writing_since[n] >= delays[n]:
                proc.send_signal(signal.SIGKILL)
        time.sleep(0.002)
    for proc in procs:
        if proc.poll() is None:  # pragma: no cover - only on a hung import
            proc.kill()
        proc.communicate(timeout=60)
    return [proc.returncode for proc in procs]


def test_kill_inside_the_write_transaction_leaves_all_or_nothing(tmp_path: Path, big_file: Path) -> None:
    stores = [_seeded_store(tmp_path / f"log-{n}.db") for n in range(len(KILL_DELAYS))]
    codes = _import_and_kill(stores, big_file, KILL_DELAYS)
    outcomes = []
    for store, code, delay in zip(stores, codes, KILL_DELAYS):
        records, bulk = _state(store)  # readable and verifying after the crash
        assert (records, bulk) in ((SEED, 0), (SEED + LINES, LINES)), (delay, code, records, bulk)
        assert code in (0, -signal.SIGKILL), code
        outcomes.append((code, bulk))
        # the recovered store takes new writes and still verifies
        writer = Store.open(store, AGREEMENT, write=True)
        writer.append([observation_record({"kind": "ceasefire.breach", "date": "2021-07-02", "actor": "AM",
                                           "source": "after the crash", "source_party": "AZ"}, AGREEMENT)], "tester")
        writer.close()
        assert _state(store)[0] == records + 1
    check = subprocess.run([*CLI, "--store", str(stores[0]), "verify"], capture_output=True, text=True,
                           env=_env(), timeout=120)
    assert check.returncode == 0 and check.stdout.startswith("ok: "), check.stderr
    # killed while writing and nothing kept: the kills must have landed inside the transaction (else this
    # proved nothing); a partial import would have failed the first assertion above
    assert outcomes.count((-signal.SIGKILL, 0)) >= 1, outcomes


def test_a_bad_last_line_rolls_back_a_streamed_import(tmp_path: Path, big_file: Path) -> None:
    # an import is read and written as a stream, in one transaction: lines before a bad one are already in the
    # transaction (the -wal grows) when the bad one is read, and none of them is kept
    store = _seeded_store(tmp_path / "log.db")
    before = store.read_bytes()
    bad = tmp_path / "bad-at-the-end.jsonl"
    with big_file.open("rb") as good, bad.open("wb") as out:
        out.write(good.read())
        out.write(json.dumps({"kind": "ceasefire.breach", "date": "2021-07-01", "actor": "XX", "source": "s",
                              "source_party": "AZ"}).encode() + b"\n")
    result = subprocess.run([*CLI, "--store", str(store), "observe", "import", str(bad)], capture_output=True,
                            text=True, env=_env(), timeout=300)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"compliance: error: {bad}:{LINES + 1}: actor: unknown party code 'XX'"), result.stderr
    assert _state(store) == (SEED, 0)
    assert store.read_bytes() == before  # the database file itself was never touched (the transaction lived in -wal)


def test_kill_is_all_or_nothing_at_the_sqlite_level(tmp_path: Path) -> None:
    # the same, without the command line's start-up: a child appending 6,000 records in one transaction
    # (about 7 MB, far more than SQLite's page cache, so the -wal grows early in the transaction) is killed
    # once it has written part of them; the raw table holds none of them afterwards
    path = tmp_path / "log.db"
    Store.open(path, AGREEMENT, write=True).close()
    code = (
        "import sys\n"
        "from compliance.clauses import load_agreement\n"
        "from compliance.exchange import observation_record\n"
        "from compliance.store import Store\n"
        "a = load_agreement('nov-10-2020')\n"
        "r = [observation_record({'kind': 'ceasefire.breach', 'date': '2021-07-01', 'actor': 'AM',"
        " 'source': 's', 'source_party': 'AZ', 'notes': 'n' * 1000}, a) for _ in range(6000)]\n"
        "print('ready', flush=True)\n"
        "Store.open(sys.argv[1], a, write=True).append(r, 'child')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    wal = Path(f"{path}-wal")
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not (wal.exists() and wal.stat().st_size > 1_000_000):
        time.sleep(0.002)
    killed = proc.poll() is None
    proc.kill()
    proc.wait(timeout=60)
    db = sqlite3.connect(path)
    count = db.execute("SELECT count(*) FROM records WHERE type = 'observation'").fetchone()[0]
    db.close()
    assert killed, "the child finished its transaction before it was killed: the premise of this test did not happen"
    assert count == 0
    assert _state(path)[0] == count
