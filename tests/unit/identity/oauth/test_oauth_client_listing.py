"""``OAuth.list_clients``: every registered client, newest first, limited, without secret hashes."""

from __future__ import annotations

import pytest
from joserfc import jwk

from netfin.core.clock import ManualClock
from netfin.core.errors import LimitExceeded
from netfin.identity.oauth import OAuth
from netfin.identity.oauth.service import CLIENTS_PAGE_MAX


def _register(oauth: OAuth, name: str) -> str:
    key = jwk.ECKey.generate_key("P-256")
    return oauth.register_client(
        name, auth_method="private_key_jwt", jwks={"keys": [dict(key.as_dict(private=False))]},
        scopes=["accounts"],
    ).client_id  # fmt: skip


def test_clients_are_listed_newest_first_and_limited(oauth: OAuth, clock: ManualClock) -> None:
    assert oauth.list_clients() == []
    ids = []
    for name in ("First", "Second", "Third"):
        ids.append(_register(oauth, name))
        clock.advance(seconds=1)
    listed = oauth.list_clients()
    assert [c.client_id for c in listed] == ids[::-1]
    assert [c.name for c in oauth.list_clients(limit=2)] == ["Third", "Second"]
    for bad in (0, CLIENTS_PAGE_MAX + 1):
        with pytest.raises(LimitExceeded):
            oauth.list_clients(limit=bad)


def test_listed_clients_carry_no_secret_hash(dev_oauth: OAuth) -> None:
    registration = dev_oauth.register_client("Dev", auth_method="client_secret_basic", scopes=["accounts"])
    assert registration.client_secret is not None
    assert dev_oauth.get_client(registration.client_id).secret_hash is not None
    (listed,) = dev_oauth.list_clients()
    assert listed.client_id == registration.client_id and listed.secret_hash is None
