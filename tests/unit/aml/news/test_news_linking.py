"""Linking items to customers and counterparties by name."""

from __future__ import annotations

import pytest

from netfin.aml.news.errors import NewsItemInvalid
from netfin.aml.news.linking import Linker, chinese_variants, default_fold
from netfin.aml.news.model import Entity, EntityKind, NewsItem

ENTITIES = [
    Entity("cust-1", EntityKind.CUSTOMER, ("平安银行股份有限公司",)),
    Entity("cust-2", EntityKind.CUSTOMER, ("浙江海正药业股份有限公司", "海正药业")),
    Entity("cp-1", EntityKind.COUNTERPARTY, ("Nokia Oyj",)),
    Entity("cp-2", EntityKind.COUNTERPARTY, ("Shell plc",)),
    Entity("cp-3", EntityKind.COUNTERPARTY, ("Jones Smith Trading Ltd",)),
]


@pytest.fixture(scope="module")
def linker() -> Linker:
    return Linker(ENTITIES)


def _ids(linker: Linker, text: str) -> list[str]:
    return [m.entity_id for m in linker.link_text("item", text)]


def test_chinese_short_names() -> None:
    assert chinese_variants("浙江海正药业股份有限公司", default_fold) == {
        "浙江海正药业股份有限公司",
        "浙江海正药业",
        "海正药业",
    }
    assert "平安银行" in chinese_variants("平安银行股份有限公司", default_fold)


def test_chinese_text_links_by_short_name(linker: Linker) -> None:
    assert _ids(linker, "海正药业遭证监会立案调查") == ["cust-2"]
    assert _ids(linker, "平安银行今日跌停") == ["cust-1"]
    assert _ids(linker, "平安保险今日上涨") == []


def test_latin_name_without_legal_form_and_in_any_case(linker: Linker) -> None:
    assert _ids(linker, "NOKIA shares fell on Tuesday") == ["cp-1"]
    assert _ids(linker, "Nokia Oyj said on Tuesday") == ["cp-1"]


def test_latin_token_order_and_small_misspellings(linker: Linker) -> None:
    mentions = Linker(ENTITIES).link_text("item", "Smith Jones Trading reported a loss")
    assert [m.entity_id for m in mentions] == ["cp-3"] and mentions[0].match_score == 1.0
    fuzzy = linker.link_text("item", "Jones Smyth Trading reported a loss")
    assert [m.entity_id for m in fuzzy] == ["cp-3"] and 0.9 <= fuzzy[0].match_score < 1.0


def test_no_false_link_for_a_common_word(linker: Linker) -> None:
    assert _ids(linker, "The deal was routed through a shell company in Cyprus") == []
    assert _ids(linker, "Shell cuts its dividend") == ["cp-2"]


def test_no_link_for_a_partial_name(linker: Linker) -> None:
    assert _ids(linker, "Jones reported a loss") == []


def test_an_item_links_each_entity_once() -> None:
    item = NewsItem("i1", "wire", 0, "Nokia and Shell", "Nokia Oyj again; Shell plc again")
    mentions = Linker(ENTITIES).link(item)
    assert sorted(m.entity_id for m in mentions) == ["cp-1", "cp-2"]


def test_custom_fold_is_used() -> None:
    calls: list[str] = []

    def fold(text: str) -> str:
        calls.append(text)
        return default_fold(text)

    Linker(ENTITIES, fold=fold).link_text("item", "Nokia")
    assert "Nokia" in calls


def test_threshold_is_checked() -> None:
    with pytest.raises(NewsItemInvalid):
        Linker(ENTITIES, threshold=20)
