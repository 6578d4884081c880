"""Artwork images for the demo, drawn with Pillow: one recognisable composition per theme.

Each theme has its own palette and composition, so that a person looking at
two homepages sees at once that the bandit picked a different kind of frame
(warm diagonals for action, two soft circles on pink for romance, a big face
for lead-face, dark blues for moody, bright yellow for comedy, primary colours
for kids, a row of figures for ensemble). The title is set large on a dark
band at the bottom, so that it stays readable on a phone-sized thumbnail.

Rendering is pure (parameters in, JPEG bytes out) and deterministic for a
given ``variant_seed``, so it can run in worker processes.
"""

import functools
import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH, HEIGHT = 480, 270
JPEG_QUALITY = 80
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/Library/Fonts/Arial Bold.ttf",
    "DejaVuSans-Bold.ttf",
)

RGB = tuple[int, int, int]
# Per theme: a few palettes (background from, background to, accent, second accent).
PALETTES: dict[str, tuple[tuple[RGB, RGB, RGB, RGB], ...]] = {
    "action": (
        ((120, 10, 0), (255, 120, 0), (255, 220, 40), (20, 10, 10)),
        ((90, 0, 10), (230, 60, 20), (255, 200, 0), (10, 10, 10)),
        ((140, 40, 0), (255, 160, 20), (255, 255, 200), (40, 0, 0)),
    ),
    "romance": (
        ((255, 170, 200), (200, 60, 120), (255, 225, 235), (255, 190, 160)),
        ((250, 200, 215), (170, 40, 90), (255, 240, 245), (240, 140, 170)),
        ((255, 150, 180), (120, 30, 80), (255, 210, 225), (255, 170, 120)),
    ),
    "lead-face": (
        ((20, 90, 110), (10, 30, 50), (230, 180, 140), (50, 30, 20)),
        ((70, 40, 90), (20, 10, 40), (200, 150, 110), (30, 20, 15)),
        ((150, 60, 30), (40, 20, 10), (170, 120, 85), (20, 15, 10)),
    ),
    "ensemble": (
        ((90, 60, 160), (30, 150, 160), (250, 240, 220), (20, 20, 40)),
        ((200, 120, 40), (120, 40, 100), (255, 235, 200), (30, 20, 30)),
        ((40, 120, 90), (20, 40, 80), (240, 250, 240), (10, 20, 30)),
    ),
    "moody": (
        ((10, 20, 50), (40, 70, 120), (200, 215, 235), (5, 8, 20)),
        ((5, 15, 35), (30, 60, 90), (170, 200, 220), (0, 5, 15)),
        ((20, 25, 60), (70, 80, 130), (220, 220, 240), (10, 10, 25)),
    ),
    "comedy": (
        ((255, 230, 0), (255, 190, 0), (255, 90, 40), (40, 120, 255)),
        ((255, 240, 60), (255, 170, 30), (230, 30, 120), (30, 180, 90)),
        ((255, 220, 20), (250, 150, 0), (120, 40, 200), (255, 60, 60)),
    ),
    "kids-friendly": (
        ((80, 170, 255), (160, 220, 255), (255, 40, 40), (255, 220, 0)),
        ((60, 140, 240), (140, 210, 255), (255, 200, 0), (230, 30, 60)),
        ((40, 160, 230), (170, 230, 255), (250, 60, 30), (255, 235, 40)),
    ),
}
THEMES: tuple[str, ...] = tuple(PALETTES)


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if candidate.startswith("/") and not Path(candidate).exists():
            continue
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)  # Pillow >= 10.1 scales its built-in font


