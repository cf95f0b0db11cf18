"""Closed-loop HTTP/1.1 load generator for ``benchmarks/api.py``, and a trivial server to calibrate it.

Run as its own process, so that the server under test and the load share the
machine the way a real client and server would (loopback only)::

    python benchmarks/api_load.py run PLAN.json [--out RESULT.json]   # else to stdout
    python benchmarks/api_load.py serve-trivial --port 8999    # the calibration target

A plan is JSON::

    {"host": "127.0.0.1", "port": 8000, "connections": 16,
     "mode": "duration" | "each", "warmup_s": 5, "duration_s": 15,
     "requests": [{"method": "GET", "path": "/...", "headers": {...}, "body": null}, ...],
     "record": false, "timeout_s": 120, "signal": false, "handshake": false}

``timeout_s`` bounds the run (unanswered requests are then reported, not
waited for). With ``signal`` the generator writes ``window-start`` and
``window-end`` lines on stderr, so that the caller can sample the server's
CPU over exactly the measured window. With ``handshake`` it writes
``connected PORT,PORT,...`` once its connections are open and waits for
``go`` or ``reconnect [PORTS]`` on stdin (see ``settle_connections``).

``connections`` keep-alive connections each send one request, wait for the
whole response, then send the next (a closed loop). In ``duration`` mode they
cycle through ``requests`` for ``warmup_s`` (not measured) and then for
``duration_s``; in ``each`` mode every request is sent exactly once and the
run ends when the last answer arrives (``record`` keeps each response's
status and body, in plan order).

Latency is taken per request from just before the write to the last byte of
the response (``perf_counter_ns``), in one asyncio event loop with the
Protocol API (no streams, no HTTP library) and the cyclic GC off, so the
generator spends a few microseconds of CPU per request; its own CPU time is
reported so that it can be subtracted from the shared two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Any

CONNECT_TIMEOUT_S = 10.0
# A response head larger than this is treated as a broken response.
HEAD_BYTES_MAX = 65_536
TRIVIAL_BODY = b'{"ok":true}'


def percentile_ms(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of sorted nanosecond samples, in ms."""
    if not sorted_ns:
        return float("nan")
    rank = max(1, min(len(sorted_ns), -(-len(sorted_ns) * q // 100)))
    return sorted_ns[int(rank) - 1] / 1e6


def encode_request(host: str, port: int, spec: dict[str, Any]) -> bytes:
    body = spec.get("body")
    payload = b"" if body is None else body.encode()
    lines = [f"{spec['method']} {spec['path']} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in (spec.get("headers") or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class _Run:
    """Shared state of one run: what to send next, and what came back."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.requests = [encode_request(plan["host"], plan["port"], r) for r in plan["requests"]]
        self.mode = plan["mode"]
        self.record = bool(plan.get("record", False))
        self.next_index = 0
        self.outstanding = 0
        self.measure_from_ns = 0
        self.stop_at_ns = 0
        self.latencies = array("q")
        self.statuses: dict[int, int] = {}
        self.in_window = 0
        self.window_end_ns = 0
        self.connection_errors = 0
        self.responses: list[tuple[int, str] | None] = [None] * len(self.requests) if self.record else []
        self.done = asyncio.get_running_loop().create_future()
        self.timed_out = False

    def take(self) -> int | None:
        """The index of the next request to send, or None when this connection should stop."""
        now = time.perf_counter_ns()
        if self.mode == "each":
            if self.next_index >= len(self.requests):
                return None
            index = self.next_index
            self.next_index += 1
            return index
        if now >= self.stop_at_ns:
            return None
        index = self.next_index % len(self.requests)
        self.next_index += 1
        return index

    def finish(self, index: int, started_ns: int, status: int, body: bytes) -> None:
        ended = time.perf_counter_ns()
        if started_ns >= self.measure_from_ns:
            self.latencies.append(ended - started_ns)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if ended <= self.stop_at_ns or self.mode == "each":
                self.in_window += 1
                self.window_end_ns = max(self.window_end_ns, ended)
        if self.record:
            self.responses[index] = (status, body.decode("utf-8", "replace"))

    def closed(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0 and not self.done.done():
            self.done.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection that sends a request, reads its answer, and repeats."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.index = -1
        self.started_ns = 0
        self.head_end = -1
        self.need = -1
        self.status = 0
        self.waiting = False
        self.retired = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Sending starts when every connection is open (``run_plan``).
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send_next(self) -> None:
        assert self.transport is not None
        index = self.run.take()
        if index is None:
            self.transport.close()
            return
        self.index = index
        self.waiting = True
        self.started_ns = time.perf_counter_ns()
        self.transport.write(self.run.requests[index])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.head_end < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > HEAD_BYTES_MAX:
                    self.fail()
                return
            self.head_end = end + 4
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            marker = head.find(b"\r\ncontent-length:")
            if marker < 0:
                self.fail()  # the servers measured here always send Content-Length
                return
            value_end = head.find(b"\r\n", marker + 2)
            self.need = self.head_end + int(head[marker + 17 : value_end if value_end > 0 else len(head)])
        if len(self.buffer) >= self.need:
            body = bytes(self.buffer[self.head_end : self.need])
            del self.buffer[: self.need]
            self.waiting = False
            self.head_end = -1
            self.run.finish(self.index, self.started_ns, self.status, body)
            self.send_next()

    def fail(self) -> None:
        assert self.transport is not None
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.retired:
            return  # closed before the run began, to be replaced (see settle_connections)
        if self.waiting or exc is not None:
            self.run.connection_errors += 1
            if self.run.record and self.waiting:
                self.run.responses[self.index] = (0, "")
        self.run.closed()


async def open_connections(run: _Run, plan: dict[str, Any], count: int) -> list[_Connection]:
    loop = asyncio.get_running_loop()
    opened = []
    for _ in range(count):
        _, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(run), plan["host"], int(plan["port"])),
            CONNECT_TIMEOUT_S,
        )
        opened.append(protocol)
    return opened


async def settle_connections(run: _Run, plan: dict[str, Any], count: int) -> list[_Connection]:
    """Open the connections; with ``handshake``, reopen some or all of them while the
    orchestrator answers ``reconnect [PORTS]`` on stdin (it reads which server worker
    accepted each one), until it answers ``go``.

    Worker processes share one listening socket, so which one accepts a
    keep-alive connection is a race; this lets a run spread its connections
    evenly, as a load balancer in front of the workers would.
    """
    connections = await open_connections(run, plan, count)
    if not plan.get("handshake"):
        return connections
    loop = asyncio.get_running_loop()
    while True:
        ports = [c.transport.get_extra_info("sockname")[1] for c in connections if c.transport]
        sys.stderr.write("connected " + ",".join(map(str, ports)) + "\n")
        sys.stderr.flush()
        answer = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not answer or answer[0] != "reconnect":
            return connections
        # "reconnect P1,P2,..." reopens the connections from those local ports.
        moved = {int(p) for p in answer[1].split(",")} if len(answer) > 1 else None
        kept = []
        for connection in connections:
            port = connection.transport.get_extra_info("sockname")[1] if connection.transport else None
            if moved is None or port in moved:
                connection.retired = True
                if connection.transport is not None:
                    connection.transport.close()
            else:
                kept.append(connection)
        connections = kept + await open_connections(run, plan, count - len(kept))


async def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    run = _Run(plan)
    loop = asyncio.get_running_loop()
    connections = (
        min(int(plan["connections"]), len(run.requests))
        if plan["mode"] == "each"
        else int(plan["connections"])
    )
    run.outstanding = connections
    opened = await settle_connections(run, plan, connections)
    now = time.perf_counter_ns()
    warmup_ns = int(float(plan.get("warmup_s", 0)) * 1e9) if plan["mode"] == "duration" else 0
    run.measure_from_ns = now + warmup_ns
    run.stop_at_ns = run.measure_from_ns + int(float(plan.get("duration_s", 0)) * 1e9)
    cpu_marks: list[tuple[int, resource.struct_rusage]] = []
    signal = bool(plan.get("signal", False))

    def say(line: str) -> None:
        # The orchestrator samples the server's CPU between these two lines.
        if signal:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    async def mark_window() -> None:
        await asyncio.sleep(max(0.0, (run.measure_from_ns - time.perf_counter_ns()) / 1e9))
        cpu_marks.append((time.perf_counter_ns(), resource.getrusage(resource.RUSAGE_SELF)))
        say("window-start")
        if run.mode == "duration":
            await asyncio.sleep(max(0.0, (run.stop_at_ns - time.perf_counter_ns()) / 1e9))
            say("window-end")

    marker = loop.create_task(mark_window())
    await asyncio.sleep(0)
    for connection in opened:
        connection.send_next()
    deadline_s = float(plan.get("timeout_s", 0)) or None
    try:
        await asyncio.wait_for(asyncio.shield(run.done), deadline_s)
    except TimeoutError:
        # A server that stops answering must not hang the benchmark: what is still
        # outstanding counts as failed (status 0), and the report says so.
        run.timed_out = True
    marker.cancel()
    if run.mode == "each":
        say("window-end")
    ended_usage = resource.getrusage(resource.RUSAGE_SELF)
    window_start, start_usage = cpu_marks[0] if cpu_marks else (time.perf_counter_ns(), ended_usage)
    window_end = run.window_end_ns if run.mode == "each" else run.stop_at_ns
    return summarise(run, window_start, window_end, start_usage, ended_usage, connections)


def summarise(
    run: _Run,
    window_start_ns: int,
    window_end_ns: int,
    start: resource.struct_rusage,
    end: resource.struct_rusage,
    connections: int,
) -> dict[str, Any]:
    elapsed = max(window_end_ns - window_start_ns, 1) / 1e9
    ordered = sorted(run.latencies)
    cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    total = len(ordered)
    non_2xx = sum(n for status, n in run.statuses.items() if not 200 <= status < 300)
    return {
        "connections": connections,
        "completed": total,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(run.in_window / elapsed, 1),
        "status_counts": {str(k): v for k, v in sorted(run.statuses.items())},
        "non_2xx": non_2xx,
        "connection_errors": run.connection_errors,
        "timed_out": run.timed_out,
        "unanswered": unanswered(run),
        "latency_ms": {
            "p50": percentile_ms(ordered, 50),
            "p90": percentile_ms(ordered, 90),
            "p99": percentile_ms(ordered, 99),
            "p999": percentile_ms(ordered, 99.9),
            "max": ordered[-1] / 1e6 if ordered else float("nan"),
            "mean": sum(ordered) / total / 1e6 if total else float("nan"),
        },
        "generator_cpu_s": round(cpu, 3),
        "generator_cpu_pct": round(100 * cpu / elapsed, 1),
        "generator_cpu_us_per_request": round(1e6 * cpu / total, 1) if total else None,
        "responses": run.responses if run.record else None,
    }


def unanswered(run: _Run) -> int:
    """Requests a timed-out run never got an answer to (in duration mode: the connections left waiting)."""
    if not run.timed_out:
        return 0
    if run.mode == "each":
        return len(run.requests) - len(run.latencies)
    return run.outstanding


class _TrivialServer(asyncio.Protocol):
    """Answers every request with one fixed small JSON response (keep-alive)."""

    response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
        + str(len(TRIVIAL_BODY)).encode()
        + b"\r\n\r\n"
        + TRIVIAL_BODY
    )

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            marker = head.find(b"\r\ncontent-length:")
            length = 0
            if marker >= 0:
                value_end = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17 : value_end if value_end > 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.transport.write(self.response)


async def serve_trivial(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_TrivialServer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a plan (JSON file) and print the result as JSON")
    run.add_argument("plan")
    run.add_argument("--out", default=None, help="write the result here instead of to stdout")
    trivial = commands.add_parser("serve-trivial", help="serve a fixed response (calibration target)")
    trivial.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "serve-trivial":
        asyncio.run(serve_trivial(args.port))  # runs until the orchestrator terminates it
        return 0
    with open(args.plan) as handle:
        plan = json.load(handle)
    gc.disable()  # collections would show up as generator-made latency spikes
    result = asyncio.run(run_plan(plan))
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle)
    else:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
