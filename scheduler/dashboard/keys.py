"""What every dashboard handler reaches through its application: typed app keys, and ``blocking``."""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from typing import Any, Callable, TypeVar

from aiohttp import web

from ..config import Config
from ..store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
#: () -> the aware UTC now (tests inject their own)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")

T = TypeVar("T")


async def blocking(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call (the database, images) in a worker thread: the event loop also feeds the live
    pages' event streams."""
    return await asyncio.to_thread(functools.partial(function, *args, **kwargs))
