"""The share card: a storm's hashtag, its announce line and its call in one language, drawn as a PNG of Open
Graph's size, so a shared link to the toolkit previews well.

Right-to-left languages are laid out from the right and shaped: by libraqm through Pillow where it is present,
else by arabic-reshaper (contextual forms) and python-bidi (visual order). The fonts ship in ``fonts/`` so every
machine draws the same card; a character they lack (an emoji) is left out rather than drawn as a box.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, Sequence

import arabic_reshaper
import regex
from bidi import get_display
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont, features

from ..locales import right_to_left


@dataclass(frozen=True)
class CardText:
    """What a card says, each text already rendered in ``lang``."""

    hashtag: str      # e.g. "#FreePalestinianStudents"
    when: str         # the storm's announce line in this language
    call: str         # the call in this language (may be long: wrapped, shrunk, then cut with an ellipsis)
    lang: str         # a language code: "en", "es", "ar", "ar-PS"


CARD_SIZE = (1200, 630)   # Open Graph's recommended size

FONTS = Path(__file__).resolve().parent / "fonts"
PAPER, INK = (250, 250, 245), (28, 28, 28)
BLACK, WHITE, GREEN, RED = (20, 20, 20), (255, 255, 255), (0, 122, 61), (206, 17, 38)   # the band, as assets/draw.py
STRIPE, BAND = 62, 182          # the flag band on the side the text starts from: stripes, then the triangle's tip
GUTTER, MARGIN = 58, 64         # text starts GUTTER after the band and keeps MARGIN from the other edges
TOP, FOOT = 52, 60              # the text's top; the foot rule's distance from the bottom edge
ELLIPSIS = "…"
FSI, PDI = "\u2068", "\u2069"   # first-strong isolate: a hashtag keeps its own direction ("#Free…" in Arabic)
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
HASHTAG = regex.compile(r"#[\p{L}\p{M}\p{N}_]+")

_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


@dataclass(frozen=True)
class Face:
    """A shipped font file; ``pitch``: the distance between baselines in ems (Arabic needs more room)."""

    file: str
    pitch: float


LATIN = {"bold": Face("NotoSans-Bold.ttf", 1.22), "regular": Face("NotoSans-Regular.ttf", 1.3)}
ARABIC = {"bold": Face("NotoSansArabic-Bold.ttf", 1.5), "regular": Face("NotoSansArabic-Regular.ttf", 1.55)}


def draw_share_card(text: CardText, path: Path) -> Path:
    """Write the card as PNG at ``path`` (parents created); return path. Deterministic for the same input.

    :raises scheduler.locales.UnknownLanguage: ``text.lang`` is no language Babel knows.
    """
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    return draw_card(text, path, engine)


def draw_card(text: CardText, path: Path, engine: ImageFont.Layout) -> Path:
    """:func:`draw_share_card` with the layout engine chosen: RAQM shapes through libraqm, BASIC through
    arabic-reshaper and python-bidi."""
    setting = Setting(engine, right_to_left(text.lang), text.lang)
    image = Image.new("RGB", CARD_SIZE, PAPER)
    draw = ImageDraw.Draw(image)
    _band(draw, setting.rtl)
    width, height = CARD_SIZE
    left, right = (MARGIN, width - BAND - GUTTER) if setting.rtl else (BAND + GUTTER, width - MARGIN)
    room = right - left
    hashtag = fit(text.hashtag, "bold", range(84, 43, -4), room, 130, setting)
    y = place(draw, hashtag, TOP, (left, right), GREEN, setting) + 30
    when = fit(text.when, "bold", range(36, 23, -2), room, 136, setting)
    y = place(draw, when, y, (left, right), INK, setting) + 28
    rule_x = right - 96 if setting.rtl else left
    draw.rectangle((rule_x, y, rule_x + 95, y + 5), fill=RED)
    y += 6 + 26
    foot = height - FOOT
    call = fit(text.call, "regular", range(40, 21, -2), room, foot - 24 - y, setting)
    place(draw, call, y, (left, right), INK, setting)
    draw.rectangle((left, foot, right - 1, foot + 7), fill=GREEN)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")
    return path


def _band(draw: ImageDraw.ImageDraw, rtl: bool) -> None:
    """Black, white and green stripes under a red triangle, at the edge the text starts from."""
    width, height = CARD_SIZE
    third = height // 3

    def x(offset: int) -> int:
        return width - 1 - offset if rtl else offset

    for index, colour in enumerate((BLACK, WHITE, GREEN)):
        bottom = height if index == 2 else (index + 1) * third
        draw.rectangle((min(x(0), x(STRIPE)), index * third, max(x(0), x(STRIPE)), bottom), fill=colour)
    draw.polygon([(x(0), 0), (x(BAND), height // 2), (x(0), height)], fill=RED)


@dataclass(frozen=True)
class Setting:
    """How a card's text is laid out: the layout engine, the language and its direction."""

    engine: ImageFont.Layout
    rtl: bool
    language: str

    def font(self, face: Face, size: int) -> ImageFont.FreeTypeFont:
        return _font(face.file, size, self.engine)

    def shown(self, line: str) -> str:
        """The line as the engine is given it: libraqm shapes and orders it itself; the basic engine needs the
        contextual forms (arabic-reshaper) in visual order (python-bidi)."""
        if self.engine == ImageFont.Layout.RAQM:
            return line
        shaped = get_display(arabic_reshaper.reshape(line), base_dir="R" if self.rtl else "L")
        return "".join(ch for ch in shaped if ch not in BIDI_CONTROLS)

    def box(self, font: ImageFont.FreeTypeFont, line: str) -> tuple[int, int, int, int]:
        """The line's ink (left, top, right, bottom) from its baseline's start."""
        if self.engine == ImageFont.Layout.RAQM:
            left, top, right, bottom = font.getbbox(line, anchor="ls", direction="rtl" if self.rtl else "ltr",
                                                    language=self.language)
        else:
            left, top, right, bottom = font.getbbox(self.shown(line), anchor="ls")
        return int(left), int(top), int(right), int(bottom)

    def draw(self, draw: ImageDraw.ImageDraw, origin: tuple[int, int], line: str,
             font: ImageFont.FreeTypeFont, colour: tuple[int, int, int]) -> None:
        if self.engine == ImageFont.Layout.RAQM:
            draw.text(origin, line, font=font, fill=colour, anchor="ls", direction="rtl" if self.rtl else "ltr",
                      language=self.language)
        else:
            draw.text(origin, self.shown(line), font=font, fill=colour, anchor="ls")


