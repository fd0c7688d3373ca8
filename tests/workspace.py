"""Builds a real project folder for a test: config.toml, assets/ with an image, campaign files."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from scheduler.timing import UTC

DEFAULT_ACCOUNTS = """
[[accounts]]
id = "net-x"
platform = "x"
handle = "@net"
credentials = { user_token = "NET_X_TOKEN" }

[[accounts]]
id = "net-mastodon"
platform = "mastodon"
handle = "@net@example.social"
instance = "https://example.social"
credentials = { access_token = "NET_MASTODON_TOKEN" }

[[accounts]]
id = "net-bluesky"
platform = "bluesky"
handle = "net.example.com"
credentials = { app_password = "NET_BLUESKY_PASSWORD" }
"""


def make_workspace(root: Path, *, database: str = "sqlite:///storm.db", extra: str = "",
                   accounts: str = DEFAULT_ACCOUNTS) -> Path:
    (root / "assets").mkdir(parents=True, exist_ok=True)
    (root / "campaigns").mkdir(exist_ok=True)
    Image.new("RGB", (64, 48), (0, 122, 61)).save(root / "assets" / "card.png")
    (root / "config.toml").write_text(f'[database]\nurl = "{database}"\n\n[dispatch]\nmode = "dry-run"\n'
                                      f'{extra}\n{accounts}', encoding="utf-8")
    return root / "config.toml"


def local(moment: datetime, zone_name: str = "UTC") -> str:
    """An aware instant as the local wall-clock TOML datetime in ``zone_name``."""
    import pytz

    return moment.astimezone(pytz.timezone(zone_name)).replace(tzinfo=None).isoformat(timespec="seconds")


def campaign_text(start: datetime, *, posts: str | None = None, storm_extra: str = "", name: str = "Test storm",
                  zone_name: str = "UTC") -> str:
    posts = posts if posts is not None else POSTS
    return (f'name = "{name}"\nhashtags = ["#FreeThemAll"]\n\n[storm]\nstart = {local(start, zone_name)}\n'
            f'timezone = "{zone_name}"\n{storm_extra}\n{posts}')


POSTS = """
[[posts]]
id = "first"
text = "Freedom for all political prisoners #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [{ file = "card.png", alt = "A green card" }]

[[posts]]
id = "second"
text = "Second wave of the storm #FreeThemAll"
accounts = ["net-mastodon"]
"""


def write_campaign(root: Path, name: str, start: datetime, **kwargs: str) -> Path:
    path = root / "campaigns" / f"{name}.toml"
    path.write_text(campaign_text(start, **kwargs), encoding="utf-8")
    return path


def soon(seconds: float = 1.0) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0) + timedelta(seconds=1)


_WORDS = ("freedom justice students prisoners release solidarity education rights campus detention voices "
          "organize march union lawyers families letters visit hunger strike books lectures elections city "
          "river olive bread water light morning evening spring autumn youth teachers nurses workers poets "
          "songs banners streets squares libraries courts walls keys doors windows gardens roads bridges "
          "children mothers fathers sisters brothers friends neighbours villages towns").split()


def distinct_text(seed: str, words: int = 12) -> str:
    """A post text unlike any other seed's (X refuses nearly identical texts from several accounts)."""
    import random

    chooser = random.Random(seed)
    return " ".join(chooser.choice(_WORDS) for _ in range(words)) + f" {seed} #FreeThemAll"
