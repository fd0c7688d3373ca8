"""Command line: a thin layer over ``scheduler.service``. Parses options, calls the API, draws results."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from . import service
from .config import Config
from .dispatch import DispatchEvent
from .media import PreparedImage
from .planner import Plan
from .problems import Problem, UserError
from .store import STATES, LogFilter, PostRow, QueueReport, Store
from .timing import format_duration, parse_duration, utcnow, zone

console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def _open_consoles() -> None:
    """Made when a command runs, so they follow that run's terminal (rich fixes a COLUMNS it finds at
    creation: made at import, they would keep the width of whatever imported the module)."""
    global console, errors
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)

STATE_STYLE = {"sent": "green", "pending": "cyan", "sending": "yellow", "failed": "red", "missed": "red",
               "cancelled": "dim", "needs-review": "bold magenta"}


class Context:
    def __init__(self, config_path: Path, database: str | None) -> None:
        self.config_path = config_path
        self.database = database
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = service.load_config(self.config_path)
        return self._config

    def store(self) -> Store:
        return service.open_store(self.config, self.database)


def reports_user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """User mistakes become a list of problems and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            show_problems(error.problems)
            sys.exit(1)

    return wrapper


def show_problems(problems: list[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.is_error else "yellow"
        errors.print(f"[{style}]{problem.severity}[/]: {_escape(str(problem))}")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=Path("config.toml"),
              show_default=True, help="Settings and accounts.")
@click.option("--db", "database", metavar="URL", help="Database URL (overrides database.url in the config).")
@click.pass_context
def main(ctx: click.Context, config_path: Path, database: str | None) -> None:
    """Hashtag storm scheduler: define a campaign, check it, and publish it on time.

    \b
    First time? Rehearse the sample storm (nothing is posted anywhere):
      python run.py rehearse campaigns/free-palestinian-students.toml
    """
    _open_consoles()
    ctx.obj = Context(config_path, database)


# --- validate --------------------------------------------------------------------------------------
def _online_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--online", is_flag=True,
        help="Read each server's own limits before checking (Mastodon: GET /api/v2/instance; a Bluesky PDS: "
             "describeServer's blob limit).")(command)


def _apply_online(obj: Context, online: bool) -> list[Problem]:
    if not online:
        return []
    obj._config, problems = service.with_instance_limits(obj.config)
    return problems


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@_online_option
@click.pass_obj
@reports_user_errors
def validate(obj: Context, files: tuple[Path, ...], online: bool) -> None:
    """Check config.toml and campaign files; report every problem at once.

    \b
    With no FILES, checks every campaigns/*.toml. The files are also checked together and against the
    posts already queued in the database (nothing may go out twice). Exit status 1 if any error.
      python run.py validate campaigns/free-palestinian-students.toml
    """
    paths = list(files) or sorted((obj.config.root / "campaigns").glob("*.toml"))
    if not paths:
        raise UserError("no campaign files given and none found in campaigns/")
    problems = _apply_online(obj, online)
    campaigns, found = service.validate(paths, obj.config, obj.database or obj.config.database_url)
    problems += found
    show_problems(problems)
    error_count = sum(p.is_error for p in problems)
    for campaign in campaigns:
        if not any(p.is_error and p.file == str(campaign.path) for p in problems):
            console.print(f"[green]ok[/] {campaign.path}: {campaign.spec.name!r}, {len(campaign.spec.posts)} posts")
    if error_count:
        errors.print(f"[red]{error_count} error(s)[/] in {len(paths)} file(s)")
        sys.exit(1)


# --- plan ------------------------------------------------------------------------------------------
@main.command()
@click.argument("campaign", type=click.Path(path_type=Path))
@_online_option
@click.pass_obj
@reports_user_errors
def plan(obj: Context, campaign: Path, online: bool) -> None:
    """Show the storm time in every announced zone and every post that will go out.

    \b
      python run.py plan campaigns/free-palestinian-students.toml
    """
    instance_problems = _apply_online(obj, online)
    plan_, problems = service.checked_plan(campaign, obj.config)
    problems = instance_problems + problems
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("preparing images", total=None)
        media = service.image_sizes(plan_, obj.config,
                                    lambda done, total: progress.update(task, completed=done, total=total))
    show_plan(plan_, obj.config, media)
    problems = problems + media.problems_besides(problems)
    show_problems(problems)
    if any(p.is_error for p in problems):
        sys.exit(1)


