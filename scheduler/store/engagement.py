"""The engagement table: snapshots of what people did with a storm's posts and how much its hashtags were
used, one snapshot per ``report collect``. The report reads the newest; older ones stay as history."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, select

from .schema import engagement


@dataclass(frozen=True)
class EngagementRow:
    platform: str
    post_id: str | None = None      # a post's counts, or
    hashtag: str | None = None      # a hashtag's use (with '#')
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    uses: int | None = None
    accounts: int | None = None
    note: str | None = None         # what was counted, or why nothing could be


def record_snapshot(engine: Engine, campaign_id: str, collected_at: datetime, rows: list[EngagementRow]) -> None:
    """Write one snapshot, whole or not at all."""
    if not rows:
        return
    with engine.begin() as db:
        db.execute(insert(engagement), [{"campaign_id": campaign_id, "collected_at": collected_at, **asdict(row)}
                                        for row in rows])


def latest_snapshot(engine: Engine, campaign_id: str) -> tuple[datetime | None, list[EngagementRow]]:
    """The newest snapshot of a campaign (when it was collected, and its rows), or (None, [])."""
    with engine.connect() as db:
        newest = db.execute(select(func.max(engagement.c.collected_at))
                            .where(engagement.c.campaign_id == campaign_id)).scalar()
        if newest is None:
            return None, []
        rows = db.execute(select(engagement).where(engagement.c.campaign_id == campaign_id,
                                                   engagement.c.collected_at == newest)
                          .order_by(engagement.c.id)).mappings().all()
    fields = EngagementRow.__dataclass_fields__
    return newest, [EngagementRow(**{name: row[name] for name in fields}) for row in rows]


def snapshot_count(engine: Engine, campaign_id: str) -> int:
    """How many snapshots a campaign has."""
    with engine.connect() as db:
        return int(db.execute(select(func.count(func.distinct(engagement.c.collected_at)))
                              .where(engagement.c.campaign_id == campaign_id)).scalar() or 0)
