"""Rejections of the audit log that are not plain input or limit errors."""

from __future__ import annotations

from netfin.core.errors import NetfinError


class AuditLogClosed(NetfinError):
    """The log was closed (or its writer stopped); nothing more can be recorded."""

    code = "audit_log_closed"


class AuditWriteFailed(NetfinError):
    """The batch holding this entry was rolled back; the entry was not recorded.

    The database error is the exception's ``__cause__``. Because an action must
    not go unaudited, callers treat this as a refusal of the action itself.
    Where the connection was lost during COMMIT the database may still have
    committed the batch; a query by ``interaction_id`` settles it.
    """

    code = "audit_write_failed"
