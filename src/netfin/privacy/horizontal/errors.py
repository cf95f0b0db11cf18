"""The rejections of a horizontal federated run."""

from __future__ import annotations

from netfin.core.errors import ConfigurationError, NetfinError


class FlowerEnvironmentMissing(ConfigurationError):
    """The separate Flower environment (``.venv-flower``) is not there; ``make flower`` builds it."""

    code = "flower_environment_missing"


class FederatedRunFailed(NetfinError):
    """A Flower process failed or exited early; the message carries the tails of their logs."""

    code = "federated_run_failed"


class FederatedRunTimeout(FederatedRunFailed):
    """The run did not finish within its time limit; every process was stopped."""

    code = "federated_run_timeout"
