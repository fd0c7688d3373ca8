"""Campaign images → platform-ready bytes, with nothing in them that could endanger anyone.

Every image that leaves the machine goes through :func:`prepare_image`: turned upright by its EXIF
orientation, stripped of all metadata (EXIF, GPS, XMP, IPTC, comments, maker notes, ICC profiles: the
pixels are converted to sRGB and sent untagged, which every browser reads as sRGB), converted to a
format the platform takes, and scaled and compressed to fit the platform's byte and pixel limits with
as much quality as those limits allow.

Problems with a user's file are found at validation time (:func:`resolve_asset`, :func:`inspect_image`)
and raised as :class:`ImageProblem`, whose message names the file and says what to do.

:class:`MediaCache` keeps prepared variants on disk, keyed by the source's content hash and the
profile, so a storm does no image work at the storm instant.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import struct
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

from PIL import Image, ImageCms, JpegImagePlugin, UnidentifiedImageError

# --- Limits of our own (safety, not platform facts) -------------------------------------------------

# Largest source image we agree to decode. 64 MP covers every current phone and camera sensor
# (48 MP iPhone main camera = 8064x6048 = 48.8 MP; 50 MP Android sensors = 8160x6144 = 50.1 MP) with
# room, while bounding decode memory to about 256 MB (RGBA, 4 bytes a pixel). Pillow's own bomb
# warning only starts at 89.5 MP (Image.MAX_IMAGE_PIXELS) and its error at twice that.
MAX_SOURCE_PIXELS = 64_000_000
# Total pixels over all frames of an animation we agree to decode (300 M is also X's GIF limit below).
MAX_ANIMATION_PIXELS = 300_000_000
# A source file larger than this is refused before reading it (no campaign photo needs more).
MAX_SOURCE_BYTES = 100 * 1024 * 1024
# Source formats we open. Pillow can read many more (FITS, PSD, ...): each is attack surface we do not
# need. Multi-picture JPEGs (MPO, written by many phones and cameras) come through the JPEG opener.
SOURCE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
LOSSLESS_SOURCE_FORMATS = frozenset({"PNG", "GIF"})
# Bump when the pipeline's output changes, so cached variants are remade.
PIPELINE_VERSION = "2"

# JPEG/WEBP quality window: above the top, bytes grow fast for no visible gain; below 60 artefacts show, and
# a smaller image at a decent quality looks better than a large blocky one. JPEG qualities scale our own
# tables (_JPEG_LUMA_TABLE, below), whose 95 costs about what libjpeg's standard tables cost at 93; WEBP's
# are rounded to whole numbers.
QUALITY_MAX = 95
QUALITY_MIN = 60
# The quality search stops when the fitting and the failing quality are this close (JPEG tables scale
# continuously with quality, so the largest file under the limit can be approached in fractions).
QUALITY_STEP = 0.25
# ... and accepts a quality predicted to fill at least this much of the byte budget.
QUALITY_CLOSE = 0.97
# How fast JPEG sizes grow near the top qualities (natural log of size per quality point, 0.08-0.09 on
# photos between 92 and 95): the first guess of the search.
_TYPICAL_LOG_SLOPE = 0.085
# Quality aimed at when the image must be downscaled to fit.
QUALITY_WHEN_DOWNSCALING = 80
# Keep the final file this far under the limit (containers, rounding, estimate errors).
BYTES_SAFETY_MARGIN = 0.98
# A full PNG encode is tried when the sample predicts at most this much over the limit.
PNG_ESTIMATE_SLACK = 1.15

MIME_JPEG = "image/jpeg"
MIME_PNG = "image/png"
MIME_GIF = "image/gif"
MIME_WEBP = "image/webp"
EXTENSIONS = {MIME_JPEG: "jpg", MIME_PNG: "png", MIME_GIF: "gif", MIME_WEBP: "webp"}

class ImageProblem(Exception):
    """A campaign image that cannot be used; the message names the file and says what to do.

    ``shown`` is the file as the organizer knows it: quoted (a space at the end of a name shows) and relative
    to the project folder, ``'assets/card.png'``, wherever the file was found (see :func:`resolve_asset`).
    """

    def __init__(self, path: Path | str, problem: str, advice: str, *, shown: str | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        self.advice = advice
        self.shown = shown if shown is not None else repr(_shown_name(self.path))
        super().__init__(f"{self.what}. {advice}")

    @property
    def what(self) -> str:
        """The file and what is wrong with it: "image 'assets/a.gif' is an animated GIF...", "image
        'assets/b.png': the file is empty (0 bytes)"."""
        verb = self.problem.split(" ", 1)[0] in ("is", "has", "cannot", "could")
        return f"image {self.shown}{' ' if verb else ': '}{self.problem}"

    def sentence(self, detail: str = "") -> str:
        """One sentence for a problem list: the file, what is wrong (with ``detail``, e.g. who sends it), what
        to do."""
        return f"{self.what}{detail}; {self.advice[:1].lower()}{self.advice[1:]}"


