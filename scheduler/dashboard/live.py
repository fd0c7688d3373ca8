"""The live storm page: its posts as they go out (server-sent events, no reload), what needs a person, and
the two actions, resolving a needs-review post and cancelling a campaign's pending posts (the CLI's
``resolve`` and ``unqueue``, through the same service calls and rules).

The daemons are other processes, so each event stream polls the database (``store.changes.ChangeFeed``, in a
worker thread: never sync SQLAlchemy on the event loop) and sends what changed, one ``post`` event per post
version, its id the cursor a reconnecting browser sends back as ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response
from sqlalchemy.exc import SQLAlchemyError

from .. import service
from ..platforms.registry import display_name
from ..problems import UserError
from ..service.queueing import is_web_link
from ..store import NEEDS_REVIEW, PENDING, SENDING, SENT
from ..store.changes import ChangeFeed, Cursor, PostChange
from .keys import CLOCK, CONFIG, STORE, blocking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveSettings:
    poll: float = 0.5          # seconds between two reads of the database by one event stream
    heartbeat: float = 15.0    # seconds between two SSE comments that keep proxies and browsers from giving up


LIVE = web.AppKey("live", LiveSettings)
STREAMS: web.AppKey[set[EventSourceResponse]] = web.AppKey("live_streams")  # open streams, ended at shutdown

OUTCOMES = {"published": "marked sent", "not-published": "marked failed", "resend": "sending again now"}


def add_routes(app: web.Application) -> None:
    app[LIVE] = LiveSettings()
    app[STREAMS] = set()
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/storms/{campaign_id}/live", live_page, name="live")
    app.router.add_get("/storms/{campaign_id}/events", live_events, name="live-events")
    app.router.add_post("/posts/{post_id:.+}/resolve", resolve_post, name="resolve")
    app.router.add_post("/campaigns/{campaign_id}/cancel", cancel_campaign, name="cancel")


# --- what a post looks like on the page and in an event ---------------------------------------------------
def format_lateness(lateness: timedelta | None) -> str:
    """``340 ms``, ``2.4 s``, ``3 min 05 s``; early posts get a minus sign."""
    if lateness is None:
        return ""
    ms = round(lateness.total_seconds() * 1000)
    sign, ms = ("−" if ms < 0 else ""), abs(ms)
    if ms < 1000:
        return f"{sign}{ms} ms"
    if ms < 60_000:
        return f"{sign}{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{sign}{minutes} min {seconds:02d} s"


def _link(url: str | None) -> str | None:
    """Only a web address becomes a link (a dry run's ``dry-run://`` or anything else is shown as text)."""
    return url if url and url.startswith(("https://", "http://")) else None


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def post_view(change: PostChange) -> dict[str, Any]:
    """One post for the page and for its event: nothing secret is in a post row."""
    post = change.post
    words = post.error if post.state != SENT else None
    if words is None and post.state in (PENDING, SENDING) and change.last_attempt and change.last_attempt.detail:
        words = change.last_attempt.detail
    return {
        "id": post.id, "anchor": "post-" + quote(post.id, safe=""), "account": post.account_id,
        "platform": post.platform, "platform_name": display_name(post.platform), "state": post.state,
        "planned_at": _time(post.planned_at), "planned": f"{post.planned_at:%H:%M:%S} UTC",
        "sent_at": _time(post.sent_at), "lateness": format_lateness(post.lateness),
        "lateness_ms": round(post.lateness.total_seconds() * 1000) if post.lateness else None,
        "url": post.url, "link": _link(post.url), "words": words, "attempts": post.attempts,
        "uncertain": post.uncertain, "text": post.text,
        "resolve": f"/posts/{quote(post.id, safe='/')}/resolve" if post.state == NEEDS_REVIEW else None,
    }


def post_event(change: PostChange) -> tuple[str, str]:
    """(id, data) of one SSE ``post`` event."""
    return change.cursor.encode(), json.dumps(post_view(change), ensure_ascii=False)


# --- the page -----------------------------------------------------------------------------------------------
async def live_page(request: web.Request) -> web.StreamResponse:
    campaign_id = request.match_info["campaign_id"]
    store = request.app[STORE]
    campaign = await blocking(store.campaign, campaign_id)
    feed = await blocking(ChangeFeed.open, store.engine, campaign_id)
    if campaign is None or feed is None:
        return _problem(request, 404, "No such storm",
                        f"No campaign {campaign_id!r} is queued in this database. The Storms page lists those "
                        "that are; `python run.py queue CAMPAIGN` queues one.")
    views = [post_view(change) for change in await blocking(feed.poll, request.app[CLOCK]())]
    views.sort(key=lambda view: (view["planned_at"], view["account"], view["id"]))
    resolved = request.query.get("resolved")
    outcome = OUTCOMES.get(request.query.get("as", ""))
    return aiohttp_jinja2.render_template("live.html", request, {
        "campaign": campaign, "posts": views, "cursor": feed.cursor.encode() if feed.cursor else "",
        "storm_start": feed.window[0].isoformat(),
        "review": [view for view in views if view["state"] == NEEDS_REVIEW],
        "pending": sum(view["state"] == PENDING for view in views),
        "counts": _counts(views), "done": f"{resolved}: {outcome}" if resolved and outcome else None,
    })


def _counts(views: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for view in views:
        counts[view["state"]] = counts.get(view["state"], 0) + 1
    return sorted(counts.items())


def _problem(request: web.Request, status: int, title: str, message: str, back: str | None = None,
             items: list[str] | None = None) -> web.Response:
    return aiohttp_jinja2.render_template("live_outcome.html", request, {
        "title": title, "message": message, "back": back, "items": items or []}, status=status)


# --- the event stream ---------------------------------------------------------------------------------------
async def live_events(request: web.Request) -> web.StreamResponse:
    """The storm's post changes as SSE, from the cursor the browser had (``Last-Event-ID``, or ``?after=``
    for the first connection of a page that was rendered at that cursor)."""
    campaign_id = request.match_info["campaign_id"]
    settings = request.app[LIVE]
    after = Cursor.decode(request.headers.get("Last-Event-ID") or request.query.get("after"))
    feed = await blocking(ChangeFeed.open, request.app[STORE].engine, campaign_id, after)
    if feed is None:
        raise web.HTTPNotFound(text=f"no campaign {campaign_id!r} is queued in this database")
    async with sse_response(request, ping_interval=settings.heartbeat) as stream:
        request.app[STREAMS].add(stream)
        try:
            await _follow(request, feed, stream, settings)
        except ConnectionResetError:
            pass  # the browser left (a closed tab, a reload): nothing to tell anyone
        finally:
            request.app[STREAMS].discard(stream)
    return stream


async def _end_streams(app: web.Application) -> None:
    """At shutdown: an open live page must not hold the dashboard up (its browser reconnects to nothing)."""
    streams: set[EventSourceResponse] = app[STREAMS]
    for stream in tuple(streams):
        stream.stop_streaming()


async def _follow(request: web.Request, feed: ChangeFeed, stream: EventSourceResponse,
                  settings: LiveSettings) -> None:
    clock = request.app[CLOCK]
    trouble = False
    shown_start: datetime | None = None  # told at once: the page may have been drawn before the storm moved
    while stream.is_connected() and request.transport is not None and not request.transport.is_closing():
        try:
            changes = await blocking(feed.poll, clock())
        except SQLAlchemyError as error:  # a busy or briefly unreachable database: say so, keep trying
            if not trouble:
                log.warning("live page: the database could not be read: %s", type(error).__name__)
                await stream.send(json.dumps({"message": "The database could not be read just now; "
                                              "trying again."}), event="trouble")
            trouble = True
            changes = []
        else:
            if trouble:
                await stream.send(json.dumps({"message": ""}), event="trouble")
            trouble = False
        if feed.window[0] != shown_start:  # the storm was queued again at another time: the chart's origin
            shown_start = feed.window[0]
            await stream.send(json.dumps({"start": feed.window[0].isoformat()}), event="window")
        for change in changes:
            event_id, data = post_event(change)
            await stream.send(data, id=event_id, event="post")
        await asyncio.sleep(settings.poll)


# --- the actions --------------------------------------------------------------------------------------------
def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def resolve_post(request: web.Request) -> web.StreamResponse:
    """A person checked a needs-review post: ``outcome`` published (``url``, optional), not-published, or
    resend; the CLI's ``resolve --published [URL] | --not-published [--resend]``."""
    post_id = request.match_info["post_id"]
    form = await request.post()
    outcome, url = _field(form, "outcome"), _field(form, "url")
    store, config = request.app[STORE], request.app[CONFIG]
    post = await blocking(store.post, post_id)
    if post is None:
        return _problem(request, 404, "No such post",
                        f"No post {post_id!r} in this database; the Log page lists every post with its id.")
    back = f"/storms/{quote(post.campaign_id, safe='')}/live"
    if outcome not in OUTCOMES:
        return _problem(request, 400, "Say what you found",
                        "Choose one: published (with its link if you have it), not published, or not published "
                        "and send it again now.", back)
    if url and outcome != "published":
        return _problem(request, 400, "A link goes with “published”",
                        "You gave a link but chose “not published”: choose “published” if the post is on the "
                        "account, or clear the link.", back)
    if url and not is_web_link(url):
        return _problem(request, 400, "Not a web address",
                        f"The link {url!r} is not a web address: give the post's address as the platform shows it, "
                        "starting with https://, or leave the link out.", back)
    try:
        await blocking(service.resolve, post_id, store, published=outcome == "published", url=url or None,
                       resend=outcome == "resend", lateness=config.settings.defaults.max_lateness)
    except UserError as error:
        return _problem(request, 409, "Not resolved", str(error), back)
    raise web.HTTPSeeOther(f"{back}?resolved={quote(post_id, safe='')}&as={outcome}#live-posts")


async def cancel_campaign(request: web.Request) -> web.StreamResponse:
    """The CLI's ``unqueue``: every pending post of the campaign cancelled, those that may be out already
    become needs-review. Without ``confirm=yes`` it asks first."""
    campaign_id = request.match_info["campaign_id"]
    form = await request.post()
    store = request.app[STORE]
    back = f"/storms/{quote(campaign_id, safe='')}/live"
    if _field(form, "confirm") != "yes":
        campaign = await blocking(store.campaign, campaign_id)
        if campaign is None:
            return _problem(request, 404, "No such campaign",
                            f"No campaign {campaign_id!r} is queued in this database.")
        counts = await blocking(store.counts, campaign_id)
        return aiohttp_jinja2.render_template("live_cancel.html", request, {
            "campaign": campaign, "pending": counts.get(PENDING, 0), "back": back})
    try:
        count, to_review = await blocking(service.unqueue, campaign_id, store)
    except UserError as error:
        return _problem(request, 404, "Not cancelled", str(error))
    message = f"Cancelled {count} pending post(s) of {campaign_id}."
    if to_review:
        message += (" These posts' last attempt had no answer, so they may be published: they now need review. "
                    "Check each account, then resolve them on the live page.")
    return _problem(request, 200, "Cancelled", message, back, to_review)
