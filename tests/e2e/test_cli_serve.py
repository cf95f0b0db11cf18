"""`netfin serve --workers 2` as an operator runs it: a real process tree on a free port.

Regression check for the multi-worker listening socket: with uvicorn's own
socket (proto 0) asyncio leaves Nagle's algorithm on, and every keep-alive
request waits for the client's delayed ACK (~40 ms on Linux, every time). With
the socket ``netfin serve`` binds itself (proto IPPROTO_TCP) a request to the
JWKS endpoint takes about a millisecond. The check takes the median of 30
requests on one connection against a 20 ms line: half the delayed-ACK wait, and
many times a normal answer, so host noise cannot flip it either way.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from netfin.cli.platform import listening_socket

REQUESTS = 30
NAGLE_LINE_S = 0.020


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_listening_socket_is_tcp_so_accepted_connections_get_nodelay() -> None:
    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.get_inheritable()
    finally:
        sock.close()


def test_two_workers_answer_keep_alive_requests_without_the_delayed_ack_wait(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "NETFIN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "NETFIN_HOME": str(tmp_path / "home"),
    }
    netfin = Path(sys.executable).with_name("netfin")
    server = subprocess.Popen(
        [str(netfin), "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
            _wait_until_up(http, server)
            times = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                assert http.get("/oauth2/jwks").status_code == 200
                times.append(time.perf_counter() - started)
        assert statistics.median(times) < NAGLE_LINE_S, f"median {statistics.median(times) * 1000:.1f} ms"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()


def _wait_until_up(http: httpx.Client, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"netfin serve exited: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            if http.get("/oauth2/jwks").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("netfin serve did not answer within 60 s")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_a_failed_start_not_a_silent_exit(tmp_path: Path, workers: str) -> None:
    env = {
        **os.environ,
        "NETFIN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "NETFIN_HOME": str(tmp_path / "home"),
    }
    netfin = Path(sys.executable).with_name("netfin")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [str(netfin), "serve", "--workers", workers, "--port", port],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode != 0
    assert "address already in use" in result.stderr.lower() or "cannot listen" in result.stderr