# --- Profiles ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageProfile:
    """What one platform (or one server of it) accepts for a still or animated image. Each platform's
    wing makes its own (``platforms/<name>/facts.py``); this module only follows it."""

    name: str
    display_name: str
    max_bytes: int
    max_pixels: int | None = None          # width * height
    max_long_edge: int | None = None
    formats: frozenset[str] = frozenset({MIME_JPEG, MIME_PNG})  # MIME types accepted
    animated_gif: bool = False              # animation kept (as GIF) where True
    animated_gif_max_bytes: int | None = None
    animated_gif_max_pixels: int | None = None
    animated_gif_max_size: tuple[int, int] | None = None  # (width, height) box
    animated_gif_max_frames: int | None = None
    animated_gif_max_total_pixels: int | None = None      # width * height * frames
    still_from_animation: bool = False      # where animation is not allowed: send the first frame

    @cached_property
    def key(self) -> str:
        """A short stable string that changes whenever anything affecting the output changes."""
        fields = (
            self.name, self.max_bytes, self.max_pixels, self.max_long_edge, sorted(self.formats),
            self.animated_gif, self.animated_gif_max_bytes, self.animated_gif_max_pixels,
            self.animated_gif_max_size, self.animated_gif_max_frames, self.animated_gif_max_total_pixels,
            self.still_from_animation, PIPELINE_VERSION,
        )
        return hashlib.sha256(json.dumps(fields, default=list).encode()).hexdigest()[:16]


# --- Assets and inspection ----------------------------------------------------------------------------


_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")

# How the organizer knows each file resolve_asset found: its resolved path -> its name relative to the project
# (the assets folder's parent, config.toml's folder). A file's problems found later (inspect_image,
# prepare_image: they see only the resolved path) name it so too.
_SHOWN: dict[str, str] = {}
_SHOWN_LOCK = threading.Lock()
SHOWN_MEMO_SIZE = 4096


def project_name(assets_dir: Path, name: str) -> str:
    """The image ``name`` (as a campaign file gives it, relative to ``assets_dir``) relative to the project
    folder: ``assets/card.png``."""
    return f"{assets_dir.name}/{name}"


def _shown_name(path: str) -> str:
    with _SHOWN_LOCK:
        return _SHOWN.get(path, path)


def _remember_name(real: Path, shown: str) -> None:
    with _SHOWN_LOCK:
        if len(_SHOWN) >= SHOWN_MEMO_SIZE:
            _SHOWN.clear()
        _SHOWN[str(real)] = shown


def resolve_asset(assets_dir: Path, name: str) -> Path:
    """The real path of the image ``name`` under ``assets_dir`` (the ``assets`` folder of the project).

    Problems name the file quoted and relative to the project folder (``'assets/card.png'``), here and when
    the file is inspected or prepared later.

    :raises ImageProblem: for ``..``, absolute paths, links leading outside the assets folder, a
        missing file or something that is not a file.
    """
    folder = f"{assets_dir.name}/"
    shown = repr(project_name(assets_dir, name))
    as_written = repr(name)
    keep_inside = f"Give a path inside {folder}, like photos/banner.jpg"
    if not name or not name.strip():
        raise ImageProblem(name, "the image path is empty", keep_inside, shown=as_written)
    if "\\" in name:
        raise ImageProblem(name, "the path contains a backslash", "Use / between folder names", shown=as_written)
    if "\0" in name:  # no file system takes it (the path functions raise ValueError)
        raise ImageProblem(name, "the path contains a NUL character", "Remove it from the name", shown=as_written)
    if name.startswith("/") or _WINDOWS_DRIVE.match(name):
        raise ImageProblem(name, "absolute paths are not allowed", keep_inside, shown=as_written)
    if ".." in PurePosixPath(name).parts:
        raise ImageProblem(name, "'..' would leave the assets folder", keep_inside, shown=as_written)
    try:
        root = assets_dir.resolve(strict=True)
    except OSError:
        raise ImageProblem(
            name, f"the assets folder {folder} does not exist", "Create it and put the images there", shown=shown
        ) from None
    candidate = assets_dir / name
    try:
        real = candidate.resolve()
        if not real.is_relative_to(root):
            raise ImageProblem(
                name, f"it is a link that leads outside {folder}",
                "Copy the image into the assets folder instead of linking to it", shown=shown,
            )
        if not real.exists():
            raise ImageProblem(name, f"no such file in {folder}{_near_names(candidate)}",
                               "Check the spelling, or add the file", shown=shown)
        if not real.is_file():
            raise ImageProblem(name, "it is not a file", "Name an image file, not a folder", shown=shown)
    except OSError as error:  # a name the file system cannot hold (too long, ...)
        raise ImageProblem(name, f"cannot be read ({error.strerror or error.__class__.__name__})",
                           "Check the file name", shown=shown) from None
    _remember_name(real, project_name(assets_dir, name))
    return real