def _gradient(a: RGB, b: RGB, *, diagonal: bool = False) -> Image.Image:
    """A linear gradient from ``a`` (top or top-left) to ``b``.

    Computed on a 48x27 grid and scaled up: a smooth ramp loses nothing, and it
    is a tenth of the cost of computing every pixel.
    """
    w, h = WIDTH // 10, HEIGHT // 10
    if diagonal:
        t = 0.6 * np.linspace(0.0, 1.0, w)[None, :] + 0.4 * np.linspace(0.0, 1.0, h)[:, None]
    else:
        t = np.repeat(np.linspace(0.0, 1.0, h)[:, None], w, axis=1)
    t = t[..., None]
    pixels = np.asarray(a, dtype=np.float32) * (1 - t) + np.asarray(b, dtype=np.float32) * t
    small = Image.fromarray(pixels.astype(np.uint8), "RGB")
    return small.resize((WIDTH, HEIGHT), Image.BILINEAR)


@functools.lru_cache(maxsize=1)
def _title_band() -> Image.Image:
    """The dark ramp behind the title, the same for every image."""
    shade = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
    ramp = np.clip(np.linspace(-0.9, 1.0, HEIGHT), 0, 1) ** 1.2 * 200
    shade[..., 3] = ramp[:, None].astype(np.uint8)
    return Image.fromarray(shade, "RGBA")


def _figure(draw: ImageDraw.ImageDraw, cx: float, base: float, scale: float, colour: RGB) -> None:
    """Head and shoulders of a person, standing on ``base``."""
    head = 22 * scale
    draw.ellipse(
        (cx - head, base - 150 * scale, cx + head, base - 150 * scale + 2 * head), fill=colour
    )
    draw.rounded_rectangle(
        (cx - 48 * scale, base - 100 * scale, cx + 48 * scale, base + 40 * scale),
        radius=int(30 * scale),
        fill=colour,
    )


