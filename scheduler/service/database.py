"""Opening the database, and its file's own problems found before that (every command that opens it asks,
the daemon too: a module of its own so that opening imports none of the checking or queueing stack)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..problems import Problem
from ..store import Store
from ..store.database import exposure_warning

if TYPE_CHECKING:
    from ..config import Config


def database_problems(config: "Config", url: str | None = None) -> list[Problem]:
    """What is wrong with the database file itself before it is opened: other users of this machine may read
    it (a warning, with the command that fixes it)."""
    warning = exposure_warning(url or config.database_url)
    return [Problem(config.label, "database.url", warning, severity="warning")] if warning else []


def open_store(config: "Config", url: str | None = None, *, writable: bool = True) -> Store:
    """The database (migrated); ``writable``: checked to take writes (a ``UserError`` saying what to do)."""
    return Store(url or config.database_url, writable=writable)