def _near_names(missing: Path) -> str:
    """For a missing file: the file of the same folder whose name differs only in spaces at its ends (a space
    nobody sees), as a hint; else nothing."""
    wanted = missing.name.strip()
    try:
        near = [entry.name for entry in missing.parent.iterdir() if entry.name.strip() == wanted]
    except OSError:
        return ""
    return f" (there is {near[0]!r}: the two names differ in spaces at their ends)" if near else ""


@dataclass(frozen=True)
class ImageInfo:
    path: Path
    format: str           # Pillow's name: JPEG, PNG, GIF, WEBP, MPO
    width: int            # as displayed (after the EXIF orientation)
    height: int
    mode: str
    frames: int
    animated: bool
    byte_size: int
    has_metadata: bool    # EXIF, XMP, ICC, comments, text chunks...
    orientation: int      # EXIF orientation 1..8 (1 = upright already)


# Keys of Image.info that carry metadata (everything but how to decode the pixels).
_METADATA_KEYS = frozenset({
    "exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop", "iptc", "adobe",
    "Description", "Comment", "Author", "Software", "Title", "Copyright", "Creation Time", "Source",
    "Disclaimer", "Warning", "mp", "mpoffset",
})
# How to turn an image of each EXIF orientation upright (as ImageOps.exif_transpose does).
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# EXIF orientations whose upright image has width and height swapped.
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


@contextmanager
def _open_image(path: Path) -> Iterator[Image.Image]:
    """Open ``path`` for decoding; every failure (inside the ``with`` too) becomes an ImageProblem."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageProblem(path, f"cannot be read ({error.strerror})",
                           "Check the file exists and is readable") from None
    if size == 0:
        raise ImageProblem(path, "the file is empty (0 bytes)",
                           "Save or copy the image again: an interrupted copy or download leaves an empty file")
    if size > MAX_SOURCE_BYTES:
        raise ImageProblem(
            path, f"the file is {size / 1e6:.0f} MB, more than the {MAX_SOURCE_BYTES / 1e6:.0f} MB accepted",
            "Export a smaller copy (a JPEG of a few MB is plenty)",
        )
    # Pillow's bomb warning becomes an error. (catch_warnings touches process-wide state; our own
    # pixel check below is stricter than Pillow's threshold and does not depend on it.)
    # ImageFile.LOAD_TRUNCATED_IMAGES must stay False (Pillow's default) for truncation to be found.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=SOURCE_FORMATS) as image:
                _refuse_bomb(path, image)
                yield image
        except ImageProblem:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb_problem(path) from None
        except UnidentifiedImageError:
            raise ImageProblem(
                path, "is not a JPEG, PNG, GIF or WEBP image", "Convert it to JPEG or PNG",
            ) from None
        except (PermissionError, IsADirectoryError, FileNotFoundError) as error:
            raise ImageProblem(path, f"cannot be read ({error.strerror})",
                               "Check the file exists and is readable") from None
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as error:
            raise ImageProblem(
                path, f"is damaged or truncated ({error})", "Export or download the image again"
            ) from None


def _bomb_problem(path: Path) -> ImageProblem:
    return ImageProblem(
        path,
        f"has too many pixels to decode safely (more than {MAX_SOURCE_PIXELS:,}; possibly a "
        "decompression bomb)",
        "Use a smaller export of the image",
    )


def _refuse_bomb(path: Path, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_SOURCE_PIXELS or width <= 0 or height <= 0:
        raise _bomb_problem(path)
    frames = getattr(image, "n_frames", 1)
    if frames * width * height > MAX_ANIMATION_PIXELS:
        raise ImageProblem(
            path, f"is an animation of {frames} frames of {width}x{height}, too much to decode safely",
            "Use a shorter or smaller animation",
        )


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not stop us: it is dropped anyway
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _has_exif(image: Image.Image) -> bool:
    try:
        return bool(image.getexif())
    except Exception:  # a damaged EXIF block is still metadata, and is dropped anyway
        return True


def _decode_all_frames(image: Image.Image) -> None:
    """Fully decode every frame (finds truncated or corrupt data now, not at storm time)."""
    for index in range(getattr(image, "n_frames", 1)):
        if index:
            image.seek(index)
        image.load()
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)


# inspect_image's answers for files that have not changed since (validation inspects each image once
# for the campaign's own checks and once per platform check; a full decode of a large photo takes ~1 s).
_INSPECTED: dict[tuple[str, int, int, int, int, int], ImageInfo] = {}
_INSPECTED_LOCK = threading.Lock()
INSPECTED_MEMO_SIZE = 512


def _file_identity(path: Path) -> tuple[str, int, int, int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def inspect_image(path: Path) -> ImageInfo:
    """Open, fully decode and describe the image at ``path`` (remembered while the file is unchanged).

    :raises ImageProblem: unreadable, not an image, damaged or truncated, or too large to decode safely.
    """
    path = Path(path)
    identity = _file_identity(path)
    with _INSPECTED_LOCK:
        known = _INSPECTED.get(identity) if identity else None
    if known is not None:
        return known
    info = _inspect(path)
    if identity is not None:
        with _INSPECTED_LOCK:
            if len(_INSPECTED) >= INSPECTED_MEMO_SIZE:
                _INSPECTED.clear()
            _INSPECTED[identity] = info
    return info


def _inspect(path: Path) -> ImageInfo:
    with _open_image(path) as image:
        if image.format == "PNG":
            image.verify()  # checks every chunk's CRC; the image must be reopened afterwards
    with _open_image(path) as image:
        orientation = _orientation(image)
        extension = image.info.get("extension")  # GIF application block; NETSCAPE2.0 only loops
        has_metadata = (bool(_METADATA_KEYS & set(image.info)) or _has_exif(image)
                        or (isinstance(extension, tuple) and extension[0] != b"NETSCAPE2.0"))
        frames = getattr(image, "n_frames", 1)
        animated = bool(getattr(image, "is_animated", False))
        fmt, mode, (width, height) = image.format or "?", image.mode, image.size
        _decode_all_frames(image)
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(
        path=path, format=fmt, width=width, height=height, mode=mode, frames=frames,
        animated=animated and fmt != "MPO", byte_size=path.stat().st_size,
        has_metadata=has_metadata, orientation=orientation,
    )


def image_refusal(info: ImageInfo, profile: ImageProfile) -> ImageProblem | None:
    """Why ``profile``'s platform cannot take the image ``info`` describes, or None when the pipeline can
    make it fit. Cheap (no encoding): validation calls it for every (image, platform) pair; anything
    this does not refuse, :func:`prepare_image` scales and compresses to fit."""
    if info.animated:
        return _animation_refusal(info.path, info.frames, profile)
    return None


def _animation_refusal(path: Path, frames: int, profile: ImageProfile) -> ImageProblem | None:
    platform = profile.display_name
    if not profile.animated_gif:
        if profile.still_from_animation:
            return None
        return ImageProblem(
            path, f"is an animated GIF, and {platform} shows animated GIFs as still images, so it is refused",
            f"Pick a still image (JPEG or PNG) for the {platform} accounts, or post the animation only to "
            "platforms that play it (X, Mastodon)",
        )
    if profile.animated_gif_max_frames is not None and frames > profile.animated_gif_max_frames:
        return ImageProblem(
            path, f"has {frames} frames; {platform} takes at most {profile.animated_gif_max_frames}",
            "Shorten the animation",
        )
    return None


# --- Preparing -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedImage:
    """Platform-ready bytes: upright, metadata-free, within the profile's limits."""

    data: bytes
    mime_type: str
    width: int
    height: int
    sha256: str

    @property
    def generic_filename(self) -> str:
        """What the file is called when it is sent: never the organizer's own file name."""
        return f"image.{EXTENSIONS[self.mime_type]}"


