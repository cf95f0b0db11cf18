"""Message catalogues (gettext ``.po``, read with Babel at start) and the choice of language."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from babel.messages.pofile import read_po
from babel.numbers import format_currency

from netfin.payments.model import format_amount
from netfin.web.store import DEFAULT_LANGUAGE, LANGUAGES

LOCALE_DIR = Path(__file__).parent / "locale"
ACCEPT_LANGUAGE_LENGTH_MAX = 512
BABEL_LOCALE = {"zh": "zh_CN", "en": "en_GB"}
_QUALITY = re.compile(r"^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$")


def _load(lang: str) -> dict[str, str]:
    """Every catalogue (``messages.po``, ``console.po`` ...) of ``lang``, merged; no msgid twice."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        for message in catalog:
            if not (message.id and isinstance(message.string, str) and message.string):
                continue
            if str(message.id) in merged and merged[str(message.id)] != message.string:
                raise ValueError(f"{path.name}: {message.id!r} translated twice, differently")
            merged[str(message.id)] = str(message.string)
    return merged


CATALOGS: dict[str, dict[str, str]] = {lang: _load(lang) for lang in LANGUAGES}


def translator(lang: str) -> Callable[[str], str]:
    """``_(msgid)`` for ``lang``: the catalogue's text, or the msgid itself when it has none."""
    messages = CATALOGS.get(lang, CATALOGS[DEFAULT_LANGUAGE])

    def gettext(msgid: str) -> str:
        return messages.get(msgid, msgid)

    return gettext


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The ``lang`` cookie if valid, else the first of zh/en in ``Accept-Language`` by weight, else zh."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[Decimal, int, str]] = []
    for index, part in enumerate((accept_language or "")[:ACCEPT_LANGUAGE_LENGTH_MAX].split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        weight = Decimal(1)
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            if not _QUALITY.match(value.strip()):
                continue
            weight = Decimal(value.strip())
        if weight > 0:
            ranked.append((-weight, index, primary))
    return sorted(ranked)[0][2] if ranked else DEFAULT_LANGUAGE


def format_money(amount_minor: int, currency: str, lang: str) -> str:
    """Integer minor units with the currency, in the language's conventions (exact: via Decimal)."""
    return format_currency(
        Decimal(format_amount(amount_minor, currency)), currency, locale=BABEL_LOCALE[lang]
    )
