"""Command line: a thin layer over ``scheduler.service``. Parses options, calls the API, draws results."""

from __future__ import annotations

import faulthandler
import functools
import json
import signal
import sys
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click
from rich.console import Console
from rich.text import Text

from . import service
from .config import Config
from .layout import block_width, is_narrow, join_parts, table_fits, width, wrap_text
from .problems import Problem, UserError
from .store import STATES, LogFilter, PostRow, QueueReport, Store
from .timing import format_duration, utcnow, zone

if TYPE_CHECKING:  # what only some commands need is imported by them: `run` idles without it (issue 16)
    from rich.table import Table

    from .dispatch import DispatchEvent
    from .media import PreparedImage
    from .planner import Occurrence, Plan, PlannedPost
    from .service.rehearsal import Delivery, StormRehearsal
    from .store.events import EventRow

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

    def store(self, *, writable: bool = True) -> Store:
        """The database every command but ``validate`` opens (one place: its warnings are shown here)."""
        show_problems(service.database_problems(self.config, self.database))
        return service.open_store(self.config, self.database, writable=writable)


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
        say(f"[{style}]{problem.severity}[/]: {_escape(str(problem))}", to=errors, laid_out_only=True)


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


#: The commands drawn for the terminal they run in: below ``layout.WIDE_FROM`` columns, one block per post
#: and every line (their problems too) wrapped to the width. Other commands print their lines whole.
LAID_OUT = ("plan", "log", "rehearse", "run", "import")


def _laid_out() -> bool:
    context = click.get_current_context(silent=True)
    return context is not None and context.info_name in LAID_OUT


def say(markup: str, *, to: Console | None = None, indent: str = "  ", laid_out_only: bool = False) -> None:
    """One line of rich markup: whole on a wide terminal, wrapped between words on a narrow one (a date or
    time is never split; lines after the first start with ``indent``). ``laid_out_only``: wrapped only in the
    commands of ``LAID_OUT``."""
    target = to or console
    if not is_narrow(target) or (laid_out_only and not _laid_out()):
        target.print(markup)
        return
    text = Text.from_markup(markup)
    lead = text.plain[:len(text.plain) - len(text.plain.lstrip(" "))]
    for line in wrap_text(text, target.width, indent, first_indent=lead):
        target.print(line)


def show_address(url: str) -> None:
    """An address on a line of its own, never wrapped or folded (a terminal copies it whole)."""
    console.print(url, soft_wrap=True, markup=False, highlight=False)