def prepare_image(path: Path, profile: ImageProfile) -> PreparedImage:
    """Turn the image at ``path`` into bytes ``profile``'s platform accepts (see the module docstring).

    :raises ImageProblem: the file cannot be used, or cannot be made to fit the profile.
    """
    path = Path(path)
    with _open_image(path) as image:
        is_animation = bool(getattr(image, "is_animated", False)) and image.format != "MPO"
        if is_animation:
            refused = _animation_refusal(path, _frame_count(image), profile)
            if refused is not None:
                raise refused
            if profile.animated_gif:
                return _prepare_animation(path, image, profile)
        source_format = image.format or ""
        still = _decode_upright(image, profile)
    data, mime, final = _encode_to_fit(path, still, profile, lossless_source=source_format in LOSSLESS_SOURCE_FORMATS)
    return PreparedImage(data=data, mime_type=mime, width=final.width, height=final.height,
                         sha256=hashlib.sha256(data).hexdigest())


def _fit_size(width: int, height: int, max_pixels: int | None, max_long_edge: int | None,
              max_box: tuple[int, int] | None = None) -> tuple[int, int]:
    """The largest size with the same aspect ratio that fits the limits (never upscaled)."""
    scale = 1.0
    if max_pixels is not None and width * height > max_pixels:
        scale = min(scale, math.sqrt(max_pixels / (width * height)))
    if max_long_edge is not None and max(width, height) > max_long_edge:
        scale = min(scale, max_long_edge / max(width, height))
    if max_box is not None:
        scale = min(scale, max_box[0] / width, max_box[1] / height)
    if scale >= 1.0:
        return width, height
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    while max_pixels is not None and new_w * new_h > max_pixels:  # rounding went over by a few pixels
        scale *= 0.999
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    return new_w, new_h


