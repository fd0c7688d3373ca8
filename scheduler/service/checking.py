"""Check and see: validate config and campaigns, plan a campaign, and read servers' own limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ..campaign import Campaign, load_campaign, validate_files
from ..checks import across_reach, check_across, check_plan, one_text_platforms
from ..config import Config
from ..planner import Plan, plan_campaign
from ..platforms.base import PublishError
from ..problems import Problem, Severity, UserError
from ..store import Store
from ..timing import utcnow


def validate(paths: list[Path], config: Config, database: str | None = None) -> tuple[list[Campaign], list[Problem]]:
    """Every problem in the config's accounts and the campaign files, errors and warnings; the files are
    also checked together, and against the posts queued in ``database`` when it exists (a database that
    cannot be read is a warning)."""
    campaigns, problems = validate_files(paths, config)
    used = {account for c in campaigns for post in c.spec.posts for account in post.accounts}
    problems.extend(credential_problems(config, used))
    plans = []
    for campaign in campaigns:
        try:
            plans.append(plan_campaign(campaign, config))
        except UserError as error:
            problems.extend(error.problems)
        else:
            problems.extend(check_plan(plans[-1], config))
    try:
        store = existing_store(database) if database else None
    except UserError as error:
        store = None
        problems.extend(replace(problem, severity="warning", message=f"{problem.message}; the campaigns were not "
                                "checked against the posts already queued") for problem in error.problems)
    try:
        problems.extend(across_problems(plans, config, store))
    finally:
        if store is not None:
            store.close()
    return campaigns, problems


def existing_store(url: str) -> Store | None:
    """The database at ``url``, or None for an SQLite file that does not exist yet (checking creates none).

    :raises UserError: the database cannot be opened.
    """
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:" and not Path(url[len(prefix):]).exists():
        return None
    return Store(url)


def across_problems(plans: list[Plan], config: Config, store: Store | None, *, queueing: bool = False,
                    now: datetime | None = None) -> list[Problem]:
    """What the plans get wrong together and against the outbox (``store``): the duplicates
    ``checks.check_across`` finds, ``continues`` naming no queued campaign (an error when ``queueing``, else a
    warning), and a file taking the id of a campaign queued from another file that still exists. Only posts
    that can still be queued count (due within their lateness bound)."""
    now = now or utcnow()
    plans = [replace(plan, posts=tuple(post for post in plan.posts if post.deadline >= now)) for plan in plans]
    plans = [plan for plan in plans if plan.posts]
    if store is None or not plans:
        return check_across(plans)
    problems = []
    known = set(store.campaign_ids())
    files = {plan.campaign.path.resolve() for plan in plans}
    for plan in plans:
        campaign = plan.campaign
        continues = campaign.spec.continues
        if continues and continues not in known:
            listed = ", ".join(sorted(known)) or "none"
            problems.append(Problem(
                str(campaign.path), "continues", f"{continues!r} names no campaign queued in this database (queued: "
                f"{listed}); give the id of the campaign this file takes over, as `python run.py log` shows it, or "
                "remove the line" + ("" if queueing else " (queue refuses the file until then)"),
                campaign.locator.line_of(("continues",)), severity="error" if queueing else "warning"))
        record = store.campaign(campaign.id)
        other = source_path(record.source, config) if record else None
        if record and other and other.exists() and other.resolve() != campaign.path.resolve() \
                and other.resolve() not in files:
            problems.append(Problem(
                str(campaign.path), "id" if campaign.spec.id else "",
                f"campaign {campaign.id!r} is queued from {record.source}, which is still there, "
                "and this file has the same campaign id: queueing it would replace that file's queued posts. If this "
                f"file replaces that one, delete or move {other} first; otherwise give this file its own id "
                "(`id = \"...\"`; without it the id is the file name)",
                campaign.locator.line_of(("id",)) if campaign.spec.id else None))
    accounts = {post.account_id for plan in plans for post in plan.posts}
    platforms = one_text_platforms({post.platform for plan in plans for post in plan.posts})
    reach = across_reach(plans)
    first, last = min(plan.first_due for plan in plans), max(post.due_at for plan in plans for post in plan.posts)
    problems.extend(check_across(plans, store.queued_posts(accounts, platforms, first - reach, last + reach)))
    return problems


def campaign_source(path: Path, config: Config) -> str:
    """How the outbox records a campaign's file: relative to config.toml's folder when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(config.root))
    except ValueError:
        return str(resolved)


def source_path(source: str, config: Config) -> Path:
    """The file a recorded source names (see ``campaign_source``)."""
    return Path(source) if Path(source).is_absolute() else config.root / source


def credential_problems(config: Config, account_ids: set[str]) -> list[Problem]:
    """Environment variables named in config.toml but unset, found now rather than at storm time.
    An error when the daemon would publish for real; a warning in dry-run mode or for sandbox accounts."""
    live = config.settings.dispatch.mode == "live"
    problems = []
    for account_id in sorted(account_ids):
        account = config.accounts[account_id]
        if account.sandbox:  # the sandbox hands out its own credentials
            continue
        missing = account.missing_variables()
        required = account.wing.credential_sets
        absent_names = [] if any(set(option) <= set(account.credentials) for option in required) else \
            [" + ".join(option) for option in required]
        if not missing and not absent_names:
            continue
        severity: Severity = "error" if live else "warning"
        if absent_names:
            message = (f"account {account.id!r} ({account.platform}) names no credentials; add credentials = "
                       f"{{ ... }} with one of: {' or '.join(absent_names)} (values are environment variable names)")
        else:
            message = (f"account {account.id!r}: environment variable(s) {', '.join(missing)} not set; set them "
                       "before the storm (export NAME=... in the daemon's environment)")
        problems.append(Problem(config.label, f"accounts.{account.id}.credentials", message, severity=severity))
    return problems


def plan(path: Path, config: Config, now: datetime | None = None) -> Plan:
    """:raises UserError: if the campaign has errors."""
    return plan_campaign(load_campaign(path, config), config, now)


def checked_plan(path: Path, config: Config, now: datetime | None = None) -> tuple[Plan, list[Problem]]:
    """The plan and what each platform would say about it (errors and warnings)."""
    plan_ = plan(path, config, now)
    return plan_, check_plan(plan_, config)


def with_instance_limits(config: Config, timeout: float = 10.0) -> tuple[Config, list[Problem]]:
    """The config with each account's limits read from its server where its platform announces them
    (Mastodon: GET /api/v2/instance, no token needed); an account's own ``limits = {...}`` still wins. A
    server that cannot be read keeps the configured values, with a warning."""
    accounts, problems = [], []
    for account in config.settings.accounts:
        if account.instance and not account.sandbox:
            try:
                found = account.wing.server_limits(account.instance, timeout, config.limits_for(account.id))
            except PublishError as error:
                problems.append(Problem(config.label, f"accounts.{account.id}.instance",
                                        f"{error}; checking with the configured limits instead", severity="warning"))
            else:
                if found:
                    account = account.model_copy(update={"limits": {**found, **account.limits}})
        accounts.append(account)
    settings = config.settings.model_copy(update={"accounts": accounts})
    return replace(config, settings=settings), problems
