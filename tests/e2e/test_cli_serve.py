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
STOP_WITHIN_S = 30


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


def _start(
    tmp_path: Path, port: int, workers: str = "2", stack: tuple[str, ...] = ()
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "NETFIN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "NETFIN_HOME": str(tmp_path / "home"),
    }
    netfin = Path(sys.executable).with_name("netfin")
    with (tmp_path / "serve.log").open("wb") as log:  # a file, never an unread pipe that can fill
        return subprocess.Popen(
            [str(netfin), "serve", "--workers", workers, "--port", str(port), *stack],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )


def _stop(server: subprocess.Popen[bytes], tmp_path: Path, within_s: float) -> float:
    """SIGTERM to the whole process group, as a service manager stops it; seconds until it exited."""
    started = time.monotonic()
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        pytest.fail(f"netfin serve still ran {within_s} s after SIGTERM:\n{_log(tmp_path)}")
    return time.monotonic() - started


def _log(tmp_path: Path) -> str:
    return (tmp_path / "serve.log").read_text(errors="replace")[-4000:]


# The default stack (uvloop and httptools, installed with netfin) and the pure-Python one.
STACKS = {"uvloop+httptools": (), "asyncio+h11": ("--loop", "asyncio", "--http", "h11")}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_two_workers_answer_keep_alive_requests_without_the_delayed_ack_wait(
    tmp_path: Path, stack: str
) -> None:
    port = _free_port()
    server = _start(tmp_path, port, stack=STACKS[stack])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as http:
            _wait_until_up(http, server, tmp_path)
            times = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                assert http.get("/oauth2/jwks").status_code == 200
                times.append(time.perf_counter() - started)
        assert statistics.median(times) < NAGLE_LINE_S, f"median {statistics.median(times) * 1000:.1f} ms"
    finally:
        _stop(server, tmp_path, within_s=STOP_WITHIN_S)


def test_a_stop_while_workers_start_is_prompt_and_restarts_nothing(tmp_path: Path) -> None:
    """SIGTERM while the workers still import kills them; the supervisor must not wait out its
    60 s health check, take them for crashed and start new ones."""
    server = _start(tmp_path, _free_port())
    deadline = time.monotonic() + 60
    while "Started parent process" not in _log(tmp_path):
        assert server.poll() is None and time.monotonic() < deadline, _log(tmp_path)
        time.sleep(0.05)
    time.sleep(1.5)  # past the supervisor's first 0.5 s wait: it is now checking the starting workers
    _stop(server, tmp_path, within_s=STOP_WITHIN_S)
    assert "died" not in _log(tmp_path)


def _wait_until_up(http: httpx.Client, server: subprocess.Popen[bytes], tmp_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"netfin serve exited:\n{_log(tmp_path)}")
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
    assert result.returncode == 2  # refused before the bank or any worker was started
    assert "cannot listen" in result.stderr and "in use" in result.stderr


def test_an_unknown_http_stack_is_refused_before_anything_starts(tmp_path: Path) -> None:
    netfin = Path(sys.executable).with_name("netfin")
    env = {**os.environ, "NETFIN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    for option in (["--http", "h2"], ["--loop", "trio"]):
        result = subprocess.run(
            [str(netfin), "serve", "--port", str(_free_port()), *option],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 2
        assert "serve_option_invalid" in result.stderr
    assert not (tmp_path / "serve.db").exists()  # refused before the bank was opened
