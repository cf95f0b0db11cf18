"""A bank's own history through a column mapping: the shipped samples, every time format, clear errors."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from shared_data import skip_unless

from netfin.core.errors import LimitExceeded
from netfin.core.money import Money
from netfin.risk.events import EVENT_COLUMNS, EVENT_SCHEMA, EventKind, table_to_events
from netfin.risk.mapping import (
    HistoryRejected,
    expand_feature_names,
    load_history,
    load_mapping,
    shipped_mapping,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
FRAUD_DATA = REPO_ROOT.parent / "shared" / "data" / "fraud"
PAYSIM = FRAUD_DATA / "paysim_sample_3000.csv"
ULB = FRAUD_DATA / "ulb_creditcard_sample_all492fraud.csv"

BASIC_MAPPING = """
time: {column: when, format: iso8601}
payer: from
payee: to
amount: {column: amt, currency: EUR}
label: {column: fraud, fraud: ["yes"], legitimate: ["no"]}
"""


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _basic_csv(tmp_path: Path, rows: list[str], header: str = "when,from,to,amt,fraud") -> Path:
    return _write(tmp_path, "history.csv", "\n".join([header, *rows]) + "\n")


@skip_unless(PAYSIM.is_file(), f"PaySim sample not found at {PAYSIM} (licensed; not in the repository)")
def test_paysim_sample_loads_as_events() -> None:
    table = load_history(PAYSIM, shipped_mapping("paysim"))
    with PAYSIM.open(newline="") as handle:
        source = list(csv.DictReader(handle))
    assert table.schema == EVENT_SCHEMA
    assert table.num_rows == len(source) == 3000
    assert table.column("seq").to_pylist() == list(range(3000))
    ts = table.column("ts_ms").to_numpy()
    assert (np.diff(ts) >= 0).all()
    assert ts.min() == 1_767_225_600_000 + 3_600_000 * min(int(r["step"]) for r in source)
    assert int(np.sum(table.column("label").to_numpy())) == sum(r["isFraud"] == "1" for r in source)
    expected_cents = sum(int(Decimal(r["amount"]) * 100) for r in source)  # PaySim has two decimals at most
    assert sum(table.column("amount_minor").to_pylist()) == expected_cents
    assert set(table.column("kind").to_pylist()) <= {k.value for k in EventKind}
    scenarios = set(table.filter(pa.compute.equal(table.column("label"), 1)).column("scenario").to_pylist())
    assert scenarios <= {"takeover_transfer", "takeover_cash_out"}
    assert set(table.filter(pa.compute.equal(table.column("label"), 0)).column("scenario").to_pylist()) == {
        ""
    }
    table_to_events(table.slice(0, 5))  # rows are valid RiskEvents


@skip_unless(ULB.is_file(), f"ULB card sample not found at {ULB} (licensed; not in the repository)")
def test_ulb_card_sample_loads_with_its_pca_features() -> None:
    table = load_history(ULB, shipped_mapping("ulb_creditcard"))
    assert table.column_names == [*EVENT_COLUMNS, *(f"V{i}" for i in range(1, 29))]
    assert table.num_rows == 1722
    assert int(np.sum(table.column("label").to_numpy())) == 492
    assert set(table.column("payer").to_pylist()) == {"ulb-cardholder"}
    assert set(table.column("payee_kind").to_pylist()) == {"merchant"}
    assert table.schema.field("V28").type == pa.float64()
    with ULB.open(newline="") as handle:
        first = min(csv.DictReader(handle), key=lambda r: Decimal(r["Time"]))
    earliest = table.slice(0, 1).to_pylist()[0]
    assert earliest["ts_ms"] == 1_377_993_600_000 + int(Decimal(first["Time"]) * 1000)
    assert earliest["amount_minor"] == Money.from_decimal(Decimal(first["Amount"]), "EUR").amount_minor
    assert earliest["V1"] == pytest.approx(float(first["V1"]))


def test_amounts_are_converted_with_decimal_and_the_currency_exponent(tmp_path: Path) -> None:
    mapping = _write(
        tmp_path, "m.yaml", BASIC_MAPPING.replace("currency: EUR}", "}") + "currency: {column: ccy}\n"
    )
    rows = ["2026-01-01T00:00:00Z,a,b,0.125,no,EUR", "2026-01-01T00:00:01Z,a,b,0.135,no,EUR",
            "2026-01-01T00:00:02Z,a,b,1500,no,JPY", "2026-01-01T00:00:03Z,a,b,1.2345,no,BHD",
            "2026-01-01T00:00:04Z,a,b, 19.99 ,no,USD"]  # fmt: skip
    data = _basic_csv(tmp_path, rows, header="when,from,to,amt,fraud,ccy")
    table = load_history(data, mapping)
    assert table.column("amount_minor").to_pylist() == [12, 14, 1500, 1234, 1999]  # half to even
    for text, ccy, minor in [("0.125", "EUR", 12), ("1.2345", "BHD", 1234)]:
        assert Money.from_decimal(Decimal(text), ccy).amount_minor == minor
    assert table.column("currency").to_pylist() == ["EUR", "EUR", "JPY", "BHD", "USD"]


@pytest.mark.parametrize(
    ("time_spec", "values", "expected_ms"),
    [
        ("{column: when, format: epoch_s}", ["1700000000", "1700000000.5"],
         [1_700_000_000_000, 1_700_000_000_500]),
        ("{column: when, format: epoch_ms}", ["1700000000123", "5"], [5, 1_700_000_000_123]),
        ("{column: when, format: iso8601}", ["2026-01-01T01:00:00+01:00", "2026-01-01 00:00:01"],
         [1_767_225_600_000, 1_767_225_601_000]),
        ("{column: when, format: '%d/%m/%Y %H:%M'}", ["02/01/2026 00:00", "01/01/2026 00:01"],
         [1_767_225_660_000, 1_767_312_000_000]),
        ("{column: when, step_hours: 2, start: '2026-01-01T00:00:00Z'}", ["3", "0"],
         [1_767_225_600_000, 1_767_225_600_000 + 6 * 3_600_000]),
    ],
)  # fmt: skip
def test_every_time_format_gives_utc_milliseconds_sorted(
    tmp_path: Path, time_spec: str, values: list[str], expected_ms: list[int]
) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING.replace("{column: when, format: iso8601}", time_spec))
    data = _basic_csv(tmp_path, [f"{v},a,b,1.00,no" for v in values])
    table = load_history(data, mapping)
    assert table.column("ts_ms").to_pylist() == expected_ms
    assert table.column("seq").to_pylist() == [0, 1]


def test_options_delimiter_encoding_headerless_recoding_location_and_extras(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "m.yaml", """
delimiter: "|"
encoding: latin-1
header: false
column_names: [when, from, to, amt, fraud, type, loc, score_a, score_b]
time: {column: when, format: epoch_s}
payer: from
merchant: to
kind: {column: type, values: {ACHAT: purchase}, default: other}
amount: {column: amt, currency: EUR}
label: {column: fraud, fraud: ["1"]}
location: {column: loc, separator: ";"}
extra_features: [score_a, score_b]
""")  # fmt: skip
    data = _write(
        tmp_path,
        "h.csv",
        "2|René|Café|3.50|1|ACHAT|48.85;2.35|0.5|\n1|Zoë|Bar|1|0|RETRAIT||7|1e3\n",
        "latin-1",
    )
    table = load_history(data, mapping)
    rows = table.to_pylist()
    assert [r["payer"] for r in rows] == ["Zoë", "René"]
    assert [r["kind"] for r in rows] == ["other", "purchase"]
    assert [r["payee_kind"] for r in rows] == ["merchant", "merchant"]
    assert rows[1]["lat"] == 48.85 and rows[1]["lon"] == 2.35
    assert np.isnan(rows[0]["lat"])
    assert rows[0]["score_b"] == 1000.0
    assert np.isnan(rows[1]["score_b"])
    assert table.column_names[-2:] == ["score_a", "score_b"]


def test_parquet_history_with_numeric_and_timestamp_columns(tmp_path: Path) -> None:
    source = pa.table({
        "when": pa.array([1_767_225_601_000, 1_767_225_600_000], pa.timestamp("ms", tz="UTC")),
        "from": ["a", "b"], "to": ["c", "d"], "amt": pa.array([12.5, 3.0]), "fraud": ["no", "yes"],
    })  # fmt: skip
    path = tmp_path / "h.parquet"
    pq.write_table(source, path)
    mapping = _write(tmp_path, "m.yaml", "format: parquet\n" + BASIC_MAPPING)
    table = load_history(path, mapping)
    assert table.column("ts_ms").to_pylist() == [1_767_225_600_000, 1_767_225_601_000]
    assert table.column("amount_minor").to_pylist() == [300, 1250]
    assert table.column("label").to_pylist() == [1, 0]


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING)
    data = _basic_csv(tmp_path, ["2026-01-01T00:00:00Z,a,b,1,no"], header="when,from,to,amount,fraud")
    with pytest.raises(
        HistoryRejected, match="column 'amt' named in the mapping is not in the file"
    ) as raised:
        load_history(data, mapping)
    assert raised.value.code == "history_column_missing"


def test_a_bad_delimiter_is_refused_and_a_wrong_one_is_hinted(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", 'delimiter: ";;"\n' + BASIC_MAPPING)
    data = _basic_csv(tmp_path, ["2026-01-01T00:00:00Z,a,b,1,no"])
    with pytest.raises(HistoryRejected, match=r"delimiter must be one character.*';;'") as raised:
        load_history(data, bad)
    assert raised.value.code == "history_mapping_invalid"
    wrong = _write(tmp_path, "wrong.yaml", 'delimiter: ";"\n' + BASIC_MAPPING)
    with pytest.raises(HistoryRejected, match="is the delimiter ';' right"):
        load_history(data, wrong)


def test_a_non_numeric_amount_names_its_row_and_value(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING)
    rows = [
        "2026-01-01T00:00:00Z,a,b,1.00,no",
        "2026-01-01T00:00:01Z,a,b,2.00,no",
        "2026-01-01T00:00:02Z,a,b,12 EUR,no",
    ]
    with pytest.raises(HistoryRejected, match=r"data row 3: amt '12 EUR' is not a decimal number"):
        load_history(_basic_csv(tmp_path, rows), mapping)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2026-01-01T00:00:00Z,a,b,-1,no", "amt '-1' is not a finite, non-negative amount"),
        ("2026-01-01T00:00:00Z,a,b,1,maybe", "fraud 'maybe' is neither a fraud value"),
        ("yesterday,a,b,1,no", "when 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_bad_values_name_the_second_row(tmp_path: Path, row: str, message: str) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING)
    data = _basic_csv(tmp_path, ["2026-01-01T00:00:00Z,a,b,1,no", row])
    with pytest.raises(HistoryRejected, match=f"data row 2: {message}"):
        load_history(data, mapping)


def test_unknown_currency_and_unrecoded_kind_are_refused(tmp_path: Path) -> None:
    rows = ["2026-01-01T00:00:00Z,a,b,1,no,EUR,p2p", "2026-01-01T00:00:01Z,a,b,1,no,XXX,p2p"]
    data = _basic_csv(tmp_path, rows, header="when,from,to,amt,fraud,ccy,type")
    text = BASIC_MAPPING.replace("currency: EUR}", "}") + "currency: {column: ccy}\nkind: type\n"
    with pytest.raises(HistoryRejected, match="data row 2: ccy 'XXX' is not a currency"):
        load_history(data, _write(tmp_path, "m.yaml", text))
    data = _basic_csv(
        tmp_path, [rows[0], rows[1].replace("XXX,p2p", "EUR,wire")], header="when,from,to,amt,fraud,ccy,type"
    )
    with pytest.raises(HistoryRejected, match=r"data row 2: kind \(column 'type'\) 'wire' is not one of"):
        load_history(data, _write(tmp_path, "m.yaml", text))


def test_the_row_limit_refuses_a_longer_file(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING)
    data = _basic_csv(tmp_path, [f"2026-01-01T00:00:0{i}Z,a,b,1,no" for i in range(5)])
    assert load_history(data, mapping, row_limit=5).num_rows == 5
    with pytest.raises(LimitExceeded, match="more than 4 rows") as raised:
        load_history(data, mapping, row_limit=4)
    assert raised.value.code == "history_rows_exceed_limit"


def test_mapping_mistakes_are_reported_with_their_place(tmp_path: Path) -> None:
    no_currency = BASIC_MAPPING.replace(", currency: EUR}", "}")
    both_payees = BASIC_MAPPING + "merchant: shop\n"
    naive_start = BASIC_MAPPING.replace(
        "{column: when, format: iso8601}", "{column: when, step_hours: 1, start: '2026-01-01 00:00'}"
    )
    cases = [(no_currency, "give the currency"), (both_payees, "exactly one of 'payee' and 'merchant'"),
             (naive_start, "UTC offset"), (BASIC_MAPPING + "colour: red\n", "colour")]  # fmt: skip
    for text, message in cases:
        with pytest.raises(HistoryRejected, match=message):
            load_mapping(_write(tmp_path, "m.yaml", text))
    with pytest.raises(HistoryRejected, match="no such file"):
        load_history(tmp_path / "absent.csv", _write(tmp_path, "m.yaml", BASIC_MAPPING))


def test_feature_ranges_expand() -> None:
    assert expand_feature_names(["V1..V3", "Amount", "x9..11"]) == [
        "V1",
        "V2",
        "V3",
        "Amount",
        "x9",
        "x10",
        "x11",
    ]
    assert load_mapping(shipped_mapping("ulb_creditcard")).extra_features[-1] == "V28"


def test_a_non_numeric_feature_value_is_found_by_row(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING + "extra_features: [score]\n")
    rows = [f"2026-01-01T00:00:{i:02d}Z,a,b,1,no,{i}.5" for i in range(40)]
    rows[26] = rows[26].rsplit(",", 1)[0] + ",n/a"
    data = _basic_csv(tmp_path, rows, header="when,from,to,amt,fraud,score")
    with pytest.raises(HistoryRejected, match="data row 27: score 'n/a' is not a number"):
        load_history(data, mapping)


def test_a_malformed_csv_row_is_refused(tmp_path: Path) -> None:
    mapping = _write(tmp_path, "m.yaml", BASIC_MAPPING)
    data = _basic_csv(tmp_path, ["2026-01-01T00:00:00Z,a,b,1,no", "2026-01-01T00:00:01Z,a,b"])
    with pytest.raises(HistoryRejected, match="not readable as CSV") as raised:
        load_history(data, mapping)
    assert raised.value.code == "history_csv"
