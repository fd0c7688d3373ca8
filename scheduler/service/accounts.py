"""Accounts as the platforms see them: log in to each and read who it is, without posting (``accounts
check``, ``validate --online`` and the daemon's preflight), and where each account's credentials are sent.

One check per account says: ok, or the platform's own words and what to do; the host the credentials go
to; the handle the credential really belongs to (another account's is an error); the scopes where the
platform states them (one posting needs and lacks is an error); when the token expires (a token that
expires before the account's last pending post, and cannot be renewed, is an error); and the rate budget
left against the posts due before it resets (a warning when they do not fit). No report holds a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from ..config import Account, Config
from ..platforms.base import Clock, Identity, PublishError, Publisher, RateLimited, Rejected
from ..problems import Problem, UserError
from ..store import Store
from ..store.events import ACCOUNT_CHECK, ERROR, INFO, WARNING, record_event
from ..timing import utcnow
from ..tokens import StoredGrant
from .credentials import grant_credential, stored_grant, vault_if_keyed
from .publishers import publisher_factory  # as the daemon makes them: a login as a post's

if TYPE_CHECKING:
    from ..sandbox.link import SandboxLink

PublisherMaker = Callable[[str], Publisher]  # account id -> a publisher for it (as the daemon makes them)


@dataclass(frozen=True)
class AccountReport:
    """What checking one account found. ``problem`` is the platform's words (or ours), ``advice`` what to do;
    ``warnings`` do not stop the account from posting; ``notes`` are what was found (scopes, expiry, rate
    budget). None of them ever holds a secret."""

    account_id: str
    platform: str
    host: str                          # where the account's credentials are sent
    identity: Identity | None = None   # who the credential logs in as, when it does
    problem: str | None = None
    advice: str | None = None
    expected_handle: str = ""          # the handle the credential should belong to
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    missing_variables: tuple[str, ...] = ()  # environment variables the account names that are not set
    source: str = ""                   # where the secret came from: the environment, a connection, the sandbox

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "account": self.account_id, "platform": self.platform, "host": self.host, "ok": self.ok,
            "handle": self.expected_handle, "credentials_from": self.source,
            "logged_in_as": identity.handle if identity else None,
            "user_id": identity.user_id if identity else None,
            "scopes": list(identity.scopes) if identity and identity.scopes is not None else None,
            "expires_at": _iso(identity.expires_at) if identity else None,
            "rate": ({"remaining": identity.rate_remaining, "limit": identity.rate_limit,
                      "reset": _iso(identity.rate_reset)} if identity and identity.rate_remaining is not None
                     else None),
            "problem": self.problem, "advice": self.advice, "warnings": list(self.warnings),
            "notes": list(self.notes), "missing_variables": list(self.missing_variables),
        }


def destination(account: Account, config: Config) -> str:
    """Where ``account``'s credentials go: the sandbox's URL for a sandbox account, else its server (Mastodon,
    a Bluesky PDS) or its platform's API host."""
    if account.sandbox:
        return (account.local_server or config.settings.sandbox.urls.get(account.platform)
                or "the local sandbox (127.0.0.1)")
    return account.instance or account.wing.default_host or "(no server named)"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.hostname or url


def same_handle(configured: str, seen: str) -> bool:
    """Whether the platform's handle is the configured one ('@name', 'name', 'name@server' for Mastodon;
    the server part is compared only when both name one)."""
    def parts(handle: str) -> tuple[str, str | None]:
        name, _, server = handle.strip().lstrip("@").casefold().partition("@")
        return name, server or None

    (name_a, server_a), (name_b, server_b) = parts(configured), parts(seen)
    return name_a == name_b and (server_a is None or server_b is None or server_a == server_b)


@dataclass
class _Findings:
    """What one check gathers before it becomes a report."""

    problems: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def error(self, problem: str, advice: str) -> None:
        self.problems.append(problem)
        if advice not in self.advice:
            self.advice.append(advice)


