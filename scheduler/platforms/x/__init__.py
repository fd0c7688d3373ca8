"""X: facts (``facts``), how it counts (``text``) and the publisher through Tweepy (``publisher``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Cap, Measure, Platform, Pricing, PublisherFactory
from . import facts
from .facts import XLimits
from .text import x_invalid_reason, x_weighted_length

if TYPE_CHECKING:
    from ...media import ImageProfile


class X(Platform[XLimits]):
    name = facts.NAME
    display_name = facts.DISPLAY_NAME
    share_url = facts.SHARE_URL
    limits_model = XLimits
    credential_sets = facts.CREDENTIAL_SETS
    one_text_per_account = True  # X's automation rules (docs/platform-facts.md)
    duplicate_window = facts.DUPLICATE_WINDOW  # X's duplicate-content refusal
    default_host = "https://api.x.com"  # and its aliases (facts.HOSTS): an X account names no server
    own_servers = False  # a base URL can only be the local sandbox (the credential guard holds it there)

    def measure(self, text: str, limits: XLimits) -> Measure:
        return Measure(x_weighted_length(text), limits.max_weighted_length, "weighted chars")

    def text_refusals(self, text: str, limits: XLimits) -> list[str]:
        if not self.measure(text, limits).fits:
            return []  # the length is reported as such
        reason = x_invalid_reason(text, limits.max_weighted_length)
        return [f"X would refuse it: {reason}"] if reason else []

    def credential_warning(self, keys: set[str], account_id: str) -> str | None:
        if facts.USER_TOKEN_CREDENTIALS[0] not in keys or any(set(other) <= keys for other in (
                facts.OAUTH1_CREDENTIALS, facts.STORED_GRANT_CREDENTIALS)):
            return None
        return (f"an OAuth 2.0 user token expires {facts.USER_TOKEN_LIFETIME_WORDS} after it is issued and a variable "
                "cannot renew it: set in the morning, it fails at an evening storm. Give the account client_id = "
                "\"X_CLIENT_ID\" (a variable holding your X app's client id) instead and run `python run.py accounts "
                f"connect {account_id}` (its tokens are then "
                "kept encrypted and renewed before they expire), or use OAuth 1.0a keys")

    def reply_warning(self) -> str | None:
        return f"{facts.REPLY_RULE}; a thread reply may be refused"

    def scope_problems(self, scopes: tuple[str, ...]) -> tuple[list[str], list[str]]:
        # OAuth 2.0 user-token scopes (docs/platform-facts.md, X): posting with images needs these four;
        # offline.access is what gives a refresh token (without it the token dies after 2 hours)
        posting = [scope for scope in ("tweet.read", "tweet.write", "users.read", "media.write") if scope not in scopes]
        return ([f"the token lacks {' and '.join(posting)}, which posting needs"] if posting else [],
                [] if "offline.access" in scopes else
                ["the token lacks offline.access: it has no refresh token and stops working 2 hours after it was "
                 "made"])

    def caps(self, limits: XLimits) -> list[Cap]:
        return [Cap(facts.POSTS_WINDOW, limits.posts_per_15min, "posts"),
                Cap(facts.DAY, limits.posts_per_24h, "posts")]

    def image_profile(self, limits: XLimits) -> "ImageProfile":
        return facts.image_profile()

    def pricing(self, limits: XLimits) -> Pricing:
        return Pricing(limits.cost_per_post, limits.cost_per_post_with_url)

    def publisher_factory(self) -> PublisherFactory:
        from .publisher import create_publisher

        return create_publisher
