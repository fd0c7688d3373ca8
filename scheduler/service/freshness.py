"""Storm craft's freshness rule (``validate --online``): how much each campaign hashtag was used in the last
week on each platform the campaign posts to, read through one of its accounts with ``Publisher.tag_reach``
(Mastodon's tag history, Bluesky's searchPosts; X sells its counts, so there it is "not read"). Slow and over
the network, so only when asked; a sandbox account asks the sandbox."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Sequence

from ..campaign import Campaign
from ..config import Config
from ..craft_settings import REASONS
from ..platforms.base import EngagementUnavailable, PublishError, Publisher
from ..platforms.registry import display_name
from ..problems import Problem, UserError
from ..store import Store
from ..text import hashtag_key
from ..timing import utcnow
from .publishers import publisher_factory

if TYPE_CHECKING:
    from ..sandbox.link import SandboxLink

#: How far back "recent use" looks.
RECENT = timedelta(days=7)


@dataclass(frozen=True)
class Freshness:
    """One hashtag's recent use on one platform, or why it was not read (``posts`` None)."""

    campaign: Campaign
    hashtag: str
    platform: str
    account_id: str          # whose publisher read it
    posts: int | None
    accounts: int | None
    how: str                 # what was counted, or why nothing was

    @property
    def words(self) -> str:
        where = f"{self.hashtag} on {display_name(self.platform)} (read as {self.account_id})"
        if self.posts is None:
            return f"{where}: not read: {self.how}"
        if self.posts == 0:
            return f"{where}: no use in the last {RECENT.days} days"
        by = f" by {self.accounts} account{'s' if self.accounts != 1 else ''}" if self.accounts is not None else ""
        return f"{where}: {self.posts} post{'s' if self.posts != 1 else ''}{by} in the last {RECENT.days} days"


def hashtag_freshness(campaigns: Sequence[Campaign], config: Config, store: Store, *,
                      sandbox: "SandboxLink | None" = None, now: datetime | None = None,
                      timeout: float | None = None) -> list[Freshness]:
    """Each campaign hashtag's use in the last week on each platform of the campaign (through its first account
    there), unless its ``[craft]`` turns freshness off."""
    now = now or utcnow()
    wanted = [campaign for campaign in campaigns if _level(campaign, config) != "off"]
    accounts = [config.accounts[account] for campaign in wanted for post in campaign.spec.posts
                for account in post.accounts if account in config.accounts]
    closers: list[Callable[[], None]] = []
    if sandbox is None and any(account.from_sandbox for account in accounts):
        from ..sandbox.link import RemoteSandbox

        link = RemoteSandbox(config.settings.sandbox.urls)
        closers.append(link.stop)
        sandbox = link
    seconds = timeout if timeout is not None else config.settings.dispatch.request_timeout.total_seconds()
    make = publisher_factory(config, store, dry_run=False, sandbox=sandbox, timeout=seconds, clock=lambda: now)
    publishers: dict[str, Publisher] = {}
    found: list[Freshness] = []
    try:
        for campaign in wanted:
            for platform, account_id in _readers(campaign, config).items():
                for tag in campaign.spec.hashtags:
                    found.append(_read(campaign, tag, platform, account_id, make, publishers, now))
    finally:
        for publisher in publishers.values():
            publisher.close()
        for close in closers:
            close()
    return found


def _readers(campaign: Campaign, config: Config) -> dict[str, str]:
    """The first account of the campaign on each of its platforms."""
    readers: dict[str, str] = {}
    for post in campaign.spec.posts:
        for account in post.accounts:
            if account in config.accounts:
                readers.setdefault(config.accounts[account].platform, account)
    return readers


def _read(campaign: Campaign, tag: str, platform: str, account_id: str, make: Callable[[str], Publisher],
          publishers: dict[str, Publisher], now: datetime) -> Freshness:
    try:
        if account_id not in publishers:
            publishers[account_id] = make(account_id)
    except (ValueError, UserError) as error:  # no usable credentials: `validate` names them already
        return Freshness(campaign, tag, platform, account_id, None, None, f"cannot log in: {error}")
    try:
        reach = publishers[account_id].tag_reach(tag.lstrip("#"), now - RECENT, now)
    except (EngagementUnavailable, PublishError) as error:
        return Freshness(campaign, tag, platform, account_id, None, None, str(error))
    return Freshness(campaign, tag, platform, account_id, reach.posts, reach.accounts, reach.how)


def _level(campaign: Campaign, config: Config) -> str:
    return campaign.spec.craft.with_defaults(config.settings.craft).level("freshness")


def freshness_problems(found: Sequence[Freshness], config: Config) -> list[Problem]:
    """A storm craft warning (or error, as the campaign sets it) for each hashtag already used in the last week
    that the campaign does not list as public, at its ``hashtags`` line."""
    problems = []
    for each in found:
        craft = each.campaign.spec.craft
        public = {hashtag_key(tag) for tag in craft.public_hashtags}
        if not each.posts or hashtag_key(each.hashtag) in public:
            continue
        problem = Problem(str(each.campaign.path), "hashtags",
                          f"storm craft, freshness: {each.words}; make sure it was not used with another intent, or "
                          "choose a fresh hashtag (if it is the campaign's own and public already, list it in [craft] "
                          f"public_hashtags) (why: {REASONS['freshness']})",
                          each.campaign.locator.line_of(("hashtags",)),
                          severity="error" if _level(each.campaign, config) == "error" else "warning")
        problems.append(replace(problem, rule="freshness"))
    return problems
