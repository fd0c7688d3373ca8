"""The tables. Every instant is stored as naive UTC and handed out as aware UTC."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text,
                        TypeDecorator)

UTC = timezone.utc


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the database (the same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; all instants must be aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = MetaData()

campaigns = Table(
    "campaigns", metadata,
    Column("id", String(200), primary_key=True),
    Column("name", Text, nullable=False),
    Column("source", Text, nullable=False),          # the campaign file it was queued from
    Column("state", String(20), nullable=False),     # active | cancelled
    Column("queued_at", UTCDateTime, nullable=False),
    Column("continues", String(200)),                # the campaign whose queued posts it took over, if any
)

posts = Table(
    "posts", metadata,
    Column("id", String(400), primary_key=True),     # campaign/post/account[@year]: stable across re-queues
    Column("campaign_id", String(200), ForeignKey("campaigns.id"), nullable=False),
    Column("post_key", String(200), nullable=False),
    Column("account_id", String(200), nullable=False),
    Column("platform", String(20), nullable=False),
    Column("sequence", Integer, nullable=False, default=0),
    Column("planned_at", UTCDateTime, nullable=False),   # the due time the plan gave
    Column("due_at", UTCDateTime, nullable=False),       # next attempt (later than planned_at after a retry)
    Column("deadline", UTCDateTime, nullable=False),     # planned_at + lateness bound
    Column("state", String(20), nullable=False),         # pending|sending|sent|failed|missed|cancelled|needs-review
    Column("text", Text, nullable=False),
    Column("lang", String(20)),
    Column("images", Text, nullable=False, default="[]"),  # JSON [{file, alt}]
    Column("reply_to_id", String(400)),
    Column("idempotency_key", String(40), nullable=False),  # chosen once at queue time (a TID)
    Column("content_hash", String(40), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("uncertain", Boolean, nullable=False, default=False),  # last attempt may have gone out: settle first
    Column("claimed_by", String(100)),
    Column("claimed_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("platform_id", Text),
    Column("url", Text),
    Column("reply_ref", Text),
    Column("error", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("response", Text),  # JSON: the platform's answer, summed up (dry run: what would have been sent)
)
Index("posts_due", posts.c.state, posts.c.due_at)
Index("posts_campaign", posts.c.campaign_id)

attempts = Table(
    "attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("post_id", String(400), ForeignKey("posts.id"), nullable=False),
    Column("daemon_id", String(100), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("outcome", String(20)),   # None while in flight; sent|retry|rate-limited|rejected|unknown|...
    Column("detail", Text),          # the platform's own words, or ours
)
Index("attempts_post", attempts.c.post_id)

daemons = Table(
    "daemons", metadata,
    Column("id", String(100), primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime),
)

account_tokens = Table(
    "account_tokens", metadata,
    Column("account_id", String(200), primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("sealed", Text, nullable=False),          # the grant (tokens, scopes, expiry) encrypted: Fernet
    Column("expires_at", UTCDateTime),               # when the access token expires (not secret: for checks)
    Column("dead", Text),                            # why the grant can no longer be refreshed, once it cannot
    Column("updated_at", UTCDateTime, nullable=False),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(40), nullable=False),      # preflight | alert | database | summary | token ...
    Column("severity", String(10), nullable=False),  # info | warning | error
    Column("account_id", String(200)),
    Column("campaign_id", String(200)),
    Column("message", Text, nullable=False),         # never a secret
)
Index("events_at", events.c.at)

engagement = Table(
    "engagement", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(200), nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),  # one `report collect`: every row it wrote has it
    Column("platform", String(20), nullable=False),
    Column("post_id", String(400)),                  # a post's counts; or
    Column("hashtag", String(200)),                  # a hashtag's use in the storm window (per platform)
    Column("likes", Integer),
    Column("reposts", Integer),
    Column("replies", Integer),
    Column("quotes", Integer),
    Column("uses", Integer),                         # hashtag: posts that used it
    Column("accounts", Integer),                     # hashtag: accounts that used it, where told
    Column("note", Text),                            # what was counted, or why nothing could be (never a secret)
)
Index("engagement_campaign", engagement.c.campaign_id, engagement.c.collected_at)
