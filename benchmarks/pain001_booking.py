"""pain.001 booking benchmark: a 10,000-transfer file booked end to end.

What is timed is ``Iso20022Service.import_pain001`` on one file: hardened
parsing, the XSD, the message's business rules (``read``); the debtor
accounts and the MsgId registration (``check``); one payment order per
transfer through ``PaymentOrders.submit_many`` in chunks, each chunk one
ledger batch with its orders, transitions, outbox events and audit entries
(``book``); the XSD-validated pacs.002, the stored outcomes and the audit
entry of the file (``report``). The budget is 10 s per 10,000 transfers.

The file comes from ``generate_pain001``; its debtor IBANs are replaced by
those of accounts opened and funded first (one per PmtInf, all of one
corporate party) and half of its creditor IBANs by accounts held here, so
half of the orders pay an account here and half the clearing account.
Run from the repository root::

    .venv/bin/python benchmarks/pain001_booking.py                     # SQLite and PostgreSQL
    .venv/bin/python benchmarks/pain001_booking.py --stores sqlite --json
    .venv/bin/python benchmarks/pain001_booking.py --profile postgresql  # cProfile of one import

PostgreSQL is ``$NETFIN_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
in a fresh schema dropped afterwards. The XSDs come from
``NETFIN_ISO20022_XSD_DIR`` or ``../shared/data/iso20022/xsd``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from lxml import etree  # type: ignore[import-untyped]

from netfin.bank import Bank, BankSettings
from netfin.identity.model import Actor, PartyKind
from netfin.payments.iso20022.document import ISO_NAMESPACE_PREFIX, hardened_parser, serialize
from netfin.payments.iso20022.service import ImportResult, Iso20022Service
from netfin.payments.iso20022.synthetic import generate_pain001
from netfin.payments.iso20022.xsd import SchemaSet

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
BUDGET_S = 10.0
OPERATOR = Actor("operator", "bench")
CHANNEL = Actor("system", "bench-file-channel")
TRANSFERS_PER_PAYMENT = 1_000
INTERNAL_CREDITORS = 100
# Each PmtInf pays at most 1,000 x 10,000.00 EUR (the generator's largest amount).
DEBTOR_FUNDS_MINOR = TRANSFERS_PER_PAYMENT * 1_000_000


def _store(name: str, tmp: Path) -> tuple[str, Callable[[], None] | None]:
    if name == "sqlite":
        return f"sqlite:///{tmp / 'pain001.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    base = os.environ.get("NETFIN_BENCH_PG", PG_DEFAULT)

    def drop() -> None:
        engine = sa.create_engine(base)
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()

    return f"{base}?schema={schema}", drop


def _setup(bank: Bank, payments: int) -> tuple[list[str], list[str], list[int]]:
    """Debtor IBANs (one funded account per PmtInf, one party), internal creditor IBANs,
    and the ledger ids of the debtor accounts."""
    corporate = bank.identity.register_party(
        OPERATOR, kind=PartyKind.ENTERPRISE, display_name="Bench Corporate", phone="+441000000000"
    )
    debtors, ledger_ids = [], []
    for _ in range(payments):
        account = bank.identity.open_account(OPERATOR, corporate.party_id, currency="EUR")
        bank.identity.deposit_cash(OPERATOR, account.account_id, DEBTOR_FUNDS_MINOR)
        debtors.append(account.iban)
        ledger_ids.append(account.ledger_account_id)
    creditors = []
    for n in range(INTERNAL_CREDITORS):
        party = bank.identity.register_party(
            OPERATOR, kind=PartyKind.ENTERPRISE, display_name=f"Supplier {n}", phone=f"+4420{n:08d}"
        )
        creditors.append(bank.identity.open_account(OPERATOR, party.party_id, currency="EUR").iban)
    return debtors, creditors, ledger_ids


def _file(transactions: int, seed: int, debtors: list[str], creditors: list[str]) -> bytes:
    """The synthetic file with our debtors and every other creditor held here."""
    synthetic = generate_pain001(transactions, seed=seed, transactions_per_payment=TRANSFERS_PER_PAYMENT)
    document = etree.fromstring(synthetic.xml, hardened_parser())
    ns = {"p": ISO_NAMESPACE_PREFIX + "pain.001.001.03"}
    for payment, iban in zip(document.iterfind(".//p:PmtInf", ns), debtors, strict=True):
        payment.find("p:DbtrAcct/p:Id/p:IBAN", ns).text = iban
    for n, element in enumerate(document.iterfind(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", ns)):
        if n % 2 == 0:
            element.text = creditors[n // 2 % len(creditors)]
    return serialize(document)


def _balances(bank: Bank, ledger_ids: list[int]) -> int:
    return sum(a.credits_posted - a.debits_posted for a in bank.ledger.lookup_accounts(ledger_ids))


def run(store: str, transactions: int, seed: int, profile: bool) -> dict[str, Any]:
    payments = -(-transactions // TRANSFERS_PER_PAYMENT)
    with tempfile.TemporaryDirectory() as tmp:
        url, cleanup = _store(store, Path(tmp))
        try:
            with Bank(BankSettings(database_url=url)) as bank:
                debtors, creditors, ledger_ids = _setup(bank, payments)
                data = _file(transactions, seed, debtors, creditors)
                schemas = SchemaSet()
                service = Iso20022Service(
                    bank.engine, bank.orders, bank.identity, bank.audit, clock=bank.clock, ids=bank.ids,
                    schemas=schemas,
                )  # fmt: skip
                # Compile the XSDs before the measured run (once per process in production).
                for name in ("pain.001.001.03", "pacs.002.001.11"):
                    schemas.problems(etree.Element("x"), name)
                before = _balances(bank, ledger_ids)
                profiler = cProfile.Profile() if profile else None
                started, cpu = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                result = service.import_pain001(CHANNEL, data, sender="bench:corporate")
                if profiler is not None:
                    profiler.disable()
                wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
                moved = before - _balances(bank, ledger_ids)
        finally:
            if cleanup is not None:
                cleanup()
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
    return _report(store, transactions, len(data), result, wall_s, cpu_s, moved)


def _report(
    store: str, transactions: int, size: int, result: ImportResult, wall_s: float, cpu_s: float, moved: int
) -> dict[str, Any]:
    settled_minor = result.totals["EUR"]["settled_minor"]
    if result.settled != transactions or moved != settled_minor:
        raise SystemExit(
            f"[{store}] booked {result.settled}/{transactions}; moved {moved} != {settled_minor}"
        )
    durations = {k: round(v / 1e9, 3) for k, v in result.durations_ns.items()}
    return {
        "benchmark": "pain001_booking",
        "store": store,
        "transactions": transactions,
        "file_bytes": size,
        "total_s": round(wall_s, 3),
        "cpu_s": round(cpu_s, 3),
        "read_s": durations["read"],
        "check_s": durations["check"],
        "book_s": durations["book"],
        "report_s": durations["report"],
        "transfers_per_s": round(transactions / wall_s),
        "group_status": result.group_status,
        "budget_s": BUDGET_S,
        "within_budget": wall_s <= BUDGET_S,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }


def render(report: dict[str, Any]) -> str:
    verdict = "within" if report["within_budget"] else "OVER"
    return "\n".join(
        [
            f"[{report['store']}] pain.001 booking: {report['transactions']:,} transfers, "
            f"{report['file_bytes'] / 1e6:.1f} MB: {report['total_s']:.2f} s "
            f"(CPU {report['cpu_s']:.2f} s, {report['transfers_per_s']:,}/s; {verdict} {BUDGET_S:.0f} s)",
            f"  read (parse, XSD, message rules)   {report['read_s']:.3f} s",
            f"  check (debtors, MsgId)             {report['check_s']:.3f} s",
            f"  book (orders, ledger, outbox, audit) {report['book_s']:.3f} s",
            f"  report (pacs.002, outcomes, audit) {report['report_s']:.3f} s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    stores = [args.profile] if args.profile else args.stores.split(",")
    reports = [run(store, args.transactions, args.seed, args.profile is not None) for store in stores]
    if args.json:
        sys.stdout.write(json.dumps(reports, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(render(r) for r in reports) + "\n")
    return 0 if all(r["within_budget"] for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
