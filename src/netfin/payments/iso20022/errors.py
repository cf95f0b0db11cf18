"""Rejections of ISO 20022 messages.

A refused message is refused whole: ``MessageRefused`` carries every problem
found (each with its own code and, where the document has one, its line), so
that the sender can fix the file in one round. A missing XSD is a deployment
fault, not the sender's: ``SchemaUnavailable`` says which file was looked for
and where.

Public names: ``MessageRefused``, ``SchemaUnavailable``, ``PROBLEMS_MAX``.
"""

from __future__ import annotations

from collections.abc import Sequence

from netfin.core.errors import ConfigurationError, InvalidInput
from netfin.payments.iso20022.model import Problem

# Problems kept in one refusal; a file with more says how many were left out.
PROBLEMS_MAX = 1000


class MessageRefused(InvalidInput):
    """The whole message is refused; ``problems`` lists every reason.

    ``code`` is the code of the first problem in document order, so a caller
    that shows one code shows the first thing the sender must fix.
    ``message_id`` is the message's MsgId when it could be read.
    """

    code = "iso20022_message_refused"

    def __init__(
        self,
        message_name: str,
        problems: Sequence[Problem],
        *,
        message_id: str | None = None,
    ) -> None:
        ordered = tuple(sorted(problems, key=lambda p: (p.line is None, p.line or 0)))
        if len(ordered) > PROBLEMS_MAX:
            left_out = len(ordered) - PROBLEMS_MAX
            ordered = (*ordered[:PROBLEMS_MAX], Problem("problems_truncated", f"{left_out} more problem(s)"))
        first = ordered[0] if ordered else None
        summary = "; ".join(p.describe() for p in ordered[:5])
        more = f" (and {len(ordered) - 5} more)" if len(ordered) > 5 else ""
        super().__init__(
            f"{message_name} refused with {len(ordered)} problem(s): {summary}{more}",
            code=first.code if first is not None else None,
        )
        self.message_name = message_name
        self.problems = ordered
        self.message_id = message_id

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.problems)


class SchemaUnavailable(ConfigurationError):
    """A needed XSD is not installed (the schemas are configured, not shipped)."""

    code = "iso20022_schema_unavailable"