def check_account(account: Account, config: Config, make_publisher: PublisherMaker, *,
                  expected_handle: str | None = None, grant: StoredGrant | None = None,
                  pending: Sequence[datetime] = (), vault_open: bool = True, now: datetime | None = None,
                  environ: Mapping[str, str] | None = None) -> AccountReport:
    """Log in as ``account`` and hold what the platform says against config.toml and the outbox.

    ``expected_handle``: whom the credential should belong to (default the configured handle; a sandbox
    account's is the sandbox's). ``grant``: the account's sealed grant, if any. ``pending``: when its pending
    posts are due. ``vault_open``: whether sealed grants could be read (the key is in the environment).
    """
    now = now or utcnow()
    expected = expected_handle or account.handle
    base = AccountReport(account.id, account.platform, destination(account, config), expected_handle=expected)
    found = _Findings()
    missing = () if account.from_sandbox else tuple(account.missing_variables(environ))
    relies_on_grant = not account.from_sandbox and grant is not None and (
        bool(missing) or grant_credential(account.wing, grant.grant) not in account.credentials)
    base = replace(base, missing_variables=missing, source=_source(account, relies_on_grant and _usable(grant)))
    unusable = _missing_words(account, missing, grant, vault_open, config.settings.tokens.key_variable)
    if relies_on_grant and grant is not None and grant.dead:
        found.error(*unusable)
        return _report(base, None, found)
    # With variables unset, the publisher may still be made from a connection the caller did not pass (the
    # daemon's factory reads the vault): only a publisher that cannot be made means the secret is missing.
    identity = _log_in(account, make_publisher, found, unusable if missing else None)
    if identity is not None:
        _hold_identity(account, identity, expected, found)
        _hold_expiry(account, identity, grant, pending, now, found)
        _hold_rate(identity, pending, found)
    if pending:
        found.notes.append(f"{len(pending)} post(s) pending, the first due {_when(pending[0])}")
    return _report(base, identity, found)


def _usable(grant: StoredGrant | None) -> bool:
    return grant is not None and not grant.dead


def _source(account: Account, connected: bool) -> str:
    if account.from_sandbox:
        return "the sandbox"
    if connected:
        return "connected (sealed in the database)"
    return "environment variables " + ", ".join(account.credentials.values()) if account.credentials else ""


def _missing_words(account: Account, missing: tuple[str, ...], grant: StoredGrant | None, vault_open: bool,
                   key_variable: str) -> tuple[str, str]:
    """(problem, advice) for an account whose secret is neither in the environment nor usable in the vault."""
    names = {variable: name for name, variable in account.credentials.items()}
    listed = ", ".join(f"{variable} ({names.get(variable, 'credential')})" for variable in missing)
    connect = f"`python run.py accounts connect {account.id}`"
    if grant is not None and grant.dead:
        unset = f"environment variable {listed} is not set, and " if missing else ""
        return (f"{unset}the connection saved for it can no longer be used: {grant.dead}",
                f"connect it again with {connect}" + (f", or export {', '.join(missing)}" if missing else ""))
    if not account.credentials:
        return ("no credentials are named for this account", f"add credentials = {{ ... }} for {account.id!r} in "
                f"config.toml naming environment variables, or run {connect}")
    problem = f"environment variable {listed} is not set"
    advice = f"export {', '.join(missing)} with the secret of {account.handle}, or run {connect}"
    if not vault_open:
        advice += f" (if it was connected already, export {key_variable}, the key its token was saved with)"
    return problem, advice


def _log_in(account: Account, make_publisher: PublisherMaker, found: _Findings,
            missing: tuple[str, str] | None) -> Identity | None:
    try:
        publisher = make_publisher(account.id)
    except ValueError as error:  # incomplete credentials: the message names what is missing
        if missing is not None:  # the variables that are unset, and what to do
            found.error(*missing)
        else:
            found.error(str(error), f"set the credentials of account {account.id!r} (see config.toml) and export "
                                    "their environment variables")
        return None
    try:
        return publisher.whoami()
    except Rejected as error:
        found.error(str(error), f"the platform refuses this credential: make a new one for {account.handle} "
                                f"(`python run.py accounts connect {account.id}`, or the platform's settings) and "
                                "set it")
    except RateLimited as error:
        found.error(str(error), f"rate-limited until {error.until:%H:%M} UTC; check again after that")
    except PublishError as error:
        found.error(str(error), "the platform could not be reached; check the network and try again")
    except NotImplementedError:
        found.warnings.append(f"this version cannot log in to {account.wing.display_name} without posting, so "
                              "the credential was not checked")
    finally:
        publisher.close()
    return None