def _compose_action(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    draw = ImageDraw.Draw(img)
    _, _, accent, dark = pal
    for _ in range(rnd.randint(3, 5)):
        x = rnd.randint(-100, WIDTH)
        w = rnd.randint(12, 40)
        draw.polygon([(x, 0), (x + w, 0), (x + w + 180, HEIGHT), (x + 180, HEIGHT)], fill=accent)
    for _ in range(3):
        x = rnd.randint(0, WIDTH)
        draw.polygon([(x, 0), (x + 8, 0), (x + 150, HEIGHT), (x + 142, HEIGHT)], fill=dark)
    # A figure mid-leap.
    cx, base = rnd.randint(260, 400), rnd.randint(190, 230)
    draw.ellipse((cx - 18, base - 160, cx + 18, base - 124), fill=dark)
    draw.polygon(
        [(cx - 30, base - 120), (cx + 40, base - 120), (cx + 70, base - 20), (cx - 60, base)],
        fill=dark,
    )
    for _ in range(25):
        sx, sy = rnd.randint(0, WIDTH), rnd.randint(0, HEIGHT)
        draw.ellipse((sx, sy, sx + 4, sy + 4), fill=(255, 255, 210))


def _compose_romance(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    _, _, soft, warm = pal
    layer = Image.new("RGBA", (WIDTH // 4, HEIGHT // 4), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    cy = rnd.randint(20, 32)
    x1, x2 = rnd.randint(28, 48), rnd.randint(62, 84)
    r1, r2 = rnd.randint(20, 28), rnd.randint(18, 26)
    draw.ellipse((x1 - r1, cy - r1, x1 + r1, cy + r1), fill=(*soft, 210))
    draw.ellipse((x2 - r2, cy - r2, x2 + r2, cy + r2), fill=(*warm, 190))
    layer = layer.filter(ImageFilter.GaussianBlur(2)).resize((WIDTH, HEIGHT), Image.BILINEAR)
    img.paste(layer, (0, 0), layer)
    draw = ImageDraw.Draw(img)
    for _ in range(6):  # bokeh
        bx, by, br = rnd.randint(0, WIDTH), rnd.randint(0, HEIGHT // 2), rnd.randint(4, 10)
        draw.ellipse((bx - br, by - br, bx + br, by + br), outline=(255, 240, 245), width=2)


def _compose_lead_face(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    draw = ImageDraw.Draw(img)
    _, _, skin, hair = pal
    cx = rnd.choice((150, 170, 310, 330))
    top = rnd.randint(-10, 20)
    draw.ellipse((cx - 120, top - 40, cx + 120, top + 160), fill=hair)  # hair
    draw.ellipse((cx - 95, top, cx + 95, top + 250), fill=skin)  # face
    eye_y = top + 100
    for ex in (cx - 40, cx + 40):
        draw.ellipse((ex - 16, eye_y - 8, ex + 16, eye_y + 8), fill=(250, 250, 250))
        draw.ellipse((ex - 7, eye_y - 7, ex + 7, eye_y + 7), fill=(30, 20, 15))
        draw.line((ex - 20, eye_y - 22, ex + 18, eye_y - 26), fill=hair, width=6)
    draw.line((cx, eye_y + 15, cx - 8, eye_y + 55), fill=(120, 80, 60), width=3)
    draw.arc((cx - 35, eye_y + 50, cx + 35, eye_y + 85), 20, 160, fill=(150, 50, 50), width=5)


def _compose_ensemble(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    draw = ImageDraw.Draw(img)
    _, _, light, dark = pal
    count = rnd.randint(5, 7)
    step = WIDTH / (count + 1)
    for k in range(count):
        shade = rnd.randint(0, 60)
        colour = tuple(max(0, c + shade) for c in dark)
        scale = rnd.uniform(0.8, 1.15)
        _figure(
            draw, step * (k + 1) + rnd.randint(-12, 12), 230 + rnd.randint(-10, 15), scale, colour
        )
    draw.ellipse((WIDTH - 90, -40, WIDTH + 40, 60), fill=light)  # a spotlight


def _compose_moody(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    draw = ImageDraw.Draw(img)
    _, _, moon, night = pal
    mx, my, mr = rnd.randint(300, 420), rnd.randint(30, 70), rnd.randint(22, 34)
    draw.ellipse((mx - mr, my - mr, mx + mr, my + mr), fill=moon)
    x = 0
    while x < WIDTH:
        w, h = rnd.randint(25, 60), rnd.randint(60, 170)
        draw.rectangle((x, HEIGHT - h, x + w, HEIGHT), fill=night)
        for wy in range(HEIGHT - h + 10, HEIGHT - 10, 18):
            if rnd.random() < 0.25:
                draw.rectangle((x + 6, wy, x + 12, wy + 7), fill=(230, 200, 120))
        x += w + rnd.randint(0, 6)
    fog = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    ImageDraw.Draw(fog).rectangle((0, HEIGHT - 110, WIDTH, HEIGHT - 60), fill=(150, 170, 200, 60))
    img.paste(fog, (0, 0), fog)


def _compose_comedy(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    draw = ImageDraw.Draw(img)
    _, _, pop, other = pal
    cx, cy, r = rnd.randint(120, 360), rnd.randint(80, 110), rnd.randint(60, 80)
    points = []
    for k in range(24):
        radius = r * (1.6 if k % 2 == 0 else 1.0)
        angle = np.pi * 2 * k / 24
        points.append((cx + radius * np.cos(angle), cy + radius * np.sin(angle)))
    draw.polygon(points, fill=pop)
    draw.ellipse((cx - r * 0.7, cy - r * 0.7, cx + r * 0.7, cy + r * 0.7), fill=(255, 250, 220))
    draw.ellipse((cx - 22, cy - 18, cx - 10, cy - 6), fill=(30, 30, 30))
    draw.ellipse((cx + 10, cy - 18, cx + 22, cy - 6), fill=(30, 30, 30))
    draw.chord((cx - 30, cy - 10, cx + 30, cy + 35), 0, 180, fill=(200, 40, 40))
    for _ in range(40):
        sx, sy = rnd.randint(0, WIDTH), rnd.randint(0, HEIGHT)
        colour = rnd.choice((pop, other, (255, 255, 255)))
        draw.rectangle((sx, sy, sx + 6, sy + 10), fill=colour)


def _compose_kids(img: Image.Image, rnd: random.Random, pal: tuple) -> None:
    draw = ImageDraw.Draw(img)
    _, _, red, yellow = pal
    draw.ellipse((-80, 170, 300, 420), fill=(60, 190, 70))
    draw.ellipse((200, 185, 600, 430), fill=(40, 160, 60))
    sx, sy = rnd.randint(340, 420), rnd.randint(30, 60)
    draw.ellipse((sx - 32, sy - 32, sx + 32, sy + 32), fill=yellow)
    for k in range(rnd.randint(3, 5)):
        bx, by = rnd.randint(30, 300), rnd.randint(20, 120)
        size = rnd.randint(14, 26)
        colour = (red, yellow, (40, 80, 230))[k % 3]
        draw.rounded_rectangle((bx, by, bx + 2 * size, by + 2 * size), radius=8, fill=colour)
    draw.ellipse((120, 120, 180, 180), fill=red)  # a ball on the hill


COMPOSERS = {
    "action": (_compose_action, True),
    "romance": (_compose_romance, False),
    "lead-face": (_compose_lead_face, True),
    "ensemble": (_compose_ensemble, True),
    "moody": (_compose_moody, False),
    "comedy": (_compose_comedy, True),
    "kids-friendly": (_compose_kids, False),
}


def _fit_text(
    draw: ImageDraw.ImageDraw, text: str, max_width: int
) -> tuple[list[str], ImageFont.FreeTypeFont | ImageFont.ImageFont]:
    """The largest font (and line split) that fits ``text`` in two lines across the frame."""
    for size in (58, 52, 46, 40, 36, 32, 28):
        font = _font(size)
        if draw.textlength(text, font=font) <= max_width:
            return [text], font
        words = text.split()
        if len(words) > 1 and size <= 46:
            for cut in range(len(words) // 2, len(words)):
                lines = [" ".join(words[:cut]), " ".join(words[cut:])]
                if all(draw.textlength(line, font=font) <= max_width for line in lines):
                    return lines, font
    return [text], _font(24)


def _draw_title(img: Image.Image, text: str) -> None:
    band = _title_band()
    img.paste(band, (0, 0), band)
    draw = ImageDraw.Draw(img)
    lines, font = _fit_text(draw, text, WIDTH - 36)
    line_height = font.size + 6 if hasattr(font, "size") else 30
    y = HEIGHT - 16 - line_height * len(lines)
    for line in lines:
        draw.text((18, y), line, font=font, fill=(255, 255, 255))
        y += line_height


# Distinct backgrounds per theme in "full" mode; titles differ on top of them.
# Drawing a background costs as much as the title and the JPEG together, so a
# pool of them is reused (a row of twenty action titles still looks varied).
BACKGROUNDS_PER_THEME = 24


@functools.lru_cache(maxsize=len(PALETTES) * BACKGROUNDS_PER_THEME)
def _background(theme: str, variety: int) -> Image.Image:
    rnd = random.Random(f"{theme}:{variety}")
    palette = rnd.choice(PALETTES[theme])
    compose, diagonal = COMPOSERS[theme]
    img = _gradient(palette[0], palette[1], diagonal=diagonal)
    compose(img, rnd, palette)
    return img


def render_artwork(theme: str, title: str | None, variant_seed: int) -> bytes:
    """A 480x270 JPEG of ``theme``; ``title`` is set large at the bottom when given."""
    img = _background(theme, variant_seed % BACKGROUNDS_PER_THEME).copy()
    if title:
        _draw_title(img, title)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def render_job(job: tuple[str, str | None, int]) -> bytes:
    """:func:`render_artwork` taking one tuple, for process pools."""
    return render_artwork(*job)
