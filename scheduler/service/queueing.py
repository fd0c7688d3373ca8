"""The outbox commands: queue a campaign (validated, images prepared, then written), unqueue it, and
settle a post a person reviewed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from ..config import Config
from ..planner import Plan, PlannedPost
from ..problems import Problem, UserError
from ..store import CampaignRecord, NewPost, QueueReport, Store
from ..timing import format_duration, utcnow
from .checking import across_problems, campaign_source, checked_plan
from .database import open_store  # noqa: F401  (where it was)
from .images import ProgressCallback, prepare_media


def queue(path: Path, config: Config, store: Store, now: datetime | None = None,
          progress: ProgressCallback | None = None) -> tuple[Plan, QueueReport]:
    """Validate (the file, and against the outbox: nothing posted twice, ``continues`` naming a queued
    campaign), prepare images, then write the plan. A campaign with errors changes nothing.

    :raises UserError:
    """
    now = now or utcnow()
    plan, problems = checked_plan(path, config, now)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise UserError(errors)
    queueable = [p for p in plan.posts if p.deadline >= now]
    if not queueable:
        raise UserError([Problem(str(path), "storm.start",
                                 "every post is due before now minus the lateness bound "
                                 f"({format_duration(plan.max_lateness)}); "
                                 "nothing to queue. Change storm.start to a future time, or use `rehearse` "
                                 "to play the campaign now")])
    errors = [p for p in across_problems([plan], config, store, queueing=True, now=now) if p.is_error]
    if errors:
        raise UserError(errors)
    prepare_media(plan, config, progress)
    return plan, write_plan(store, plan, now, source=campaign_source(path, config))


def write_plan(store: Store, plan: Plan, now: datetime | None = None, *, source: str = "") -> QueueReport:
    """The plan's posts into the outbox, as plain rows."""
    campaign = plan.campaign
    record = CampaignRecord(campaign.id, campaign.spec.name, source or str(campaign.path), campaign.spec.continues)
    return store.queue(record, [new_post(post) for post in plan.posts], now)


def new_post(post: PlannedPost) -> NewPost:
    return NewPost(id=post.id, campaign_id=post.campaign_id, post_key=post.post_key, account_id=post.account_id,
                   platform=post.platform, sequence=post.sequence, due_at=post.due_at, deadline=post.deadline,
                   text=post.text, lang=post.lang, images=tuple((image.file, image.alt) for image in post.images),
                   reply_to_id=post.reply_to_id, content_hash=post.content_hash)


def unqueue(campaign_id: str, store: Store) -> tuple[int, list[str]]:
    """Cancel every pending post of a queued campaign (one that may already be out becomes needs-review).
    Returns how many were cancelled, and the ids of those to review.

    :raises UserError: no such campaign was queued.
    """
    if not store.campaign_exists(campaign_id):
        raise UserError(f"no queued campaign {campaign_id!r}; `python run.py log` lists what is queued")
    return store.unqueue(campaign_id)


def is_web_link(url: str) -> bool:
    """An http(s) address with a host: what a published post's link may be (a page renders it as a link)."""
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc) and not any(c.isspace() for c in url)


def resolve(post_id: str, store: Store, *, published: bool, url: str | None = None, resend: bool = False,
            lateness: timedelta = timedelta(minutes=15)) -> None:
    """Settle a needs-review post by hand, after a person looked at the account.

    :raises UserError: when the post is not awaiting review, or the link is not a web address.
    """
    if url is not None and not is_web_link(url):
        raise UserError(f"the link {url!r} is not a web address: give the post's address as the platform shows "
                        "it, starting with https://, or leave the link out")
    now = utcnow()
    if not store.resolve_review(post_id, published=published, url=url,
                                resend_until=now + lateness if resend else None, now=now):
        post = store.post(post_id)
        state = f"it is {post.state}" if post else "no such post"
        raise UserError(f"post {post_id!r} is not awaiting review ({state}); `python run.py log --state "
                        "needs-review` lists the ones that are")
