"""Rejections of the transaction graph: malformed edges and exceeded limits."""

from __future__ import annotations

from netfin.core.errors import InvalidInput, LimitExceeded


class GraphInputInvalid(InvalidInput):
    """The edges or the query can never be valid (unequal lengths, a negative amount, a float id)."""

    code = "graph_input_invalid"


class GraphLimitExceeded(LimitExceeded):
    """More edges, nodes or a longer cycle than a named maximum allows."""

    code = "graph_limit_exceeded"
