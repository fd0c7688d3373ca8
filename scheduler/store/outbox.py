"""The outbox: every planned post as a row, its state, and its attempts. All queries live here.

States: pending -> sending -> sent | failed | missed | needs-review; pending -> cancelled (unqueue/removed);
sending -> pending again for a retry (due_at moved, never past the deadline).
The claim (pending -> sending) is one conditional UPDATE, so a post is taken by exactly one daemon.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Collection, Iterable, Sequence

from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from ..tid import new_tid
from ..timing import utcnow
from .database import check_writable, make_engine, migrate
from .schema import attempts, campaigns, daemons, posts

PENDING, SENDING, SENT, FAILED, MISSED, CANCELLED, NEEDS_REVIEW = (
    "pending", "sending", "sent", "failed", "missed", "cancelled", "needs-review")
FINAL_STATES = (SENT, FAILED, MISSED, CANCELLED, NEEDS_REVIEW)
MAY_BE_OUT = "its last attempt may have gone out: being settled"  # how a queue report names a post it keeps
STATES = (PENDING, SENDING) + FINAL_STATES


@dataclass(frozen=True)
class PostRow:
    id: str
    campaign_id: str
    post_key: str
    account_id: str
    platform: str
    sequence: int
    planned_at: datetime
    due_at: datetime
    deadline: datetime
    state: str
    text: str
    lang: str | None
    images: str
    reply_to_id: str | None
    idempotency_key: str
    content_hash: str
    attempts: int
    uncertain: bool
    claimed_by: str | None
    claimed_at: datetime | None
    sent_at: datetime | None
    platform_id: str | None
    url: str | None
    reply_ref: str | None
    error: str | None
    updated_at: datetime
    response: str | None = None  # JSON: the platform's answer, summed up

    @classmethod
    def from_row(cls, row: RowMapping) -> "PostRow":
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    @property
    def image_list(self) -> list[dict[str, str]]:
        images: list[dict[str, str]] = json.loads(self.images)
        return images

    @property
    def lateness(self) -> timedelta | None:
        return self.sent_at - self.planned_at if self.sent_at else None


@dataclass(frozen=True)
class AttemptRow:
    id: int
    post_id: str
    daemon_id: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    detail: str | None


@dataclass(frozen=True)
class NewPost:
    """One post of a plan, as the outbox stores it."""

    id: str                 # stable: campaign / post / account [@year] (the campaign id, "/", the rest)
    campaign_id: str
    post_key: str
    account_id: str
    platform: str
    sequence: int
    due_at: datetime
    deadline: datetime
    text: str
    lang: str | None
    images: tuple[tuple[str, str], ...]  # (file, alt)
    reply_to_id: str | None
    content_hash: str       # what, if it changes, makes a re-queue update the pending post


@dataclass(frozen=True)
class CampaignRecord:
    id: str
    name: str
    source: str             # the campaign file it was queued from
    continues: str | None = None  # the queued campaign whose posts it takes over (a renamed or copied file)


@dataclass(frozen=True)
class QueuedPost:
    """A post that may still go out (pending, sending, needs review) or went out lately, with the file its
    campaign was queued from: what a campaign being checked or queued must not repeat."""

    campaign_id: str
    source: str             # the campaign's file
    continues: str | None   # the campaign its campaign continues
    post_key: str
    account_id: str
    platform: str
    planned_at: datetime
    text: str
    state: str


@dataclass
class QueueReport:
    campaign_id: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)      # (post id, state) left as they are
    skipped_past: list[str] = field(default_factory=list)          # already past the lateness bound
    taken_over: list[str] = field(default_factory=list)  # pending posts of the continued campaign, now this one's
    to_review: list[str] = field(default_factory=list)   # removed while they may have gone out: a person looks


@dataclass(frozen=True)
class LogFilter:
    campaign: str | None = None
    account: str | None = None
    states: Sequence[str] = ()
    since: datetime | None = None


class Store:
    """The database (SQLite file or PostgreSQL), migrated on open."""

    def __init__(self, url: str, *, engine: Engine | None = None, writable: bool = True) -> None:
        """:param writable: check now that the database takes writes (``UserError`` naming it if not); False
            for a command that only reads (``log``, the checks of ``validate``)."""
        self.url = url
        self.engine = engine or make_engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        migrate(self.engine)
        if writable:
            check_writable(self.engine, url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- queue -----------------------------------------------------------------------------------
    def queue(self, campaign: CampaignRecord, planned: Sequence[NewPost], now: datetime | None = None) -> QueueReport:
        """Write a campaign's posts: new posts inserted, pending ones updated in place, removed ones cancelled;
        posts already sent (or sending, failed, missed) never touched. One transaction: all or nothing.

        A campaign that ``continues`` another takes it over as if its posts had been queued under the new
        id: the other campaign's pending posts are cancelled and planned again here; its posts that went out
        or may have (sent, sending, failed, missed, needs review, or pending a retry) stay where they are, and
        the matching post here is not queued (listed as kept)."""
        now = now or utcnow()
        report = QueueReport(campaign.id)
        with self.engine.begin() as db:
            self._upsert_campaign(db, campaign, now)
            existing = {row.id: row for row in db.execute(
                select(posts.c.id, posts.c.state, posts.c.content_hash, posts.c.uncertain)
                .where(posts.c.campaign_id == campaign.id))}
            staying = self._take_over(db, campaign, report, now) if campaign.continues else {}
            new_rows, planned_ids = [], set()
            for post in planned:
                planned_ids.add(post.id)
                old = existing.get(post.id)
                if post.deadline < now:
                    report.skipped_past.append(post.id)
                    continue
                held = staying.get(_in_campaign(post.id, campaign.id))
                if held is not None and (old is None or old.state == CANCELLED):
                    report.kept.append(held)  # it went out (or may have) under the campaign continued
                elif old is None:
                    new_rows.append(_new_row(post, now))
                    report.added.append(post.id)
                elif old.state == PENDING and old.uncertain:
                    report.kept.append((post.id, MAY_BE_OUT))  # rewriting it would make settling miss the first
                elif old.state in (PENDING, CANCELLED):
                    if old.state == PENDING and old.content_hash == post.content_hash:
                        report.unchanged.append(post.id)
                        continue
                    db.execute(update(posts).where(posts.c.id == post.id, posts.c.state == old.state,
                                                   posts.c.uncertain.is_(False))
                               .values(**_content(post), state=PENDING, error=None, updated_at=now))
                    report.updated.append(post.id)
                else:
                    report.kept.append((post.id, old.state))
            if new_rows:
                db.execute(insert(posts), new_rows)
            removed = [pid for pid, row in existing.items() if pid not in planned_ids and row.state == PENDING]
            report.to_review.extend(self._to_review(db, removed, "removed from the campaign file", now))
            self._cancel(db, removed, "removed from the campaign file", now)
            report.cancelled.extend(pid for pid in removed if pid not in report.to_review)
        return report

    def _upsert_campaign(self, db: Connection, campaign: CampaignRecord, now: datetime) -> None:
        values = dict(name=campaign.name, source=campaign.source, continues=campaign.continues, state="active",
                      queued_at=now)
        if db.execute(update(campaigns).where(campaigns.c.id == campaign.id).values(**values)).rowcount == 0:
            db.execute(insert(campaigns).values(id=campaign.id, **values))

    def _take_over(self, db: Connection, campaign: CampaignRecord, report: QueueReport,
                   now: datetime) -> dict[str, tuple[str, str]]:
        """Cancel the continued campaign's pending posts that were never tried (they are planned again
        under ``campaign``); answer its posts that stay, by their id within the campaign: (post id, state)."""
        old_id = campaign.continues or ""
        rows = db.execute(select(posts.c.id, posts.c.state, posts.c.attempts, posts.c.uncertain)
                          .where(posts.c.campaign_id == old_id)).all()
        fresh = {row.id for row in rows if row.state == PENDING and row.attempts == 0 and not row.uncertain}
        moved: set[str] = set()
        for chunk in _chunks(sorted(fresh), 500):  # only those still pending now (a daemon may have claimed one)
            moved.update(db.execute(
                update(posts).where(posts.c.id.in_(chunk), posts.c.state == PENDING, posts.c.attempts == 0,
                                    posts.c.uncertain.is_(False))
                .values(state=CANCELLED, updated_at=now,
                        error=f"continued by campaign {campaign.id!r} ({campaign.source})")
                .returning(posts.c.id)).scalars())
        report.taken_over.extend(sorted(moved))
        return {_in_campaign(row.id, old_id): (row.id, _staying_state(row.state, row.id in fresh))
                for row in rows if row.id not in moved and row.state != CANCELLED}

    def _cancel(self, db: Connection, post_ids: list[str], reason: str, now: datetime) -> int:
        """Cancel those still pending whose every attempt (if any) certainly did not go out."""
        count = 0
        for chunk in _chunks(post_ids, 500):
            count += db.execute(update(posts).where(posts.c.id.in_(chunk), posts.c.state == PENDING,
                                                    posts.c.uncertain.is_(False))
                                .values(state=CANCELLED, error=reason, updated_at=now)).rowcount
        return count

    def _to_review(self, db: Connection, post_ids: list[str], reason: str, now: datetime) -> list[str]:
        """Pending posts whose last attempt may have gone out cannot just be cancelled (the log would say
        cancelled of a post that may be on the platform) nor settled and sent: a person looks."""
        found: list[str] = []
        for chunk in _chunks(post_ids, 500):
            found += db.execute(update(posts).where(posts.c.id.in_(chunk), posts.c.state == PENDING,
                                                    posts.c.uncertain.is_(True))
                                .values(state=NEEDS_REVIEW, updated_at=now, claimed_by=None,
                                        error=f"{reason} while its last attempt's outcome was unknown: it may "
                                              f"have been published; check the account, then `resolve` it")
                                .returning(posts.c.id)).scalars().all()
        return found

    def unqueue(self, campaign_id: str, now: datetime | None = None) -> tuple[int, list[str]]:
        """Cancel every pending post of a campaign; one whose last attempt may have gone out becomes
        needs-review instead. Returns how many were cancelled, and the ids of those to review."""
        now = now or utcnow()
        with self.engine.begin() as db:
            db.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(state="cancelled"))
            pending = list(db.execute(select(posts.c.id).where(posts.c.campaign_id == campaign_id,
                                                               posts.c.state == PENDING)).scalars())
            to_review = self._to_review(db, pending, "campaign cancelled (unqueue)", now)
            return self._cancel(db, pending, "campaign cancelled (unqueue)", now), to_review

    def resolve_review(self, post_id: str, *, published: bool, url: str | None, resend_until: datetime | None,
                       now: datetime) -> bool:
        """A person checked a needs-review post: it went out (sent, with its link if known), it did not
        (failed), or it did not and should go now (pending until ``resend_until``). False if the post is not
        awaiting review."""
        if published:
            values = dict(state=SENT, sent_at=now, url=url, error=None, detail="a person checked: published")
        elif resend_until is not None:
            values = dict(state=PENDING, due_at=now, deadline=resend_until, uncertain=False,
                          error="a person checked: not published; sending again", claimed_by=None)
        else:
            values = dict(state=FAILED, error="a person checked: not published")
        detail = values.pop("detail", values.get("error"))
        with self.engine.begin() as db:
            changed = db.execute(update(posts).where(posts.c.id == post_id, posts.c.state == NEEDS_REVIEW)
                                 .values(updated_at=now, **values)).rowcount
            if changed:
                db.execute(insert(attempts).values(post_id=post_id, daemon_id="person", started_at=now,
                                                   ended_at=now, outcome="reviewed", detail=detail))
        return changed == 1

    def campaign_exists(self, campaign_id: str) -> bool:
        return self.campaign(campaign_id) is not None

    def campaign(self, campaign_id: str) -> CampaignRecord | None:
        with self.engine.connect() as db:
            row = db.execute(select(campaigns.c.id, campaigns.c.name, campaigns.c.source, campaigns.c.continues)
                             .where(campaigns.c.id == campaign_id)).first()
        return CampaignRecord(row.id, row.name, row.source, row.continues) if row else None

    def campaign_ids(self) -> list[str]:
        with self.engine.connect() as db:
            return list(db.execute(select(campaigns.c.id).order_by(campaigns.c.id)).scalars())

    def queued_posts(self, account_ids: Iterable[str], platforms: Iterable[str], start: datetime,
                     end: datetime) -> list[QueuedPost]:
        """The posts of these accounts, and of every account on these platforms, planned from ``start`` to
        ``end`` that may still go out (pending, sending, needs review) or went out (sent), each with its
        campaign's file."""
        query = (select(posts.c.campaign_id, campaigns.c.source, campaigns.c.continues, posts.c.post_key,
                        posts.c.account_id, posts.c.platform, posts.c.planned_at, posts.c.text, posts.c.state)
                 .join(campaigns, campaigns.c.id == posts.c.campaign_id)
                 .where(or_(posts.c.account_id.in_(sorted(set(account_ids))),
                            posts.c.platform.in_(sorted(set(platforms)))),
                        posts.c.state.in_((PENDING, SENDING, NEEDS_REVIEW, SENT)),
                        posts.c.planned_at >= start, posts.c.planned_at <= end)
                 .order_by(posts.c.planned_at, posts.c.sequence, posts.c.account_id))
        with self.engine.connect() as db:
            return [QueuedPost(**row) for row in db.execute(query).mappings()]

    # --- dispatch --------------------------------------------------------------------------------
    def next_due_at(self, now: datetime | None = None) -> datetime | None:
        """The earliest due time of a post that can still be claimed (not past its deadline unless
        uncertain), or None."""
        query = select(func.min(posts.c.due_at)).where(posts.c.state == PENDING)
        if now is not None:
            query = query.where(or_(posts.c.deadline >= now, posts.c.uncertain.is_(True)))
        with self.engine.connect() as db:
            return db.execute(query).scalar()

    def pending_due_by(self, horizon: datetime, now: datetime, limit: int) -> list[PostRow]:
        """Pending posts due by ``horizon`` that can still be sent (not past their deadline, not uncertain),
        earliest first: read, not claimed (the dispatcher builds their requests ahead)."""
        query = (select(posts).where(posts.c.state == PENDING, posts.c.due_at <= horizon, posts.c.deadline >= now,
                                     posts.c.uncertain.is_(False))
                 .order_by(posts.c.due_at, posts.c.sequence).limit(limit))
        with self.engine.connect() as db:
            return [PostRow.from_row(row) for row in db.execute(query).mappings()]

    def pending_due_times(self, account_ids: Iterable[str]) -> dict[str, list[datetime]]:
        """When each of these accounts' pending posts are due, earliest first (``accounts check`` holds them
        against the rate budget and the token's expiry)."""
        wanted = sorted(set(account_ids))
        found: dict[str, list[datetime]] = {account_id: [] for account_id in wanted}
        query = (select(posts.c.account_id, posts.c.due_at)
                 .where(posts.c.state == PENDING, posts.c.account_id.in_(wanted)).order_by(posts.c.due_at))
        with self.engine.connect() as db:
            for account_id, due_at in db.execute(query):
                found[account_id].append(due_at)
        return found

    def accounts_with_open_posts(self) -> list[str]:
        """Accounts with posts still to send or to settle (pending or sending)."""
        with self.engine.connect() as db:
            return list(db.execute(select(posts.c.account_id).where(posts.c.state.in_((PENDING, SENDING)))
                                   .distinct()).scalars())

    def expire_overdue(self, now: datetime) -> list[PostRow]:
        """Pending posts past their deadline become missed, with the reason."""
        with self.engine.begin() as db:
            rows = db.execute(select(posts).where(posts.c.state == PENDING, posts.c.deadline < now,
                                                  posts.c.uncertain.is_(False))).mappings().all()
            for row in rows:
                reason = (f"missed: due {row['planned_at']:%Y-%m-%d %H:%M:%S} UTC and not sent by its deadline "
                          f"{row['deadline']:%H:%M:%S} UTC (lateness bound); the daemon was not running or could "
                          "not send in time")
                if row["error"]:
                    reason += f"; last error: {row['error']}"
                db.execute(update(posts).where(posts.c.id == row["id"], posts.c.state == PENDING)
                           .values(state=MISSED, error=reason, updated_at=now))
        return [PostRow.from_row(row) for row in rows]

    def claim_due(self, now: datetime, daemon_id: str, limit: int = 1000,
                  horizon: datetime | None = None) -> list[PostRow]:
        """Atomically take up to ``limit`` posts due by ``horizon`` (default ``now``; pending -> sending)
        and open an attempt for each, in one transaction: the attempt is recorded before any platform is
        called."""
        horizon = horizon or now
        # an uncertain post is claimed even past its deadline: it must be settled, never just called missed
        due = (select(posts.c.id).where(posts.c.state == PENDING, posts.c.due_at <= horizon,
                                        or_(posts.c.deadline >= now, posts.c.uncertain.is_(True)))
               .order_by(posts.c.due_at, posts.c.sequence).limit(limit))
        if self.is_postgres:
            due = due.with_for_update(skip_locked=True)
        with self.engine.begin() as db:
            rows = db.execute(
                update(posts).where(posts.c.id.in_(due.scalar_subquery()), posts.c.state == PENDING)
                .values(state=SENDING, claimed_by=daemon_id, claimed_at=now, attempts=posts.c.attempts + 1,
                        updated_at=now)
                .returning(*posts.c)).mappings().all()
            if rows:
                db.execute(insert(attempts), [dict(post_id=row["id"], daemon_id=daemon_id, started_at=now)
                                              for row in rows])
        return sorted((PostRow.from_row(row) for row in rows), key=lambda r: (r.due_at, r.sequence))

    def finish(self, post_id: str, daemon_id: str, *, state: str, outcome: str, detail: str | None,
               now: datetime | None = None, **values: Any) -> bool:
        """Close the open attempt and move the post out of ``sending``. Returns False if this daemon no
        longer holds the post (another daemon settled it after this one was thought dead)."""
        now = now or utcnow()
        with self.engine.begin() as db:
            changed = db.execute(update(posts).where(posts.c.id == post_id, posts.c.state == SENDING,
                                                     posts.c.claimed_by == daemon_id)
                                 .values(state=state, updated_at=now, **values)).rowcount
            db.execute(update(attempts).where(attempts.c.post_id == post_id, attempts.c.outcome.is_(None),
                                              attempts.c.daemon_id == daemon_id)
                       .values(ended_at=now, outcome=outcome, detail=detail))
        return changed == 1

    def record_sent_many(self, daemon_id: str, results: list[dict[str, Any]]) -> None:
        """Several sent posts in one transaction (a burst's results): each dict has post_id, platform_id,
        url, reply_ref, response (JSON text), detail, sent_at."""
        if not results:
            return
        post_rows = [dict(r, b_id=r["post_id"], b_daemon=daemon_id) for r in results]
        with self.engine.begin() as db:
            db.execute(update(posts).where(posts.c.id == bindparam("b_id"), posts.c.state == SENDING,
                                           posts.c.claimed_by == bindparam("b_daemon"))
                       .values(state=SENT, updated_at=bindparam("sent_at"), sent_at=bindparam("sent_at"),
                               platform_id=bindparam("platform_id"), url=bindparam("url"),
                               reply_ref=bindparam("reply_ref"), response=bindparam("response"), error=None,
                               uncertain=False),
                       [{k: row[k] for k in ("b_id", "b_daemon", "sent_at", "platform_id", "url", "reply_ref",
                                             "response")}
                        for row in post_rows])
            db.execute(update(attempts).where(attempts.c.post_id == bindparam("b_id"), attempts.c.outcome.is_(None),
                                              attempts.c.daemon_id == bindparam("b_daemon"))
                       .values(ended_at=bindparam("sent_at"), outcome="sent", detail=bindparam("detail")),
                       [{k: row[k] for k in ("b_id", "b_daemon", "sent_at", "detail")} for row in post_rows])

    def record_retry(self, post_id: str, daemon_id: str, *, due_at: datetime, outcome: str, detail: str,
                     uncertain: bool = False, now: datetime | None = None) -> bool:
        """Back to pending for another try at ``due_at``; ``uncertain`` = settle before resending."""
        return self.finish(post_id, daemon_id, state=PENDING, outcome=outcome, detail=detail, now=now,
                           due_at=due_at, error=detail, claimed_by=None, uncertain=uncertain)

    def record_final(self, post_id: str, daemon_id: str, *, state: str, outcome: str, detail: str,
                     now: datetime | None = None) -> bool:
        return self.finish(post_id, daemon_id, state=state, outcome=outcome, detail=detail, now=now, error=detail)

    # --- daemons ---------------------------------------------------------------------------------
    def register_daemon(self, daemon_id: str, host: str, pid: int, now: datetime | None = None) -> None:
        now = now or utcnow()
        with self.engine.begin() as db:
            db.execute(insert(daemons).values(id=daemon_id, host=host, pid=pid, started_at=now, heartbeat_at=now))

    def heartbeat(self, daemon_id: str, now: datetime | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(update(daemons).where(daemons.c.id == daemon_id).values(heartbeat_at=now or utcnow()))

    def daemon_stopped(self, daemon_id: str, now: datetime | None = None) -> None:
        with self.engine.begin() as db:
            db.execute(update(daemons).where(daemons.c.id == daemon_id).values(stopped_at=now or utcnow()))

    def orphaned_sending(self, now: datetime, stale_after: timedelta, *, asking: str | None = None,
                         running: Collection[str] = (), hung_after: timedelta | None = None) -> list[PostRow]:
        """Posts left in ``sending`` by a daemon that stopped or whose heartbeat is older than
        ``stale_after``: their outcome is uncertain and must be settled. The ``asking`` daemon's own posts
        are never among them: they are in flight in that daemon, however late its own heartbeat.

        ``running``: daemons whose process the asker saw running (on its machine). A late heartbeat from one
        of them means a loaded machine, not a dead daemon: its posts are left to it unless it has been silent
        for ``hung_after`` (taking them over would only make both daemons settle them again, and on a machine
        short of CPU the daemons would keep taking each other's posts)."""
        fresh = daemons.c.heartbeat_at >= now - stale_after
        if running and hung_after is not None:
            fresh = or_(fresh, and_(daemons.c.id.in_(list(running)), daemons.c.heartbeat_at >= now - hung_after))
        alive = select(daemons.c.id).where(daemons.c.stopped_at.is_(None), fresh)
        orphaned = or_(posts.c.claimed_by.is_(None), posts.c.claimed_by.not_in(alive))
        if asking is not None:
            orphaned = and_(orphaned, or_(posts.c.claimed_by.is_(None), posts.c.claimed_by != asking))
        with self.engine.connect() as db:
            rows = db.execute(select(posts).where(posts.c.state == SENDING, orphaned)).mappings().all()
        return [PostRow.from_row(row) for row in rows]

    def take_over(self, orphans: Iterable[PostRow], daemon_id: str, now: datetime) -> list[PostRow]:
        """Atomically move orphaned ``sending`` posts to this daemon (each only if nobody else did), in one
        transaction. Returns the posts taken, now uncertain and this daemon's."""
        taken = []
        with self.engine.begin() as db:
            for post in orphans:
                moved = db.execute(update(posts).where(posts.c.id == post.id, posts.c.state == SENDING,
                                                       _same_claimer(post.claimed_by))
                                   .values(claimed_by=daemon_id, claimed_at=now, updated_at=now, uncertain=True))
                if moved.rowcount != 1:
                    continue
                db.execute(update(attempts).where(attempts.c.post_id == post.id, attempts.c.outcome.is_(None))
                           .values(ended_at=now, outcome="interrupted",
                                   detail=f"daemon {post.claimed_by} stopped while sending; outcome to be settled"))
                db.execute(insert(attempts).values(post_id=post.id, daemon_id=daemon_id, started_at=now,
                                                   detail="settling an uncertain outcome"))
                taken.append(replace(post, uncertain=True, claimed_by=daemon_id, claimed_at=now))
        return taken

    def mark_uncertain(self, post_id: str, daemon_id: str, detail: str, now: datetime) -> None:
        """An attempt ended without an answer: close it as unknown and open the settling attempt."""
        with self.engine.begin() as db:
            db.execute(update(attempts).where(attempts.c.post_id == post_id, attempts.c.outcome.is_(None),
                                              attempts.c.daemon_id == daemon_id)
                       .values(ended_at=now, outcome="unknown", detail=detail))
            db.execute(insert(attempts).values(post_id=post_id, daemon_id=daemon_id, started_at=now,
                                               detail="settling an uncertain outcome"))
            db.execute(update(posts).where(posts.c.id == post_id, posts.c.claimed_by == daemon_id)
                       .values(uncertain=True, attempts=posts.c.attempts + 1, updated_at=now))

    def mark_dead_daemons(self, host: str, is_running: Callable[[int], bool], now: datetime) -> list[str]:
        """Daemons on this machine whose process is gone are stopped: their posts can be settled now,
        without waiting for their heartbeat to go stale. Returns the daemons on this machine whose process
        runs."""
        with self.engine.connect() as db:
            rows = db.execute(select(daemons.c.id, daemons.c.pid).where(daemons.c.host == host,
                                                                        daemons.c.stopped_at.is_(None))).all()
        dead = [daemon_id for daemon_id, pid in rows if not is_running(pid)]
        if dead:
            with self.engine.begin() as db:
                db.execute(update(daemons).where(daemons.c.id.in_(dead)).values(stopped_at=now))
        return [daemon_id for daemon_id, _pid in rows if daemon_id not in dead]

    def uncertain_since(self, post_id: str) -> datetime | None:
        """When the earliest attempt whose outcome is uncertain began (what settling needs to know)."""
        with self.engine.connect() as db:
            return db.execute(select(func.min(attempts.c.started_at)).where(
                attempts.c.post_id == post_id, attempts.c.outcome.in_(("unknown", "interrupted")))).scalar()

    def recorded_response(self, idempotency_key: str) -> dict[str, Any] | None:
        """The answer recorded for the post with this key, once it was recorded as sent."""
        with self.engine.connect() as db:
            found = db.execute(select(posts.c.response).where(posts.c.idempotency_key == idempotency_key,
                                                              posts.c.response.is_not(None))).scalar()
        return json.loads(found) if found else None

    # --- reading ---------------------------------------------------------------------------------
    def post(self, post_id: str) -> PostRow | None:
        with self.engine.connect() as db:
            row = db.execute(select(posts).where(posts.c.id == post_id)).mappings().first()
        return PostRow.from_row(row) if row else None

    def posts(self, log_filter: LogFilter = LogFilter()) -> list[PostRow]:
        query = select(posts).order_by(posts.c.planned_at, posts.c.sequence, posts.c.account_id)
        conditions = []
        if log_filter.campaign:
            conditions.append(posts.c.campaign_id == log_filter.campaign)
        if log_filter.account:
            conditions.append(posts.c.account_id == log_filter.account)
        if log_filter.states:
            conditions.append(posts.c.state.in_(list(log_filter.states)))
        if log_filter.since:
            conditions.append(posts.c.planned_at >= log_filter.since)
        if conditions:
            query = query.where(and_(*conditions))
        with self.engine.connect() as db:
            return [PostRow.from_row(row) for row in db.execute(query).mappings()]

    def attempts_for(self, post_ids: Iterable[str]) -> dict[str, list[AttemptRow]]:
        found: dict[str, list[AttemptRow]] = {}
        with self.engine.connect() as db:
            for chunk in _chunks(list(post_ids), 500):
                for row in db.execute(select(attempts).where(attempts.c.post_id.in_(chunk))
                                      .order_by(attempts.c.id)).mappings():
                    found.setdefault(row["post_id"], []).append(AttemptRow(**row))
        return found

    def counts(self, campaign: str | None = None) -> dict[str, int]:
        query = select(posts.c.state, func.count()).group_by(posts.c.state)
        if campaign:
            query = query.where(posts.c.campaign_id == campaign)
        with self.engine.connect() as db:
            return {state: count for state, count in db.execute(query)}


def _same_claimer(claimed_by: str | None):  # type: ignore[no-untyped-def]
    return posts.c.claimed_by.is_(None) if claimed_by is None else posts.c.claimed_by == claimed_by


def _content(post: NewPost) -> dict[str, Any]:
    return dict(post_key=post.post_key, account_id=post.account_id, platform=post.platform,
                sequence=post.sequence, planned_at=post.due_at, due_at=post.due_at, deadline=post.deadline,
                text=post.text, lang=post.lang,
                images=json.dumps([{"file": file, "alt": alt} for file, alt in post.images]),
                reply_to_id=post.reply_to_id, content_hash=post.content_hash)


def _new_row(post: NewPost, now: datetime) -> dict[str, Any]:
    return dict(_content(post), id=post.id, campaign_id=post.campaign_id, state=PENDING, attempts=0, uncertain=False,
                idempotency_key=new_tid(), updated_at=now)


def _in_campaign(post_id: str, campaign_id: str) -> str:
    """A post's id within its campaign: what stays the same when another campaign continues it."""
    return post_id.removeprefix(f"{campaign_id}/")


def _staying_state(state: str, was_fresh: bool) -> str:
    """How a post of a continued campaign that stays with it is reported."""
    if was_fresh:
        return SENDING  # pending and never tried when read, claimed by a daemon before it could be taken over
    return "pending a retry in the campaign continued" if state == PENDING else state


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
