"""One bank, assembled: every service on one database, for the API, the CLI and the demo.

``Bank.open(url)`` opens the ledger and the platform engine on the same
database, runs both migrations, and wires the services together. Settings
come from arguments or the environment (see ``BankSettings.from_env``);
secrets (signing keys) come only from the environment or key files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from netfin.aml.cases import CaseService
from netfin.aml.monitoring.config import load_profile as load_aml_profile
from netfin.aml.screening import Identifier as ScreeningIdentifier
from netfin.aml.screening import (
    Screener,
    ScreeningReason,
    ScreeningService,
    ScreeningStore,
    ScreeningSubject,
    SubjectKind,
    SubjectRecord,
    load_directory,
)
from netfin.aml.screening import load_config as load_screening_config
from netfin.aml.screening.service import RescreenSummary
from netfin.aml.service import AmlService, Consumed
from netfin.audit import AuditLog
from netfin.core.clock import Clock, SystemClock
from netfin.core.errors import ConfigurationError
from netfin.core.ids import IdSource, Uuid7Ids, format_id
from netfin.credit.config import load_profile as load_credit_profile
from netfin.credit.lines import CreditLines
from netfin.credit.loans import LoanService
from netfin.credit.origination import Origination, scorer_from_env
from netfin.filings import CaseReports, reporting_entity_from_env
from netfin.identity.consents import Consent, Consents
from netfin.identity.credentials import Credentials
from netfin.identity.model import Actor, BankProfile, Party
from netfin.identity.oauth import OAuth
from netfin.identity.oauth.keys import load_api_signing_key
from netfin.identity.passwords import password_hasher_from_env
from netfin.identity.service import Identity
from netfin.ledger import Ledger
from netfin.ledger.service import ACCOUNT_CACHE_MAX
from netfin.notifications import Notifications, append_event, event_statement
from netfin.notifications.model import CONSENT_AUTHORIZATION_REVOKED, RESOURCE_UPDATE
from netfin.openbanking.service import OpenBanking
from netfin.payments import DomesticPayment, Payments
from netfin.payments.fx.execute import FxExecution
from netfin.payments.fx.pvp import PvpSettlements
from netfin.payments.mandates import DeviceMandates
from netfin.payments.orders import PaymentOrders
from netfin.payments.orders.aml import SanctionsScreenedRisk, txn_from_event
from netfin.payments.orders.gateway import OrderGateway
from netfin.payments.orders.risk import EngineRiskHook
from netfin.payments.wallets import Wallets
from netfin.payments.wallets.dynamic import LimitReview, review_daily_limits
from netfin.payments.wallets.tiers import load_profile
from netfin.ratelimit import RateLimiter
from netfin.risk.service import RiskEngine, risk_engine_from_env
from netfin.storage import open_engine
from netfin.storage.idempotency import Idempotency

DEFAULT_DATABASE_URL = "sqlite:///netfin.db"
AML_CONSUMER = "aml.payments"  # the AML monitor's cursor over the payment outbox
AML_WARM_MAX = 200_000  # payments replayed at most to warm the monitor up after a restart
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class BankSettings:
    database_url: str = DEFAULT_DATABASE_URL
    issuer: str = "http://127.0.0.1:8000"
    rp_id: str = "localhost"
    origins: tuple[str, ...] = ("http://localhost:8000",)
    allow_client_secret: bool = False
    allow_insecure_callbacks: bool = True
    wallet_profile: str = "pboc-ecny"
    profile: BankProfile = field(default_factory=BankProfile)
    ledger_account_cache: int = ACCOUNT_CACHE_MAX

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: Any) -> BankSettings:
        values: dict[str, Any] = {}
        if environ.get("NETFIN_DATABASE_URL"):
            values["database_url"] = environ["NETFIN_DATABASE_URL"]
        if environ.get("NETFIN_ISSUER"):
            values["issuer"] = environ["NETFIN_ISSUER"]
        if environ.get("NETFIN_RP_ID"):
            values["rp_id"] = environ["NETFIN_RP_ID"]
        if environ.get("NETFIN_ORIGINS"):
            values["origins"] = tuple(o.strip() for o in environ["NETFIN_ORIGINS"].split(",") if o.strip())
        if environ.get("NETFIN_ALLOW_CLIENT_SECRET"):
            values["allow_client_secret"] = environ["NETFIN_ALLOW_CLIENT_SECRET"].lower() in _TRUE
        if environ.get("NETFIN_ALLOW_INSECURE_CALLBACKS"):
            values["allow_insecure_callbacks"] = environ["NETFIN_ALLOW_INSECURE_CALLBACKS"].lower() in _TRUE
        if environ.get("NETFIN_WALLET_PROFILE"):
            values["wallet_profile"] = environ["NETFIN_WALLET_PROFILE"]
        if environ.get("NETFIN_LEDGER_ACCOUNT_CACHE"):
            values["ledger_account_cache"] = _count(environ, "NETFIN_LEDGER_ACCOUNT_CACHE")
        values.update(overrides)
        return cls(**values)


def _count(environ: Mapping[str, str], name: str) -> int:
    text = environ[name].strip().replace("_", "")
    if not text.isdigit():
        raise ConfigurationError(
            f"{name} must be a whole number, not {environ[name]!r}", code="setting_invalid"
        )
    return int(text)


def screening_from_env(
    environ: Mapping[str, str], engine: sa.Engine, audit: AuditLog, *, clock: Clock, ids: IdSource
) -> ScreeningService | None:
    """Screening over the lists in ``NETFIN_SANCTIONS_DIR`` (None, screening off, when unset)."""
    directory = environ.get("NETFIN_SANCTIONS_DIR")
    if not directory:
        return None
    lists = load_directory(Path(directory))
    if not lists:
        raise ConfigurationError(f"no sanctions list found in {directory}", code="sanctions_lists_missing")
    service = ScreeningService(
        store=ScreeningStore(engine), screener=Screener.build(lists, load_screening_config()),
        clock=clock, ids=ids, audit=audit,
    )  # fmt: skip
    service.load_lists(lists, Actor.system("sanctions"))
    return service


def _subject(party: Party, identifiers: Sequence[tuple[str, str]]) -> ScreeningSubject:
    ids = tuple(ScreeningIdentifier(scheme, value, scheme.split(".")[0].upper() if "." in scheme else None)
                for scheme, value in identifiers)  # fmt: skip
    return ScreeningSubject(party.display_name, identifiers=ids)


class Bank:
    """Every service of one bank; close it to flush the audit log and release connections."""

    def __init__(
        self,
        settings: BankSettings,
        *,
        clock: Clock | None = None,
        ids: IdSource | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.ids = ids or Uuid7Ids()
        self.ledger = Ledger.open(
            settings.database_url, clock=self.clock, account_cache_max=settings.ledger_account_cache
        )
        try:
            self.engine = open_engine(settings.database_url)
            self._wire(environ)
        except BaseException:
            self.ledger.close()
            raise

    def _wire(self, environ: Mapping[str, str]) -> None:
        clock, ids, engine, s = self.clock, self.ids, self.engine, self.settings
        # One key signs tokens, event notifications and OB response signatures.
        self.api_signing_key = signing_key = load_api_signing_key()
        self.audit = AuditLog(engine, clock=clock, ids=ids)
        self.identity = Identity(engine, self.ledger, self.audit, clock=clock, ids=ids, bank=s.profile)
        self.consents = Consents(engine, self.audit, clock=clock, ids=ids, on_revoked=self._consent_revoked)
        hasher = password_hasher_from_env(environ)
        self.credentials = Credentials(
            engine, clock=clock, ids=ids, rp_id=s.rp_id, rp_name=s.profile.bank_name, origins=s.origins,
            password_hasher=hasher,
        )  # fmt: skip
        self.oauth = OAuth(
            engine, clock=clock, ids=ids, issuer=s.issuer, signing_key=signing_key,
            allow_client_secret=s.allow_client_secret, password_hasher=hasher,
        )  # fmt: skip
        self.notifications = Notifications(
            engine, clock=clock, ids=ids, signing_key=signing_key,
            allow_insecure_localhost=s.allow_insecure_callbacks, issuer=s.issuer,
            resource_base_url=s.issuer.rstrip("/") + "/open-banking/v4.0",
        )  # fmt: skip
        self.rate_limiter = RateLimiter.from_env(environ, clock=clock)
        self.idempotency = Idempotency(engine, clock=clock)
        self.wallets = Wallets(
            engine, self.ledger, self.identity, self.audit, load_profile(s.wallet_profile),
            clock=clock, ids=ids,
        )  # fmt: skip
        # Every payment order waits for the risk engine's decision before money moves.
        self.risk: RiskEngine = risk_engine_from_env(environ, engine, self.audit, clock=clock, ids=ids)
        risk_hook = EngineRiskHook(self.risk)
        # Sanctions lists from NETFIN_SANCTIONS_DIR: new parties are screened as they register, every
        # cross-border payee before its payment, everyone again when a list changes.
        self.screening = screening_from_env(environ, engine, self.audit, clock=clock, ids=ids)
        if self.screening is not None:
            self.identity.on_registered = self._screen_new_party
        self.payments = Payments(
            engine, self.ledger, self.identity, self.consents, self.audit, clock=clock, ids=ids,
            emit=self._payment_event, emit_statement=self._payment_event_statement,
            risk=risk_hook.screen_domestic,
        )  # fmt: skip
        self.orders = PaymentOrders(
            engine,
            self.ledger,
            self.identity,
            self.wallets,
            self.credentials,
            self.audit,
            clock=clock,
            ids=ids,
            risk=risk_hook if self.screening is None else SanctionsScreenedRisk(risk_hook, self.screening),
        )
        # Orders from concurrent API requests are booked together (group commit).
        self.order_gateway = OrderGateway(self.orders)
        self.mandates = DeviceMandates(
            engine, self.orders, self.identity, self.wallets, self.audit, clock=clock, ids=ids
        )
        self.fx_execution = FxExecution(engine, self.ledger, self.identity, self.audit, clock=clock, ids=ids)
        self.pvp = PvpSettlements(engine, self.ledger, self.identity, self.audit, clock=clock, ids=ids)
        # AML watches settled payments from the outbox, never on the payment's synchronous path.
        self.aml = self._aml_service(environ, engine, clock, ids)
        self._aml_warm = False
        self._wire_credit(environ, engine, clock, ids)
        self.openbanking = OpenBanking(
            identity=self.identity, consents=self.consents, payments=self.payments, ledger=self.ledger,
            audit=self.audit, clock=clock,
        )  # fmt: skip

    def _wire_credit(
        self, environ: Mapping[str, str], engine: sa.Engine, clock: Clock, ids: IdSource
    ) -> None:
        """Credit: origination decides in-process; every loan's money moves through its ledger account."""
        credit_profile = environ.get("NETFIN_CREDIT_PROFILE")
        self.credit_profile = load_credit_profile(Path(credit_profile) if credit_profile else None)
        self.origination = Origination(
            engine,
            self.identity,
            self.audit,
            self.credit_profile,
            clock=clock,
            ids=ids,
            ledger=self.ledger,
            scorer=scorer_from_env(environ, self.credit_profile),
        )
        self.loans = LoanService(
            engine, self.ledger, self.identity, self.audit, self.credit_profile, clock=clock, ids=ids
        )
        self.credit_lines = CreditLines(
            engine, self.ledger, self.identity, self.audit, self.credit_profile, clock=clock, ids=ids
        )

    def _aml_service(
        self, environ: Mapping[str, str], engine: sa.Engine, clock: Clock, ids: IdSource
    ) -> AmlService:
        reports = CaseReports(self.identity, self.orders, reporting_entity_from_env(environ))
        cases = CaseService(engine, self.audit, clock=clock, ids=ids, renderer=reports)
        profile = load_aml_profile(environ.get("NETFIN_AML_PROFILE") or None)
        return AmlService(engine, self.audit, profile, clock=clock, ids=ids, cases=cases)

    @classmethod
    def open(cls, url: str | None = None, **kwargs: Any) -> Bank:
        settings = BankSettings.from_env(os.environ, **({"database_url": url} if url else {}))
        return cls(settings, **kwargs)

    def _payment_event(self, connection: sa.Connection, payment: DomesticPayment) -> None:
        append_event(connection, **self._payment_event_fields(payment))

    def _payment_event_statement(self, payment: DomesticPayment) -> tuple[str, dict[str, Any]]:
        return event_statement(**self._payment_event_fields(payment))

    def _payment_event_fields(self, payment: DomesticPayment) -> dict[str, Any]:
        """The resource-update event that announces a payment's new status to its TPP."""
        return {
            "event_id": self.ids.new_id(),
            "event_type": RESOURCE_UPDATE,
            "client_id": payment.client_id,
            "subject_kind": "domestic-payment",
            "subject_id": payment.payment_id,
            "payload": {"status": payment.status.value},
            "created_ns": self.clock.now_ns(),
        }

    def _consent_revoked(self, connection: sa.Connection, consent: Consent) -> None:
        append_event(
            connection,
            event_id=self.ids.new_id(),
            event_type=CONSENT_AUTHORIZATION_REVOKED,
            client_id=consent.client_id,
            subject_kind=consent.kind.value + "-consent",
            subject_id=consent.consent_id,
            payload={"status": "CANC"},
            created_ns=self.clock.now_ns(),
        )

    def review_limits(self, actor: Actor, review: LimitReview | None = None) -> list[dict[str, object]]:
        """Move wallet daily limits and credit-line limits by the risk signals (the dynamic limit policy)."""
        if self.risk.log is not None:
            self.risk.log.flush()
        changes = review_daily_limits(self.wallets, actor, review=review)
        window = review.window_days if review is not None else 90
        return changes + self.credit_lines.review_limits(actor, window_days=window)

    def _screen_new_party(self, party: Party, identifiers: Sequence[tuple[str, str]]) -> None:
        if self.screening is not None:
            self.screening.screen(
                _subject(party, identifiers),
                subject_kind=SubjectKind.PARTY,
                subject_id=format_id(party.party_id),
                reason=ScreeningReason.ONBOARDING,
                actor=Actor.system("sanctions"),
            )

    def update_sanctions_lists(
        self, actor: Actor, directory: str, progress: Callable[[int], None] | None = None
    ) -> RescreenSummary | None:
        """Load the lists in ``directory``; when any list changed, screen every party again."""
        if self.screening is None:
            raise ConfigurationError(
                "sanctions screening is off: set NETFIN_SANCTIONS_DIR", code="screening_off"
            )
        lists = load_directory(Path(directory))
        subjects = (
            SubjectRecord(SubjectKind.PARTY, format_id(p.party_id), _subject(p, ()))
            for p in self.identity.iter_parties()
        )
        return self.screening.update_lists(lists, subjects, actor, progress)

    def monitor_aml(self, *, limit: int = 5_000) -> Consumed:
        """Feed the payments settled since the AML cursor through the monitoring scenarios.

        Run it in one process (the AML worker), every few seconds: the
        scenarios' windows live in that process, and a second one would see
        only part of the payments. The first call in a process replays the
        payments of the profile's longest window before the cursor, so the
        windows are whole again after a restart.
        """
        consumer = AML_CONSUMER
        cursor = self.aml.cursor(consumer)
        if not self._aml_warm:
            self._warm_aml(cursor)
            self._aml_warm = True
        events = self.orders.outbox(after_seq=cursor, limit=limit)
        batch = []
        for event in events:
            txn = txn_from_event(event, home_country=self.settings.profile.country)
            if txn is not None:
                batch.append((int(event["seq"]), txn))
        party_of = self._parties_of({key for _, t in batch for key in (t.src, t.dst)})
        consumed = self.aml.consume(consumer, batch, party_of=party_of)
        if events and consumed.cursor < int(events[-1]["seq"]):
            self.aml.advance(consumer, int(events[-1]["seq"]))  # nothing settled in the rest of the page
        return consumed

    def _warm_aml(self, cursor: int) -> int:
        """Replay the settled payments of the longest window before ``cursor`` (at most ``AML_WARM_MAX``)."""
        oldest_ms = self.clock.now_ns() // 1_000_000 - self.aml.longest_window_ms
        seq, txns = max(0, cursor - AML_WARM_MAX), []
        while seq < cursor:
            page = [e for e in self.orders.outbox(after_seq=seq, limit=5_000) if int(e["seq"]) <= cursor]
            if not page:
                break
            for event in page:
                txn = txn_from_event(event, home_country=self.settings.profile.country)
                if txn is not None and txn.ts_ms >= oldest_ms:
                    txns.append(txn)
            seq = int(page[-1]["seq"])
        return self.aml.warm_up(txns)

    def _parties_of(self, endpoints: set[str]) -> dict[str, str]:
        """Endpoint keys (``account:…``, ``wallet:…``) of our customers -> their party ids."""
        accounts = [k.split(":", 1)[1] for k in endpoints if k.startswith("account:")]
        wallets = [k.split(":", 1)[1] for k in endpoints if k.startswith("wallet:")]
        found = {
            f"account:{a.account_id}": format_id(a.party_id) for a in self.identity.get_accounts(accounts)
        }
        found |= {
            f"wallet:{w}": format_id(wallet.party_id) for w, wallet in self.wallets.get_many(wallets).items()
        }
        return found

    def housekeeping(self) -> dict[str, int]:
        """The periodic work a running bank owes: finish what a crash left, expire what waited too long.

        Safe to run from several processes at once (every step is a
        compare-and-set or idempotent in the ledger). Returns a count per step.
        """
        return {
            "ledger_pending_expired": self.ledger.expire_pending(),
            "domestic_payments_resumed": self.payments.resume_pending(),
            "orders_resumed": self.orders.resume(),
            "orders_expired": self.orders.expire_due(),
            "mandates_expired": self.mandates.expire_due(),
            "mandate_payments_reconciled": self.mandates.reconcile(),
            "fx_executions_recovered": len(self.fx_execution.recover()),
            "loan_events_recovered": self.loans.recover_events(),
            "loans_serviced": sum(self.loans.service_due(Actor.system("credit")).values()),
        }

    def close(self) -> None:
        self.order_gateway.close()
        self.risk.close()
        self.notifications.close()
        self.rate_limiter.close()
        self.audit.close()
        self.engine.dispose()
        self.ledger.close()

    def __enter__(self) -> Bank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