def _hold_identity(account: Account, identity: Identity, expected: str, found: _Findings) -> None:
    if not identity.handle:
        found.warnings.append("the platform would not say whose credential this is (it may not read its own "
                              "account), so the handle was not checked")
    elif not same_handle(expected, identity.handle):
        found.error(f"the credential belongs to {identity.handle}, not to {expected}",
                    f"set the credential of {expected} for account {account.id!r}, or correct its handle in "
                    "config.toml")
    if identity.scopes is None:
        return
    found.notes.append("scopes: " + (" ".join(identity.scopes) or "(none)"))
    errors, warnings = account.wing.scope_problems(identity.scopes)
    for error in errors:
        found.error(error, f"make a token with the scopes posting needs (`python run.py accounts connect "
                           f"{account.id}` asks for them) and set it")
    found.warnings.extend(warnings)


def _hold_expiry(account: Account, identity: Identity, grant: StoredGrant | None, pending: Sequence[datetime],
                 now: datetime, found: _Findings) -> None:
    stored = grant.grant if grant is not None else None
    expires = identity.expires_at or (stored.expires_at if stored else None)
    if expires is None:
        return
    renewable = identity.renews_itself or bool(stored and stored.refresh_token)
    if renewable:
        found.notes.append(f"token valid until {_when(expires)}, renewed by itself")
        return
    late = [due for due in pending if due >= expires]
    if expires <= now:
        found.error(f"the token expired at {_when(expires)}", _reconnect(account))
    elif late:
        found.error(f"the token expires at {_when(expires)}, before {len(late)} of its pending posts are due "
                    f"(the first at {_when(late[0])}), and it cannot be renewed", _reconnect(account))
    else:
        found.notes.append(f"token valid until {_when(expires)}")


def _reconnect(account: Account) -> str:
    return (f"connect it again with `python run.py accounts connect {account.id}` (asking for a refresh token), "
            "or set a new token")


def _hold_rate(identity: Identity, pending: Sequence[datetime], found: _Findings) -> None:
    if identity.rate_remaining is None:
        return
    of = f" of {identity.rate_limit}" if identity.rate_limit is not None else ""
    reset = identity.rate_reset
    until = f" until {_when(reset)}" if reset else ""
    found.notes.append(f"rate budget: {identity.rate_remaining}{of} requests left{until}")
    due_before = [due for due in pending if reset is None or due < reset]
    if len(due_before) > identity.rate_remaining:
        found.warnings.append(f"{len(due_before)} posts are due before the rate window resets{until}, but only "
                              f"{identity.rate_remaining} requests are left: some will wait for the reset")


def _report(base: AccountReport, identity: Identity | None, found: _Findings) -> AccountReport:
    return replace(base, identity=identity, problem="; ".join(found.problems) or None,
                   advice="; ".join(found.advice) or None, warnings=tuple(found.warnings), notes=tuple(found.notes))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def check_accounts(config: Config, make_publisher: PublisherMaker, account_ids: Iterable[str] | None = None, *,
                   expected_handles: Mapping[str, str] | None = None,
                   grants: Mapping[str, StoredGrant] | None = None,
                   pending: Mapping[str, Sequence[datetime]] | None = None, vault_open: bool = True,
                   now: datetime | None = None) -> list[AccountReport]:
    """Each account (all of config.toml's when ``account_ids`` is None) checked by logging in.

    :raises UserError: an id that is not in config.toml.
    """
    ids = known_ids(config, account_ids)
    expected_handles, grants, pending = expected_handles or {}, grants or {}, pending or {}
    return [check_account(config.accounts[account_id], config, make_publisher,
                          expected_handle=expected_handles.get(account_id), grant=grants.get(account_id),
                          pending=pending.get(account_id, ()), vault_open=vault_open, now=now)
            for account_id in ids]


