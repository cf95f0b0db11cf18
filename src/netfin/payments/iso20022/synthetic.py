"""Synthetic pain.001.001.03 files for benchmarks and tests.

``generate_pain001`` writes a schema-valid file that passes every business
check of ``read_pain001``: valid IBANs (schwifty ``IBAN.generate``), valid
BICs, amounts in whole cents, NbOfTxs and CtrlSum right at both levels, unique
ids. The same ``seed`` gives the same bytes, so a benchmark or a booking test
can be repeated exactly.

Public names: ``generate_pain001``, ``SyntheticFile``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from schwifty import IBAN

from netfin.core.errors import InvalidInput
from netfin.payments.iso20022.document import ISO_NAMESPACE_PREFIX, Builder, serialize
from netfin.payments.iso20022.model import EXACT, text_from_datetime, text_from_minor_units

# Transfers one synthetic file may hold (the import's own maximum).
SYNTHETIC_TRANSACTIONS_MAX = 100_000
_CREDITOR_AGENTS = ("COBADEFFXXX", "DEUTDEFFXXX", "GIBAATWWXXX", "BKAUATWWXXX")
_DEBTOR_AGENT = "MARKDEF1100"


@dataclass(frozen=True, slots=True)
class SyntheticFile:
    xml: bytes
    message_id: str
    transactions: int
    total_minor: int
    currency: str


def _iban(rng: random.Random) -> str:
    if rng.random() < 0.5:
        bank, account = str(rng.randrange(10_000_000, 99_999_999)), str(rng.randrange(10**9, 10**10))
        return IBAN.generate("DE", bank_code=bank, account_code=account).compact
    bank, account = str(rng.randrange(10_000, 99_999)), str(rng.randrange(10**10, 10**11))
    return IBAN.generate("AT", bank_code=bank, account_code=account).compact


def generate_pain001(
    transactions: int = 10_000,
    *,
    seed: int = 0,
    transactions_per_payment: int = 1_000,
    currency: str = "EUR",
    creation_time: datetime = datetime(2026, 1, 5, 9, 0, 0),
    execution_date: date = date(2026, 1, 6),
) -> SyntheticFile:
    """A pain.001.001.03 with ``transactions`` credit transfers in PmtInf
    blocks of ``transactions_per_payment`` (amounts 0.01 to 10,000.00)."""
    if not 1 <= transactions <= SYNTHETIC_TRANSACTIONS_MAX or transactions_per_payment < 1:
        raise InvalidInput("transaction counts out of range", code="synthetic_size_invalid")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    amounts = [rng.randrange(1, 1_000_001) for _ in range(transactions)]
    builder = Builder(ISO_NAMESPACE_PREFIX + "pain.001.001.03")
    document = builder.document()
    root = builder.add(document, "CstmrCdtTrfInitn")
    message_id = f"SYN-{seed}-{transactions}"
    header = builder.add(root, "GrpHdr")
    builder.add(header, "MsgId", message_id)
    builder.add(header, "CreDtTm", text_from_datetime(creation_time))
    builder.add(header, "NbOfTxs", str(transactions))
    builder.add(header, "CtrlSum", _control_sum(amounts, currency))
    builder.add_path(header, "InitgPty/Nm", "Synthetic Initiating Party")
    for start in range(0, transactions, transactions_per_payment):
        block = amounts[start : start + transactions_per_payment]
        payment = builder.add(root, "PmtInf")
        builder.add(payment, "PmtInfId", f"{message_id}-P{start // transactions_per_payment}")
        builder.add(payment, "PmtMtd", "TRF")
        builder.add(payment, "NbOfTxs", str(len(block)))
        builder.add(payment, "CtrlSum", _control_sum(block, currency))
        builder.add(payment, "ReqdExctnDt", execution_date.isoformat())
        builder.add_path(payment, "Dbtr/Nm", "Synthetic Debtor")
        builder.add_path(payment, "DbtrAcct/Id/IBAN", _iban(rng))
        builder.add_path(payment, "DbtrAgt/FinInstnId/BIC", _DEBTOR_AGENT)
        builder.add(payment, "ChrgBr", "SLEV")
        for offset, amount_minor in enumerate(block):
            number = start + offset
            transfer = builder.add(payment, "CdtTrfTxInf")
            builder.add_path(transfer, "PmtId/InstrId", f"I{number}")
            builder.add(transfer.find(f"{{{builder.namespace}}}PmtId"), "EndToEndId", f"E2E-{seed}-{number}")
            amount_text = text_from_minor_units(amount_minor, currency)
            builder.add(builder.add(transfer, "Amt"), "InstdAmt", amount_text, currency=currency)
            builder.add_path(transfer, "CdtrAgt/FinInstnId/BIC", rng.choice(_CREDITOR_AGENTS))
            builder.add_path(transfer, "Cdtr/Nm", f"Creditor {number}")
            builder.add_path(transfer, "CdtrAcct/Id/IBAN", _iban(rng))
            builder.add_path(transfer, "RmtInf/Ustrd", f"Invoice {number}")
    return SyntheticFile(serialize(document), message_id, transactions, sum(amounts), currency)


def _control_sum(amounts_minor: list[int], currency: str) -> str:
    total = Decimal(0)
    for amount_minor in amounts_minor:
        total = EXACT.add(total, Decimal(amount_minor))
    return text_from_minor_units(int(total), currency)
