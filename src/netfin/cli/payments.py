"""``netfin payments``: wallets, payment orders, merchant QR codes and FX quotes, for
operators and scripts.

Every command that reads or changes the bank takes ``--db``; every command
takes ``--json`` and then prints exactly one JSON document on stdout (a
refusal too: ``{"code": ..., "message": ...}``) and exits 1 on a refusal.
Money is printed as decimal strings, never floats. Changes are recorded in
the audit log as the system actor ``netfin-payments``.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console

from netfin.api.v1.payments import (
    FX_RATES_DEFAULT,
    FX_RATES_VARIABLE,
    order_json,
    quote_json,
    wallet_json,
)
from netfin.bank import Bank, BankSettings
from netfin.core.clock import SystemClock
from netfin.core.errors import ConfigurationError, InvalidInput, NetfinError
from netfin.core.ids import Uuid7Ids, format_id, parse_id
from netfin.identity.model import Actor
from netfin.payments import format_amount, parse_amount
from netfin.payments.fx import FxDesk, load_ecb_rates, load_packaged_profile
from netfin.payments.orders import Endpoint, EndpointKind, OrderKind, OrderRequest
from netfin.payments.orders.merchant import qr_payee
from netfin.payments.qr import MerchantQr, NetworkAccount, parse_payload

payments_app = typer.Typer(
    help="Wallets, payment orders, merchant QR codes and FX quotes.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)
DbOption = typer.Option(
    None, "--db", help="Database URL (default $NETFIN_DATABASE_URL or sqlite:///netfin.db)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
ACTOR = Actor.system("netfin-payments")
T = TypeVar("T")


def _emit(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _refuse(error: NetfinError, json: bool) -> NoReturn:
    if json:
        _emit({"code": error.code, "message": error.message})
    else:
        err.print(f"[red]{error.code}[/red]: {error.message}")
    raise typer.Exit(1)


def _bank(db: str | None, json: bool) -> Bank:
    try:
        return Bank(BankSettings.from_env(os.environ, **({"database_url": db} if db else {})))
    except NetfinError as error:
        if json:
            _emit({"code": error.code, "message": error.message})
        else:
            err.print(f"[red]{error.code}[/red]: {error.message}")
        raise typer.Exit(2) from None


def _with_bank(db: str | None, json: bool, work: Callable[[Bank], T]) -> T:
    with _bank(db, json) as bank:
        try:
            return work(bank)
        except NetfinError as error:
            _refuse(error, json)


def _show(data: dict[str, Any], json: bool, lines: list[str]) -> None:
    if json:
        _emit(data)
    else:
        for line in lines:
            console.print(line)


def _endpoint(text: str) -> Endpoint:
    """A wallet id (``w-...``) or a customer account id."""
    return Endpoint(EndpointKind.WALLET if text.startswith("w-") else EndpointKind.ACCOUNT, text)


def _party_id(text: str) -> int:
    try:
        return parse_id(text)
    except ValueError:
        raise InvalidInput("a party id is 32 hexadecimal digits", code="party_id_invalid") from None


@payments_app.command("wallet-open")
def wallet_open(
    party_id: str = typer.Argument(..., help="The holder's party id (32 hex digits)."),
    class_no: int | None = typer.Option(None, "--class", help="Wallet class (default: what the KYC allows)."),
    nickname: str = typer.Option("", help="A name the holder sees."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Open a root wallet for a party."""

    def work(bank: Bank) -> dict[str, Any]:
        wallet = bank.wallets.open(ACTOR, _party_id(party_id), class_no=class_no, nickname=nickname)
        return wallet_json(wallet, bank.wallets.balance(wallet))

    body = _with_bank(db, json, work)
    _show(body, json, [f"wallet {body['wallet_id']} (class {body['class_no']}, {body['pseudonym']}) opened"])


