"""Check and see: validate config and campaigns, plan a campaign, and read servers' own limits.

Every problem at once: a campaign file with errors is still checked in every part the errors leave intact
(``_salvage``): an unusable image, an unknown account or a broken storm time hides none of the other posts'
lengths, image counts or platform refusals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from ..alerts import alert_problems
from ..campaign import Campaign, CampaignSpec, CheckContext, Storm, campaign_id, load_campaign
from ..checks import across_reach, check_across, check_plan, check_posts, one_text_platforms
from ..config import Config
from ..craft import craft_report
from ..planner import Plan, Writer, next_start, plan_campaign
from ..platforms.base import PublishError
from ..problems import Problem, Severity, UserError, name_posts, post_ids, read_toml, unique
from ..store import Store
from ..timing import utcnow
from ..tokens import connected_accounts
from .accounts import destination
from .database import database_problems


def validate(paths: list[Path], config: Config, database: str | None = None) -> tuple[list[Campaign], list[Problem]]:
    """Every problem in the config's accounts and the campaign files, errors and warnings; the files are
    also checked together, and against the posts queued in ``database`` when it exists (a database that
    cannot be read is a warning). A file with errors is checked in every part they leave intact; only the
    files without errors are returned."""
    checked = [check_file(path, config) for path in paths]
    problems = [problem for file in checked for problem in file.problems]
    used = {account for file in checked for account in file.accounts}
    problems.extend(alert_problems(config))
    problems.extend(database_problems(config, database))
    plans = [file.plan for file in checked if file.plan is not None]
    try:
        store = existing_store(database) if database else None
    except UserError as error:
        store = None
        problems.extend(replace(problem, severity="warning", message=f"{problem.message}; the campaigns were not "
                                "checked against the posts already queued") for problem in error.problems)
    problems.extend(credential_problems(config, used, connected_accounts(store) if store is not None else None))
    try:
        across = across_problems(plans, config, store)
    finally:
        if store is not None:
            store.close()
    for file in checked:
        across = file.besides(across)
    problems = name_posts(unique(problems + across), {str(file.path): file.post_ids for file in checked})
    return [file.campaign for file in checked if file.campaign is not None], problems


@dataclass(frozen=True)
class CheckedFile:
    """One campaign file, checked on its own."""

    path: Path
    problems: list[Problem]                # what the file gets wrong, and its warnings
    campaign: Campaign | None = None       # the campaign, when the file has no error in itself
    plan: Plan | None = None               # what to check against other files and the outbox
    accounts: frozenset[str] = frozenset()  # the (known) accounts it names
    post_ids: Sequence[str | None] = ()    # the id each post gives itself, to name posts in problems
    refused: tuple[tuple[str, str], ...] = ()  # (file, field) of the images it has errors about

    def besides(self, found: list[Problem]) -> list[Problem]:
        """``found`` less what it says again about an image this file's errors are already about (the checks
        look at every image once more)."""
        return [problem for problem in found
                if not any(problem.file == file and (problem.field == field or problem.field.startswith(field + "."))
                           for file, field in self.refused)]


def check_file(path: Path, config: Config, now: datetime | None = None) -> CheckedFile:
    """The file's own problems (loading, then what each platform would say), errors and warnings. With errors
    in the file, everything they leave intact is still checked (see ``_salvage``)."""
    try:
        campaign = load_campaign(path, config)
    except UserError as error:
        return _check_broken(path, config, error.problems, now)
    plan_, problems = _plan_and_check(campaign, config, now)
    warnings = plan_.warnings if plan_ is not None else campaign.warnings  # the plan's include the file's
    return CheckedFile(path, list(warnings) + problems, campaign, plan_, _accounts(campaign),
                       [post.id for post in campaign.spec.posts])


def _plan_and_check(campaign: Campaign, config: Config, now: datetime | None, *, storm: bool = True,
                    hashtags: bool = True) -> tuple[Plan | None, list[Problem]]:
    """The plan (None when there is no storm time to plan with) and every problem the checks find in it. A
    storm the planner refuses (a spread that does not fit its window) still has each post checked on its own,
    as has a campaign whose storm is broken (``storm`` False): planned at a stand-in time, without the checks
    that depend on time (duplicates, caps)."""
    problems: list[Problem] = []
    if storm:
        try:
            plan_ = plan_campaign(campaign, config, now)
        except UserError as error:
            problems.extend(error.problems)
        else:
            craft = craft_report(plan_, config.settings.craft).problems if hashtags else ()
            return plan_, check_plan(plan_, config, campaign_hashtags=hashtags) + list(craft)
    stand_in = campaign.spec.model_copy(update={"storm": Storm(start=_STAND_IN_START, timezone="UTC")})
    try:
        plan_ = plan_campaign(replace(campaign, spec=stand_in), config, now)
    except UserError:
        return None, problems
    return None, problems + check_posts(plan_, config, campaign_hashtags=hashtags)


_STAND_IN_START = datetime(2100, 1, 1, 12)


def _accounts(campaign: Campaign) -> frozenset[str]:
    return frozenset(account for post in campaign.spec.posts for account in post.accounts)


def _check_broken(path: Path, config: Config, found: list[Problem], now: datetime | None) -> CheckedFile:
    """A file that did not load: its errors, and what the checks find in the parts they leave intact."""
    try:
        data, source = read_toml(path)
    except UserError:
        return CheckedFile(path, found)
    ids = post_ids(data)
    refused = tuple((problem.file, problem.field) for problem in found
                    if problem.is_error and ".images[" in problem.field)
    salvaged = _salvage(data, source, path, config)
    if salvaged is None:
        return CheckedFile(path, found, post_ids=ids)
    plan_, problems = _plan_and_check(salvaged.campaign, config, now, storm=salvaged.storm,
                                      hashtags=salvaged.hashtags)
    checked = CheckedFile(path, found, None, plan_ if salvaged.identity else None, _accounts(salvaged.campaign), ids,
                          refused)
    return replace(checked, problems=found + checked.besides(problems))


@dataclass(frozen=True)
class _Salvaged:
    campaign: Campaign      # the parts of the file without errors
    storm: bool             # its storm time is the file's own (else a stand-in: nothing that depends on time)
    hashtags: bool          # its hashtags are the file's own (else posts are not held against them)
    identity: bool          # its id and continues are the file's own (else it is not compared with other files)


_PLACEHOLDER_ACCOUNT = "-"


def _salvage(data: dict[str, Any], source: str, path: Path, config: Config) -> _Salvaged | None:
    """The campaign without the parts that have errors, to check the rest: a post with a broken text or
    ``at``, or no known account, is left out (an unknown account is dropped from its post), a broken image
    stays (counted among the post's images; its own checks are already reported), a broken optional field
    (lang, reply_to, id, alt, variants) is dropped, a broken storm is replaced by a stand-in time. None when
    nothing can be checked (no posts) or what is left still does not validate."""
    if not isinstance(data.get("posts"), list) or not data["posts"]:
        return None
    context = CheckContext(config=config, assets_dir=config.assets_dir)
    try:
        CampaignSpec.model_validate(data, context={"check": context})
        errors: list[Sequence[str | int]] = []
    except ValidationError as error:
        errors = [tuple(part for part in item["loc"] if not str(part).startswith("function-"))
                  for item in error.errors()]
    kept = dict(data)
    posts: list[dict[str, Any] | None] = [dict(post) if isinstance(post, dict) else None for post in data["posts"]]
    whole = {"storm": True, "hashtags": True, "identity": True}
    for loc in errors:
        if not loc:
            return None
        if loc[0] == "posts":
            if len(loc) < 2 or not isinstance(loc[1], int):
                return None
            posts[loc[1]] = _post_without(posts[loc[1]], loc[2:], config)
        elif loc[0] == "storm":
            storm = kept.get("storm")
            # what does not move a post in time: the zones announced, the lateness bound, a setting it does not know
            droppable = len(loc) > 1 and (loc[1] in ("announce", "max_lateness") or loc[1] not in Storm.model_fields)
            if isinstance(storm, dict) and droppable:
                kept["storm"] = {key: value for key, value in storm.items() if key != loc[1]}
            else:
                kept["storm"], whole["storm"] = {"start": _STAND_IN_START, "timezone": "UTC"}, False
        elif loc[0] == "hashtags":
            kept["hashtags"], whole["hashtags"] = ["#Storm"], False
        elif loc[0] == "name":
            kept["name"] = "?"
        elif loc[0] in ("id", "continues"):
            kept.pop(str(loc[0]), None)
            whole["identity"] = False
        else:  # require_alt_text, a setting it does not know
            kept.pop(str(loc[0]), None)
    seen: set[str] = set()
    for post in posts:  # an id used twice: the later post is known by its number
        if post is not None and isinstance(post.get("id"), str):
            if post["id"] in seen:
                del post["id"]
            else:
                seen.add(post["id"])
    left_out = {index for index, post in enumerate(posts) if post is None}
    kept["posts"] = [post if post is not None else {"text": "-", "accounts": [_PLACEHOLDER_ACCOUNT]} for post in posts]
    try:
        spec = CampaignSpec.model_validate(kept)
    except ValidationError:
        return None
    spec = spec.model_copy(update={"posts": [post.model_copy(update={"accounts": []}) if index in left_out else post
                                             for index, post in enumerate(spec.posts)]})
    campaign = Campaign(spec=spec, path=path, id=campaign_id(spec.id, path), source=source)
    return _Salvaged(campaign, whole["storm"], whole["hashtags"], whole["identity"])


def _post_without(post: dict[str, Any] | None, loc: Sequence[str | int], config: Config) -> dict[str, Any] | None:
    """The raw ``post`` without the part at ``loc`` that has an error, or None to leave the post out."""
    if post is None or not loc or loc[0] in ("text", "at"):  # without its time, a reminder is no storm post
        return None
    field = loc[0]
    if field == "accounts":
        accounts = post.get("accounts")
        if not isinstance(accounts, list):
            return None
        known = [name for name in dict.fromkeys(a for a in accounts if isinstance(a, str)) if name in config.accounts]
        if not known:
            return None
        post["accounts"] = known
    elif field == "images":
        images = post.get("images")
        if len(loc) < 2 or not isinstance(images, list) or not isinstance(loc[1], int):
            post["images"] = []
            return post
        images = post["images"] = list(images)
        image = images[loc[1]]
        if len(loc) < 3 or not isinstance(image, dict):
            images[loc[1]] = {"file": ""}  # still one of the post's images; its checks are reported already
        elif loc[2] == "file":
            if not isinstance(image.get("file"), str):
                images[loc[1]] = {**image, "file": ""}
        else:  # alt, or a setting it does not know
            images[loc[1]] = {key: value for key, value in image.items() if key != loc[2]}
    else:  # id, lang, reply_to, a setting it does not know
        post.pop(str(field), None)
    return post


def existing_store(url: str) -> Store | None:
    """The database at ``url``, or None for an SQLite file that does not exist yet (checking creates none).

    :raises UserError: the database cannot be opened.
    """
    prefix = "sqlite:///"
    if url.startswith(prefix) and url != prefix + ":memory:" and not Path(url[len(prefix):]).exists():
        return None
    return Store(url, writable=False)


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


def credential_problems(config: Config, account_ids: set[str],
                        connected: Mapping[str, str | None] | None = None) -> list[Problem]:
    """Environment variables named in config.toml but unset, found now rather than at storm time.
    An error when the daemon would publish for real; a warning in dry-run mode or for sandbox accounts.
    ``connected``: the accounts with a grant from ``accounts connect`` (and why it is dead, if it is), which
    stands in for unset variables while it lives."""
    live = config.settings.dispatch.mode == "live"
    connected = connected or {}
    problems = []
    for account_id in sorted(account_ids):
        account = config.accounts[account_id]
        if account.from_sandbox:  # the sandbox hands out its own credentials
            continue
        warning = account.wing.credential_warning(set(account.credentials), account.id)
        if warning:
            problems.append(Problem(config.label, f"accounts.{account.id}.credentials",
                                    f"account {account.id!r}: {warning}", severity="warning"))
        if account_id in connected and connected[account_id] is None:  # `accounts check` logs in with it
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
    try:
        campaign = load_campaign(path, config)
    except UserError as error:
        raise UserError(name_posts(error.problems, {str(path): _raw_post_ids(path)})) from None
    plan_ = plan_campaign(campaign, config, now)
    ids = {str(path): [post.id for post in campaign.spec.posts]}
    return replace(plan_, warnings=tuple(name_posts(plan_.warnings, ids)))


def checked_plan(path: Path, config: Config, now: datetime | None = None) -> tuple[Plan, list[Problem]]:
    """The plan and what each platform would say about it (errors and warnings).

    :raises UserError: the campaign has errors: with every problem in it, also those the checks find in the
        parts the errors leave intact.
    """
    checked = check_file(path, config, now)
    named = name_posts(checked.problems, {str(path): checked.post_ids})
    if checked.campaign is None or checked.plan is None:
        raise UserError(unique(named))
    plan_ = checked.plan
    warnings = name_posts(plan_.warnings, {str(path): checked.post_ids})
    shown = {warning.place for warning in warnings}  # the plan shows its warnings itself
    problems = [problem for problem in unique(named) if problem.place not in shown]
    return replace(plan_, warnings=tuple(warnings)), problems


@dataclass(frozen=True)
class Invitation:
    """A campaign as the people who join it read it (the supporter toolkit's material)."""

    name: str
    hashtags: tuple[str, ...]
    description: str | None
    link: str | None
    endorsers: tuple[str, ...]
    when: str                                  # the next storm's announce line, in the campaign's language
    calls: dict[str, str]                      # language -> the call, rendered for the next storm


def invitation(path: Path, config: Config, now: datetime | None = None) -> Invitation:
    """The campaign file's description, link, endorsers and its call in each language, rendered for its next
    storm (``{when}`` in that language).

    :raises UserError: the file does not load (every problem in it).
    """
    campaign = load_campaign(path, config)
    writer = Writer(campaign.spec, config)
    start = next_start(campaign, now)
    return _invitation(campaign.spec, writer.when(start, writer.language), dict(writer.calls(start)))


def plan_invitation(plan_: Plan) -> Invitation:
    """``invitation`` of a campaign already planned: its first storm's announce line and calls, as the planner
    rendered them (the same as ``invitation`` of its file at the plan's ``now``), without loading it again."""
    first = plan_.occurrences[0]
    return _invitation(plan_.campaign.spec, first.announce, dict(first.calls))


def _invitation(spec: CampaignSpec, when: str, calls: dict[str, str]) -> Invitation:
    return Invitation(spec.name, tuple(spec.hashtags), spec.description, spec.link, tuple(spec.endorsers), when,
                      calls)


def _raw_post_ids(path: Path) -> Sequence[str | None]:
    try:
        data, _ = read_toml(path)
    except UserError:
        return []
    return post_ids(data)


@dataclass(frozen=True)
class CredentialDestination:
    """Where one account's credentials are sent: ``host`` as ``validate`` shows it (``sandbox``: a server on
    this machine, not the platform)."""

    account_id: str
    platform: str
    host: str
    sandbox: bool


def credential_destinations(config: Config) -> list[CredentialDestination]:
    """Per account of config.toml, in its order, the host its credentials go to when the daemon runs live."""
    return [CredentialDestination(account.id, account.platform, destination(account, config), account.sandbox)
            for account in config.settings.accounts]


def with_instance_limits(config: Config, timeout: float = 10.0) -> tuple[Config, list[Problem]]:
    """The config with each account's limits read from its server where its platform announces them
    (Mastodon: GET /api/v2/instance, no token needed); an account's own ``limits = {...}`` still wins. A
    server that cannot be read keeps the configured values, with a warning."""
    accounts, problems = [], []
    for account in config.settings.accounts:
        server = account.local_server if account.sandbox else account.instance
        if server:
            try:
                found = account.wing.server_limits(server, timeout, config.limits_for(account.id))
            except PublishError as error:
                problems.append(Problem(config.label, f"accounts.{account.id}.instance",
                                        f"{error}; checking with the configured limits instead", severity="warning"))
            else:
                if found:
                    account = account.model_copy(update={"limits": {**found, **account.limits}})
        accounts.append(account)
    settings = config.settings.model_copy(update={"accounts": accounts})
    return replace(config, settings=settings), problems
