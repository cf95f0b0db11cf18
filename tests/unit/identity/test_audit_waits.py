"""``answer_after_audit`` and ``wait_or_defer``: a handler's audit waits, deferred to its answer."""

from __future__ import annotations

import threading

import pytest

from netfin.identity.service import answer_after_audit, wait_or_defer


class _Entry:
    """Stands in for an AuditReceipt: records when it was waited for, and may fail."""

    def __init__(self, log: list[str], name: str, error: Exception | None = None) -> None:
        self.log, self.name, self.error = log, name, error

    def wait(self) -> object:
        self.log.append(f"wait {self.name}")
        if self.error is not None:
            raise self.error
        return self.name


def test_outside_a_block_the_entry_is_waited_for_at_once() -> None:
    log: list[str] = []
    wait_or_defer(_Entry(log, "a"))
    log.append("after")
    assert log == ["wait a", "after"]


def test_inside_a_block_every_entry_is_waited_for_when_it_ends() -> None:
    log: list[str] = []
    with answer_after_audit():
        wait_or_defer(_Entry(log, "a"))
        log.append("other writes")
        wait_or_defer(_Entry(log, "b"))
        log.append("last write")
    log.append("answer")
    assert log == ["other writes", "last write", "wait a", "wait b", "answer"]


def test_a_block_that_raises_still_waits_and_raises_its_own_error() -> None:
    log: list[str] = []
    with pytest.raises(KeyError), answer_after_audit():
        wait_or_defer(_Entry(log, "a", RuntimeError("audit down")))
        wait_or_defer(_Entry(log, "b"))
        raise KeyError("refused")
    assert log == ["wait a", "wait b"]


def test_a_failed_entry_fails_the_block_after_every_entry_was_waited_for() -> None:
    log: list[str] = []
    with pytest.raises(RuntimeError, match="first"), answer_after_audit():
        wait_or_defer(_Entry(log, "a", RuntimeError("first")))
        wait_or_defer(_Entry(log, "b", RuntimeError("second")))
        wait_or_defer(_Entry(log, "c"))
    assert log == ["wait a", "wait b", "wait c"]
    # The block is over: the next entry is waited for at once again.
    wait_or_defer(_Entry(log, "d"))
    assert log[-1] == "wait d"


def test_a_block_defers_only_its_own_threads_entries() -> None:
    log: list[str] = []
    other_thread_done = threading.Event()

    def elsewhere() -> None:
        wait_or_defer(_Entry(log, "other thread"))
        other_thread_done.set()

    with answer_after_audit():
        wait_or_defer(_Entry(log, "mine"))
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert other_thread_done.is_set()
        assert log == ["wait other thread"]  # not deferred into this block
    assert log == ["wait other thread", "wait mine"]
