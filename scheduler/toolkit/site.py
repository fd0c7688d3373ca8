"""The supporter toolkit as a static site in one folder: one page per language (``index.html`` in the
campaign's language, ``index.LANG.html`` for the others), the storm's calendar file, the images, the share
cards and the page's own CSS and script. It works opened from disk and from any host: every address in it is
relative (absolute only for Open Graph, with ``base_url``), nothing is loaded from another host, and each
page carries a Content-Security-Policy that allows no inline script or style."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

import jinja2

from ..campaign import posts_language
from ..config import Config
from ..locales import locale_of, right_to_left
from ..planner import Plan, Writer, writing_language
from ..platforms.registry import PLATFORMS
from ..problems import Problem, UserError
from ..service.checking import Invitation, plan, plan_invitation
from ..timing import utcnow
from .images import SupporterImage, supporter_images
from .moment import DEFAULT_LENGTH, Moment, calendar_file, google_calendar_link
from .samples import DEFAULT_INSTANCE, Sample, samples
from .words import words_for

HERE = Path(__file__).parent
STATIC_FILES = ("toolkit.css", "toolkit.js")
CALENDAR_FILE = "storm.ics"
#: The page's policy, as a <meta> (a static site sets no headers): nothing from another origin, no inline
#: script or style, no plugins, no <base>, no form sent anywhere. ``frame-ancestors`` is not allowed in a meta.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")


@dataclass(frozen=True)
class Page:
    """One language's page of the site."""

    lang: str
    file: str             # index.html, index.es.html, ...
    name: str             # the language in its own words: "español", "العربية"
    rtl: bool

    @property
    def dir(self) -> str:
        return "rtl" if self.rtl else "ltr"


@dataclass(frozen=True)
class Toolkit:
    """What ``build_toolkit`` wrote."""

    output: Path
    pages: tuple[Page, ...]
    files: tuple[str, ...]            # every file written, relative to ``output`` (posix)
    samples: tuple[Sample, ...]
    moment: Moment
    cards: bool                       # whether share cards were drawn (and Open Graph points at them)
    notes: tuple[str, ...] = field(default=())  # what the organizer should know (no --base-url, ...)


def build_toolkit(path: Path, config: Config, output: Path, *, force: bool = False, base_url: str | None = None,
                  languages: Sequence[str] = (), now: datetime | None = None) -> Toolkit:
    """Write the campaign's toolkit into the folder ``output`` (created; an existing folder must be empty
    unless ``force``, which overwrites the files the toolkit writes and leaves the rest). ``languages``: only
    these of the campaign's (default all). ``base_url``: where the folder will be served, for Open Graph.

    :raises UserError: the campaign does not load or plan, the folder is not empty (or is a file), a language
        is not one of the campaign's, or ``base_url`` is no http(s) address.
    """
    now = now or utcnow()
    base = _checked_base_url(base_url)
    _check_output(output, force)
    plan_ = plan(path, config, now)
    invited = plan_invitation(plan_)
    writer = Writer(plan_.campaign.spec, config)
    home = writing_language(posts_language(plan_.campaign.spec, config))
    found = samples(plan_, home)
    pages = _pages(home, list(invited.calls), [sample.lang for sample in found], languages)
    moment = _moment(plan_, invited)
    images = supporter_images(plan_, config, home)
    output.mkdir(parents=True, exist_ok=True)
    written = _write_assets(output, moment, images, now)
    cards = _write_cards(output, pages, plan_, writer, invited)
    written += cards
    notes = _notes(moment, base, now)
    content = Content(invited, writer, home, found, images, moment, base, bool(cards))
    template = _environment().get_template("page.html")
    for page in pages:
        _write(output / page.file, template.render(_context(page, pages, content)).encode("utf-8"))
        written.append(page.file)
    return Toolkit(output, tuple(pages), tuple(written), tuple(found), moment, bool(cards), notes)


def _notes(moment: Moment, base: str | None, now: datetime) -> tuple[str, ...]:
    """What the organizer should know about the site just written."""
    notes = []
    if base is None:
        notes.append("without --base-url the pages' Open Graph image is a relative address, which most platforms "
                     "do not fetch: a shared link may show no preview; give the address the folder will be served "
                     "at (--base-url https://example.org/storm/)")
    if moment.start <= now:
        notes.append(f"the storm began at {moment.start:%Y-%m-%d %H:%M} UTC, in the past: the pages say it has "
                     "started; change storm.start in the campaign file for a storm ahead")
    return tuple(notes)


# --- checks --------------------------------------------------------------------------------------------
def _checked_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise UserError([Problem("", "--base-url", f"{base_url!r} is not an address the folder can be served at; "
                                 "give one such as https://example.org/storm/ (http or https, no ?query or #)")])
    return base_url if base_url.endswith("/") else base_url + "/"