@payments_app.command("wallet-show")
def wallet_show(
    wallet_id: str = typer.Argument(..., help="The wallet id (w-...)."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """A wallet with its balance and what each limit still allows."""

    def work(bank: Bank) -> dict[str, Any]:
        wallet = bank.wallets.get(wallet_id)
        return {**wallet_json(wallet, bank.wallets.balance(wallet)), "party_id": format_id(wallet.party_id)}

    body = _with_bank(db, json, work)
    balance = body["balance"]
    _show(body, json, [
        f"wallet {body['wallet_id']}  class {body['class_no']}  {body['status']}",
        f"balance {balance['amount']} {balance['currency']}",
    ])  # fmt: skip


@payments_app.command("pay")
def pay(
    source: str = typer.Option(..., "--from", help="Paying account id or wallet id (w-...)."),
    target: str = typer.Option(..., "--to", help="Receiving account id or wallet id (w-...)."),
    amount: str = typer.Option(..., help="Decimal amount, e.g. 12.50."),
    currency: str = typer.Option(..., help="ISO 4217 currency."),
    reference: str = typer.Option("", help="What the payee sees."),
    key: str | None = typer.Option(None, help="Idempotency key (default: a fresh one)."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """Pay between two accounts or wallets held here, as their holder's order.

    Exits 1 when the order is refused or ends rejected; an order that needs
    the payer's passkey stays ``step_up`` until the payer confirms it.
    """
    payer, payee = _endpoint(source), _endpoint(target)

    def work(bank: Bank) -> dict[str, Any]:
        amount_minor = parse_amount(amount, currency)
        if payer.kind is EndpointKind.WALLET:
            party_id = bank.wallets.get(payer.id).party_id
        else:
            party_id = bank.identity.get_account(payer.id).party_id
        both_wallets = payer.kind is payee.kind is EndpointKind.WALLET
        kind = OrderKind.WALLET_TO_WALLET if both_wallets else OrderKind.ACCOUNT_TO_ACCOUNT
        request = OrderRequest(kind, payer, payee, amount_minor, currency, reference=reference)
        order = bank.orders.submit(ACTOR, party_id, request, idempotency_key=key or "cli." + uuid.uuid4().hex)
        return order_json(order)

    body = _with_bank(db, json, work)
    money = body["amount"]
    reason = f" ({body['status_reason']})" if body["status_reason"] else ""
    _show(
        body,
        json,
        [f"order {body['order_id']}: {money['amount']} {money['currency']} {body['status']}{reason}"],
    )
    if body["status"] == "rejected":
        raise typer.Exit(1)


@payments_app.command("order-show")
def order_show(
    order_id: str = typer.Argument(..., help="The payment order id (po-...)."),
    db: str | None = DbOption,
    json: bool = JsonOption,
) -> None:
    """A payment order with every transition it went through."""

    def work(bank: Bank) -> dict[str, Any]:
        order = bank.orders.get(order_id)
        return {**order_json(order, bank.orders.events(order.order_id)),
                "payer_party_id": format_id(order.payer_party_id)}  # fmt: skip

    body = _with_bank(db, json, work)
    money = body["amount"]
    lines = [
        f"order {body['order_id']} {body['kind']} {money['amount']} {money['currency']} {body['status']}"
    ]
    lines += [
        f"  {e['at']}  {e['from_status'] or '-'} -> {e['to_status']}  {e['reason'] or ''}"
        for e in body["events"]
    ]
    _show(body, json, lines)


def _qr_json(qr: MerchantQr) -> dict[str, Any]:
    def money(minor: int | None) -> str | None:
        return None if minor is None else format_amount(minor, qr.currency)

    accounts = [
        {"tag": a.tag, "value": a.value} if isinstance(a, NetworkAccount)
        else {"tag": a.tag, "globally_unique_identifier": a.globally_unique_identifier,
              "fields": dict(a.fields)}
        for a in qr.merchant_accounts
    ]  # fmt: skip
    try:
        payee = qr_payee(qr)
        netfin_payee: dict[str, str] | None = {"kind": payee.kind.value, "id": payee.id}
    except InvalidInput:
        netfin_payee = None
    return {
        "merchant_name": qr.merchant_name, "merchant_city": qr.merchant_city,
        "merchant_category_code": qr.merchant_category_code, "country_code": qr.country_code,
        "currency": qr.currency, "amount": money(qr.amount_minor),
        "point_of_initiation": None if qr.point_of_initiation is None else qr.point_of_initiation.value,
        "tip_indicator": None if qr.tip_indicator is None else qr.tip_indicator.value,
        "convenience_fee_fixed": money(qr.convenience_fee_fixed_minor),
        "convenience_fee_percentage": None if qr.convenience_fee_percentage is None
        else str(qr.convenience_fee_percentage),
        "merchant_accounts": accounts, "netfin_payee": netfin_payee,
    }  # fmt: skip


@payments_app.command("qr-parse")
def qr_parse(
    payload: str = typer.Argument(..., help="The EMV merchant-presented QR payload text."),
    json: bool = JsonOption,
) -> None:
    """Decode and check an EMV merchant QR payload (CRC, lengths, amounts); exit 1 if invalid."""
    try:
        body = _qr_json(parse_payload(payload))
    except NetfinError as error:
        _refuse(error, json)
    amount = (
        f"{body['amount']} {body['currency']}" if body["amount"] else f"open amount in {body['currency']}"
    )
    payee = body["netfin_payee"]
    _show(body, json, [
        f"{body['merchant_name']}, {body['merchant_city']} ({body['country_code']}): {amount}",
        f"netfin payee: {payee['kind']} {payee['id']}" if payee else "no netfin merchant account",
    ])  # fmt: skip


@payments_app.command("fx-quote")
def fx_quote(
    source: str = typer.Argument(..., metavar="FROM", help="Source currency."),
    target: str = typer.Argument(..., metavar="TO", help="Target currency."),
    amount: str = typer.Argument(..., help="Decimal amount of the source currency."),
    on: str | None = typer.Option(None, help="Rates of this day, YYYY-MM-DD (default: today)."),
    rates: Path | None = typer.Option(None, help=f"ECB rates file (default ${FX_RATES_VARIABLE})."),
    json: bool = JsonOption,
) -> None:
    """Quote the best route for converting AMOUNT of FROM into TO on the ECB reference rates."""
    path = rates or Path(os.environ.get(FX_RATES_VARIABLE, FX_RATES_DEFAULT))
    try:
        if not path.is_file():
            raise ConfigurationError(f"no FX reference rates at {path}", code="fx_rates_unavailable")
        day = None if on is None else _date(on)
        desk = FxDesk(load_ecb_rates(path), load_packaged_profile(), clock=SystemClock(), ids=Uuid7Ids())
        body = quote_json(desk.quote(source, target, parse_amount(amount, source), on=day))
    except NetfinError as error:
        _refuse(error, json)
    _show(body, json, [
        f"{body['source']['amount']} {body['source']['currency']} -> "
        f"{body['target']['amount']} {body['target']['currency']} via {' -> '.join(body['route'])} "
        f"(rates of {body['rates_date']})",
    ])  # fmt: skip


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput("a date is YYYY-MM-DD", code="date_invalid") from None
