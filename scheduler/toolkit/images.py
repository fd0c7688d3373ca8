"""The campaign's images for supporters: each prepared by the publishing pipeline (``media``: upright, every
metadata block removed, sRGB) to the strictest of the platforms' documented profiles, so that the one file a
supporter downloads is taken wherever they post it. An image that profile cannot make (an animation where
the strictest platform takes none) is made with the next one, and says where it fits."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config
from ..media import EXTENSIONS, ImageProblem, ImageProfile, MediaCache, PreparedImage, resolve_asset
from ..planner import Plan
from ..platforms.registry import PLATFORMS
from ..problems import Problem, UserError
from ..service.images import media_cache


@dataclass(frozen=True)
class SupporterImage:
    """One campaign image as the toolkit hands it out."""

    file: str                       # the campaign's name for it (under assets/): never written to the site
    alts: dict[str, str]            # language -> its alt text there (from the posts that use it)
    prepared: PreparedImage
    name: str                       # its file name in the site: image-1.png, ...
    fits: tuple[str, ...]           # display names of the platforms whose documented profile it was made for

    def alt_in(self, lang: str) -> str:
        """The alt text written in ``lang``, else the first one the campaign gives."""
        return self.alts.get(lang) or next(iter(self.alts.values()), "")


def profiles_strictest_first() -> list[tuple[str, ImageProfile]]:
    """Every platform's documented image profile, smallest byte limit first."""
    profiles = [(wing.display_name, wing.image_profile(wing.limits())) for wing in PLATFORMS.values()]
    return sorted(profiles, key=lambda item: item[1].max_bytes)


def supporter_images(plan: Plan, config: Config, language: str) -> list[SupporterImage]:
    """Each distinct image file of the campaign once, in file order, with its alt text per language (a post's
    ``lang``, else ``language``).

    :raises UserError: an image no platform's profile can make, naming the file and what to do.
    """
    seen: dict[str, dict[str, str]] = {}
    for post in sorted(plan.posts, key=lambda p: p.sequence):
        for image in post.images:
            seen.setdefault(image.file, {}).setdefault(post.lang or language, image.alt)
    profiles = profiles_strictest_first()
    cache = media_cache(config)
    found = []
    for number, (file, alts) in enumerate(seen.items(), start=1):
        prepared, fits = _prepare(config, cache, file, profiles, plan)
        found.append(SupporterImage(file, alts, prepared, f"image-{number}.{EXTENSIONS[prepared.mime_type]}", fits))
    return found


def _prepare(config: Config, cache: MediaCache, file: str, profiles: list[tuple[str, ImageProfile]],
             plan: Plan) -> tuple[PreparedImage, tuple[str, ...]]:
    """The image made with the strictest profile that can make it, and the platforms it then fits."""
    last: ImageProblem | None = None
    for index, (_name, profile) in enumerate(profiles):
        try:
            prepared = cache.get(resolve_asset(config.assets_dir, file), profile)
        except ImageProblem as problem:
            last = problem
            continue
        return prepared, tuple(name for name, _ in profiles[index:])
    raise UserError([Problem(str(plan.campaign.path), "images", f"{last}" if last else f"{file!r} cannot be prepared")])
