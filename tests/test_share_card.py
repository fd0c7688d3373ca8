"""The share card (scheduler/toolkit/card.py): Arabic shaped by libraqm and by the fallback (arabic-reshaper +
python-bidi), right-to-left cards right-aligned, the size, the same bytes for the same text, long texts kept
inside the margins, and the sample campaign's cards in English, Spanish and Arabic.

``SHARE_CARD_SCREENSHOTS=$PWD/docs/screenshots`` also writes the sample cards there (card-en.png, ...)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from PIL import Image, ImageChops, ImageDraw, ImageFont, features

from scheduler.campaign import load_campaign
from scheduler.config import load_config
from scheduler.planner import Writer, next_start
from scheduler.service import invitation
from scheduler.toolkit.card import (ARABIC, BAND, CARD_SIZE, ELLIPSIS, FONTS, FOOT, GUTTER, LATIN, MARGIN, PAPER, TOP,
                                    CardText, Setting, draw_card, draw_share_card, drawable, fit)

RAQM, BASIC = ImageFont.Layout.RAQM, ImageFont.Layout.BASIC
ENGINES = [pytest.param(RAQM, marks=pytest.mark.skipif(not features.check("raqm"), reason="Pillow has no libraqm "
                                                       "here (the fallback's tests still run)"), id="raqm"),
           pytest.param(BASIC, id="fallback")]

PALESTINE = "فلسطين"   # feh, lam, seen, tah, yeh, noon
# Its shaped glyphs left to right (visual order), as Unicode's presentation forms: noon final, yeh medial,
# tah medial, seen medial, lam medial, feh initial.
PALESTINE_SHAPED = "\ufee6\ufef4\ufec4\ufeb4\ufee0\ufed3"
# The same letters unjoined (isolated forms), left to right: what a renderer that does not shape would draw.
PALESTINE_UNSHAPED = "\ufee5\ufef1\ufec1\ufeb1\ufedd\ufed1"

HASHTAG = "#FreePalestinianStudents"
ARABIC_CALL = ("انضموا إلى العاصفة الرقمية باستخدام وسم #FreePalestinianStudents وطالبوا بالحرية للطلبة "
               "الفلسطينيين الأسرى. التعليم حق وليس جريمة!")
ARABIC_WHEN = "الخميس، 11 مارس 2021: 10 ص Pacific / 1 م Eastern / 6 م UTC / 7 م central Europe / 8 م Palestine"
ENGLISH = CardText(HASHTAG, "Thursday, 11 March 2021: 10 am Pacific / 1 pm Eastern / 6 pm UTC",
                   "Join the social media storm using the hashtag #FreePalestinianStudents. Education is a right, "
                   "not a crime.", "en")
ARABIC_CARD = CardText(HASHTAG, ARABIC_WHEN, ARABIC_CALL, "ar")


def word_ink(text: str, engine: ImageFont.Layout, shaped_by_us: bool = True) -> Image.Image:
    """``text`` drawn black on white in one bit per pixel, at 60 px in Noto Sans Arabic Bold: through the
    card's own setting (``shaped_by_us``), or as given, character by character, with no shaping at all."""
    image = Image.new("RGB", (420, 140), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    setting = Setting(engine, True, "ar")
    font = setting.font(ARABIC["bold"], 60)
    if shaped_by_us:
        setting.draw(draw, (20, 100), text, font, (255, 255, 255))
    else:
        plain = ImageFont.truetype(str(FONTS / ARABIC["bold"].file), 60, layout_engine=BASIC)
        draw.text((20, 100), text, font=plain, fill=(255, 255, 255), anchor="ls")
    return image.convert("L").point(lambda value: 255 * (value > 127)).convert("1", dither=Image.Dither.NONE)


def overlap(one: Image.Image, other: Image.Image) -> float:
    """Intersection over union of two one-bit images' ink."""
    both = ImageChops.logical_and(one, other).histogram()[-1]
    either = ImageChops.logical_or(one, other).histogram()[-1]
    return both / either


@pytest.mark.skipif(not features.check("raqm"), reason="Pillow has no libraqm here (the fallback's test runs)")
def test_raqm_draws_the_joined_forms_of_an_arabic_word() -> None:
    # Pillow does not hand out the glyph ids libraqm chose, so the word is compared by its ink: libraqm's
    # shaping of the logical letters must draw what the expected presentation forms draw (Noto Sans Arabic
    # maps them to the glyphs its init/medi/fina lookups give; its dots are placed by mark positioning in one
    # and by composite glyphs in the other, so a few edge pixels differ), and not the unjoined letters.
    shaped = word_ink(PALESTINE, RAQM)
    assert overlap(shaped, word_ink(PALESTINE_SHAPED, BASIC, shaped_by_us=False)) > 0.85
    assert overlap(shaped, word_ink(PALESTINE_UNSHAPED, BASIC, shaped_by_us=False)) < 0.4
    assert overlap(shaped, word_ink(PALESTINE[::-1], BASIC, shaped_by_us=False)) < 0.4


def test_the_expected_forms_are_the_fonts_joined_glyphs() -> None:
    # Where the font's medial lookup substitutes a glyph of its own (tah, seen, lam), the presentation form's
    # code point maps to that very glyph; the others (noon, yeh, feh) are dotted skeletons plus a mark there.
    medial: dict[str, str] = {}
    with TTFont(FONTS / ARABIC["bold"].file) as font:
        cmap = font.getBestCmap()
        gsub = font["GSUB"].table
        for record in gsub.FeatureList.FeatureRecord:
            if record.FeatureTag == "medi":
                for index in record.Feature.LookupListIndex:
                    for table in gsub.LookupList.Lookup[index].SubTable:
                        table = getattr(table, "ExtSubTable", table)
                        if table.LookupType == 1:       # single substitution: one glyph for another
                            medial.update(table.mapping)
                        if table.LookupType == 2:       # multiple substitution, here of one glyph for one
                            medial.update({glyph: out[0] for glyph, out in table.mapping.items() if len(out) == 1})
    for letter, form in (("ط", "\ufec4"), ("س", "\ufeb4"), ("ل", "\ufee0")):
        assert medial[cmap[ord(letter)]] == cmap[ord(form)]
        assert form in PALESTINE_SHAPED


def test_the_fallback_shapes_and_orders_an_arabic_word() -> None:
    setting = Setting(BASIC, True, "ar")
    assert [hex(ord(char)) for char in setting.shown(PALESTINE)] == [hex(ord(char)) for char in PALESTINE_SHAPED]
    assert ImageChops.difference(word_ink(PALESTINE, BASIC), word_ink(PALESTINE_SHAPED, BASIC, False)).getbbox() is None


def test_the_fallback_keeps_a_latin_hashtag_readable_inside_arabic() -> None:
    setting = Setting(BASIC, True, "ar")
    (line,) = drawable(f"{PALESTINE} {HASHTAG}", ARABIC["regular"])
    shown = setting.shown(line)
    assert shown == f"{HASHTAG} {PALESTINE_SHAPED}"      # visual order: the word at the right, tag intact


def ink_rows(path: Path) -> list[tuple[int, int, int, int]]:
    """Each run of rows with ink between the band and the other edge, above the foot rule: (top, bottom, left,
    right) of its ink."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    band_left = Image.open(path).convert("RGB").getpixel((0, height // 2)) != PAPER
    text_area = (BAND + 1, 0, width, height - FOOT - 1) if band_left else (0, 0, width - BAND - 1, height - FOOT - 1)
    offset = text_area[0]
    area = image.crop(text_area)
    mask = ImageChops.difference(area, Image.new("RGB", area.size, PAPER)).convert("L").point(lambda v: 255 * (v > 40))
    runs: list[tuple[int, int, int, int]] = []
    start = None
    for y in range(area.height + 1):
        row = mask.crop((0, y, area.width, y + 1)).getbbox() if y < area.height else None
        if row and start is None:
            start = y
        if not row and start is not None:
            left, _, right, _ = mask.crop((0, start, area.width, y)).getbbox() or (0, 0, 0, 0)
            runs.append((start, y, left + offset, right + offset))
            start = None
    return runs


@pytest.mark.parametrize("engine", ENGINES)
def test_arabic_is_right_aligned_and_english_left_aligned(engine: ImageFont.Layout, tmp_path: Path) -> None:
    width, _ = CARD_SIZE
    english = ink_rows(draw_card(ENGLISH, tmp_path / "en.png", engine))
    arabic = ink_rows(draw_card(ARABIC_CARD, tmp_path / "ar.png", engine))
    assert len(english) >= 4 and len(arabic) >= 4          # hashtag, when, the rule, the call's lines
    start = BAND + GUTTER
    assert all(abs(left - start) <= 3 for _, _, left, _ in english), english
    assert any(right < width - MARGIN - 100 for _, _, _, right in english)      # ragged on the right
    end = width - BAND - GUTTER
    assert all(abs(right - end) <= 3 for _, _, _, right in arabic), arabic
    assert any(left > MARGIN + 100 for _, _, left, _ in arabic)                  # ragged on the left


@pytest.mark.parametrize("engine", ENGINES)
def test_size_and_the_same_bytes_for_the_same_text(engine: ImageFont.Layout, tmp_path: Path) -> None:
    for card in (ENGLISH, ARABIC_CARD):
        first = draw_card(card, tmp_path / "one" / f"{card.lang}.png", engine)
        second = draw_card(card, tmp_path / "two" / f"{card.lang}.png", engine)
        assert first.read_bytes() == second.read_bytes()
        with Image.open(first) as image:
            assert image.format == "PNG" and image.size == CARD_SIZE


def test_draw_share_card_chooses_the_engine_itself(tmp_path: Path) -> None:
    engine = RAQM if features.check("raqm") else BASIC
    chosen = draw_share_card(ARABIC_CARD, tmp_path / "a" / "b" / "card.png")
    assert chosen == tmp_path / "a" / "b" / "card.png"
    assert chosen.read_bytes() == draw_card(ARABIC_CARD, tmp_path / "same.png", engine).read_bytes()


def ink_outside(path: Path, rtl: bool) -> list[tuple[int, int, int, int]]:
    """Boxes of ink found in the card's margins (the band, the rules and the text area excluded)."""
    width, height = CARD_SIZE
    left, right = (MARGIN, width - BAND - GUTTER) if rtl else (BAND + GUTTER, width - MARGIN)
    band = (width - BAND - 1, 0, width, height) if rtl else (0, 0, BAND + 1, height)
    margins = [(left if rtl else band[2], 0, right if rtl else width, TOP),    # above the text
               (left, height - FOOT + 9, right, height),                        # below the foot rule
               (0 if rtl else band[2], 0, left, height),                        # the start side's margin
               (right, 0, band[0] if rtl else width, height)]                   # the other side's
    image = Image.open(path).convert("RGB")
    found = []
    for box in margins:
        area = image.crop(box)
        if ImageChops.difference(area, Image.new("RGB", area.size, PAPER)).getbbox():
            found.append(box)
    return found


@pytest.mark.parametrize("engine", ENGINES)
def test_very_long_texts_stay_inside_the_margins(engine: ImageFont.Layout, tmp_path: Path) -> None:
    words = "Education is a right, not a crime; free all the student prisoners now. " * 60
    long_english = CardText("#" + "Free" * 40, "Thursday " * 40, words + "x" * 300, "en")
    long_arabic = CardText("#" + "حرية" * 40, ARABIC_WHEN * 5, ARABIC_CALL * 20, "ar")
    for card in (long_english, long_arabic):
        rtl = card.lang == "ar"
        path = draw_card(card, tmp_path / f"{card.lang}.png", engine)
        assert ink_outside(path, rtl) == []
        assert ink_rows(path)                                # and something was drawn
    setting = Setting(engine, False, "en")
    block = fit(words, "regular", range(40, 21, -2), 900, 300, setting)
    assert block.font.size == 22 and block.lines[-1].endswith(ELLIPSIS)
    assert block.height <= 300


def test_emoji_and_letters_the_fonts_lack_are_left_out(tmp_path: Path) -> None:
    assert drawable("Free ✊🏽 Palestine 🇵🇸 now", LATIN["regular"]) == ["Free Palestine now"]
    assert drawable("حرية ✊ لفلسطين", ARABIC["regular"]) == ["حرية لفلسطين"]
    assert drawable("one\n\n🇵🇸\ntwo", LATIN["regular"]) == ["one", "two"]
    emoji = CardText("#Free🇵🇸", "Thursday ⏰ 10 am", "🔥🔥🔥 Join us ✊ 中文 עברית", "en")
    for engine in (BASIC, RAQM) if features.check("raqm") else (BASIC,):
        assert draw_card(emoji, tmp_path / f"{engine.name}.png", engine).stat().st_size > 0
    only_emoji = CardText("🇵🇸", "⏰", "✊", "ar")
    assert draw_card(only_emoji, tmp_path / "nothing.png", BASIC).exists()


def test_the_sample_campaigns_cards_in_english_spanish_and_arabic(tmp_path: Path) -> None:
    config = load_config(Path("config.toml"))
    path = Path("campaigns/free-palestinian-students.toml")
    invited = invitation(path, config)
    campaign = load_campaign(path, config)
    writer, start = Writer(campaign.spec, config), next_start(campaign)
    calls = {**invited.calls, "ar": invited.calls.get("ar", ARABIC_CALL)}
    folder = Path(os.environ.get("SHARE_CARD_SCREENSHOTS") or tmp_path)
    for lang in ("en", "es", "ar"):
        card = CardText(invited.hashtags[0], writer.when(start, lang), calls[lang], lang)
        written = draw_share_card(card, folder / f"card-{lang}.png")
        with Image.open(written) as image:
            assert image.size == CARD_SIZE
        assert ink_outside(written, lang == "ar") == []