def known_ids(config: Config, account_ids: Iterable[str] | None) -> list[str]:
    """The ids asked for (every account's when None), each in config.toml.

    :raises UserError: naming the unknown ids and the known ones.
    """
    ids = list(config.accounts) if account_ids is None else list(dict.fromkeys(account_ids))
    unknown = [account_id for account_id in ids if account_id not in config.accounts]
    if unknown:
        raise UserError(f"no account {', '.join(map(repr, unknown))} in {config.label}; its accounts are: "
                        f"{', '.join(config.accounts) or '(none)'}")
    if not ids:
        raise UserError(f"{config.label} names no accounts; add [[accounts]] entries first")
    return ids


def check_configured_accounts(config: Config, store: Store, account_ids: Iterable[str] | None = None, *,
                              sandbox: "SandboxLink | None" = None, timeout: float | None = None,
                              clock: Clock = utcnow) -> list[AccountReport]:
    """``accounts check``: every account (or those named) logged in as the live daemon would log in, sandbox
    accounts at the sandbox (``[sandbox]`` URLs, or one started for the check), with their sealed grants and
    their pending posts from ``store``.

    :raises UserError: an unknown account id; a token key that is set but invalid.
    """
    ids = known_ids(config, account_ids)
    accounts = [config.accounts[account_id] for account_id in ids]
    vault = vault_if_keyed(config, store)
    closers: list[Callable[[], None]] = []
    if sandbox is None and any(account.from_sandbox for account in accounts):
        from ..sandbox.link import RemoteSandbox

        link = RemoteSandbox(config.settings.sandbox.urls)
        closers.append(link.stop)
        sandbox = link
    try:
        seconds = timeout if timeout is not None else config.settings.dispatch.request_timeout.total_seconds()
        make = publisher_factory(config, store, dry_run=False, sandbox=sandbox, timeout=seconds, clock=clock,
                                 vault=vault)
        expected = {account.id: sandbox.credentials(account.platform, account.id).get("handle") or account.handle
                    for account in accounts if account.from_sandbox and sandbox is not None}
        grants = {account.id: grant for account in accounts if (grant := stored_grant(account, vault))}
        reports = check_accounts(config, make, ids, expected_handles=expected, grants=grants,
                                 pending=store.pending_due_times(ids), vault_open=vault is not None, now=clock())
        record_account_checks(store, reports, clock())
        return reports
    finally:
        for close in closers:
            close()


def record_account_checks(store: Store, reports: Iterable[AccountReport], now: datetime) -> None:
    """One event per account checked, so the dashboard shows each account's health where it was checked:
    an error with the platform's words and what to do, a warning, or ok with who it logged in as."""
    for report in reports:
        record_event(store.engine, at=now, kind=ACCOUNT_CHECK, account_id=report.account_id,
                     **_check_outcome(report))


def _check_outcome(report: AccountReport) -> dict[str, str]:
    if report.problem is not None:
        advice = f"; {report.advice}" if report.advice else ""
        return {"severity": ERROR, "message": f"accounts check: {report.problem}{advice}"}
    if report.warnings:
        return {"severity": WARNING, "message": "accounts check: " + "; ".join(report.warnings)}
    who = f" as {report.identity.handle}" if report.identity is not None and report.identity.handle else ""
    return {"severity": INFO, "message": f"accounts check: logged in{who}"}


def account_problems(reports: Iterable[AccountReport], config: Config, *, skip_missing: bool = False) -> list[Problem]:
    """Reports as problems of config.toml (``validate --online``): a broken account is an error naming its
    ``accounts`` entry, a warning stays a warning. ``skip_missing``: leave out unset variables (``validate``
    reports those already)."""
    file = config.label
    problems: list[Problem] = []
    for report in reports:
        where = f"accounts[{report.account_id}]"
        if report.problem and not (skip_missing and report.missing_variables and report.identity is None):
            problems.append(Problem(file, where, f"account {report.account_id!r} ({report.host}): {report.problem}; "
                                                 f"{report.advice}"))
        problems.extend(Problem(file, where, f"account {report.account_id!r}: {warning}", severity="warning")
                        for warning in report.warnings)
    return problems
