"""Alerts: telling people about a problem while there is still time, through the Apprise library (ntfy,
Matrix, Signal, email, Telegram ... as notification URLs in ``[alerts]``).

One message per problem, not per post: the 40 failed posts of one account in one storm are one alert naming
the account, how many, and the platform's words once; the same problem is not sent again within the storm.
Every alert is also an event in the database (``log --events``).

Sending never blocks posting and never raises into the daemon: the dispatcher's loop only puts what happened
on a queue (``post_event``, ``raise_alert``, ``alert_database_problem``); one worker thread groups, scrubs,
sends (Apprise is synchronous) and records. A failing endpoint is logged and recorded, never fatal.

No alert carries a secret: messages are built from non-secret fields only (account ids, handles, counts,
the platform's words), and a :class:`Scrubber` removes every credential value of config.toml's accounts,
the token vault's key and the alert URLs' own secrets before anything is sent or recorded.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Protocol

from sqlalchemy import Engine

from .alert_urls import unusable_url
from .problems import Problem
from .store.events import ERROR, INFO, WARNING, has_event, record_event
from .store.storms import StormPost, is_open, open_posts, storm_posts
from .timing import format_duration, utcnow

if TYPE_CHECKING:
    from .config import AlertSettings, Config
    from .dispatch import DispatchEvent

log = logging.getLogger("stormcaller.alerts")

PROBLEM_KINDS = ("failed", "missed", "needs-review")  # post outcomes that make an alert
FINAL_KINDS = ("sent", *PROBLEM_KINDS)
REMOVED = "[secret removed]"
SHORTEST_SECRET = 4  # shorter values would scrub ordinary words; no real credential is this short
DATABASE_REPEAT = timedelta(minutes=10)  # a database still failing is said again this often, not more


# --- where alerts go -------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertTarget:
    """One notification URL. ``label`` names it in logs and messages (the URL may carry a secret)."""

    label: str
    url: str = field(repr=False)


def alert_targets(settings: "AlertSettings", environ: Mapping[str, str] | None = None) -> list[AlertTarget]:
    """The URLs written in ``urls`` and those held by the ``url_variables`` that are set."""
    environ = os.environ if environ is None else environ
    targets = [AlertTarget(f"alerts.urls[{index}]", url) for index, url in enumerate(settings.urls)]
    targets += [AlertTarget(f"${name}", environ[name]) for name in settings.url_variables if environ.get(name)]
    return targets


def alert_problems(config: "Config", environ: Mapping[str, str] | None = None) -> list[Problem]:
    """``[alerts]`` as far as config loading cannot see: each variable of ``url_variables`` unset (a warning
    when the daemon publishes for real: nobody would be told of a problem) or holding a URL Apprise cannot
    use (an error naming the variable, never its value). ``urls`` are checked when config.toml is read."""
    environ = os.environ if environ is None else environ
    live = config.settings.dispatch.mode == "live"
    problems = []
    for name in config.settings.alerts.url_variables:
        value = environ.get(name)
        if not value:
            if live:
                problems.append(Problem(config.label, "alerts.url_variables", f"environment variable {name} is "
                                        "not set: the daemon will send no alert there; export it in the daemon's "
                                        "environment (an Apprise URL)", severity="warning"))
            continue
        why = unusable_url(value)
        if why:
            problems.append(Problem(config.label, "alerts.url_variables", f"the URL in environment variable "
                                    f"{name} {why.replace('this ', 'its ', 1)}"))
    return problems


# --- no secret in any alert ------------------------------------------------------------------------
class Scrubber:
    """Removes known secret values from a text: the second line of defence (messages are built from
    non-secret fields in the first place)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {secret for secret in secrets if secret and len(secret) >= SHORTEST_SECRET}
        self._secrets = sorted(found, key=len, reverse=True)  # a secret inside a longer one: the longer first

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REMOVED)
        return text


