"""Any transaction history, read through a column mapping, as monitoring's ``Txn`` table.

The mapping format is risk control's (``netfin.risk.mapping``: a short YAML
naming the columns for time, payer, payee, amount and currency, kind, payee
kind, country, segment), so one file describes a bank's history for both.
``aml/mappings/amlsim.yaml`` is a worked example. The event contract then
becomes monitoring's transactions:

- a top-up is money coming in: its direction is reversed (the external
  account pays the customer);
- cash-outs are ``cash_out``; purchases ``card``; cross-border payments
  ``cross_border`` with the payee abroad in ``country`` and the payer at home;
- the payer is an entity when its segment is ``business``; a payee's kind
  (person, business, merchant, biller, external) gives the payee's.

Account-level labels (``--labels``) are a CSV with columns ``account`` and
``typology`` (one row per account and typology; ``typology`` may be empty
for a laundering account of unknown typology).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from netfin.aml.monitoring.model import TXN_SCHEMA, Channel, PartyKind
from netfin.core.errors import InvalidInput
from netfin.risk.events import EventKind, PayeeKind
from netfin.risk.mapping import load_mapping, read_history

MAPPINGS_DIR = Path(__file__).with_name("mappings")
LABEL_ROWS_MAX = 10_000_000


def shipped_mapping(name: str) -> Path:
    path = MAPPINGS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise InvalidInput(f"no shipped AML mapping {name!r}", code="mapping_not_found")
    return path


def load_txns(data: str | Path, mapping: str | Path, *, home_country: str = "CN") -> pa.Table:
    """Read ``data`` (CSV or Parquet) through ``mapping`` into a ``TXN_SCHEMA`` table sorted by time."""
    events = read_history(data, load_mapping(mapping))
    return txns_from_events(events, home_country=home_country)


def txns_from_events(events: pa.Table, *, home_country: str = "CN") -> pa.Table:
    """Risk control's event table (``EVENT_SCHEMA``) as monitoring's transactions."""
    kind = events.column("kind")
    top_up = pc.equal(kind, EventKind.TOP_UP.value)
    payer, payee = events.column("payer"), events.column("payee")
    payee_kind = events.column("payee_kind")
    payer_kind = pc.if_else(
        pc.equal(events.column("segment"), "business"), PartyKind.ENTITY.value, PartyKind.PERSON.value
    )
    payee_party = _payee_kinds(payee_kind)
    cross = pc.equal(kind, EventKind.CROSS_BORDER.value)
    channel = pc.if_else(
        cross,
        Channel.CROSS_BORDER.value,
        pc.if_else(
            pc.equal(kind, EventKind.CASH_OUT.value),
            Channel.CASH_OUT.value,
            pc.if_else(pc.equal(kind, EventKind.PURCHASE.value), Channel.CARD.value, Channel.TRANSFER.value),
        ),
    )
    country = events.column("country")
    dst_country = pc.if_else(cross, country, pa.scalar("", pa.string()))
    src_country = pc.if_else(cross, pa.scalar(home_country, pa.string()), pa.scalar("", pa.string()))
    columns = {
        "txn_id": pc.cast(events.column("seq"), pa.string()),
        "ts_ms": events.column("ts_ms"),
        "src": pc.if_else(top_up, payee, payer),
        "dst": pc.if_else(top_up, payer, payee),
        "amount_minor": events.column("amount_minor"),
        "currency": events.column("currency"),
        "channel": channel,
        "src_kind": pc.if_else(top_up, PartyKind.EXTERNAL.value, payer_kind),
        "dst_kind": pc.if_else(top_up, payer_kind, payee_party),
        "src_country": src_country,
        "dst_country": dst_country,
        "label": events.column("label"),
        "typology": events.column("scenario"),
    }
    return pa.Table.from_pydict({k: _chunked(v) for k, v in columns.items()}, schema=TXN_SCHEMA)


def _payee_kinds(payee_kind: pa.ChunkedArray) -> pa.ChunkedArray:
    entity = pc.is_in(
        payee_kind,
        value_set=pa.array([PayeeKind.BUSINESS.value, PayeeKind.MERCHANT.value, PayeeKind.BILLER.value]),
    )
    external = pc.equal(payee_kind, PayeeKind.EXTERNAL.value)
    return pc.if_else(
        external, PartyKind.EXTERNAL.value, pc.if_else(entity, PartyKind.ENTITY.value, PartyKind.PERSON.value)
    )


def _chunked(value: object) -> pa.ChunkedArray:
    if isinstance(value, pa.ChunkedArray):
        return value
    return pa.chunked_array([value])


def load_labels(path: str | Path) -> dict[str, set[str]]:
    """Account -> the typologies it is labelled with (an empty set: laundering of unknown typology)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no labels file at {p}", code="labels_not_found")
    labels: dict[str, set[str]] = {}
    with p.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "account" not in reader.fieldnames:
            raise InvalidInput(
                "the labels file needs a header with an 'account' column", code="labels_invalid"
            )
        for n, row in enumerate(reader, start=1):
            if n > LABEL_ROWS_MAX:
                raise InvalidInput(f"at most {LABEL_ROWS_MAX} label rows", code="labels_too_many")
            account = (row.get("account") or "").strip()
            if not account:
                raise InvalidInput(f"label row {n} has no account", code="labels_invalid")
            typology = (row.get("typology") or "").strip()
            known = labels.setdefault(account, set())  # no typology: laundering of unknown typology
            if typology:
                known.add(typology)
    return dict(labels)