def show_plan(plan_: Plan, config: Config, media: service.PreparedMedia) -> None:
    spec = plan_.campaign.spec
    console.print(f"[bold]{spec.name}[/]  {' '.join(spec.hashtags)}  ({plan_.campaign.path})")
    for occurrence in plan_.occurrences:
        console.print(f"Storm: [bold]{occurrence.announce}[/]")
    console.print(f"Lateness bound: {format_duration(plan_.max_lateness)} (a post not out by then is missed)")
    home = zone(spec.storm.timezone)
    table = Table(show_lines=False, expand=True)
    for column in ("#", "due (UTC)", f"due ({spec.storm.timezone})", "account", "platform", "text", "length",
                   "images (as sent)"):
        table.add_column(column, overflow="fold")
    for number, post in enumerate(plan_.posts, start=1):
        length = service.measure(post, config)
        shown = "\n".join(_image_cell(i.file, i.alt, media.for_post(i.file, post.account_id))
                          for i in post.images) or "-"
        reply = post.reply_to_id.split("/")[1] if post.reply_to_id else ""
        text = _escape(post.text) + (f"\n[dim]↳ reply to {reply}[/]" if reply else "")
        table.add_row(str(number), f"{post.due_at:%Y-%m-%d %H:%M:%S}",
                      f"{post.due_at.astimezone(home):%a %d %b %H:%M:%S}", post.account_id, post.platform,
                      text, str(length) if length.fits else f"[red]{length}[/]", shown)
    console.print(table)
    console.print(f"{len(plan_.posts)} posts from {len({p.account_id for p in plan_.posts})} accounts")
    for cost in service.costs(plan_, config):
        console.print(f"{service.display_name(cost.platform)} cost estimate: ${cost.total:.2f} for {cost.posts} posts "
                      f"({cost.with_url} with a URL; ${cost.per_post:g} per post, ${cost.per_post_with_url:g} with a "
                      f"URL: \\[limits.{cost.platform}] in config)")
    show_problems(list(plan_.warnings))


def _image_cell(file: str, alt: str, prepared: PreparedImage | None) -> str:
    if prepared is None:
        return f"{file} → [red]cannot be sent[/] (see below)"
    kind = prepared.mime_type.split("/")[-1].upper()
    return (f"{file} → {kind} {prepared.width}×{prepared.height}, {len(prepared.data) / 1000:.0f} kB "
            f"(alt {len(alt)} chars)")


# --- queue / unqueue -------------------------------------------------------------------------------
@main.command()
@click.argument("campaign", type=click.Path(path_type=Path))
@click.pass_obj
@reports_user_errors
def queue(obj: Context, campaign: Path) -> None:
    """Write the campaign's plan to the database (again after edits: pending posts are updated in place).

    \b
    Posts already sent are never changed; posts removed from the file are cancelled. A post that another
    queued campaign already has (same account, text and time) is refused: for a renamed or copied file,
    set continues = "OLD-CAMPAIGN-ID" in it to take that campaign's queued posts over.
      python run.py queue campaigns/free-palestinian-students.toml
    """
    with obj.store() as store, Progress(console=console, transient=True) as progress:
        task = progress.add_task("preparing images", total=None)
        plan_, report = service.queue(campaign, obj.config, store,
                                      progress=lambda done, total: progress.update(task, completed=done, total=total))
    show_problems(list(plan_.warnings))
    show_queue_report(report, plan_.campaign.spec.continues)