def known_secrets(config: "Config", environ: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value this daemon can know of: each account's credentials, the token vault's key, the
    database URL's password, and the alert URLs kept in environment variables (with their parts: a bot
    token, a password)."""
    from urllib.parse import urlsplit

    environ = os.environ if environ is None else environ
    secrets = [value for account in config.settings.accounts for value in account.credential_values(environ).values()]
    key = environ.get(config.settings.tokens.key_variable)
    if key:
        secrets.append(key)
    database_password = urlsplit(config.settings.database.url).password
    if database_password:
        secrets.append(database_password)
    for name in config.settings.alerts.url_variables:
        url = environ.get(name)
        if not url:
            continue
        secrets.append(url)
        parts = urlsplit(url)
        secrets += [part for part in (parts.password, parts.username, parts.path.strip("/"), parts.query) if part]
        secrets += [piece for piece in parts.path.split("/") if len(piece) >= 8]  # tokens in the path
    return secrets


# --- sending ---------------------------------------------------------------------------------------
class Notifier(Protocol):
    def notify(self, title: str, body: str, severity: str) -> list[str]:
        """Send to every target; returns the labels of those that did not take it."""


class AppriseNotifier:
    """One Apprise object per target, so a failing endpoint is named and the others still get the alert."""

    def __init__(self, targets: list[AlertTarget]) -> None:
        import apprise

        # Apprise's own log lines may quote a URL (a topic, a bot token): ours name the target instead.
        logging.getLogger("apprise").setLevel(logging.CRITICAL)
        asset = apprise.AppriseAsset(storage_mode="memory")  # nothing of ours written to disk
        self._types = {INFO: apprise.NotifyType.INFO, WARNING: apprise.NotifyType.WARNING,
                       ERROR: apprise.NotifyType.FAILURE}
        self._services: list[tuple[str, apprise.Apprise]] = []
        for target in targets:
            service = apprise.Apprise(asset=asset)
            if service.add(target.url):
                self._services.append((target.label, service))
            else:  # checked at config load; a variable may have changed since
                log.warning("alert target %s is not a URL Apprise can use; no alert goes there", target.label)

    def notify(self, title: str, body: str, severity: str) -> list[str]:
        failed = []
        for label, service in self._services:
            try:
                delivered = bool(service.notify(body=body, title=title, notify_type=self._types[severity]))
            except Exception:  # an endpoint's failure is never the daemon's
                delivered = False
            if not delivered:
                failed.append(label)
        return failed

    def __len__(self) -> int:
        return len(self._services)


# --- what is sent ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alert:
    """One message. ``key``: the same key is not sent twice (within a storm, or within ``repeat_after``);
    ``send`` False: recorded as an event only (an ok preflight)."""

    kind: str
    severity: str
    title: str
    body: str
    account_id: str | None = None
    campaign_id: str | None = None
    key: str | None = None
    send: bool = True
    repeat_after: timedelta | None = None


@dataclass
class _Group:
    """Posts of one account with one outcome in one storm, gathered into one alert."""

    kind: str
    campaign_id: str
    account_id: str
    platform: str
    storm: str
    due: float
    count: int = 0
    reasons: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


@dataclass
class _Storm:
    campaign_id: str
    occurrence: str
    around: datetime           # a post of the storm's planned time
    next_check: float


class Alerter:
    """The daemon's alerts: grouped, scrubbed, sent and recorded by one worker thread."""

    def __init__(self, notifier: Notifier, scrub: Callable[[str], str], *, engine: Engine | None = None,
                 clock: Callable[[], datetime] = utcnow, gather: float = 2.0, summary_poll: float = 1.0) -> None:
        self.notifier = notifier
        self.scrub = scrub
        self.engine = engine
        self.clock = clock
        self.gather = gather
        self.summary_poll = summary_poll
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="alerts", daemon=True)
        self._groups: dict[tuple[str, str, str, str], _Group] = {}
        self._said: dict[str, float] = {}          # key -> when it was sent (monotonic)
        self._storms: dict[tuple[str, str], _Storm] = {}  # storms with news since their last check

    # --- called from anywhere (never blocks, never raises) -------------------------------------
    def start(self) -> "Alerter":
        self._thread.start()
        return self

    def post_event(self, event: "DispatchEvent") -> None:
        """What the dispatcher did with a post (its ``on_event``)."""
        if event.kind in FINAL_KINDS:
            self._queue.put(event)

    def raise_alert(self, alert: Alert) -> None:
        self._queue.put(alert)

    def alert_database_problem(self, message: str) -> None:
        """The daemon cannot reach or write its database: said at once, then every ``DATABASE_REPEAT`` at most."""
        self._queue.put(Alert("database", ERROR, "Stormcaller: the database cannot be used",
                              f"{message}\nPosts may be late or missed until it is back: check the disk, its "
                              "permissions or the database server.", key="database",
                              repeat_after=DATABASE_REPEAT))

    def close(self, timeout: float = 10.0) -> None:
        """Send what is gathered, then stop the worker (waiting at most ``timeout`` seconds)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    # --- the worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._wait())
            except queue.Empty:
                item = None
            try:
                if item is _STOP:
                    self._flush(everything=True)
                    self._check_storms(force=True)
                    return
                if isinstance(item, Alert):
                    self._deliver(item)
                elif item is not None:
                    self._observe(item)  # type: ignore[arg-type]
                self._flush()
                self._check_storms()
            except Exception:  # an alert's own failure must never stop the next one
                log.exception("alert worker")

    def _wait(self) -> float:
        deadlines = [group.due for group in self._groups.values()] + [s.next_check for s in self._storms.values()]
        return max(0.01, min(deadlines) - time.monotonic()) if deadlines else 1.0

    def _observe(self, event: "DispatchEvent") -> None:
        post = event.post
        occurrence = occurrence_of(post.id)
        storm_id = (post.campaign_id, occurrence)
        if storm_id not in self._storms:
            self._storms[storm_id] = _Storm(post.campaign_id, occurrence, post.planned_at, 0.0)
        self._storms[storm_id].next_check = time.monotonic() + self.summary_poll
        if event.kind not in PROBLEM_KINDS:
            return
        key = (event.kind, post.campaign_id, occurrence, post.account_id)
        if self._said_already(_group_key(key)):
            return
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(event.kind, post.campaign_id, post.account_id, post.platform,
                                               _storm_label(post.campaign_id, occurrence),
                                               time.monotonic() + self.gather)
        group.count += 1
        reason = event.detail.strip()
        if reason and reason not in group.reasons and len(group.reasons) < 3:
            group.reasons.append(reason)
        if len(group.examples) < 3:
            group.examples.append(post.id)

    def _flush(self, everything: bool = False, storm: tuple[str, str] | None = None) -> None:
        """Send the groups gathered long enough (all of them, or all of one storm's)."""
        now = time.monotonic()
        for key, group in list(self._groups.items()):
            if everything or group.due <= now or key[1:3] == storm:
                del self._groups[key]
                self._deliver(_group_alert(group, _group_key(key)))

    def _check_storms(self, force: bool = False) -> None:
        """A storm whose every post is final gets its summary (once)."""
        if self.engine is None:
            return
        now = time.monotonic()
        for storm_id, storm in list(self._storms.items()):
            if not force and storm.next_check > now:
                continue
            storm.next_check = now + self.summary_poll
            try:
                if open_posts(self.engine, storm.campaign_id, storm.around):
                    continue
                posts = storm_posts(self.engine, storm.campaign_id, storm.around)
                start = min((post.planned_at for post in posts), default=storm.around)
                told = has_event(self.engine, kind="summary", campaign_id=storm.campaign_id, since=start)
            except Exception as error:  # the database is away: try again at the next poll
                log.warning("storm summary: the database could not be read (%s)", type(error).__name__)
                continue
            if any(is_open(post) for post in posts) or not posts:
                continue
            del self._storms[storm_id]
            self._flush(storm=storm_id)  # its problems before its summary
            if not told:  # summed up already (by this daemon, before a restart, or by another one)
                self._deliver(storm_summary(storm.campaign_id, storm.occurrence, posts))
            for said in [k for k in self._said if k.startswith(f"post|{storm.campaign_id}|{storm.occurrence}|")]:
                del self._said[said]  # the storm is over: its next occurrence is told of afresh

    def _said_already(self, key: str | None, repeat_after: timedelta | None = None) -> bool:
        if key is None or key not in self._said:
            return False
        return repeat_after is None or time.monotonic() - self._said[key] < repeat_after.total_seconds()

    def _deliver(self, alert: Alert) -> None:
        if alert.send and self._said_already(alert.key, alert.repeat_after):
            if alert.repeat_after is None:  # a repeat within a timed window (the database) is not even written
                self._record(alert.kind, alert.severity, alert, note=" (already alerted)")
            return
        title, body = self.scrub(alert.title), self.scrub(alert.body)
        if alert.send:
            if alert.key is not None:
                self._said[alert.key] = time.monotonic()
            failed = self.notifier.notify(title, body, alert.severity)
            for label in failed:
                log.warning("alert %r could not be delivered to %s", title, label)
                self._record("alert-endpoint", WARNING, Alert("alert-endpoint", WARNING, "alert not delivered",
                                                              f"{label} did not take the alert {title!r}"))
        self._record(alert.kind, alert.severity, alert)

    def _record(self, kind: str, severity: str, alert: Alert, note: str = "") -> None:
        if self.engine is None:
            return
        message = self.scrub(f"{alert.title}: {alert.body}{note}")
        try:
            record_event(self.engine, at=self.clock(), kind=kind, severity=severity, message=message,
                         account_id=alert.account_id, campaign_id=alert.campaign_id)
        except Exception as error:  # the database itself may be the problem being told
            log.warning("event %r not recorded: the database could not be written (%s)", kind, type(error).__name__)


_STOP = object()


def occurrence_of(post_id: str) -> str:
    """The occurrence a post id names: its year for a yearly storm ("campaign/post/account@2027"), else ""."""
    last = post_id.rsplit("/", 1)[-1]
    return last.rsplit("@", 1)[1] if "@" in last else ""


def _storm_label(campaign_id: str, occurrence: str) -> str:
    return f"{campaign_id} ({occurrence})" if occurrence else campaign_id


def _group_key(key: tuple[str, str, str, str]) -> str:
    kind, campaign_id, occurrence, account_id = key
    return f"post|{campaign_id}|{occurrence}|{account_id}|{kind}"


WHAT_HAPPENED = {"failed": ("failed", "were refused or could not be sent"),
                 "missed": ("missed", "were not sent before their lateness bound"),
                 "needs-review": ("need review", "may or may not have gone out")}


def _group_alert(group: _Group, key: str) -> Alert:
    short, long = WHAT_HAPPENED[group.kind]
    posts = "1 post" if group.count == 1 else f"{group.count} posts"
    if group.kind == "needs-review":
        todo = (f"check the account {group.account_id} on {group.platform}, then `python run.py resolve POST_ID "
                "--published [URL] | --not-published [--resend]` for each (`python run.py log --state needs-review`)")
    elif group.kind == "failed":
        todo = (f"check the account (`python run.py accounts check {group.account_id}`) and the reasons "
                f"(`python run.py log --campaign {group.campaign_id} --state failed`)")
    else:
        todo = (f"make sure the daemon runs and reaches {group.platform}; the reasons are in `python run.py log "
                f"--campaign {group.campaign_id} --state missed`")
    reasons = "\n".join(f"- {reason}" for reason in group.reasons)
    more = " (any more in this storm are counted in its summary, not alerted again)"
    body = (f"{posts} of account {group.account_id} ({group.platform}) in storm {group.storm} {long}{more}.\n"
            f"What the platform said:\n{reasons}\nWhat to do: {todo}.\nFor example: {', '.join(group.examples)}")
    return Alert(group.kind, ERROR if group.kind != "missed" else WARNING,
                 f"Stormcaller: {posts} {short} for {group.account_id}", body, account_id=group.account_id,
                 campaign_id=group.campaign_id, key=key)


def storm_summary(campaign_id: str, occurrence: str, posts: list[StormPost]) -> Alert:
    """Sent, failed, missed and needs-review by platform, and the lateness of what went out (p50, p99)."""
    states = ("sent", "failed", "missed", "needs-review")
    by_platform: dict[str, dict[str, int]] = {}
    for post in posts:
        by_platform.setdefault(post.platform, {}).setdefault(post.state, 0)
        by_platform[post.platform][post.state] += 1
    totals = {state: sum(counts.get(state, 0) for counts in by_platform.values()) for state in states}
    lines = [f"{platform}: " + ", ".join(f"{counts.get(state, 0)} {state}" for state in states)
             for platform, counts in sorted(by_platform.items())]
    late = sorted((post.sent_at - post.planned_at) for post in posts if post.state == "sent" and post.sent_at)
    lateness = (f"lateness p50 {format_duration(percentile(late, 50))}, p99 {format_duration(percentile(late, 99))}"
                if late else "nothing went out")
    start = min(post.planned_at for post in posts)
    bad = totals["failed"] + totals["missed"] + totals["needs-review"]
    body = (f"Storm {_storm_label(campaign_id, occurrence)} (from {start:%Y-%m-%d %H:%M} UTC) is over: "
            + ", ".join(f"{totals[state]} {state}" for state in states) + ".\n" + "\n".join(lines)
            + f"\n{lateness}." + (f"\nSee `python run.py log --campaign {campaign_id}`." if bad else ""))
    return Alert("summary", WARNING if bad else INFO, f"Stormcaller: storm {campaign_id} is over", body,
                 campaign_id=campaign_id)


def percentile(values: list[timedelta], percent: float) -> timedelta:
    """Nearest-rank percentile of sorted ``values``."""
    rank = max(1, -(-len(values) * percent // 100))  # ceil without floats' rounding surprises
    return values[int(rank) - 1]


def make_alerter(config: "Config", engine: Engine | None, *, clock: Callable[[], datetime] = utcnow,
                 environ: Mapping[str, str] | None = None, send: bool = True) -> Alerter:
    """The daemon's alerter, from ``[alerts]`` (with no URL, or ``send`` False, alerts are only recorded as
    events)."""
    targets = alert_targets(config.settings.alerts, environ) if send else []
    notifier: Notifier = AppriseNotifier(targets) if targets else _Nowhere()
    return Alerter(notifier, Scrubber(known_secrets(config, environ)), engine=engine, clock=clock)


class _Nowhere:
    def notify(self, title: str, body: str, severity: str) -> list[str]:
        return []