def _print_lines(lines: list[Text]) -> None:
    for line in lines:
        console.print(line)


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
    With no FILES, checks every campaigns/*.toml. The files are also checked
    together and against the posts already queued in the database (nothing
    may go out twice). With --online, each account the campaigns use is also
    logged in to, as `accounts check` does, and each hashtag's use in the last
    week is read (storm craft's freshness). Exit status 1 if any error.
      python run.py validate campaigns/free-palestinian-students.toml
    """
    paths = list(files) or sorted((obj.config.root / "campaigns").glob("*.toml"))
    if not paths:
        raise UserError("no campaign files given and none found in campaigns/")
    problems = _apply_online(obj, online)
    campaigns, found = service.validate(paths, obj.config, obj.database or obj.config.database_url)
    problems += found
    freshness: list[service.Freshness] = []
    if online:  # log in to every account the campaigns use, as `accounts check` does
        problems += _online_account_problems(obj, campaigns)
        freshness = _freshness(obj, campaigns)
        problems += service.freshness_problems(freshness, obj.config)
    show_problems(problems)
    for each in freshness:
        say(f"storm craft, freshness: {_escape(each.words)}")
    show_destinations(obj.config)
    error_count = sum(p.is_error for p in problems)
    checked = {str(path) for path in paths}
    elsewhere = sorted({p.file or "(no file)" for p in problems if p.is_error and p.file not in checked})
    for campaign in campaigns:
        if any(p.is_error and p.file == str(campaign.path) for p in problems):
            continue
        summary = f"{campaign.path}: {campaign.spec.name!r}, {len(campaign.spec.posts)} posts"
        if elsewhere:  # the file is fine, but it cannot go out as things are
            console.print(f"[yellow]no errors in the file itself[/]: {summary} (see the errors in "
                          f"{', '.join(elsewhere)} above)")
        else:
            console.print(f"[green]ok[/] {summary}")
    if error_count:
        in_files = sum(p.is_error and p.file in checked for p in problems)
        errors.print(f"[red]{error_count} error(s)[/] " + (
            f"({error_count - in_files} in {', '.join(elsewhere)}, {in_files} in {len(paths)} campaign file(s))"
            if elsewhere else f"in {len(paths)} file(s)"))
        sys.exit(1)


def _online_account_problems(obj: Context, campaigns: list[Any]) -> list[Problem]:
    used = sorted({account for campaign in campaigns for post in campaign.spec.posts for account in post.accounts
                   if account in obj.config.accounts})
    if not used:
        return []
    with obj.store() as store:
        reports = service.check_configured_accounts(obj.config, store, used)
    return service.account_problems(reports, obj.config, skip_missing=True)


def _freshness(obj: Context, campaigns: list[Any]) -> list[service.Freshness]:
    if not campaigns:
        return []
    with obj.store() as store:
        return service.hashtag_freshness(campaigns, obj.config, store)


def show_destinations(config: Config) -> None:
    """Per account, the host its credentials are sent to (so a wrong one is seen before the storm)."""
    destinations = service.credential_destinations(config)
    if not destinations:
        return
    live = config.settings.dispatch.mode == "live"
    say("Credentials are sent to:" if live else 'Credentials would be sent to (in mode = "live"; a dry run sends '
        'nothing):')
    for each in destinations:
        where = " (sandbox, this machine)" if each.sandbox and "://" in each.host else ""
        console.print(f"  {_escape(each.account_id)} ({each.platform}): {_escape(each.host)}{where}",
                      highlight=False)


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
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("preparing images", total=None)
        media = service.image_sizes(plan_, obj.config,
                                    lambda done, total: progress.update(task, completed=done, total=total))
    show_plan(plan_, obj.config, media)
    problems = problems + media.problems_besides(problems)
    show_craft(plan_, obj.config, [problem for problem in problems if problem.rule])
    show_problems([problem for problem in problems if not problem.rule])
    if any(p.is_error for p in problems):
        sys.exit(1)


def show_plan(plan_: Plan, config: Config, media: service.PreparedMedia) -> None:
    spec = plan_.campaign.spec
    say(f"[bold]{_escape(spec.name)}[/]  {' '.join(spec.hashtags)}  ({plan_.campaign.path})")
    for occurrence in plan_.occurrences:  # one line whatever the width: organizers copy it into their call
        console.print(f"Storm: [bold]{occurrence.announce}[/]")
    say(f"Lateness bound: {format_duration(plan_.max_lateness)} (a post not out by then is missed)")
    show_invitation(plan_)
    table = _plan_table(plan_, config, media)
    if table is None:
        for post in plan_.posts:
            _print_lines(_plan_block(post, spec.storm.timezone, config, media))
    else:
        console.print(table)
    say(f"{len(plan_.posts)} posts from {len({p.account_id for p in plan_.posts})} accounts")
    for cost in service.costs(plan_, config):
        say(f"{service.display_name(cost.platform)} cost estimate: ${cost.total:.2f} for {cost.posts} posts "
            f"({cost.with_url} with a URL; ${cost.per_post:g} per post, ${cost.per_post_with_url:g} with a "
            f"URL: \\[limits.{cost.platform}] in config)")
    show_problems(list(plan_.warnings))


def show_craft(plan_: Plan, config: Config, problems: list[Problem]) -> None:
    """The "storm craft" section: the storm's hour in each zone and how dense it is, then all green or each
    finding with its reason (the rules of ``scheduler/craft.py``); as wide as a post's block at most."""
    say("[bold]Storm craft[/]")
    lines = [Text(note) for note in service.craft_notes(plan_, config.settings.craft)]
    if not problems:
        lines.append(Text.from_markup("[green]all green[/]: no storm craft warning"))
    for problem in problems:
        style = "red" if problem.is_error else "yellow"
        lines.append(Text.from_markup(f"[{style}]{problem.severity}[/]: {_escape(str(problem))}"))
    for line in lines:
        _print_lines(wrap_text(line, block_width(console), indent="    ", first_indent="  "))


def show_invitation(plan_: Plan) -> None:
    """What the people who join read: the description, the link, the call in each language (for the first
    storm), and who endorses the campaign; nothing where the campaign gives none of it."""
    spec = plan_.campaign.spec
    if spec.description:
        about = " ".join(spec.description.split())
        say(f"About: {_escape(about if len(about) <= 200 else about[:199].rstrip() + '…')}")
    if spec.link:
        say(f"More: {_escape(spec.link)}")
    for code, call in plan_.occurrences[0].calls if plan_.occurrences else ():
        say(f"Call ({code}): {_escape(call)}")
    if spec.endorsers:
        few = ", ".join(spec.endorsers[:3]) + (", ..." if len(spec.endorsers) > 3 else "")
        say(f"Endorsed by {len(spec.endorsers)} organization{'s' if len(spec.endorsers) != 1 else ''}: "
            f"{_escape(few)}")


def _post_cell(post: PlannedPost) -> str:
    """The post's key, and which of its wordings this account got where it has variants."""
    if post.wording is None:
        return post.post_key
    return f"{post.post_key} ({_wording(post.wording)})"


def _wording(number: int) -> str:
    return "text" if number == 0 else f"variant {number}"


def _plan_table(plan_: Plan, config: Config, media: service.PreparedMedia) -> Table | None:
    """Every post as a row, or None when the terminal is too narrow for the table (then one block per post)."""
    spec = plan_.campaign.spec
    home = zone(spec.storm.timezone)
    lengths = [service.measure(post, config) for post in plan_.posts]
    fixed = {"post": [p.post_key for p in plan_.posts], "due (UTC)": ["2021-03-11 18:00:00"],
             f"due ({spec.storm.timezone})": ["Thu 11 Mar 10:00:00"], "account": [p.account_id for p in plan_.posts],
             "platform": [p.platform for p in plan_.posts], "length": [str(length) for length in lengths]}
    if not table_fits(console, [max(map(width, [name, *cells])) for name, cells in fixed.items()], (40, 30)):
        return None
    from rich.table import Table

    table = Table(show_lines=False, expand=True)
    for column in ("post", "due (UTC)", f"due ({spec.storm.timezone})", "account", "platform", "text", "length",
                   "images (as sent)"):
        table.add_column(column, overflow="fold", no_wrap=column in fixed)
    for post, length in zip(plan_.posts, lengths, strict=True):
        shown = "\n".join(_image_cell(i.file, i.alt, media.for_post(i.file, post.account_id))
                          for i in post.images) or "-"
        reply = _reply_key(post)
        text = _escape(post.text) + (f"\n[dim]↳ reply to {reply}[/]" if reply else "")
        if post.wording is not None:
            text += f"\n[dim]wording: {_wording(post.wording)}[/]"
        table.add_row(_escape(post.post_key), f"{post.due_at:%Y-%m-%d %H:%M:%S}",
                      f"{post.due_at.astimezone(home):%a %d %b %H:%M:%S}", post.account_id, post.platform,
                      text, str(length) if length.fits else f"[red]{length}[/]", shown)
    return table


def _plan_block(post: PlannedPost, home_zone: str, config: Config, media: service.PreparedMedia) -> list[Text]:
    """One post on a narrow terminal: when (UTC, then the campaign's zone), which post, who posts it where,
    its length as the platform counts, the text, what it replies to, its images as sent; then a blank line."""
    columns = block_width(console)
    length = service.measure(post, config)
    lines = join_parts([Text(f"{post.due_at:%Y-%m-%d %H:%M:%S} UTC", style="bold"), f"post {_post_cell(post)}",
                        f"{post.account_id} ({post.platform})"], columns)
    lines += join_parts([f"{post.due_at.astimezone(zone(home_zone)):%a %d %b %H:%M:%S} {home_zone}",
                         Text(str(length), style="" if length.fits else "red")], columns, separator="  ·  ",
                        indent="  ", first_indent="  ")
    lines += wrap_text(post.text, columns, indent="  ")
    reply = _reply_key(post)
    if reply:
        lines += wrap_text(f"↳ reply to {reply}", columns, indent="    ", first_indent="  ", style="dim")
    for image in post.images:
        cell = _image_cell(image.file, image.alt, media.for_post(image.file, post.account_id))
        lines += wrap_text(Text.from_markup(f"image: {cell}"), columns, indent="    ", first_indent="  ")
    return [*lines, Text()]


def _reply_key(post: PlannedPost) -> str:
    return post.reply_to_id.split("/")[1] if post.reply_to_id else ""


def _image_cell(file: str, alt: str, prepared: PreparedImage | None) -> str:
    shown = _escape(repr(file) if file != file.strip() else file)  # quoted when a space at an end would hide
    if prepared is None:
        return f"{shown} → [red]cannot be sent[/] (see below)"
    kind = prepared.mime_type.split("/")[-1].upper()
    return (f"{shown} → {kind} {prepared.width}×{prepared.height}, {len(prepared.data) / 1000:.0f} kB "
            f"(alt {len(alt)} chars)")


# --- queue / unqueue -------------------------------------------------------------------------------
@main.command()
@click.argument("campaign", type=click.Path(path_type=Path))
@click.pass_obj
@reports_user_errors
def queue(obj: Context, campaign: Path) -> None:
    """Write the campaign's plan to the database (again after edits: pending posts are updated in place).

    \b
    Posts already sent are never changed; posts removed from the file are
    cancelled. A post that another queued campaign already has (same account,
    text and time) is refused: for a renamed or copied file, set
    continues = "OLD-CAMPAIGN-ID" in it to take that campaign's posts over.
      python run.py queue campaigns/free-palestinian-students.toml
    """
    from rich.progress import Progress

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
    """Cancel every pending post of a queued campaign (by its id, as `log` shows it).

    \b
      python run.py unqueue free-palestinian-students
    """
    with obj.store() as store:
        try:
            count, to_review = service.unqueue(campaign_id, store)
        except UserError:
            if not _looks_like_a_file(campaign_id):
                raise
            raise UserError(_unqueue_file_hint(campaign_id, store)) from None
    console.print(f"cancelled {count} pending post(s) of {campaign_id}")
    for post_id in to_review:
        console.print(f"[yellow]{post_id}: its last attempt's outcome was unknown, so it may be published: now "
                      f"needs-review; check the account, then `python run.py resolve {post_id}`[/]")


def _looks_like_a_file(argument: str) -> bool:
    return argument.endswith(".toml") or "/" in argument or "\\" in argument or Path(argument).is_file()


def _unqueue_file_hint(argument: str, store: Store) -> str:
    """`unqueue` was given a campaign file: say which campaign id it has, and whether that one is queued."""
    from .service.log import campaign_id_of

    path = Path(argument)
    found = campaign_id_of(path)
    if found is None:
        return (f"{argument} looks like a file, but unqueue takes a campaign's id, as `python run.py log` shows "
                "it (the campaign file's `id`, else its name without .toml)")
    queued = store.campaign_exists(found)
    return (f"{argument} is a campaign file; unqueue takes the campaign's id, and that file's is {found!r}"
            + (f": `python run.py unqueue {found}`" if queued else
               ", which is not queued (`python run.py log` lists what is)"))


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
      python run.py resolve storm/call/network-x \\
        --published https://x.com/network/status/123
      python run.py resolve storm/call/network-x --not-published --resend
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
    What was queued before a restart still goes out; what went out never
    goes again.
      python run.py run
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # A death the process cannot turn into a message (SIGBUS: the database's -shm file truncated under it, or
    # its file system gone read-only by an error) at least says where it happened: the faulting thread only,
    # since another thread touching the same mapping faults too, and kills the process mid-dump (a dump of
    # every thread, a pool of them, was cut before it reached ours).
    try:
        faulthandler.enable(all_threads=False)
    except (OSError, ValueError, AttributeError):  # no real stderr (run inside a test runner): nothing to write to
        pass
    with obj.store() as store:
        daemon = service.start_daemon(obj.config, store, dry_run=dry_run, on_event=show_event)
        status = service.outbox_status(store)
        mode = "dry run" if service.is_dry_run(obj.config, dry_run) else "live"
        console.print(f"daemon {daemon.daemon_id} running ({mode}); {status.counts.get('pending', 0)} pending"
                      + (f", next due {status.next_due:%Y-%m-%d %H:%M:%S} UTC" if status.next_due else "")
                      + "; Ctrl-C to stop")
        say(_escape(service.alerting(obj.config)))
        show_review_banner(status.needs_review)
        while not stop.wait(0.5) and not daemon.gave_up.is_set():
            pass
        console.print("stopping: waiting for posts in flight ...")
        left = daemon.stop(obj.config.settings.dispatch.shutdown_grace)
        console.print("stopped"
                      + (f"; {left} post(s) were still in flight and will be settled on restart" if left else ""))
        if daemon.fatal:
            raise UserError(daemon.fatal)


def show_event(event: DispatchEvent) -> None:
    post = event.post
    style = {"sent": "green", "retry": "yellow", "waiting": "dim", "rate-limited": "yellow"}.get(event.kind, "red")
    lateness = f" (+{format_duration(event.lateness)})" if event.kind == "sent" else ""
    at = f"{event.at:%H:%M:%S.%f}"[:-3]
    if not is_narrow(console):
        console.print(at + f" [{style}]{event.kind:<8}[/] {_escape(post.post_key):<16} "
                      f"{post.account_id:<18} {post.platform:<9}{lateness} {_escape(event.detail)}")
        return
    _print_lines(join_parts([at, Text(f"{event.kind:<8}", style=style), f"{post.post_key:<16}",
                             f"{post.account_id:<18}", f"{post.platform:<9}{lateness}"], console.width,
                            separator=" "))
    if event.detail:
        _print_lines(wrap_text(event.detail, console.width, indent="    ", first_indent="    "))


# --- log -------------------------------------------------------------------------------------------
@main.command("log")
@click.option("--campaign", help="Only this campaign id.")
@click.option("--account", help="Only this account id.")
@click.option("--state", "states", multiple=True, type=click.Choice(STATES), help="Only these states (repeatable).")
@click.option("--since", help="Only posts due since a date (2027-04-17) or a duration ago (2h, 3d).")
@click.option("--attempts", "show_attempts", is_flag=True, help="List every attempt under its post.")
@click.option("--json", "as_json", is_flag=True, help="Export as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Export as CSV.")
@click.option("--events", "show_events", is_flag=True,
              help="The daemon's events instead of posts: preflight checks, alerts, storm summaries.")
@click.pass_obj
@reports_user_errors
def log_command(obj: Context, campaign: str | None, account: str | None, states: tuple[str, ...],
                since: str | None, show_attempts: bool, as_json: bool, as_csv: bool, show_events: bool) -> None:
    """Every post and attempt: due, sent, lateness, state, link or the reason it failed.

    \b
      python run.py log --state failed --state missed
      python run.py log --campaign free-palestinian-students --csv > storm.csv
      python run.py log --events --since 1d
    """
    if show_events:
        if as_csv or show_attempts or states:
            raise UserError("--events lists the daemon's events (filters --campaign, --account, --since; --json); "
                            "--csv, --attempts and --state are for posts: drop them or drop --events")
        with obj.store(writable=False) as store:
            rows = service.events(store, LogFilter(campaign, account, (), _since(since)))
        return click.echo(service.events_json(rows)) if as_json else show_events_list(rows)
    with obj.store(writable=False) as store:
        entries = service.read_log(store, LogFilter(campaign, account, states, _since(since)))
    if as_json:
        click.echo(service.log_json(entries))
    elif as_csv:
        click.echo(service.log_csv(entries), nl=False)
    else:
        show_log(entries, show_attempts)


def _since(value: str | None) -> datetime | None:
    return service.parse_since(value, utcnow())


def show_log(entries: list[service.LogEntry], show_attempts: bool) -> None:
    if not entries:
        say("nothing logged yet (queue a campaign, then run the daemon)")
        return
    table = _log_table(entries, show_attempts)
    if table is None:
        for entry in entries:
            _print_lines(_log_block(entry, show_attempts))
    else:
        console.print(table)
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.post.state] = counts.get(entry.post.state, 0) + 1
    say(", ".join(f"{count} {state}" for state, count in sorted(counts.items())))
    show_review_banner([entry.post for entry in entries if entry.post.state == "needs-review"])


def _log_table(entries: list[service.LogEntry], show_attempts: bool) -> Table | None:
    """Every post as a row, or None when the terminal is too narrow for the table (then one block per post)."""
    posts = [entry.post for entry in entries]
    fixed = {"due (UTC)": ["2021-03-11 18:00:00"], "sent": ["18:00:00"],
             "late": [format_duration(p.lateness) for p in posts if p.lateness is not None],
             "campaign": [p.campaign_id for p in posts], "post": [p.post_key for p in posts],
             "account": [p.account_id for p in posts], "platform": [p.platform for p in posts],
             "state": [p.state for p in posts]}
    if not table_fits(console, [max(map(width, [name, *cells])) for name, cells in fixed.items()], (30,)):
        return None
    from rich.table import Table

    table = Table(expand=True)
    for column in ("due (UTC)", "sent", "late", "campaign", "post", "account", "platform", "state",
                   "link / reason"):
        table.add_column(column, overflow="fold", no_wrap=column in fixed)
    for entry in entries:
        post = entry.post
        state = f"[{STATE_STYLE.get(post.state, '')}]{post.state}[/]"
        table.add_row(f"{post.planned_at:%Y-%m-%d %H:%M:%S}", f"{post.sent_at:%H:%M:%S}" if post.sent_at else "-",
                      format_duration(post.lateness) if post.lateness is not None else "-", post.campaign_id,
                      _escape(post.post_key), post.account_id, post.platform, state,
                      _escape(post.url or post.error or ""))
        if show_attempts:
            for attempt in entry.attempts:
                table.add_row("", f"[dim]{attempt.started_at:%H:%M:%S}[/]", "", "", "", "", "",
                              f"[dim]{attempt.outcome or 'in flight'}[/]", f"[dim]{_escape(attempt.detail or '')}[/]")
    return table


def _log_block(entry: service.LogEntry, show_attempts: bool) -> list[Text]:
    """One post on a narrow terminal: due (UTC), account, platform, state, when it went out; its id (as
    `resolve` takes it); its link or the reason it failed; then its attempts if asked."""
    columns = block_width(console)
    post = entry.post
    state = post.state
    if post.sent_at:  # "sent 18:00:01 (+1s)"; a post marked otherwise after it went out says when
        late = f" +{format_duration(post.lateness)}" if post.lateness is not None else ""
        state += f" {post.sent_at:%H:%M:%S} ({late.strip()})" if post.state == "sent" else \
            f" (sent {post.sent_at:%H:%M:%S}{late})"
    lines = join_parts([Text(f"{post.planned_at:%Y-%m-%d %H:%M:%S} UTC", style="bold"), post.account_id,
                        post.platform, Text(state, style=STATE_STYLE.get(post.state, ""))], columns)
    lines += wrap_text(post.id, columns, indent="  ", style="dim" if post.state == "cancelled" else "")
    if post.url or post.error:
        lines += wrap_text(post.url or post.error or "", columns, indent="  ")
    if show_attempts:
        for attempt in entry.attempts:
            lines += wrap_text(f"attempt {attempt.started_at:%Y-%m-%d %H:%M:%S}: {attempt.outcome or 'in flight'}"
                               + (f": {attempt.detail}" if attempt.detail else ""),
                               columns, indent="      ", first_indent="    ", style="dim")
    return lines


def show_events_list(rows: list[EventRow]) -> None:
    """One event a line (its message wrapped under it): when, severity, kind, account, campaign."""
    if not rows:
        say("no events yet (the daemon records its preflight checks, alerts and storm summaries)")
        return
    style = {"error": "red", "warning": "yellow", "info": "dim"}
    for row in rows:
        head = f"{row.at:%Y-%m-%d %H:%M:%S} [{style.get(row.severity, '')}]{row.severity:<7}[/] {row.kind}"
        subject = " ".join(part for part in (row.account_id, row.campaign_id and f"({row.campaign_id})") if part)
        say(head + (f" {_escape(subject)}" if subject else ""))
        for line in row.message.splitlines():
            _print_lines(wrap_text(line, console.width, indent="      ", first_indent="    "))


def show_review_banner(posts: list[PostRow]) -> None:
    """Posts nobody can settle automatically: each with what a person should check."""
    if not posts:
        return
    say(f"[bold magenta]{len(posts)} post(s) need a person's review[/]: they may or may not have gone "
        "out; check each account, then "
        "`python run.py resolve POST_ID --published \\[URL] | --not-published \\[--resend]`")
    for post in posts:
        say(f"  [magenta]{post.id}[/] ({post.platform}): {_escape(post.error or '')}", indent="    ")


# --- rehearse --------------------------------------------------------------------------------------
@main.command()
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("--seconds", default=10.0, show_default=True,
              help="Play the whole storm (each year's, for a yearly campaign) in this many seconds.")
@click.option("--dry-run", is_flag=True, help="Record what would be sent instead of using the local sandbox.")
@click.option("--watch", is_flag=True, help="Follow it live in the dashboard, in a browser on this machine; "
              "the storm starts when you press Enter.")
@click.option("--trouble", is_flag=True, help="Give the sandbox a bad day: server errors, answers lost after "
              "the post went out, rate limits, and X without read access, so some posts need review. Practise "
              "settling them (with --watch, on the live page).")
@click.pass_obj
@reports_user_errors
def rehearse(obj: Context, campaign: Path, seconds: float, dry_run: bool, watch: bool, trouble: bool) -> None:
    """Play the whole campaign now, time compressed, in a throwaway database; nothing is really posted.

    \b
    Every account posts to a sandbox started for the rehearsal: local servers
    that speak the X, Mastodon and Bluesky APIs, reached through the same
    client libraries as a real storm. Each year of a yearly campaign is
    rehearsed as its own storm. Run this first:
      python run.py rehearse campaigns/free-palestinian-students.toml
    """
    if trouble and dry_run:
        raise UserError("--trouble gives the sandbox a bad day, and --dry-run uses no sandbox: choose one")
    where = "nowhere (dry run)" if dry_run else "a local sandbox of X, Mastodon and Bluesky" + (
        " having a bad day (--trouble)" if trouble else "")
    say(f"rehearsing {campaign} in {seconds:g} s: throwaway database, posting to {where}")

    def storm_begins(number: int, total: int, occurrence: Occurrence) -> None:
        if total > 1:
            if number == 1:
                say(f"a yearly campaign: its {total} storms are a year apart for real, so each is rehearsed as "
                    f"its own, one after the other ({seconds:g} s each), with its own "
                    + ("database" if dry_run else "sandbox and database"))
            say(f"[bold]storm {number} of {total}[/]")
        console.print(f"the real storm: [bold]{occurrence.announce}[/]")  # one line: it is copied into calls

    def storm_done(storm: StormRehearsal) -> None:
        show_log(storm.entries, show_attempts=False)
        if storm.delivery is not None:
            show_delivery(storm.delivery)

    with tempfile.TemporaryDirectory(prefix="stormcaller-rehearsal-") as folder, _Watcher(obj.config) as watcher:
        result = service.rehearse(campaign, obj.config, duration=timedelta(seconds=seconds), on_event=show_event,
                                  dry_run=dry_run, on_storm=storm_begins, on_storm_done=storm_done,
                                  keep_database=Path(folder) / "rehearsal.db" if watch else None,
                                  before_start=watcher.open if watch else None, trouble=trouble)
        watcher.linger()
    failed = [number for number, storm in enumerate(result.storms, start=1)
              if not storm.finished or (not dry_run and not storm.received_once)]
    if len(result.storms) > 1:
        say(f"{len(result.storms)} storms rehearsed: " + (
            f"[red]storm {', '.join(map(str, failed))} did not go as planned[/]" if failed else
            "[green]each went as planned[/]"))
    if failed:
        say("[red]the rehearsal did not finish as planned[/]: see the log above", to=errors)
        sys.exit(1)


class _Watcher:
    """A rehearsal followed in the dashboard: one on each storm's database, open until the person is done."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.board: Any = None
        self.campaign_id = ""

    def __enter__(self) -> "_Watcher":
        return self

    def open(self, database: str, campaign_id: str) -> None:
        from .dashboard.app import DashboardThread  # the web stack, only when watching

        self.close()
        self.board, self.campaign_id = DashboardThread(self.config, database=database), campaign_id
        self.board.start()
        say("watch it live:")
        show_address(self.board.url(f'/storms/{campaign_id}/live'))
        click.prompt("open that address in a browser on this machine, then press Enter to start the storm",
                     default="", show_default=False)

    def linger(self) -> None:
        """Keep the last storm's dashboard open to review it (resolve, the report and its export)."""
        if self.board is None:
            return
        say("its report:")
        show_address(self.board.url(f'/reports/{self.campaign_id}'))
        click.prompt("press Enter to close the dashboard (the rehearsal's database is deleted then)", default="",
                     show_default=False)

    def close(self) -> None:
        if self.board is not None:
            self.board.stop()
            self.board = None

    def __exit__(self, *exc: object) -> None:
        self.close()


def show_delivery(delivery: Delivery) -> None:
    """Whether the sandbox received each planned post exactly once (matched by identity, not text)."""
    verdict = "[green]each exactly once[/]" if delivery.each_once else "[red]NOT each exactly once[/]"
    say(f"the sandbox received {delivery.received} posts for {delivery.planned} planned: {verdict}"
        + (" (links are the sandbox's; nothing exists on the real platforms)" if delivery.each_once else ""))
    for post_id in delivery.missing:
        say(f"  [red]never received[/]: {_escape(post_id)}", indent="    ")
    for post_id, times in delivery.repeated:
        say(f"  [red]received {times} times[/]: {_escape(post_id)}", indent="    ")
    for post in delivery.unmatched:
        say(f"  [red]received, but no planned post's[/]: {post.platform} account {_escape(post.account)}, "
            f"{_escape(post.text[:60])}", indent="    ")


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
@click.option("--tls", is_flag=True, help="Serve https with a self-signed certificate for this machine; the "
              "daemon trusts it with SSL_CERT_FILE and REQUESTS_CA_BUNDLE set to the file it prints.")
@click.option("--tls-dir", type=click.Path(file_okay=False, path_type=Path),
              help="With --tls: keep the certificate here (made once, reused while valid), not in a temp folder.")
@click.option("--keepalive", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Close a connection idle this many seconds (default 75, aiohttp's), as a real server does.")
@click.pass_obj
@reports_user_errors
def sandbox(obj: Context, host: str, ports: tuple[tuple[str, int], ...], latency: float, error_rate: float,
            rate_limit_rate: float, timeout_rate: float, drop_rate: float, quiet: bool,
            flavors: tuple[tuple[str, str], ...], tls: bool, tls_dir: Path | None,
            keepalive: float | None) -> None:
    """Run local servers that speak the X, Mastodon and Bluesky APIs, for a private dress rehearsal.

    \b
    Point the daemon at them in config.toml, and set sandbox = true on the
    accounts to rehearse:
      [sandbox]
      x = "http://127.0.0.1:8401"
      mastodon = "http://127.0.0.1:8402"
      bluesky = "http://127.0.0.1:8403"
    Each post the sandbox accepts is printed; GET <url>/_sandbox/posts lists them.
    With --tls the addresses are https:// (see the README on trusting it).
    """
    if tls_dir is not None and not tls:
        raise UserError("--tls-dir says where to keep the https certificate: add --tls")
    wanted = {**obj.config.sandbox_ports, **dict(ports)}
    faults = service.sandbox_faults(latency=latency, error_rate=error_rate, rate_limit_rate=rate_limit_rate,
                                    accept_then_timeout_rate=timeout_rate, accept_then_drop_rate=drop_rate)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    from .sandbox.tls import sandbox_certificate

    certificate = sandbox_certificate(host, tls_dir) if tls else None
    try:
        running = service.start_sandbox(faults, host=host, ports=wanted, flavors=dict(flavors), tls=certificate,
                                        keepalive=keepalive)
    except BaseException:
        if certificate is not None:
            certificate.remove()
        raise
    if not quiet:
        running.on_post(lambda post: console.print(
            f"{post.platform:<9} {post.account:<20} {len(post.media)} image(s)  {_escape(post.text[:80])}"))
    console.print("sandbox running; Ctrl-C to stop")
    for name in running.platforms:
        console.print(f'  {name} = "{running.base_url(name)}"')
    if certificate is not None:
        console.print("its self-signed certificate; run the daemon with these to trust it:", soft_wrap=True)
        for variable, value in certificate.client_environment().items():
            console.print(f"  {variable}={_escape(value)}", soft_wrap=True)
    stop.wait()
    running.stop()
    if certificate is not None:
        certificate.remove()
    console.print(f"stopped; it had accepted {len(running.posts())} post(s)")


# --- dashboard -------------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Only this machine (loopback) unless you add --i-know-this-exposes-it.")
@click.option("--port", default=8600, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--i-know-this-exposes-it", "i_know_this_exposes_it", is_flag=True,
              help="Allow a host other than loopback: anyone who can reach it and has the token sees the storms.")
@click.pass_obj
@reports_user_errors
def dashboard(obj: Context, host: str, port: int, i_know_this_exposes_it: bool) -> None:
    """Serve a local web dashboard on the database: storms, plans, the live storm, the log, reports.

    \b
    Open the address it prints (a new access token each start). Ctrl-C stops it:
      python run.py dashboard
      python run.py dashboard --port 8700
    """
    from .dashboard import serve  # aiohttp and Jinja2 only for this command

    if not service.is_loopback(host) and not i_know_this_exposes_it:
        raise UserError(f"--host {host}: the dashboard would be reachable from other machines, beside your "
                        "accounts' tokens. Keep the default 127.0.0.1 (reach it from elsewhere through an SSH "
                        "tunnel), or add --i-know-this-exposes-it if you mean it")
    show_problems(service.database_problems(obj.config, obj.database))

    def announce(url: str) -> None:
        say("Stormcaller dashboard: open this address in a browser on this machine:")
        show_address(url)
        say("Ctrl-C to stop")
        console.file.flush()  # a terminal or not (a script waiting for the address), say it now

    serve(obj.config, host, port, database=obj.database, announce=announce)
    console.print("dashboard stopped")


# --- accounts --------------------------------------------------------------------------------------
@main.group()
def accounts() -> None:
    """Check that each account can post, and connect accounts.

    \b
      python run.py accounts check        # log in to every account
      python run.py accounts connect network-mastodon
      python run.py accounts key          # a key for the tokens connect saves
    """


@accounts.command("check")
@click.argument("account_ids", nargs=-1, metavar="[ID]...")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_obj
@reports_user_errors
def accounts_check(obj: Context, account_ids: tuple[str, ...], as_json: bool) -> None:
    """Log in to each account (or those named) and read who it is, without posting.

    \b
    For each account: ok, or the platform's own words and what to do; the
    host its credentials are sent to; the handle the credential belongs to;
    its scopes, expiry and rate budget against its pending posts. Exit
    status 1 if any account is broken.
      python run.py accounts check
      python run.py accounts check network-mastodon --json
    """
    with obj.store() as store:
        reports = service.check_configured_accounts(obj.config, store, account_ids or None)
    if as_json:
        click.echo(json.dumps([report.as_json() for report in reports], indent=2))
    else:
        show_account_reports(reports)
    if any(not report.ok for report in reports):
        sys.exit(1)


def show_account_reports(reports: list[service.AccountReport]) -> None:
    """One block per account, wrapped to the terminal: readable at 80 columns."""
    for report in reports:
        status = "[green]ok[/]" if report.ok else "[red]broken[/]"
        say(f"{status} [bold]{_escape(report.account_id)}[/] ({service.display_name(report.platform)}): "
            f"credentials go to {_escape(report.host)}", indent="    ")
        identity = report.identity
        if identity is not None and identity.handle:
            user = f" (id {identity.user_id})" if identity.user_id else ""
            say(f"  logged in as {_escape(identity.handle)}{user}; expected {_escape(report.expected_handle)}",
                indent="    ")
        if report.source:
            say(f"  credentials from {_escape(report.source)}", indent="    ")
        for note in report.notes:
            say(f"  {_escape(note)}", indent="    ")
        if report.problem:
            say(f"  [red]problem[/]: {_escape(report.problem)}", indent="    ")
            say(f"  [bold]what to do[/]: {_escape(report.advice or '')}", indent="    ")
        for warning in report.warnings:
            say(f"  [yellow]warning[/]: {_escape(warning)}", indent="    ")
    broken = sum(not report.ok for report in reports)
    summary = f"{len(reports) - broken} of {len(reports)} account(s) ok"
    if broken:
        errors.print(f"[red]{broken} broken[/]: {summary}")
    else:
        console.print(summary)


@accounts.command("key")
def accounts_key() -> None:
    """Print a new key for the tokens `accounts connect` saves in the database.

    \b
    Export it where the daemon and the accounts commands run, and keep it
    out of files (the variable is [tokens] key_variable, by default
    STORMCALLER_TOKEN_KEY):
      export STORMCALLER_TOKEN_KEY="$(python run.py accounts key)"
    """
    click.echo(service.new_token_key())


@accounts.command("connect")
@click.argument("account_id", metavar="ID")
@click.option("--redirect-uri", metavar="URL",
              help="X only: the callback URL registered in your X app (default http://127.0.0.1:8765/callback).")
@click.option("--broad-scopes", is_flag=True,
              help="Mastodon only: ask for read and write instead of the four scopes Stormcaller needs, for "
                   "servers that check only broad scopes (Takahē).")
@click.pass_obj
@reports_user_errors
def accounts_connect(obj: Context, account_id: str, redirect_uri: str | None, broad_scopes: bool) -> None:
    """Authorize an account as the platform asks, and save its token sealed in the database.

    \b
    Mastodon: open the page shown, approve, paste the code it shows.
    Bluesky: paste an app password (Settings → Privacy and security → App
    passwords); it is checked by logging in.
    X: open the page shown, approve, paste the address the browser lands on.
    The token is encrypted with the key in STORMCALLER_TOKEN_KEY (make one with
    `python run.py accounts key`); the daemon uses it while the account's own
    environment variables are unset.
      python run.py accounts connect network-mastodon
    """
    with obj.store() as store:
        account = obj.config.accounts.get(account_id)
        if account is not None and account.platform == "bluesky":
            password = click.prompt(f"App password for {account.handle} (not shown)", hide_input=True,
                                    default="", show_default=False)
            connected = service.connect_app_password(obj.config, store, account_id, password)
        else:
            pending = service.begin_connect(obj.config, store, account_id, redirect_uri=redirect_uri,
                                            broad_scopes=broad_scopes)
            console.print("Open this page in a browser, signed in as the account, and approve:")
            console.print(pending.url, soft_wrap=True, markup=False)
            answer = click.prompt("Paste the code (or the address the browser shows) (not shown)", hide_input=True,
                                  default="", show_default=False)
            connected = service.finish_connect(obj.config, store, pending, answer)
    show_connected(connected)


def show_connected(connected: service.Connected) -> None:
    say(f"[green]connected[/] [bold]{_escape(connected.account_id)}[/] as {_escape(connected.handle)} "
        f"({_escape(connected.host)}); its token is saved, encrypted, in the database")
    if connected.scopes:
        say(f"  scopes: {' '.join(connected.scopes)}", indent="    ")
    if connected.expires_at:
        renew = "; refreshed by the daemon before it expires" if connected.refreshable else ""
        say(f"  expires {connected.expires_at:%Y-%m-%d %H:%M} UTC{renew}", indent="    ")
    for warning in connected.warnings:
        say(f"  [yellow]warning[/]: {_escape(warning)}", indent="    ")
    if connected.shadowed_by:
        say(f"  [yellow]note[/]: {', '.join(connected.shadowed_by)} is set and wins over the saved token; unset it "
            "to use this connection", indent="    ")


# --- report ------------------------------------------------------------------------------------------
@main.group("report")
def report_group() -> None:
    """The report after a storm: collect engagement counts, export one self-contained HTML file.

    \b
      python run.py report collect free-palestinian-students   # after the storm
      python run.py report export free-palestinian-students -o report.html

    Collect as often as you like after the storm: each run adds a snapshot.
    """


def _campaign_argument(argument: str) -> str:
    """A campaign id, or a campaign file's id (as `log` shows it)."""
    from .service.log import campaign_id_of

    path = Path(argument)
    if argument.endswith(".toml") and path.is_file():
        found = campaign_id_of(path)
        if found:
            return found
    return argument


@report_group.command("collect")
@click.argument("campaign")
@click.pass_obj
@reports_user_errors
def report_collect(obj: Context, campaign: str) -> None:
    """Count what people did with the storm's posts (likes, reposts, replies) and the use of its hashtags,
    as each platform's API tells it, and keep the counts as a snapshot in the database. Safe to run again,
    e.g. hourly from cron: each run adds a newer snapshot, and the report shows the newest.

    \b
      python run.py report collect free-palestinian-students
    """
    from .service.report import collect

    with obj.store() as store:
        collected = collect(obj.config, store, _campaign_argument(campaign))
    console.print(f"counted {collected.posts} post(s) and {collected.tags} hashtag reading(s) of "
                  f"{collected.campaign_id} at {collected.collected_at:%Y-%m-%d %H:%M:%S} UTC")
    for note in collected.notes:
        console.print(f"[yellow]not counted: {_escape(note)}[/]")


@report_group.command("export")
@click.argument("campaign")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The HTML file to write (default: report-CAMPAIGN.html here).")
@click.pass_obj
@reports_user_errors
def report_export(obj: Context, campaign: str, output: Path | None) -> None:
    """Write the storm's report (counts by platform and account, lateness, timeline, every link, the latest
    engagement counts) as one HTML file that loads nothing from anywhere, to share.

    \b
      python run.py report export free-palestinian-students -o report.html
    """
    from .dashboard.report import export_report  # Jinja2 only for this command

    with obj.store(writable=False) as store:
        campaign_id = _campaign_argument(campaign)
        path = output or Path(f"report-{campaign_id}.html")
        report = export_report(store, campaign_id, path)
    sent = report.totals.get("sent", 0)
    console.print(f"wrote {path}: {sent} sent of {len(report.posts)} post(s) of {campaign_id}")


# --- import / export ---------------------------------------------------------------------------------
@main.command("import")
@click.argument("sheet", type=click.Path(path_type=Path))
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Write without asking (needed without a terminal).")
@click.option("--sheet", "sheet_name", metavar="NAME", help="The workbook's sheet to read (default: the first).")
@click.option("--keep-missing", is_flag=True,
              help="Keep the file's posts that the sheet does not list (default: they are removed).")
@click.pass_obj
@reports_user_errors
def import_command(obj: Context, sheet: Path, campaign: Path, yes: bool, sheet_name: str | None,
                   keep_missing: bool) -> None:
    """Write the posts of a spreadsheet (.csv or .xlsx) into a campaign file.

    \b
    Columns (row 1, any case): id, text, lang, accounts, images, alt,
    reply_to, at; text and accounts are required. Posts are matched by id; the
    sheet is the truth: the file's posts it does not list are removed (unless
    --keep-missing). The rest of the file (storm, comments) stays as it is.
    Shows what changes, checks the result as `validate` does, and writes only
    when you confirm (or with --yes). See the README for the cell formats.
      python run.py import posts.csv campaigns/free-palestinian-students.toml
      python run.py export campaigns/free-palestinian-students.toml -o posts.csv
    """
    preview = service.prepare_import(sheet, campaign, obj.config, sheet_name=sheet_name,
                                     keep_missing=keep_missing)
    show_problems(list(preview.warnings))
    show_import(preview)
    if not preview.has_changes:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UserError(f"{campaign} was not changed: there is no terminal to ask whether to write it; run "
                            "again with --yes to write it")
        if not click.confirm(f"Write these changes to {campaign}?", default=False):
            say(f"{campaign} was not changed.")
            return
    service.write_import(preview)
    say(f"[green]wrote[/] {campaign}")


def show_import(preview: service.ImportPreview) -> None:
    say(f"From {preview.sheet} into {preview.campaign}:")
    for change in preview.of("added"):
        say(f"  [green]+ added[/]    {_escape(change.id)} (row {change.row})", indent="      ")
    for change in preview.of("changed"):
        say(f"  [yellow]~ changed[/]  {_escape(change.id)} (row {change.row}): {', '.join(change.fields)}",
            indent="      ")
    for change in preview.of("removed"):
        say(f"  [red]- removed[/]  {_escape(change.id)} (not in the sheet; --keep-missing keeps it)", indent="      ")
    kept, unchanged = preview.of("kept"), preview.of("unchanged")
    if kept:
        say(f"  kept, not in the sheet: {', '.join(_escape(change.id) for change in kept)}", indent="    ")
    if preview.reordered:
        say("  the posts take the sheet's order")
    say(f"  {len(preview.of('added'))} added, {len(preview.of('changed'))} changed, {len(preview.of('removed'))} "
        f"removed, {len(unchanged)} unchanged")
    if preview.made_ids:
        examples = ", ".join(f"row {row}: {_escape(post_id)}" for row, post_id in preview.made_ids[:3])
        more = f" and {len(preview.made_ids) - 3} more" if len(preview.made_ids) > 3 else ""
        say(f"[yellow]note[/]: {len(preview.made_ids)} row(s) have no id; ids were made from their text "
            f"({examples}{more}). Add an id column (or export the file and edit that sheet) so that edits to a "
            "text keep its post's id.")
    if not preview.has_changes:
        say("Nothing to change: the file already has these posts.")
    elif not any(preview.of(kind) for kind in ("added", "changed", "removed")) and not preview.reordered:
        say("  posts without an id get theirs written out (p1, p2, ...: their place changes)")


@main.command("export")
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write: .csv, or .xlsx for a workbook (default: CSV on standard output).")
@reports_user_errors
def export_command(campaign: Path, output: Path | None) -> None:
    """Write a campaign's posts as a spreadsheet, to edit and bring back with `import`.

    \b
    The columns are those `import` reads. Cells beginning with = + - @ get a
    leading ' so that no spreadsheet program runs them as formulas; import
    removes it. (The storm's report after it ran is `report export`.)
      python run.py export campaigns/free-palestinian-students.toml -o posts.csv
      python run.py import posts.csv campaigns/free-palestinian-students.toml
    """
    text, exported = service.export_posts(campaign, output)
    if output is None:
        click.echo(text, nl=False)
    for note in exported.notes:
        errors.print(f"[yellow]note[/]: {_escape(note)}")
    if output is not None:
        say(f"wrote {output}: {exported.posts} post(s) of {campaign}", to=errors)


# --- the supporter toolkit -----------------------------------------------------------------------------
@main.command("toolkit")
@click.argument("campaign", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The folder to write the site into (created; must be empty unless --force).")
@click.option("--force", is_flag=True, help="Write over the toolkit's files in a folder that is not empty.")
@click.option("--base-url", metavar="URL",
              help="Where the folder will be served (https://example.org/storm/): Open Graph needs absolute "
                   "addresses for link previews.")
@click.option("--lang", "languages", multiple=True, metavar="CODE",
              help="Only this language of the campaign (repeatable; default: all of them).")
@click.pass_obj
@reports_user_errors
def toolkit(obj: Context, campaign: Path, output: Path, force: bool, base_url: str | None,
            languages: tuple[str, ...]) -> None:
    """Write the supporter toolkit: a static site for the people who join the storm.

    \b
    One page per language: the storm time in every announced zone and in the
    visitor's own, a countdown, a calendar file; the call and sample posts with
    click-to-post links for X, Bluesky and Mastodon and their lengths; the
    images without metadata, with alt text; the endorsers. It loads nothing
    from any other host: open index.html from disk, zip it, or put the folder
    on any web host.
      python run.py toolkit campaigns/free-palestinian-students.toml -o toolkit
      python run.py toolkit campaigns/free-palestinian-students.toml -o site \\
        --base-url https://example.org/storm/ --force
    """
    from .toolkit.site import build_toolkit  # Jinja2 and icalendar only for this command

    made = build_toolkit(campaign, obj.config, output, force=force, base_url=base_url, languages=languages)
    for note in made.notes:
        say(f"[yellow]note[/]: {_escape(note)}", to=errors)
    pages = ", ".join(f"{page.file} ({page.lang})" for page in made.pages)
    say(f"wrote {output}: {len(made.files)} files; pages {pages}; {len(made.samples)} sample post(s)")
    show_address((output / made.pages[0].file).resolve().as_uri())
