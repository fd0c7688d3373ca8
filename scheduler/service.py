"""The Python API behind every command: validate, plan, queue, unqueue, run, log, rehearse.

The CLI only parses arguments and draws results; everything it does is a call here.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .campaign import Campaign, load_campaign, validate_files
from .config import Account, Config
from .dispatch import DispatchEvent, Dispatcher, DispatchSettings, ImageLoader
from .planner import Plan, plan_campaign
from .platforms import PublisherPool, platform_module
from .platforms.base import Image, Publisher, PublishError
from .problems import Problem, UserError
from .sandbox.core import Sandbox
from .sandbox.link import RemoteSandbox, SandboxLink
from .rules import PlanReporter, check_plan, image_profile  # image_profile: part of this API (validation needs it too)
from .store import LogFilter, PostRow, QueueReport, Store
from .timing import format_duration, utcnow

if TYPE_CHECKING:
    from .media import ImageProblem, ImageProfile, PreparedImage

ProgressCallback = Callable[[int, int], None]


# --- check and see ---------------------------------------------------------------------------------
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
        required = _required_credentials(account)
        absent_names = [] if any(set(option) <= set(account.credentials) for option in required) else \
            [" + ".join(option) for option in required]
        if not missing and not absent_names:
            continue
        severity = "error" if live and not account.sandbox else "warning"
        if absent_names:
            message = (f"account {account.id!r} ({account.platform}) names no credentials; add credentials = "
                       f"{{ ... }} with one of: {' or '.join(absent_names)} (values are environment variable names)")
        else:
            message = (f"account {account.id!r}: environment variable(s) {', '.join(missing)} not set; set them "
                       "before the storm (export NAME=... in the daemon's environment)")
        problems.append(Problem(config.label, f"accounts.{account.id}.credentials", message, severity=severity))
    return problems


def _required_credentials(account: Account) -> tuple[tuple[str, ...], ...]:
    try:
        return platform_module(account.platform).REQUIRED_CREDENTIALS
    except (ImportError, AttributeError):
        return ()


def plan(path: Path, config: Config, now: datetime | None = None) -> Plan:
    """:raises UserError: if the campaign has errors."""
    return plan_campaign(load_campaign(path, config), config, now)


# Our limit names <- Mastodon's /api/v2/instance names (see platforms.mastodon.limits_from_instance).
_INSTANCE_LIMITS = {"max_characters": "max_characters", "characters_reserved_per_url": "characters_reserved_per_url",
                    "max_images": "max_media_attachments", "alt_text_max": "description_limit",
                    "image_max_bytes": "image_size_limit"}


def with_instance_limits(config: Config) -> tuple[Config, list[Problem]]:
    """The config with each Mastodon account's limits read from its instance (GET /api/v2/instance, no
    token needed); an account's own ``limits = {...}`` still wins. An instance that cannot be read keeps the
    configured values, with a warning."""
    from .platforms.mastodon import fetch_instance_limits

    accounts, problems = [], []
    for account in config.settings.accounts:
        if account.platform == "mastodon" and account.instance and not account.sandbox:
            try:
                found = fetch_instance_limits(account.instance, timeout=10)
            except PublishError as error:
                problems.append(Problem(config.label, f"accounts.{account.id}.instance",
                                        f"{error}; checking with the configured limits instead", severity="warning"))
            else:
                ours = {name: found[theirs] for name, theirs in _INSTANCE_LIMITS.items()}
                account = account.model_copy(update={"limits": {**ours, **account.limits}})
        accounts.append(account)
    settings = config.settings.model_copy(update={"accounts": accounts})
    return replace(config, settings=settings), problems


def checked_plan(path: Path, config: Config, now: datetime | None = None) -> tuple[Plan, list[Problem]]:
    """The plan and what each platform would say about it (errors and warnings)."""
    plan_ = plan(path, config, now)
    return plan_, check_plan(plan_, config)


def image_sizes(plan_: Plan, config: Config, progress: ProgressCallback | None = None) -> PreparedMedia:
    """Each image of the plan as each account will send it, for ``plan`` to show: what could not be
    prepared is in ``problems`` instead of raised, so the rest of the plan is still shown."""
    return _prepare(plan_, config, progress)


# --- images ----------------------------------------------------------------------------------------
def media_cache(config: Config):  # type: ignore[no-untyped-def]
    from .media import MediaCache
    return MediaCache(config.root / ".cache" / "media")


@dataclass(frozen=True)
class PreparedMedia:
    """The plan's images, made ready ahead of the storm."""

    images: dict[tuple[str, str], PreparedImage]  # (file, account id) -> the bytes that account sends
    problems: list[Problem]                      # one per image that cannot be sent: file, what to do
    variants: int                                # (file, image profile) pairs the plan needs

    def for_post(self, file: str, account_id: str) -> PreparedImage | None:
        return self.images.get((file, account_id))

    def problems_besides(self, found: list[Problem]) -> list[Problem]:
        """These problems, less those at a place (file and field) where an error was already found."""
        taken = {(p.file, p.field) for p in found if p.is_error}
        return [p for p in self.problems if (p.file, p.field) not in taken]


