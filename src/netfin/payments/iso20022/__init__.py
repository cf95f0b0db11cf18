"""ISO 20022 messages: read and check pain.001, write pacs.008, pacs.002 and camt.053.

Purpose: turn a customer's pain.001 file into checked payment instructions
that the payment service books, and write the interbank (pacs.008), status
(pacs.002) and statement (camt.053) messages that follow. Pure code: no
database, no network; the only state (message ids already received) is
behind the caller's ``MessageIdRegistry``.

Invariants:
- A received message is parsed by a hardened lxml parser (no DTD, no
  entities, no network, size and depth limits) and validated against its
  XSD before any business rule runs; a refused file is refused whole, with
  every problem's code and line (``MessageRefused``).
- Amounts are integer minor units of an ISO 4217 currency, converted from
  and to message text exactly (``Decimal``, never ``float``); more decimal
  places than the currency has is refused, never rounded.
- Every message written is built with lxml's element API and validated
  against its XSD before it is returned; a written message that fails its
  XSD is a bug (``InvariantViolation``). The XSDs are configured, not
  shipped (``SchemaSet``, ``NETFIN_ISO20022_XSD_DIR``); a missing one is
  ``SchemaUnavailable`` (code ``iso20022_schema_unavailable``).

Public names: ``read_pain001``, ``import_pain001``, ``MessageIdRegistry``,
``InMemoryMessageIdRegistry``, ``build_pacs008``, ``read_pacs008``,
``interbank_transfer_from_pain001``, ``build_pacs002``, ``read_pacs002``,
``status_report_for_pain001``, ``status_report_for_refusal``,
``read_camt053``, ``build_camt053``, ``generate_pain001``, ``SchemaSet``,
``default_schemas``, ``MessageRefused``, ``SchemaUnavailable`` and the model
types (``Pain001Message``, ``PaymentInstruction``, ``CreditTransfer``,
``Pacs008Message``, ``InterbankTransfer``, ``StatusReport``,
``TransactionStatus``, ``StatusReason``, ``StatementMessage``,
``Statement``, ``StatementAccount``, ``Balance``, ``Entry``,
``EntryTransaction``, ``BankTransactionCode``, ``CreditDebit``,
``EmittedMessage``, ``Problem``).
"""

from netfin.payments.iso20022.camt053 import build_camt053, read_camt053
from netfin.payments.iso20022.errors import MessageRefused, SchemaUnavailable
from netfin.payments.iso20022.model import (
    Balance,
    BankTransactionCode,
    CreditDebit,
    CreditTransfer,
    EmittedMessage,
    Entry,
    EntryTransaction,
    InterbankTransfer,
    Pacs008Message,
    Pain001Message,
    PaymentInstruction,
    Problem,
    Statement,
    StatementAccount,
    StatementMessage,
    StatusReason,
    StatusReport,
    TransactionStatus,
)
from netfin.payments.iso20022.pacs002 import (
    build_pacs002,
    read_pacs002,
    status_report_for_pain001,
    status_report_for_refusal,
)
from netfin.payments.iso20022.pacs008 import build_pacs008, interbank_transfer_from_pain001, read_pacs008
from netfin.payments.iso20022.pain001 import (
    InMemoryMessageIdRegistry,
    MessageIdRegistry,
    import_pain001,
    read_pain001,
)
from netfin.payments.iso20022.synthetic import generate_pain001
from netfin.payments.iso20022.xsd import SchemaSet, default_schemas

__all__ = [
    "Balance",
    "BankTransactionCode",
    "CreditDebit",
    "CreditTransfer",
    "EmittedMessage",
    "Entry",
    "EntryTransaction",
    "InMemoryMessageIdRegistry",
    "InterbankTransfer",
    "MessageIdRegistry",
    "MessageRefused",
    "Pacs008Message",
    "Pain001Message",
    "PaymentInstruction",
    "Problem",
    "SchemaSet",
    "SchemaUnavailable",
    "Statement",
    "StatementAccount",
    "StatementMessage",
    "StatusReason",
    "StatusReport",
    "TransactionStatus",
    "build_camt053",
    "build_pacs002",
    "build_pacs008",
    "default_schemas",
    "generate_pain001",
    "import_pain001",
    "interbank_transfer_from_pain001",
    "read_camt053",
    "read_pacs002",
    "read_pacs008",
    "read_pain001",
    "status_report_for_pain001",
    "status_report_for_refusal",
]
