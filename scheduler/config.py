"""config.toml -> settings: the database, defaults for campaigns, the daemon's knobs, and the accounts
(with the *names* of the environment variables that hold their credentials, never the values).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from typing import TYPE_CHECKING, Any, Literal, Mapping

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator,
                      model_validator)

from .craft_settings import CraftDefaults
from .platforms.base import Limits, Platform
from .platforms.registry import PLATFORMS, platform
from .platforms.destinations import credential_url_problem, is_loopback, shown_url
from .problems import Problem, UserError, pydantic_problems, read_toml
from .timing import parse_duration, parse_lateness

if TYPE_CHECKING:
    from .media import ImageProfile

DEFAULT_DATABASE = "sqlite:///storm.db"
# Upper case only: a mixed-case token of letters and digits would otherwise pass for a variable name, and
# be printed back as "variable ... not set" (environment variable names are upper case by POSIX convention).
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


class DatabaseSettings(_Strict):
    url: str = DEFAULT_DATABASE

    @field_validator("url")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\0" in value:  # a path no file system takes, nor a database server
            raise ValueError("contains a NUL character (\\u0000); write the database URL without it")
        return value


class Defaults(_Strict):
    max_lateness: timedelta = Field(default=timedelta(minutes=15))
    language: str | None = None
    require_alt_text: bool = True

    _check_lateness = field_validator("max_lateness", mode="before")(parse_lateness)


class DispatchSettings(_Strict):
    mode: Literal["dry-run", "live"] = "dry-run"
    workers: int = Field(default=64, ge=1, le=2000)  # threads for platforms without an async client
    refresh: timedelta = Field(default=timedelta(seconds=30))        # re-read the database for new posts
    shutdown_grace: timedelta = Field(default=timedelta(seconds=20))  # wait this long for posts in flight
    request_timeout: timedelta = Field(default=timedelta(seconds=10))  # one platform request
    heartbeat: timedelta = Field(default=timedelta(seconds=5))        # "this daemon is alive", in the database
    stale_after: timedelta = Field(default=timedelta(seconds=30))     # a silent daemon's posts are settled
    retry_base: timedelta = Field(default=timedelta(seconds=2))       # first wait after a transient failure
    retry_cap: timedelta = Field(default=timedelta(minutes=5))        # longest wait between two tries
    database_patience: timedelta = Field(default=timedelta(minutes=10))  # an unwritable database: then stop

    _check_durations = field_validator("refresh", "shutdown_grace", "request_timeout", "heartbeat", "stale_after",
                                       "retry_base", "retry_cap", "database_patience", mode="before")(_duration)


class AlertSettings(_Strict):
    """``[alerts]``: where the daemon tells people about problems, as Apprise notification URLs (ntfy, Matrix,
    Signal, email, Telegram ...). ``urls`` are written here; ``url_variables`` name environment variables that
    hold URLs carrying a secret (a bot token, a password)."""

    urls: list[str] = Field(default_factory=list)
    url_variables: list[str] = Field(default_factory=list)

    @field_validator("urls")
    @classmethod
    def _usable(cls, urls: list[str]) -> list[str]:
        if urls:  # Apprise takes a second to import: only a config with alerts pays for it
            from .alert_urls import carries_secret, unusable_url

            for index, url in enumerate(urls):
                why = unusable_url(url)
                if why:
                    raise ValueError(f"urls[{index}] {why}")
                if carries_secret(url):  # not quoted back: the secret is in it
                    raise ValueError(f"urls[{index}] holds a password or token (Apprise hides part of it in its "
                                     "own logs); a secret never goes in a file: put the URL in an environment "
                                     "variable and name that variable in url_variables")
        return urls

    @field_validator("url_variables")
    @classmethod
    def _variable_names(cls, names: list[str]) -> list[str]:
        for index, name in enumerate(names):
            if not _ENV_NAME.match(name):  # not quoted back: it may be the secret URL itself
                raise ValueError(f"url_variables[{index}] must be the NAME of an environment variable (capitals, "
                                 "digits and '_', like \"STORM_ALERT_URL\"), never the URL itself; put the URL in "
                                 "that variable")
        return names


class PreflightSettings(_Strict):
    """``[preflight]``: how long before each storm the daemon checks every account due to post in it (and
    again when the storm starts)."""

    before: list[timedelta] = Field(default_factory=lambda: [timedelta(hours=1), timedelta(minutes=10)])

    @field_validator("before", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> list[timedelta]:
        if not isinstance(value, list):
            raise ValueError('write a list of durations, e.g. before = ["1h", "10m"]')
        return [parse_duration(item) for item in value]


class TokenSettings(_Strict):
    """``[tokens]``: grants that rotate (X OAuth 2.0) are kept in the database, encrypted with a key held in
    the environment variable ``key_variable`` (a Fernet key: ``python run.py accounts key`` makes one)."""

    key_variable: str = "STORMCALLER_TOKEN_KEY"


class LimitsSettings(_Strict):
    """``[limits.<platform>]``: each platform's limits (its wing's documented values by default)."""

    def for_platform(self, name: str) -> Limits:
        limits: Limits = getattr(self, name)
        return limits


# One field per platform in the registry, each of that wing's Limits model.
if not TYPE_CHECKING:  # mypy types the name as the class above (its fields are read by name, not declared)
    LimitsSettings = create_model(
        "LimitsSettings", __base__=LimitsSettings,
        **{name: (wing.limits_model, Field(default_factory=wing.limits_model)) for name, wing in PLATFORMS.items()})


class SandboxSettings(_Strict):
    """``[sandbox]``: where a sandbox started with `python run.py sandbox` listens, per platform. Unset:
    the daemon starts its own."""

    @property
    def urls(self) -> dict[str, str]:
        return {name: url for name in PLATFORMS if (url := getattr(self, name))}

    @field_validator("*")
    @classmethod
    def _local_only(cls, url: str | None) -> str | None:
        """The sandbox hands out credentials and takes posts: it must be on this machine."""
        problem = url is not None and credential_url_problem(url, sandbox=True)
        if problem:
            raise ValueError(f"the sandbox address {shown_url(url or '')} {problem}")
        return url


if not TYPE_CHECKING:  # as LimitsSettings: the class above is the static type
    SandboxSettings = create_model(
        "SandboxSettings", __base__=SandboxSettings, **{name: (str | None, None) for name in PLATFORMS})


class Account(_Strict):
    id: str
    platform: str
    handle: str
    credentials: dict[str, str] = Field(default_factory=dict)  # credential name -> environment variable
    sandbox: bool = False        # publish to the local sandbox instead of the real platform (before instance:
    #                              the instance's check reads it)
    instance: str | None = None  # Mastodon instance / Bluesky PDS base URL
    limits: dict[str, Any] = Field(default_factory=dict)  # this account's own caps, e.g. posts_per_24h = 17

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"account id {value!r} must be lower-case letters, digits, '-', '_' or '.'")
        return value

    @field_validator("platform")
    @classmethod
    def _platform_known(cls, value: str) -> str:
        if value not in PLATFORMS:
            *others, last = (repr(name) for name in PLATFORMS)
            raise ValueError(f"Input should be {', '.join(others)} or {last}")
        return value

    @field_validator("credentials")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, variable in value.items():
            if not _ENV_NAME.match(variable):
                raise ValueError(
                    f"credentials.{name} must be the NAME of an environment variable (capitals, digits and '_', "
                    f"like \"NETWORK_X_TOKEN\"), never the secret itself; put the secret in that variable")
        return value

    @field_validator("instance")
    @classmethod
    def _instance_safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Credentials go only where they should: https:// to a real server; http:// only to this machine and
        only for a sandbox account; an X account names no server at all (its instance would reroute every X
        API call)."""
        if value is None or info.data.get("platform") not in PLATFORMS:
            return value
        account, sandbox = repr(info.data.get("id", "?")), bool(info.data.get("sandbox"))
        wing = platform(info.data["platform"])
        if not wing.own_servers and not sandbox:
            raise ValueError(f"account {account}: {wing.display_name} accounts name no server: remove instance "
                             f"(their credentials go only to {wing.default_host}); for a rehearsal on this "
                             "machine, set sandbox = true")
        problem = credential_url_problem(value, sandbox=not wing.own_servers)
        if problem:
            raise ValueError(f"account {account}: instance {shown_url(value)} {problem}")
        parts = urlsplit(value.strip())
        if parts.scheme.lower() == "http" and not sandbox:
            raise ValueError(f"account {account}: instance {shown_url(value)} is plain http://, which only a "
                             f"sandbox account on this machine may use; write https://{parts.hostname}"
                             f"{parts.path}, or set sandbox = true for a rehearsal against a local server")
        return value.strip()

    @property
    def wing(self) -> Platform[Any]:
        return platform(self.platform)

    @property
    def local_server(self) -> str | None:
        """A sandbox account's ``instance`` on this machine: a local server of the platform's kind (a Takahē,
        a reference PDS) it rehearses against with its own credentials, instead of the project's sandbox."""
        if self.sandbox and self.instance and is_loopback(urlsplit(self.instance).hostname or ""):
            return self.instance
        return None

    @property
    def from_sandbox(self) -> bool:
        """Whether the project's sandbox hands out this account's credentials (a sandbox account that names no
        local server of its own)."""
        return self.sandbox and self.local_server is None

    @model_validator(mode="after")
    def _known_limits(self) -> "Account":
        known = self.wing.limits_model.model_fields
        unknown = sorted(set(self.limits) - set(known))
        if unknown:
            raise ValueError(f"account {self.id!r}: unknown limit {', '.join(map(repr, unknown))}; "
                             f"{self.platform} limits are: {', '.join(known)}")
        self.wing.limits(self.limits)
        return self

    @model_validator(mode="after")
    def _instance_needed(self) -> "Account":
        if self.wing.instance_required and not self.instance and not self.sandbox:
            raise ValueError(f"account {self.id!r}: a {self.wing.display_name} account needs instance = "
                             "\"https://your.server\"")
        return self

    def credential_values(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The secrets, read from the environment at the moment they are needed (never stored)."""
        environ = os.environ if environ is None else environ
        return {name: environ[variable] for name, variable in self.credentials.items() if variable in environ}

    def missing_variables(self, environ: Mapping[str, str] | None = None) -> list[str]:
        environ = os.environ if environ is None else environ
        return [variable for variable in self.credentials.values() if not environ.get(variable)]


class Settings(_Strict):
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    preflight: PreflightSettings = Field(default_factory=PreflightSettings)
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    craft: CraftDefaults = Field(default_factory=CraftDefaults)  # storm craft, for campaigns that set none
    accounts: list[Account] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_accounts(self) -> "Settings":
        seen: set[str] = set()
        for account in self.accounts:
            if account.id in seen:
                raise ValueError(f"account id {account.id!r} is defined twice; each account needs its own id")
            seen.add(account.id)
        return self


@dataclass(frozen=True)
class Config:
    """Settings plus where they came from (relative paths are relative to the config file's folder)."""

    settings: Settings
    path: Path | None
    root: Path

    @cached_property
    def accounts(self) -> dict[str, Account]:
        """By id (made once: publishers, checks and costs look accounts up per post)."""
        return {account.id: account for account in self.settings.accounts}

    def limits_for(self, account_id: str) -> Limits:
        """The account's platform limits: ``[limits.<platform>]`` with the account's own ``limits``."""
        account = self.accounts[account_id]
        base = self.settings.limits.for_platform(account.platform)
        return base.model_copy(update=account.limits) if account.limits else base

    def image_profile(self, account_id: str) -> "ImageProfile":
        """What ``account_id``'s images must be: the one source for validation, plan, queue and the daemon,
        so what ``plan`` shows is what goes out.

        :raises KeyError: the account is not in the config.
        """
        return self.accounts[account_id].wing.image_profile(self.limits_for(account_id))

    @property
    def sandbox_ports(self) -> dict[str, int]:
        """The ports of the sandbox URLs in ``[sandbox]``, per platform (where a URL names one)."""
        ports = {name: urlsplit(url).port for name, url in self.settings.sandbox.urls.items()}
        return {name: port for name, port in ports.items() if port}

    @property
    def database_url(self) -> str:
        return resolve_database_url(self.settings.database.url, self.root)

    @property
    def assets_dir(self) -> Path:
        return self.root / "assets"

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "(built-in defaults)"


def resolve_database_url(url: str, root: Path) -> str:
    """sqlite:///relative.db is taken relative to the config file's folder, not the current directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str((root / url[len(prefix):]).resolve())
    return url


def load_config(path: Path | None) -> Config:
    """Read config.toml. A missing file at the default location means built-in defaults.

    :raises UserError: with every problem in the file.
    """
    if path is None or not path.exists():
        if path is not None and path.name != "config.toml":
            raise UserError([Problem(str(path), "", "config file not found; check the --config path")])
        root = (path.parent if path else Path.cwd()).resolve()
        return Config(Settings(), None, root)
    data, source = read_toml(path)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as error:
        raise UserError(pydantic_problems(error, str(path), source)) from None
    return Config(settings, path, path.resolve().parent)