@cache
def _font(file: str, size: int, engine: ImageFont.Layout) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS / file), size, layout_engine=engine)


@cache
def covered(file: str) -> frozenset[int]:
    """The code points the font has a glyph for."""
    with TTFont(FONTS / file, lazy=True) as font:
        return frozenset(font.getBestCmap())


def face_for(text: str, weight: str) -> Face:
    """Noto Sans Arabic (which has Latin too) for a text with Arabic script in it, else Noto Sans."""
    return (ARABIC if _ARABIC_SCRIPT.search(text) else LATIN)[weight]


def drawable(text: str, face: Face) -> list[str]:
    """The text's paragraphs with every character the font lacks left out, spaces made single and each hashtag
    isolated (it reads in its own direction inside a text of the other)."""
    have = covered(face.file)
    kept = "".join(ch for ch in text if ch.isspace() or ch in BIDI_CONTROLS or ord(ch) in have)
    kept = HASHTAG.sub(lambda match: FSI + match[0] + PDI, kept)
    paragraphs = (" ".join(part.split()) for part in kept.split("\n"))
    return [paragraph for paragraph in paragraphs if paragraph]


@dataclass(frozen=True)
class Block:
    """Lines set in one font: ``boxes`` are each line's ink from its own baseline's start."""

    lines: tuple[str, ...]
    font: ImageFont.FreeTypeFont
    pitch: int
    boxes: tuple[tuple[int, int, int, int], ...]

    @property
    def top(self) -> int:
        return min((index * self.pitch + box[1] for index, box in enumerate(self.boxes)), default=0)

    @property
    def bottom(self) -> int:
        return max((index * self.pitch + box[3] for index, box in enumerate(self.boxes)), default=0)

    @property
    def height(self) -> int:
        return self.bottom - self.top


