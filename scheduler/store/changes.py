"""What changed in a storm since a cursor: the live page's feed. The daemons are other processes, so the
dashboard polls these queries and pushes what changed.

A cursor is the last (``updated_at``, post id) a reader saw. Writers stamp ``updated_at`` with their own
clocks and commit in any order, so each read goes back ``OVERLAP`` before the cursor and a :class:`ChangeFeed`
drops the versions it already handed out: nothing committed late is lost, nothing is told twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.engine import Connection

from .outbox import NEEDS_REVIEW, PENDING, SENDING, AttemptRow, PostRow
from .schema import UTC, attempts, posts
from .storms import STORM_SPAN

OVERLAP = timedelta(seconds=5)
OPEN_STATES = (PENDING, SENDING, NEEDS_REVIEW)


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in a storm's changes: after the post ``post_id`` stamped at ``at``."""

    at: datetime
    post_id: str

    def encode(self) -> str:
        return f"{self.at.astimezone(UTC).isoformat()}|{self.post_id}"

    @classmethod
    def decode(cls, text: str | None) -> "Cursor | None":
        """The cursor an SSE client sent back (``Last-Event-ID``); None for none or one that is not ours."""
        at, bar, post_id = (text or "").partition("|")
        if not bar or not post_id:
            return None
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            return None
        return cls(moment if moment.tzinfo else moment.replace(tzinfo=UTC), post_id)


@dataclass(frozen=True)
class PostChange:
    """One post as it is now, with its last attempt (the platform's words for a failure), and its cursor."""

    post: PostRow
    last_attempt: AttemptRow | None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.post.updated_at, self.post.id)

    @property
    def version(self) -> tuple[object, ...]:
        """What a reader shows of the post, as ``VERSION`` reads it (an attempt never changes without its
        post's ``updated_at``)."""
        post = self.post
        return (post.updated_at, post.state, post.attempts, post.uncertain, post.url, post.error)


VERSION = (posts.c.updated_at, posts.c.state, posts.c.attempts, posts.c.uncertain, posts.c.url, posts.c.error)


def storm_window(engine: Engine, campaign_id: str) -> tuple[datetime, datetime] | None:
    """The planned-time window of the campaign's storm to watch: the one holding its earliest post that may
    still change (pending, sending, needs review), else its latest. None for a campaign with no posts."""
    with engine.connect() as db:
        around = db.execute(select(func.min(posts.c.planned_at))
                            .where(posts.c.campaign_id == campaign_id, posts.c.state.in_(OPEN_STATES))).scalar()
        if around is None:
            around = db.execute(select(func.max(posts.c.planned_at))
                                .where(posts.c.campaign_id == campaign_id)).scalar()
        if around is None:
            return None
        start = db.execute(select(func.min(posts.c.planned_at))
                           .where(posts.c.campaign_id == campaign_id, posts.c.planned_at > around - STORM_SPAN,
                                  posts.c.planned_at <= around)).scalar()
    first: datetime = start if start is not None else around
    return first, first + STORM_SPAN


def changed_posts(engine: Engine, campaign_id: str, window: tuple[datetime, datetime], after: Cursor | None,
                  *, known: Mapping[str, tuple[object, ...]] | None = None,
                  overlap: timedelta = OVERLAP) -> list[PostChange]:
    """The storm's posts changed since ``after`` (all of them without it), going back ``overlap`` before it,
    oldest change first, each with its last attempt; less those whose version ``known`` holds (the overlap
    is read as a few narrow columns first, so reading it again and again costs little)."""
    known = known or {}
    query = (select(posts.c.id, *VERSION).where(posts.c.campaign_id == campaign_id, posts.c.planned_at >= window[0],
                                                posts.c.planned_at < window[1])
             .order_by(posts.c.updated_at, posts.c.id))
    if after is not None:
        query = query.where(posts.c.updated_at >= after.at - overlap)
    with engine.connect() as db:
        wanted = [row[0] for row in db.execute(query) if known.get(row[0]) != tuple(row[1:])]
        found: dict[str, PostRow] = {}
        for start in range(0, len(wanted), 500):
            for row in db.execute(select(posts).where(posts.c.id.in_(wanted[start:start + 500]))).mappings():
                found[row["id"]] = PostRow.from_row(row)
        last = _last_attempts(db, wanted)
    return [PostChange(found[post_id], last.get(post_id)) for post_id in wanted if post_id in found]


def _last_attempts(db: Connection, post_ids: list[str]) -> dict[str, AttemptRow]:
    found: dict[str, AttemptRow] = {}
    for start in range(0, len(post_ids), 500):
        chunk = post_ids[start:start + 500]
        newest = (select(attempts.c.post_id, func.max(attempts.c.id).label("id"))
                  .where(attempts.c.post_id.in_(chunk)).group_by(attempts.c.post_id).subquery())
        query = select(attempts).join(newest, and_(attempts.c.id == newest.c.id,
                                                   attempts.c.post_id == newest.c.post_id))
        for row in db.execute(query).mappings():
            found[row["post_id"]] = AttemptRow(**row)
    return found


@dataclass
class ChangeFeed:
    """One reader's view of a storm: each poll returns the posts whose version it has not handed out yet. Its
    ``window`` (the storm's planned times) is read again at each poll: a storm queued again at another time (a
    rehearsal played from when its watcher is ready) is followed there."""

    engine: Engine
    campaign_id: str
    window: tuple[datetime, datetime]
    cursor: Cursor | None = None
    _told: dict[str, tuple[object, ...]] = field(default_factory=dict)

    @classmethod
    def open(cls, engine: Engine, campaign_id: str, after: Cursor | None = None) -> "ChangeFeed | None":
        """A feed of the campaign's storm, resuming after ``after`` (a client's ``Last-Event-ID``); None when
        the campaign has no posts."""
        window = storm_window(engine, campaign_id)
        return None if window is None else cls(engine, campaign_id, window, after)

    def poll(self, now: datetime | None = None) -> list[PostChange]:
        """Blocking (SQLAlchemy): call it from a thread, never on an event loop. Resumed after a cursor, the
        first poll repeats the changes of the ``OVERLAP`` before it: a reader applies a post's state, so a
        repeat changes nothing, and a change committed late is not lost.

        :param now: the reader's clock: a write stamped ahead of it (a writer whose clock runs ahead) never
            moves the reads past what a writer with a right clock stamps next."""
        since = self.cursor
        if since is not None and now is not None and since.at > now:
            since = Cursor(now, "")
        self.window = storm_window(self.engine, self.campaign_id) or self.window  # follows a storm queued anew
        fresh = []
        for change in changed_posts(self.engine, self.campaign_id, self.window, since, known=self._told):
            if self._told.get(change.post.id) == change.version:
                continue
            self._told[change.post.id] = change.version
            fresh.append(change)
        if fresh:
            newest = max(change.cursor for change in fresh)
            self.cursor = newest if self.cursor is None else max(self.cursor, newest)
        return fresh


__all__ = ["Cursor", "PostChange", "ChangeFeed", "changed_posts", "storm_window", "OVERLAP"]
