"""Reading an import in a second process: its lines are decoded, validated and prepared there (canonical body,
derived columns) while this process appends the records it has received, so that the two halves of an import
run on two cores. It stays one stream: records arrive in file order, a few thousand at a time, and the first
invalid line ends it with its error, which rolls the import back. A thread of this process takes the messages
off the pipe as they come, up to QUEUED_CHUNKS ahead (memory stays bounded), so the reader is not held up while
this process writes a batch to the store.

The second process starts when the first record is asked for: an append asks once it holds the chain lock, so
no line is read before the lock is taken. Where processes cannot be forked, the lines are read here.

"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
import threading
from typing import Any, Callable, Iterable, Iterator, NoReturn

from .errors import ComplianceError, StoreError
from .exchange import iter_jsonl
from .records import OBSERVATION, NewRecord

CHUNK = 2000  # records per message between the processes
QUEUED_CHUNKS = 8  # messages received ahead of the append (memory stays bounded: about 16,000 records)


Screen = Callable[[Iterator[NewRecord]], Iterator[NewRecord]]


def validated_records(open_lines: Callable[[], Iterable[bytes]], agreement: Any, where: str,
                      declared: frozenset[str] = frozenset(), source_party: Callable[[str], str] | None = None,
                      screen: Screen | None = None, guess: Any = None) -> Iterator[NewRecord]:
    """`exchange.iter_jsonl(open_lines(), ...)`, validated in a second process (see the module docstring), and passed
    through `screen` there (a further check of each record, such as refusing future dates) when given. With a
    `store.chain.ChainGuess` that the writer has filled in by the time the first record is asked for, the second
    process also hashes the plain observations ahead."""
    if not hasattr(os, "fork"):
        records = iter_jsonl(open_lines(), agreement, where, declared, source_party)
        yield from screen(records) if screen is not None else records
        return
    # os.fork itself, not multiprocessing's process, which would close standard input in the reader
    receiver, sender = multiprocessing.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the reader: it inherits the agreements, the registry and the open file
        receiver.close()
        _read(sender, open_lines, agreement, where, declared, source_party, screen, guess)
    sender.close()
    messages: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUED_CHUNKS)
    stop = threading.Event()
    threading.Thread(target=_receive, args=(receiver, messages, stop), daemon=True).start()
    try:
        while True:
            message = messages.get()
            if message is None:
                raise StoreError("the process reading the import stopped before the end of the file", where)
            kind, payload = pickle.loads(message)
            if kind == "records":
                for (record_type, body_json, columns, body, target, line, record_id, recorded_at, recorded_by,
                     recorded_as, digest, chained) in payload:
                    yield NewRecord(record_type, body, None, target, record_id, recorded_at, recorded_by, digest, line,
                                    recorded_as, body_json, columns, chained)
            elif kind == "error":
                raise payload
            elif kind == "failed":
                raise RuntimeError(payload)
            else:
                return
    finally:
        stop.set()
        try:
            os.kill(pid, signal.SIGKILL)  # (gone already, unless the import stopped early)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)  # the pipe's other end is closed now: the receiving thread's read ends


def _receive(receiver: Any, messages: "queue.Queue[bytes | None]", stop: threading.Event) -> None:
    """Take the reader's messages off the pipe as they come (None when it closes), so that it goes on
    validating while the importing process writes a batch, and close the pipe at the end."""
    try:
        while not stop.is_set():
            try:
                message: bytes | None = receiver.recv_bytes()
            except (EOFError, OSError):
                message = None
            while not stop.is_set():
                try:
                    messages.put(message, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if message is None:
                return
    finally:
        receiver.close()


def _read(sender: Any, open_lines: Callable[[], Iterable[bytes]], agreement: Any, where: str,
          declared: frozenset[str], source_party: Callable[[str], str] | None, screen: Screen | None,
          guess: Any) -> NoReturn:
    """The reader process: validate and prepare records, send them in chunks, then 'end' (or the error)."""
    from .store.chain import derived_values
    from .records import canonical_json

    try:
        chunk: list[tuple[Any, ...]] = []
        records = iter_jsonl(open_lines(), agreement, where, declared, source_party)
        if screen is not None:
            records = screen(records)
        if guess is not None:
            records = guess.chain(records)
        for record in records:
            observation = record.type == OBSERVATION
            chunk.append((record.type, record.body_json or canonical_json(record.body),
                          record.columns if record.columns is not None else derived_values(record),
                          # an observation's body only when a re-import is planned from it (its external_id)
                          record.body if not observation or "external_id" in record.body else {},
                          record.target, record.line, record.id,
                          record.recorded_at, record.recorded_by, record.recorded_as, record.hash, record.chained))
            if len(chunk) >= CHUNK:
                sender.send_bytes(pickle.dumps(("records", chunk), protocol=5))
                chunk = []
        if chunk:
            sender.send_bytes(pickle.dumps(("records", chunk), protocol=5))
        sender.send_bytes(pickle.dumps(("end", None), protocol=5))
    except ComplianceError as error:
        _send(sender, ("error", error))  # pickled whole: its location and mentions stay data
    except BaseException as error:  # a bug, reported by the importing process
        _send(sender, ("failed", f"{type(error).__name__}: {error}"))
    finally:
        sender.close()
        os._exit(0)  # no clean-up of what the importing process owns (its store connection, its files)


def _send(sender: Any, message: tuple[Any, ...]) -> None:
    try:
        sender.send_bytes(pickle.dumps(message, protocol=5))
    except OSError:  # the importing process is gone
        pass
