"""The wallet page (its class, limits and how to raise them) and speech for elder mode.

A wallet's class follows the holder's KYC level (the wallet profile's table);
the page shows every class, which evidence reaches it, and offers the
upgrade the customer's current level already allows.

``POST /speech`` is the server-side voice for browsers without speech
synthesis: espeak-ng reads a short text (at most ``SPEECH_TEXT_MAX``
characters, passed as one argument, never through a shell) and the WAV comes
back. It is off (503) where espeak-ng is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netfin.core.errors import NetfinError
from netfin.core.ids import format_id
from netfin.identity.model import KYC_EVIDENCE, KycLevel
from netfin.payments.wallets.model import UNLIMITED
from netfin.web.common import (
    Visit,
    audit,
    json_reply,
    redirect,
    refused,
    secured,
    session_csrf_ok,
    visit_of,
    visit_page,
)  # fmt: skip
from netfin.web.i18n import format_money, translator

router = APIRouter(include_in_schema=False)
SPEECH_TEXT_MAX = 300
SPEECH_TIMEOUT_S = 10
VOICES = {"zh": "cmn", "en": "en-gb"}
WalletPath = Annotated[str, PathParam(max_length=40, pattern=r"^w-[0-9a-f]{32}$")]


def _limit(amount_minor: int | None, currency: str, lang: str, unlimited: str) -> str:
    if amount_minor is None or amount_minor >= UNLIMITED:
        return unlimited
    return format_money(amount_minor, currency, lang)


def _wallet_views(visit: Visit, unlimited: str, best_class: int) -> list[dict[str, Any]]:
    views = []
    for wallet in visit.bank.wallets.of_party(visit.party_id):
        balance = visit.bank.wallets.balance(wallet)
        c, lang = wallet.currency, visit.lang
        views.append({
            "wallet_id": wallet.wallet_id, "nickname": wallet.nickname, "class_no": wallet.class_no,
            "balance": format_money(balance.balance, c, lang), "status": wallet.status.value,
            "per_payment": _limit(wallet.per_payment_limit, c, lang, unlimited),
            "daily": _limit(wallet.daily_limit, c, lang, unlimited),
            "daily_room": _limit(balance.daily_room, c, lang, unlimited),
            "balance_limit": _limit(wallet.balance_limit, c, lang, unlimited),
            "can_upgrade": wallet.parent_wallet_id is None and best_class < wallet.class_no,
        })  # fmt: skip
    return views


def _wallet_page(visit: Visit, status: int = 200, error: str = "") -> Response:
    translate = translator(visit.lang)
    unlimited = translate("No limit")
    profile = visit.bank.wallets.profile
    party = visit.bank.identity.get_party(visit.party_id)
    best = profile.tier_for_kyc(party.kyc_level).class_no
    tiers = [
        {"class_no": t.class_no, "evidence": KYC_EVIDENCE[KycLevel(t.kyc_level)],
         "per_payment": _limit(t.per_payment_limit, profile.currency, visit.lang, unlimited),
         "daily": _limit(t.daily_limit, profile.currency, visit.lang, unlimited),
         "balance": _limit(t.balance_limit, profile.currency, visit.lang, unlimited),
         "reached": int(t.kyc_level) <= int(party.kyc_level)}
        for t in profile.tiers
    ]  # fmt: skip
    return visit_page(
        visit, "wallet.html", "/wallet", status, wallets=_wallet_views(visit, unlimited, best), tiers=tiers,
        kyc_level=int(party.kyc_level), best_class=best, error=error,
    )  # fmt: skip


@router.get("/wallet")
def wallet_page(request: Request) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    return _wallet_page(visit)


@router.post("/wallet/{wallet_id}/upgrade")
def upgrade(
    request: Request, wallet_id: WalletPath, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    visit = visit_of(request)
    if visit is None:
        return redirect("/")
    if not session_csrf_ok(request, csrf):
        return refused(visit)
    bank = visit.bank
    try:
        wallet = bank.wallets.get_for_party(visit.party_id, wallet_id)
        best = bank.wallets.profile.tier_for_kyc(bank.identity.get_party(visit.party_id).kyc_level)
        bank.wallets.change_class(visit.actor(), wallet.wallet_id, best.class_no)
    except NetfinError as error:
        audit(request, "wallet.upgrade", format_id(visit.party_id), error, ("wallet", wallet_id))
        return _wallet_page(visit, 409, error.code)
    audit(request, "wallet.upgrade", format_id(visit.party_id), None, ("wallet", wallet_id))
    return redirect("/wallet")


# Speech -------------------------------------------------------------------------


class SpeechIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=SPEECH_TEXT_MAX)]


def speak(text: str, lang: str) -> bytes:
    """WAV audio of ``text`` from espeak-ng (raises ``FileNotFoundError`` where it is absent)."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise FileNotFoundError("espeak-ng")
    done = subprocess.run(  # noqa: S603 (fixed program, text is one argument, no shell)
        [program, "-v", VOICES.get(lang, "cmn"), "-s", "140", "--stdout", "--", text],
        capture_output=True, timeout=SPEECH_TIMEOUT_S, check=True,
    )  # fmt: skip
    return done.stdout


@router.post("/speech")
def speech(
    request: Request, body: SpeechIn, lang: Annotated[str, Query(pattern=r"^(zh|en)$")] = "zh"
) -> Response:
    visit = visit_of(request)
    if visit is None or not session_csrf_ok(request):
        return json_reply(403, {"error": "forbidden"})
    try:
        audio = speak(" ".join(body.text.split()), lang)
    except FileNotFoundError:
        return json_reply(503, {"error": "speech_unavailable"})
    except (subprocess.SubprocessError, OSError):
        return json_reply(502, {"error": "speech_failed"})
    return secured(Response(audio, media_type="audio/wav"))
