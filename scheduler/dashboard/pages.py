"""The Storms, Campaign and Log pages: handlers that ask ``scheduler.service`` / ``scheduler.store`` and
render a template. No logic of their own beyond turning query parameters into the service's arguments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..store.storms import upcoming_storms
from .keys import CLOCK, STORE, blocking

#: How far ahead the Storms page looks.
HORIZON = timedelta(days=400)


@aiohttp_jinja2.template("storms.html")
async def storms_page(request: web.Request) -> dict[str, Any]:
    now = request.app[CLOCK]()
    storms = await blocking(upcoming_storms, request.app[STORE].engine, now, HORIZON)
    return {"storms": storms, "now": now}


def register(app: web.Application) -> None:
    app.router.add_get("/", storms_page, name="storms")