def prepare_media(plan_: Plan, config: Config, progress: ProgressCallback | None = None) -> int:
    """Make every image of the plan platform-ready ahead of the storm (cached), so the storm instant does
    no image work. Returns how many variants (file, image profile) the plan needs.

    :raises UserError: naming each image that cannot be sent (file, accounts, what to do); nothing else
        has been changed then.
    """
    prepared = _prepare(plan_, config, progress)
    if prepared.problems:
        raise UserError(prepared.problems)
    return prepared.variants


def _profiles(plan_: Plan, config: Config) -> dict[tuple[str, str], ImageProfile]:
    """(file, account id) -> the profile that account's images are made with."""
    profiles = {account: image_profile(config, account) for account in {p.account_id for p in plan_.posts}}
    return {(image.file, post.account_id): profiles[post.account_id] for post in plan_.posts for image in post.images}


def _prepare(plan_: Plan, config: Config, progress: ProgressCallback | None) -> PreparedMedia:
    """Prepare each (file, profile) once; an ImageProblem becomes a Problem instead of a traceback."""
    from .media import ImageProblem, resolve_asset

    wanted = _profiles(plan_, config)
    jobs: dict[tuple[str, str], list[str]] = {}  # (file, profile key) -> accounts
    by_key = {profile.key: profile for profile in wanted.values()}
    for (file, account), profile in sorted(wanted.items()):
        jobs.setdefault((file, profile.key), []).append(account)
    cache = media_cache(config)
    images: dict[tuple[str, str], PreparedImage] = {}
    problems: list[Problem] = []
    for done, ((file, key), accounts) in enumerate(sorted(jobs.items()), start=1):
        try:
            prepared = cache.get(resolve_asset(config.assets_dir, file), by_key[key])
        except ImageProblem as problem:
            problems.append(_image_problem(plan_, file, accounts, problem))
        else:
            images.update({(file, account): prepared for account in accounts})
        if progress:
            progress(done, len(jobs))
    return PreparedMedia(images, problems, len(jobs))


def _image_problem(plan_: Plan, file: str, accounts: list[str], problem: ImageProblem) -> Problem:
    """An image the pipeline refused, located at its first use in the campaign file, with who would send it."""
    users = [post for post in plan_.posts if post.account_id in accounts and any(i.file == file for i in post.images)]
    first = users[0]
    number = next(n for n, image in enumerate(first.images) if image.file == file)
    posts = ", ".join(sorted({repr(post.post_key) for post in users}))
    reporter = PlanReporter(plan_)
    reporter.add(first.post_key, f"images.{number}.file",
                 f"image {file!r} {problem.problem} (post {posts}, account {', '.join(accounts)}); "
                 f"{problem.advice[:1].lower()}{problem.advice[1:]}")
    return reporter.problems[0]


def image_loader(config: Config) -> ImageLoader:
    """Images of a post, from the media cache (prepared at queue time, so no image work at storm time),
    made with the same profile as ``plan`` showed and ``queue`` prepared (:func:`image_profile`)."""
    from .media import profile_for, resolve_asset

    cache = media_cache(config)
    memo: dict[tuple[str, str], PreparedImage] = {}
    lock = threading.Lock()

    def load(post: PostRow) -> tuple[Image, ...]:
        # An account removed from the config since `queue`: the publisher lookup says so right after.
        profile = image_profile(config, post.account_id) if post.account_id in config.accounts \
            else profile_for(post.platform)
        images = []
        for item in post.image_list:
            key = (item["file"], profile.key)
            with lock:
                prepared = memo.get(key)
            if prepared is None:
                prepared = cache.get(resolve_asset(config.assets_dir, item["file"]), profile)
                with lock:
                    memo[key] = prepared
            images.append(prepared.as_upload(item["alt"]))
        return tuple(images)

    return load


# --- queue -----------------------------------------------------------------------------------------
def open_store(config: Config, url: str | None = None) -> Store:
    return Store(url or config.database_url)