def show_queue_report(report: QueueReport, continues: str | None = None) -> None:
    console.print(f"queued [bold]{report.campaign_id}[/]: {len(report.added)} added, {len(report.updated)} "
                  f"updated, {len(report.unchanged)} unchanged, {len(report.cancelled)} cancelled "
                  f"(removed from the file)")
    if continues:
        console.print(f"continues {continues}: took over its {len(report.taken_over)} pending post(s) (cancelled "
                      "there; this file's posts are queued here, once)")
    if report.kept:
        console.print(f"{len(report.kept)} post(s) left as they are ("
                      f"{', '.join(sorted({state for _, state in report.kept}))})")
    if report.skipped_past:
        console.print(f"[yellow]{len(report.skipped_past)} post(s) not queued: already past the lateness bound[/]")
    if report.to_review:
        console.print(f"[yellow]{len(report.to_review)} post(s) removed from the file may already be published "
                      f"(their last attempt's outcome was unknown): now needs-review; check the account, then "
                      f"`python run.py resolve POST_ID`[/]")


@main.command()
@click.argument("campaign_id")
@click.pass_obj
@reports_user_errors
def unqueue(obj: Context, campaign_id: str) -> None:
    """Cancel every pending post of a queued campaign (by its id, as `log` shows it)."""
    with obj.store() as store:
        count, to_review = service.unqueue(campaign_id, store)
    console.print(f"cancelled {count} pending post(s) of {campaign_id}")
    for post_id in to_review:
        console.print(f"[yellow]{post_id}: its last attempt's outcome was unknown, so it may be published: now "
                      f"needs-review; check the account, then `python run.py resolve {post_id}`[/]")


@main.command()
@click.argument("post_id")
@click.option("--published", "url", metavar="[URL]", is_flag=False, flag_value="", default=None,
              help="It did go out (give its link if you have it).")
@click.option("--not-published", is_flag=True, help="It did not go out: mark it failed.")
@click.option("--resend", is_flag=True, help="With --not-published: send it again now (the daemon picks it up).")
@click.pass_obj
@reports_user_errors
def resolve(obj: Context, post_id: str, url: str | None, not_published: bool, resend: bool) -> None:
    """Settle a post that needs review, after looking at the account yourself.

    \b
      python run.py log --state needs-review
      python run.py resolve "storm/call/network-x" --published https://x.com/network/status/123
      python run.py resolve "storm/call/network-x" --not-published --resend
    """
    if (url is None) == (not not_published):
        raise UserError("say what you found: --published [URL] or --not-published")
    if resend and not not_published:
        raise UserError("--resend goes with --not-published")
    with obj.store() as store:
        service.resolve(post_id, store, published=url is not None, url=url or None, resend=resend,
                        lateness=obj.config.settings.defaults.max_lateness)
    console.print(f"{post_id}: " + ("marked sent" if url is not None else
                                    "sending again now" if resend else "marked failed"))


# --- run -------------------------------------------------------------------------------------------
@main.command()
@click.option("--dry-run/--live", default=None,
              help="Record what would be sent instead of posting (default: dispatch.mode in config).")
