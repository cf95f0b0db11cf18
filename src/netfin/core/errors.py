"""Error types shared by every context.

Two kinds of failure (see CONVENTIONS.md): a *rejection* is an expected
business outcome with a rule-like code (``exceeds_credits``); an *invariant
violation* is a bug and crashes the process.
"""

from __future__ import annotations


class NetfinError(Exception):
    """A rejection: an expected outcome with a stable, rule-like code."""

    code: str = "netfin_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidInput(NetfinError):
    """The caller sent something that can never be valid (wrong type, out of range)."""

    code = "invalid_input"


class NotFound(NetfinError):
    code = "not_found"


class LimitExceeded(NetfinError):
    """A named maximum from ``core.limits`` was exceeded."""

    code = "limit_exceeded"


class Unauthenticated(NetfinError):
    """The caller's credentials are missing, malformed, expired or not ours."""

    code = "unauthenticated"


class Forbidden(NetfinError):
    """The caller is known but has no right to this action or resource."""

    code = "forbidden"


class Conflict(NetfinError):
    """The request clashes with the current state (a reused key, a consumed consent)."""

    code = "conflict"


class ConfigurationError(NetfinError):
    """A setting (URL, key, environment variable) is missing or malformed."""

    code = "configuration_error"


class InvariantViolation(Exception):
    """A bug. Never caught: the process must stop rather than move money wrongly."""


def invariant(condition: bool, message: str) -> None:
    """Check an invariant. Unlike ``assert`` this survives ``python -O``."""
    if not condition:
        raise InvariantViolation(message)
