"""The ISO 20022 XSDs: where they are, compiled once, and what they say.

The schemas are published under licences that do not allow netfin to ship
them, so they are configured: ``SchemaSet(directory)``, else the directory in
``NETFIN_ISO20022_XSD_DIR``, else ``../shared/data/iso20022/xsd`` relative to
the working directory or to the repository root. A needed file that is not
there raises ``SchemaUnavailable`` (code ``iso20022_schema_unavailable``)
naming the file and the places looked at; nothing is ever fetched.

Validation uses ``lxml.etree.XMLSchema`` (libxml2), which is fast enough for
a 10,000-transaction file; every schema error becomes a ``Problem`` with the
line of the offending element. A compiled schema is shared between threads;
its error log is per validator, so each validation holds that schema's lock.

Public names: ``SchemaSet``, ``default_schemas``, ``XSD_DIR_ENV``.
"""

from __future__ import annotations

import os
import re
import threading
from functools import lru_cache
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]

from netfin.core.errors import invariant
from netfin.payments.iso20022.document import Element, hardened_parser, serialize
from netfin.payments.iso20022.errors import MessageRefused, SchemaUnavailable
from netfin.payments.iso20022.model import EmittedMessage, Problem

XSD_DIR_ENV = "NETFIN_ISO20022_XSD_DIR"
_SHARED_XSD = Path("shared") / "data" / "iso20022" / "xsd"
_REPO_ROOT = Path(__file__).resolve().parents[4]
_ELEMENT_IN_MESSAGE = re.compile(r"Element '(?:\{[^}]*\})?([A-Za-z0-9]+)'(, attribute '([A-Za-z0-9]+)')?")


def candidate_directories(cwd: Path | None = None) -> tuple[Path, ...]:
    """Where the XSDs are looked for, in order."""
    configured = os.environ.get(XSD_DIR_ENV)
    if configured:
        return (Path(configured),)
    base = cwd if cwd is not None else Path.cwd()
    return (base.parent / _SHARED_XSD, _REPO_ROOT.parent / _SHARED_XSD)


class _CompiledSchema:
    def __init__(self, schema: Element) -> None:
        self._schema = schema
        self._lock = threading.Lock()

    def problems(self, element: Element) -> list[Problem]:
        with self._lock:
            if self._schema.validate(element):
                return []
            entries = list(self._schema.error_log)
        return [_problem_from_log_entry(entry) for entry in entries]


def _problem_from_log_entry(entry: Element) -> Problem:
    message = str(entry.message)
    return Problem(
        "schema_invalid", message, line=int(entry.line) or None, path=str(entry.path or "") or None
    )


def schema_error_subject(problem: Problem) -> tuple[str | None, str | None]:
    """(element local name, attribute name) that a libxml2 schema message is about."""
    match = _ELEMENT_IN_MESSAGE.match(problem.message)
    if match is None:
        return None, None
    return match.group(1), match.group(3)


class SchemaSet:
    """The XSDs of one directory, compiled on first use and kept."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._candidates = (Path(directory),) if directory is not None else candidate_directories()
        self.directory: Path | None = next((d for d in self._candidates if d.is_dir()), None)
        self._compiled: dict[str, _CompiledSchema] = {}
        self._lock = threading.Lock()

    def path_of(self, message_name: str) -> Path | None:
        """The XSD file for ``message_name`` ("pacs.008.001.09"), if present."""
        if self.directory is None:
            return None
        path = self.directory / f"{message_name}.xsd"
        return path if path.is_file() else None

    def has(self, message_name: str) -> bool:
        return self.path_of(message_name) is not None

    def problems(self, element: Element, message_name: str) -> list[Problem]:
        """Validate ``element`` (a Document) against ``message_name``'s XSD."""
        return self._schema(message_name).problems(element)

    def check_received(
        self, document: Element, message_name: str, *, require_schema: bool, message_id: str | None = None
    ) -> bool:
        """Validate a received Document; True when validated, False when its XSD
        is absent and ``require_schema`` is off. Schema errors: ``MessageRefused``."""
        if not self.has(message_name) and not require_schema:
            return False
        problems = self.problems(document, message_name)
        if problems:
            raise MessageRefused(message_name, problems, message_id=message_id)
        return True

    def emitted(self, document: Element, message_name: str, *, require_schema: bool = True) -> EmittedMessage:
        """Serialize a built Document after validating it against its XSD.

        A built message that fails its XSD is a bug in the builder or in input
        checks it should have made, so it is an invariant violation, not a
        rejection. Without the XSD: ``SchemaUnavailable``, or, where the caller
        turned ``require_schema`` off, the message marked ``schema_validated=False``.
        """
        if not self.has(message_name) and not require_schema:
            return EmittedMessage(serialize(document), message_name, schema_validated=False)
        problems = self.problems(document, message_name)
        details = "; ".join(p.describe() + (f" at {p.path}" if p.path else "") for p in problems[:5])
        invariant(not problems, f"built {message_name} fails its XSD: {details}")
        return EmittedMessage(serialize(document), message_name, schema_validated=True)

    def _schema(self, message_name: str) -> _CompiledSchema:
        with self._lock:
            compiled = self._compiled.get(message_name)
            if compiled is None:
                path = self.path_of(message_name)
                if path is None:
                    raise SchemaUnavailable(self._unavailable_message(message_name))
                schema = etree.XMLSchema(etree.parse(str(path), hardened_parser()))
                compiled = self._compiled[message_name] = _CompiledSchema(schema)
            return compiled

    def _unavailable_message(self, message_name: str) -> str:
        looked = ", ".join(str(d) for d in self._candidates)
        if self.directory is None:
            return (
                f"no ISO 20022 XSD directory found (looked at {looked}); "
                f"set {XSD_DIR_ENV} to the directory holding {message_name}.xsd"
            )
        return f"{message_name}.xsd is not in {self.directory}; the message cannot be validated"


@lru_cache(maxsize=1)
def default_schemas() -> SchemaSet:
    """The process-wide ``SchemaSet`` located from the environment."""
    return SchemaSet()