@click.pass_obj
@reports_user_errors
def run(obj: Context, dry_run: bool | None) -> None:
    """The daemon: publish queued posts at their due times until stopped (Ctrl-C or SIGTERM).

    \b
    What was queued before a restart still goes out; what went out never goes again.
      python run.py run
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with obj.store() as store:
        daemon = service.start_daemon(obj.config, store, dry_run=dry_run, on_event=show_event)
        status = service.outbox_status(store)
        mode = "dry run" if service.is_dry_run(obj.config, dry_run) else "live"
        console.print(f"daemon {daemon.daemon_id} running ({mode}); {status.counts.get('pending', 0)} pending"
                      + (f", next due {status.next_due:%Y-%m-%d %H:%M:%S} UTC" if status.next_due else "")
                      + "; Ctrl-C to stop")
        show_review_banner(status.needs_review)
        stop.wait()
        console.print("stopping: waiting for posts in flight ...")
        left = daemon.stop(obj.config.settings.dispatch.shutdown_grace)
        console.print("stopped"
                      + (f"; {left} post(s) were still in flight and will be settled on restart" if left else ""))


def show_event(event: DispatchEvent) -> None:
    post = event.post
    style = {"sent": "green", "retry": "yellow", "waiting": "dim", "rate-limited": "yellow"}.get(event.kind, "red")
    lateness = f" (+{format_duration(event.lateness)})" if event.kind == "sent" else ""
    console.print(f"{event.at:%H:%M:%S.%f}"[:-3] + f" [{style}]{event.kind:<8}[/] {post.post_key:<16} "
                  f"{post.account_id:<18} {post.platform:<9}{lateness} {_escape(event.detail)}")


# --- log -------------------------------------------------------------------------------------------
@main.command("log")
@click.option("--campaign", help="Only this campaign id.")
@click.option("--account", help="Only this account id.")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES), help="Only these states (repeatable).")
@click.option("--since", help="Only posts due since a date (2027-04-17) or a duration ago (2h, 3d).")
@click.option("--attempts", "show_attempts", is_flag=True, help="List every attempt under its post.")
@click.option("--json", "as_json", is_flag=True, help="Export as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Export as CSV.")
@click.pass_obj
@reports_user_errors
def log_command(obj: Context, campaign: str | None, account: str | None, states: tuple[str, ...],
                since: str | None, show_attempts: bool, as_json: bool, as_csv: bool) -> None:
    """Every post and attempt: due, sent, lateness, state, link or the reason it failed.

    \b
      python run.py log --state failed --state missed
      python run.py log --campaign free-palestinian-students --csv > storm.csv
    """
    with obj.store() as store:
        entries = service.read_log(store, LogFilter(campaign, account, states, _since(since)))
    if as_json:
        click.echo(service.log_json(entries))
    elif as_csv:
        click.echo(service.log_csv(entries), nl=False)
    else:
        show_log(entries, show_attempts)


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:  # a date or time without an offset is taken as UTC, like every time the log shows
        return moment if moment.tzinfo else moment.replace(tzinfo=zone("UTC"))
    try:
        return utcnow() - parse_duration(value)
    except ValueError:
        raise UserError(f"--since {value!r}: give a date like 2027-04-17 or a duration like 2h or 3d") from None


def show_log(entries: list[service.LogEntry], show_attempts: bool) -> None:
    if not entries:
        console.print("nothing logged yet (queue a campaign, then run the daemon)")
        return
    table = Table(expand=True)
    for column in ("due (UTC)", "sent", "late", "campaign", "post", "account", "platform", "state",
                   "link / reason"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        post = entry.post
        state = f"[{STATE_STYLE.get(post.state, '')}]{post.state}[/]"
        table.add_row(f"{post.planned_at:%Y-%m-%d %H:%M:%S}", f"{post.sent_at:%H:%M:%S}" if post.sent_at else "-",
                      format_duration(post.lateness) if post.lateness is not None else "-", post.campaign_id,
                      post.post_key, post.account_id, post.platform, state, _escape(post.url or post.error or ""))
        if show_attempts:
            for attempt in entry.attempts:
                table.add_row("", f"[dim]{attempt.started_at:%H:%M:%S}[/]", "", "", "", "", "",
                              f"[dim]{attempt.outcome or 'in flight'}[/]", f"[dim]{_escape(attempt.detail or '')}[/]")
    console.print(table)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.post.state] = counts.get(entry.post.state, 0) + 1
    console.print(", ".join(f"{count} {state}" for state, count in sorted(counts.items())))
    show_review_banner([entry.post for entry in entries if entry.post.state == "needs-review"])


def show_review_banner(posts: list[PostRow]) -> None:
    """Posts nobody can settle automatically: each with what a person should check."""
    if not posts:
        return
    console.print(f"[bold magenta]{len(posts)} post(s) need a person's review[/]: they may or may not have gone "
                  "out; check each account, then "
                  "`python run.py resolve POST_ID --published [URL] | --not-published [--resend]`")
    for post in posts:
        console.print(f"  [magenta]{post.id}[/] ({post.platform}): {_escape(post.error or '')}")


# --- rehearse --------------------------------------------------------------------------------------
@main.command()
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("--seconds", default=10.0, show_default=True, help="Play the whole storm in this many seconds.")
@click.option("--dry-run", is_flag=True, help="Record what would be sent instead of using the local sandbox.")
@click.pass_obj
@reports_user_errors
def rehearse(obj: Context, campaign: Path, seconds: float, dry_run: bool) -> None:
    """Play the whole campaign now, time compressed, in a throwaway database; nothing is really posted.

    \b
    Every account posts to a sandbox started for the rehearsal: local servers that speak the X, Mastodon
    and Bluesky APIs, reached through the same client libraries as a real storm. Run this first:
      python run.py rehearse campaigns/free-palestinian-students.toml
    """
    where = "nowhere (dry run)" if dry_run else "a local sandbox of X, Mastodon and Bluesky"
    console.print(f"rehearsing {campaign} in {seconds:g} s: throwaway database, posting to {where}")
    result = service.rehearse(campaign, obj.config, duration=timedelta(seconds=seconds), on_event=show_event,
                              dry_run=dry_run)
    for occurrence in result.plan.occurrences[:1]:
        console.print(f"the real storm: [bold]{occurrence.announce}[/]")
    show_log(result.entries, show_attempts=False)
    if not dry_run:
        verdict = "[green]each exactly once[/]" if result.received_once else "[red]NOT each exactly once[/]"
        console.print(f"the sandbox received {len(result.received)} posts for {len(result.compressed.posts)} "
                      f"planned: {verdict} (links are the sandbox's; nothing exists on the real platforms)")
    if not result.finished or (not dry_run and not result.received_once):
        errors.print("[red]the rehearsal did not finish as planned[/]: see the log above")
        sys.exit(1)


# --- sandbox ---------------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", "ports", type=(click.Choice(service.platform_names()), int), multiple=True,
              help="A platform's port, e.g. --port x 8401 (default: the ports in [sandbox], else any free one).")
@click.option("--latency", type=float, default=0.0, help="Seconds before each answer.")
@click.option("--error-rate", type=float, default=0.0, help="Share of writes answered 503.")
@click.option("--rate-limit-rate", type=float, default=0.0, help="Share of writes answered 429.")
@click.option("--timeout-rate", type=float, default=0.0, help="Share of writes accepted, then never answered.")
@click.option("--drop-rate", type=float, default=0.0, help="Share of writes accepted, then the connection dropped.")
@click.option("--quiet", is_flag=True, help="Do not print each accepted post (for load tests).")
@click.option("--flavor", "flavors", type=(click.Choice(service.platform_names()), str), multiple=True,
              help="Which server a platform's sandbox behaves like: --flavor mastodon takahe (ignores "
                   "Idempotency-Key, HTML errors, no rate-limit headers, synchronous media).")
@click.pass_obj
@reports_user_errors
def sandbox(obj: Context, host: str, ports: tuple[tuple[str, int], ...], latency: float, error_rate: float,
            rate_limit_rate: float, timeout_rate: float, drop_rate: float, quiet: bool,
            flavors: tuple[tuple[str, str], ...]) -> None:
    """Run local servers that speak the X, Mastodon and Bluesky APIs, for a private dress rehearsal.

    \b
    Point the daemon at them in config.toml, and set sandbox = true on the accounts to rehearse:
      [sandbox]
      x = "http://127.0.0.1:8401"
      mastodon = "http://127.0.0.1:8402"
      bluesky = "http://127.0.0.1:8403"
    Each post the sandbox accepts is printed; GET <url>/_sandbox/posts lists them.
    """
    wanted = {**obj.config.sandbox_ports, **dict(ports)}
    faults = service.sandbox_faults(latency=latency, error_rate=error_rate, rate_limit_rate=rate_limit_rate,
                                    accept_then_timeout_rate=timeout_rate, accept_then_drop_rate=drop_rate)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    running = service.start_sandbox(faults, host=host, ports=wanted, flavors=dict(flavors))
    if not quiet:
        running.on_post(lambda post: console.print(
            f"{post.platform:<9} {post.account:<20} {len(post.media)} image(s)  {_escape(post.text[:80])}"))
    console.print("sandbox running; Ctrl-C to stop")
    for name in running.platforms:
        console.print(f'  {name} = "{running.base_url(name)}"')
    stop.wait()
    running.stop()
    console.print(f"stopped; it had accepted {len(running.posts())} post(s)")
