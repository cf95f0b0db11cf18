"""The journal: canonical encodings, the hash chain, Merkle checkpoints and proofs.

Every committed event (account creation, transfer, expiry of a pending
transfer) is one journal entry. Its *leaf hash* is ``SHA-256(0x00 || payload)``
(RFC 6962), where ``payload`` is the event's canonical big-endian encoding;
its *chain hash* is ``SHA-256(previous chain hash || leaf hash)``. Checkpoints
sign the Merkle root over the leaf hashes (built with ``pymerkle``) and the
chain head with Ed25519, in the manner of Certificate Transparency. Anyone
holding a checkpoint and the ledger's public key can check an inclusion proof
for one transfer without seeing the others: ``verify_proof`` needs no database.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pymerkle import BaseMerkleTree, InvalidProof
from pymerkle import InclusionProof as MerkleInclusionProof

from netfin.core.errors import ConfigurationError, InvalidInput
from netfin.ledger.model import Account, Checkpoint, InclusionProof, JournalKind, Transfer

GENESIS_CHAIN_HASH = bytes(32)
_LEAF_PREFIX = b"\x00"
_CHECKPOINT_CONTEXT = b"netfin.ledger.checkpoint.v1\x00"

_TRANSFER = struct.Struct(">B16s16s16sQ3sHH16sI16sQIQ")
_ACCOUNT = struct.Struct(">B16s3sHH16sQIQ")
_EXPIRY = struct.Struct(">B16sQ")
_CHECKPOINT = struct.Struct(">QQQ")

_sha256 = hashlib.sha256


def encode_transfer(t: Transfer) -> bytes:
    """Canonical bytes of a committed transfer (all fields resolved)."""
    return _TRANSFER.pack(
        JournalKind.TRANSFER,
        t.id.to_bytes(16, "big"),
        t.debit_account_id.to_bytes(16, "big"),
        t.credit_account_id.to_bytes(16, "big"),
        t.amount,
        t.currency.encode("ascii"),
        t.code,
        t.flags,
        t.pending_id.to_bytes(16, "big"),
        t.timeout,
        t.user_data_128.to_bytes(16, "big"),
        t.user_data_64,
        t.user_data_32,
        t.timestamp,
    )


def encode_account(a: Account, creation_flags: int) -> bytes:
    """Canonical bytes of an account's immutable fields at creation."""
    return _ACCOUNT.pack(
        JournalKind.ACCOUNT,
        a.id.to_bytes(16, "big"),
        a.currency.encode("ascii"),
        a.code,
        creation_flags,
        a.user_data_128.to_bytes(16, "big"),
        a.user_data_64,
        a.user_data_32,
        a.timestamp,
    )


def encode_expiry(pending_id: int, timestamp: int) -> bytes:
    return _EXPIRY.pack(JournalKind.EXPIRY, pending_id.to_bytes(16, "big"), timestamp)


def leaf_hash(payload: bytes) -> bytes:
    return _sha256(_LEAF_PREFIX + payload).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    return _sha256(previous + leaf).digest()


