"""The transport, the codec, the audit and the process runner of the privacy protocols."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from netfin.core.errors import InvalidInput
from netfin.privacy import codec
from netfin.privacy.audit import MessageAudit, read_audit
from netfin.privacy.runner import PartyFailed, PartySpec, run_parties
from netfin.privacy.transport import Party, ProtocolError

HERE = Path(__file__).parent
ENV = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
TOKEN = "t" * 32


def test_codec_round_trips_arrays_bytes_big_ints_and_json() -> None:
    message = {
        "a": np.arange(6, dtype=np.int32).reshape(2, 3),
        "b": b"\x00\x01",
        "c": codec.BigInts([0, 1, 2**2048 - 1]),
        "d": {"x": [1, "y"]},
    }
    back = codec.loads(codec.dumps(message))
    assert back["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and back["a"].dtype == np.int32
    assert back["b"] == b"\x00\x01" and back["c"] == [0, 1, 2**2048 - 1] and back["d"] == {"x": [1, "y"]}


def test_codec_refuses_objects_and_garbage() -> None:
    with pytest.raises(InvalidInput):
        codec.dumps({"o": np.array([object()], dtype=object)})
    with pytest.raises(InvalidInput):
        codec.loads(b"pickle\x80\x04")
    good = codec.dumps({"a": np.zeros(4)})
    with pytest.raises(InvalidInput):
        codec.loads(good[:-8])  # truncated body


def _pair(tmp_path: Path) -> tuple[Party, Party]:
    a = Party("a", session="s1", token=TOKEN, audit=MessageAudit(tmp_path / "a.jsonl", "a"))
    b = Party("b", session="s1", token=TOKEN, audit=MessageAudit(tmp_path / "b.jsonl", "b"))
    a.connect({"b": b.url})
    b.connect({"a": a.url})
    return a, b


def test_messages_arrive_in_order_and_both_sides_audit_them(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    try:
        for i in range(3):
            a.send("b", "step", {"i": i})
        assert [b.recv("a", "step")["i"] for _ in range(3)] == [0, 1, 2]
    finally:
        a.close()
        b.close()
    sent = list(read_audit(tmp_path / "a.jsonl"))
    received = list(read_audit(tmp_path / "b.jsonl"))
    assert [m.seq for m in sent] == [1, 2, 3] and [m.direction for m in received] == ["received"] * 3
    assert [m.sha256 for m in sent] == [m.sha256 for m in received]


def test_a_stranger_or_a_wrong_token_is_refused(tmp_path: Path) -> None:
    a, b = _pair(tmp_path)
    mallory = Party("mallory", session="s1", token="x" * 32, audit=MessageAudit(tmp_path / "m.jsonl", "m"))
    try:
        mallory.connect({"b": b.url})
        with pytest.raises(ProtocolError, match="401"):
            mallory.send("b", "step", {"i": 1})
        with pytest.raises(InvalidInput):
            a.send("nobody", "step", {})
        with pytest.raises(ProtocolError):
            b.recv("a", "step", timeout_s=0.2)
    finally:
        for p in (a, b, mallory):
            p.close()


def test_run_parties_runs_one_process_per_party(tmp_path: Path) -> None:
    progress: list[tuple[str, object]] = []
    results = run_parties(
        [
            PartySpec("left", "privacy_echo:ping", {"values": [1, 2]}),
            PartySpec("right", "privacy_echo:ping", {"values": [3]}),
        ],
        audit_dir=tmp_path,
        timeout_s=60,
        env=ENV,
        on_progress=lambda name, fields: progress.append((name, fields)),
    )
    assert results == {"left": {"got": [3], "big": True}, "right": {"got": [1, 2], "big": True}}
    assert sorted(name for name, _ in progress) == ["left", "right"]
    assert {m.kind for m in read_audit(tmp_path / "left.jsonl")} == {"ping"}


def test_a_failing_party_fails_the_session(tmp_path: Path) -> None:
    with pytest.raises(PartyFailed, match="gives up"):
        run_parties(
            [
                PartySpec("left", "privacy_echo:ping", {"values": [1]}),
                PartySpec("right", "privacy_echo:fail"),
            ],
            audit_dir=tmp_path,
            timeout_s=60,
            env=ENV,
        )
