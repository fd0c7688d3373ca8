"""The Python API behind every command; the CLI only parses arguments and draws what these return.

- settings and platforms: :func:`load_config`, :func:`platform_names`, :func:`display_name`;
- check and see (``checking``): :func:`validate`, :func:`plan`, :func:`checked_plan`, :func:`with_instance_limits`,
  :func:`invitation` (a campaign for the people who join it: description, link, endorsers, its call rendered in
  each language),
  :func:`credential_destinations` (where each account's credentials go),
  and each post's :func:`measure` and the plan's :func:`costs` as the platforms count them; storm craft
  (:func:`craft_report`, :func:`craft_notes`: the notes ``plan`` shows beside the craft warnings; ``freshness``:
  :func:`hashtag_freshness`, :func:`freshness_problems` for ``validate --online``);
- images (``images``): :func:`prepare_media`, :func:`image_sizes`, :func:`image_loader`;
- the outbox (``database``: :func:`open_store`; ``queueing``): :func:`queue`, :func:`unqueue`, :func:`resolve`;
- the daemon (``daemon``): :func:`start_daemon`;
- what went out (``log``): :func:`read_log`, :func:`log_csv`, :func:`log_json`, :func:`outbox_status`;
- accounts (``accounts``, ``credentials``): :func:`check_configured_accounts` (``accounts check``),
  :func:`account_problems` (``validate --online``), :func:`new_token_key`; ``connecting``: :func:`begin_connect`,
  :func:`finish_connect`, :func:`connect_app_password` (``accounts connect``);
- posts from and to spreadsheets (``importing``): :func:`prepare_import`, :func:`write_import`,
  :func:`export_posts`;
- rehearsals (``rehearsal``): :func:`rehearse`, :func:`start_sandbox` (the only part that imports the sandbox).

Each name is imported from its module when it is first used (``__getattr__``), not when the package is: a
command imports only what it uses, and the daemon (``run``) idles without the spreadsheet, rehearsal,
checking and token-vault stacks (issue 16).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..checks import Cost, costs, measure
    from ..config import load_config
    from ..craft import CraftReport, craft_notes, craft_report
    from ..platforms.registry import display_name
    from ..platforms.registry import names as platform_names
    from ..platforms.destinations import is_loopback
    from ..tokens import new_key as new_token_key
    from .accounts import AccountReport, account_problems, check_accounts, check_configured_accounts
    from .checking import (CredentialDestination, Invitation, checked_plan, credential_destinations,
                           credential_problems, invitation, plan, validate, with_instance_limits)
    from .database import database_problems, open_store
    from .freshness import Freshness, freshness_problems, hashtag_freshness
    from .connecting import Connected, PendingAuthorization, connect_app_password
    from .connecting import begin as begin_connect
    from .connecting import finish as finish_connect
    from .daemon import alerting, dispatch_settings, is_dry_run, start_daemon
    from .publishers import publisher_factory
    from .images import PreparedMedia, image_loader, image_sizes, media_cache, prepare_media
    from .importing import Export, ImportPreview, PostChange, export_posts, prepare_import, write_import
    from .log import (LogEntry, OutboxStatus, events, events_json, log_csv, log_json, needs_review, outbox_status,
                      parse_since, read_log, search)
    from .queueing import queue, resolve, unqueue, write_plan
    from .rehearsal import Rehearsal, compress, rehearse, sandbox_faults, start_sandbox

# name -> (module, the name there), for every name below that is not its module's own name under the same
# spelling; the rest are found by _MODULES.
_RENAMED = {"platform_names": ("..platforms.registry", "names"), "new_token_key": ("..tokens", "new_key"),
            "begin_connect": (".connecting", "begin"), "finish_connect": (".connecting", "finish")}
_MODULES = {
    "..checks": ("Cost", "costs", "measure"),
    "..config": ("load_config",),
    "..craft": ("CraftReport", "craft_notes", "craft_report"),
    "..platforms.registry": ("display_name",),
    "..platforms.destinations": ("is_loopback",),
    ".accounts": ("AccountReport", "account_problems", "check_accounts", "check_configured_accounts"),
    ".checking": ("CredentialDestination", "Invitation", "checked_plan", "credential_destinations",
                  "credential_problems", "invitation", "plan", "validate", "with_instance_limits"),
    ".database": ("database_problems", "open_store"),
    ".freshness": ("Freshness", "freshness_problems", "hashtag_freshness"),
    ".connecting": ("Connected", "PendingAuthorization", "connect_app_password"),
    ".daemon": ("alerting", "dispatch_settings", "is_dry_run", "start_daemon"),
    ".publishers": ("publisher_factory",),
    ".images": ("PreparedMedia", "image_loader", "image_sizes", "media_cache", "prepare_media"),
    ".importing": ("Export", "ImportPreview", "PostChange", "export_posts", "prepare_import", "write_import"),
    ".log": ("LogEntry", "OutboxStatus", "events", "events_json", "log_csv", "log_json", "needs_review",
             "outbox_status", "parse_since", "read_log", "search"),
    ".queueing": ("queue", "resolve", "unqueue", "write_plan"),
    ".rehearsal": ("Rehearsal", "compress", "rehearse", "sandbox_faults", "start_sandbox"),
}
_HOMES = {**{name: (module, name) for module, names in _MODULES.items() for name in names}, **_RENAMED}


def __getattr__(name: str) -> Any:
    """``service.<name>``: imported from its module on first use, then kept here."""
    try:
        module, attribute = _HOMES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "Export", "ImportPreview", "PostChange", "export_posts", "prepare_import", "write_import",
    "AccountReport", "Connected", "PendingAuthorization", "account_problems", "begin_connect", "check_accounts",
    "check_configured_accounts", "connect_app_password", "finish_connect", "is_loopback", "new_token_key",
    "Cost", "CredentialDestination", "LogEntry", "OutboxStatus", "PreparedMedia", "Rehearsal", "alerting",
    "Invitation", "invitation", "CraftReport", "craft_notes", "craft_report",
    "Freshness", "freshness_problems", "hashtag_freshness",
    "checked_plan", "compress", "costs", "credential_destinations", "credential_problems", "database_problems",
    "dispatch_settings", "display_name", "events", "events_json", "image_loader", "image_sizes", "is_dry_run",
    "load_config", "log_csv", "parse_since",
    "search", "log_json", "measure", "media_cache", "needs_review", "open_store", "outbox_status",
    "plan", "platform_names", "prepare_media", "publisher_factory", "queue", "read_log", "rehearse", "resolve",
    "sandbox_faults", "start_daemon", "start_sandbox", "unqueue", "validate", "with_instance_limits", "write_plan",
]
