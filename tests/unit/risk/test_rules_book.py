"""Hot reload: a changed file is picked up, a broken one never replaces a working set."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from netfin.core.clock import ManualClock
from netfin.risk.rules import Action, RuleBook, RuleSet, RuleSetInvalid, evaluate, parse_ruleset

NS_PER_MS = 1_000_000


def ruleset_text(version: str, action: str = "review") -> str:
    return (
        f'name: t\nversion: "{version}"\nrules:\n'
        "  - code: big\n    description: Big.\n    description_zh: 大额。\n"
        f"    when: amount_minor >= 1000\n    action: {action}\n"
    )


BROKEN = 'name: t\nversion: "3"\nrules:\n  - code: big\n    when: amount_minor >\n'


class Files:
    """Writes the rule file with a strictly increasing mtime, so tests do not depend on timer granularity."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mtime_ns = 1_700_000_000 * 1_000_000_000

    def write(self, text: str) -> None:
        self.path.write_text(text)
        self.mtime_ns += 1_000_000_000
        os.utime(self.path, ns=(self.mtime_ns, self.mtime_ns))


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path / "rules.yaml")


def test_a_change_is_seen_only_after_the_interval(files: Files) -> None:
    files.write(ruleset_text("1"))
    clock = ManualClock()
    book = RuleBook(files.path, check_interval_ms=500, clock=clock)
    assert book.current().version == "1"
    files.write(ruleset_text("2"))
    clock.advance(ns=499 * NS_PER_MS)
    assert book.current().version == "1"
    clock.advance(ns=1 * NS_PER_MS)
    assert book.current().version == "2"
    assert book.last_error is None


def test_reload_hook_sees_old_and_new(files: Files) -> None:
    files.write(ruleset_text("1"))
    seen: list[tuple[str, str]] = []
    book = RuleBook(files.path, on_reload=lambda old, new: seen.append((old.version, new.version)))
    files.write(ruleset_text("2"))
    assert book.reload().version == "2"
    assert seen == [("1", "2")]


def test_a_broken_file_leaves_the_old_set_and_records_the_error_once(files: Files) -> None:
    files.write(ruleset_text("1"))
    clock = ManualClock()
    errors: list[RuleSetInvalid] = []
    book = RuleBook(files.path, check_interval_ms=100, clock=clock, on_error=errors.append)
    first = book.current()
    files.write(BROKEN)
    for _ in range(3):
        clock.advance(ns=100 * NS_PER_MS)
        assert book.current() is first
    assert len(errors) == 1
    assert book.last_error is errors[0]
    assert errors[0].source == str(files.path)
    assert any("rule 'big' (rules[0])" in problem for problem in errors[0].problems)
    files.write(ruleset_text("4", action="decline"))
    clock.advance(ns=100 * NS_PER_MS)
    fixed = book.current()
    assert fixed.version == "4"
    assert book.last_error is None
    assert evaluate(fixed, {"amount_minor": 5_000}).action is Action.DECLINE


def test_reverting_to_the_text_in_force_clears_the_error(files: Files) -> None:
    files.write(ruleset_text("1"))
    book = RuleBook(files.path)
    in_force = book.current()
    files.write(BROKEN)
    book.reload()
    assert book.last_error is not None
    files.write(ruleset_text("1"))
    assert book.reload() is in_force
    assert book.last_error is None


def test_a_deleted_file_leaves_the_old_set(files: Files) -> None:
    files.write(ruleset_text("1"))
    book = RuleBook(files.path)
    files.path.unlink()
    assert book.reload().version == "1"
    assert book.last_error is not None
    assert "cannot be read" in book.last_error.problems[0]


def test_a_touch_without_a_change_keeps_the_same_object(files: Files) -> None:
    files.write(ruleset_text("1"))
    book = RuleBook(files.path)
    first = book.current()
    files.write(ruleset_text("1"))
    assert book.reload() is first


def test_a_book_cannot_start_from_a_broken_file(files: Files) -> None:
    files.write(BROKEN)
    with pytest.raises(RuleSetInvalid):
        RuleBook(files.path)


def test_concurrent_readers_always_see_a_whole_rule_set(files: Files) -> None:
    """Readers evaluate while the file flips between two versions; each outcome matches its own set."""
    files.write(ruleset_text("1", action="review"))
    book = RuleBook(files.path, check_interval_ms=0)
    expected = {
        parse_ruleset(ruleset_text("1", action="review").encode()).identity: Action.REVIEW,
        parse_ruleset(ruleset_text("2", action="decline").encode()).identity: Action.DECLINE,
    }
    problems: list[str] = []
    seen: set[str] = set()

    def read() -> None:
        for _ in range(300):
            ruleset: RuleSet = book.current()
            outcome = evaluate(ruleset, {"amount_minor": 5_000})
            seen.add(outcome.ruleset)
            if expected.get(outcome.ruleset) is not outcome.action:
                problems.append(f"{outcome.ruleset}: {outcome.action}")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    for turn in range(30):
        files.write(ruleset_text("2", action="decline") if turn % 2 == 0 else ruleset_text("1"))
        book.reload()
    for reader in readers:
        reader.join()
    assert problems == []
    assert seen <= set(expected)
    assert book.last_error is None
