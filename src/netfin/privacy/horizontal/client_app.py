"""The bank's side: a Flower ClientApp that trains on the bank's own file only.

Runs inside a SuperNode of the separate Flower environment. The SuperNode's
node configuration names the bank, its one data file, its audit file and
(optionally) a local file of its plain updates, which never leaves the bank
and exists so that an auditor can compare what was computed with what was
sent. The run configuration (the same for every bank) carries the training
settings and whether secure aggregation is on.

The mods, outermost first: ``audit_mod`` writes every message that enters or
leaves the ClientApp into the bank's ``MessageAudit``; then SecAgg+
(``secaggplus_mod``), which quantises and masks the update before it leaves,
when the run asks for it.

Nothing on this import path needs netfin's main stack: only numpy, orjson,
Flower and the light netfin modules (``core.errors``, ``privacy.audit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from flwr.app import ConfigRecord, Context, Message
from flwr.client import NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key

from netfin.core.errors import InvalidInput
from netfin.privacy.audit import MessageAudit, PayloadMode
from netfin.privacy.horizontal import envelope
from netfin.privacy.horizontal.model import (
    FloatArray,
    TrainingSettings,
    load_bank,
    log_loss,
    train_local,
)

SERVER_PEER = "server"
AUDIT_STATE_RECORD = "netfin.audit"

Handler = Callable[[Message, Context], Message]


def audit_mod(msg: Message, context: Context, call_next: Handler) -> Message:
    """Record the message as it arrived and the reply as it leaves, then pass the reply on."""
    node = context.node_config
    setting = str(node.get("audit-payloads", "full"))
    if setting not in ("full", "digest"):
        raise InvalidInput(f"audit-payloads must be 'full' or 'digest', not {setting!r}")
    payloads: PayloadMode = "digest" if setting == "digest" else "full"
    audit = MessageAudit(Path(str(node["audit-path"])), str(node["bank"]), payloads=payloads)
    try:
        seq = _next_seq(context)
        session = str(msg.metadata.run_id)
        kind = _kind(msg)
        incoming = envelope.encode(message_plain(msg))
        audit.record(
            direction="received", peer=SERVER_PEER, session=session, kind=kind, seq=seq, payload=incoming
        )
        reply = call_next(msg, context)
        outgoing = envelope.encode(message_plain(reply))
        audit.record(
            direction="sent", peer=SERVER_PEER, session=session, kind=kind, seq=seq, payload=outgoing
        )
        return reply
    finally:
        audit.close()


def secure_aggregation_mod(msg: Message, context: Context, call_next: Handler) -> Message:
    """SecAgg+ when the run asks for it (``secagg = true``), a plain pass-through otherwise."""
    if bool(context.run_config.get("secagg", True)):
        result: Message = secaggplus_mod(msg, context, call_next)
        return result
    return call_next(msg, context)


def message_plain(msg: Message) -> dict[str, Any]:
    """A Flower message as plain values (numpy arrays, bytes, numbers) for the audit."""
    meta = msg.metadata
    plain: dict[str, Any] = {
        "metadata": {
            "run_id": int(meta.run_id),
            "message_type": str(meta.message_type),
            "group_id": str(meta.group_id),
            "src_node_id": int(meta.src_node_id),
            "dst_node_id": int(meta.dst_node_id),
        }
    }
    if msg.has_error():
        plain["error"] = {"code": int(msg.error.code), "reason": str(msg.error.reason or "")}
        return plain
    content = msg.content
    plain["array_records"] = {
        name: {key: array.numpy() for key, array in record.items()}
        for name, record in content.array_records.items()
    }
    plain["config_records"] = {name: dict(record) for name, record in content.config_records.items()}
    plain["metric_records"] = {name: dict(record) for name, record in content.metric_records.items()}
    return plain


class BankClient(NumPyClient):  # type: ignore[misc]
    """One bank: trains the global model on its own rows and reports how many rows it used."""

    def __init__(self, node: Mapping[str, Any], run: Mapping[str, Any]) -> None:
        self.bank = str(node["bank"])
        self.data_file = Path(str(node["data-file"]))
        self.updates_path = str(node.get("updates-path", ""))
        self.seed = int(node.get("seed", 0))
        self.settings = TrainingSettings(
            local_epochs=int(run["local-epochs"]),
            learning_rate=float(run["learning-rate"]),
            batch_size=int(run["batch-size"]),
            l2=float(run["l2"]),
            clipping_range=float(run["clipping-range"]),
        )

    def fit(
        self, parameters: list[FloatArray], config: Mapping[str, Any]
    ) -> tuple[list[FloatArray], int, dict[str, Any]]:
        data = load_bank(self.data_file)
        server_round = int(config.get("round", 0))
        updated = train_local(parameters, data, self.settings, seed=self.seed * 1_000_003 + server_round)
        if self.updates_path:
            self._keep_update(server_round, data.rows, updated)
        return updated, data.rows, {}

    def evaluate(
        self, parameters: list[FloatArray], config: Mapping[str, Any]
    ) -> tuple[float, int, dict[str, Any]]:
        data = load_bank(self.data_file)
        return log_loss(parameters, data), data.rows, {}

    def _keep_update(self, server_round: int, rows: int, parameters: list[FloatArray]) -> None:
        line = {
            "bank": self.bank,
            "round": server_round,
            "rows": rows,
            "parameters": [np.asarray(p, dtype=np.float64).tolist() for p in parameters],
        }
        with Path(self.updates_path).open("ab") as handle:
            handle.write(orjson.dumps(line) + b"\n")


def client_fn(context: Context) -> Any:
    return BankClient(context.node_config, context.run_config).to_client()


def _next_seq(context: Context) -> int:
    records = context.state.config_records
    seq = int(records[AUDIT_STATE_RECORD]["seq"]) + 1 if AUDIT_STATE_RECORD in records else 1
    records[AUDIT_STATE_RECORD] = ConfigRecord({"seq": seq})
    return seq


def _kind(msg: Message) -> str:
    kind = str(msg.metadata.message_type)
    if msg.has_content() and RECORD_KEY_CONFIGS in msg.content.config_records:
        stage = msg.content.config_records[RECORD_KEY_CONFIGS].get(Key.STAGE)
        if isinstance(stage, str):
            kind = f"{kind}.{stage}"
    return kind


app = ClientApp(client_fn=client_fn, mods=[audit_mod, secure_aggregation_mod])
