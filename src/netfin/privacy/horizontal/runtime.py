"""Flower's deployment runtime as operating-system processes, started and always stopped.

Flower pins older versions of netfin's web stack, so it lives in its own
virtual environment (``.venv-flower``, built by ``make flower``); netfin's
main environment never imports it. A ``FlowerSession`` starts programs of that
environment (``flower-superlink``, ``flower-supernode``, ``flwr``) as
processes of their own, each in a new process group with its output in
``<audit_dir>/logs/<name>.log``, and on leaving its ``with`` block stops them
all: SIGTERM to every group, SIGKILL after a grace period, and finally
SIGKILL to any process that still carries the session's marker in its
environment. Flower's SuperLink starts its SuperExec in a session of its own,
so the process groups alone would not find everything.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import orjson

import netfin
from netfin.core.errors import InvalidInput
from netfin.privacy.horizontal.errors import FederatedRunFailed, FederatedRunTimeout, FlowerEnvironmentMissing

SESSION_ENV = "NETFIN_FLOWER_SESSION"
VENV_ENV = "NETFIN_FLOWER_VENV"
FLOWER_PROGRAMS = ("flower-superlink", "flower-supernode", "flower-superexec", "flwr")
LOG_TAIL_CHARS = 3000
STOP_GRACE_S = 5.0
STOP_SWEEPS = 50
# How often Flower's SuperExec asks for a ClientApp or ServerApp task (Flower's default is 1 s).
# The SuperNode's 3 s pull interval and the ServerApp's 3 s reply poll are fixed in Flower 1.42.
TASK_POLL_INTERVAL_S = 0.2


def find_flower_venv(explicit: Path | None = None) -> Path:
    """The Flower environment: the argument, else ``$NETFIN_FLOWER_VENV``, else ``.venv-flower``."""
    if explicit is not None:
        candidates = [explicit]
    elif os.environ.get(VENV_ENV):
        candidates = [Path(os.environ[VENV_ENV])]
    else:
        project = Path(netfin.__file__).resolve().parents[2]
        candidates = list(dict.fromkeys([project / ".venv-flower", Path.cwd() / ".venv-flower"]))
    for venv in candidates:
        if all((venv / "bin" / program).is_file() for program in FLOWER_PROGRAMS):
            return venv.resolve()
    raise FlowerEnvironmentMissing(
        f"no Flower environment at {', '.join(str(c) for c in candidates)}: run `make flower` "
        f"(it builds .venv-flower) or set {VENV_ENV}"
    )


def flower_version(venv: Path) -> str:
    found = sorted(venv.glob("lib/python*/site-packages/flwr-*.dist-info"))
    return found[-1].name.removeprefix("flwr-").removesuffix(".dist-info") if found else "unknown"


@dataclass
class FlowerSession:
    """The Flower processes of one run; leaving the ``with`` block stops all of them."""

    venv: Path
    log_dir: Path
    timeout_s: float
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)
    deadline: float = 0.0
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> FlowerSession:
        self.deadline = time.monotonic() + self.timeout_s
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._workdir = tempfile.TemporaryDirectory(prefix="netfin-flower-")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            for handle in self.logs.values():
                handle.close()
            if self._workdir is not None:
                self._workdir.cleanup()

    @property
    def workdir(self) -> Path:
        """A private scratch directory (Flower's home, the app, the result), removed at the end."""
        if self._workdir is None:
            raise FederatedRunFailed("the Flower session was not entered")
        return Path(self._workdir.name)

    def env(self) -> dict[str, str]:
        """Every Flower process: its own venv first, netfin's source for the apps, the session marker."""
        drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        keep = {k: v for k, v in os.environ.items() if k not in drop}
        return {
            **keep,
            "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "VIRTUAL_ENV": str(self.venv),
            "PYTHONPATH": str(Path(netfin.__file__).resolve().parents[1]),
            "FLWR_HOME": str(self.workdir / "flwr-home"),
            "PYTHONUNBUFFERED": "1",
            "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": str(TASK_POLL_INTERVAL_S),
            SESSION_ENV: self.token,
        }

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def spawn(self, name: str, program: str, args: list[str]) -> None:
        """Start a program of the Flower venv in a process group of its own, output to its log."""
        log = (self.log_dir / f"{name}.log").open("wb")
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(  # noqa: S603 (a program of the Flower venv, no shell)
            [str(self.venv / "bin" / program), *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=self.workdir,
            start_new_session=True,
        )

    def call(self, program: str, args: list[str]) -> tuple[int, str]:
        """Run a short command of the Flower venv to its end (within the deadline): status, output."""
        try:
            done = subprocess.run(  # noqa: S603 (a program of the Flower venv, no shell)
                [str(self.venv / "bin" / program), *args],
                capture_output=True,
                env=self.env(),
                cwd=self.workdir,
                timeout=max(0.1, self.remaining_s()),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise FederatedRunTimeout(f"`{program}` ran past the time limit of {self.timeout_s} s") from exc
        return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")

    def wait_for_port(self, port: int, name: str) -> None:
        while self.remaining_s() > 0:
            self.check_alive()
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.5)
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise FederatedRunTimeout(f"the {name} did not listen within {self.timeout_s} s" + self.tails())

    def wait_for_file(self, path: Path, what: str) -> bytes:
        """The file's bytes once it exists; every process must stay up meanwhile."""
        while self.remaining_s() > 0:
            if path.is_file():
                return path.read_bytes()
            self.check_alive()
            time.sleep(0.2)
        raise FederatedRunTimeout(f"{what} ran past its time limit of {self.timeout_s} s" + self.tails())

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise FederatedRunFailed(f"the {name} exited with status {process.returncode}" + self.tails())

    def tails(self) -> str:
        """The end of every process's log, for an error message."""
        parts = []
        for name in self.logs:
            path = self.log_dir / f"{name}.log"
            text = (
                path.read_bytes()[-LOG_TAIL_CHARS:].decode("utf-8", "replace").strip()
                if path.is_file()
                else ""
            )
            if text:
                parts.append(f"--- {name} ---\n{text}")
        return ("\n" + "\n".join(parts)) if parts else ""

    def stop(self) -> None:
        """Terminate every process group, then kill what is left, found by its session marker."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        end = time.monotonic() + STOP_GRACE_S
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        for _ in range(STOP_SWEEPS):
            marked = session_processes(self.token)
            if not marked:
                return
            for pid in marked:
                _kill(pid)
            time.sleep(0.1)
        raise FederatedRunFailed(
            f"processes of the Flower session outlived the stop: {session_processes(self.token)}"
        )


def session_processes(token: str) -> list[int]:
    """Live processes whose environment carries this session's marker (Linux ``/proc``)."""
    marker = f"{SESSION_ENV}={token}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def free_port() -> int:
    """A loopback port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def toml_table(values: dict[str, Any]) -> str:
    """``key = value`` lines; strings are written as JSON strings, which TOML reads alike."""
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not np.isfinite(value):
            raise InvalidInput(f"a setting must be finite, not {value}")
        return repr(value)
    if isinstance(value, str):
        return orjson.dumps(value).decode("utf-8")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise InvalidInput(f"a setting of type {type(value).__name__} cannot be written")


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
