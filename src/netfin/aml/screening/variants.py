"""A labelled evaluation set generated from the lists themselves, deterministic for a seed.

Positives are spellings of listed names as a customer or a payment might
carry them, each labelled with the entry it must find:

- ``exact``: the name in natural order (``First Middle LAST``);
- ``typo``: one substitution, insertion, deletion or transposition in one token;
- ``transliteration``: another Latin spelling of the same sounds (Mohammed /
  Muhammad, ou / u, kh / h, j / dj, doubled or single consonants ...);
- ``cyrillic`` and ``arabic``: the name written in Cyrillic, or in Arabic
  script without short vowels (as Arabic writes it);
- ``swapped``: the tokens in reverse order;
- ``dropped_middle``: one middle name left out (names of three tokens or more);
- ``pinyin``: a Chinese name written in Han characters (the screener must
  romanise it back).

Negatives are common names from many cultures, combined at random, of which
every one whose order-free form equals a listed name's is removed first, so
that each is known not to be listed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pypinyin import lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

from netfin.aml.screening.model import EntryKind, ListEntry
from netfin.aml.screening.normalise import PARTICLES, forms, sorted_key
from netfin.core import yamltext

KINDS = ("exact", "typo", "transliteration", "cyrillic", "arabic", "swapped", "dropped_middle", "pinyin")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"

_TRANSLITERATIONS: tuple[tuple[str, str], ...] = (
    (r"\bmohamm?ed\b", "muhammad"),
    (r"\bmuhamm?ad\b", "mohammed"),
    (r"\bmohamad\b", "muhammad"),
    (r"\bahmed\b", "ahmad"),
    (r"\bahmad\b", "ahmed"),
    (r"\byusuf\b", "youssef"),
    (r"\byousef\b", "yusuf"),
    (r"\bhussein\b", "husayn"),
    (r"\bhusayn\b", "hussein"),
    (r"\babdul\b", "abdel"),
    (r"\babdel\b", "abdul"),
    (r"ou", "u"),
    (r"(?<![aeiou])u(?![aeiou])", "ou"),
    (r"kh", "h"),
    (r"(?<!s)h(?!h)", "kh"),
    (r"\bj", "dj"),
    (r"q", "k"),
    (r"(?<!c)k", "q"),
    (r"ee", "i"),
    (r"(?<=[^aeiou])i(?=[^aeiou])", "ee"),
    (r"ph", "f"),
    (r"w", "v"),
    (r"v", "w"),
    (r"ei", "ey"),
    (r"ay", "ai"),
    (r"y\b", "i"),
    (r"i\b", "y"),
    (r"ss", "s"),
    (r"(?<=[aeiou])s(?=[aeiou])", "ss"),
    (r"mm", "m"),
    (r"dd", "d"),
    (r"ll", "l"),
    (r"sh", "sch"),
    (r"ch", "tch"),
    (r"tch", "ch"),
    (r"x", "ks"),
    (r"c(?=[aou])", "k"),
    (r"oe", "o"),
)

_CYRILLIC = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("kh", "х"),
    ("zh", "ж"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ya", "я"),
    ("yo", "ё"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("y", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "к"),
    ("q", "к"),
    ("w", "в"),
    ("x", "кс"),
    ("j", "дж"),
)
_ARABIC_CONSONANTS = (
    ("kh", "خ"),
    ("sh", "ش"),
    ("th", "ث"),
    ("dh", "ذ"),
    ("gh", "غ"),
    ("b", "ب"),
    ("t", "ت"),
    ("j", "ج"),
    ("h", "ح"),
    ("d", "د"),
    ("r", "ر"),
    ("z", "ز"),
    ("s", "س"),
    ("f", "ف"),
    ("q", "ق"),
    ("k", "ك"),
    ("l", "ل"),
    ("m", "م"),
    ("n", "ن"),
    ("w", "و"),
    ("y", "ي"),
    ("g", "غ"),
    ("p", "ب"),
    ("v", "ف"),
    ("c", "ك"),
    ("x", "كس"),
)
_ARABIC_LONG = (("aa", "ا"), ("ee", "ي"), ("ii", "ي"), ("oo", "و"), ("ou", "و"), ("uu", "و"))


@dataclass(frozen=True, slots=True)
class Variant:
    """One labelled query: ``expected`` is the entry key it must find, None for a true non-match."""

    query: str
    kind: str
    expected: str | None
    source: str


def natural_name(entry: ListEntry) -> str:
    """``LAST, First Middle`` (OFAC's order) as ``First Middle LAST``; other names as they are."""
    if entry.kind == EntryKind.PERSON and entry.name.count(",") == 1:
        last, first = (p.strip() for p in entry.name.split(","))
        return f"{first} {last}".strip()
    return entry.name


def _tokens(name: str) -> list[str]:
    found = forms(name)
    return list(found[0]) if found else []


def typo(name: str, rng: random.Random) -> str | None:
    tokens = _tokens(name)
    long = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
    if not long:
        return None
    i = rng.choice(long)
    t = tokens[i]
    p = rng.randrange(1, len(t) - 1)
    edit = rng.choice(("substitute", "insert", "delete", "transpose"))
    if edit == "substitute":
        t = t[:p] + rng.choice(_LETTERS.replace(t[p], "")) + t[p + 1 :]
    elif edit == "insert":
        t = t[:p] + rng.choice(_LETTERS) + t[p:]
    elif edit == "delete":
        t = t[:p] + t[p + 1 :]
    else:
        t = t[:p] + t[p + 1] + t[p] + t[p + 2 :]
    tokens[i] = t
    return " ".join(tokens)


def transliteration(name: str, rng: random.Random) -> str | None:
    text = " ".join(_tokens(name))
    rules = [(pattern, repl) for pattern, repl in _TRANSLITERATIONS if re.search(pattern, text)]
    if not rules:
        return None
    for pattern, repl in rng.sample(rules, min(2, len(rules))):
        text = re.sub(pattern, repl, text, count=1)
    return text if text != " ".join(_tokens(name)) else None


def _spell(token: str, table: Iterable[tuple[str, str]]) -> str:
    out: list[str] = []
    i = 0
    pairs = sorted(table, key=lambda p: -len(p[0]))
    while i < len(token):
        for latin, script in pairs:
            if token.startswith(latin, i):
                out.append(script)
                i += len(latin)
                break
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


def cyrillic(name: str) -> str | None:
    tokens = [t for t in _tokens(name) if t.isalpha()]
    return " ".join(_spell(t, _CYRILLIC) for t in tokens).title() if tokens else None


def _arabic_token(token: str) -> str:
    if token in PARTICLES and token in {"al", "el"}:
        return "ال"
    head = "ا" if token[0] in "aeiou" else ""
    body = token[1:] if head else token
    for latin, script in _ARABIC_LONG:
        body = body.replace(latin, script)
    tail = {"a": "ا", "i": "ي", "y": "ي", "u": "و", "o": "و"}.get(body[-1:], "") if body else ""
    body = re.sub(r"[aeiou]", "", body[:-1] if tail else body)
    body = re.sub(r"([a-z])\1", r"\1", body)  # a doubled consonant is written once (with a shadda)
    return head + _spell(body, _ARABIC_CONSONANTS) + tail


def arabic(name: str) -> str | None:
    tokens = [t for t in _tokens(name) if t.isalpha()]
    return " ".join(_arabic_token(t) for t in tokens) if tokens else None


def swapped(name: str) -> str | None:
    tokens = _tokens(name)
    return " ".join(reversed(tokens)) if len(tokens) >= 2 else None


def dropped_middle(name: str, rng: random.Random) -> str | None:
    tokens = _tokens(name)
    middle = [i for i in range(1, len(tokens) - 1) if tokens[i] not in PARTICLES]
    if len(tokens) < 3 or not middle:
        return None
    drop = rng.choice(middle)
    return " ".join(t for i, t in enumerate(tokens) if i != drop)


def _character_frequencies() -> dict[str, int]:
    """How often each single Han character occurs as a word in jieba's shipped dictionary."""
    import jieba

    counts: dict[str, int] = {}
    with jieba.get_dict_file() as handle:
        for raw in handle:
            word, _, rest = raw.decode("utf-8").partition(" ")
            if len(word) == 1:
                counts[word] = int(rest.split(" ", 1)[0] or 0)
    return counts


@lru_cache(maxsize=1)
def _han_for_syllable() -> dict[str, str]:
    """The most frequent Han character with a single reading for each toneless pinyin syllable."""
    frequencies = _character_frequencies()
    best: dict[str, tuple[int, str]] = {}
    for code in sorted(pinyin_dict):
        if not 0x4E00 <= code <= 0x9FFF or "," in pinyin_dict[code]:
            continue
        char = chr(code)
        syllable = lazy_pinyin(char)[0]
        rank = frequencies.get(char, 0)
        if syllable.isalpha() and (syllable not in best or rank > best[syllable][0]):
            best[syllable] = (rank, char)
    return {syllable: char for syllable, (_, char) in best.items()}


def _split_syllables(token: str, table: dict[str, str]) -> list[str] | None:
    if not token:
        return []
    for end in range(min(len(token), 6), 0, -1):
        if token[:end] in table:
            rest = _split_syllables(token[end:], table)
            if rest is not None:
                return [token[:end], *rest]
    return None


def pinyin(entry: ListEntry) -> str | None:
    """A Chinese person's name in Han characters, surname first, or None where it is not pinyin."""
    if entry.kind != EntryKind.PERSON or "CN" not in entry.countries or entry.name.count(",") != 1:
        return None
    table = _han_for_syllable()
    last, first = (p.strip().casefold() for p in entry.name.split(","))
    surname = _split_syllables(last.replace(" ", ""), table)
    given = _split_syllables(first.replace(" ", ""), table)
    if not surname or not given or len(surname) + len(given) > 4:
        return None
    return "".join(table[s] for s in [*surname, *given])


def _variant(kind: str, entry: ListEntry, rng: random.Random) -> str | None:
    name = natural_name(entry)
    makers: dict[str, Callable[[], str | None]] = {
        "exact": lambda: name,
        "typo": lambda: typo(name, rng),
        "transliteration": lambda: transliteration(name, rng),
        "cyrillic": lambda: cyrillic(name),
        "arabic": lambda: arabic(name),
        "swapped": lambda: swapped(name),
        "dropped_middle": lambda: dropped_middle(name, rng),
        "pinyin": lambda: pinyin(entry),
    }
    if kind in {"cyrillic", "arabic", "dropped_middle"} and entry.kind != EntryKind.PERSON:
        return None
    return makers[kind]()


def positives(entries: Sequence[ListEntry], *, seed: int, per_kind: int) -> list[Variant]:
    """Up to ``per_kind`` labelled variants of each kind, from entries drawn with ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible evaluation set, not a secret
    eligible = [e for e in entries if e.kind in {EntryKind.PERSON, EntryKind.ENTITY} and _tokens(e.name)]
    found: list[Variant] = []
    for kind in KINDS:
        pool = eligible if kind != "pinyin" else [e for e in eligible if "CN" in e.countries]
        order = rng.sample(pool, len(pool))
        made = 0
        for entry in order:
            query = _variant(kind, entry, rng)
            if query and forms(query):
                found.append(Variant(query, kind, entry.key, entry.name))
                made += 1
                if made >= per_kind:
                    break
    return found


def common_names() -> dict[str, dict[str, list[str]]]:
    """Common given names and surnames by culture (the packaged ``config/common_names.yaml``)."""
    text = (resources.files("netfin.aml.screening") / "config" / "common_names.yaml").read_text("utf-8")
    raw: dict[str, dict[str, list[str]]] = yamltext.safe_load(text)
    return raw


def negatives(entries: Sequence[ListEntry], *, seed: int, count: int) -> list[Variant]:
    """``count`` common names (given + surname, same culture) whose order-free form no listed name has."""
    listed = {sorted_key(f) for e in entries for text, _ in e.names() for f in forms(text)}
    cultures = common_names()
    rng = random.Random(seed)  # noqa: S311 - a reproducible evaluation set, not a secret
    seen: set[str] = set()
    found: list[Variant] = []
    names = sorted(cultures)
    for _ in range(count * 20):
        culture = cultures[rng.choice(names)]
        given = rng.choice(culture["given"])
        name = f"{given} {rng.choice(culture['surnames'])}"
        if rng.random() < 0.25:
            name = f"{given} {rng.choice(culture['given'])} {rng.choice(culture['surnames'])}"
        key = sorted_key(forms(name)[0])
        if key in listed or key in seen:
            continue
        seen.add(key)
        found.append(Variant(name, "non_match", None, "common names"))
        if len(found) >= count:
            break
    return found
