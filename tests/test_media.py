"""The media pipeline on real files made with Pillow: what leaves the machine is upright, carries no
metadata, fits each platform and decodes; unusable files are refused with a clear ImageProblem."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageChops, ImageCms

from scheduler.media import (
    MAX_SOURCE_PIXELS,
    ImageProblem,
    ImageProfile,
    MediaCache,
    PreparedImage,
    image_refusal,
    inspect_image,
    prepare_image,
    resolve_asset,
)
from scheduler.platforms.base import Image as UploadImage
from scheduler.platforms.bluesky.facts import IMAGE_DEFAULT_MAX_BYTES as BLUESKY_DEFAULT_MAX_BYTES
from scheduler.platforms.mastodon.facts import GIF_MATRIX_LIMIT as MASTODON_GIF_MATRIX_LIMIT
from scheduler.platforms.registry import image_profile as profile_for
from scheduler.service.images import upload_image

PLATFORMS = ("x", "mastodon", "bluesky")
GPS_SECONDS = 12.34
XMP_PACKET = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="Secretville"/>'
              b"</rdf:RDF></x:xmpmeta>")


# --- making test files --------------------------------------------------------------------------------


def photo(size: tuple[int, int], grain: float = 20) -> Image.Image:
    """Gradient + grain: compresses like a photo (JPEG size grows with quality and area)."""
    gradient = Image.linear_gradient("L").resize(size)
    base = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient.rotate(90)))
    noise = Image.effect_noise(size, grain)
    return ImageChops.add(base, Image.merge("RGB", (noise, noise, noise)), offset=-128)


def phone_exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phonemaker"
    exif[ExifTags.Base.Model] = "Pocket 12"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, GPS_SECONDS)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, GPS_SECONDS)
    return exif


def upright_scene(size: tuple[int, int] = (400, 600)) -> Image.Image:
    """Portrait scene with a red band at the top and a blue band at the bottom."""
    scene = photo(size, grain=8)
    scene.paste((255, 0, 0), (0, 0, size[0], size[1] // 5))
    scene.paste((0, 0, 255), (0, size[1] * 4 // 5, size[0], size[1]))
    return scene


@pytest.fixture
def rotated_phone_photo(tmp_path: Path) -> Path:
    """What a phone held upright writes: pixels stored sideways, EXIF orientation 6, GPS, XMP, comment."""
    stored = upright_scene().rotate(90, expand=True)  # orientation 6 = rotate 90° clockwise to display
    path = tmp_path / "phone.jpg"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    stored.save(path, "JPEG", quality=90, exif=phone_exif(6), xmp=XMP_PACKET, comment=b"taken at the rally",
                icc_profile=srgb)
    return path


def _metadata_part(data: bytes) -> bytes:
    """Where metadata can be in the file: all of it but the compressed pixels, in which any three bytes (like
    "GPS") turn up by chance in a large file (JPEG: before the scan starts; PNG: every chunk but IDAT)."""
    if data.startswith(b"\xff\xd8"):
        return data[:data.find(b"\xff\xda")]
    if data.startswith(b"\x89PNG"):
        kept, position = [data[:8]], 8
        while position + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[position:position + 8])
            if kind != b"IDAT":
                kept.append(data[position:position + 12 + length])
            position += 12 + length
        return b"".join(kept)
    return data


def assert_clean(data: bytes) -> Image.Image:
    """Decodes, and carries no EXIF, GPS, XMP, comment, IPTC or non-sRGB colour profile."""
    image = Image.open(io.BytesIO(data))
    image.load()
    assert not image.getexif(), "EXIF left in the output"
    leaked = {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc"} & set(image.info)
    assert not leaked, f"metadata left in the output: {leaked}"
    if "extension" in image.info:  # GIF application extension: only the looping one is expected
        assert image.info["extension"][0] == b"NETSCAPE2.0"
    if "icc_profile" in image.info:
        description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"])))
        assert "sRGB" in description
    outside_pixels = _metadata_part(data)
    for marker in (b"Exif\x00\x00", b"xmpmeta", b"Secretville", b"rally", b"Phonemaker", b"GPS"):
        assert marker not in outside_pixels, f"{marker!r} found in the output bytes"
    return image


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 200 and pixel[1] < 60 and pixel[2] < 60


def is_blue(pixel: tuple[int, ...]) -> bool:
    return pixel[2] > 200 and pixel[0] < 60 and pixel[1] < 60


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG claiming ``width``x``height`` pixels: the classic decompression bomb shape."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def wide_gamut_icc() -> bytes:
    """A minimal ICC v2 RGB display profile with Adobe RGB (1998) primaries (D50-adapted) and gamma 2.2."""
    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    name = b"Wide test RGB\0"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(name)) + name + b"\0" * 8 + b"\0" * 3 + b"\0" * 67)
    gamma = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 0x0233) + b"\0\0"  # u8Fixed8 2.2, padded
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
            (b"gXYZ", xyz(0.2052, 0.6257, 0.0609)), (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
            (b"rTRC", gamma), (b"gTRC", gamma), (b"bTRC", gamma),
            (b"cprt", b"text" + b"\0" * 4 + b"no copyright\0\0\0\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
              + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249)
              + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


# --- orientation and metadata ---------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_rotated_phone_photo_goes_out_upright_and_without_metadata(rotated_phone_photo: Path, platform: str) -> None:
    prepared = prepare_image(rotated_phone_photo, profile_for(platform))

    image = assert_clean(prepared.data)
    assert prepared.mime_type == "image/jpeg" and image.format == "JPEG"
    assert (prepared.width, prepared.height) == image.size == (400, 600)
    assert is_red(image.getpixel((200, 20))), "the top of the upright photo should be the red band"
    assert is_blue(image.getpixel((200, 580)))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_large_phone_photo_shrunk_for_bluesky_is_upright_clean_and_near_the_limit(tmp_path: Path,
                                                                                  orientation: int) -> None:
    """The fast path (reduced YCbCr decode, turned, our quantisation tables): upright, no metadata, within
    2000 px and the byte limit, using most of it."""
    turns = {3: 180, 6: 90, 8: 270}  # how the phone stores what is upright
    stored = upright_scene((1800, 2400)).rotate(turns[orientation], expand=True)
    path = tmp_path / "rally.jpg"
    stored.save(path, "JPEG", quality=95, exif=phone_exif(orientation), xmp=XMP_PACKET, comment=b"taken at the rally")
    profile = profile_for("bluesky", max_bytes=300_000)

    prepared = prepare_image(path, profile)

    image = assert_clean(prepared.data).convert("RGB")
    assert (prepared.width, prepared.height) == image.size == (1500, 2000)
    assert is_red(image.getpixel((750, 40))) and is_blue(image.getpixel((750, 1960)))
    assert 0.8 * profile.max_bytes <= len(prepared.data) <= profile.max_bytes


def test_jpeg_stored_as_rgb_keeps_its_colours(tmp_path: Path) -> None:
    """A JPEG coded as RGB (no YCbCr transform) is decoded as RGB, not misread as YCbCr."""
    path = tmp_path / "rgb.jpg"
    upright_scene().save(path, "JPEG", quality=95, keep_rgb=True)
    assert Image.open(path).info.get("adobe_transform") == 0

    image = assert_clean(prepare_image(path, profile_for("bluesky")).data).convert("RGB")

    assert is_red(image.getpixel((200, 20))) and is_blue(image.getpixel((200, 580)))


def test_inspect_reports_upright_size_and_metadata(rotated_phone_photo: Path) -> None:
    info = inspect_image(rotated_phone_photo)

    assert (info.format, info.width, info.height, info.orientation) == ("JPEG", 400, 600, 6)
    assert info.has_metadata and not info.animated and info.frames == 1
    assert info.byte_size == rotated_phone_photo.stat().st_size


def test_inspect_sees_a_file_changed_since_it_last_looked(tmp_path: Path) -> None:
    path = tmp_path / "card.png"
    Image.new("RGB", (40, 30)).save(path)
    assert inspect_image(path).width == 40
    path.write_bytes(b"not an image any more")
    with pytest.raises(ImageProblem, match="not a JPEG"):
        inspect_image(path)
    Image.new("RGB", (50, 30)).save(path)
    assert inspect_image(path).width == 50


def test_wide_gamut_photo_is_converted_to_srgb(tmp_path: Path) -> None:
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (64, 64), (60, 160, 60)).save(path, "JPEG", quality=100, icc_profile=wide_gamut_icc())

    prepared = prepare_image(path, profile_for("bluesky"))

    image = assert_clean(prepared.data)
    assert "icc_profile" not in image.info, "sent untagged: browsers read untagged images as sRGB"
    # The same colour expressed in sRGB (LittleCMS says (0, 161, 47)), not the wide-gamut numbers.
    assert image.getpixel((32, 32)) == pytest.approx((0, 161, 47), abs=4)


def test_unusable_colour_profile_is_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "xyz.jpg"
    xyz = ImageCms.ImageCmsProfile(ImageCms.createProfile("XYZ")).tobytes()
    photo((300, 200)).save(path, "JPEG", icc_profile=xyz)

    prepared = prepare_image(path, profile_for("x"))

    assert "icc_profile" not in assert_clean(prepared.data).info


# --- modes and formats -----------------------------------------------------------------------------------


def test_png_with_alpha_keeps_its_transparency(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    logo = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    logo.paste((255, 0, 0, 255), (100, 50, 200, 150))
    logo.save(path, exif=phone_exif(1))

    for platform in PLATFORMS:
        prepared = prepare_image(path, profile_for(platform))
        image = assert_clean(prepared.data).convert("RGBA")
        assert prepared.mime_type == "image/png"
        assert image.getpixel((10, 10))[3] == 0, f"{platform}: transparency lost"
        assert image.getpixel((150, 100)) == (255, 0, 0, 255)


def test_alpha_photo_too_big_for_png_stays_transparent_as_webp_on_bluesky(tmp_path: Path) -> None:
    path = tmp_path / "cutout.png"
    cutout = photo((1500, 1000), grain=40).convert("RGBA")
    cutout.putalpha(Image.linear_gradient("L").resize((1500, 1000)))
    cutout.save(path)

    prepared = prepare_image(path, profile_for("bluesky"))

    image = assert_clean(prepared.data)
    assert len(prepared.data) <= BLUESKY_DEFAULT_MAX_BYTES
    assert prepared.mime_type in ("image/webp", "image/png")
    assert image.mode == "RGBA" and image.getextrema()[3][0] < 10


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = tmp_path / "poster.jpg"
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(path, "JPEG", quality=95)  # red ink

    prepared = prepare_image(path, profile_for("bluesky"))

    image = assert_clean(prepared.data)
    assert image.mode == "RGB" and prepared.mime_type == "image/jpeg"
    assert is_red(image.getpixel((150, 100)))


def test_multi_picture_jpeg_from_a_camera_sends_its_main_picture(tmp_path: Path) -> None:
    path = tmp_path / "camera.jpg"
    main, preview = Image.new("RGB", (400, 300), (255, 0, 0)), Image.new("RGB", (400, 300), (0, 0, 255))
    main.save(path, "MPO", save_all=True, append_images=[preview])
    assert Image.open(path).format == "MPO"

    prepared = prepare_image(path, profile_for("bluesky"))  # not refused as an "animation"

    image = assert_clean(prepared.data)
    assert prepared.mime_type == "image/jpeg" and is_red(image.getpixel((200, 150)))
    assert inspect_image(path).animated is False


def test_16_bit_png_is_scaled_to_8_bit_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    ramp = Image.linear_gradient("L").resize((256, 256)).convert("I").point(lambda value: value * 257)
    ramp.convert("I;16").save(path)
    assert Image.open(path).mode.startswith("I")

    prepared = prepare_image(path, profile_for("x"))

    image = assert_clean(prepared.data)
    assert image.mode == "L"
    low, high = image.getextrema()
    assert low <= 2 and high >= 253, "16-bit values must be scaled into 0..255"
    assert 100 < image.getpixel((128, 128)) < 155


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    path = tmp_path / "sticker.png"
    sticker = Image.new("P", (120, 80), 0)
    sticker.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    sticker.paste(1, (40, 20, 80, 60))
    sticker.save(path, transparency=0)

    image = assert_clean(prepare_image(path, profile_for("mastodon")).data).convert("RGBA")

    assert image.getpixel((5, 5))[3] == 0 and image.getpixel((60, 40)) == (0, 200, 0, 255)


def test_huge_png_is_downscaled_to_fit(tmp_path: Path) -> None:
    path = tmp_path / "banner.png"
    photo((3200, 2400), grain=30).save(path, compress_level=1)
    assert path.stat().st_size > BLUESKY_DEFAULT_MAX_BYTES

    bluesky = prepare_image(path, profile_for("bluesky"))
    small_instance = prepare_image(path, profile_for("mastodon", max_bytes=600_000, max_pixels=2_000_000))

    assert max(bluesky.width, bluesky.height) <= 2000 and len(bluesky.data) <= BLUESKY_DEFAULT_MAX_BYTES
    assert bluesky.width / bluesky.height == pytest.approx(4 / 3, rel=0.01)
    assert small_instance.width * small_instance.height <= 2_000_000 and len(small_instance.data) <= 600_000
    for prepared in (bluesky, small_instance):
        assert assert_clean(prepared.data).size == (prepared.width, prepared.height)


# --- limits per profile -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "crowd.jpg"
    photo((3000, 2000), grain=45).save(path, "JPEG", quality=95, exif=phone_exif(1))
    return path


@pytest.mark.parametrize("profile", [
    profile_for("x"), profile_for("mastodon"), profile_for("bluesky"),
    profile_for("bluesky", max_bytes=2_000_000), profile_for("mastodon", max_bytes=250_000),
], ids=["x", "mastodon", "bluesky", "bluesky-2MB", "mastodon-250kB"])
def test_output_is_under_the_limits_and_decodes(big_photo: Path, profile: ImageProfile) -> None:
    prepared = prepare_image(big_photo, profile)

    image = assert_clean(prepared.data)
    assert len(prepared.data) <= profile.max_bytes
    assert image.size == (prepared.width, prepared.height)
    if profile.max_long_edge:
        assert max(image.size) <= profile.max_long_edge
    if profile.max_pixels:
        assert image.width * image.height <= profile.max_pixels


def test_tighter_limit_means_fewer_bytes_but_not_tiny(big_photo: Path) -> None:
    roomy = prepare_image(big_photo, profile_for("bluesky", max_bytes=2_000_000))
    tight = prepare_image(big_photo, profile_for("bluesky"))

    assert len(tight.data) < len(roomy.data)
    assert len(tight.data) > 0.7 * BLUESKY_DEFAULT_MAX_BYTES, "the byte budget should be used, not wasted"


def test_profile_for_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError, match="2,000,000"):
        profile_for("bluesky", max_bytes=3_000_000)
    with pytest.raises(ValueError, match="unknown platform"):
        profile_for("myspace")
    assert profile_for("mastodon", max_bytes=8_000_000, max_pixels=8_294_400).max_pixels == 8_294_400


# --- animation ----------------------------------------------------------------------------------------------


@pytest.fixture
def animated_gif(tmp_path: Path) -> Path:
    path = tmp_path / "wave.gif"
    frames = [Image.new("RGB", (1600, 900), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0,
                   comment=b"made in the basement")
    return path


def test_animated_gif_stays_animated_on_x(animated_gif: Path) -> None:
    prepared = prepare_image(animated_gif, profile_for("x"))

    image = assert_clean(prepared.data)
    assert prepared.mime_type == "image/gif" and image.n_frames == 3
    assert image.width <= 1280 and image.height <= 1080
    durations = []
    for index in range(3):
        image.seek(index)
        durations.append(image.info["duration"])
    assert durations == [100, 200, 300]


def test_animated_gif_on_mastodon_fits_the_gif_pixel_limit(animated_gif: Path) -> None:
    prepared = prepare_image(animated_gif, profile_for("mastodon"))

    assert prepared.mime_type == "image/gif" and prepared.width * prepared.height <= MASTODON_GIF_MATRIX_LIMIT
    assert assert_clean(prepared.data).n_frames == 3


def test_animated_gif_is_refused_on_bluesky_unless_first_frame_allowed(animated_gif: Path) -> None:
    with pytest.raises(ImageProblem, match="animated GIF.*Bluesky"):
        prepare_image(animated_gif, profile_for("bluesky"))
    refusal = image_refusal(inspect_image(animated_gif), profile_for("bluesky"))  # what validate says
    assert refusal is not None and "Bluesky shows animated GIFs as still images" in str(refusal)
    assert image_refusal(inspect_image(animated_gif), profile_for("x")) is None
    assert image_refusal(inspect_image(animated_gif), profile_for("bluesky", still_from_animation=True)) is None

    still = prepare_image(animated_gif, profile_for("bluesky", still_from_animation=True))

    image = assert_clean(still.data)
    assert still.mime_type != "image/gif" and getattr(image, "n_frames", 1) == 1
    assert is_red(image.convert("RGB").getpixel((10, 10)))


# --- unusable files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_truncated_file_is_found_at_validation(tmp_path: Path, kind: str) -> None:
    whole = io.BytesIO()
    photo((800, 600)).save(whole, kind.upper())
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])

    with pytest.raises(ImageProblem, match="damaged or truncated") as caught:
        inspect_image(path)
    assert str(path) in str(caught.value) and "again" in str(caught.value)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("meet at the square at noon")

    with pytest.raises(ImageProblem, match="not a JPEG, PNG, GIF or WEBP image"):
        inspect_image(path)


@pytest.mark.parametrize("width, height", [(9000, 8000), (20000, 20000)], ids=["ours", "pillow"])
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, width: int, height: int) -> None:
    assert width * height > MAX_SOURCE_PIXELS  # 72 MP is under Pillow's own threshold, 400 MP over it
    path = png_header_only(tmp_path / "bomb.png", width, height)

    with pytest.raises(ImageProblem, match="decompression bomb"):
        inspect_image(path)
    with pytest.raises(ImageProblem, match="decompression bomb"):
        prepare_image(path, profile_for("x"))


# --- paths ------------------------------------------------------------------------------------------------------


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    folder = tmp_path / "assets"
    (folder / "photos").mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(folder / "photos" / "a.png")
    Image.new("RGB", (10, 10)).save(tmp_path / "secret.png")
    return folder


def test_asset_inside_the_folder_resolves(assets: Path) -> None:
    os.symlink(assets / "photos" / "a.png", assets / "alias.png")

    assert resolve_asset(assets, "photos/a.png") == (assets / "photos" / "a.png").resolve()
    assert resolve_asset(assets, "alias.png") == (assets / "photos" / "a.png").resolve()


@pytest.mark.parametrize("name, message", [
    ("../secret.png", r"'\.\.'"),
    ("photos/../../secret.png", r"'\.\.'"),
    ("/etc/passwd", "absolute"),
    ("C:/Users/x.png", "absolute"),
    ("photos\\a.png", "backslash"),
    ("photos/missing.png", "no such file"),
    ("photos", "not a file"),
    ("", "empty"),
])
def test_bad_asset_paths_are_refused(assets: Path, name: str, message: str) -> None:
    with pytest.raises(ImageProblem, match=message):
        resolve_asset(assets, name)


def test_link_pointing_outside_assets_is_refused(assets: Path) -> None:
    os.symlink(assets.parent / "secret.png", assets / "photos" / "innocent.png")
    os.symlink(assets.parent, assets / "up")

    for name in ("photos/innocent.png", "up/secret.png"):
        with pytest.raises(ImageProblem, match="outside"):
            resolve_asset(assets, name)


# --- upload and cache -----------------------------------------------------------------------------------------


def test_as_upload_gives_the_publishers_image_with_a_generic_name(rotated_phone_photo: Path) -> None:
    upload = upload_image(prepare_image(rotated_phone_photo, profile_for("x")), "Marchers with a banner")

    assert isinstance(upload, UploadImage)
    assert (upload.filename, upload.mime_type, upload.alt) == ("image.jpg", "image/jpeg", "Marchers with a banner")
    assert (upload.width, upload.height) == (400, 600)


def test_cache_prepares_once_and_serves_from_disk(tmp_path: Path, rotated_phone_photo: Path) -> None:
    cache = MediaCache(tmp_path / "cache")
    profiles = [profile_for(platform) for platform in PLATFORMS]
    assert cache.lookup(rotated_phone_photo, profiles[0]) is None
    calls: list[tuple[int, int, Path]] = []

    made = cache.prepare_all([(rotated_phone_photo, p) for p in profiles],
                             progress=lambda done, total, path: calls.append((done, total, path)))

    assert calls == [(1, 3, rotated_phone_photo), (2, 3, rotated_phone_photo), (3, 3, rotated_phone_photo)]
    assert all(isinstance(p, PreparedImage) for p in made)
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700
    for profile, prepared in zip(profiles, made, strict=True):
        assert cache.lookup(rotated_phone_photo, profile) == prepared
        assert cache.get(rotated_phone_photo, profile) == prepared
    # A variant made for another limit is another entry.
    assert cache.lookup(rotated_phone_photo, profile_for("bluesky", max_bytes=2_000_000)) is None


def test_cache_follows_content_not_name_and_remakes_damaged_entries(tmp_path: Path, rotated_phone_photo: Path) -> None:
    cache = MediaCache(tmp_path / "cache")
    bluesky = profile_for("bluesky")
    first = cache.get(rotated_phone_photo, bluesky)

    for entry in (tmp_path / "cache").glob("*.img"):
        entry.write_bytes(b"garbage")
    assert cache.lookup(rotated_phone_photo, bluesky) is None
    assert cache.get(rotated_phone_photo, bluesky) == first

    Image.new("RGB", (50, 50), (0, 128, 0)).save(rotated_phone_photo, "JPEG")  # same name, new content
    assert cache.lookup(rotated_phone_photo, bluesky) is None
    assert cache.get(rotated_phone_photo, bluesky).sha256 != first.sha256


def test_prepare_all_reports_every_bad_file(tmp_path: Path, rotated_phone_photo: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    x = profile_for("x")

    with pytest.raises(ImageProblem) as caught:
        MediaCache(tmp_path / "cache").prepare_all([(broken, x), (rotated_phone_photo, x), (text, x)])

    assert "broken.png" in str(caught.value) and "text.jpg" in str(caught.value)
    assert "phone.jpg" not in str(caught.value)
