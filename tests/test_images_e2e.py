"""Images end to end: a campaign's awkward images rehearsed through the sandbox (real HTTP, the real client
libraries), and every image the sandbox received checked; bad images found by `validate`/`plan`/`queue`
as user errors naming the file, never as tracebacks at storm time."""

from __future__ import annotations

import io
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import ExifTags, Image, ImageDraw

from scheduler import service
from scheduler.cli import main
from scheduler.config import load_config
from scheduler.platforms.bluesky.facts import IMAGE_DEFAULT_MAX_BYTES as BLUESKY_DEFAULT_MAX_BYTES
from scheduler.platforms.bluesky.facts import IMAGE_MAX_LONG_EDGE as BLUESKY_MAX_LONG_EDGE
from scheduler.platforms.mastodon.facts import IMAGE_SIZE_LIMIT as MASTODON_IMAGE_SIZE_LIMIT
from scheduler.platforms.x.facts import GIF_MAX_BYTES as X_GIF_MAX_BYTES
from scheduler.platforms.x.facts import IMAGE_MAX_BYTES as X_IMAGE_MAX_BYTES
from scheduler.sandbox.core import AcceptedMedia, AcceptedPost
from scheduler.timing import utcnow
from project import StormProject, write_campaign

# What each platform may receive (scheduler/media.py cites where each number comes from).
STILL_LIMITS = {"x": X_IMAGE_MAX_BYTES, "mastodon": MASTODON_IMAGE_SIZE_LIMIT, "bluesky": BLUESKY_DEFAULT_MAX_BYTES}
# Words written into the photo's metadata: none may reach any platform.
SECRETS = (b"LeakyPhoneMaker", b"Rally Cam 9", b"Secret Square", b"Exif\x00\x00", b"xmpmeta")
XMP_PACKET = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Secret Square"/>'
              b"</rdf:RDF></x:xmpmeta>")

ALTS = {
    "phone.jpg": "Students holding a banner at the rally",
    "alpha.png": "The campaign logo on a transparent background",
    "cmyk.jpg": "A printed poster calling for the students' release",
    "deep.png": "A grey scan of a letter from prison",
    "huge.png": "A very large photo of the crowd",
    "anim.gif": "A flag waving, animated",
}

POSTS = """
[[posts]]
id = "photos"
text = "Four photos from the rally #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [
  { file = "phone.jpg", alt = "Students holding a banner at the rally" },
  { file = "alpha.png", alt = "The campaign logo on a transparent background" },
  { file = "cmyk.jpg", alt = "A printed poster calling for the students' release" },
  { file = "deep.png", alt = "A grey scan of a letter from prison" },
]

[[posts]]
id = "crowd"
text = "The whole crowd #FreeThemAll"
accounts = ["net-x", "net-mastodon", "net-bluesky"]
images = [{ file = "huge.png", alt = "A very large photo of the crowd" }]

[[posts]]
id = "flag"
text = "Flags up #FreeThemAll"
accounts = ["net-x"]
images = [{ file = "anim.gif", alt = "A flag waving, animated" }]
"""

# Which images each post carries, in order (to match what the sandbox received).
POST_IMAGES = {"Four photos": ["phone.jpg", "alpha.png", "cmyk.jpg", "deep.png"], "whole crowd": ["huge.png"],
               "Flags up": ["anim.gif"]}


# --- the images -----------------------------------------------------------------------------------------