def _decode_upright(image: Image.Image, profile: ImageProfile) -> Image.Image:
    """Frame one: decoded (reduced early when it must shrink), upright, 8-bit sRGB, within the
    profile's pixel limits."""
    orientation = _orientation(image)
    stored_w, stored_h = image.size
    swap = orientation in _SWAPPING_ORIENTATIONS
    upright_w, upright_h = (stored_h, stored_w) if swap else (stored_w, stored_h)
    target = _fit_size(upright_w, upright_h, profile.max_pixels, profile.max_long_edge)
    stored_target = (target[1], target[0]) if swap else target
    if image.format in ("JPEG", "MPO"):
        # libjpeg decodes straight at 1/2, 1/4 or 1/8 scale (DCT scaling), never below the target:
        # a large speed and memory win for photos that must shrink anyway. Photos stored as YCbCr stay
        # YCbCr (the JPEG encoder takes them as they are): two colour conversions and their rounding saved.
        mode = "YCbCr" if _decodes_as_ycbcr(image) else None
        size = stored_target if stored_target != image.size else None
        if mode or size:
            image.draft(mode, size)
    image.load()
    # The orientation read above (EXIF, else XMP; 1 when the EXIF is damaged: the orientation is then
    # unknowable, and the block is dropped below). Upright already: no copy.
    turn = _TURNS.get(orientation)
    upright = image.transpose(turn) if turn is not None else image
    pixels = _to_srgb_8bit(upright)  # before resizing: palette images only resize well as RGB(A)
    # draft() never goes below the size asked for, so this is the target computed above.
    target = _fit_size(pixels.width, pixels.height, profile.max_pixels, profile.max_long_edge)
    if pixels.size != target:
        pixels = pixels.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    pixels.info = {}
    return pixels


# libjpeg's rule for a 3-component JPEG without a JFIF marker: an Adobe marker says (transform 0 = RGB);
# without one, components named R, G, B mean RGB; anything else is YCbCr.
_RGB_COMPONENT_IDS = (ord("R"), ord("G"), ord("B"))


def _decodes_as_ycbcr(image: Image.Image) -> bool:
    """Whether ``image`` (a JPEG) can be decoded to YCbCr and sent on as such: its pixels are stored as
    YCbCr, and are sRGB (no colour profile, or an sRGB one) so need no colour conversion."""
    if image.mode != "RGB" or not isinstance(image, JpegImagePlugin.JpegImageFile):
        return False
    if "jfif" not in image.info:
        if "adobe" in image.info:
            if image.info.get("adobe_transform", 1) == 0:
                return False
        elif tuple(layer[0] for layer in image.layer) == _RGB_COMPONENT_IDS:
            return False
    icc = image.info.get("icc_profile")
    if not icc:
        return True
    try:
        return _is_srgb(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False


def _is_srgb(profile: ImageCms.ImageCmsProfile) -> bool:
    try:
        return "srgb" in ImageCms.getProfileDescription(profile).lower()
    except ImageCms.PyCMSError:
        return False


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _convert_icc_to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Pixels converted from the embedded profile to sRGB; a broken profile is treated as sRGB."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if image.mode not in ("CMYK",) and _is_srgb(source):
            return image
        if image.mode in ("L", "LA"):
            return image  # grey profiles are close to sRGB's grey; converting would only add colour
        out_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=out_mode)
        return converted if converted is not None else image
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image.convert("RGB") if image.mode == "CMYK" else image


def _to_srgb_8bit(image: Image.Image) -> Image.Image:
    """8-bit L, LA, RGB, RGBA (or YCbCr, left so by the decoder) pixels in sRGB; alpha dropped when fully
    opaque."""
    icc = image.info.get("icc_profile")
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        image = image.convert("I").point(lambda value: value * (1 / 257)).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    elif image.mode == "1":
        image = image.convert("L")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    elif image.mode in ("RGBa", "La"):
        image = image.convert("RGBA" if image.mode == "RGBa" else "LA")
    elif image.mode == "CMYK":
        image = _convert_icc_to_srgb(image, icc) if icc else image.convert("RGB")
        icc = None
    elif image.mode not in ("L", "LA", "RGB", "RGBA", "YCbCr"):  # YCbCr: only from _decodes_as_ycbcr
        image = image.convert("RGB")
    if icc:
        image = _convert_icc_to_srgb(image, icc)
    if image.mode in ("RGBA", "LA"):
        alpha = image.getextrema()[-1]  # several bands: a (min, max) pair per band
        if isinstance(alpha, tuple) and alpha[0] == 255:
            image = image.convert("RGB" if image.mode == "RGBA" else "L")
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA")


# Luma quantisation table by N. Robidoux (ImageMagick's, and mozjpeg's default), natural order. Against
# libjpeg's standard table (JPEG Annex K) it spends bytes on the low frequencies and fewer on the highest:
# at the same file size, SSIM 0.002-0.005 higher on the benchmark's photos (README, "### Images").
_JPEG_LUMA_TABLE = (
    16, 16, 16, 18, 25, 37, 56, 85, 16, 17, 20, 27, 34, 40, 53, 75,
    16, 20, 24, 31, 43, 62, 91, 135, 18, 27, 31, 40, 53, 74, 106, 156,
    25, 34, 43, 53, 69, 94, 131, 189, 37, 40, 62, 74, 94, 124, 169, 238,
    56, 53, 91, 106, 131, 169, 226, 311, 85, 75, 135, 156, 189, 238, 311, 418,
)
# Chroma: the standard table (JPEG Annex K), scaled for a quality _JPEG_CHROMA_QUALITY_OFFSET points
# lower than luma's. The eye sees colour detail less sharply than brightness (why chroma is stored at half
# resolution, 4:2:0): the bytes saved go to luma. On the benchmark's photos about 5 % of the file, luma
# quality +0.3-0.5, SSIM (on luma) +0.001.
_JPEG_CHROMA_QUALITY_OFFSET = 8
_JPEG_CHROMA_TABLE = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *(99,) * 32,
)


