"""The Storms, Campaign and Log pages: each handler turns query parameters into a call to
``scheduler.service`` and renders what it returns. No logic of their own beyond that."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from .. import service
from ..problems import UserError
from ..service.overview import CampaignViews, campaign_summaries, storm_overviews
from ..store import STATES, LogFilter, Store
from ..store.database import shown_database
from .security import Handler
from .keys import CLOCK, CONFIG, STORE, blocking

PAGE_SIZE = 100
CAMPAIGN_VIEWS = web.AppKey("campaign_views", CampaignViews)


# --- storms --------------------------------------------------------------------------------------------
@aiohttp_jinja2.template("storms.html")
async def storms_page(request: web.Request) -> dict[str, Any]:
    now = request.app[CLOCK]()
    storms = await blocking(storm_overviews, request.app[CONFIG], request.app[STORE], now)
    campaigns = await blocking(campaign_summaries, request.app[STORE])
    return {"storms": storms, "now": now, "campaigns": campaigns}


# --- a campaign ----------------------------------------------------------------------------------------
async def campaign_page(request: web.Request) -> web.Response:
    campaign_id = request.match_info["campaign_id"]
    try:
        view = await blocking(request.app[CAMPAIGN_VIEWS].get, request.app[CONFIG], request.app[STORE], campaign_id,
                              request.app[CLOCK]())
    except UserError as error:
        return not_found(request, error)
    return aiohttp_jinja2.render_template("campaign.html", request, {"view": view})


async def campaign_image(request: web.Request) -> web.Response:
    """A prepared image of the campaign's plan, by its number: bytes from the media cache, never a path."""
    campaign_id = request.match_info["campaign_id"]
    try:
        number = int(request.match_info["number"])
        view = await blocking(request.app[CAMPAIGN_VIEWS].get, request.app[CONFIG], request.app[STORE], campaign_id,
                              request.app[CLOCK]())
        image = view.images[number] if 0 <= number < len(view.images) else None
    except (UserError, ValueError):
        image = None
    if image is None:
        raise web.HTTPNotFound(text="no such image")
    return web.Response(body=image.data, content_type=image.mime_type,
                        headers={"Content-Disposition": f'inline; filename="{image.generic_filename}"'})


# --- log -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogQuery:
    """The log page's query parameters: ``log``'s filters, ``q`` text search, ``page``."""

    campaign: str
    account: str
    states: tuple[str, ...]
    since: str
    q: str
    page: int

    @classmethod
    def of(cls, request: web.Request) -> "LogQuery":
        query = request.query
        try:
            page = max(1, int(query.get("page", "1")))
        except ValueError:
            page = 1
        return cls(query.get("campaign", "").strip(), query.get("account", "").strip(),
                   tuple(state for state in query.getall("state", []) if state), query.get("since", "").strip(),
                   query.get("q", "").strip(), page)

    def log_filter(self, request: web.Request) -> LogFilter:
        """:raises UserError: an unknown state, or a since that is no date or duration."""
        unknown = [state for state in self.states if state not in STATES]
        if unknown:
            raise UserError(f"state {unknown[0]!r}: choose among {', '.join(STATES)}")
        since = service.parse_since(self.since, request.app[CLOCK](), name="since")
        return LogFilter(self.campaign or None, self.account or None, self.states, since)

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query string's pairs, with ``changes`` (a page link, an export link)."""
        values = {"campaign": self.campaign, "account": self.account, "since": self.since, "q": self.q,
                  "page": str(self.page), **{key: str(value) for key, value in changes.items()}}
        pairs = [(key, value) for key, value in values.items() if value and not (key == "page" and value == "1")]
        return pairs + [("state", state) for state in self.states]


def _entries(store: Store, log_filter: LogFilter, words: str) -> list[service.LogEntry]:
    return service.search(service.read_log(store, log_filter), words)


async def log_page(request: web.Request) -> web.Response:
    query = LogQuery.of(request)
    problems: list[str] = []
    entries: list[service.LogEntry] = []
    try:
        log_filter = query.log_filter(request)
    except UserError as error:
        problems = [str(problem) for problem in error.problems]
    else:
        entries = await blocking(_entries, request.app[STORE], log_filter, query.q)
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(query.page, pages)
    shown = entries[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    campaigns = await blocking(request.app[STORE].campaign_ids)
    context = {"query": query, "entries": shown, "total": len(entries), "page": page, "pages": pages,
               "problems": problems, "states": STATES, "campaigns": campaigns,
               "accounts": sorted(request.app[CONFIG].accounts), "first": (page - 1) * PAGE_SIZE + 1}
    return aiohttp_jinja2.render_template("log.html", request, context, status=400 if problems else 200)


async def _export(request: web.Request) -> list[service.LogEntry]:
    query = LogQuery.of(request)
    try:
        log_filter = query.log_filter(request)
    except UserError as error:
        raise web.HTTPBadRequest(text="\n".join(str(problem) for problem in error.problems)) from None
    return await blocking(_entries, request.app[STORE], log_filter, query.q)


async def log_csv(request: web.Request) -> web.Response:
    entries = await _export(request)
    return web.Response(text=service.log_csv(entries), content_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="stormcaller-log.csv"'})


async def log_json(request: web.Request) -> web.Response:
    entries = await _export(request)
    return web.Response(text=service.log_json(entries), content_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="stormcaller-log.json"'})


# --- errors and routes ---------------------------------------------------------------------------------
@web.middleware
async def show_problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A user mistake (a ``UserError``) or a database that does not answer becomes a page that says what to
    do, never a traceback."""
    try:
        return await handler(request)
    except UserError as error:
        return _problem_page(request, "That did not work", [str(p) for p in error.problems], 400)
    except SQLAlchemyError as error:
        where = shown_database(request.app[STORE].url)
        return _problem_page(request, "The database did not answer", [
            f"the database {where} did not answer ({type(error).__name__}): is it running and reachable? "
            "Reload this page once it is"], 503)


def _problem_page(request: web.Request, title: str, problems: list[str], status: int) -> web.Response:
    return aiohttp_jinja2.render_template("problem.html", request, {"title": title, "problems": problems},
                                          status=status)


def not_found(request: web.Request, error: UserError) -> web.Response:
    return _problem_page(request, "Not found", [str(problem) for problem in error.problems], 404)


def register(app: web.Application) -> None:
    app[CAMPAIGN_VIEWS] = CampaignViews()
    app.router.add_get("/", storms_page, name="storms")
    app.router.add_get("/campaigns/{campaign_id}", campaign_page, name="campaign")
    app.router.add_get("/campaigns/{campaign_id}/images/{number}", campaign_image, name="campaign_image")
    app.router.add_get("/log", log_page, name="log")
    app.router.add_get("/log.csv", log_csv, name="log_csv")
    app.router.add_get("/log.json", log_json, name="log_json")
