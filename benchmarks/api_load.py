"""Closed-loop HTTP/1.1 load generator for ``benchmarks/api.py``, and a trivial server to calibrate it.

Run as its own process, so that the server under test and the load share the
machine the way a real client and server would (loopback only)::

    python benchmarks/api_load.py run PLAN.json > RESULT.json
    python benchmarks/api_load.py serve-trivial --port 8999    # the calibration target

A plan is JSON::

    {"host": "127.0.0.1", "port": 8000, "connections": 16,
     "mode": "duration" | "each", "warmup_s": 5, "duration_s": 15,
     "requests": [{"method": "GET", "path": "/...", "headers": {...}, "body": null}, ...],
     "record": false}

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

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.send_next()

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
        if self.waiting or exc is not None:
            self.run.connection_errors += 1
            if self.run.record and self.waiting:
                self.run.responses[self.index] = (0, "")
        self.run.closed()


async def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    run = _Run(plan)
    loop = asyncio.get_running_loop()
    connections = min(int(plan["connections"]), len(run.requests)) if plan["mode"] == "each" else int(
        plan["connections"]
    )
    now = time.perf_counter_ns()
    warmup_ns = int(float(plan.get("warmup_s", 0)) * 1e9) if plan["mode"] == "duration" else 0
    run.measure_from_ns = now + warmup_ns
    run.stop_at_ns = run.measure_from_ns + int(float(plan.get("duration_s", 0)) * 1e9)
    run.outstanding = connections
    cpu_marks: list[tuple[int, resource.struct_rusage]] = []

    async def mark_cpu_at_window_start() -> None:
        await asyncio.sleep(max(0.0, (run.measure_from_ns - time.perf_counter_ns()) / 1e9))
        cpu_marks.append((time.perf_counter_ns(), resource.getrusage(resource.RUSAGE_SELF)))

    marker = loop.create_task(mark_cpu_at_window_start())
    for _ in range(connections):
        await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(run), plan["host"], int(plan["port"])), CONNECT_TIMEOUT_S
        )
    await run.done
    await marker
    ended_usage = resource.getrusage(resource.RUSAGE_SELF)
    window_start, start_usage = cpu_marks[0]
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a plan (JSON file) and print the result as JSON")
    run.add_argument("plan")
    trivial = commands.add_parser("serve-trivial", help="serve a fixed response (calibration target)")
    trivial.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "serve-trivial":
        asyncio.run(serve_trivial(args.port))
        return 0
    with open(args.plan) as handle:
        plan = json.load(handle)
    gc.disable()  # collections would show up as generator-made latency spikes
    result = asyncio.run(run_plan(plan))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