def fit(text: str, weight: str, sizes: Sequence[int], width: int, height: int, setting: Setting) -> Block:
    """The text wrapped to ``width`` at the largest of ``sizes`` whose lines fit ``height`` (with no word broken
    but at the smallest); at the smallest, the lines that fit, the last one ending in an ellipsis."""
    face = face_for(text, weight)
    paragraphs = drawable(text, face)
    block = _block([], face, sizes[-1], setting)
    for size in sizes:
        font = setting.font(face, size)

        def fits(line: str, font: ImageFont.FreeTypeFont = font) -> bool:
            return _width(setting, font, line) <= width

        limit = height // round(size * face.pitch) + 1      # more lines than this cannot fit: stop wrapping there
        lines: list[str] = []
        broken = False
        for paragraph in paragraphs:
            wrapped, broke = wrap(paragraph, fits, limit - len(lines))
            lines += wrapped
            broken = broken or broke
            if len(lines) >= limit:
                break
        block = _block(lines, face, size, setting)
        if block.height <= height and (not broken or size == sizes[-1]):
            return block
    return _cut(list(block.lines), face, sizes[-1], height, setting, width)


def _block(lines: Sequence[str], face: Face, size: int, setting: Setting) -> Block:
    font = setting.font(face, size)
    return Block(tuple(lines), font, round(size * face.pitch), tuple(setting.box(font, line) for line in lines))


def _cut(lines: list[str], face: Face, size: int, height: int, setting: Setting, width: int) -> Block:
    """The most lines that fit ``height``, the last one shortened to end in an ellipsis."""
    font = setting.font(face, size)
    for count in range(len(lines) - 1, 0, -1):
        last = shorten(lines[count - 1], lambda line: _width(setting, font, line) <= width)
        block = _block([*lines[:count - 1], last], face, size, setting)
        if block.height <= height:
            return block
    return _block([], face, size, setting)


def _width(setting: Setting, font: ImageFont.FreeTypeFont, line: str) -> int:
    left, _, right, _ = setting.box(font, line)
    return right - left


def shorten(line: str, fits: Callable[[str], bool]) -> str:
    """The line less its last words (or characters) until it fits with an ellipsis after it."""
    while line:
        if fits(line + ELLIPSIS):
            return line + ELLIPSIS
        cut = line.rstrip().rfind(" ")
        line = line[:cut].rstrip() if cut > 0 else line[:-1]
    return ELLIPSIS


def wrap(paragraph: str, fits: Callable[[str], bool], limit: int) -> tuple[list[str], bool]:
    """Greedy word wrap, stopped past ``limit`` lines; a word wider than the line on its own is broken between
    characters (then True)."""
    lines: list[str] = []
    line = ""
    broke = False
    for word in paragraph.split(" "):
        if len(lines) > limit:
            return lines, broke
        candidate = f"{line} {word}" if line else word
        if fits(candidate):
            line = candidate
            continue
        if line:
            lines.append(line)
        line = word
        while len(lines) <= limit and len(line) > 1 and not fits(line):
            broke = True
            head = _longest_head(line, fits)
            lines.append(head)
            line = line[len(head):]
    if line:
        lines.append(line)
    return lines, broke


def _longest_head(word: str, fits: Callable[[str], bool]) -> str:
    """The longest start of the word that fits (at least one character), found by bisection."""
    low, high = 1, len(word) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(word[:middle]):
            low = middle
        else:
            high = middle - 1
    return word[:low]


def place(draw: ImageDraw.ImageDraw, block: Block, top: int, edges: tuple[int, int],
          colour: tuple[int, int, int], setting: Setting) -> int:
    """Draw the block with its ink's top at ``top``, each line's ink against the start edge of the language's
    direction; return the ink's bottom."""
    if not block.lines:
        return top
    baseline = top - block.top
    left, right = edges
    for index, (line, box) in enumerate(zip(block.lines, block.boxes, strict=True)):
        x = right - box[2] if setting.rtl else left - box[0]
        setting.draw(draw, (x, baseline + index * block.pitch), line, block.font, colour)
    return top + block.height