class LeafTree(BaseMerkleTree):  # type: ignore[misc]
    """A pymerkle tree whose leaves are journal leaf hashes held in a list.

    The journal table is the storage; this adapter only lets pymerkle compute
    roots and inclusion paths over it (pymerkle counts leaves from one, as the
    journal's ``seq`` does).
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._leaves: list[bytes] = list(leaves)
        super().__init__("sha256")

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        self._leaves.append(digest)
        return len(self._leaves)

    def _get_leaf(self, index: int) -> bytes:
        return self._leaves[index - 1]

    def _get_leaves(self, offset: int, width: int) -> Sequence[bytes]:
        return self._leaves[offset : offset + width]

    def _get_size(self) -> int:
        return len(self._leaves)

    def append_leaf_hash(self, digest: bytes) -> None:
        self._leaves.append(digest)


def merkle_root(leaves: Sequence[bytes], size: int | None = None) -> bytes:
    tree = LeafTree(leaves)
    root: bytes = tree.get_root(len(leaves) if size is None else size)
    return root


def checkpoint_message(seq: int, tree_size: int, timestamp: int, root: bytes, chain: bytes) -> bytes:
    return _CHECKPOINT_CONTEXT + _CHECKPOINT.pack(seq, tree_size, timestamp) + root + chain


def sign_checkpoint(
    key: Ed25519PrivateKey, seq: int, tree_size: int, timestamp: int, root: bytes, chain: bytes
) -> Checkpoint:
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = key.sign(checkpoint_message(seq, tree_size, timestamp, root, chain))
    return Checkpoint(seq, tree_size, root, chain, timestamp, public, signature)


def checkpoint_signature_valid(checkpoint: Checkpoint, public_key: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            checkpoint.signature,
            checkpoint_message(
                checkpoint.seq,
                checkpoint.tree_size,
                checkpoint.timestamp,
                checkpoint.root,
                checkpoint.chain_hash,
            ),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_proof(
    proof: InclusionProof, transfer: Transfer, checkpoint: Checkpoint, public_key: bytes
) -> bool:
    """True when ``transfer`` (exactly as committed, with its timestamp) is
    entry ``proof.leaf_index`` of the tree that ``checkpoint`` signs, and the
    checkpoint is signed by ``public_key``. Needs no database."""
    if not checkpoint_signature_valid(checkpoint, public_key):
        return False
    if proof.transfer_id != transfer.id or proof.tree_size != checkpoint.tree_size:
        return False
    if not isinstance(transfer.currency, str) or len(transfer.currency.encode("utf-8")) != 3:
        return False
    try:
        merkle = MerkleInclusionProof.deserialize(proof.merkle)
        merkle.verify(
            leaf_hash(encode_transfer(transfer)),
            checkpoint.root,
            index=proof.leaf_index,
            size=checkpoint.tree_size,
            algorithm="sha256",
        )
    except (InvalidProof, struct.error, OverflowError, AttributeError, ValueError, TypeError, KeyError):
        return False
    return True


def build_proof(
    leaves: Sequence[bytes], transfer_id: int, leaf_index: int, checkpoint: Checkpoint
) -> InclusionProof:
    tree = LeafTree(leaves)
    merkle = tree.prove_inclusion(leaf_index, checkpoint.tree_size)
    return InclusionProof(
        transfer_id=transfer_id,
        leaf_index=leaf_index,
        tree_size=checkpoint.tree_size,
        checkpoint_seq=checkpoint.seq,
        merkle=merkle.serialize(),
    )


# --- keys -----------------------------------------------------------------

KEY_ENV = "NETFIN_LEDGER_SIGNING_KEY"
KEY_FILE_ENV = "NETFIN_LEDGER_KEY_FILE"


def default_key_file() -> Path:
    home = os.environ.get("NETFIN_HOME") or str(Path.home() / ".netfin")
    return Path(home) / "ledger_ed25519.pem"


def load_signing_key(key_file: str | os.PathLike[str] | None = None) -> Ed25519PrivateKey:
    """The checkpoint signing key: from ``NETFIN_LEDGER_SIGNING_KEY`` (64 hex
    digits of the raw private key), or from a PEM key file that is created on
    first use with mode 0600 (``NETFIN_LEDGER_KEY_FILE`` or ``~/.netfin``)."""
    raw = os.environ.get(KEY_ENV)
    if raw:
        try:
            return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(raw.strip()))
        except ValueError:
            raise ConfigurationError(
                f"{KEY_ENV} must hold 64 hexadecimal digits (a raw Ed25519 private key)"
            ) from None
    path = Path(key_file or os.environ.get(KEY_FILE_ENV) or default_key_file())
    if not path.exists():
        _create_key_file(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(f"key file {path} is readable by others (mode {mode:o}); chmod 600 it")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"key file {path} does not hold an Ed25519 private key")
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first; use theirs
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def proof_to_json(proof: InclusionProof) -> dict[str, Any]:
    return {
        "transfer_id": f"{proof.transfer_id:032x}",
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "checkpoint_seq": proof.checkpoint_seq,
        "merkle": proof.merkle,
    }


def proof_from_json(data: dict[str, Any]) -> InclusionProof:
    try:
        return InclusionProof(
            transfer_id=int(data["transfer_id"], 16),
            leaf_index=int(data["leaf_index"]),
            tree_size=int(data["tree_size"]),
            checkpoint_seq=int(data["checkpoint_seq"]),
            merkle=dict(data["merkle"]),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("malformed inclusion proof", code="proof_malformed") from None


def checkpoint_to_json(c: Checkpoint) -> dict[str, Any]:
    return {
        "seq": c.seq,
        "tree_size": c.tree_size,
        "root": c.root.hex(),
        "chain_hash": c.chain_hash.hex(),
        "timestamp": c.timestamp,
        "public_key": c.public_key.hex(),
        "signature": c.signature.hex(),
    }


def checkpoint_from_json(data: dict[str, Any]) -> Checkpoint:
    try:
        return Checkpoint(
            seq=int(data["seq"]),
            tree_size=int(data["tree_size"]),
            root=bytes.fromhex(data["root"]),
            chain_hash=bytes.fromhex(data["chain_hash"]),
            timestamp=int(data["timestamp"]),
            public_key=bytes.fromhex(data["public_key"]),
            signature=bytes.fromhex(data["signature"]),
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidInput("malformed checkpoint", code="checkpoint_malformed") from None
