"""The plan's images made platform-ready ahead of the storm (queue, plan), and read back at the storm
instant (the daemon), all with the profile of the account that sends them (``Config.image_profile``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from ..config import Config
from ..media import ImageProblem, ImageProfile, MediaCache, PreparedImage, resolve_asset
from ..platforms.base import Image
from ..platforms.registry import platform
from ..problems import Problem, UserError
from ..store import PostRow

if TYPE_CHECKING:  # the checking stack (babel, the planner) is not the daemon's: it only reads images back
    from ..planner import Plan

ProgressCallback = Callable[[int, int], None]


def media_cache(config: Config) -> MediaCache:
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


def image_sizes(plan: Plan, config: Config, progress: ProgressCallback | None = None) -> PreparedMedia:
    """Each image of the plan as each account will send it, for ``plan`` to show: what could not be
    prepared is in ``problems`` instead of raised, so the rest of the plan is still shown."""
    return _prepare(plan, config, progress)


def prepare_media(plan: Plan, config: Config, progress: ProgressCallback | None = None) -> int:
    """Make every image of the plan platform-ready ahead of the storm (cached), so the storm instant does
    no image work. Returns how many variants (file, image profile) the plan needs.

    :raises UserError: naming each image that cannot be sent (file, accounts, what to do); nothing else
        has been changed then.
    """
    prepared = _prepare(plan, config, progress)
    if prepared.problems:
        raise UserError(prepared.problems)
    return prepared.variants


def _profiles(plan: Plan, config: Config) -> dict[tuple[str, str], ImageProfile]:
    """(file, account id) -> the profile that account's images are made with."""
    profiles = {account: config.image_profile(account) for account in {p.account_id for p in plan.posts}}
    return {(image.file, post.account_id): profiles[post.account_id] for post in plan.posts for image in post.images}


def _prepare(plan: Plan, config: Config, progress: ProgressCallback | None) -> PreparedMedia:
    """Prepare each (file, profile) once; an ImageProblem becomes a Problem instead of a traceback."""
    wanted = _profiles(plan, config)
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
            problems.append(_image_problem(plan, file, accounts, problem))
        else:
            images.update({(file, account): prepared for account in accounts})
        if progress:
            progress(done, len(jobs))
    return PreparedMedia(images, problems, len(jobs))


def _image_problem(plan: Plan, file: str, accounts: list[str], problem: ImageProblem) -> Problem:
    """An image the pipeline refused, located at its first use in the campaign file, with who would send it."""
    users = [post for post in plan.posts if post.account_id in accounts and any(i.file == file for i in post.images)]
    first = users[0]
    number = next(n for n, image in enumerate(first.images) if image.file == file)
    others = sorted({post.post_key for post in users} - {first.post_key})
    also = f"; also in post {', '.join(map(repr, others))}" if others else ""
    from ..checks import PlanReporter

    reporter = PlanReporter(plan)
    reporter.add(first.post_key, f"images.{number}.file",
                 problem.sentence(f" (account {', '.join(accounts)}{also})"))
    return reporter.problems[0]


def upload_image(prepared: PreparedImage, alt: str) -> Image:
    """A prepared image as the publishers take it (its file name generic: never the organizer's)."""
    return Image(data=prepared.data, mime_type=prepared.mime_type, alt=alt, width=prepared.width,
                 height=prepared.height, filename=prepared.generic_filename)


def image_loader(config: Config) -> Callable[[PostRow], tuple[Image, ...]]:
    """Images of a post, from the media cache (prepared at queue time, so no image work at storm time),
    made with the same profile as ``plan`` showed and ``queue`` prepared."""
    cache = media_cache(config)
    memo: dict[tuple[str, str], PreparedImage] = {}
    profiles: dict[str, ImageProfile] = {}  # account id -> its profile, made once
    lock = threading.Lock()

    def profile_of(post: PostRow) -> ImageProfile:
        profile = profiles.get(post.account_id)
        if profile is None:
            # An account removed from the config since `queue`: the publisher lookup says so right after.
            wing = platform(post.platform)
            profile = config.image_profile(post.account_id) if post.account_id in config.accounts \
                else wing.image_profile(wing.limits())
            profiles[post.account_id] = profile
        return profile

    def load(post: PostRow) -> tuple[Image, ...]:
        profile = profile_of(post)
        images = []
        for item in post.image_list:
            key = (item["file"], profile.key)
            with lock:
                prepared = memo.get(key)
            if prepared is None:
                prepared = cache.get(resolve_asset(config.assets_dir, item["file"]), profile)
                with lock:
                    memo[key] = prepared
            images.append(upload_image(prepared, item["alt"]))
        return tuple(images)

    return load