def queue(path: Path, config: Config, store: Store, now: datetime | None = None,
          progress: ProgressCallback | None = None) -> tuple[Plan, QueueReport]:
    """Validate, prepare images, then write the plan. A campaign with errors changes nothing.

    :raises UserError:
    """
    now = now or utcnow()
    plan_, problems = checked_plan(path, config, now)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise UserError(errors)
    queueable = [p for p in plan_.posts if p.deadline >= now]
    if not queueable:
        raise UserError([Problem(str(path), "storm.start",
                                 f"every post is due before now minus the lateness bound ({format_duration(plan_.max_lateness)}); "
                                 "nothing to queue. Change storm.start to a future time, or use `rehearse` "
                                 "to play the campaign now")])
    prepare_media(plan_, config, progress)
    return plan_, store.queue(plan_, now, source=str(path))


def resolve(post_id: str, store: Store, *, published: bool, url: str | None = None, resend: bool = False,
            lateness: timedelta = timedelta(minutes=15)) -> None:
    """Settle a needs-review post by hand, after a person looked at the account.

    :raises UserError: when the post is not awaiting review.
    """
    now = utcnow()
    if not store.resolve_review(post_id, published=published, url=url,
                                resend_until=now + lateness if resend else None, now=now):
        post = store.post(post_id)
        state = f"it is {post.state}" if post else "no such post"
        raise UserError(f"post {post_id!r} is not awaiting review ({state}); `python run.py log --state "
                        "needs-review` lists the ones that are")


def unqueue(campaign_id: str, store: Store) -> int:
    if not store.campaign_exists(campaign_id):
        raise UserError(f"no queued campaign {campaign_id!r}; `python run.py log` lists what is queued")
    return store.unqueue(campaign_id)


# --- run -------------------------------------------------------------------------------------------
def publisher_factory(config: Config, store: Store, *, dry_run: bool, sandbox: SandboxLink | None = None,
                      everyone_to_sandbox: bool = False, timeout: float = 10.0) -> Callable[[str], Publisher]:
    """How the daemon makes each account's publisher: dry-run, the sandbox (accounts with sandbox = true, or
    every account in a rehearsal), or the real platform."""
    from .platforms.dryrun import DryRunPublisher

    def make(account_id: str) -> Publisher:
        account = config.accounts.get(account_id)
        if account is None:
            raise UserError(f"account {account_id!r} is queued but no longer in {config.label}; add it back "
                            "or unqueue the campaign")
        if dry_run:
            return DryRunPublisher(store, account.id, account.platform, account.handle)
        module = platform_module(account.platform)
        if (account.sandbox or everyone_to_sandbox) and sandbox is not None:
            return module.create_publisher(sandbox.credentials(account.platform, account.id),
                                           handle=account.handle, base_url=sandbox.base_url(account.platform),
                                           timeout=timeout)
        return module.create_publisher(account.credential_values(), handle=account.handle,
                                       base_url=account.instance, timeout=timeout)

    return make


def dispatch_settings(config: Config) -> DispatchSettings:
    settings = config.settings.dispatch
    return DispatchSettings(workers=settings.workers, refresh=settings.refresh, heartbeat=settings.heartbeat,
                            stale_after=settings.stale_after)


def sandbox_link(config: Config) -> RemoteSandbox:
    """The sandbox for accounts with sandbox = true: the one named in [sandbox], else one started here."""
    return RemoteSandbox(config.settings.sandbox.urls)


def start_daemon(config: Config, store: Store, *, dry_run: bool | None = None, sandbox: SandboxLink | None = None,
                 everyone_to_sandbox: bool = False, on_event: Callable[[DispatchEvent], None] | None = None,
                 settings: DispatchSettings | None = None) -> Dispatcher:
    """Start publishing what is queued. Returns the running dispatcher; call ``stop()`` to end."""
    if dry_run is None:
        dry_run = config.settings.dispatch.mode == "dry-run"
    closers: list[Callable[[], None]] = []
    if sandbox is None and not dry_run and any(a.sandbox for a in config.settings.accounts):
        link = sandbox_link(config)
        closers.append(link.stop)
        sandbox = link
    pool = PublisherPool(publisher_factory(config, store, dry_run=dry_run, sandbox=sandbox,
                                           everyone_to_sandbox=everyone_to_sandbox,
                                           timeout=config.settings.dispatch.request_timeout.total_seconds()))
    dispatcher = Dispatcher(store, pool, image_loader(config), settings=settings or dispatch_settings(config),
                            on_event=on_event)
    dispatcher.closers.extend([pool.close, *closers])
    dispatcher.start()
    return dispatcher


