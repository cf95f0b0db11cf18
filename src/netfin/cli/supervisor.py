"""The supervisor of ``netfin serve --workers N``: uvicorn's, stopped at once by a signal.

uvicorn's ``Multiprocess`` notices SIGINT/SIGTERM only between health checks,
and a health check of a worker that is still starting waits for its answer up to
``timeout_worker_healthcheck`` (60 s here). A service manager stops the whole
process group: a worker still importing dies of the signal, and the supervisor
sat out the full minute, then took the dead worker for a crash and started a
new one before it finally exited. This supervisor marks itself stopping in the
signal handler, checks a starting worker once a second, and restarts nothing
once it is stopping.
"""

from __future__ import annotations

import signal
import socket
import time
from types import FrameType

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process, logger

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
PING_STEP_S = 1.0


class Supervisor(Multiprocess):
    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._stop)

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self.signal_queue.append(sig)  # uvicorn's own handling (its log line) still runs
        self.should_exit.set()

    def terminate_all(self) -> None:
        self.handle_signals()  # uvicorn's "Received SIGTERM, exiting." line
        super().terminate_all()

    def _answers(self, process: Process) -> bool:
        """Whether the worker answers within the health-check timeout; a stopping one waits no longer."""
        deadline = time.monotonic() + self.config.timeout_worker_healthcheck
        while not self.should_exit.is_set():
            if not process.process.is_alive():
                return False
            if process.ping(timeout=min(PING_STEP_S, max(deadline - time.monotonic(), 0.0))):
                return True
            if time.monotonic() >= deadline:
                return False
        return True  # stopping: terminate_all and join_all deal with it

    def keep_subprocess_alive(self) -> None:
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if self._answers(process):
                continue
            process.kill()  # hung or dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement
