"""What went out: the log of every post and attempt, its exports, and the outbox at a glance."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..problems import UserError, read_toml
from ..timing import UTC, parse_duration
from ..store import NEEDS_REVIEW, AttemptRow, LogFilter, PostRow, Store
from ..store.events import EventRow, read_events


@dataclass(frozen=True)
class LogEntry:
    post: PostRow
    attempts: list[AttemptRow]

    def as_dict(self) -> dict[str, Any]:
        post = self.post
        return {
            "id": post.id, "campaign": post.campaign_id, "account": post.account_id, "platform": post.platform,
            "state": post.state, "due_at": _iso(post.planned_at), "sent_at": _iso(post.sent_at),
            "lateness_seconds": post.lateness.total_seconds() if post.lateness else None,
            "platform_id": post.platform_id, "url": post.url, "error": post.error, "text": post.text,
            "response": json.loads(post.response) if post.response else None,
            "attempts": [{"started_at": _iso(a.started_at), "ended_at": _iso(a.ended_at), "outcome": a.outcome,
                          "detail": a.detail, "daemon": a.daemon_id} for a in self.attempts],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def read_log(store: Store, log_filter: LogFilter = LogFilter()) -> list[LogEntry]:  # noqa: B008 - frozen dataclass
    rows = store.posts(log_filter)
    attempts = store.attempts_for(row.id for row in rows)
    return [LogEntry(row, attempts.get(row.id, [])) for row in rows]


def parse_since(value: str | None, now: datetime, *, name: str = "--since") -> datetime | None:
    """``log``'s since filter: a date or time (without an offset: UTC, like every time the log shows) or a
    duration ago (2h, 3d).

    :raises UserError: neither (``name`` is the option or field the value came from).
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return now - parse_duration(value)
    except ValueError:
        raise UserError(f"{name} {value!r}: give a date like 2027-04-17 or a duration like 2h or 3d") from None


def search(entries: list[LogEntry], words: str) -> list[LogEntry]:
    """The entries whose post or attempts hold every word of ``words`` (case ignored): id, campaign,
    account, platform, state, text, link, reason, attempt details."""
    wanted = words.casefold().split()
    if not wanted:
        return entries
    return [entry for entry in entries if all(word in _searchable(entry) for word in wanted)]


def _searchable(entry: LogEntry) -> str:
    post = entry.post
    parts = [post.id, post.campaign_id, post.account_id, post.platform, post.state, post.text, post.url,
             post.error, *(part for attempt in entry.attempts for part in (attempt.detail, attempt.outcome))]
    return "\n".join(part for part in parts if part).casefold()


def events(store: Store, log_filter: LogFilter = LogFilter()) -> list[EventRow]:  # noqa: B008 - frozen
    """What the daemon noticed besides posts (preflight checks, alerts, storm summaries), oldest first."""
    return read_events(store.engine, since=log_filter.since, campaign_id=log_filter.campaign,
                       account_id=log_filter.account)


def events_json(rows: list[EventRow]) -> str:
    return json.dumps([{"at": _iso(row.at), "kind": row.kind, "severity": row.severity, "account": row.account_id,
                        "campaign": row.campaign_id, "message": row.message} for row in rows], indent=2,
                      ensure_ascii=False)


CSV_COLUMNS = ["id", "campaign", "account", "platform", "state", "due_at", "sent_at", "lateness_seconds",
               "platform_id", "url", "error", "attempts"]


def log_csv(entries: list[LogEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for entry in entries:
        row = entry.as_dict()
        row["attempts"] = len(row["attempts"])
        writer.writerow(row)
    return out.getvalue()


def log_json(entries: list[LogEntry]) -> str:
    return json.dumps([entry.as_dict() for entry in entries], indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class OutboxStatus:
    """The outbox at a glance, for a daemon starting up."""

    counts: dict[str, int]
    next_due: datetime | None
    needs_review: list[PostRow]


def outbox_status(store: Store) -> OutboxStatus:
    return OutboxStatus(store.counts(), store.next_due_at(), needs_review(store))


def needs_review(store: Store) -> list[PostRow]:
    return store.posts(LogFilter(states=[NEEDS_REVIEW]))


def campaign_id_of(path: Path) -> str | None:
    """The id a campaign file's posts are queued and logged under (its ``id``, else its file name), or None
    when ``path`` is no readable TOML file."""
    try:
        data, _ = read_toml(path)
    except UserError:
        return None
    own = data.get("id")
    from ..campaign import campaign_id  # the campaign stack (babel ...): not for `run`'s status line

    return campaign_id(own if isinstance(own, str) and own else None, path)