# --- log -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogEntry:
    post: PostRow
    attempts: list

    def as_dict(self) -> dict:
        post = self.post
        return {
            "id": post.id, "campaign": post.campaign_id, "account": post.account_id, "platform": post.platform,
            "state": post.state, "due_at": _iso(post.planned_at), "sent_at": _iso(post.sent_at),
            "lateness_seconds": post.lateness.total_seconds() if post.lateness else None,
            "platform_id": post.platform_id, "url": post.url, "error": post.error, "text": post.text,
            "attempts": [{"started_at": _iso(a.started_at), "ended_at": _iso(a.ended_at), "outcome": a.outcome,
                          "detail": a.detail, "daemon": a.daemon_id} for a in self.attempts],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def read_log(store: Store, log_filter: LogFilter = LogFilter()) -> list[LogEntry]:
    rows = store.posts(log_filter)
    attempts = store.attempts_for(row.id for row in rows)
    return [LogEntry(row, attempts.get(row.id, [])) for row in rows]


# --- rehearse --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rehearsal:
    plan: Plan
    compressed: Plan
    entries: list[LogEntry]
    database: str
    finished: bool
    received: list = field(default_factory=list)  # what the sandbox accepted (empty in a dry run)

    @property
    def received_once(self) -> bool:
        """Every planned post reached the sandbox exactly once."""
        distinct = {(post.platform, post.account, post.text) for post in self.received}
        return len(self.received) == len(distinct) == len(self.compressed.posts)


def compress(plan_: Plan, start: datetime, duration: timedelta) -> Plan:
    """The same plan played from ``start``, with its whole span squeezed into ``duration`` (never stretched)."""
    first = plan_.first_due
    span = max((p.due_at - first for p in plan_.posts), default=timedelta(0))
    factor = min(1.0, duration / span) if span else 1.0
    lateness = max(timedelta(seconds=30), duration)
    posts = tuple(replace(p, due_at=start + (p.due_at - first) * factor,
                          deadline=start + (p.due_at - first) * factor + lateness) for p in plan_.posts)
    return replace(plan_, posts=posts, max_lateness=lateness, warnings=())


def rehearse(path: Path, config: Config, *, duration: timedelta = timedelta(seconds=10),
             on_event: Callable[[DispatchEvent], None] | None = None, dry_run: bool = False,
             keep_database: Path | None = None, progress: ProgressCallback | None = None) -> Rehearsal:
    """The whole campaign now, time compressed, in a throwaway database: every account posts to a sandbox
    started for the rehearsal, through the real client libraries (or, with ``dry_run``, nowhere at all)."""
    original = plan(path, config)
    prepare_media(original, config, progress)
    sandbox = None if dry_run else Sandbox().start()
    try:
        return _rehearse(path, config, original, duration, on_event, sandbox, keep_database)
    finally:
        if sandbox is not None:
            sandbox.stop()


def _rehearse(path: Path, config: Config, original: Plan, duration: timedelta,
              on_event: Callable[[DispatchEvent], None] | None, sandbox: Sandbox | None,
              keep_database: Path | None) -> Rehearsal:
    with _throwaway_database(keep_database) as url:
        store = Store(url)
        try:
            compressed = compress(original, utcnow() + timedelta(seconds=1), duration)
            store.queue(compressed, source=str(path))
            settings = replace(dispatch_settings(config), retry_base=timedelta(milliseconds=200),
                               retry_cap=timedelta(seconds=2))
            daemon = start_daemon(config, store, dry_run=sandbox is None, sandbox=sandbox, everyone_to_sandbox=True,
                                  on_event=on_event, settings=settings)
            wait = (compressed.posts[-1].deadline - utcnow()).total_seconds() + 5
            finished = daemon.wait_until_idle(timeout=wait)
            daemon.stop()
            entries = read_log(store)
        finally:
            store.close()
    return Rehearsal(original, compressed, entries, url, finished, sandbox.posts() if sandbox else [])


class _throwaway_database:
    def __init__(self, keep: Path | None) -> None:
        self.keep = keep
        self.tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> str:
        if self.keep:
            return f"sqlite:///{self.keep.resolve()}"
        self.tmp = tempfile.TemporaryDirectory(prefix="stormcaller-rehearsal-")
        return f"sqlite:///{self.tmp.name}/rehearsal.db"

    def __exit__(self, *exc: object) -> None:
        if self.tmp:
            self.tmp.cleanup()
