"""The events table: what the daemon noticed besides posts (preflight checks, alerts, storm summaries, a
database it could not write). Plain rows in and out; a message never holds a secret (callers build it from
non-secret fields, and alerts scrub it as well)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select

from .schema import events

INFO, WARNING, ERROR = "info", "warning", "error"
SEVERITIES = (INFO, WARNING, ERROR)
ACCOUNT_CHECK = "account-check"  # what ``accounts check`` found of one account (the dashboard's account health)


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    kind: str  # preflight | account-check | failed | missed | needs-review | summary | database | alert-endpoint
    severity: str            # info | warning | error
    account_id: str | None
    campaign_id: str | None
    message: str


def record_event(engine: Engine, *, at: datetime, kind: str, severity: str, message: str,
                 account_id: str | None = None, campaign_id: str | None = None) -> None:
    with engine.begin() as db:
        db.execute(insert(events).values(at=at, kind=kind, severity=severity, message=message,
                                         account_id=account_id, campaign_id=campaign_id))


def read_events(engine: Engine, *, since: datetime | None = None, kind: str | None = None,
                campaign_id: str | None = None, account_id: str | None = None,
                limit: int | None = None) -> list[EventRow]:
    """Events in the order they happened (the latest ``limit`` of them, when given)."""
    query = select(events)
    if since is not None:
        query = query.where(events.c.at >= since)
    if kind is not None:
        query = query.where(events.c.kind == kind)
    if campaign_id is not None:
        query = query.where(events.c.campaign_id == campaign_id)
    if account_id is not None:
        query = query.where(events.c.account_id == account_id)
    query = query.order_by(events.c.at.desc(), events.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as db:
        rows = [EventRow(**row) for row in db.execute(query).mappings()]
    return rows[::-1]


def has_event(engine: Engine, *, kind: str, campaign_id: str, since: datetime) -> bool:
    """Whether an event of ``kind`` for the campaign was recorded since ``since`` (a storm summarized already,
    by this daemon before a restart or by another one)."""
    query = select(events.c.id).where(events.c.kind == kind, events.c.campaign_id == campaign_id,
                                      events.c.at >= since).limit(1)
    with engine.connect() as db:
        return db.execute(query).first() is not None
