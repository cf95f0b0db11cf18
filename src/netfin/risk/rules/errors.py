"""The rejections of the rule engine.

A rule set that does not validate is an expected outcome (an analyst made a
typo), not a bug: it is rejected with every problem found, each naming the
rule it belongs to, so one edit can fix them all.
"""

from __future__ import annotations

from netfin.core.errors import InvalidInput


class RuleSetInvalid(InvalidInput):
    """A rule set file that cannot be used: unreadable, malformed, or with rules that do not compile."""

    code = "ruleset_invalid"

    def __init__(self, source: str, problems: list[str] | tuple[str, ...]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        lines = "\n  ".join(self.problems)
        super().__init__(f"rule set {source} is invalid:\n  {lines}")
