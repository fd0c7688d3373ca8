"""The words a supporter posts: the campaign's planned storm posts as samples, one per distinct text and
language, each measured as every platform counts it, with a click-to-post link where the text fits.

A supporter posts from their own account, so each text is held against each platform's documented limits
(not the organizers' accounts' settings). Nothing here names a platform: the registry gives each one's
measure, refusals and share URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ..planner import Plan, PlannedPost, writing_language
from ..platforms.base import Measure
from ..platforms.registry import PLATFORMS

#: The host a Mastodon-style link opens until the visitor names their own instance (the page's chooser).
DEFAULT_INSTANCE = "mastodon.social"


@dataclass(frozen=True)
class Fit:
    """One sample on one platform: its length as the platform counts it, and the link to post it, or why
    there is none."""

    platform: str
    display_name: str
    measure: Measure
    link: str | None          # the share URL with the text encoded; None when the text cannot be posted there
    reason: str | None        # why there is no link
    per_instance: bool        # the link's host is the visitor's own server ({instance} in the share URL)


@dataclass(frozen=True)
class Sample:
    """A text as supporters may post it: rendered (hashtags, ``{when}``), in its language."""

    text: str
    lang: str
    post_key: str                    # the campaign's post it comes from
    planned_on: tuple[str, ...]      # display names of the platforms the organizers post it on
    fits: tuple[Fit, ...]
    images: tuple[str, ...] = ()     # the campaign files of its images


def share_link(template: str, text: str, instance: str = DEFAULT_INSTANCE) -> str:
    """A share URL with ``text`` percent-encoded as UTF-8 (every reserved character, so that ``&``, ``#`` and
    ``+`` stay text) and ``instance`` as its host where it has one."""
    return template.replace("{instance}", instance).replace("{text}", quote(text, safe=""))


def fits_of(text: str) -> tuple[Fit, ...]:
    """``text`` on every platform, with each one's documented limits."""
    fits = []
    for name, wing in PLATFORMS.items():
        limits = wing.limits()
        length = wing.measure(text, limits)
        refusals = wing.text_refusals(text, limits)
        reason = None
        if not length.fits:
            reason = (f"too long for {wing.display_name}: {length.value} {length.unit}, the limit is "
                      f"{length.limit}")
        elif refusals:
            reason = refusals[0]
        elif wing.share_url is None:
            reason = f"{wing.display_name} has no link to compose a post"
        link = share_link(wing.share_url, text) if reason is None and wing.share_url else None
        fits.append(Fit(name, wing.display_name, length, link, reason,
                        wing.share_url is not None and "{instance}" in wing.share_url))
    return tuple(fits)


def samples(plan: Plan, language: str) -> list[Sample]:
    """The storm posts of the plan's first storm, one per distinct text, in file order (a post's wordings
    after it), each with the language it is written in (``language``, the campaign's, where it names none).
    Reminders (a negative ``at``) are left out: their words ("tomorrow", "in 1 hour") hold only then."""
    if not plan.occurrences:
        return []
    first = plan.occurrences[0].start
    chosen: dict[tuple[str, str], list[PlannedPost]] = {}
    for post in sorted(plan.posts, key=lambda p: (p.sequence, p.wording or 0)):
        if post.storm_start != first or post.is_reminder:
            continue
        lang = writing_language(post.lang or language)
        chosen.setdefault((lang, post.text), []).append(post)
    found = []
    for (lang, text), posts in chosen.items():
        planned_on = tuple(dict.fromkeys(PLATFORMS[p.platform].display_name for p in posts if p.platform in PLATFORMS))
        found.append(Sample(text, lang, posts[0].post_key, planned_on, fits_of(text),
                            tuple(image.file for image in posts[0].images)))
    return found
