"""The supporter toolkit of a queued campaign, served by the dashboard (behind its access token) at
``/campaigns/ID/toolkit/``: made from the campaign's file into ``.cache/toolkit/ID/`` next to config.toml when
one of its pages is asked for, so the pages show the file as it is now. Only the files the toolkit wrote are
served, by name; nothing else of the folder."""

from __future__ import annotations

import mimetypes
import threading
from datetime import datetime
from pathlib import Path

from aiohttp import web

from ..config import Config
from ..problems import UserError
from ..service.checking import source_path
from ..store import Store
from ..toolkit.site import Toolkit, build_toolkit
from .keys import CLOCK, CONFIG, STORE, blocking
from .pages import not_found

BUILT = web.AppKey("toolkits", dict)  # campaign id -> the Toolkit last written for it
LOCK = web.AppKey("toolkit_lock", threading.Lock)


def toolkit_folder(config: Config, campaign_id: str) -> Path:
    """Where the dashboard writes a campaign's toolkit (private, like the media cache)."""
    folder = config.root / ".cache" / "toolkit"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / campaign_id


def _build(config: Config, store: Store, campaign_id: str, lock: threading.Lock, now: datetime) -> Toolkit:
    """:raises UserError: no campaign of that id was queued, or its file no longer makes a toolkit."""
    record = store.campaign(campaign_id)
    if record is None or "/" in campaign_id or campaign_id.startswith("."):
        raise UserError(f"no campaign {campaign_id!r} was queued: `python run.py log` lists the queued campaigns")
    with lock:
        return build_toolkit(source_path(record.source, config), config, toolkit_folder(config, campaign_id),
                             force=True, now=now)


async def toolkit_file(request: web.Request) -> web.StreamResponse:
    campaign_id = request.match_info["campaign_id"]
    name = request.match_info.get("name") or "index.html"
    built: dict[str, Toolkit] = request.app[BUILT]
    made = built.get(campaign_id)
    if made is None or name.endswith(".html"):
        try:
            made = await blocking(_build, request.app[CONFIG], request.app[STORE], campaign_id, request.app[LOCK],
                                  request.app[CLOCK]())
        except UserError as error:
            return not_found(request, error)
        built[campaign_id] = made
    if name not in made.files:
        raise web.HTTPNotFound(text="no such file in the toolkit")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".ics"):
        content_type = "text/calendar"
    return web.Response(body=(made.output / name).read_bytes(), content_type=content_type,
                        charset="utf-8" if content_type.startswith("text/") or name.endswith(".js") else None)


async def toolkit_slash(request: web.Request) -> web.StreamResponse:
    """Without the trailing slash the page's relative addresses would miss the folder."""
    raise web.HTTPFound(request.app.router["toolkit"].url_for(campaign_id=request.match_info["campaign_id"]))


def register(app: web.Application) -> None:
    app[BUILT] = {}
    app[LOCK] = threading.Lock()
    app.router.add_get("/campaigns/{campaign_id}/toolkit", toolkit_slash)
    app.router.add_get("/campaigns/{campaign_id}/toolkit/", toolkit_file, name="toolkit")
    app.router.add_get("/campaigns/{campaign_id}/toolkit/{name:[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)?}", toolkit_file)