def _check_output(output: Path, force: bool) -> None:
    if output.exists() and not output.is_dir():
        raise UserError([Problem(str(output), "-o", "is a file, not a folder; give a folder for the toolkit "
                                 "(it is created if it does not exist)")])
    if output.is_dir() and any(output.iterdir()) and not force:
        raise UserError([Problem(str(output), "-o", "the folder is not empty; give a new or empty folder, or add "
                                 "--force to write the toolkit's files over the ones there (other files are "
                                 "left as they are)")])


def _pages(home: str, call_languages: list[str], sample_languages: list[str], wanted: Sequence[str]) -> list[Page]:
    """The campaign's language first, then its calls' and samples' languages, in the order the file gives them;
    only ``wanted`` ones when it names any."""
    available = list(dict.fromkeys([home, *(writing_language(code) for code in call_languages), *sample_languages]))
    unknown = [code for code in wanted if code not in available]
    if unknown:
        raise UserError([Problem("", "--lang", f"{unknown[0]!r} is not a language of this campaign; it has "
                                 f"{', '.join(available)} (its lang, its call.LANG and its posts' lang)")])
    chosen = [code for code in available if not wanted or code in wanted]
    first = chosen[0]
    return [Page(code, "index.html" if code == first else f"index.{code}.html", _language_name(code),
                 right_to_left(code)) for code in chosen]


def _language_name(code: str) -> str:
    base = code.replace("_", "-").split("-")[0]
    name = locale_of(base).get_language_name(locale_of(base)) or code
    return name[:1].upper() + name[1:] if not right_to_left(code) else name


# --- the moment and the files ------------------------------------------------------------------------------
def _moment(plan_: Plan, invited: Invitation) -> Moment:
    storm = plan_.campaign.spec.storm
    start = plan_.occurrences[0].start
    length = storm.spread.window if storm.spread and storm.spread.window else DEFAULT_LENGTH
    tags = " ".join(invited.hashtags)
    description = "\n\n".join(part for part in (invited.calls.get(next(iter(invited.calls), ""), ""),
                                                invited.description or "", invited.link or "") if part)
    return Moment(f"{plan_.campaign.id}-{start:%Y%m%dT%H%M%SZ}@stormcaller", start, start + length,
                  f"{tags}: {invited.name}", description or invited.when, invited.link)


def _write_assets(output: Path, moment: Moment, images: list[SupporterImage], now: datetime) -> list[str]:
    written = []
    for name in STATIC_FILES:
        shutil.copyfile(HERE / "static" / name, output / name)
        written.append(name)
    _write(output / CALENDAR_FILE, calendar_file(moment, now))
    written.append(CALENDAR_FILE)
    if images:
        (output / "images").mkdir(exist_ok=True)
    for image in images:
        _write(output / "images" / image.name, image.prepared.data)
        written.append(f"images/{image.name}")
    return written


def _write_cards(output: Path, pages: list[Page], plan_: Plan, writer: Writer, invited: Invitation) -> list[str]:
    """A share card per language (``card-LANG.png``), drawn by ``card.py``."""
    from .card import CardText, draw_share_card  # Pillow's drawing, only when cards are written
    start = plan_.occurrences[0].start
    written = []
    for page in pages:
        name = f"card-{page.lang}.png"
        text = CardText(hashtag=" ".join(invited.hashtags), when=writer.when(start, page.lang),
                        call=invited.calls.get(page.lang, invited.description or ""), lang=page.lang)
        draw_share_card(text, output / name)
        written.append(name)
    return written


def _write(path: Path, data: bytes) -> None:
    """Written whole or not at all (a reader of the folder never sees half a page)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


# --- the pages -----------------------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                     autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment


@dataclass(frozen=True)
class Content:
    """What every page shows, each in its own language."""

    invitation: Invitation
    writer: Writer              # the announce line in each language
    home: str                   # the campaign's language (its description's)
    samples: list[Sample]
    images: list[SupporterImage]
    moment: Moment
    base: str | None            # the --base-url, ending in /
    cards: bool                 # share cards were drawn


def _context(page: Page, pages: list[Page], content: Content) -> dict[str, Any]:
    invited, moment, base = content.invitation, content.moment, content.base
    own = [sample for sample in content.samples if sample.lang == page.lang]
    card = f"card-{page.lang}.png"
    instance_platforms = [wing.display_name for wing in PLATFORMS.values()
                          if wing.share_url and "{instance}" in wing.share_url]
    one_text = [wing.display_name for wing in PLATFORMS.values() if wing.one_text_per_account]
    return {
        "page": page, "pages": pages, "home": content.home, "words": words_for(page.lang), "invitation": invited,
        "when": content.writer.when(moment.start, page.lang), "call": invited.calls.get(page.lang),
        "samples": own, "images": content.images, "moment": moment, "calendar_file": CALENDAR_FILE,
        "google_link": google_calendar_link(moment), "csp": CONTENT_SECURITY_POLICY,
        "og_image": (base + card if base else card) if content.cards else None,
        "og_url": base + page.file if base else None, "og_locale": page.lang.replace("-", "_"),
        "default_instance": DEFAULT_INSTANCE, "instance_platforms": instance_platforms,
        "one_text_platforms": one_text,
    }
