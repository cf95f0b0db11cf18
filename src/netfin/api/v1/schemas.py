"""Request and response bodies of netfin's own ``/v1`` API.

Money travels as a decimal string with its ISO 4217 currency, never a float.
Request bodies refuse unknown fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from netfin.identity.model import PartyKind, Role

AmountText = Annotated[str, Field(pattern=r"^\d{1,18}(\.\d{1,5})?$", max_length=24, examples=["10.50"])]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["GBP"])]
IdText = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyOut(BaseModel):
    amount: str
    currency: str


class IdentifierIn(Strict):
    scheme: Annotated[str, Field(min_length=3, max_length=24, examples=["cn.ric"])]
    value: Annotated[str, Field(min_length=1, max_length=64)]


class PartyIn(Strict):
    kind: PartyKind
    display_name: Annotated[str, Field(min_length=1, max_length=140)]
    phone: Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$", examples=["+8613800138000"])]
    roles: Annotated[list[Role], Field(min_length=1, max_length=7)] = [Role.CUSTOMER]
    identifiers: Annotated[list[IdentifierIn], Field(max_length=16)] = []


class SignupIn(Strict):
    display_name: Annotated[str, Field(min_length=1, max_length=140)]
    phone: Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]
    password: Annotated[str, Field(min_length=12, max_length=128)]


class PartyOut(BaseModel):
    party_id: str
    kind: str
    display_name: str
    kyc_level: int
    roles: list[str]
    status: str


class KycIn(Strict):
    evidence: Literal["remote_id_check", "bank_card", "in_person_check"]
    reference: Annotated[str, Field(min_length=1, max_length=128)]


class AccountIn(Strict):
    currency: Currency
    nickname: Annotated[str, Field(max_length=70)] = ""


class AccountOut(BaseModel):
    account_id: str
    currency: str
    nickname: str
    iban: str
    status: str
    booked: MoneyOut | None = None
    available: MoneyOut | None = None


class DepositIn(Strict):
    amount: AmountText
    currency: Currency


class TransferOut(BaseModel):
    transfer_id: str
    direction: Literal["credit", "debit"]
    amount: MoneyOut
    booked_at: str
    status: Literal["booked", "pending"]


class PageOut(BaseModel):
    next_cursor: str | None


class TransfersPage(PageOut):
    transfers: list[TransferOut]


class LoginPasswordIn(Strict):
    party_id: IdText
    password: Annotated[str, Field(min_length=1, max_length=256)]


class PasskeyOptionsIn(Strict):
    party_id: IdText | None = None


class PasskeyCredentialIn(Strict):
    credential: dict[str, Any]
    label: Annotated[str, Field(max_length=64)] = ""


class SessionOut(BaseModel):
    session_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (RFC 6750 token type, not a secret)
    expires_in: int
    party_id: str


class ConsentOut(BaseModel):
    consent_id: str
    kind: str
    client_id: str
    status: str
    permissions: list[str]
    account_ids: list[str]
    expires_at: str | None
    created_at: str


class ConsentsOut(BaseModel):
    consents: list[ConsentOut]


class AuthoriseIn(Strict):
    account_ids: Annotated[list[IdText], Field(min_length=1, max_length=64)]
    credential: dict[str, Any]


class AuthoriseOut(BaseModel):
    consent: ConsentOut
    authorization_code: str
    redirect_uri: str | None


class ClientIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    auth_method: Literal["private_key_jwt", "client_secret_basic", "client_secret_post"] = "private_key_jwt"
    jwks: dict[str, Any] | None = None
    scopes: Annotated[list[Literal["accounts", "payments", "fundsconfirmations"]], Field(min_length=1)]
    redirect_uris: Annotated[list[Annotated[str, Field(max_length=512)]], Field(max_length=8)] = []


class ClientOut(BaseModel):
    client_id: str
    client_secret: str | None = None


class AuditEntryOut(BaseModel):
    seq: int
    at: str
    actor_kind: str
    actor_id: str
    action: str
    outcome: str
    subject_kind: str
    subject_id: str
    consent_id: str | None
    interaction_id: str | None
    reason: str | None
    detail: dict[str, Any]
    entry_hash: str


class AuditPageOut(PageOut):
    entries: list[AuditEntryOut]


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str | None
    message: str | None


class DeadLetterOut(BaseModel):
    delivery_id: str
    client_id: str
    status: str
    attempts: int
    last_error: str | None


class DeadLettersOut(PageOut):
    deliveries: list[DeadLetterOut]