def _jpeg_tables(quality: float) -> list[list[int]]:
    """Luma and chroma quantisation tables for ``quality`` (1-100, fractions allowed)."""
    chroma_quality = max(1.0, quality - _JPEG_CHROMA_QUALITY_OFFSET)
    return [_scaled_table(_JPEG_LUMA_TABLE, quality), _scaled_table(_JPEG_CHROMA_TABLE, chroma_quality)]


def _scaled_table(table: tuple[int, ...], quality: float) -> list[int]:
    """``table`` scaled for ``quality`` as libjpeg scales its own (50 = as is, 100 = all ones)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, int(value * scale / 100 + 0.5))) for value in table]


def _encode(image: Image.Image, mime: str, quality: float = QUALITY_MAX) -> bytes:
    buffer = io.BytesIO()
    if mime == MIME_JPEG:
        image.save(buffer, "JPEG", qtables=_jpeg_tables(quality), subsampling="4:2:0")
    elif mime == MIME_WEBP:
        webp_ready = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA" if _has_alpha(image) else "RGB")
        webp_ready.save(buffer, "WEBP", quality=round(quality), method=4)
    elif mime == MIME_PNG:
        image.save(buffer, "PNG", compress_level=6)
    else:
        raise ValueError(mime)
    return buffer.getvalue()


def _strip_sample(image: Image.Image, fraction: int = 8, strip: int = 16) -> Image.Image | None:
    """Evenly spaced full-width strips, 1/``fraction`` of the rows, aligned on JPEG's 16-row blocks.

    Encoding the sample costs 1/``fraction`` of a full encode and, having the same content statistics,
    predicts the full image's size at any quality within a few percent.
    """
    width, height = image.size
    step = strip * fraction
    if height < step * 4:
        return None
    tops = range(0, height - strip + 1, step)
    sample = Image.new(image.mode, (width, strip * len(tops)))
    for row, top in enumerate(tops):
        sample.paste(image.crop((0, top, width, top + strip)), (0, row * strip))
    return sample


class _SizeEstimator:
    """Predicts the encoded size of ``image`` at a quality (ignored for PNG), cheaply, from a strip
    sample."""

    def __init__(self, image: Image.Image, mime: str) -> None:
        self.image, self.mime = image, mime
        # A JPEG's size is predicted within 1 % from 1/16 of its rows (PNG needs more).
        self.sample = _strip_sample(image, fraction=16 if mime == MIME_JPEG else 8)
        self.factor = image.height / self.sample.height if self.sample is not None else 1.0
        self.cache: dict[float, int] = {}
        # JPEG qualities are searched in fractions; WEBP takes whole numbers only.
        self.step = QUALITY_STEP if mime == MIME_JPEG else 2

    def predict(self, quality: float) -> int:
        if quality not in self.cache:
            source = self.sample if self.sample is not None else self.image
            self.cache[quality] = int(len(_encode(source, self.mime, quality)) * self.factor)
        return self.cache[quality]

    def best_quality(self, budget: int) -> float | None:
        """A quality in [QUALITY_MIN, QUALITY_MAX] predicted to fit ``budget`` closely (within
        QUALITY_CLOSE of it, or ``step`` below one that does not fit).

        Log size grows about linearly with quality, so each guess is the quality where that line, through
        the nearest qualities tried, meets the budget: for photos that must lose a little quality, 2-3
        sample encodes.
        """
        if self.predict(QUALITY_MAX) <= budget:
            return QUALITY_MAX
        fits: float | None = None
        over: float = QUALITY_MAX
        guess = self._toward(budget, over, _TYPICAL_LOG_SLOPE, fits, over)
        for _attempt in range(12):
            if self.predict(guess) <= budget:
                fits = guess
                if self.predict(fits) >= budget * QUALITY_CLOSE or over - fits <= self.step:
                    return fits
            else:
                over = guess
                if guess <= QUALITY_MIN:
                    return None
            anchor, other = (fits, over) if fits is not None else sorted(self.cache)[:2]
            guess = self._toward(budget, anchor, self._log_slope(anchor, other), fits, over)
        return fits

    def _toward(self, budget: int, anchor: float, slope: float, fits: float | None, over: float) -> float:
        """The quality where log size, a line through ``anchor`` of ``slope`` per quality point, meets the
        middle of the accepted band under ``budget``; kept strictly between ``fits`` and ``over``."""
        target = budget * (1 + QUALITY_CLOSE) / 2
        if slope <= 0:
            slope = _TYPICAL_LOG_SLOPE
        guess = anchor + (math.log(target) - math.log(max(self.predict(anchor), 1))) / slope
        low = QUALITY_MIN if fits is None else fits + self.step / 2
        return self._rounded(min(over - self.step / 2, max(low, guess)))

    def _log_slope(self, one: float, other: float) -> float:
        if one == other:
            return 0.0
        return ((math.log(max(self.predict(other), 1)) - math.log(max(self.predict(one), 1)))
                / (other - one))

    def _rounded(self, quality: float) -> float:
        """JPEG: to an eighth; WEBP: to a whole number."""
        return round(quality * 8) / 8 if self.mime == MIME_JPEG else float(round(quality))


def _fit_lossy(image: Image.Image, mime: str, max_bytes: int) -> tuple[bytes, Image.Image] | None:
    """Best quality that fits at this size: estimated on a sample, confirmed on the real encode."""
    budget = int(max_bytes * BYTES_SAFETY_MARGIN)
    estimator = _SizeEstimator(image, mime)
    quality = estimator.best_quality(budget)
    if quality is None:
        return None
    for _attempt in range(4):
        data = _encode(image, mime, quality)
        if len(data) <= max_bytes:
            return data, image
        # The sample underestimated: scale the budget by the miss and search again, lower.
        budget = int(budget * max_bytes / len(data) * BYTES_SAFETY_MARGIN)
        next_quality = estimator.best_quality(budget)
        if next_quality is None:
            return None
        quality = min(next_quality, quality - estimator.step)
        if quality < QUALITY_MIN:
            return None
    return None


def _downscaled_for(image: Image.Image, mime: str, max_bytes: int) -> Image.Image:
    """Smaller copy whose size at QUALITY_WHEN_DOWNSCALING should fit: area scaled by the byte ratio."""
    predicted = _SizeEstimator(image, mime).predict(QUALITY_WHEN_DOWNSCALING)
    area_ratio = min(0.8, max_bytes * BYTES_SAFETY_MARGIN / max(predicted, 1))
    linear = math.sqrt(area_ratio) * 0.97
    size = (max(1, int(image.width * linear)), max(1, int(image.height * linear)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode_to_fit(path: Path, image: Image.Image, profile: ImageProfile, *,
                   lossless_source: bool) -> tuple[bytes, str, Image.Image]:
    """Choose the format and find the largest size and highest quality within the profile's bytes."""
    alpha = _has_alpha(image)
    if (alpha or lossless_source) and MIME_PNG in profile.formats:
        # Lossless first: a banner or screenshot loses nothing. The sample says whether a full PNG
        # encode (slow for large photos) has a chance; the slack covers the sample's error.
        if _SizeEstimator(image, MIME_PNG).predict(0) <= profile.max_bytes * PNG_ESTIMATE_SLACK:
            data = _encode(image, MIME_PNG)
            if len(data) <= profile.max_bytes:
                return data, MIME_PNG, image
    if alpha:
        lossy = MIME_WEBP if MIME_WEBP in profile.formats else MIME_PNG
    else:
        lossy = MIME_JPEG
    for _round in range(8):
        if lossy == MIME_PNG:
            data = _encode(image, MIME_PNG)
            if len(data) <= profile.max_bytes:
                return data, MIME_PNG, image
        else:
            fitted = _fit_lossy(image, lossy, profile.max_bytes)
            if fitted is not None:
                return fitted[0], lossy, fitted[1]
        if image.width <= 16 or image.height <= 16:
            break
        image = _downscaled_for(image, lossy, profile.max_bytes)
    raise ImageProblem(
        path,
        f"cannot be made smaller than {profile.display_name}'s limit of {profile.max_bytes:,} bytes",
        "Use a simpler or smaller image",
    )


