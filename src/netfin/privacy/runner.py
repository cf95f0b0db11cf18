"""Start a session: one operating-system process per party, introduced to each other.

``run_parties`` starts ``python -m netfin.privacy.runner`` once per party. The
child reads its spec (name, the protocol function as ``module:function``, its
JSON arguments, the session, the token and the audit path) from stdin, opens
its ``Party`` on a free loopback port and prints ``{"ready": url}``; once all
are ready the parent sends every child the table of peers; the child runs the
protocol function ``fn(party, **kwargs)`` and prints ``{"result": ...}``.
Progress lines (``{"progress": ...}``) go to the parent's callback. The child's
stdout carries only these JSON lines; logs go to stderr.

A failing party fails the session: the parent stops the others and raises
``PartyFailed`` with the child's error and the tail of its stderr.
"""

from __future__ import annotations

import importlib
import os
import secrets
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from netfin.core.errors import InvalidInput, NetfinError
from netfin.core.ids import Uuid7Ids, format_id
from netfin.privacy import progress
from netfin.privacy.audit import MessageAudit, PayloadMode
from netfin.privacy.progress import report_progress
from netfin.privacy.transport import Party

__all__ = ["PartyFailed", "PartySpec", "report_progress", "run_parties"]

PARTIES_MAX = 16
STDERR_TAIL = 4000


class PartyFailed(NetfinError):
    code = "party_failed"


@dataclass(frozen=True)
class PartySpec:
    name: str
    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Child:
    spec: PartySpec
    process: subprocess.Popen[bytes]
    url: str | None = None
    result: Any = None
    done: bool = False
    buffer: bytes = b""


def run_parties(
    specs: Sequence[PartySpec],
    *,
    audit_dir: Path,
    timeout_s: float = 3600.0,
    payloads: PayloadMode = "full",
    on_progress: Callable[[str, Mapping[str, Any]], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run one protocol session; returns each party's result by name."""
    names = [s.name for s in specs]
    if not 2 <= len(specs) <= PARTIES_MAX or len(set(names)) != len(names):
        raise InvalidInput(f"a session needs 2 to {PARTIES_MAX} parties with distinct names, not {names}")
    session = format_id(Uuid7Ids().new_id())
    token = secrets.token_urlsafe(32)
    audit_dir.mkdir(parents=True, exist_ok=True)
    children = [_start(s, session, token, audit_dir / f"{s.name}.jsonl", payloads, env) for s in specs]
    deadline = time.monotonic() + timeout_s
    try:
        _pump(children, deadline, lambda: all(c.url for c in children), on_progress)
        peers = orjson.dumps({c.spec.name: c.url for c in children}) + b"\n"
        for child in children:
            _write(child, peers)
        _pump(children, deadline, lambda: all(c.done for c in children), on_progress)
        for child in children:
            child.process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.kill()
                child.process.wait()
            for pipe in (child.process.stdin, child.process.stdout, child.process.stderr):
                if pipe is not None:
                    pipe.close()
    return {c.spec.name: c.result for c in children}


def _start(
    spec: PartySpec, session: str, token: str, audit: Path, payloads: str, env: Mapping[str, str] | None
) -> _Child:
    process = subprocess.Popen(
        [sys.executable, "-m", "netfin.privacy.runner"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    child = _Child(spec=spec, process=process)
    line = {
        "name": spec.name,
        "target": spec.target,
        "kwargs": dict(spec.kwargs),
        "session": session,
        "token": token,
        "audit": str(audit),
        "payloads": payloads,
    }
    _write(child, orjson.dumps(line) + b"\n")
    return child


def _write(child: _Child, data: bytes) -> None:
    stdin = child.process.stdin
    if stdin is None:
        raise PartyFailed(f"party {child.spec.name} has no stdin")
    try:
        stdin.write(data)
        stdin.flush()
    except BrokenPipeError as exc:
        raise _failure(child, "exited before the session started") from exc


def _pump(
    children: list[_Child],
    deadline: float,
    finished: Callable[[], bool],
    on_progress: Callable[[str, Mapping[str, Any]], None] | None,
) -> None:
    selector = selectors.DefaultSelector()
    for child in children:
        if not child.done and child.process.stdout is not None:
            selector.register(child.process.stdout, selectors.EVENT_READ, child)
    try:
        while not finished():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PartyFailed("the session ran past its time limit")
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                child = key.data
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    if not child.done:
                        raise _failure(child, "exited without a result")
                    continue
                child.buffer += chunk
                _lines(child, on_progress)
    finally:
        selector.close()


def _lines(child: _Child, on_progress: Callable[[str, Mapping[str, Any]], None] | None) -> None:
    while b"\n" in child.buffer:
        raw, child.buffer = child.buffer.split(b"\n", 1)
        message = orjson.loads(raw)
        if "ready" in message:
            child.url = message["ready"]
        elif "progress" in message:
            if on_progress is not None:
                on_progress(child.spec.name, message["progress"])
        elif "result" in message:
            child.result, child.done = message["result"], True
        elif "error" in message:
            raise _failure(child, f"{message['error']['type']}: {message['error']['message']}")


def _failure(child: _Child, what: str) -> PartyFailed:
    if child.process.poll() is None:
        child.process.kill()
    child.process.wait()
    stderr = child.process.stderr.read().decode("utf-8", "replace") if child.process.stderr else ""
    tail = stderr[-STDERR_TAIL:].strip()
    return PartyFailed(f"party {child.spec.name} {what}" + (f"\n{tail}" if tail else ""))


def _child_main() -> int:
    # Nothing but protocol lines on the real stdout: the channel gets a descriptor of its own and
    # descriptor 1 (where native libraries print) goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    progress.attach(out)
    spec = orjson.loads(sys.stdin.buffer.readline())
    audit = MessageAudit(Path(spec["audit"]), spec["name"], payloads=spec["payloads"])
    party = Party(spec["name"], session=spec["session"], token=spec["token"], audit=audit)
    try:
        out.write(orjson.dumps({"ready": party.url}) + b"\n")
        out.flush()
        party.connect(orjson.loads(sys.stdin.buffer.readline()))
        module_name, _, function_name = spec["target"].partition(":")
        function = getattr(importlib.import_module(module_name), function_name)
        result = function(party, **spec["kwargs"])
        out.write(orjson.dumps({"result": result}, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
        out.flush()
    except Exception as exc:
        out.write(orjson.dumps({"error": {"type": type(exc).__name__, "message": str(exc)}}) + b"\n")
        out.flush()
        raise
    finally:
        party.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
