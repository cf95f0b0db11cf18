"""Open banking API benchmark: requests per second and latency over real HTTP.

Measures ``netfin serve`` (the production entry point,
``netfin.api.server:application``, behind netfin's own listening socket and
supervisor) on PostgreSQL (the target) and SQLite (the embedded default,
secondary), as server variants (``--servers``): ``N``, ``netfin serve
--workers N`` as shipped; ``N+uvicorn``, plain ``python -m uvicorn --workers N``
on the same factory (uvicorn's multi-worker listening socket leaves Nagle's
algorithm on, ~40 ms per keep-alive request: the defect ``netfin serve``
fixed); ``N+nodelay``, plain uvicorn with TCP_NODELAY forced on accepted
connections (``nodelay_application``, ``force_tcp_nodelay``). The cells:

* ``GET /open-banking/v4.0/aisp/accounts/{AccountId}/balances`` with an AIS
  consent-bound access token (token verification, consent check, account and
  ledger lookups, audit entry), closed loop at several connection counts;
* ``POST /open-banking/v4.0/pisp/domestic-payments`` end to end (idempotency
  claim, request signature, consent check and consumption, ledger transfer,
  outbox event, audit, signed response), each payment with its own
  customer-authorised consent and consent-bound token, prepared beforehand
  over HTTP and not measured; afterwards every payment is checked to be ACSC,
  every order and outbox event is counted in the database, and the balances
  must have moved by exactly N x amount;
* ``GET /oauth2/jwks`` as the floor of the stack (uvicorn, the guards
  middleware, FastAPI's threadpool and JSON; no database);
* the load generator itself against a trivial asyncio server (its ceiling
  and its CPU cost per request).

The load comes from ``benchmarks/api_load.py`` in its own process on
loopback. With several workers its connections are reopened until they are
spread evenly over the worker processes (which one accepts a connection is a
race on the shared listening socket). With ``--wrk`` the generator is also
calibrated with ``wrk`` and the single-worker balances cells are repeated
with it (Debian package ``wrk``; the run stops with a clear message when it
is missing). For every cell the CPU of the server processes, PostgreSQL
(exited backends included), the generator and everything else is recorded,
and on PostgreSQL the number of new sessions. Run from the repository root::

    .venv/bin/python benchmarks/api.py --stores postgresql --wrk    # the target (~25 min)
    .venv/bin/python benchmarks/api.py --quick                      # smoke run (~4 min)
    .venv/bin/python benchmarks/api.py --out benchmarks/results/api.md   # also writes api.json
    .venv/bin/python benchmarks/api.py --profile balances --sampler # where a request's time goes

Rate limits are raised for the run (``NETFIN_RATE_LIMITS``, in-process
buckets, ``NETFIN_REDIS_URL`` unset) so that they never refuse a request;
every non-2xx answer is counted and reported as an error.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import hashlib
import importlib
import json
import os
import platform
import pstats
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "benchmarks" / "api_load.py"
RESULTS = ROOT / "benchmarks" / "results"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
APP_DEFAULT = "netfin.api.server:application"
SERVE_APP = "netfin serve"  # not a factory: run_server starts the CLI itself
SERVE_H11_APP = "netfin serve --http h11 --loop asyncio"  # the pure-Python HTTP stack
NODELAY_APP = "api:nodelay_application"
PROFILED_APP = "api:profiled_application"
WHATIF_APP = "api:whatif_application"
WHATIF_ENV = "NETFIN_BENCH_WHATIF"
SAMPLER_ENV = "NETFIN_BENCH_SAMPLER"
LOOP_PROFILE_ENV = "NETFIN_BENCH_LOOP_PROFILE"
RATE_LIMITS = "tpp_client=1000000:1000000,customer=1000000:1000000"
OB = "/open-banking/v4.0"
CURRENCY = "GBP"
PAYMENT_AMOUNT = "1.00"
PAYMENT_AMOUNT_MINOR = 100
# Access tokens live 300 s: the prepared payment tokens must all still be valid when fired.
ACCESS_TOKEN_LIFETIME_S = 300
PREPARE_BUDGET_S = 200
SERVER_START_TIMEOUT_S = 60
NOISY_FOREIGN_CPU_PCT = 15.0
# How many connections a run may reopen, in all, to spread them over the workers.
RESPREAD_TRIES_MAX = 200

GOALS = {
    "balances": {"requests_per_s": 1000.0, "p99_ms": 25.0},
    "payments": {"requests_per_s": 300.0, "p99_ms": 50.0},
}

FULL: dict[str, Any] = {
    "warmup_s": 5.0,
    "duration_s": 15.0,
    "balance_connections": [1, 8, 32],
    "payment_connections": [8, 32],
    "payments": 3000,
    "payment_warmup": 200,
    "floor_s": 5.0,
}
QUICK: dict[str, Any] = {
    "warmup_s": 2.0,
    "duration_s": 4.0,
    "balance_connections": [8],
    "payment_connections": [8],
    "payments": 300,
    "payment_warmup": 50,
    "floor_s": 2.0,
}


# -- small helpers -------------------------------------------------------------


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of a process, or 0.0 when it is gone; with ``reaped``, plus the CPU of
    its children that have exited (cutime + cstime)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])
        return (own + (int(fields[13]) + int(fields[14]) if reaped else 0)) / clock_ticks()
    except (OSError, IndexError, ValueError):
        return 0.0


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def postgres_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as handle:
                if handle.read().strip() == "postgres":
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def host_busy_seconds() -> float:
    """CPU-seconds all CPUs of the host spent busy (from /proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / clock_ticks()


def host_busy_pct(seconds: float) -> float:
    before, started = host_busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    elapsed = time.perf_counter() - started
    return round(100 * (host_busy_seconds() - before) / elapsed / (os.cpu_count() or 1), 1)


def wait_until_quiet(limit_s: float, threshold_pct: float = 10.0) -> float:
    """On a shared machine, wait (at most ``limit_s``) until the host is nearly idle."""
    deadline = time.monotonic() + limit_s
    while True:
        busy = host_busy_pct(5.0)
        if busy <= threshold_pct or time.monotonic() >= deadline:
            return busy
        log(f"host is {busy:.0f}% busy; waiting for it to go quiet")


class CpuWindow:
    """CPU used during a window by the server, PostgreSQL, this process and everything else.

    Values are percent of one CPU (the host has ``os.cpu_count()`` of them).
    The generator's own CPU comes from its report and is subtracted from
    "other" by the caller.
    """

    # Set while a PostgreSQL target is measured: new sessions per window are counted, since a
    # backend that starts and ends inside a window escapes the per-process CPU accounting.
    pg_stats: Any = None

    def __init__(self, server_pids: Callable[[], list[int]]) -> None:
        self.server_pids = server_pids
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        pg = postgres_pids()
        return {
            "t": time.perf_counter(),
            "server": sum(proc_cpu_seconds(p) for p in self.server_pids()),
            # Backends that exit inside the window (pool overflow opens and closes connections)
            # are counted through the postmaster's reaped-children time.
            "postgres": sum(proc_cpu_seconds(p, reaped=True) for p in pg),
            "harness": proc_cpu_seconds(os.getpid()),
            "host": host_busy_seconds(),
            "sessions": self._sessions(),
        }

    def _sessions(self) -> float:
        if self.pg_stats is None:
            return 0.0
        self.pg_stats.execute("SELECT pg_stat_clear_snapshot()")
        row = self.pg_stats.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return float(row[0]) if row else 0.0

    def stop(self, generator_cpu_s: float) -> dict[str, float]:
        end = self._sample()
        wall = max(end["t"] - self.start["t"], 1e-9)

        def pct(name: str) -> float:
            return round(100 * (end[name] - self.start[name]) / wall, 1)

        split = {name: pct(name) for name in ("server", "postgres", "harness", "host")}
        split["generator"] = round(100 * generator_cpu_s / wall, 1)
        split["postgres_sessions_opened"] = end["sessions"] - self.start["sessions"]
        split["other"] = round(
            split["host"] - split["server"] - split["postgres"] - split["harness"] - split["generator"], 1
        )
        return split


# -- the load generator process -------------------------------------------------


def run_loadgen(
    plan: dict[str, Any], server_pids: Callable[[], list[int]], workdir: Path, workers: int = 1
) -> dict[str, Any]:
    """Run ``api_load.py`` on ``plan``; CPU is sampled over the measured window.

    With several workers the generator's connections are reopened until they
    are spread evenly over the worker processes (see ``settle_connections`` in
    ``api_load.py``); the split and the number of reopenings are reported.
    """
    plan_path = workdir / f"plan-{uuid.uuid4().hex[:8]}.json"
    if plan["mode"] == "duration":
        timeout_s = plan["warmup_s"] + plan["duration_s"] + 60
    else:
        timeout_s = 120 + len(plan["requests"]) / 10  # generous: 10 requests per second would still finish
    handshake = workers > 1
    plan_path.write_text(json.dumps({"timeout_s": timeout_s, **plan, "signal": True, "handshake": handshake}))
    result_path = plan_path.with_suffix(".result.json")
    # stderr carries the markers; the result goes to a file, so that a large
    # result can never fill a pipe nobody is reading.
    process = subprocess.Popen(
        [sys.executable, str(LOADGEN), "run", str(plan_path), "--out", str(result_path)],
        stdin=subprocess.PIPE if handshake else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    window: CpuWindow | None = None
    split: dict[str, float] | None = None
    spread: list[int] | None = None
    reopened = 0
    stderr_lines = []
    for line in process.stderr:
        if line.startswith("connected "):
            client_ports = {int(p) for p in line.split()[1].split(",") if p}
            owners = connection_owners(int(plan["port"]), server_pids(), client_ports)
            spread, surplus = spread_of(owners, workers)
            settled = not surplus or reopened >= RESPREAD_TRIES_MAX
            assert process.stdin is not None
            process.stdin.write("go\n" if settled else "reconnect " + ",".join(map(str, surplus)) + "\n")
            process.stdin.flush()
            reopened += 0 if settled else len(surplus)
        elif line.strip() == "window-start":
            window = CpuWindow(server_pids)
        elif line.strip() == "window-end" and window is not None:
            split = window.stop(0.0)
        else:
            stderr_lines.append(line)
    if process.wait() != 0:
        raise RuntimeError(f"load generator failed: {''.join(stderr_lines)[-2000:]}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    plan_path.unlink()
    result_path.unlink()
    if result.get("timed_out"):
        raise RuntimeError(f"the server stopped answering: {result['unanswered']} requests unanswered")
    if split is not None:
        split["generator"] = result["generator_cpu_pct"]
        split["other"] = round(split["other"] - split["generator"], 1)
    result["cpu_pct"] = split
    result["connection_split"] = spread
    result["connections_reopened"] = reopened
    return result


def connection_owners(port: int, pids: list[int], client_ports: set[int]) -> dict[int, int]:
    """Which server process holds each of the generator's connections (client port -> pid),
    from ``ss``; waits briefly until a worker has accepted every connection."""
    deadline = time.monotonic() + 5.0
    while True:
        listing = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        owners: dict[int, int] = {}
        for line in listing.splitlines():
            fields = line.split()  # Recv-Q Send-Q Local Peer Process (no State column)
            owner = re.search(r"pid=(\d+)", line)
            if len(fields) < 4 or owner is None or int(owner.group(1)) not in pids:
                continue
            client_port = int(fields[3].rsplit(":", 1)[1])
            if client_port in client_ports:
                owners[client_port] = int(owner.group(1))
        if len(owners) >= len(client_ports) or time.monotonic() > deadline:
            return owners
        time.sleep(0.02)


def spread_of(owners: dict[int, int], workers: int) -> tuple[list[int], list[int]]:
    """(connections per worker, most first, padded with zeros to ``workers``; the client ports
    to reopen: what the busiest worker holds beyond an even share, rounded up)."""
    by_pid: dict[int, list[int]] = {}
    for client_port, pid in owners.items():
        by_pid.setdefault(pid, []).append(client_port)
    groups = sorted(by_pid.values(), key=len, reverse=True)
    split = [len(g) for g in groups] + [0] * max(0, workers - len(groups))
    even = -(-len(owners) // workers) if workers else len(owners)
    if workers < 2 or len(owners) < workers or min(split) >= len(owners) // workers:
        return split, []
    return split, groups[0][even:]


def request_spec(
    method: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> dict[str, Any]:
    all_headers = dict(headers or {})
    text = None
    if body is not None:
        all_headers["Content-Type"] = "application/json"
        text = json.dumps(body, separators=(",", ":"))
    return {"method": method, "path": path, "headers": all_headers, "body": text}


# -- the server under test --------------------------------------------------------


@dataclass
class Target:
    """One database for one store: its URL, the shared NETFIN_HOME, and how to clean up."""

    store: str
    url: str
    home: Path
    cleanup: Callable[[], None]
    info: dict[str, Any] = field(default_factory=dict)


@contextmanager
def open_target(store: str, pg_url: str, workdir: Path) -> Iterator[Target]:
    home = workdir / f"home-{store}"
    home.mkdir(mode=0o700)
    if store == "sqlite":
        path = workdir / "bench-api.db"

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)

        target = Target(store, f"sqlite:///{path}", home, remove)
    else:
        schema = "bench_api_" + secrets.token_hex(4)
        separator = "&" if "?" in pg_url else "?"

        def drop() -> None:
            import psycopg

            with psycopg.connect(pg_url.split("?")[0], autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

        target = Target(store, f"{pg_url}{separator}schema={schema}", home, drop)
        target.info["schema"] = schema
    try:
        if store == "postgresql":
            import psycopg

            CpuWindow.pg_stats = psycopg.connect(pg_url.split("?")[0], autocommit=True)
        yield target
    finally:
        if CpuWindow.pg_stats is not None:
            CpuWindow.pg_stats.close()
            CpuWindow.pg_stats = None
        target.cleanup()


def server_environment(target: Target, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETFIN_")}
    env.update(
        NETFIN_DATABASE_URL=target.url,
        NETFIN_HOME=str(target.home),
        NETFIN_ISSUER=f"http://127.0.0.1:{port}",
        NETFIN_RP_ID="localhost",
        NETFIN_ORIGINS=f"http://localhost:{port}",
        NETFIN_RATE_LIMITS=RATE_LIMITS,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "benchmarks")]),
        # SIGABRT then dumps every thread's stack into the server log (see Server.stop).
        PYTHONFAULTHANDLER="1",
    )
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workers: int
    log_path: Path
    label: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [self.process.pid, *children_of(self.process.pid)]

    def dump_stacks(self) -> None:
        """Have every server process write all its threads' stacks to the log (faulthandler), then end."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGABRT)
            except ProcessLookupError:
                continue
        time.sleep(1.0)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGTERM, not SIGINT: a shell running this in the background starts its children
            # with SIGINT ignored. uvicorn shuts down (lifespan included) on either.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def run_server(
    target: Target, port: int, workers: int, workdir: Path, app: str, extra_env: dict[str, str] | None = None,
    label: str = "",
) -> Iterator[Server]:  # fmt: skip
    label = label or str(workers)
    log_path = workdir / f"server-{target.store}-{re.sub(r'[^a-z0-9]+', '-', label)}.log"
    env = {**server_environment(target, port), **(extra_env or {})}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if app in (SERVE_APP, SERVE_H11_APP):
        netfin = str(Path(sys.executable).with_name("netfin"))
        command = [netfin, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        if app == SERVE_H11_APP:
            command += ["--http", "h11", "--loop", "asyncio"]
    with log_path.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
    server = Server(process, port, workers, log_path, label)
    try:
        wait_ready(server)
        yield server
    except KeyboardInterrupt:
        raise  # stopped on purpose: nothing to diagnose
    except BaseException:
        server.dump_stacks()
        kept = RESULTS / f"api-{log_path.stem}-failed.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_path, kept)
        log(f"the server log is kept in {kept}")
        raise
    finally:
        server.stop()


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: {server.log_path.read_text()[-3000:]}")
        try:
            if httpx.get(server.base_url + "/oauth2/jwks", timeout=2).status_code == 200:
                # With several workers the first answer proves only one is up: give the others a moment.
                time.sleep(1.0 if server.workers > 1 else 0.0)
                return
        except httpx.TransportError:
            time.sleep(0.2)  # not listening yet: ask again
            continue
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"the server did not answer in {SERVER_START_TIMEOUT_S} s: {server.log_path.read_text()}"
    )


# -- the cast, set up over HTTP ---------------------------------------------------------


@dataclass
class Cast:
    operator: str
    payers: list[Any]
    payee: Any
    tpp: Any
    origin: str


def bootstrap_operator(target: Target, port: int) -> str:
    """Open a Bank on the same database in this process (migrations run here) and mint a staff session."""
    from netfin.bank import Bank, BankSettings
    from netfin.sim import openbanking as ob

    os.environ.update(server_environment(target, port))
    for name in ("NETFIN_REDIS_URL", "NETFIN_API_SIGNING_KEY", "NETFIN_API_KEY_FILE"):
        os.environ.pop(name, None)
    with Bank(BankSettings.from_env()) as bank:
        return ob.staff_session(bank)


def set_up_cast(http: httpx.Client, operator: str, port: int, payers: int, funds: str) -> Cast:
    from netfin.sim import openbanking as ob
    from netfin.sim.authenticator import SoftwareAuthenticator

    origin = f"http://localhost:{port}"
    cast_payers = []
    for n in range(payers):
        customer = ob.sign_up(
            http, SoftwareAuthenticator("localhost", origin), name=f"Payer {n}", phone=f"+4477009{n:05d}"
        )
        ob.open_funded_account(http, customer, operator, CURRENCY, funds)
        cast_payers.append(customer)
    payee = ob.sign_up(http, SoftwareAuthenticator("localhost", origin), name="Payee", phone="+447700999999")
    ob.open_funded_account(http, payee, operator, CURRENCY, "0")
    tpp = ob.register_tpp(
        http, operator, "Benchmark TPP", ["accounts", "payments"], "https://tpp.example/callback"
    )
    return Cast(operator, cast_payers, payee, tpp, origin)


def refresh_sessions(http: httpx.Client, cast: Cast) -> None:
    """Customer sessions last 15 minutes; sign in again with the passkey before each round."""
    from netfin.sim import openbanking as ob

    for customer in [*cast.payers, cast.payee]:
        customer.session = ob.passkey_login(http, customer.authenticator, customer.party_id)


# -- measurements ----------------------------------------------------------------------


def measure_floor(server: Server, config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    plan = {
        "host": "127.0.0.1", "port": server.port, "connections": 8, "mode": "duration",
        "warmup_s": 1.0, "duration_s": config["floor_s"], "requests": [request_spec("GET", "/oauth2/jwks")],
    }  # fmt: skip
    return run_loadgen(plan, server.pids, workdir, server.workers)


def measure_balances(
    http: httpx.Client, server: Server, cast: Cast, config: dict[str, Any], workdir: Path, connections: int
) -> dict[str, Any]:
    from netfin.sim import openbanking as ob

    customer = cast.payers[0]
    token_url = server.base_url + "/oauth2/token"
    _, token = ob.account_access(
        http, cast.tpp, customer, token_url, account_ids=[customer.account_ids[0]],
        permissions=["ReadAccountsDetail", "ReadBalances"],
    )  # fmt: skip
    path = f"{OB}/aisp/accounts/{customer.account_ids[0]}/balances"
    probe = http.get(path, headers=ob.bearer(token))
    if probe.status_code != 200:
        raise RuntimeError(f"balances probe failed: {probe.status_code} {probe.text}")
    plan = {
        "host": "127.0.0.1", "port": server.port, "connections": connections, "mode": "duration",
        "warmup_s": config["warmup_s"], "duration_s": config["duration_s"],
        "requests": [request_spec("GET", path, ob.bearer(token))],
    }  # fmt: skip
    return run_loadgen(plan, server.pids, workdir, server.workers)


@dataclass
class PreparedPayment:
    consent_id: str
    token: str
    debtor_account_id: str
    initiation: dict[str, Any]


def prepare_payments(base_url: str, cast: Cast, count: int) -> tuple[list[PreparedPayment], float]:
    """Authorise ``count`` payment consents (one thread per payer, whose passkey signs in order)."""
    per_payer = [
        count // len(cast.payers) + (1 if i < count % len(cast.payers) else 0)
        for i in range(len(cast.payers))
    ]
    results: list[list[PreparedPayment]] = [[] for _ in cast.payers]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                results[index] = _prepare_for(http, cast, cast.payers[index], per_payer[index])
        except BaseException as error:
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cast.payers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    prepared = [p for group in zip(*results, strict=False) for p in group]
    prepared += [p for group in results for p in group[min(map(len, results)) :]]
    return prepared, time.perf_counter() - started


def _prepare_for(http: httpx.Client, cast: Cast, payer: Any, count: int) -> list[PreparedPayment]:
    from netfin.sim import openbanking as ob

    token_url = str(http.base_url).rstrip("/") + "/oauth2/token"
    grant, grant_at = "", 0.0
    prepared = []
    for _ in range(count):
        if time.monotonic() - grant_at > ACCESS_TOKEN_LIFETIME_S / 2:
            grant, grant_at = cast.tpp.client_credentials(http, token_url, "payments"), time.monotonic()
        initiation = ob.initiation(PAYMENT_AMOUNT, CURRENCY, cast.payee.ibans[0], reference="bench")
        document = {"Data": {"Initiation": initiation}, "Risk": {}}
        headers = ob.bearer(grant, **{"x-idempotency-key": uuid.uuid4().hex})
        consent = ob.expect(
            http.post(f"{OB}/pisp/domestic-payment-consents", **ob.signed(cast.tpp, document, **headers)), 201
        )
        consent_id = consent["Data"]["ConsentId"]
        approval = ob.authorise(http, payer, consent_id, [payer.account_ids[0]])
        token = cast.tpp.exchange_code(
            http, token_url, approval["authorization_code"], approval["redirect_uri"]
        )
        prepared.append(PreparedPayment(consent_id, token, payer.account_ids[0], initiation))
        if len(prepared) % 250 == 0:
            log(f"    {payer.party_id[-6:]}: {len(prepared)}/{count} consents authorised")
    return prepared


def payment_plan(port: int, tpp: Any, prepared: list[PreparedPayment], connections: int) -> dict[str, Any]:
    """One POST per prepared consent, body signed (``x-jws-signature``) just before the run."""
    from netfin.sim import openbanking as ob

    requests = []
    for p in prepared:
        document = {"Data": {"ConsentId": p.consent_id, "Initiation": p.initiation}, "Risk": {}}
        signed = ob.signed(tpp, document, **ob.bearer(p.token, **{"x-idempotency-key": uuid.uuid4().hex}))
        requests.append(
            {"method": "POST", "path": f"{OB}/pisp/domestic-payments", "headers": signed["headers"],
             "body": signed["content"].decode()}
        )  # fmt: skip
    return {
        "host": "127.0.0.1", "port": port, "connections": connections, "mode": "each",
        "requests": requests, "record": True,
    }  # fmt: skip


def booked_minor(http: httpx.Client, customer: Any) -> int:
    from netfin.payments import parse_amount
    from netfin.sim import openbanking as ob

    accounts = ob.expect(http.get("/v1/me/accounts", headers=ob.bearer(customer.session)), 200)
    return sum(parse_amount(a["booked"]["amount"], a["booked"]["currency"]) for a in accounts)


def measure_payments(
    http: httpx.Client, server: Server, cast: Cast, target: Target, config: dict[str, Any], workdir: Path,
    connections: int,
) -> dict[str, Any]:  # fmt: skip
    count, warmup = config["payments"], config["payment_warmup"]
    refresh_sessions(http, cast)
    prepared, prepare_s = prepare_payments(server.base_url, cast, count + warmup)
    if prepare_s > PREPARE_BUDGET_S:
        raise RuntimeError(
            f"preparing {count + warmup} consents took {prepare_s:.0f} s; their tokens would expire "
            f"({ACCESS_TOKEN_LIFETIME_S} s) before the run ends: use a smaller --payments"
        )
    warm = run_loadgen(
        payment_plan(server.port, cast.tpp, prepared[:warmup], connections),
        server.pids,
        workdir,
        server.workers,
    )
    if warm["non_2xx"] or warm["connection_errors"]:
        raise RuntimeError(f"warm-up payments failed: {warm['status_counts']}")
    before = (sum(booked_minor(http, p) for p in cast.payers), booked_minor(http, cast.payee))
    result = run_loadgen(
        payment_plan(server.port, cast.tpp, prepared[warmup:], connections),
        server.pids,
        workdir,
        server.workers,
    )
    after = (sum(booked_minor(http, p) for p in cast.payers), booked_minor(http, cast.payee))
    responses = result.pop("responses")
    result["check"] = check_payments(target, responses, count, before, after)
    result["prepare"] = {"consents": count + warmup, "seconds": round(prepare_s, 1),
                         "per_s": round((count + warmup) / prepare_s, 1)}  # fmt: skip
    return result


def check_payments(
    target: Target, responses: list[Any], count: int, before: tuple[int, int], after: tuple[int, int]
) -> dict[str, Any]:
    """Every payment ACSC in its response and in the database, one outbox event each, money conserved."""
    import sqlalchemy as sa

    from netfin.storage import open_engine

    payment_ids: list[str] = []
    statuses: dict[str, int] = {}
    for status, body in (r or (0, "") for r in responses):
        data = json.loads(body)["Data"] if status == 201 else {}
        label = str(data.get("Status", f"HTTP {status}"))
        statuses[label] = statuses.get(label, 0) + 1
        if "DomesticPaymentId" in data:
            payment_ids.append(data["DomesticPaymentId"])
    engine = open_engine(target.url, run_migrations=False)
    try:
        with engine.connect() as connection:
            stored: dict[str, int] = dict(
                connection.execute(
                    sa.text(
                        "SELECT status, count(*) FROM domestic_payments "
                        "WHERE payment_id IN :ids GROUP BY status"
                    ).bindparams(sa.bindparam("ids", expanding=True)),
                    {"ids": payment_ids or [""]},
                ).all()
            )
            events = connection.execute(
                sa.text(
                    "SELECT count(*) FROM outbox "
                    "WHERE subject_kind = 'domestic-payment' AND subject_id IN :ids"
                ).bindparams(sa.bindparam("ids", expanding=True)),
                {"ids": payment_ids or [""]},
            ).scalar_one()
    finally:
        engine.dispose()
    moved_out, moved_in = before[0] - after[0], after[1] - before[1]
    expected = count * PAYMENT_AMOUNT_MINOR
    check = {
        "response_status": statuses,
        "stored_status": {str(k): int(v) for k, v in stored.items()},
        "outbox_events": int(events),
        "debited_minor": moved_out,
        "credited_minor": moved_in,
        "expected_minor": expected,
    }
    check["ok"] = (
        statuses == {"ACSC": count}
        and check["stored_status"] == {"ACSC": count}
        and events == count
        and moved_out == moved_in == expected
    )
    return check


# -- wrk (optional cross-check) ----------------------------------------------------------

WRK_LUA = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"non_2xx\\":%d,"
    .. "\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"timeout\\":%d,"
    .. "\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"max\\":%d}\\n",
    summary.requests, summary.duration, errors.status, errors.connect, errors.read, errors.write,
    errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("--wrk needs the wrk load generator: apt-get install -y wrk (Debian package 'wrk')")
    return found


def run_wrk(url: str, headers: dict[str, str], connections: int, config: dict[str, Any], workdir: Path,
            server_pids: Callable[[], list[int]]) -> dict[str, Any]:  # fmt: skip
    """One wrk thread, ``connections`` connections, warm-up then the measured run; same report shape."""
    import resource

    script = workdir / "report.lua"
    script.write_text(WRK_LUA)
    base = [require_wrk(), "-t1", f"-c{connections}", "-s", str(script)]
    for name, value in headers.items():
        base += ["-H", f"{name}: {value}"]
    warmup = f"-d{max(1, int(config['warmup_s']))}s"
    warm = subprocess.run([*base, warmup, url], capture_output=True, text=True, check=False)
    if warm.returncode != 0:
        raise RuntimeError(f"wrk failed: {warm.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    window = CpuWindow(server_pids)
    measured = subprocess.run([*base, f"-d{int(config['duration_s'])}s", url], capture_output=True, text=True,
                              check=False)  # fmt: skip
    split = window.stop(0.0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if measured.returncode != 0:
        raise RuntimeError(f"wrk failed: {measured.stderr}")
    match = re.search(r"^JSON (\{.*\})$", measured.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no summary: {measured.stdout}")
    raw = json.loads(match.group(1))
    elapsed = raw["duration_us"] / 1e6
    wrk_cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    split["generator"] = round(100 * wrk_cpu / elapsed, 1)
    split["other"] = round(split["other"] - split["generator"], 1)
    return {
        "connections": connections,
        "completed": raw["requests"],
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(raw["requests"] / elapsed, 1),
        "status_counts": None,
        "non_2xx": raw["non_2xx"],
        "connection_errors": raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        "latency_ms": {q: raw[q] / 1000 for q in ("p50", "p90", "p99", "max")},
        "generator_cpu_pct": split["generator"],
        "generator_cpu_us_per_request": round(1e6 * wrk_cpu / max(raw["requests"], 1), 1),
        "cpu_pct": split,
    }


# -- calibration of the generator -----------------------------------------------------------


def calibrate_generator(config: dict[str, Any], workdir: Path, use_wrk: bool) -> dict[str, Any]:
    """The generator against a trivial asyncio server: its ceiling and its CPU per request."""
    port = free_port()
    server = subprocess.Popen([sys.executable, str(LOADGEN), "serve-trivial", "--port", str(port)])
    try:
        for _ in range(50):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        results = {}
        for connections in (8, 32):
            plan = {
                "host": "127.0.0.1", "port": port, "connections": connections, "mode": "duration",
                "warmup_s": 1.0, "duration_s": config["floor_s"],
                "requests": [request_spec("GET", "/trivial", {"Authorization": "Bearer " + "x" * 200})],
            }  # fmt: skip
            results[f"python_c{connections}"] = run_loadgen(plan, lambda: [server.pid], workdir)
            if use_wrk:
                headers = {"Authorization": "Bearer " + "x" * 200}
                short = {**config, "warmup_s": 1.0, "duration_s": config["floor_s"]}
                results[f"wrk_c{connections}"] = run_wrk(
                    f"http://127.0.0.1:{port}/trivial",
                    headers,
                    connections,
                    short,
                    workdir,
                    lambda: [server.pid],
                )
        return results
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# -- one store -----------------------------------------------------------------------------


def bench_store(
    store: str, args: argparse.Namespace, config: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {"store": store, "servers": []}
    with open_target(store, args.pg_url, workdir) as target:
        port = free_port()
        operator = bootstrap_operator(target, port)
        out["database"] = database_info(target)
        cast: Cast | None = None
        for variant in args.servers:
            workers, app = server_variant(variant)
            with run_server(target, port, workers, workdir, app, label=variant) as server:
                with httpx.Client(base_url=server.base_url, timeout=60) as http:
                    if cast is None:
                        cast = set_up_cast(http, operator, port, args.payers, funds_per_payer(args, config))
                    out["servers"].append(bench_server(http, server, cast, target, args, config, workdir))
    return out


def server_variant(text: str) -> tuple[int, str]:
    """``"2"`` -> (2, ``netfin serve``); ``"2+h11"`` -> (2, ``netfin serve --http h11 --loop asyncio``,
    the pure-Python HTTP stack); ``"2+uvicorn"`` -> (2, plain uvicorn on the production factory);
    ``"2+nodelay"`` -> (2, plain uvicorn on the factory that forces TCP_NODELAY)."""
    workers, _, fix = text.partition("+")
    apps = {"": SERVE_APP, "h11": SERVE_H11_APP, "uvicorn": APP_DEFAULT, "nodelay": NODELAY_APP}
    if fix not in apps or not workers.isdigit():
        raise SystemExit(f"--servers: {text!r} is not N, N+h11, N+uvicorn or N+nodelay")
    return int(workers), apps[fix]


def force_tcp_nodelay() -> None:
    """Set TCP_NODELAY on every accepted connection of this process, whatever the listening socket.

    uvicorn with ``--workers N`` (N > 1) binds its listening socket itself as
    ``socket.socket(family)``, whose ``proto`` is 0; asyncio sets TCP_NODELAY on
    an accepted connection only when ``proto == IPPROTO_TCP``, so those workers
    serve with Nagle's algorithm on. A response written as two segments
    (h11 writes the head and the body separately) then waits for the client's
    delayed ACK: about 40 ms per keep-alive request on Linux.
    """
    import asyncio.base_events

    def set_nodelay(sock: socket.socket) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    asyncio.base_events._set_nodelay = set_nodelay  # type: ignore[attr-defined]


def nodelay_application() -> Any:
    """The production application (``netfin.api.server:application``) with TCP_NODELAY forced."""
    force_tcp_nodelay()
    from netfin.api.server import application

    return application()


def funds_per_payer(args: argparse.Namespace, config: dict[str, Any]) -> str:
    """Enough for every payment of every cell (warm-ups included) on every server, plus a margin."""
    cells = len(args.connections_payments or config["payment_connections"]) * len(args.servers)
    total_minor = (config["payments"] + config["payment_warmup"]) * cells * PAYMENT_AMOUNT_MINOR
    per_payer_minor = total_minor // args.payers + 1000 * PAYMENT_AMOUNT_MINOR
    return f"{per_payer_minor // 100}.{per_payer_minor % 100:02d}"


def bench_server(
    http: httpx.Client, server: Server, cast: Cast, target: Target, args: argparse.Namespace,
    config: dict[str, Any], workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    label = f"{target.store}, server {server.label}"
    result: dict[str, Any] = {
        "workers": server.label,
        "floor": None,
        "balances": [],
        "payments": [],
        "wrk": [],
    }
    log(f"[{label}] floor: GET /oauth2/jwks")
    result["floor"] = quietest(lambda: measure_floor(server, config, workdir), args.noisy_retries)
    for connections in args.connections_balances or config["balance_connections"]:
        refresh_sessions(http, cast)
        log(f"[{label}] balances, {connections} connections")
        measure = functools.partial(measure_balances, http, server, cast, config, workdir, connections)
        result["balances"].append(quietest(measure, args.noisy_retries))
        if args.wrk and server.workers == 1:  # wrk cannot spread its connections over several workers
            log(f"[{label}] balances, {connections} connections, load from wrk")
            measure = functools.partial(
                measure_balances_wrk, http, server, cast, config, workdir, connections
            )
            result["wrk"].append(quietest(measure, args.noisy_retries))
    for connections in args.connections_payments or config["payment_connections"]:
        log(f"[{label}] payments, {connections} connections: preparing consents")
        measured = measure_payments(http, server, cast, target, config, workdir, connections)
        result["payments"].append(measured)
        log("    " + brief(measured) + f"; check ok={measured['check']['ok']}")
    return result


def quietest(measure: Callable[[], dict[str, Any]], retries: int) -> dict[str, Any]:
    """Measure; while other tenants of the host used more than NOISY_FOREIGN_CPU_PCT, measure again
    (at most ``retries`` times) and keep the attempt with the least foreign CPU."""
    attempts = [measure()]
    log("    " + brief(attempts[-1]))
    while foreign_cpu(attempts[-1]) > NOISY_FOREIGN_CPU_PCT and len(attempts) <= retries:
        log(f"    noisy (other processes used {foreign_cpu(attempts[-1]):.0f}% CPU): measuring again")
        attempts.append(measure())
        log("    " + brief(attempts[-1]))
    best = min(attempts, key=foreign_cpu)
    best["attempts"] = len(attempts)
    return best


def foreign_cpu(result: dict[str, Any]) -> float:
    return float((result.get("cpu_pct") or {}).get("other", 0.0))


def measure_balances_wrk(
    http: httpx.Client, server: Server, cast: Cast, config: dict[str, Any], workdir: Path, connections: int
) -> dict[str, Any]:
    from netfin.sim import openbanking as ob

    customer = cast.payers[0]
    _, token = ob.account_access(
        http, cast.tpp, customer, server.base_url + "/oauth2/token", account_ids=[customer.account_ids[0]],
        permissions=["ReadAccountsDetail", "ReadBalances"],
    )  # fmt: skip
    url = f"{server.base_url}{OB}/aisp/accounts/{customer.account_ids[0]}/balances"
    return run_wrk(url, ob.bearer(token), connections, config, workdir, server.pids)


def brief(result: dict[str, Any]) -> str:
    latency = result["latency_ms"]
    cpu = result.get("cpu_pct") or {}
    return (
        f"{result['requests_per_s']:,.0f}/s p50 {latency['p50']:.1f} p99 {latency['p99']:.1f} "
        f"max {latency['max']:.1f} ms, non-2xx {result['non_2xx']}, "
        f"connection errors {result['connection_errors']}; "
        f"CPU % server {cpu.get('server')} pg {cpu.get('postgres')} gen {cpu.get('generator')} "
        f"other {cpu.get('other')}; new PostgreSQL sessions {cpu.get('postgres_sessions_opened', 0):.0f}"
    )


def database_info(target: Target) -> dict[str, Any]:
    if target.store == "sqlite":
        import sqlite3

        return {
            "engine": f"SQLite {sqlite3.sqlite_version}",
            "settings": "WAL, synchronous=FULL (set by netfin)",
        }
    import psycopg

    with psycopg.connect(target.url.split("?")[0]) as connection:
        values = {
            name: connection.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
        }
    return {"engine": f"PostgreSQL {values.pop('server_version')}", "settings": values}


# -- host and code ---------------------------------------------------------------------------


def code_info() -> dict[str, Any]:
    def git(*argv: str) -> str:
        return subprocess.run(
            ["git", *argv], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout.strip()

    changed = [line for line in git("status", "--porcelain", "--", "src").splitlines() if line]
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return {
        "commit": git("rev-parse", "--short=10", "HEAD"),
        "src_changed_files": len(changed),
        "src_sha256": digest.hexdigest()[:16],
    }


def host_info() -> dict[str, Any]:
    import importlib.metadata as md

    cpu_model = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        mem_kb = int(handle.readline().split()[1])

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    packages = ["uvicorn", "fastapi", "starlette", "pydantic", "sqlalchemy", "psycopg", "joserfc", "orjson",
                "h11", "httptools", "uvloop", "anyio"]  # fmt: skip
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: version(name) for name in packages},
        "load_average": os.getloadavg(),
    }


# -- profiling inside the server -------------------------------------------------------------

# (label, attribute path on the Bank, method name); nesting follows the call structure.
PROFILED_CALLS = [
    ("token verification", "oauth", "verify_access_token"),
    ("rate limit", "rate_limiter", "enforce"),
    ("consent lookup", "consents", "get"),
    ("customer account lookup", "identity", "get_account"),
    ("customer accounts lookup", "identity", "get_accounts"),
    ("ledger balance lookup", "ledger", "lookup_accounts"),
    ("audit record (incl. waiting for the group commit)", "audit", "record"),
    ("idempotency (whole POST inside it)", "idempotency", "run"),
    ("idempotency claim", "idempotency", "_claim"),
    ("payment: initiate (steps 1-3)", "payments", "initiate_domestic"),
    ("payment: creditor lookup", "payments", "resolve_creditor"),
    ("payment: consent consume", "consents", "consume"),
    ("payment: ledger transfer", "ledger", "create_transfers"),
    ("payment: outcome + outbox", "payments", "_finish"),
    ("service: balances", "openbanking", "balances"),
    ("service: initiate_payment", "openbanking", "initiate_payment"),
]

# Functions and methods timed where they are defined: (label, module, owner ("" for the
# module itself), attribute).
PROFILED_CODE = [
    ("request signature check", "netfin.api.openbanking.routes", "", "_check_signature"),
    ("audit wait (an entry's commit)", "netfin.audit.service", "AuditReceipt", "wait"),
    ("ledger: booking a group (lock, transaction)", "netfin.ledger.service", "Ledger", "_book_group"),
    ("ledger: one transaction", "netfin.ledger.service", "Ledger", "_create_transfers"),
    ("audit writer: one append", "netfin.audit.service", "AuditLog", "_append"),
]


class PhaseTimer:
    """Wall and thread-CPU time per wrapped call, summed over all threads (calls may nest)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.totals: dict[str, list[float]] = {}

    def add(self, label: str, wall_s: float, cpu_s: float) -> None:
        with self.lock:
            entry = self.totals.setdefault(label, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += wall_s
            entry[2] += cpu_s

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - wall, time.thread_time() - cpu)

        setattr(owner, name, timed)

    def reset(self) -> None:
        with self.lock:
            self.totals.clear()


def thread_cpu() -> dict[int, tuple[str, float]]:
    """(thread group, CPU seconds) per live thread of this process, by native id (/proc/self/task)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    threads = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        name = names.get(tid, "other (native) threads")
        group = "request threads (AnyIO workers)" if name.startswith("AnyIO worker") else name
        if group == "MainThread":
            group = "event loop (uvicorn, h11, middleware, routing, responses)"
        threads[tid] = (group, proc_cpu_seconds_task(tid))
    return threads


def thread_cpu_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds per thread group between two snapshots, thread by thread: a thread started
    in between counts from zero; one that ended in between is lost (threadpool workers end
    after 10 s idle, so they did no work in a window that short before the end)."""
    groups: dict[str, float] = {}
    for tid, (group, seconds) in after.items():
        earlier = before.get(tid)
        start = earlier[1] if earlier is not None and earlier[0] == group else 0.0
        groups[group] = groups.get(group, 0.0) + seconds - start
    return groups


def proc_cpu_seconds_task(tid: int) -> float:
    try:
        with open(f"/proc/self/task/{tid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / clock_ticks()
    except (OSError, IndexError, ValueError):
        return 0.0


class StackSampler:
    """Samples every thread's Python stack (``sys._current_frames``) and counts categories.

    A poor man's py-spy: the innermost frame whose file matches a rule names
    the sample; a thread blocked in a lock or in epoll counts as waiting.
    """

    RULES = (
        ("event loop idle (epoll)", ("selectors.py",)),
        ("psycopg (driver, incl. waiting for PostgreSQL)", ("/psycopg/", "/psycopg_binary/")),
        ("sqlite3 (driver)", ("/sqlite3/",)),
        ("SQLAlchemy Core", ("/sqlalchemy/",)),
        ("joserfc + cryptography (JWT)", ("/joserfc/", "/cryptography/")),
        ("pydantic", ("/pydantic/", "/pydantic_core/")),
        ("FastAPI (routing, dependencies, params)", ("/fastapi/",)),
        ("Starlette (requests, responses, routing)", ("/starlette/",)),
        ("h11 (HTTP parsing)", ("/h11/",)),
        ("uvicorn", ("/uvicorn/",)),
        ("anyio (threadpool hand-off)", ("/anyio/",)),
        ("asyncio", ("/asyncio/",)),
        ("netfin.audit", ("/netfin/audit/",)),
        ("netfin.ledger", ("/netfin/ledger/",)),
        ("netfin.api", ("/netfin/api/",)),
        ("netfin (other)", ("/netfin/",)),
        ("orjson / json", ("/json/",)),
    )

    def __init__(self, interval_s: float = 0.002) -> None:
        self.interval_s = interval_s
        self.counts: dict[str, dict[str, int]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    _WAITS = ("threading.py", "queue.py")
    # (file part, function) of the first caller outside threading/queue -> why the thread waits.
    _WAIT_REASONS = (
        ("/anyio/", "", "idle (threadpool worker without a request)"),
        ("/netfin/audit/service.py", "record", "waiting for the audit group commit"),
        ("/netfin/audit/service.py", "", "idle (audit writer waiting for entries)"),
        ("/netfin/notifications/", "", "idle (notification dispatcher)"),
        ("/netfin/api/server.py", "", "idle (payment resumer)"),
        ("/sqlalchemy/pool/", "", "waiting for a pooled connection"),
    )

    def _category(self, frame: Any) -> str:
        leaf = frame
        if any(w in leaf.f_code.co_filename for w in self._WAITS):
            caller = leaf
            while caller is not None and any(w in caller.f_code.co_filename for w in self._WAITS):
                caller = caller.f_back
            if caller is None:
                return "waiting (stdlib only)"
            for part, function, reason in self._WAIT_REASONS:
                if part in caller.f_code.co_filename and function in ("", caller.f_code.co_name):
                    return reason
            return f"waiting: lock/event in {Path(caller.f_code.co_filename).name}:{caller.f_code.co_name}"
        if "/netfin/ledger/service.py" in leaf.f_code.co_filename and leaf.f_code.co_name == "locked":
            return "ledger lock (waiting for another thread's ledger call)"
        while frame is not None:
            filename = frame.f_code.co_filename
            for label, needles in self.RULES:
                if any(n in filename for n in needles):
                    return label
            frame = frame.f_back
        return "other"

    def _run(self) -> None:
        own = threading.get_ident()
        while not self.stop.wait(self.interval_s):
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == own:
                    continue
                name = names.get(ident, "other")
                group = "request threads" if name.startswith("AnyIO worker") else name
                bucket = self.counts.setdefault(group, {})
                label = self._category(frame)
                bucket[label] = bucket.get(label, 0) + 1


HOP_LABEL = "threadpool hop (anyio.to_thread.run_sync, wall incl. queueing)"
HOP_START_LABEL = "threadpool hop: until the function starts in its thread"
HOP_RETURN_LABEL = "threadpool hop: from its return until the event loop resumes"


def count_threadpool_hops(timer: PhaseTimer) -> None:
    """Count hand-offs to the threadpool (each sync dependency and sync endpoint is one)."""
    import anyio.to_thread

    inner = anyio.to_thread.run_sync

    async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        marks: list[float] = []

        def run(*call_args: Any) -> Any:
            marks.append(time.perf_counter())
            try:
                return function(*call_args)
            finally:
                marks.append(time.perf_counter())

        try:
            return await inner(run, *args, **kwargs)
        finally:
            ended = time.perf_counter()
            timer.add(HOP_LABEL, ended - started, 0.0)
            if len(marks) == 2:
                timer.add(HOP_START_LABEL, marks[0] - started, 0.0)
                timer.add(HOP_RETURN_LABEL, ended - marks[1], 0.0)

    anyio.to_thread.run_sync = counted  # type: ignore[assignment]


def profiled_application() -> Any:
    """The production application with phase timers, thread CPU accounting and a stack sampler.

    ``GET /__bench/profile/reset`` starts a window; ``GET /__bench/profile/dump``
    returns what the window saw as JSON. Only for ``benchmarks/api.py --profile``.
    """
    from netfin.api.server import application

    force_tcp_nodelay()
    app = application()
    bank = app.state.bank
    timer = PhaseTimer()
    for label, owner_name, method in PROFILED_CALLS:
        timer.wrap(getattr(bank, owner_name), method, label)
    for label, module_name, owner_path, method in PROFILED_CODE:
        owner: Any = importlib.import_module(module_name)
        for part in filter(None, owner_path.split(".")):
            owner = getattr(owner, part)
        timer.wrap(owner, method, label)
    count_threadpool_hops(timer)
    sampler = StackSampler() if os.environ.get(SAMPLER_ENV) == "1" else None
    if sampler is not None:
        sampler.thread.start()
    state: dict[str, Any] = {"cpu": thread_cpu(), "t": time.perf_counter(), "requests": 0}
    inner = app.build_middleware_stack()

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/__bench/profile/"):
            await _profile_control(path, state, timer, sampler, send)
            return
        started = time.perf_counter()
        try:
            await inner(scope, receive, send)
        finally:
            if scope["type"] == "http":
                state["requests"] += 1
                timer.add("whole request (ASGI, event loop wall time)", time.perf_counter() - started, 0.0)

    app.build_middleware_stack = lambda: asgi  # type: ignore[method-assign]
    return app


def loop_profile(state: dict[str, Any]) -> dict[str, Any] | None:
    """The event loop thread's CPU (cProfile with a thread-CPU timer) by component and by function."""
    profiler = state.pop("loop_profiler", None)
    if profiler is None:
        return None
    profiler.disable()
    by_component: dict[str, float] = {}
    functions = []
    for (filename, line, name), (_, calls, own_s, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        component = component_of(filename, name)
        by_component[component] = by_component.get(component, 0.0) + own_s
        functions.append((own_s, calls, f"{Path(filename).name}:{line}:{name}"))
    functions.sort(reverse=True)
    return {
        "by_component_s": dict(sorted(by_component.items(), key=lambda kv: -kv[1])),
        "top_functions": [{"own_s": t, "calls": c, "function": f} for t, c, f in functions[:15]],
    }


def component_of(filename: str, function: str) -> str:
    """Which library a profiled function belongs to (C functions by their name)."""
    for label, needles in StackSampler.RULES:
        if any(n in filename for n in needles):
            return label
    if filename == "~":
        if "epoll" in function or "select" in function:
            return "event loop idle (epoll)"
        return "C built-ins called from Python (socket send/recv, isinstance, dict methods, ...)"
    return "other Python"


async def _profile_control(path: str, state: dict[str, Any], timer: PhaseTimer, sampler: StackSampler | None,
                           send: Any) -> None:  # fmt: skip
    if path.endswith("/reset"):
        timer.reset()
        if sampler is not None:
            sampler.counts.clear()
        state.update(cpu=thread_cpu(), t=time.perf_counter(), requests=0)
        if os.environ.get(LOOP_PROFILE_ENV) == "1":
            # cProfile follows only the thread that enables it: this handler runs on the event loop.
            # It slows the loop several times over, so only the shares of its components mean much.
            state["loop_profiler"] = cProfile.Profile(time.thread_time)
            state["loop_profiler"].enable()
        body = b"{}"
    else:
        now = thread_cpu()
        body = json.dumps(
            {
                "wall_s": time.perf_counter() - state["t"],
                "requests": state["requests"],
                "phases": {
                    k: {"calls": v[0], "wall_s": v[1], "cpu_s": v[2]} for k, v in timer.totals.items()
                },
                "thread_cpu_s": thread_cpu_delta(state["cpu"], now),
                "samples": sampler.counts if sampler is not None else None,
                "event_loop_cpu": loop_profile(state),
            }
        ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- what-ifs: one change at a time, applied inside the server by the benchmark ---------------

WHATIFS = {
    "none": "the production application (with TCP_NODELAY forced)",
    "switch-interval": "sys.setswitchinterval(0.0005): a thread waiting for the GIL gets it within 0.5 ms, "
    "not 5 ms",
    "no-pre-ping": "the platform engine's pool without pool_pre_ping (no SELECT 1 round trip per checkout)",
    "pool-48": "the platform engine's pool keeps up to 48 idle connections, not 8 (no connection churn)",
    "no-audit": "audit.record returns at once without writing: what the audit log costs (not a proposal)",
    "gc-freeze": "gc.freeze() once the application is built, and a first-generation threshold of 20,000 "
    "allocations instead of 2,000: fewer collections, none of them walking the start-up objects",
    "audit-linger": "the audit writer, woken with fewer than 8 entries waiting, waits up to 1 ms for more: "
    "fewer, larger appends (and fewer lost races for the head) for up to 1 ms more per entry",
}


def whatif_application() -> Any:
    """The production application with the what-ifs named in ``NETFIN_BENCH_WHATIF`` applied."""
    from netfin.api.server import application

    names = {n for n in os.environ.get(WHATIF_ENV, "").split(",") if n and n != "none"}
    unknown = names - set(WHATIFS)
    if unknown:
        raise SystemExit(f"unknown what-if(s): {sorted(unknown)}")
    force_tcp_nodelay()
    if "switch-interval" in names:
        sys.setswitchinterval(0.0005)
    app = application()
    bank = app.state.bank
    if "no-pre-ping" in names:
        bank.engine.pool._pre_ping = False
    if "pool-48" in names:
        bank.engine.pool._pool.maxsize = 48
    if "no-audit" in names:
        bank.audit.record = lambda **_: None
    if "audit-linger" in names:
        _linger_audit_writer(bank.audit)
    if "gc-freeze" in names:
        import gc

        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 10, 10)
    return app


def _linger_audit_writer(audit: Any) -> None:
    """The "audit-linger" what-if: ``AuditLog._next_batch`` gathers for up to 1 ms first."""
    inner = audit._next_batch

    def next_batch() -> Any:
        with audit._condition:
            while not audit._waiting and not audit._closed:
                audit._condition.wait()
        deadline = time.perf_counter() + 0.001
        while len(audit._waiting) < 8 and time.perf_counter() < deadline:
            time.sleep(0.0002)
        return inner()

    audit._next_batch = next_batch


def run_whatifs(args: argparse.Namespace, config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Balances and payments cells for each what-if set, on one fresh database."""
    workers = args.whatif_workers
    out: dict[str, Any] = {"store": args.profile_store, "workers": workers, "sets": []}
    with open_target(args.profile_store, args.pg_url, workdir) as target:
        port = free_port()
        operator = bootstrap_operator(target, port)
        cast: Cast | None = None
        for whatif in args.whatif_sets:
            env = {WHATIF_ENV: whatif}
            with run_server(
                target, port, workers, workdir, WHATIF_APP, env, label=f"whatif-{whatif}"
            ) as server:
                with httpx.Client(base_url=server.base_url, timeout=60) as http:
                    if cast is None:
                        per_set = config["payments"] + config["payment_warmup"]
                        funds = f"{per_set * len(args.whatif_sets) + 1000}.00"
                        cast = set_up_cast(http, operator, port, args.payers, funds)
                    cells: dict[str, Any] = {"whatif": whatif, "balances": [], "payments": []}
                    for connections in args.whatif_connections:
                        refresh_sessions(http, cast)
                        log(f"[what-if {whatif}] balances, {connections} connections")
                        measure = functools.partial(
                            measure_balances, http, server, cast, config, workdir, connections
                        )
                        cells["balances"].append(quietest(measure, args.noisy_retries))
                    log(f"[what-if {whatif}] payments, {args.whatif_payment_connections} connections")
                    paid = measure_payments(
                        http, server, cast, target, config, workdir, args.whatif_payment_connections
                    )
                    log("    " + brief(paid) + f"; check ok={paid['check']['ok']}")
                    cells["payments"].append(paid)
                    out["sets"].append(cells)
    return out


def whatif_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"What-ifs on {report['store']}, {report['workers']} uvicorn worker(s) with TCP_NODELAY forced; "
        "each set on a fresh server process, same database:",
        "",
        "| what-if | operation | connections | requests/s | p50 ms | p99 ms | max ms | non-2xx | "
        "CPU % server / PostgreSQL / generator / other | PostgreSQL sessions opened |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    for cells in report["sets"]:
        for operation in ("balances", "payments"):
            for r in cells[operation]:
                latency = r["latency_ms"]
                lines.append(
                    f"| {cells['whatif']} | {operation} | {r['connections']} | "
                    f"**{r['requests_per_s']:,.0f}** | "
                    f"{fmt_ms(latency['p50'])} | {fmt_ms(latency['p99'])} | {fmt_ms(latency['max'])} | "
                    f"{r['non_2xx']} | {cpu_cell(r)} | {sessions_cell(r)} |"
                )
    lines += ["", *(f"* `{name}`: {text}" for name, text in WHATIFS.items()), ""]
    return "\n".join(lines)


def run_profile(args: argparse.Namespace, config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Serve the profiled application and report where one operation's time goes, per request."""
    out: dict[str, Any] = {"operation": args.profile, "store": args.profile_store, "cells": []}
    with open_target(args.profile_store, args.pg_url, workdir) as target:
        port = free_port()
        operator = bootstrap_operator(target, port)
        env = {SAMPLER_ENV: "1" if args.sampler else "0", LOOP_PROFILE_ENV: "1" if args.loop_profile else "0"}
        with run_server(target, port, args.profile_workers, workdir, PROFILED_APP, env) as server:
            with httpx.Client(base_url=server.base_url, timeout=60) as http:
                cast = set_up_cast(http, operator, port, args.payers, funds_per_payer(args, config))
                for connections in args.profile_connections:
                    log(f"[profile {args.profile}, {args.profile_store}] {connections} connections")
                    out["cells"].append(profile_cell(http, server, cast, target, config, workdir, connections,
                                                     args.profile))  # fmt: skip
                    log("    " + brief(out["cells"][-1]["load"]))
    return out


def profile_cell(
    http: httpx.Client, server: Server, cast: Cast, target: Target, config: dict[str, Any], workdir: Path,
    connections: int, operation: str,
) -> dict[str, Any]:  # fmt: skip
    refresh_sessions(http, cast)
    if operation == "balances":
        # measure_balances warms up inside the generator; reset when its window opens instead.
        resetter = threading.Timer(config["warmup_s"], lambda: http.get("/__bench/profile/reset"))
        resetter.start()
        load = measure_balances(http, server, cast, config, workdir, connections)
        resetter.join()
    else:
        count, warmup = config["payments"], config["payment_warmup"]
        prepared, _ = prepare_payments(server.base_url, cast, count + warmup)
        run_loadgen(payment_plan(server.port, cast.tpp, prepared[:warmup], connections), server.pids, workdir)
        http.get("/__bench/profile/reset")
        load = run_loadgen(
            payment_plan(server.port, cast.tpp, prepared[warmup:], connections), server.pids, workdir
        )
        load.pop("responses", None)
    dump = http.get("/__bench/profile/dump").json()
    return {"connections": connections, "load": load, "dump": dump, "table": per_request(dump, load)}


def per_request(dump: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    """Milliseconds per request: phases (wall and CPU), CPU by thread, PostgreSQL CPU; sample shares."""
    requests = max(int(dump["requests"]), 1)
    phases = {
        label: {
            "calls_per_request": round(v["calls"] / requests, 2),
            "wall_ms": round(1000 * v["wall_s"] / requests, 3),
            "cpu_ms": round(1000 * v["cpu_s"] / requests, 3),
        }
        for label, v in sorted(dump["phases"].items(), key=lambda kv: -kv[1]["wall_s"])
    }
    by_cpu = sorted(dump["thread_cpu_s"].items(), key=lambda kv: -kv[1])
    threads = {k: round(1000 * v / requests, 3) for k, v in by_cpu
               if v > 0}  # fmt: skip
    cpu = load.get("cpu_pct") or {}
    window_s = dump["wall_s"]
    postgres_ms = round(10 * cpu.get("postgres", 0.0) * window_s / requests, 3)
    samples = {}
    for group, counts in (dump.get("samples") or {}).items():
        # Shares of the samples in which the thread had work: idle samples say nothing about a request.
        busy = {k: v for k, v in counts.items() if not k.startswith(("idle", "event loop idle"))}
        total = sum(busy.values())
        if total:
            shares = {k: round(100 * v / total, 1) for k, v in sorted(busy.items(), key=lambda kv: -kv[1])}
            shares["(busy share of all samples)"] = round(100 * total / sum(counts.values()), 1)
            samples[group] = shares
    loop = dump.get("event_loop_cpu") or {}
    loop_ms = {k: round(1000 * v / requests, 3) for k, v in (loop.get("by_component_s") or {}).items()}
    return {"requests": requests, "phases": phases, "thread_cpu_ms": threads, "postgres_cpu_ms": postgres_ms,
            "sample_pct": samples, "event_loop_cpu_ms": loop_ms,
            "event_loop_top": loop.get("top_functions") or []}  # fmt: skip


# -- report ------------------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def cpu_cell(result: dict[str, Any]) -> str:
    cpu = result.get("cpu_pct") or {}
    if not cpu:
        return "n/a"
    return f"{cpu['server']:.0f} / {cpu['postgres']:.0f} / {cpu['generator']:.0f} / {cpu['other']:.0f}"


def sessions_cell(result: dict[str, Any]) -> str:
    cpu = result.get("cpu_pct") or {}
    return f"{cpu['postgres_sessions_opened']:,.0f}" if "postgres_sessions_opened" in cpu else "n/a"


def split_cell(result: dict[str, Any]) -> str:
    split = result.get("connection_split")
    return "/".join(map(str, split)) if split else "n/a"


def row(operation: str, workers: int | str, result: dict[str, Any], extra: str = "") -> str:
    latency = result["latency_ms"]
    noisy = " *(noisy)*" if (result.get("cpu_pct") or {}).get("other", 0) > NOISY_FOREIGN_CPU_PCT else ""
    return (
        f"| {operation} | {workers} | {result['connections']} | **{result['requests_per_s']:,.0f}**{noisy} | "
        f"{fmt_ms(latency['p50'])} | {fmt_ms(latency.get('p90', float('nan')))} | "
        f"**{fmt_ms(latency['p99'])}** | "
        f"{fmt_ms(latency['max'])} | {result['completed']:,} | {result['non_2xx']} | "
        f"{result['connection_errors']} | {split_cell(result)} | "
        f"{cpu_cell(result)} | {sessions_cell(result)} |{extra}"
    )


TABLE_HEAD = (
    "| operation | server | connections | requests/s | p50 ms | p90 ms | p99 ms | max ms | requests | "
    "non-2xx | connection errors | connections per worker | CPU % server / PostgreSQL / generator / other | "
    "PostgreSQL sessions opened |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|--:|"
)


def store_table(store: dict[str, Any]) -> list[str]:
    lines = [TABLE_HEAD]
    for server in store["servers"]:
        w = server["workers"]
        lines.append(row("`GET /oauth2/jwks` (stack floor, no database)", w, server["floor"]))
        for result in server["balances"]:
            lines.append(row("`GET …/accounts/{AccountId}/balances`", w, result))
        for result in server.get("wrk") or []:
            lines.append(row("`GET …/balances` (load from wrk)", w, result))
        for result in server["payments"]:
            lines.append(row("`POST …/pisp/domestic-payments`", w, result))
    return lines


def payment_checks(store: dict[str, Any]) -> list[str]:
    lines = [
        "| server | connections | payments | responses | stored orders | outbox events | "
        "debited / credited | "
        "check | consents prepared (unmeasured) |",
        "|--:|--:|--:|---|---|--:|---|---|---|",
    ]
    for server in store["servers"]:
        for result in server["payments"]:
            c, p = result["check"], result["prepare"]
            lines.append(
                f"| {server['workers']} | {result['connections']} | {result['completed']:,} | "
                f"{c['response_status']} | {c['stored_status']} | {c['outbox_events']:,} | "
                f"{c['debited_minor'] / 100:,.2f} / {c['credited_minor'] / 100:,.2f} GBP "
                f"(expected {c['expected_minor'] / 100:,.2f}) | {'ok' if c['ok'] else '**FAILED**'} | "
                f"{p['consents']:,} in {p['seconds']} s ({p['per_s']}/s) |"
            )
    return lines


def goal_lines(stores: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| store | goal | best cell meeting the p99 bound | highest throughput | status |",
        "|---|---|---|---|---|",
    ]
    for store in stores:
        for operation, goal in GOALS.items():
            cells = [(s["workers"], r) for s in store["servers"] for r in s[operation]]
            if not cells:
                continue
            within = [
                (w, r) for w, r in cells if r["latency_ms"]["p99"] <= goal["p99_ms"] and r["non_2xx"] == 0
            ]
            best = max(within, key=lambda wr: wr[1]["requests_per_s"], default=None)
            top = max(cells, key=lambda wr: wr[1]["requests_per_s"])
            met = best is not None and best[1]["requests_per_s"] >= goal["requests_per_s"]

            def describe(cell: tuple[int, dict[str, Any]] | None) -> str:
                if cell is None:
                    return "none"
                w, r = cell
                return (f"{r['requests_per_s']:,.0f}/s, p99 {fmt_ms(r['latency_ms']['p99'])} ms "
                        f"(server {w}, {r['connections']} connections)")  # fmt: skip

            lines.append(
                f"| {store['store']} | {operation}: ≥ {goal['requests_per_s']:,.0f}/s "
                f"with p99 ≤ {goal['p99_ms']:.0f} ms "
                f"| {describe(best)} | {describe(top)} | {'**met**' if met else '**not met**'} |"
            )
    return lines


def calibration_lines(calibration: dict[str, Any]) -> list[str]:
    lines = [
        "| generator | connections | requests/s | p50 ms | p99 ms | generator CPU % of one core | "
        "CPU µs per request |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, result in calibration.items():
        tool = "wrk (1 thread)" if name.startswith("wrk") else "api_load.py (Python asyncio)"
        lines.append(
            f"| {tool} | {result['connections']} | {result['requests_per_s']:,.0f} | "
            f"{fmt_ms(result['latency_ms']['p50'])} | {fmt_ms(result['latency_ms']['p99'])} | "
            f"{result['generator_cpu_pct']:.0f} | {result['generator_cpu_us_per_request']} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    host, code = report["host"], report["code"]
    lines = [
        f"Run {report['started']} ({report['wall_s']:.0f} s wall); code: commit `{code['commit']}` with "
        f"{code['src_changed_files']} changed/untracked files under src/ "
        f"(content hash {code['src_sha256']}).",
        "",
        f"Host: {host['cpus']} CPUs ({host['cpu_model']}), {host['memory_gib']} GiB, Linux {host['kernel']}, "
        f"Python {host['python']}; load average at start {host['load_average'][0]:.2f}, "
        f"host CPU {report['host_busy_at_start_pct']}% busy. Packages: "
        + ", ".join(f"{k} {v}" for k, v in host["packages"].items() if v)
        + "; not installed: "
        + ", ".join(k for k, v in host["packages"].items() if not v)
        + ".",
        "",
    ]
    if report.get("calibration"):
        lines += [
            "#### The load generator against a trivial server",
            "",
            *calibration_lines(report["calibration"]),
            "",
        ]
    for store in report["stores"]:
        db = store["database"]
        lines += [f"#### {store['store']} ({db['engine']}; {db['settings']})", "", *store_table(store), ""]
        if any(s["payments"] for s in store["servers"]):
            lines += ["Payment runs, checked afterwards:", "", *payment_checks(store), ""]
    lines += ["#### Goals", "", *goal_lines(report["stores"]), ""]
    return "\n".join(lines)


def profile_markdown(profile: dict[str, Any]) -> str:
    lines = [f"Profile of `{profile['operation']}` on {profile['store']} (profiled server, 1 process):", ""]
    for cell in profile["cells"]:
        table, load = cell["table"], cell["load"]
        lines += [
            f"**{cell['connections']} connections**: {load['requests_per_s']:,.0f}/s, p50 "
            f"{fmt_ms(load['latency_ms']['p50'])} ms, p99 {fmt_ms(load['latency_ms']['p99'])} ms "
            f"({table['requests']:,} requests in the window)",
            "",
            "| phase (calls nest) | calls/request | wall ms/request | thread CPU ms/request |",
            "|---|--:|--:|--:|",
        ]
        for label, v in table["phases"].items():
            lines.append(f"| {label} | {v['calls_per_request']} | {v['wall_ms']:.3f} | {v['cpu_ms']:.3f} |")
        lines += ["", "| CPU by thread | ms/request |", "|---|--:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in table["thread_cpu_ms"].items()]
        lines.append(f"| PostgreSQL server processes | {table['postgres_cpu_ms']:.3f} |")
        loop = {k: v for k, v in table.get("event_loop_cpu_ms", {}).items() if v >= 0.005}
        if loop:
            lines += ["", "| event loop thread CPU by component (cProfile with a thread-CPU timer: inflated, "
                      "compare shares only) | ms/request |", "|---|--:|"]  # fmt: skip
            lines += [f"| {k} | {v:.3f} |" for k, v in loop.items()]
        for group, shares in table["sample_pct"].items():
            if group == "MainThread":
                continue  # the sampler needs the GIL, so it under-samples a thread that holds it
            top = ", ".join(f"{k} {v}%" for k, v in list(shares.items())[:8])
            lines.append(f"\nWhere the {group} wait or run (stack samples): {top}")
        lines.append("")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def ints(text: str) -> list[int]:
        return [int(x) for x in text.split(",") if x]

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--stores", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite")
    parser.add_argument(
        "--servers",
        type=lambda text: [x for x in text.split(",") if x],
        default=["1", "2"],
        help="server variants: N (netfin serve --workers N), N+uvicorn (python -m uvicorn --workers N) "
        "or N+nodelay (plain uvicorn, TCP_NODELAY forced)",
    )
    parser.add_argument("--connections-balances", type=ints, default=None, help="e.g. 1,8,32")
    parser.add_argument("--connections-payments", type=ints, default=None, help="e.g. 8,32")
    parser.add_argument("--payments", type=int, default=None, help="measured payments per cell")
    parser.add_argument(
        "--payment-warmup", type=int, default=None, help="unmeasured payments before each cell"
    )
    parser.add_argument("--payers", type=int, default=4, help="customers paying (one preparing thread each)")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per balances cell")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds per balances cell")
    parser.add_argument(
        "--pg-url", default=PG_DEFAULT, help="PostgreSQL server (a bench_api_* schema is used)"
    )
    parser.add_argument("--wrk", action="store_true", help="repeat the balances cells with wrk")
    parser.add_argument("--no-calibrate", action="store_true", help="skip the generator calibration")
    parser.add_argument(
        "--noisy-retries", type=int, default=2, help="repeat a noisy floor/balances cell up to N times"
    )
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to S seconds for an idle host")
    parser.add_argument("--out", default=None, help="write the markdown here and the JSON next to it (.json)")
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.add_argument("--profile", choices=["balances", "payments"], default=None)
    parser.add_argument("--profile-store", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--profile-workers", type=int, default=1)
    parser.add_argument("--profile-connections", type=ints, default=[1, 16])
    parser.add_argument("--sampler", action="store_true", help="with --profile: also sample stacks (slower)")
    parser.add_argument(
        "--loop-profile",
        action="store_true",
        help="with --profile: cProfile the event loop thread (much slower)",
    )
    parser.add_argument("--whatif", action="store_true", help="measure the what-if sets (on --profile-store)")
    parser.add_argument(
        "--whatif-sets",
        type=lambda text: [x for x in text.split(";") if x],
        default=["none", "switch-interval", "no-pre-ping", "pool-48", "no-audit",
                 "switch-interval,no-pre-ping,pool-48"],
        help="semicolon-separated sets of comma-separated what-ifs: " + ", ".join(WHATIFS),
    )  # fmt: skip
    parser.add_argument("--whatif-workers", type=int, default=2)
    parser.add_argument("--whatif-connections", type=ints, default=[8, 32])
    parser.add_argument("--whatif-payment-connections", type=int, default=8)
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> dict[str, Any]:
    config = dict(QUICK if args.quick else FULL)
    for key, value in (("payments", args.payments), ("payment_warmup", args.payment_warmup),
                       ("duration_s", args.duration), ("warmup_s", args.warmup)):  # fmt: skip
        if value is not None:
            config[key] = value
    return config


def _interrupted(signum: int, _frame: Any) -> None:
    # A plain `kill` or `timeout` must still stop the servers and drop the scratch schema.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    args = parse_args(argv)
    config = configure(args)
    if args.wrk:
        require_wrk()
    started, wall = datetime.now(UTC), time.perf_counter()
    busy = wait_until_quiet(args.wait_quiet) if args.wait_quiet else host_busy_pct(2.0)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        if args.profile:
            report: dict[str, Any] = {"profile": run_profile(args, config, workdir)}
            text = profile_markdown(report["profile"])
        elif args.whatif:
            report = {"started": started.strftime("%Y-%m-%d %H:%M UTC"), "code": code_info(),
                      "whatif": run_whatifs(args, config, workdir)}  # fmt: skip
            text = f"Run {report['started']}, commit `{report['code']['commit']}`.\n\n" + whatif_markdown(
                report["whatif"]
            )
        else:
            report = {
                "started": started.strftime("%Y-%m-%d %H:%M UTC"), "config": config, "host": host_info(),
                "code": code_info(), "host_busy_at_start_pct": busy, "argv": sys.argv[1:],
                "calibration": None if args.no_calibrate else calibrate_generator(config, workdir, args.wrk),
                "stores": [bench_store(s, args, config, workdir) for s in args.stores.split(",") if s],
            }  # fmt: skip
            report["wall_s"] = time.perf_counter() - wall
            text = markdown(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
