"""Draws the sample campaigns' images (no one else's photos): `python assets/draw.py`."""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
GREEN, RED, BLACK, WHITE = (0, 122, 61), (206, 17, 38), (20, 20, 20), (250, 250, 245)


def font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def card(path: Path, title: str, lines: list[str], accent: tuple[int, int, int]) -> None:
    width, height = 1600, 900
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    stripe = height // 3
    for index, colour in enumerate((BLACK, WHITE, GREEN)):
        draw.rectangle([0, index * stripe, 90, (index + 1) * stripe], fill=colour)
    draw.polygon([(0, 0), (260, height // 2), (0, height)], fill=RED)
    draw.text((320, 150), title, font=font(84), fill=accent)
    for number, line in enumerate(lines):
        draw.text((320, 320 + number * 90), line, font=font(56), fill=BLACK)
    draw.rectangle([320, height - 120, width - 80, height - 110], fill=accent)
    image.save(path, optimize=True)


if __name__ == "__main__":
    card(HERE / "free-students-card.png", "#FreePalestinianStudents",
         ["Education is a right,", "not a crime.", "Free all student prisoners."], GREEN)
    card(HERE / "april17-card.png", "17 April",
         ["Palestinian Prisoners' Day", "Freedom for all", "Palestinian prisoners"], RED)
    print("drew", ", ".join(p.name for p in sorted(HERE.glob("*.png"))))
