"""Rejections a notification receiver raises when it refuses a request."""

from __future__ import annotations

from netfin.core.errors import Unauthenticated


class NotificationRefused(Unauthenticated):
    """A receiver refused a notification; ``code`` says which rule it broke."""

    code = "notification_refused"


class SignatureInvalid(NotificationRefused):
    """The signature header is missing or malformed, names another key, or does not verify."""

    code = "signature_invalid"


class TimestampOutOfTolerance(NotificationRefused):
    """The signed timestamp is further from the receiver's clock than the tolerance."""

    code = "timestamp_out_of_tolerance"


class NotificationReplayed(NotificationRefused):
    """The receiver has already accepted a notification with this event id."""

    code = "notification_replayed"