def upright_portrait(size: tuple[int, int] = (600, 800)) -> Image.Image:
    """A portrait scene: red band on top, blue band at the bottom, something in between."""
    scene = Image.linear_gradient("L").resize(size).convert("RGB")
    scene.paste((255, 0, 0), (0, 0, size[0], size[1] // 5))
    scene.paste((0, 0, 255), (0, size[1] * 4 // 5, size[0], size[1]))
    return scene


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "LeakyPhoneMaker"
    exif[ExifTags.Base.Model] = "Rally Cam 9"
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: turn 90° clockwise to display
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 30.0, 12.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (34.0, 28.0, 7.25)
    return exif


def write_images(assets: Path) -> None:
    # A phone held upright: pixels stored landscape (800x600), orientation 6, GPS, XMP and a comment.
    upright_portrait().rotate(90, expand=True).save(assets / "phone.jpg", "JPEG", quality=90, exif=phone_exif(),
                                                    xmp=XMP_PACKET, comment=b"Secret Square, 3 pm")
    logo = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((50, 50, 350, 250), fill=(0, 122, 61, 255))
    logo.save(assets / "alpha.png")
    Image.new("CMYK", (500, 350), (0, 200, 200, 30)).save(assets / "cmyk.jpg", "JPEG", quality=90)
    Image.linear_gradient("L").resize((300, 200)).convert("I;16").point(lambda v: v * 257) \
        .save(assets / "deep.png")
    assert Image.open(assets / "deep.png").mode.startswith("I;16")
    write_huge_png(assets / "huge.png")
    frames = [Image.new("RGB", (120, 90), colour) for colour in ((200, 0, 0), (0, 160, 0), (0, 0, 200))]
    frames[0].save(assets / "anim.gif", save_all=True, append_images=frames[1:], duration=150, loop=0)


def write_huge_png(path: Path) -> None:
    """9000x6000 (54 MP, more than any platform takes). Grey, mostly smooth with a noise patch: it takes
    a second to write and to process, where colour noise everywhere would take many."""
    huge = Image.linear_gradient("L").resize((9000, 6000))
    draw = ImageDraw.Draw(huge)
    for step in range(12):
        draw.ellipse((step * 700, step * 400, step * 700 + 1500, step * 400 + 1000), fill=30 * step % 256)
    huge.paste(Image.effect_noise((1500, 1000), 70), (6000, 300))
    huge.save(path, compress_level=1)


# --- checks -----------------------------------------------------------------------------------------------


def assert_clean_and_decodable(media: AcceptedMedia, where: str) -> Image.Image:
    assert media.data, f"{where}: the sandbox kept no bytes"
    assert media.has_exif is False, f"{where}: the platform saw EXIF"
    image = Image.open(io.BytesIO(media.data))
    image.load()
    assert not image.getexif(), f"{where}: EXIF left"
    leaked = {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc", "icc_profile"} & set(image.info)
    assert not leaked, f"{where}: metadata left: {leaked}"
    for secret in SECRETS:
        assert secret not in media.data, f"{where}: {secret!r} in the bytes sent"
    return image


def image_for(post: AcceptedPost) -> list[str]:
    return next(files for marker, files in POST_IMAGES.items() if marker in post.text)


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args], env={"COLUMNS": "250"})


def fails_cleanly(result: Result) -> str:
    """Exit status 1, the problems printed, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result.output.replace("\n", " ")


# --- the rehearsal ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> service.Rehearsal:
    root = tmp_path_factory.mktemp("images")
    config_path = StormProject.create(root).config_path
    write_images(root / "assets")
    path = write_campaign(root, "images", utcnow() + timedelta(days=3), posts=POSTS)
    config = load_config(config_path)
    campaigns, problems = service.validate([path], config)
    assert campaigns and not [p for p in problems if p.is_error], problems
    return service.rehearse(path, config, duration=timedelta(seconds=3))


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_every_post_reaches_the_sandbox_once(rehearsal: service.Rehearsal) -> None:
    assert rehearsal.finished
    assert rehearsal.received_once
    assert sorted(p.platform for p in rehearsal.received) == ["bluesky", "bluesky", "mastodon", "mastodon",
                                                              "x", "x", "x"]
    assert {entry.post.state for entry in rehearsal.entries} == {"sent"}


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_every_image_received_is_clean_decodable_within_limits_with_its_alt(rehearsal: service.Rehearsal) -> None:
    checked = 0
    for post in rehearsal.received:
        files = image_for(post)
        assert len(post.media) == len(files), f"{post.platform}: {post.text}"
        for file, media in zip(files, post.media, strict=True):
            where = f"{file} on {post.platform}"
            image = assert_clean_and_decodable(media, where)
            assert media.alt == ALTS[file], where
            limit = X_GIF_MAX_BYTES if media.mime_type == "image/gif" and post.platform == "x" \
                else STILL_LIMITS[post.platform]
            assert len(media.data) <= limit, f"{where}: {len(media.data):,} bytes, over {limit:,}"
            assert (media.width, media.height) == image.size, where
            if post.platform == "bluesky":
                assert max(image.size) <= BLUESKY_MAX_LONG_EDGE, where
            checked += 1
    assert checked == 3 * 5 + 1  # five images to three platforms, the animation to X


def received(rehearsal: service.Rehearsal, file: str) -> dict[str, Image.Image]:
    """Each platform's copy of ``file``, decoded."""
    copies = {}
    for post in rehearsal.received:
        for name, media in zip(image_for(post), post.media, strict=True):
            if name == file:
                copies[post.platform] = Image.open(io.BytesIO(media.data))
    return copies


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_the_rotated_phone_photo_arrives_upright(rehearsal: service.Rehearsal) -> None:
    copies = received(rehearsal, "phone.jpg")
    assert set(copies) == {"x", "mastodon", "bluesky"}
    for platform, image in copies.items():
        assert image.width < image.height, f"{platform}: {image.size} is not the upright portrait"
        rgb = image.convert("RGB")
        top, bottom = rgb.getpixel((image.width // 2, 5)), rgb.getpixel((image.width // 2, image.height - 5))
        assert top[0] > 200 and top[2] < 60, f"{platform}: the red band is not on top ({top})"
        assert bottom[2] > 200 and bottom[0] < 60, f"{platform}: the blue band is not at the bottom ({bottom})"


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_transparency_is_kept(rehearsal: service.Rehearsal) -> None:
    for platform, image in received(rehearsal, "alpha.png").items():
        assert image.mode in ("RGBA", "LA"), f"{platform}: {image.mode}"
        assert image.getpixel((0, 0))[-1] == 0 and image.getpixel((200, 150))[-1] == 255, platform


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_cmyk_and_16_bit_images_arrive_as_8_bit_srgb(rehearsal: service.Rehearsal) -> None:
    for platform, image in received(rehearsal, "cmyk.jpg").items():
        assert image.mode == "RGB", platform
        red, green, blue = image.getpixel((10, 10))
        assert red > 150 and green < 120 and blue < 120, f"{platform}: CMYK red came out as {(red, green, blue)}"
    for platform, image in received(rehearsal, "deep.png").items():
        assert image.mode in ("L", "RGB"), f"{platform}: {image.mode}"
        assert image.size == (300, 200)
        assert image.getextrema() in ((0, 255), ((0, 255),) * 3), platform  # the full range survived


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_the_huge_png_is_scaled_to_each_platform(rehearsal: service.Rehearsal) -> None:
    copies = received(rehearsal, "huge.png")
    assert max(copies["bluesky"].size) == BLUESKY_MAX_LONG_EDGE
    for platform, image in copies.items():
        assert image.width * image.height < 9000 * 6000, platform
        assert abs(image.width / image.height - 1.5) < 0.01, f"{platform}: {image.size} lost the aspect ratio"


@pytest.mark.slow  # shares one rehearsal of a few seconds
def test_the_animated_gif_stays_animated_on_x(rehearsal: service.Rehearsal) -> None:
    gif = received(rehearsal, "anim.gif")
    assert set(gif) == {"x"}
    assert gif["x"].format == "GIF" and gif["x"].n_frames == 3


# --- found before the storm ----------------------------------------------------------------------------------


BAD_POSTS = """
[[posts]]
id = "bad"
text = "Bad images #FreeThemAll"
accounts = ["net-x"]
images = [
  { file = "truncated.jpg", alt = "a" },
  { file = "../outside.png", alt = "b" },
  { file = "link.png", alt = "c" },
  { file = "bomb.png", alt = "d" },
]
"""


def test_validate_names_each_bad_file(tmp_path: Path) -> None:
    config = StormProject.create(tmp_path).config_path
    assets = tmp_path / "assets"
    whole = io.BytesIO()
    upright_portrait().save(whole, "JPEG", quality=90)
    (assets / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    Image.new("RGB", (10, 10)).save(tmp_path / "outside.png")
    os.symlink(tmp_path / "outside.png", assets / "link.png")
    Image.new("1", (10_000, 10_000)).save(assets / "bomb.png")  # 100 MP in a few kB
    assert (assets / "bomb.png").stat().st_size < 100_000
    write_campaign(tmp_path, "bad", utcnow() + timedelta(days=3), posts=BAD_POSTS)

    output = fails_cleanly(cli(config, "validate"))

    expectations = {
        "images[1].file": ["'assets/truncated.jpg' is damaged or truncated", "again"],
        "images[2].file": ["'../outside.png': '..' would leave the assets folder"],
        "images[3].file": ["'assets/link.png': it is a link that leads outside assets/"],
        "images[4].file": ["'assets/bomb.png' has too many pixels to decode safely", "decompression bomb"],
    }
    for field, words in expectations.items():
        assert f'posts[1] (id "bad").{field}:' in output, output
        for word in words:
            assert word in output, f"{word!r} missing for {field}: {output}"
    assert "4 error(s)" in output


ANIMATION_TO_BLUESKY = """
[[posts]]
id = "flag"
text = "Flags up #FreeThemAll"
accounts = ["net-x", "net-bluesky"]
images = [{ file = "anim.gif", alt = "A flag waving" }]
"""


@pytest.fixture
def animation_to_bluesky(tmp_path: Path) -> tuple[Path, Path]:
    config = StormProject.create(tmp_path).config_path
    frames = [Image.new("RGB", (60, 40), colour) for colour in ((200, 0, 0), (0, 0, 200))]
    frames[0].save(tmp_path / "assets" / "anim.gif", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return config, write_campaign(tmp_path, "flag", utcnow() + timedelta(days=3), posts=ANIMATION_TO_BLUESKY)


def assert_names_file_post_and_platform(output: str, campaign: Path) -> None:
    text = campaign.read_text().splitlines()
    line = next(n for n, row in enumerate(text, start=1) if "anim.gif" in row)
    assert f"{campaign}:{line}: posts[1] (id \"flag\").images[1].file: image 'assets/anim.gif' is an animated GIF, " \
           "and Bluesky shows animated GIFs as still images, so it is refused (account net-bluesky)" in output, output
    assert "account net-x" not in output  # X plays it: no complaint


def test_an_animated_gif_to_bluesky_is_a_validate_error(animation_to_bluesky: tuple[Path, Path]) -> None:
    config, campaign = animation_to_bluesky
    output = fails_cleanly(cli(config, "validate", str(campaign)))
    assert_names_file_post_and_platform(output, campaign)
    assert "1 error(s)" in output


def test_an_animated_gif_to_bluesky_is_a_plan_error(animation_to_bluesky: tuple[Path, Path]) -> None:
    config, campaign = animation_to_bluesky
    output = fails_cleanly(cli(config, "plan", str(campaign)))
    assert_names_file_post_and_platform(output, campaign)
    assert "anim.gif → GIF 60×40" in output  # X's copy is shown as it will go out
    assert "anim.gif → cannot be sent" in output
    assert output.count("animated GIFs as still images") == 1  # reported once, not again by the preparation


def test_queue_refuses_an_image_it_cannot_prepare_and_changes_nothing(tmp_path: Path) -> None:
    # No photo fits in 100 bytes: validation cannot know without encoding, the prepare step finds out.
    config = StormProject.create(tmp_path, extra="\n[limits.bluesky]\nimage_max_bytes = 100\n").config_path
    Image.effect_noise((300, 200), 80).save(tmp_path / "assets" / "card.png")
    campaign = write_campaign(tmp_path, "c", utcnow() + timedelta(days=3))

    output = fails_cleanly(cli(config, "queue", str(campaign)))

    assert ("posts[1] (id \"first\").images[1].file: image 'assets/card.png' cannot be made smaller than Bluesky's "
            "limit of 100 bytes (account net-bluesky); use a simpler or smaller image") in output, output
    with sqlite3.connect(tmp_path / "storm.db") as db:
        assert db.execute("select count(*) from posts").fetchone() == (0,)
    plan_output = fails_cleanly(cli(config, "plan", str(campaign)))
    assert "card.png → cannot be sent" in plan_output and "limit of 100 bytes" in plan_output


# --- per-account image profiles ------------------------------------------------------------------------------


def test_image_limits_come_from_the_config(tmp_path: Path) -> None:
    config_path = StormProject.create(tmp_path, extra="\n[limits.bluesky]\nimage_max_bytes = 2000000\n"
                                                 "\n[limits.mastodon]\nimage_max_bytes = 300000\n").config_path
    config = load_config(config_path)
    assert config.image_profile("net-bluesky").max_bytes == 2_000_000
    assert config.image_profile("net-mastodon").max_bytes == 300_000
    assert config.image_profile("net-x").max_bytes == X_IMAGE_MAX_BYTES
    defaults = load_config(StormProject.create(tmp_path / "defaults").config_path)
    assert defaults.image_profile("net-bluesky").max_bytes == 1_000_000
    assert defaults.image_profile("net-mastodon").max_bytes == 16_777_216

    Image.effect_noise((900, 600), 60).convert("RGB").save(tmp_path / "assets" / "card.png")
    campaign = write_campaign(tmp_path, "c", utcnow() + timedelta(days=3))
    media = service.image_sizes(service.plan(campaign, config), config)
    assert not media.problems
    shown = media.for_post("card.png", "net-mastodon")
    assert shown is not None and len(shown.data) <= 300_000
    assert len(media.for_post("card.png", "net-bluesky").data) > 1_000_000  # the 2,000,000 setting is used
    # What the daemon sends is what plan showed: queued, read back as the daemon reads it, loaded.
    with service.open_store(config) as store:
        service.queue(campaign, config, store)
        row = next(e.post for e in service.read_log(store)
                   if e.post.account_id == "net-mastodon" and e.post.images != "[]")
    assert service.image_loader(config)(row)[0].data == shown.data


def test_a_bluesky_image_limit_over_2_000_000_is_a_config_error(tmp_path: Path) -> None:
    config = StormProject.create(tmp_path, extra="\n[limits.bluesky]\nimage_max_bytes = 3000000\n").config_path
    write_campaign(tmp_path, "c", utcnow() + timedelta(days=3))
    output = fails_cleanly(cli(config, "validate"))
    assert "limits.bluesky.image_max_bytes" in output
    assert "3,000,000 bytes is above the 2,000,000 bytes Bluesky takes" in output
