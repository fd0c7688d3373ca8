"""Storms as the outbox holds them: the posts of one campaign occurrence. A storm is a campaign's posts
planned less than ``STORM_SPAN`` apart (a spread lasts hours at most; a yearly campaign's occurrences are a
year apart), starting at its earliest planned post. The preflight and the storm summary read them here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import Connection

from .outbox import CANCELLED, PENDING, SENDING
from .schema import posts

STORM_SPAN = timedelta(days=100)


@dataclass(frozen=True)
class StormAccount:
    account_id: str
    platform: str
    posts: int               # how many posts it has in the storm


@dataclass(frozen=True)
class UpcomingStorm:
    campaign_id: str
    start: datetime          # the storm's first planned post
    accounts: tuple[StormAccount, ...]

    @property
    def key(self) -> str:
        return f"{self.campaign_id}@{self.start:%Y-%m-%dT%H:%M:%S}"


@dataclass(frozen=True)
class StormPost:
    account_id: str
    platform: str
    state: str
    planned_at: datetime
    sent_at: datetime | None


def upcoming_storms(engine: Engine, now: datetime, horizon: timedelta) -> list[UpcomingStorm]:
    """The storms that start after ``now`` and no later than ``now + horizon``, with the accounts due to post
    in each (their pending posts)."""
    firsts = (select(posts.c.campaign_id, func.min(posts.c.planned_at).label("start"))
              .where(posts.c.state == PENDING).group_by(posts.c.campaign_id).subquery())
    with engine.connect() as db:
        starts = db.execute(select(firsts.c.campaign_id, firsts.c.start)
                            .where(firsts.c.start > now, firsts.c.start <= now + horizon)).all()
        storms = [UpcomingStorm(campaign_id, start, _accounts(db, campaign_id, start)) for campaign_id, start in starts]
    return sorted(storms, key=lambda storm: (storm.start, storm.campaign_id))


def storm_accounts(engine: Engine, campaign_id: str, start: datetime) -> tuple[StormAccount, ...]:
    """The accounts with posts in the storm of ``campaign_id`` starting at ``start``, whatever their state but
    cancelled (at the storm's start its posts are sending already); none once it was unqueued, or queued
    again to start at another time."""
    with engine.connect() as db:
        first = db.execute(select(func.min(posts.c.planned_at))
                           .where(posts.c.campaign_id == campaign_id, posts.c.state != CANCELLED,
                                  posts.c.planned_at > start - STORM_SPAN,
                                  posts.c.planned_at < start + STORM_SPAN)).scalar()
        return _accounts(db, campaign_id, start) if first == start else ()


def _accounts(db: Connection, campaign_id: str, start: datetime) -> tuple[StormAccount, ...]:
    rows = db.execute(select(posts.c.account_id, posts.c.platform, func.count())
                      .where(posts.c.campaign_id == campaign_id, posts.c.state != CANCELLED,
                             posts.c.planned_at >= start, posts.c.planned_at < start + STORM_SPAN)
                      .group_by(posts.c.account_id, posts.c.platform)
                      .order_by(posts.c.account_id)).all()
    return tuple(StormAccount(*row) for row in rows)


def storm_posts(engine: Engine, campaign_id: str, around: datetime) -> list[StormPost]:
    """The posts (not cancelled) of the storm of ``campaign_id`` that holds a post planned at ``around``."""
    query = (select(posts.c.account_id, posts.c.platform, posts.c.state, posts.c.planned_at, posts.c.sent_at)
             .where(posts.c.campaign_id == campaign_id, posts.c.state != CANCELLED,
                    posts.c.planned_at > around - STORM_SPAN, posts.c.planned_at < around + STORM_SPAN)
             .order_by(posts.c.planned_at))
    with engine.connect() as db:
        return [StormPost(*row) for row in db.execute(query)]


def open_posts(engine: Engine, campaign_id: str, around: datetime) -> int:
    """How many posts of that storm may still change (pending or sending): a count, cheap to ask often."""
    query = (select(func.count()).where(posts.c.campaign_id == campaign_id, posts.c.state.in_((PENDING, SENDING)),
                                        posts.c.planned_at > around - STORM_SPAN,
                                        posts.c.planned_at < around + STORM_SPAN))
    with engine.connect() as db:
        return int(db.execute(query).scalar() or 0)


def is_open(post: StormPost) -> bool:
    """Whether a post of a storm may still change (its storm is not over)."""
    return post.state in (PENDING, SENDING)
