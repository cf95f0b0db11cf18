"""A software payment device (an EV charger, a smart meter), for tests and the demo.

``SoftwareDevice`` holds an Ed25519 key pair and a counter, as a device's
secure element would. The customer registers ``public_key`` when granting the
mandate; afterwards ``request`` signs a ``DevicePaymentRequest`` with the next
counter value. The counter is taken under a lock, so threads sharing one
device always sign distinct counters.

It can misbehave on purpose, so tests can check the bank's refusals: a
request can carry a chosen counter (a replay), be signed for one amount and
claim another, or have its signature corrupted. With ``seed`` (32 bytes) the
key, and so every signature (Ed25519 is deterministic), is reproducible.

Public names: ``SoftwareDevice``.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from netfin.payments.mandates.model import DevicePaymentRequest, payment_message


class SoftwareDevice:
    def __init__(self, device_id: str, *, seed: bytes | None = None) -> None:
        self.device_id = device_id
        self._key = (
            Ed25519PrivateKey.from_private_bytes(seed) if seed is not None else Ed25519PrivateKey.generate()
        )
        self.mandate_id: str | None = None
        self._counter = 0
        self._lock = threading.Lock()

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key the customer registers with the mandate."""
        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def counter(self) -> int:
        """The last counter value this device signed with."""
        return self._counter

    def bind(self, mandate_id: str) -> None:
        """Remember the mandate the customer granted to this device."""
        self.mandate_id = mandate_id

    def next_counter(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def request(
        self,
        amount_minor: int,
        currency: str,
        reference: str = "",
        *,
        counter: int | None = None,
        signed_amount_minor: int | None = None,
        corrupt_signature: bool = False,
    ) -> DevicePaymentRequest:
        """A signed request for the next counter (or ``counter``, to replay an old one)."""
        if self.mandate_id is None:
            raise RuntimeError("the device holds no mandate yet; call bind() first")
        used = self.next_counter() if counter is None else counter
        signed_amount = amount_minor if signed_amount_minor is None else signed_amount_minor
        signature = self.sign(payment_message(self.mandate_id, used, signed_amount, currency, reference))
        if corrupt_signature:
            signature = bytes([signature[0] ^ 0x01]) + signature[1:]
        return DevicePaymentRequest(self.mandate_id, used, amount_minor, currency, reference, signature)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


__all__ = ["SoftwareDevice"]