# --- Animations -----------------------------------------------------------------------------------------


def _prepare_animation(path: Path, image: Image.Image, profile: ImageProfile) -> PreparedImage:
    frames = _frame_count(image)
    width, height = image.size
    max_pixels = profile.animated_gif_max_pixels
    if profile.animated_gif_max_total_pixels is not None:
        per_frame = profile.animated_gif_max_total_pixels // frames
        max_pixels = per_frame if max_pixels is None else min(max_pixels, per_frame)
    size = _fit_size(width, height, max_pixels, None, profile.animated_gif_max_size)
    durations, loop = _timings(image)
    max_bytes = profile.animated_gif_max_bytes or profile.max_bytes
    for _round in range(6):
        data = _encode_animation(image, size, durations, loop)
        if len(data) <= max_bytes:
            return PreparedImage(data=data, mime_type=MIME_GIF, width=size[0], height=size[1],
                                 sha256=hashlib.sha256(data).hexdigest())
        linear = math.sqrt(max_bytes * BYTES_SAFETY_MARGIN / len(data)) * 0.97
        size = (max(1, int(size[0] * linear)), max(1, int(size[1] * linear)))
    raise ImageProblem(
        path,
        f"cannot be made smaller than {profile.display_name}'s animated GIF limit of {max_bytes:,} bytes",
        "Use a shorter or smaller animation",
    )


