"""Check and see: validate config and campaigns, plan a campaign, and read servers' own limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ..campaign import Campaign, load_campaign, validate_files
from ..checks import check_plan
from ..config import Config
from ..planner import Plan, plan_campaign
from ..platforms.base import PublishError
from ..problems import Problem, Severity, UserError


def validate(paths: list[Path], config: Config) -> tuple[list[Campaign], list[Problem]]:
    """Every problem in the config's accounts and the campaign files, errors and warnings."""
    campaigns, problems = validate_files(paths, config)
    used = {account for c in campaigns for post in c.spec.posts for account in post.accounts}
    problems.extend(credential_problems(config, used))
    for campaign in campaigns:
        try:
            problems.extend(check_plan(plan_campaign(campaign, config), config))
        except UserError as error:
            problems.extend(error.problems)
    return campaigns, problems


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
                found = account.wing.server_limits(account.instance, timeout)
            except PublishError as error:
                problems.append(Problem(config.label, f"accounts.{account.id}.instance",
                                        f"{error}; checking with the configured limits instead", severity="warning"))
            else:
                if found:
                    account = account.model_copy(update={"limits": {**found, **account.limits}})
        accounts.append(account)
    settings = config.settings.model_copy(update={"accounts": accounts})
    return replace(config, settings=settings), problems
