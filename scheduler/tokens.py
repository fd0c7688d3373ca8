"""Grants kept at rest, encrypted: what ``accounts connect`` obtained for an account (an X OAuth 2.0 access and
refresh token, a Mastodon access token), sealed with a Fernet key that lives only in the environment.

An X refresh token changes on every refresh, so no environment variable can hold it: the database does,
sealed. Only the expiry (not secret) is stored in the clear, for checks. A grant is replaced only if it is
still the one the caller read (``replace(..., expected=...)``): two daemons refreshing at once must not both
spend the same refresh token, since X would then take the second for a stolen one and end the grant.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Mapping

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, insert, select, update

from .problems import UserError
from .store import Store
from .store.schema import account_tokens
from .timing import utcnow


@dataclass(frozen=True)
class Grant:
    """What a platform granted an account. Secret: never logged, shown or exported."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None       # aware UTC; None: does not expire
    scopes: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. the client id it was issued to

    def __repr__(self) -> str:  # a grant in a traceback or a log line shows no secret
        refresh = self.refresh_token is not None
        return f"Grant(expires_at={self.expires_at!r}, scopes={self.scopes!r}, refresh={refresh})"

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        data["scopes"] = list(self.scopes)
        data["extra"] = dict(self.extra)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "Grant":
        data = json.loads(text)
        expires = data.get("expires_at")
        return cls(access_token=data["access_token"], refresh_token=data.get("refresh_token"),
                   expires_at=datetime.fromisoformat(expires) if expires else None,
                   scopes=tuple(data.get("scopes") or ()), extra=dict(data.get("extra") or {}))


@dataclass(frozen=True)
class StoredGrant:
    account_id: str
    platform: str
    grant: Grant
    dead: str | None        # why the grant can no longer be used or refreshed, once it cannot
    updated_at: datetime


def new_key() -> str:
    """A fresh Fernet key, to put in the environment variable ``[tokens] key_variable`` names."""
    return Fernet.generate_key().decode()


class TokenVault:
    """The sealed grants in one database. ``key`` is the Fernet key (from the environment)."""

    def __init__(self, store: Store, key: str, *, key_variable: str = "STORMCALLER_TOKEN_KEY") -> None:
        self.store = store
        self.key_variable = key_variable
        try:
            self._fernet = Fernet(key.encode() if isinstance(key, str) else key)
        except (ValueError, TypeError):
            raise UserError(f"{key_variable} does not hold a valid key (a Fernet key: 44 characters of url-safe "
                            "base64); make one with `python run.py accounts key` and export it") from None

    @classmethod
    def from_environment(cls, store: Store, key_variable: str,
                         environ: Mapping[str, str] | None = None) -> "TokenVault":
        """:raises UserError: the variable is unset or holds no valid key (the message says what to do)."""
        key = (os.environ if environ is None else environ).get(key_variable, "")
        if not key:
            raise UserError(f"environment variable {key_variable} is not set: it holds the key that encrypts "
                            "account tokens in the database; make one with `python run.py accounts key`, export "
                            f"it as {key_variable} wherever the daemon and `accounts` commands run, and keep it "
                            "out of files")
        return cls(store, key, key_variable=key_variable)

    def load(self, account_id: str) -> StoredGrant | None:
        """:raises UserError: the grant was sealed with another key."""
        with self.store.engine.connect() as db:
            row = db.execute(select(account_tokens).where(account_tokens.c.account_id == account_id)).mappings().first()
        if row is None:
            return None
        try:
            grant = Grant.from_json(self._fernet.decrypt(row["sealed"].encode()).decode())
        except InvalidToken:
            raise UserError(f"the token of account {account_id!r} was saved with another key than the one in "
                            f"{self.key_variable}; export the key used by `accounts connect`, or run "
                            f"`python run.py accounts connect {account_id}` again") from None
        return StoredGrant(account_id, row["platform"], grant, row["dead"], row["updated_at"])

    def save(self, account_id: str, platform: str, grant: Grant, now: datetime | None = None) -> None:
        """Keep ``grant`` for the account, replacing whatever was there (a new connection)."""
        now = now or utcnow()
        values = {"platform": platform, "sealed": self._seal(grant), "expires_at": grant.expires_at,
                  "dead": None, "updated_at": now}
        with self.store.engine.begin() as db:
            db.execute(delete(account_tokens).where(account_tokens.c.account_id == account_id))
            db.execute(insert(account_tokens).values(account_id=account_id, **values))

    def replace(self, account_id: str, grant: Grant, *, expected: datetime, now: datetime | None = None) -> bool:
        """Keep a refreshed ``grant`` if the stored one is still the one read at ``expected`` (its
        ``updated_at``). False: another process refreshed it first; read it again."""
        with self.store.engine.begin() as db:
            changed = db.execute(update(account_tokens)
                                 .where(account_tokens.c.account_id == account_id,
                                        account_tokens.c.updated_at == expected)
                                 .values(sealed=self._seal(grant), expires_at=grant.expires_at,
                                         updated_at=now or utcnow())).rowcount
        return bool(changed)

    def mark_dead(self, account_id: str, why: str, now: datetime | None = None) -> None:
        """The grant can no longer be used (revoked, refresh refused): ``accounts check`` and preflight say so."""
        with self.store.engine.begin() as db:
            db.execute(update(account_tokens).where(account_tokens.c.account_id == account_id)
                       .values(dead=why, updated_at=now or utcnow()))

    def forget(self, account_id: str) -> None:
        with self.store.engine.begin() as db:
            db.execute(delete(account_tokens).where(account_tokens.c.account_id == account_id))

    def _seal(self, grant: Grant) -> str:
        return self._fernet.encrypt(grant.to_json().encode()).decode()


def connected_accounts(store: Store) -> dict[str, str | None]:
    """The accounts with a sealed grant, and why each is dead (None while it can be used): what ``validate``
    needs to know without the key (nothing secret is read)."""
    with store.engine.connect() as db:
        return {row.account_id: row.dead for row in db.execute(select(account_tokens.c.account_id,
                                                                      account_tokens.c.dead))}
