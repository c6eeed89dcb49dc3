"""`observe import` of JSON Lines: a byte-order mark, re-imports of lines with an external_id, restores."""

from __future__ import annotations

import json

from safety_cli import run


LINE = {"kind": "ceasefire.breach", "date": "2021-07-13", "actor": "AZ", "source": "Armenian MoD", "source_party": "AM"}


def test_a_file_starting_with_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(LINE).encode() + b"\n" + json.dumps(LINE).encode() + b"\n")
    store = str(tmp_path / "log.db")
    result = run("observe", "import", str(path), "--store", store)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2\n"
    piped = run("observe", "import", "-", "--store", store, input=path.read_bytes())
    assert piped.exit_code == 0 and piped.stdout == "2\n"


def test_a_byte_order_mark_later_in_the_file_is_still_refused(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(json.dumps(LINE).encode() + b"\n\xef\xbb\xbf" + json.dumps(LINE).encode() + b"\n")
    result = run("observe", "import", str(path), "--store", str(tmp_path / "log.db"))
    assert result.exit_code == 2 and result.stderr.startswith(f"compliance: error: {path}:2: not valid JSON")


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def keyed(external_id: str, **changes) -> dict:
    return {**LINE, "external_id": external_id, **changes}


def write(path, lines) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def live(store: str) -> list[dict]:
    records = [json.loads(line) for line in run("observe", "list", "--format", "jsonl", "--store", store).stdout.splitlines()]
    return sorted(records, key=lambda r: r.get("external_id", ""))


def test_reimporting_lines_with_an_external_id_skips_them(tmp_path):
    path, store = tmp_path / "feed.jsonl", str(tmp_path / "log.db")
    write(path, [keyed("feed:1"), keyed("feed:2", date="2021-07-14"), {**LINE, "date": "2021-07-15"}])
    first = run("observe", "import", str(path), "--store", store)
    assert (first.stdout, first.stderr) == ("3\n", "imported 3\n")
    again = run("observe", "import", str(path), "--store", store)
    assert again.exit_code == 0
    assert again.stdout == "1\n"  # the line without an external_id is a new observation each time
    assert again.stderr == "imported 1; skipped 2 already in the log unchanged\n"
    assert [r.get("external_id") for r in live(store)].count("feed:1") == 1


def test_a_changed_line_becomes_a_correction(tmp_path):
    path, store = tmp_path / "feed.jsonl", str(tmp_path / "log.db")
    write(path, [keyed("feed:1"), keyed("feed:2", date="2021-07-14")])
    run("observe", "import", str(path), "--store", store)
    write(path, [keyed("feed:1", place="near Sotk"), keyed("feed:2", date="2021-07-14"), keyed("feed:3")])
    result = run("observe", "import", str(path), "--store", store)
    assert result.exit_code == 0, result.stderr
    assert (result.stdout, result.stderr) == ("2\n", "imported 2 (1 new, 1 correction); skipped 1 already in the log "
                                                     "unchanged\n")
    now = live(store)
    assert [r["external_id"] for r in now] == ["feed:1", "feed:2", "feed:3"]
    assert now[0]["supersedes"] == "1" and now[0]["place"] == "near Sotk"


def test_a_monitors_own_correction_or_retraction_is_not_undone(tmp_path):
    path, store = tmp_path / "feed.jsonl", str(tmp_path / "log.db")
    write(path, [keyed("feed:1"), keyed("feed:2")])
    run("observe", "import", str(path), "--store", store)
    run("observe", "correct", "1", "--place", "checked on the spot", "--store", store)
    run("observe", "retract", "2", "--reason", "not our area", "--store", store)
    result = run("observe", "import", str(path), "--store", store)
    assert (result.stdout, result.stderr) == ("0\n", "imported 0; skipped 2 already in the log unchanged\n")
    write(path, [keyed("feed:1"), keyed("feed:2", notes="updated upstream")])
    result = run("observe", "import", str(path), "--store", store)
    assert (result.stdout, result.stderr) == ("0\n", "imported 0; skipped 1 already in the log unchanged; skipped 1 "
                                                     "retracted in the log\n")


def test_one_external_id_twice_in_a_file(tmp_path):
    path, store = tmp_path / "feed.jsonl", tmp_path / "log.db"
    write(path, [keyed("feed:1"), keyed("feed:1")])
    result = run("observe", "import", str(path), "--store", str(store))
    assert (result.stdout, result.stderr) == ("1\n", "imported 1; skipped 1 already in the log unchanged\n")
    write(path, [keyed("feed:9"), keyed("feed:9", place="elsewhere")])
    result = run("observe", "import", str(path), "--store", str(store))
    assert result.exit_code == 2
    assert result.stderr == (f"compliance: error: {path}:2: external_id feed:9 is also on line 1 with different "
                             "content; a file holds each event once\n")


def test_acled_reports_logged_events_missing_from_a_newer_export(tmp_path):
    store = str(tmp_path / "log.db")
    run("observe", "import", "--format", "acled", str(FIXTURES / "acled_sample.csv"), "--store", store)
    before = {r["external_id"] for r in live(store)}
    result = run("observe", "import", "--format", "acled", str(FIXTURES / "acled_update.csv"), "--store", store)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.rstrip("\n").endswith(
        "; 7 logged events not in this export, kept in the log: acled:ARM90001, acled:ARM90002, acled:AZE90002, "
        "acled:AZE90005, acled:AZE90006, acled:AZE90007, acled:AZE90008")
    assert before <= {r["external_id"] for r in live(store)}  # kept
