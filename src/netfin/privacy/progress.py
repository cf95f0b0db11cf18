"""Progress from inside a party process to the process that started the session."""

from __future__ import annotations

from typing import IO, Any

import orjson

_sink: list[IO[bytes]] = []


def attach(sink: IO[bytes]) -> None:
    """Called once by the party process: progress lines go to ``sink``."""
    _sink[:] = [sink]


def report_progress(**fields: Any) -> None:
    """Tell the parent how far this party is (a no-op outside a party process)."""
    for sink in _sink:
        sink.write(orjson.dumps({"progress": fields}) + b"\n")
        sink.flush()
