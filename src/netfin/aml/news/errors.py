"""Rejections of the news early-warning context."""

from __future__ import annotations

from netfin.core.errors import ConfigurationError, InvalidInput, LimitExceeded, NetfinError, NotFound


class NewsItemInvalid(InvalidInput):
    """A headline or post that can never be valid (no text, a bad time, an unknown language)."""

    code = "news_item_invalid"


class NewsLimitExceeded(LimitExceeded):
    """A batch, a text, a feed or an entity list is larger than its named maximum."""

    code = "news_limit_exceeded"


class FeedInvalid(InvalidInput):
    """A file or feed that cannot be read as news (bad format, bad XML, bad JSON)."""

    code = "news_feed_invalid"


class FeedUnavailable(NetfinError):
    """An HTTP feed that did not answer in time or answered with an error status."""

    code = "news_feed_unavailable"


class NewsConfigInvalid(ConfigurationError):
    """The early-warning configuration is missing a setting or holds an impossible value."""

    code = "news_config_invalid"


class ScorerArtefactInvalid(ConfigurationError):
    """A trained scorer's artefact is missing, malformed or of another format version."""

    code = "news_scorer_artefact_invalid"


class WarningNotFound(NotFound):
    code = "news_warning_not_found"
