"""The rules every ownership edge obeys."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from netfin.aml.ownership import EdgeDraft, HolderKind, OwnershipRejected, ShareKind
from netfin.aml.ownership.model import (
    check_batch_size,
    check_holder_kinds,
    check_share_sums,
    parse_share,
    parse_threshold,
)
from netfin.core.errors import InvalidInput, LimitExceeded

START = date(2024, 1, 1)


def draft(
    owner: str, owned: str, share: str, holder: HolderKind = HolderKind.ENTERPRISE, **kw: object
) -> EdgeDraft:
    return EdgeDraft(owner, holder, owned, Decimal(share), kw.pop("valid_from", START), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0.5, "ownership_share_float"),
        ("0", "ownership_share_out_of_range"),
        ("-0.1", "ownership_share_out_of_range"),
        ("1.0000000001", "ownership_share_out_of_range"),
        ("0.12345678901", "ownership_share_too_precise"),
        ("half", "ownership_share_malformed"),
        ("NaN", "ownership_share_malformed"),
    ],
)
def test_bad_shares_are_refused_by_name(value: object, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_share(value)
    assert caught.value.code == code


def test_shares_are_kept_exactly_and_canonically() -> None:
    assert str(parse_share("0.600")) == "0.6"
    assert str(parse_share("1.00")) == "1"
    assert parse_share(Decimal("0.0000000001")) == Decimal("1E-10")
    assert parse_threshold(None) == Decimal("0.25") and parse_threshold("0.1") == Decimal("0.1")


def test_no_self_ownership() -> None:
    with pytest.raises(OwnershipRejected) as caught:
        draft("A", "A", "0.1")
    assert caught.value.code == "ownership_self_edge"


def test_dates_and_ids_are_checked() -> None:
    with pytest.raises(InvalidInput, match="valid_to"):
        draft("A", "B", "0.1", valid_to=START)
    with pytest.raises(InvalidInput) as caught:
        draft("A B", "C", "0.1")
    assert caught.value.code == "ownership_holder_id_malformed"
    with pytest.raises(InvalidInput):
        draft("A", "B", "0.1", source="x" * 201)


def test_shares_in_one_enterprise_add_up_to_at_most_one_on_every_date() -> None:
    check_share_sums([draft("A", "C", "0.6"), draft("B", "C", "0.4")])
    # Voting and equity are counted apart.
    check_share_sums([draft("A", "C", "0.6"), draft("B", "C", "0.6", kind=ShareKind.VOTING)])
    # Consecutive holdings do not overlap; overlapping ones do.
    check_share_sums([draft("A", "C", "0.6", valid_to=date(2024, 6, 1)),
                      draft("B", "C", "0.6", valid_from=date(2024, 6, 1))])  # fmt: skip
    with pytest.raises(OwnershipRejected) as caught:
        check_share_sums([draft("A", "C", "0.6", valid_to=date(2024, 6, 2)),
                          draft("B", "C", "0.6", valid_from=date(2024, 6, 1))])  # fmt: skip
    assert caught.value.code == "ownership_shares_exceed_one" and "2024-06-01" in caught.value.message


def test_a_person_is_never_owned_and_keeps_one_kind() -> None:
    with pytest.raises(OwnershipRejected) as caught:
        check_holder_kinds([draft("P", "C", "0.5", HolderKind.PERSON), draft("X", "P", "0.5")])
    assert caught.value.code == "ownership_person_owned"
    with pytest.raises(OwnershipRejected) as caught:
        check_holder_kinds([draft("P", "C", "0.5", HolderKind.PERSON), draft("P", "D", "0.5")])
    assert caught.value.code == "ownership_holder_kind_conflict"


def test_batches_are_bounded() -> None:
    check_batch_size(200_000)
    with pytest.raises(LimitExceeded):
        check_batch_size(200_001)
