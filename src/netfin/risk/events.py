"""The one shape of a payment event that risk control reads.

Every producer (the payment path, the synthetic bank, a bank's own history
loaded through a column mapping) turns its records into this shape, and every
consumer (features online and offline, rules, the model, backtests) reads it.
Money stays in integer minor units; the location is a coordinate, not money.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import pyarrow as pa


class PayeeKind(enum.StrEnum):
    PERSON = "person"
    BUSINESS = "business"
    MERCHANT = "merchant"
    BILLER = "biller"
    EXTERNAL = "external"  # an account at another bank, at home or abroad


class EventKind(enum.StrEnum):
    SALARY = "salary"
    RENT = "rent"
    BILL = "bill"
    PURCHASE = "purchase"
    P2P = "p2p"
    CROSS_BORDER = "cross_border"
    BNPL_REPAYMENT = "bnpl_repayment"
    CASH_OUT = "cash_out"
    TOP_UP = "top_up"
    OTHER = "other"


class Scenario(enum.StrEnum):
    """Labelled fraud scenarios the synthetic bank injects ("" is legitimate)."""

    NONE = ""
    ACCOUNT_TAKEOVER = "account_takeover"
    CARD_TESTING = "card_testing"
    APP_SCAM = "app_scam"  # authorised push-payment scam: the victim pays a mule
    MULE_NETWORK = "mule_network"  # fan-in then cash-out
    SYNTHETIC_IDENTITY = "synthetic_identity"  # build limits, then bust out


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """One payment as risk control sees it.

    ``seq`` orders events that share a millisecond: the stream order is
    (``ts_ms``, ``seq``), and every windowed feature is defined on it.
    ``lat``/``lon`` are NaN when the channel gave no location; ``device``,
    ``mcc`` and ``country`` are "" when unknown.
    """

    seq: int
    ts_ms: int
    payer: str
    payee: str
    payee_kind: str
    kind: str
    amount_minor: int
    currency: str
    mcc: str = ""
    device: str = ""
    lat: float = math.nan
    lon: float = math.nan
    country: str = ""
    channel: str = ""
    segment: str = ""  # the payer's segment: person, business, new_customer ...
    label: int = 0  # 1 = fraud, where known (history, simulator)
    scenario: str = ""  # the simulator's scenario name; "" when legitimate or unknown


# The Arrow schema of a stored event stream (Parquet files, training sets).
EVENT_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
        pa.field("payer", pa.string(), nullable=False),
        pa.field("payee", pa.string(), nullable=False),
        pa.field("payee_kind", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("amount_minor", pa.int64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("mcc", pa.string(), nullable=False),
        pa.field("device", pa.string(), nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("country", pa.string(), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        pa.field("label", pa.int8(), nullable=False),
        pa.field("scenario", pa.string(), nullable=False),
    ]
)

EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)


def events_to_table(events: list[RiskEvent]) -> pa.Table:
    """A list of events as an Arrow table with ``EVENT_SCHEMA``."""
    columns = {name: [getattr(e, name) for e in events] for name in EVENT_COLUMNS}
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


def table_to_events(table: pa.Table) -> list[RiskEvent]:
    """Rows of an ``EVENT_SCHEMA`` table as events (for tests and replays of small tables)."""
    table = table.select(list(EVENT_COLUMNS))
    data = table.to_pydict()
    return [RiskEvent(**{name: data[name][i] for name in EVENT_COLUMNS}) for i in range(table.num_rows)]
