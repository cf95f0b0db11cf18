"""One normaliser for list names and queries, so both sides are compared in the same form.

A name becomes one or more *forms*, each a tuple of ASCII tokens:

1. Han characters become pinyin with pypinyin: a personal name (two to four
   characters) as its surname and its given name joined (``习近平`` ->
   ``xi jinping``), and as separate syllables (``xi jin ping``), so both
   spellings found in the wild compare well; compound surnames (``欧阳``)
   stay one token. Chinese company suffixes (``有限公司``) are dropped first.
2. Every other script becomes ASCII with anyascii (Cyrillic ``Путин`` ->
   ``putin``, Arabic ``محمد`` -> ``mhmd``, whose consonant skeleton the
   phonetic key still matches against ``muhammad``).
3. Case is folded, apostrophes vanish (``rifa'i`` -> ``rifai``), other
   punctuation separates tokens, honorifics and titles (Mr, Dr, Sheikh,
   Haji, Mullah, Maulavi, General, ...) and legal-form suffixes (LLC, Ltd,
   Co, GmbH, OOO, ...) are dropped unless nothing else would remain.

Token order is kept in a form but never used for scoring: scorers sort the
tokens. ``phonetic_key`` gives a token's Metaphone code (jellyfish), which
makes ``mohammed``, ``muhammad`` and ``mhmd`` agree.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish
from anyascii import anyascii
from pypinyin import lazy_pinyin

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc\u02bb`\u00b4]")
_SEPARATORS = re.compile(r"[^0-9a-z]+")

HONORIFICS = frozenset(
    """mr mrs ms miss mx dr doctor prof professor sir dame lord lady sheikh shaikh shaykh sheik sheykh
    haji hajji hadji alhaji alhajj hajj mullah mulla molla maulavi mawlawi maulvi moulavi maulana mawlana
    imam ayatollah hojatoleslam qari general gen colonel col major maj captain capt lieutenant lt
    sergeant sgt admiral brigadier marshal commander cmdr president minister senator judge eng engineer
    excellency hrh rev reverend father brother sister""".split()
)

ENTITY_SUFFIXES = frozenset(
    """llc ltd limited co company corp corporation inc incorporated plc sa sas sarl srl spa gmbh ag kg
    bv nv oy ab jsc ojsc cjsc pjsc ooo zao oao pao tov fze fzco fzc fz llp lp pte pty bhd sdn sirketi
    anonim sti lda ltda cia sl sal""".split()
)

# Connecting particles carry little identity: they weigh a quarter of an ordinary token.
PARTICLES = frozenset(
    "al el ul bin bn ben ibn bint binti de del della da di do dos das du la le van von der den ter y".split()
)

_HAN_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司")
_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 轩辕 独孤 南宫 西门".split()
)
_FORMS_CACHE_MAX = 1 << 17


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


def _han_forms(run: str) -> list[list[str]]:
    """A Han run's token lists: surname plus joined given name, and syllable by syllable."""
    company = False
    for suffix in _HAN_SUFFIXES:
        if run.endswith(suffix) and len(run) > len(suffix):
            run, company = run[: -len(suffix)], True
            break
    syllables = [s for s in lazy_pinyin(run, errors="ignore") if s]
    if not syllables:
        return [[]]
    if not company and 2 <= len(run) <= 4 and len(syllables) == len(run):
        surname_chars = 2 if run[:2] in _COMPOUND_SURNAMES and len(run) >= 3 else 1
        surname = "".join(syllables[:surname_chars])
        given = "".join(syllables[surname_chars:])
        return [[surname, given], [surname, *syllables[surname_chars:]]]
    return [syllables]


def _ascii_tokens(text: str) -> list[str]:
    text = anyascii(unicodedata.normalize("NFKC", text)).casefold()
    text = _APOSTROPHES.sub("", text)
    return [t for t in _SEPARATORS.split(text) if t]


def _strip(tokens: list[str]) -> list[str]:
    """Drop honorifics anywhere and legal-form suffixes at the end, never emptying the name."""
    kept = [t for t in tokens if t not in HONORIFICS] or tokens
    while len(kept) > 1 and kept[-1] in ENTITY_SUFFIXES:
        kept = kept[:-1]
    return kept


@lru_cache(maxsize=_FORMS_CACHE_MAX)
def forms(name: str) -> tuple[tuple[str, ...], ...]:
    """The comparable forms of a name (one, or two where it holds Han characters); never empty forms."""
    if not has_han(name):
        tokens = _strip(_ascii_tokens(name))
        return (tuple(tokens),) if tokens else ()
    # Split into Han runs and the rest; each Han run may give two spellings.
    pieces: list[list[list[str]]] = []
    position = 0
    for match in _HAN.finditer(name):
        pieces.append([_ascii_tokens(name[position : match.start()])])
        pieces.append(_han_forms(match.group()))
        position = match.end()
    pieces.append([_ascii_tokens(name[position:])])
    variants: list[list[str]] = [[]]
    for options in pieces:
        variants = [v + option for v in variants for option in options][:4]
    result: list[tuple[str, ...]] = []
    for tokens in variants:
        stripped = tuple(_strip(tokens))
        if stripped and stripped not in result:
            result.append(stripped)
    return tuple(result)


def fold(name: str) -> str:
    """A name's comparable form as one string: ASCII, case-folded, no titles, tokens in given order.

    Other AML code uses it to compare names the way screening does
    (``fold("Dr. Ayman AL-ZAWAHIRI") == "ayman al zawahiri"``).
    """
    found = forms(name)
    return " ".join(found[0]) if found else ""


def sorted_key(tokens: tuple[str, ...]) -> str:
    """The order-free form: tokens sorted and joined by single spaces."""
    return " ".join(sorted(tokens))


@lru_cache(maxsize=_FORMS_CACHE_MAX)
def phonetic_key(token: str) -> str:
    """Metaphone of a token; digits and one-letter tokens are their own key."""
    if len(token) < 2 or not token.isalpha():
        return token
    return jellyfish.metaphone(token) or token


_VOWELS = re.compile(r"[aeiouyw]")
_SKELETON_MAP = str.maketrans({"q": "k", "c": "k", "v": "f", "p": "b"})


def has_vowels(token: str) -> bool:
    return any(ch in "aeiou" for ch in token)


@lru_cache(maxsize=_FORMS_CACHE_MAX)
def skeleton_key(token: str) -> str:
    """A token's consonants (no vowels, no w/y, doubles collapsed): how abjad scripts write a name.

    Arabic script leaves short vowels out, so ``محمد`` romanises to ``mhmd``;
    its skeleton equals that of ``muhammad``. Screening compares skeletons
    only where one of the two tokens has no vowels at all.
    """
    bare = _VOWELS.sub("", token).translate(_SKELETON_MAP)
    return re.sub(r"(.)\1+", r"\1", bare)


def token_weight(token: str) -> float:
    """Longer tokens identify more; particles (al, bin, van, ...) weigh a quarter."""
    weight = float(min(len(token), 8)) + 2.0
    return weight * 0.25 if token in PARTICLES else weight


def original_script_key(name: str) -> str:
    """A name in its own script, compared exactly: NFKC, no spaces or punctuation, case-folded."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in text if ch.isalnum())