def _frame_count(image: Image.Image) -> int:
    # Pillow's multi-frame image classes define n_frames; Image.Image does not declare it.
    frames: int = image.n_frames  # type: ignore[attr-defined]
    return frames


def _timings(image: Image.Image) -> tuple[list[int], int]:
    durations = []
    for index in range(_frame_count(image)):
        image.seek(index)
        durations.append(int(image.info.get("duration", 100)) or 100)
    image.seek(0)
    return durations, int(image.info.get("loop", 0))


def _animation_frames(image: Image.Image, size: tuple[int, int]) -> Iterator[Image.Image]:
    """Each frame fully composited, scaled, in sRGB RGBA, with no metadata."""
    for index in range(_frame_count(image)):
        image.seek(index)
        frame = image.convert("RGBA")
        if frame.size != size:
            frame = frame.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        frame.info = {}
        yield frame


def _encode_animation(image: Image.Image, size: tuple[int, int], durations: list[int], loop: int) -> bytes:
    frames = _animation_frames(image, size)
    first = next(frames)
    buffer = io.BytesIO()
    # Frames are full composites, so each replaces the last (disposal 2) and nothing ghosts.
    first.save(buffer, "GIF", save_all=True, append_images=list(frames), duration=durations,
               loop=loop, disposal=2, optimize=False)
    return buffer.getvalue()


# --- Cache ------------------------------------------------------------------------------------------------


ProgressCallback = Callable[[int, int, Path], None]


class MediaCache:
    """Prepared variants on disk, keyed by (sha256 of the source bytes, profile key).

    The folder holds processed campaign photos: it is created private (0700). Entries are written
    atomically and checked against their recorded hash when read; a damaged entry is remade.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)

    def _entry(self, source_sha256: str, profile: ImageProfile) -> tuple[Path, Path]:
        stem = hashlib.sha256(f"{source_sha256}:{profile.key}".encode()).hexdigest()
        return self.cache_dir / f"{stem}.img", self.cache_dir / f"{stem}.json"

    @staticmethod
    def _source_sha256(path: Path) -> str:
        try:
            with open(path, "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as error:
            raise ImageProblem(path, f"cannot be read ({error.strerror})",
                               "Check the file exists and is readable") from None

    def lookup(self, path: Path, profile: ImageProfile) -> PreparedImage | None:
        """The cached variant, or None when it was not prepared (or the entry is damaged)."""
        data_path, meta_path = self._entry(self._source_sha256(Path(path)), profile)
        try:
            meta = json.loads(meta_path.read_text())
            data = data_path.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return None
        return PreparedImage(data=data, mime_type=meta["mime_type"], width=meta["width"],
                             height=meta["height"], sha256=meta["sha256"])

    def get(self, path: Path, profile: ImageProfile) -> PreparedImage:
        """The prepared variant, made (and stored) now if it is not cached yet."""
        cached = self.lookup(path, profile)
        if cached is not None:
            return cached
        prepared = prepare_image(Path(path), profile)
        self._store(self._source_sha256(Path(path)), profile, prepared)
        return prepared

    def prepare_all(
        self, items: Iterable[tuple[Path, ImageProfile]], progress: ProgressCallback | None = None
    ) -> list[PreparedImage]:
        """Prepare every (path, profile), calling ``progress(done, total, path)`` after each.

        Goes through all items even when some fail, then raises one ImageProblem naming each failure.
        """
        todo = list(items)
        prepared: list[PreparedImage] = []
        problems: list[ImageProblem] = []
        for done, (path, profile) in enumerate(todo, start=1):
            try:
                prepared.append(self.get(path, profile))
            except ImageProblem as problem:
                problems.append(problem)
            if progress is not None:
                progress(done, len(todo), Path(path))
        if problems:
            if len(problems) == 1:
                raise problems[0]
            error = ImageProblem(
                f"{len(problems)} files", "could not be prepared:\n  " + "\n  ".join(map(str, problems)),
                "Fix each image above", shown=f"{len(problems)} files",
            )
            error.problems = problems  # type: ignore[attr-defined]
            raise error
        return prepared

    def _store(self, source_sha256: str, profile: ImageProfile, prepared: PreparedImage) -> None:
        _private_folder(self.cache_dir)
        data_path, meta_path = self._entry(source_sha256, profile)
        meta = {"mime_type": prepared.mime_type, "width": prepared.width, "height": prepared.height,
                "sha256": prepared.sha256, "profile": profile.name}
        _write_atomically(data_path, prepared.data)
        _write_atomically(meta_path, json.dumps(meta).encode())


def _private_folder(folder: Path) -> None:
    """``folder`` and its parent (``.cache``) made for the owner only (0700), whatever the umask; a folder
    of ours that others may read (made by an older version) is closed."""
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
